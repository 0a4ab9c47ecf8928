//! `inventory.json`: what the PKI has issued, human-readable and the source of truth for
//! `rebuild`, `revoke`, `crl`, `doctor` and `reseed`.

use serde::{Deserialize, Serialize};
use waxseal_trust::KeyAlgorithm;

use crate::seed::Seed;

/// The inventory format identifier.
pub const FORMAT: &str = "waxseal-pki/1";

/// The whole inventory. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Always [`FORMAT`].
    pub format: String,
    /// Key algorithm of the CAs and, unless an entry says otherwise, of every key this PKI
    /// makes (`p256`, `rsa2048`...).
    pub algorithm: String,
    /// Subject fields every certificate shares.
    pub seed: Seed,
    /// Number of the last CRL issued (each new CRL gets the next one).
    pub crl_number: u64,
    /// How many CA levels: 2 (the default: a root CA issues a signing CA, which issues the
    /// service-host certificates) or 1 (`init --single-tier`: the root issues them itself,
    /// for consumers that trust one CA certificate and no intermediates, such as fedmsg).
    /// Written only when it is not 2, so two-tier inventories are unchanged.
    #[serde(default = "two_tiers", skip_serializing_if = "is_two_tiers")]
    pub tiers: u8,
    /// The root CA.
    pub root: CaRecord,
    /// The signing CA, which issues every service-host certificate; absent in a single-tier
    /// PKI, where the root issues them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_ca: Option<CaRecord>,
    /// Every certificate issued, revoked ones included, oldest first.
    pub entries: Vec<Entry>,
}

fn two_tiers() -> u8 {
    2
}

fn is_two_tiers(tiers: &u8) -> bool {
    *tiers == 2
}

/// A CA certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaRecord {
    /// Subject (RFC 4514).
    pub subject: String,
    /// Serial number, hex.
    pub serial: String,
    /// `notAfter`, RFC 3339.
    pub not_after: String,
}

/// Whether a certificate is in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Issued and not revoked.
    Active,
    /// Revoked (listed on the CRL).
    Revoked,
}

/// One issued service-host certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// `<service>-<fqdn>`.
    pub name: String,
    /// Serial number, hex.
    pub serial: String,
    /// `notBefore`, RFC 3339.
    pub not_before: String,
    /// `notAfter`, RFC 3339.
    pub not_after: String,
    /// Active or revoked.
    pub status: Status,
    /// When it was revoked, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Why (a CRLReason name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The key algorithm, when it differs from the PKI's (`issue --algorithm`); renewals,
    /// `reseed` and `rebuild` keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
}

impl Entry {
    /// The key algorithm of this entry's key: its own, else the PKI's `default`.
    /// (Names are checked when the inventory is read.)
    pub fn key_algorithm(&self, default: KeyAlgorithm) -> KeyAlgorithm {
        self.algorithm
            .as_deref()
            .and_then(KeyAlgorithm::from_name)
            .unwrap_or(default)
    }
}

/// An inventory that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid inventory: {0}")]
pub struct InventoryError(pub String);

impl Inventory {
    /// Parses and checks `inventory.json`.
    pub fn from_json(text: &str) -> Result<Self, InventoryError> {
        let inv: Inventory =
            serde_json::from_str(text).map_err(|e| InventoryError(e.to_string()))?;
        if inv.format != FORMAT {
            return Err(InventoryError(format!(
                "format {:?}, expected {FORMAT:?}",
                inv.format
            )));
        }
        if KeyAlgorithm::from_name(&inv.algorithm).is_none() {
            return Err(InventoryError(format!(
                "unknown algorithm {:?}",
                inv.algorithm
            )));
        }
        match (inv.tiers, &inv.signing_ca) {
            (2, Some(_)) | (1, None) => {}
            (2, None) => return Err(InventoryError("missing signing_ca".into())),
            (1, Some(_)) => {
                return Err(InventoryError(
                    "a single-tier PKI (tiers 1) has no signing_ca".into(),
                ));
            }
            (n, _) => return Err(InventoryError(format!("tiers {n}: expected 1 or 2"))),
        }
        inv.seed
            .check_fields()
            .map_err(|e| InventoryError(e.to_string()))?;
        for e in &inv.entries {
            crate::name::ServiceHost::parse(&e.name)
                .map_err(|err| InventoryError(err.to_string()))?;
            if let Some(a) = &e.algorithm
                && KeyAlgorithm::from_name(a).is_none()
            {
                return Err(InventoryError(format!(
                    "entry {}: unknown algorithm {a:?}",
                    e.name
                )));
            }
            if hex::decode(&e.serial).is_err() {
                return Err(InventoryError(format!(
                    "entry {}: serial {:?} is not hex",
                    e.name, e.serial
                )));
            }
        }
        let mut active: Vec<&str> = inv.active().map(|e| e.name.as_str()).collect();
        active.sort();
        if active.windows(2).any(|w| w[0] == w[1]) {
            return Err(InventoryError("two active entries share a name".into()));
        }
        Ok(inv)
    }

    /// Pretty JSON, one field per line.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("inventories serialise");
        s.push('\n');
        s
    }

    /// Whether the root issues the service-host certificates itself (`tiers` 1).
    pub fn single_tier(&self) -> bool {
        self.tiers == 1
    }

    /// Entries in service.
    pub fn active(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.status == Status::Active)
    }

    /// The active entry named `name`.
    pub fn active_named(&self, name: &str) -> Option<&Entry> {
        self.active().find(|e| e.name == name)
    }
}
