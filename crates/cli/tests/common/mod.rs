//! Set-up shared by the command-line tests: running the binary, reading what it said, and
//! a throwaway directory with a throwaway PKI made at test time.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use waxseal_pki::{Issued, TestPki};
use waxseal_trust::{Certificate, KeyAlgorithm, PrivateKey};

/// Runs `waxseal` with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Asserts exit 0 (showing stdout and stderr otherwise); returns stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The exit status.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// What was written to stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What was written to stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Creates `path` (never over an existing file) with `data` and permission bits `mode`.
pub fn write_private(path: &Path, data: &[u8], mode: u32) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap();
    f.write_all(data).unwrap();
}

/// Creates `path` with `key` in PKCS #8 PEM, mode 0600.
pub fn write_key(path: &Path, key: &PrivateKey) {
    write_private(path, key.to_pkcs8_pem().as_bytes(), 0o600);
}

/// A temporary directory holding a P-256 test PKI's root (`root.pem`), its signing CA
/// (`ca.pem`) and a message (`msg.json`).
pub struct Fx {
    pub dir: tempfile::TempDir,
    pub pki: TestPki,
}

impl Fx {
    /// A fresh directory and PKI; `msg.json` is `{"topic": TOPIC}`.
    pub fn with_topic(topic: &str) -> Self {
        let fx = Self {
            dir: tempfile::tempdir().unwrap(),
            pki: TestPki::new(KeyAlgorithm::P256).unwrap(),
        };
        std::fs::write(fx.p("root.pem"), fx.pki.root.cert.to_pem()).unwrap();
        std::fs::write(fx.p("ca.pem"), fx.pki.ca.cert.to_pem()).unwrap();
        std::fs::write(fx.p("msg.json"), format!("{{\"topic\": \"{topic}\"}}\n")).unwrap();
        fx
    }

    /// `name` in the directory.
    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `waxseal` with `args` in the directory.
    /// Asserts that no temporary file (`waxseal-tmp...`) is left in the directory.
    pub fn assert_no_temporary_file(&self) {
        let names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.contains("waxseal-tmp")),
            "{names:?}"
        );
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.dir.path(), args)
    }

    /// `sign` of `input` into `out` as `WHO.crt` with `WHO.key`, the CA as its chain, and
    /// `extra`.
    pub fn sign_as(&self, who: &str, input: &str, out: &str, extra: &[&str]) -> Output {
        let (cert, key) = (format!("{who}.crt"), format!("{who}.key"));
        let mut args = vec![
            "sign", "--cert", &cert, "--key", &key, "--chain", "ca.pem", "--in", input, "--out",
            out,
        ];
        args.extend(extra);
        self.run(&args)
    }

    /// `cert verify` against the root, with the CA as an untrusted intermediate, and `args`.
    pub fn cert_verify(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "cert",
            "verify",
            "--trust",
            "root.pem",
            "--untrusted",
            "ca.pem",
        ];
        all.extend(args);
        self.run(&all)
    }

    /// Writes `cert` as `STEM.crt` and `key` as `STEM.key` (mode 0600).
    pub fn save_leaf(&self, stem: &str, cert: &Certificate, key: &PrivateKey) {
        std::fs::write(self.p(&format!("{stem}.crt")), cert.to_pem()).unwrap();
        write_key(&self.p(&format!("{stem}.key")), key);
    }

    /// Issues a leaf for `cn` with an `alg` key from the CA, saved as `STEM.crt` and
    /// `STEM.key`.
    pub fn leaf(&self, stem: &str, cn: &str, alg: KeyAlgorithm) -> Issued {
        let leaf = self.pki.leaf(cn, alg).unwrap();
        self.save_leaf(stem, &leaf.cert, &leaf.key);
        leaf
    }
}
