//! What a command-line user expects beside the commands: `--version`, shell completions
//! and manual pages generated from the same definitions as the parser.

mod common;

use std::path::Path;

use common::{code, ok, run, stderr};

#[test]
fn version_prints_the_crate_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&run(dir.path(), &["--version"]));
    assert_eq!(out, format!("waxseal {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(out, "waxseal 0.1.0\n");
    // Its negative twin: a flag that does not exist is a usage error, no version printed.
    let o = run(dir.path(), &["--versions"]);
    assert_eq!(code(&o), 2);
    assert!(o.stdout.is_empty());
}

#[test]
fn bash_completions_name_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let script = ok(&run(dir.path(), &["completions", "bash"]));
    assert!(script.contains("_waxseal()"), "{script}");
    assert!(script.contains("complete -F _waxseal"), "{script}");
    for sub in [
        "verify",
        "sign",
        "inspect",
        "cert",
        "msg",
        "authorize",
        "pki",
        "countersign",
        "slip",
        "completions",
        "man",
    ] {
        assert!(
            script.contains(&format!("waxseal,{sub})")),
            "no completion for {sub}"
        );
    }
    // Options of a subcommand are completed too.
    assert!(script.contains("--trust"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let s = ok(&run(dir.path(), &["completions", shell]));
        assert!(s.contains("verify"), "{shell}: {s}");
    }
    // An unknown shell is a usage error and prints no script.
    let o = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(code(&o), 2);
    assert!(o.stdout.is_empty());
}

fn man_pages(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["man", "--out-dir", "man"];
    args.extend(extra);
    run(dir, &args)
}

#[test]
fn man_pages_one_per_subcommand_and_verify_renders() {
    let dir = tempfile::tempdir().unwrap();
    ok(&man_pages(dir.path(), &[]));
    let man = dir.path().join("man");
    for page in [
        "waxseal.1",
        "waxseal-verify.1",
        "waxseal-sign.1",
        "waxseal-cert-verify.1",
        "waxseal-pki-init.1",
        "waxseal-msg-validate.1",
        "waxseal-completions.1",
    ] {
        assert!(man.join(page).is_file(), "{page} missing");
    }
    // The generated `help` subcommand gets no page.
    assert!(!man.join("waxseal-help.1").exists());
    let roff = std::fs::read_to_string(man.join("waxseal-verify.1")).unwrap();
    assert!(roff.contains(".TH waxseal-verify 1"), "{roff}");
    for option in ["\\-\\-trust", "\\-\\-crl", "\\-\\-at", "\\-\\-json"] {
        assert!(roff.contains(option), "{option} not in the page");
    }
    let top = std::fs::read_to_string(man.join("waxseal.1")).unwrap();
    assert!(top.contains("waxseal\\-verify(1)"), "{top}");
    // Rendered by man(1) where it is installed.
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(man.join("waxseal-verify.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output();
    if let Ok(o) = rendered
        && o.status.success()
    {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("NAME"), "{text}");
        assert!(text.contains("SYNOPSIS"), "{text}");
        assert!(
            text.contains("waxseal-verify - Verify an envelope"),
            "{text}"
        );
        assert!(text.contains("--trust"), "{text}");
    }
}

#[test]
fn man_refuses_an_existing_page_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    std::fs::create_dir(&man).unwrap();
    std::fs::write(man.join("waxseal-verify.1"), "mine\n").unwrap();
    let o = man_pages(dir.path(), &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("exists; pass --force"),
        "{}",
        stderr(&o)
    );
    // Nothing written: the existing page is intact and no other page was made.
    assert_eq!(
        std::fs::read_to_string(man.join("waxseal-verify.1")).unwrap(),
        "mine\n"
    );
    assert!(!man.join("waxseal.1").exists());
    // With --force it is replaced.
    ok(&man_pages(dir.path(), &["--force"]));
    let roff = std::fs::read_to_string(man.join("waxseal-verify.1")).unwrap();
    assert!(roff.contains(".TH waxseal-verify 1"));
    assert!(man.join("waxseal.1").is_file());
}

#[test]
fn man_refuses_a_directory_where_a_page_goes() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    std::fs::create_dir_all(man.join("waxseal-sign.1")).unwrap();
    let o = man_pages(dir.path(), &["--force"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    assert!(!man.join("waxseal.1").exists());
}
