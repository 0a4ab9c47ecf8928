// The fuzz harnesses, shared by the libFuzzer targets (`include!`d from fuzz_targets/)
// and by the corpus replay test of the envelope crate (`tests/fuzz_corpus.rs`), so CI
// runs exactly what the fuzzer runs, on every corpus file, without libFuzzer.
//
// Each harness only has to return: any panic is a bug.

/// The verification time of every harness (2026-11-25T00:00:00Z): inside the validity of
/// testdata/'s certificates and CRLs (made 2026-11-22; CRLs current until 2026-11-29), so
/// inputs derived from them reach revocation and beyond, and fixed, so nothing expires
/// under the harnesses as the real clock moves on.
pub const FIXED_TIME: u64 = 1_795_564_800;

/// Parse, inspect, re-encode and verify an envelope: signature-only, and against the
/// certificates it carries used as trust anchors (so path validation runs on hostile
/// certificates too), with a detached content for detached envelopes.
pub fn envelope(data: &[u8]) {
    use waxseal_envelope::*;
    use waxseal_trust::*;
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
            .at_time(FIXED_TIME)
            .verify(&env, detached);
    }
}

/// Unwrap an S/MIME, PEM or base64 armour.
pub fn smime(data: &[u8]) {
    if let Ok(u) = waxseal_envelope::format::unwrap(data) {
        let _ = waxseal_trust::asn1::normalize(&u.cms, 256);
    }
}

/// Parse a certificate or CRL and validate the certificate against itself.
pub fn x509(data: &[u8]) {
    use waxseal_envelope::*;
    use waxseal_trust::*;
    let _ = Crl::from_der(data).map(|c| c.entries().len());
    let Ok(cert) = Certificate::from_der(data) else {
        return;
    };
    let _ = inspect::CertificateSummary::of(&cert);
    if let Ok(anchors) = TrustAnchors::new([cert.clone()]) {
        let options = ValidationOptions::at(FIXED_TIME);
        let _ = validate(&cert, &anchors, &[], &CrlSet::new(), &options);
    }
}

/// Parse a private key file (PEM or DER; PKCS #8, PKCS #1, SEC1) and use what it gives:
/// its public half, and a PKCS #8 re-encoding that must parse back to the same key.
pub fn key(data: &[u8]) {
    use waxseal_trust::*;
    let Ok(key) = PrivateKey::from_bytes(data) else {
        return;
    };
    let _ = (key.algorithm().name(), key.public_key().bits());
    let spki = key.subject_public_key_info();
    let again = PrivateKey::from_der(&key.to_pkcs8_der()).expect("a parsed key re-encodes");
    assert_eq!(
        again.subject_public_key_info(),
        spki,
        "re-encoding changed the key"
    );
    let _ = PrivateKey::from_bytes(key.to_pkcs8_pem().as_bytes()).expect("its PEM parses");
}

/// Parse certificate and CRL bundles (PEM with any number of blocks, or DER), and
/// show what they hold.
pub fn pem_bundle(data: &[u8]) {
    use waxseal_trust::*;
    if let Ok(certs) = Certificate::load_all(data) {
        for c in &certs {
            let _ = (c.subject_display(), c.issuer_display(), c.common_name());
            let _ = Certificate::from_der(c.der()).expect("a parsed certificate re-parses");
        }
        let _ = CertStore::from_certificates(certs).len();
    }
    if let Ok(crls) = Crl::load_all(data) {
        for c in &crls {
            let _ = (
                c.issuer_display(),
                c.this_update(),
                c.next_update(),
                c.is_delta(),
            );
            let _ = Crl::from_der(c.der()).expect("a parsed CRL re-parses");
        }
        let _ = CrlSet::from_crls(crls).len();
    }
}

/// A fresh scratch directory for one harness run.
fn scratch() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "waxseal-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// The store's file and folder loading: `data` as one file, and split on lines of
/// `%%` into the files of a folder (named by the first byte of each part: `.pem`, `.crt`,
/// `.der`, `.crl` or no extension), loaded as certificates and as CRLs.
pub fn store(data: &[u8]) {
    use waxseal_trust::store::{files_in, load_certificates, load_crls};
    let dir = scratch();
    let file = dir.join("bundle.pem");
    std::fs::write(&file, data).expect("scratch file");
    let _ = load_certificates(&file).map(|c| c.len());
    let _ = load_crls(&file).map(|c| c.len());
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).expect("scratch folder");
    let mut rest = data;
    let mut i = 0;
    loop {
        let (part, next) = match rest.windows(4).position(|w| w == b"\n%%\n") {
            Some(p) => (&rest[..p], Some(&rest[p + 4..])),
            None => (rest, None),
        };
        let ext = ["pem", "crt", "der", "crl", "txt"][part.first().map_or(0, |b| *b as usize % 5)];
        std::fs::write(folder.join(format!("{i:03}.{ext}")), part).expect("scratch file");
        i += 1;
        match next {
            Some(n) if i < 16 => rest = n,
            _ => break,
        }
    }
    let _ = files_in(&folder).map(|f| f.len());
    let _ = load_certificates(&folder).map(|c| c.len());
    let _ = load_crls(&folder).map(|c| c.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Parse a time (`--at`, the PKI inventory's revocation times): a time that parses
/// formats back to one that parses to the same second.
pub fn time(data: &[u8]) {
    use waxseal_trust::time::{format, parse_rfc3339};
    let text = String::from_utf8_lossy(data);
    if let Ok(t) = parse_rfc3339(&text) {
        let shown = format(t);
        assert_eq!(parse_rfc3339(&shown), Ok(t), "{text:?} -> {t} -> {shown}");
    }
}

/// Parse an RFC 4514 distinguished name, compare it and show it: the shown form is one
/// line whatever the name holds.
pub fn dn(data: &[u8]) {
    use std::str::FromStr;
    let text = String::from_utf8_lossy(data);
    let Ok(name) = x509_cert::name::Name::from_str(&text) else {
        return;
    };
    let shown = waxseal_trust::name::display(&name);
    assert!(
        !shown.chars().any(waxseal_trust::display::needs_escape),
        "unescaped control character in {shown:?}"
    );
    let key = waxseal_trust::name::NameKey::new(&name);
    assert!(key.starts_with(&key));
    let _ = waxseal_trust::name::common_name(&name);
    let _ = der::Encode::to_der(&name);
}

/// An RFC 3161 time-stamp: read as a TimeStampResp (the token it carries, or the input
/// itself taken as a token), then verified as a signature time-stamp with its own first
/// certificates as the TSA's anchors (so the checks past the signature run on hostile
/// input too). The seeds stamp the bytes `signature`, so their imprint matches and the
/// checks after it run.
pub fn timestamp(data: &[u8]) {
    use waxseal_envelope::*;
    use waxseal_trust::*;
    let token = rfc3161::response_token(data).unwrap_or_else(|_| data.to_vec());
    let certs: Vec<Certificate> = Envelope::parse(&token)
        .map(|e| e.signed_data().x509_certificates().cloned().collect())
        .unwrap_or_default();
    if let Ok(anchors) = TrustAnchors::new(certs.iter().take(2).cloned()) {
        let trust = rfc3161::TimestampTrust::new(anchors);
        let meter = trust.meter();
        let _ = trust.verify_token(&token, b"signature", FIXED_TIME, None, &meter);
    }
}
