//! Sign and verify bytes with the library: a throwaway PKI, one envelope, one verification,
//! then the same envelope tampered with. `cargo run --release -p waxseal-examples --example quickstart`

use waxseal_envelope::{EnvelopeBuilder, Signer, Verifier};
use waxseal_pki::TestPki;
use waxseal_trust::{KeyAlgorithm, TrustAnchors};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A root CA, a signing CA and one service key pair, generated in memory.
    let pki = TestPki::new(KeyAlgorithm::P256)?;
    let bodhi = pki.leaf("bodhi-app01.example.org", KeyAlgorithm::Ed25519)?;
    let signer = Signer::new(bodhi.cert, bodhi.key)?.with_chain(vec![pki.ca.cert.clone()]);

    let message = br#"{"topic": "org.example.prod.bodhi.update.comment", "msg": {"text": "LGTM"}}"#;
    let envelope = EnvelopeBuilder::new(message)
        .add_signer(&signer)
        .build()?
        .to_der();
    println!(
        "signed {} bytes into a {}-byte CMS envelope",
        message.len(),
        envelope.len()
    );

    // The consumer trusts only the root.
    let verifier = Verifier::new(TrustAnchors::new([pki.root.cert.clone()])?);
    let verified = verifier.verify_bytes(&envelope, None)?;
    let who = &verified.signers()[0];
    println!(
        "verified: {} ({})",
        who.certificate.subject_display(),
        who.signature_algorithm
    );
    println!("content:  {}", String::from_utf8_lossy(verified.content()));

    let mut forged = envelope.clone();
    let at = forged
        .windows(4)
        .position(|w| w == b"LGTM")
        .ok_or("no content")?;
    forged[at..at + 4].copy_from_slice(b"NACK");
    let err = verifier
        .verify_bytes(&forged, None)
        .expect_err("tampering must be caught");
    println!("tampered: rejected ({}): {err}", err.code());
    Ok(())
}
