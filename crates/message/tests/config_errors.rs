//! A configuration error names the file and the key it is about.

fn load(dir: &std::path::Path, name: &str, text: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    waxseal_message::Bus::from_config_file(&path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn configuration_errors_name_the_file_and_the_key() {
    let pki = waxseal_pki::TestPki::new(waxseal_trust::KeyAlgorithm::P256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("root.pem"), pki.root.cert.to_pem()).unwrap();
    std::fs::write(d.join("ca.pem"), pki.ca.cert.to_pem()).unwrap();
    for (key, text) in [
        ("trust", r#"{"certs": ["ca.pem"]}"#),
        ("trust", r#"{"trust": ["missing-root.pem"]}"#),
        (
            "certs",
            r#"{"trust": ["root.pem"], "certs": ["missing-ca.pem"]}"#,
        ),
        (
            "crls",
            r#"{"trust": ["root.pem"], "crls": ["missing.crl"]}"#,
        ),
        ("bogus", r#"{"trust": ["root.pem"], "bogus": 1}"#),
    ] {
        let e = load(d, "bus.json", text).unwrap_err();
        assert!(e.contains("bus.json"), "{text}: {e}");
        assert!(e.contains(key), "{text}: {e}");
    }
    // The positive twin.
    load(
        d,
        "bus.json",
        r#"{"trust": ["root.pem"], "certs": ["ca.pem"]}"#,
    )
    .unwrap();
}
