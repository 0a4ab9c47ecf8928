//! fedmsg-style JSON messages: sign, validate with a routing policy, strip credentials.
//! `cargo run --release -p waxseal-examples --example fedmsg_bus`

use serde_json::json;
use waxseal_message::{Bus, BusConfig, sign, strip_credentials};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::KeyAlgorithm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A bus PKI with two services, in a temporary directory.
    let dir = tempfile::tempdir()?;
    let pki_dir = dir.path().join("pki");
    let mut pki = PkiDir::init(
        &pki_dir,
        Seed::default(),
        KeyAlgorithm::P256,
        Lifetimes::default(),
    )?;
    pki.issue(
        &[
            ServiceHost::parse("bodhi-app01.example.org")?,
            ServiceHost::parse("fas-app02.example.org")?,
        ],
        false,
        false,
    )?;

    // The consumer's configuration: trust, CRLs, and who may publish what.
    let config = json!({
        "trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["pki/crl.pem"],
        "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]}
    });
    let bus = Bus::new(BusConfig::from_json(&config.to_string(), dir.path())?)?;

    let message =
        json!({"topic": "org.example.prod.bodhi.update.comment", "msg": {"text": "LGTM"}});
    let signed = sign(&message, &pki.signer("bodhi-app01.example.org")?)?;
    let wire = serde_json::to_vec(&signed)?;
    let v = bus.validate_bytes(&wire)?;
    // Notes and reasons quote the message (topics, subjects): print them escaped, so a
    // message cannot forge a log line.
    use waxseal_trust::display::Escaped;
    println!("bodhi's message: accepted ({})", Escaped(&v.note));
    for d in v.authorization.iter().flat_map(|a| a.decisions.iter()) {
        println!("  {} [{}]", Escaped(&d.reason), d.code);
    }

    // fas may not publish bodhi topics.
    let forged = sign(&message, &pki.signer("fas-app02.example.org")?)?;
    let r = bus
        .validate(&forged)
        .expect_err("routing policy must refuse");
    println!("fas's message on a bodhi topic: refused ({}): {r}", r.code);

    // Before handing the message on, drop the credentials (the input is not modified).
    let plain = strip_credentials(&signed);
    println!("stripped: {plain}");
    Ok(())
}
