//! The entity registry: known entities and the certificates or keys allowed to speak for
//! them. With a registry, a certificate valid under the CA but not registered is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use waxseal_trust::Certificate;

use crate::error::EntityError;
use crate::mapping::EntityId;

/// One registered entity (`registry.json`):
/// `{"entities": {"bodhi-app01.example.org": {"certificates": ["<sha256 hex>"], "keys": []}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredEntity {
    /// SHA-256 fingerprints of certificates (DER) that may speak for the entity.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// SHA-256 fingerprints of public keys (SubjectPublicKeyInfo DER), surviving re-issue.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// The registry file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Entities by ID.
    pub entities: BTreeMap<String, RegisteredEntity>,
}

fn normalize(fp: &str) -> String {
    fp.chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// SHA-256 of a certificate's DER, lower-case hex (what `registry.json` lists).
pub fn certificate_fingerprint(cert: &Certificate) -> String {
    hex::encode(cert.fingerprint())
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo DER, lower-case hex.
pub fn key_fingerprint(cert: &Certificate) -> String {
    let spki = der::Encode::to_der(cert.public_key_info()).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(spki))
}

impl Registry {
    /// Parses and checks a registry: every entity pins at least one certificate or key,
    /// and fingerprints are 64 hex digits (colons allowed).
    pub fn from_json(text: &str) -> Result<Self, EntityError> {
        let mut r: Registry = serde_json::from_str(text)
            .map_err(|e| EntityError::Config(format!("registry: {e}")))?;
        for (id, e) in r.entities.iter_mut() {
            if e.certificates.is_empty() && e.keys.is_empty() {
                return Err(EntityError::Config(format!(
                    "registry: {id} pins no certificate and no key"
                )));
            }
            for fp in e.certificates.iter_mut().chain(e.keys.iter_mut()) {
                *fp = normalize(fp);
                if fp.len() != 64 || hex::decode(&*fp).is_err() {
                    return Err(EntityError::Config(format!(
                        "registry: {id}: {fp:?} is not a SHA-256 fingerprint"
                    )));
                }
            }
        }
        Ok(r)
    }

    /// Whether `cert` may speak for `entity`; `Err` says why not.
    pub fn check_binding(
        &self,
        entity: &EntityId,
        cert: &Certificate,
    ) -> Result<(), (&'static str, String)> {
        let Some(e) = self.entities.get(&entity.id) else {
            return Err((
                "entity-unregistered",
                format!("entity {} is not in the registry", entity.id),
            ));
        };
        if e.certificates.contains(&certificate_fingerprint(cert))
            || e.keys.contains(&key_fingerprint(cert))
        {
            Ok(())
        } else {
            Err((
                "certificate-not-pinned",
                format!(
                    "certificate {} (sha256 {}) is not pinned for entity {}",
                    cert.subject_display(),
                    certificate_fingerprint(cert),
                    entity.id
                ),
            ))
        }
    }
}
