//! `waxseal sign` and `waxseal verify` stream content of any size: larger than the old
//! 64 MiB limit, detached and attached (definite lengths from a file, indefinite from
//! standard input), in interop with `openssl cms` both ways, with the negative twins
//! (tampered content at the end, truncated envelope, wrong detached content): a failed
//! verification leaves no `--out` behind. Peak memory of a large verification is bounded.

mod common;

use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::process::{Command, Stdio};

use common::{Fx, code, stderr as err};
use waxseal_trust::KeyAlgorithm;

/// Larger than the old in-memory limit of 64 MiB.
const LARGE: usize = 70 << 20;

fn fx() -> Fx {
    let fx = Fx::with_topic("org.example.stream");
    fx.leaf("leaf", "stream-app01.example.org", KeyAlgorithm::P256);
    fx
}

/// Writes `len` bytes of varied content to `name`.
fn big_file(fx: &Fx, name: &str, len: usize) {
    let mut block: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(fx.p(name)).unwrap());
    let mut left = len;
    let mut n = 0u8;
    while left > 0 {
        block[0] = n;
        n = n.wrapping_add(1);
        let k = left.min(block.len());
        f.write_all(&block[..k]).unwrap();
        left -= k;
    }
    f.flush().unwrap();
}

fn same_file(fx: &Fx, a: &str, b: &str) -> bool {
    let (ma, mb) = (
        std::fs::metadata(fx.p(a)).unwrap(),
        std::fs::metadata(fx.p(b)).unwrap(),
    );
    ma.len() == mb.len() && std::fs::read(fx.p(a)).unwrap() == std::fs::read(fx.p(b)).unwrap()
}

/// Flips the byte `from_end` bytes before the end of `name`.
fn flip(fx: &Fx, name: &str, from_end: u64) {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(fx.p(name))
        .unwrap();
    let len = f.metadata().unwrap().len();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(len - from_end)).unwrap();
    f.read_exact(&mut b).unwrap();
    b[0] ^= 1;
    f.seek(SeekFrom::Start(len - from_end)).unwrap();
    f.write_all(&b).unwrap();
}

fn verify(fx: &Fx, args: &[&str]) -> std::process::Output {
    let mut all = vec!["verify", "--trust", "root.pem", "--json"];
    all.extend(args);
    fx.run(&all)
}

fn reason(o: &std::process::Output) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("no JSON report: {}", err(o)));
    v["reason"].as_str().unwrap_or_default().to_string()
}

#[test]
fn large_detached_signature_round_trips() {
    let fx = fx();
    big_file(&fx, "big", LARGE);
    let o = fx.sign_as("leaf", "big", "big.p7s", &["--detached"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(std::fs::metadata(fx.p("big.p7s")).unwrap().len() < 8192);
    let o = verify(&fx, &["--in", "big.p7s", "--content", "big"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["content_length"], LARGE as u64);
    // PEM output of the detached signature verifies too.
    let o = fx.sign_as(
        "leaf",
        "big",
        "big.pem",
        &["--detached", "--outform", "pem"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = verify(&fx, &["--in", "big.pem", "--content", "big"]);
    assert_eq!(code(&o), 0, "{}", err(&o));

    // Negative twins: the last byte changed; the content missing.
    flip(&fx, "big", 1);
    let o = verify(
        &fx,
        &["--in", "big.p7s", "--content", "big", "--out", "got"],
    );
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(reason(&o), "message-digest-mismatch");
    assert!(!fx.p("got").exists());
    fx.assert_no_temporary_file();
    let o = verify(&fx, &["--in", "big.p7s"]);
    assert_eq!((code(&o), reason(&o)), (1, "missing-content".into()));
}

#[test]
fn large_attached_envelope_round_trips_and_a_tampered_one_leaves_no_output() {
    let fx = fx();
    big_file(&fx, "big", LARGE);
    let o = fx.sign_as("leaf", "big", "big.p7m", &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // From a file: definite lengths (DER).
    let head = std::fs::read(fx.p("big.p7m")).unwrap()[..2].to_vec();
    assert_eq!(head, [0x30, 0x84]);
    let o = verify(&fx, &["--in", "big.p7m", "--out", "got"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "der");
    assert!(same_file(&fx, "big", "got"));
    std::fs::remove_file(fx.p("got")).unwrap();

    // A content byte near the end (before the certificates and signer info, under 4 KiB).
    flip(&fx, "big.p7m", 8 << 10);
    let o = verify(&fx, &["--in", "big.p7m", "--out", "got"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(reason(&o), "message-digest-mismatch");
    assert!(!fx.p("got").exists(), "unverified content left behind");
    fx.assert_no_temporary_file();
    // Nor is an existing file replaced by unverified content, even with --force.
    std::fs::write(fx.p("got"), b"keep").unwrap();
    let o = verify(&fx, &["--in", "big.p7m", "--out", "got", "--force"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert_eq!(std::fs::read(fx.p("got")).unwrap(), b"keep");
    // A FIFO gets nothing.
    let fifo = fx.p("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = verify(&fx, &["--in", "big.p7m", "--out", "fifo"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(
        reader.join().unwrap().is_empty(),
        "unverified content written to the FIFO"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // Truncated: exit 1, malformed, no output.
    flip(&fx, "big.p7m", 8 << 10);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(fx.p("big.p7m"))
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 10).unwrap();
    let o = verify(&fx, &["--in", "big.p7m", "--out", "got2"]);
    assert_eq!(
        (code(&o), reason(&o)),
        (1, "malformed".into()),
        "{}",
        err(&o)
    );
    assert!(!fx.p("got2").exists());
    fx.assert_no_temporary_file();
}

#[test]
fn attached_envelope_of_standard_input_has_indefinite_lengths() {
    let fx = fx();
    big_file(&fx, "big", LARGE);
    let sign = |out: &str| {
        Command::new(env!("CARGO_BIN_EXE_waxseal"))
            .args([
                "sign", "--cert", "leaf.crt", "--key", "leaf.key", "--chain", "ca.pem", "--out",
                out,
            ])
            .current_dir(fx.dir.path())
            .stdin(std::fs::File::open(fx.p("big")).unwrap())
            .output()
            .unwrap()
    };
    // Standard input redirected from a file is a file: definite lengths.
    let o = sign("file.p7m");
    assert_eq!(code(&o), 0, "{}", err(&o));
    // Through a pipe the size is unknown: indefinite lengths.
    let mut child = Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args([
            "sign", "--cert", "leaf.crt", "--key", "leaf.key", "--chain", "ca.pem", "--out",
            "pipe.p7m",
        ])
        .current_dir(fx.dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut src = std::fs::File::open(fx.p("big")).unwrap();
    std::io::copy(&mut src, &mut stdin).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    let raw = std::fs::read(fx.p("pipe.p7m")).unwrap();
    assert_eq!(&raw[..2], &[0x30, 0x80]);
    assert_eq!(&raw[raw.len() - 6..], &[0; 6]);
    drop(raw);
    // Verified from standard input too, to standard output.
    let o = Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(["verify", "--trust", "root.pem"])
        .current_dir(fx.dir.path())
        .stdin(std::fs::File::open(fx.p("pipe.p7m")).unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        o.stdout == std::fs::read(fx.p("big")).unwrap(),
        "stdout differs from the content"
    );
    // Tampered near the end: nothing on standard output.
    flip(&fx, "pipe.p7m", 8 << 10);
    let o = Command::new(env!("CARGO_BIN_EXE_waxseal"))
        .args(["verify", "--trust", "root.pem"])
        .current_dir(fx.dir.path())
        .stdin(std::fs::File::open(fx.p("pipe.p7m")).unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(o.stdout.is_empty(), "unverified content on standard output");
}

fn openssl(fx: &Fx, args: &[&str]) -> std::process::Output {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(fx.dir.path())
        .output()
        .expect("the openssl command is required for interop tests");
    assert!(o.status.success(), "openssl {args:?}: {}", err(&o));
    o
}

#[test]
fn streamed_envelopes_interoperate_with_openssl_cms() {
    let fx = fx();
    big_file(&fx, "c", 5 << 20);
    // waxseal -> openssl: definite, indefinite (through a pipe) and detached.
    assert_eq!(code(&fx.sign_as("leaf", "c", "def.p7m", &[])), 0);
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat c | '{}' sign --cert leaf.crt --key leaf.key --chain ca.pem --out ind.p7m",
            env!("CARGO_BIN_EXE_waxseal")
        ))
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        code(&fx.sign_as("leaf", "c", "det.p7s", &["--detached"])),
        0
    );
    for f in ["def.p7m", "ind.p7m"] {
        openssl(
            &fx,
            &[
                "cms", "-verify", "-binary", "-inform", "DER", "-in", f, "-CAfile", "root.pem",
                "-out", "o",
            ],
        );
        assert!(same_file(&fx, "c", "o"), "{f}");
    }
    openssl(
        &fx,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "det.p7s",
            "-content",
            "c",
            "-CAfile",
            "root.pem",
            "-out",
            "/dev/null",
        ],
    );

    // openssl -> waxseal: -stream (indefinite, segmented content) and detached.
    let sign = |extra: &[&str]| {
        let common = [
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-in",
            "c",
            "-signer",
            "leaf.crt",
            "-inkey",
            "leaf.key",
            "-certfile",
            "ca.pem",
        ];
        openssl(&fx, &[&common[..], extra].concat());
    };
    sign(&["-stream", "-nodetach", "-out", "os.p7m"]);
    sign(&["-out", "os.p7s"]);
    let o = verify(&fx, &["--in", "os.p7m", "--out", "w"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "ber");
    assert!(same_file(&fx, "c", "w"));
    let o = verify(&fx, &["--in", "os.p7s", "--content", "c"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    // Negative twins: a flipped content byte; the detached signature with other content.
    flip(&fx, "os.p7m", 4 << 20);
    let o = verify(&fx, &["--in", "os.p7m", "--out", "w2"]);
    assert_eq!(
        (code(&o), reason(&o)),
        (1, "message-digest-mismatch".into())
    );
    assert!(!fx.p("w2").exists());
    flip(&fx, "c", 1);
    let o = verify(&fx, &["--in", "os.p7s", "--content", "c"]);
    assert_eq!(
        (code(&o), reason(&o)),
        (1, "message-digest-mismatch".into())
    );
}

/// Peak resident memory (KiB) of `waxseal ARGS`, from `/usr/bin/time -f %M`.
fn peak_kib(fx: &Fx, args: &[&str]) -> u64 {
    let o = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(env!("CARGO_BIN_EXE_waxseal"))
        .args(args)
        .current_dir(fx.dir.path())
        .output()
        .expect("/usr/bin/time is required for the memory test");
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = err(&o);
    text.lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{text}"))
}

#[test]
fn large_content_is_verified_in_bounded_memory() {
    let fx = fx();
    big_file(&fx, "big", LARGE);
    assert_eq!(code(&fx.sign_as("leaf", "big", "big.p7m", &[])), 0);
    assert_eq!(
        code(&fx.sign_as("leaf", "big", "big.p7s", &["--detached"])),
        0
    );
    // Well under the content size (70 MiB): the content is never held.
    let limit = 32 << 10;
    for args in [
        &[
            "verify", "--trust", "root.pem", "--in", "big.p7m", "--out", "o1",
        ][..],
        &[
            "verify",
            "--trust",
            "root.pem",
            "--in",
            "big.p7s",
            "--content",
            "big",
            "--json",
        ][..],
        &[
            "sign",
            "--cert",
            "leaf.crt",
            "--key",
            "leaf.key",
            "--in",
            "big",
            "--detached",
            "--out",
            "s.p7s",
        ][..],
        &[
            "sign", "--cert", "leaf.crt", "--key", "leaf.key", "--in", "big", "--out", "s.p7m",
        ][..],
    ] {
        let kib = peak_kib(&fx, args);
        assert!(kib < limit, "{args:?}: peak RSS {kib} KiB");
    }
    assert!(same_file(&fx, "big", "o1"));
}
