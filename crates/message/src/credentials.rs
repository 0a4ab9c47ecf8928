//! The `certificate` field of fedmsg-style messages (base64 of PEM: the signer first, then
//! any intermediates), decoded once per distinct value.
//!
//! Every message from a signer carries the same field, and decoding it (base64, PEM, DER,
//! extensions, fingerprint) costs about as much as a warm signature check. The decoding is
//! a pure function of the field's text, so a bounded cache keyed by that text returns
//! exactly what decoding again would; what the certificates are worth is still decided for
//! every message by the verifier. A flood of distinct fields only evicts entries.
//!
//! Looking a field up in that cache hashes its 3-5 KB of text (std's SipHash, randomly
//! keyed: the text is the sender's, so a hash it could aim at one bucket is not an
//! option), which costs a good part of a microsecond. The last few distinct fields
//! decoded are therefore also kept apart ([`RECENT`]) and compared byte for byte first,
//! without a lock: a stream from one signer, or a few, finds its field there, and
//! anything else goes on to the cache. Either way the answer is the decoding of exactly
//! that text.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwapOption;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use waxseal_trust::{CertStore, Certificate};

use crate::error::Rejection;

/// How much the kept `certificate` fields may weigh in all, in bytes: each counts its text
/// plus [`DECODED_BYTES`] for its certificates (a field of one signer and its CA is about
/// 2-4 KiB of text; 4 MiB keeps about 500 of them).
pub const CAPACITY_BYTES: u64 = 4 * 1024 * 1024;

/// The estimate of what the decoded certificates of one field take in memory.
pub const DECODED_BYTES: u64 = 4 * 1024;

/// A field's text, its certificates, and the same certificates indexed for path building
/// and signer lookup (so that a verification does not index them again).
type Field = (Arc<str>, Arc<[Certificate]>, Arc<CertStore>);

/// A cache entry, shared with [`RECENT`]'s slots.
type Decoded = Arc<Field>;

/// Weighs an entry by its text's length plus [`DECODED_BYTES`] plus what its
/// certificates hold beyond the usual (`Certificate::extra_held_bytes`: an ML-DSA key's
/// expanded matrix, a certificate over 4 KiB), since an entry keeps them alive (the text
/// is held once, by the key and the entry together).
#[derive(Debug, Clone, Copy)]
struct ByLength;

impl quick_cache::Weighter<Arc<str>, Decoded> for ByLength {
    fn weight(&self, key: &Arc<str>, entry: &Decoded) -> u64 {
        let extra: u64 = entry.1.iter().map(Certificate::extra_held_bytes).sum();
        key.len() as u64 + DECODED_BYTES + extra
    }
}

/// How many of the last distinct fields found are compared directly before the cache is
/// asked. They are entries of the cache (shared, not copied), so they add to its bound
/// only when the cache has evicted them meanwhile: at most this many fields more.
pub const RECENT: usize = 4;

/// Decoded `certificate` fields, bounded in bytes.
pub struct CertificateFields {
    cache: quick_cache::sync::Cache<Arc<str>, Decoded, ByLength>,
    /// The last [`RECENT`] distinct fields found (in the cache, or decoded and kept
    /// there), replaced in turn.
    recent: [ArcSwapOption<Field>; RECENT],
    /// The slot of `recent` the next field found in the cache takes.
    next: AtomicUsize,
}

// A panic cannot leave the cache inconsistent: it is only changed inside `quick_cache`
// under a shard lock, by hashing and comparing `str` keys and cloning `Arc`s, none of
// which panics; the recent slots are swapped whole. So a bus that holds one stays usable
// across `catch_unwind`, as `waxseal_trust::PathCache` does.
impl std::panic::RefUnwindSafe for CertificateFields {}
impl std::panic::UnwindSafe for CertificateFields {}

impl Default for CertificateFields {
    fn default() -> Self {
        let shards = 4;
        let options = quick_cache::OptionsBuilder::new()
            .shards(shards)
            .estimated_items_capacity((CAPACITY_BYTES / (DECODED_BYTES + 2048)) as usize)
            .weight_capacity(CAPACITY_BYTES)
            .build()
            .expect("valid cache options");
        Self {
            cache: quick_cache::sync::Cache::with_options(
                options,
                ByLength,
                Default::default(),
                Default::default(),
            ),
            recent: Default::default(),
            next: AtomicUsize::new(0),
        }
    }
}

impl CertificateFields {
    /// The certificates in `field` (base64 of PEM), or why they cannot be read (reason
    /// code `malformed`). Failures are not cached.
    pub fn decode(&self, field: &str) -> Result<Arc<[Certificate]>, Rejection> {
        self.decode_indexed(field).map(|(certs, _)| certs)
    }

    /// [`CertificateFields::decode`], with the certificates also as a [`CertStore`] to
    /// verify with (`Verifier::verify_with_certificates`).
    pub fn decode_indexed(
        &self,
        field: &str,
    ) -> Result<(Arc<[Certificate]>, Arc<CertStore>), Rejection> {
        let found = |entry: &Decoded| (entry.1.clone(), entry.2.clone());
        for slot in &self.recent {
            if let Some(kept) = &*slot.load()
                && *kept.0 == *field
            {
                return Ok(found(kept));
            }
        }
        let entry = match self.cache.get(field) {
            Some(entry) => entry,
            None => {
                let certs = decode_field(field)?;
                let store = Arc::new(CertStore::from_certificates(certs.iter().cloned()));
                let entry: Decoded = Arc::new((Arc::from(field), certs, store));
                // Kept only if the cache keeps it (a field heavier than the whole cache is
                // not), so that the recent slots hold nothing the cache would not.
                self.cache.insert(entry.0.clone(), entry.clone());
                if self.cache.get(field).is_none() {
                    return Ok(found(&entry));
                }
                entry
            }
        };
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % RECENT;
        self.recent[slot].store(Some(entry.clone()));
        Ok(found(&entry))
    }
}

/// The certificates of a field, decoded.
fn decode_field(field: &str) -> Result<Arc<[Certificate]>, Rejection> {
    let bytes = STANDARD
        .decode(field.as_bytes())
        .map_err(|e| Rejection::format("malformed", format!("certificate is not base64: {e}")))?;
    let pem = String::from_utf8(bytes)
        .map_err(|_| Rejection::format("malformed", "certificate is not UTF-8 PEM"))?;
    Ok(Certificate::load_all(pem.as_bytes())
        .map_err(|e| Rejection::format("malformed", format!("certificate: {e}")))?
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use waxseal_pki::TestPki;
    use waxseal_trust::KeyAlgorithm;

    #[test]
    fn a_cached_field_decodes_to_the_same_certificates_and_bad_fields_are_refused_each_time() {
        let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
        let leaf = pki
            .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
            .unwrap();
        let pem = format!("{}{}", leaf.cert.to_pem(), pki.ca.cert.to_pem());
        let field = STANDARD.encode(&pem);
        let fields = CertificateFields::default();
        let first = fields.decode(&field).unwrap();
        let again = fields.decode(&field).unwrap();
        assert_eq!(&first[..], &[leaf.cert.clone(), pki.ca.cert.clone()]);
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second decode is the cached one"
        );
        // A different field (the leaf only) is its own entry.
        let alone = fields.decode(&STANDARD.encode(leaf.cert.to_pem())).unwrap();
        assert_eq!(&alone[..], &[leaf.cert]);
        for bad in [
            "not base64!",
            &STANDARD.encode([0xff, 0xfe]),
            &STANDARD.encode("no pem"),
        ] {
            for _ in 0..2 {
                assert_eq!(fields.decode(bad).unwrap_err().code, "malformed", "{bad}");
            }
        }
    }

    #[test]
    fn an_ml_dsa_field_weighs_the_expanded_keys_it_keeps_alive() {
        let alg = KeyAlgorithm::MlDsa(waxseal_trust::mldsa::MlDsaParameterSet::MlDsa65);
        let pki = TestPki::new(alg).unwrap();
        let leaf = pki.leaf("svc.example.org", alg).unwrap();
        let field = STANDARD.encode(format!("{}{}", leaf.cert.to_pem(), pki.ca.cert.to_pem()));
        let fields = CertificateFields::default();
        fields.decode(&field).unwrap();
        let held = leaf.cert.extra_held_bytes() + pki.ca.cert.extra_held_bytes();
        assert!(held >= 2 * waxseal_trust::mldsa::MlDsaParameterSet::MlDsa65.prepared_bytes());
        assert_eq!(
            fields.cache.weight(),
            field.len() as u64 + DECODED_BYTES + held
        );
    }

    #[test]
    fn the_cache_stays_bounded_in_bytes_under_a_flood_of_distinct_and_large_fields() {
        let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
        let pem = pki.ca.cert.to_pem();
        let fields = CertificateFields::default();
        // Distinct texts for the same certificate: text after the PEM block, some of it
        // 64 KiB long (a field may be up to MAX_FIELD_LEN).
        for n in 0..3000 {
            let padding = if n % 10 == 0 {
                "x".repeat(64 * 1024)
            } else {
                String::new()
            };
            let field = STANDARD.encode(format!("{pem}{n}{padding}\n"));
            assert_eq!(fields.decode(&field).unwrap()[0], pki.ca.cert);
            assert!(
                fields.cache.weight() <= CAPACITY_BYTES,
                "{}",
                fields.cache.weight()
            );
        }
        assert!(fields.cache.len() as u64 <= CAPACITY_BYTES / DECODED_BYTES);
        assert!(!fields.cache.is_empty());
    }
}
