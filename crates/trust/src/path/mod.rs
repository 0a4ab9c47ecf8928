//! Trust: RFC 5280 certification path validation with revocation checking.
//!
//! A focused validator in the manner of rustls-webpki, but for the full RFC 5280 profile
//! that message buses and NIST PKITS exercise (policies, policy mapping, name constraints,
//! distribution points, indirect and delta CRLs). Its modules are private; what a user
//! needs is here: [`validate`], [`ValidationOptions`], [`TrustAnchors`], [`ValidatedPath`],
//! [`PathError`], [`Budget`] and [`Meter`], [`PathCache`].
//!
//! - `build`: path building from the end-entity towards a trust anchor, depth first,
//!   under a [`Budget`] of signature checks, build steps and depth, so a hostile pool of
//!   certificates cannot make one validation run for long;
//! - `budget`: the [`Budget`] and the [`Meter`] that counts one envelope's work
//!   against it (all its signers, paths and CRLs together);
//! - `process`: the basic path processing of RFC 5280 §6.1 on each candidate path;
//! - `policy`: the valid-policy tree of §6.1.3 (d)-(f), §6.1.4 (a)-(b) and §6.1.5 (g);
//! - `name_constraints`: §4.2.1.10 and §6.1.3 (b)-(c);
//! - `revocation`: CRL processing of §6.3, including the validation of CRL signers;
//! - `context`: one validation in progress, the state `build`, `process` and
//!   `revocation` share, below them so that their imports run one way;
//! - `cache`: validated paths keyed by certificate, anchor set, CRL set, time bucket
//!   and generation, and signature outcomes (failures too) keyed by public key,
//!   algorithm, signed bytes and signature; bounded, sharded, with counters
//!   ([`CacheStats`]).
//!
//! # Why a validator of its own
//!
//! Message buses need the whole RFC 5280 profile (delta and indirect CRLs, CRLs signed by
//! other keys than the issuer's, DSA), paths built from a pool of certificates rather than
//! handed in, a typed error per reason, a per-call work budget and a path cache keyed by
//! the CRL set. This validator passes all 203 PKITS path verdicts (`tests/pkits.rs`); the
//! evaluation of `certval` that led to it is in `docs/design.md`.

pub(crate) mod budget;
mod build;
mod cache;
mod context;
mod error;
mod name_constraints;
mod policy;
pub(crate) mod process;
pub(crate) mod revocation;

use std::collections::HashMap;

use const_oid::ObjectIdentifier as Oid;
use sha2::Digest;

pub use budget::{Budget, Meter, Work, prepared_signature_id};
pub use cache::{CacheStats, PathCache};
pub use error::{ErrorKind, PathError, RevocationProblem};
pub use process::{check_signing_purpose, end_entity_key};
pub use revocation::crl_signature_verifies;

use crate::algorithm::AlgorithmPolicy;
use crate::cert::Certificate;
use crate::name::NameKey;
use crate::provider::Provider;
use crate::store::{CertStore, CrlSet};

/// The configured trust anchors: self-signed roots or any certificate the operator
/// chooses to trust directly (a pinned intermediate or even a pinned signer).
///
/// A trust anchor is its subject name and public key (RFC 5280 §6.1.1 (d)); waxseal also
/// enforces the anchor certificate's validity period and, if present, its keyUsage, as
/// OpenSSL does, so an expired root stops being trusted.
#[derive(Clone)]
pub struct TrustAnchors {
    anchors: Vec<Certificate>,
    by_subject: HashMap<NameKey, Vec<usize>>,
    id: [u8; 32],
}

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.anchors.iter().map(Certificate::subject_display))
            .finish()
    }
}

impl TrustAnchors {
    /// Trust anchors from certificates. Fails with [`PathError::NoTrustAnchors`] when
    /// empty: verification without a trust anchor is never the default.
    pub fn new(certs: impl IntoIterator<Item = Certificate>) -> Result<Self, PathError> {
        let mut anchors: Vec<Certificate> = Vec::new();
        for c in certs {
            if !anchors.contains(&c) {
                anchors.push(c);
            }
        }
        if anchors.is_empty() {
            return Err(PathError::NoTrustAnchors);
        }
        let mut by_subject: HashMap<NameKey, Vec<usize>> = HashMap::new();
        for (i, a) in anchors.iter().enumerate() {
            by_subject
                .entry(a.subject_key().clone())
                .or_default()
                .push(i);
        }
        let mut fps: Vec<[u8; 32]> = anchors.iter().map(Certificate::fingerprint).collect();
        fps.sort();
        let id = sha2::Sha256::digest(fps.concat()).into();
        Ok(Self {
            anchors,
            by_subject,
            id,
        })
    }

    /// The anchors.
    pub fn iter(&self) -> impl Iterator<Item = &Certificate> {
        self.anchors.iter()
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Always `false`: an anchor set is never empty.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Anchors whose subject matches `name`.
    pub fn by_subject<'a>(&'a self, name: &NameKey) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.by_subject
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.anchors[*i])
    }

    /// Whether `cert` is itself one of the anchors.
    pub fn contains(&self, cert: &Certificate) -> bool {
        self.anchors.contains(cert)
    }

    /// Identity of the anchor set (SHA-256 over the sorted fingerprints).
    pub fn id(&self) -> [u8; 32] {
        self.id
    }
}

/// The extendedKeyUsage purposes a message signer is accepted with by default: S/MIME's
/// emailProtection (what OpenSSL's `cms -verify` requires), anyExtendedKeyUsage, and
/// waxseal's bus-signing purpose ([`crate::oid::WAXSEAL_KP_BUS_SIGNING`]).
pub const DEFAULT_SIGNING_PURPOSES: [Oid; 3] = [
    crate::oid::KP_EMAIL_PROTECTION,
    crate::oid::ANY_EXTENDED_KEY_USAGE,
    crate::oid::WAXSEAL_KP_BUS_SIGNING,
];

/// What the end-entity certificate must be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Purpose {
    /// Sign messages, as S/MIME signing does (RFC 8550 §4.4): keyUsage, if present,
    /// asserts digitalSignature or nonRepudiation; extendedKeyUsage, if present, contains
    /// one of [`ValidationOptions::accepted_purposes`].
    #[default]
    Signing,
    /// Sign CRLs: keyUsage, if present, asserts cRLSign.
    CrlSigning,
    /// Any purpose (`waxseal cert verify`, PKITS).
    Any,
}

/// How revocation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RevocationPolicy {
    /// Do not check revocation (no CRLs available).
    #[default]
    Off,
    /// Every certificate of the path (below the anchor) needs a current CRL from its
    /// issuer that does not list it. An expired CRL fails, as fedmsg's does.
    RequireAll,
    /// Only the end-entity needs one (OpenSSL's `-crl_check`); CRLs present for other
    /// certificates are still applied.
    RequireEndEntity,
}

/// The RFC 5280 §6.1.1 policy inputs. The defaults are the usual ones: any policy
/// acceptable, no explicit policy required, mapping and anyPolicy not inhibited.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PolicyInputs {
    /// `user-initial-policy-set`; `None` means `{anyPolicy}`.
    pub initial_policy_set: Option<Vec<Oid>>,
    /// `initial-explicit-policy`.
    pub initial_explicit_policy: bool,
    /// `initial-policy-mapping-inhibit`.
    pub initial_policy_mapping_inhibit: bool,
    /// `initial-any-policy-inhibit`.
    pub initial_any_policy_inhibit: bool,
}

/// Everything path validation needs besides the certificates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValidationOptions {
    /// Verification time, seconds since the Unix epoch.
    pub time: u64,
    /// Acceptable algorithms.
    pub algorithms: AlgorithmPolicy,
    /// Revocation checking.
    pub revocation: RevocationPolicy,
    /// What the end-entity must be allowed to do.
    pub purpose: Purpose,
    /// For [`Purpose::Signing`]: an end-entity with an extendedKeyUsage extension must
    /// list at least one of these (an empty list refuses every such certificate).
    /// Default: [`DEFAULT_SIGNING_PURPOSES`]. anyExtendedKeyUsage is accepted only when
    /// listed. Intermediates are not checked (RFC 5280 leaves extendedKeyUsage to the
    /// end-entity).
    pub accepted_purposes: Vec<Oid>,
    /// Certificate policy inputs.
    pub policy: PolicyInputs,
    /// Work limits.
    pub budget: Budget,
    /// `time` is a past time proven by a time-stamp (RFC 3161 Appendix B), not the
    /// verifier's clock: a CRL issued after `time` is evidence too (only one whose
    /// nextUpdate is before `time` is not), and a CRL entry revokes only if its
    /// revocationDate is at or before `time` (a key revoked later did make the signature).
    pub at_proven_time: bool,
    /// The cryptography every signature check of the validation goes through (certificates
    /// and CRLs). Default: [`Provider::default`], the process default when the options
    /// were made.
    pub provider: Provider,
}

impl ValidationOptions {
    /// Defaults at `time`: strict algorithms, no revocation, signing purpose.
    pub fn at(time: u64) -> Self {
        Self {
            time,
            algorithms: AlgorithmPolicy::default(),
            revocation: RevocationPolicy::Off,
            purpose: Purpose::Signing,
            accepted_purposes: DEFAULT_SIGNING_PURPOSES.to_vec(),
            policy: PolicyInputs::default(),
            budget: Budget::default(),
            at_proven_time: false,
            provider: Provider::default(),
        }
    }

    /// These options with `provider` for every signature check.
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }
}

/// A successfully validated path.
#[derive(Debug, Clone)]
pub struct ValidatedPath {
    /// End-entity first, then each issuer; the trust anchor is last (for a directly
    /// trusted certificate, the only element).
    pub certificates: Vec<Certificate>,
    /// The `authorities-constrained-policy-set` (empty when policies were not asserted
    /// and not required).
    pub policies: Vec<Oid>,
    /// Whether revocation was checked for every certificate below the anchor.
    pub revocation_checked: bool,
    /// The latest `notBefore` on the path (the path is not valid before it).
    pub valid_from: u64,
    /// The earliest `notAfter` on the path, or `nextUpdate` of a CRL relied on.
    pub valid_until: u64,
}

impl ValidatedPath {
    /// The end-entity certificate.
    pub fn end_entity(&self) -> &Certificate {
        &self.certificates[0]
    }

    /// The trust anchor.
    pub fn anchor(&self) -> &Certificate {
        self.certificates.last().expect("a path is never empty")
    }

    /// The subjects of the path, end-entity first, for reports (`--json`, Python).
    pub fn subjects(&self) -> Vec<String> {
        self.certificates
            .iter()
            .map(Certificate::subject_display)
            .collect()
    }
}

/// Validates `cert` against `anchors`, building the path through `intermediates`
/// (searched in order) and checking revocation against `crls`.
pub fn validate(
    cert: &Certificate,
    anchors: &TrustAnchors,
    intermediates: &[&CertStore],
    crls: &CrlSet,
    options: &ValidationOptions,
) -> Result<ValidatedPath, PathError> {
    build::Builder::new(anchors, intermediates, crls, options).validate(cert)
}

/// [`validate`], counting the work against `meter` (shared with the rest of an envelope's
/// verification) instead of a fresh budget.
pub fn validate_with_meter(
    cert: &Certificate,
    anchors: &TrustAnchors,
    intermediates: &[&CertStore],
    crls: &CrlSet,
    options: &ValidationOptions,
    meter: &Meter,
) -> Result<ValidatedPath, PathError> {
    build::Builder::new(anchors, intermediates, crls, options)
        .with_meter(meter)
        .validate(cert)
}
