// The fuzz harnesses, shared by the libFuzzer targets (`include!`d from fuzz_targets/)
// and by the corpus replay test of the envelope crate (`tests/fuzz_corpus.rs`), so CI
// runs exactly what the fuzzer runs, on every corpus file, without libFuzzer.
//
// Each harness only has to return: any panic is a bug.

/// Parse, inspect, re-encode and verify an envelope: signature-only, and against the
/// certificates it carries used as trust anchors (so path validation runs on hostile
/// certificates too), with a detached content for detached envelopes.
pub fn envelope(data: &[u8]) {
    use waxseal_envelope::*;
    let Ok(env) = Envelope::parse(data) else {
        return;
    };
    let _ = inspect::report(&env).to_string();
    let reparsed = Envelope::parse(&env.to_der());
    let _ = reparsed.map(|e| e.signed_data().signer_infos.len());
    let legacy = AlgorithmPolicy {
        allow_sha1: true,
        allow_md5: true,
    };
    let detached: Option<&[u8]> = if env.has_content() {
        None
    } else {
        Some(b"detached content")
    };
    let _ = Verifier::signature_only_unauthenticated()
        .with_algorithms(legacy)
        .verify(&env, detached);
    let certs: Vec<Certificate> = env.signed_data().x509_certificates().cloned().collect();
    if let Ok(anchors) = TrustAnchors::new(certs.iter().take(2).cloned()) {
        let crls = CrlSet::from_crls(
            env.signed_data()
                .crls
                .iter()
                .filter_map(|c| c.parse().ok().cloned()),
        );
        let _ = Verifier::new(anchors)
            .with_algorithms(legacy)
            .with_crls(crls)
            .at_time(1_700_000_000)
            .verify(&env, detached);
    }
}

/// Unwrap an S/MIME, PEM or base64 armour.
pub fn smime(data: &[u8]) {
    if let Ok(u) = waxseal_envelope::format::unwrap(data) {
        let _ = waxseal_envelope::asn1::normalize(&u.cms, 256);
    }
}

/// Parse a certificate or CRL and validate the certificate against itself.
pub fn x509(data: &[u8]) {
    use waxseal_envelope::*;
    let _ = Crl::from_der(data).map(|c| c.entries().len());
    let Ok(cert) = Certificate::from_der(data) else {
        return;
    };
    let _ = inspect::CertificateSummary::of(&cert);
    if let Ok(anchors) = TrustAnchors::new([cert.clone()]) {
        let options = trust::ValidationOptions::at(1_700_000_000);
        let _ = trust::validate(&cert, &anchors, &[], &CrlSet::new(), &options);
    }
}
