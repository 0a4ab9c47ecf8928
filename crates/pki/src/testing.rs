//! Throwaway PKIs for tests: a root, a signing CA and leaves of every supported
//! algorithm, made fresh at test time so no fixture ever expires.
//!
//! [`TestPki`] makes a root, a signing CA, leaves, and CRLs with the clock of the
//! moment, so no test fixture ever expires. It is not part of the API: it exists only
//! with the `testing` feature, which crates turn on in their `[dev-dependencies]`
//! (`waxseal-pki = { workspace = true, features = ["testing"] }`), so the `waxseal`
//! command and every library a user builds leave it out (`cargo tree -p waxseal-cli -e
//! features -i waxseal-pki` lists no `testing`). A feature rather than a dev-only crate:
//! the helpers are built from this crate's issuing code, this crate's own unit tests use
//! them without a dependency cycle, and every test keeps its `waxseal_pki::TestPki` path.

use x509_cert::ext::pkix::crl::CrlReason;

use waxseal_envelope::{SignError, Signer};
use waxseal_trust::{Certificate, Crl, KeyAlgorithm, PrivateKey};

use crate::issue::{CertParams, IssueError, Issuer, Revocation, parse_name};

/// One day in seconds.
pub const DAY: u64 = 86_400;

/// A certificate and its key.
#[derive(Debug)]
pub struct Issued {
    /// The certificate.
    pub cert: Certificate,
    /// Its private key.
    pub key: PrivateKey,
}

/// A two-level test PKI: `CN=waxseal test root` signs `CN=waxseal test signing CA`,
/// which signs the leaves.
#[derive(Debug)]
pub struct TestPki {
    /// The root CA (the trust anchor).
    pub root: Issuer,
    /// The intermediate that signs leaves.
    pub ca: Issuer,
    /// When the PKI was made (seconds since the epoch).
    pub now: u64,
}

impl TestPki {
    /// A signer for `issued` (a leaf of this PKI): its key, signing at [`TestPki::now`],
    /// with the signing CA as its chain (what most envelope tests sign with).
    pub fn signer(&self, issued: &Issued) -> Result<Signer, SignError> {
        Ok(Signer::new(issued.cert.clone(), issued.key.clone())?
            .with_signing_time(self.now)
            .with_chain(vec![self.ca.cert.clone()]))
    }

    /// A PKI whose CAs use `algorithm`.
    pub fn new(algorithm: KeyAlgorithm) -> Result<Self, IssueError> {
        Self::named(algorithm, "waxseal test")
    }

    /// A PKI whose CA names start with `prefix` (to make unrelated PKIs).
    pub fn named(algorithm: KeyAlgorithm, prefix: &str) -> Result<Self, IssueError> {
        let now = waxseal_trust::time::now();
        let root_params = CertParams::ca(
            parse_name(&format!("CN={prefix} root,O=waxseal tests"))?,
            now,
            3650,
            Some(1),
        );
        let root = Issuer::self_signed(&root_params, PrivateKey::generate(algorithm)?)?;
        let ca_key = PrivateKey::generate(algorithm)?;
        let ca_params = CertParams::ca(
            parse_name(&format!("CN={prefix} signing CA,O=waxseal tests"))?,
            now,
            1825,
            Some(0),
        );
        let ca_cert = root.issue(&ca_params, &ca_key.subject_public_key_info())?;
        Ok(Self {
            root,
            ca: Issuer {
                cert: ca_cert,
                key: ca_key,
            },
            now,
        })
    }

    /// A leaf `CN=<name>` with a `algorithm` key, valid for a year, SAN dNSName `name`.
    pub fn leaf(&self, name: &str, algorithm: KeyAlgorithm) -> Result<Issued, IssueError> {
        self.leaf_with(name, algorithm, |_| {})
    }

    /// A leaf as [`TestPki::leaf`], with `adjust` applied to its parameters first.
    pub fn leaf_with(
        &self,
        name: &str,
        algorithm: KeyAlgorithm,
        adjust: impl FnOnce(&mut CertParams),
    ) -> Result<Issued, IssueError> {
        let key = PrivateKey::generate(algorithm)?;
        let mut params = CertParams::end_entity(
            parse_name(&format!("CN={name},O=waxseal tests"))?,
            self.now,
            365,
        );
        params.dns_names = vec![name.to_string()];
        adjust(&mut params);
        let cert = self.ca.issue(&params, &key.subject_public_key_info())?;
        Ok(Issued { cert, key })
    }

    /// A leaf that expired yesterday.
    pub fn expired_leaf(&self, name: &str, algorithm: KeyAlgorithm) -> Result<Issued, IssueError> {
        let now = self.now;
        self.leaf_with(name, algorithm, |p| {
            p.not_before = now - 30 * DAY;
            p.not_after = now - DAY;
        })
    }

    /// A leaf valid only from tomorrow.
    pub fn not_yet_valid_leaf(
        &self,
        name: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<Issued, IssueError> {
        let now = self.now;
        self.leaf_with(name, algorithm, |p| {
            p.not_before = now + DAY;
            p.not_after = now + 30 * DAY;
        })
    }

    /// A current CRL from the signing CA revoking `revoked` (reason keyCompromise).
    pub fn crl(&self, revoked: &[&Certificate]) -> Result<Crl, IssueError> {
        self.crl_valid(revoked, self.now - 3600, self.now + 7 * DAY)
    }

    /// A CRL from the signing CA current from `this_update` to `next_update`.
    pub fn crl_valid(
        &self,
        revoked: &[&Certificate],
        this_update: u64,
        next_update: u64,
    ) -> Result<Crl, IssueError> {
        let entries: Vec<Revocation> = revoked
            .iter()
            .map(|c| Revocation::of(c, self.now - 60, Some(CrlReason::KeyCompromise)))
            .collect();
        self.ca.issue_crl(1, this_update, next_update, &entries)
    }

    /// A signing-CA CRL whose nextUpdate was yesterday.
    pub fn expired_crl(&self) -> Result<Crl, IssueError> {
        self.crl_valid(&[], self.now - 8 * DAY, self.now - DAY)
    }

    /// A current CRL from the root (revoking nothing): covers the signing CA.
    pub fn root_crl(&self) -> Result<Crl, IssueError> {
        self.root
            .issue_crl(1, self.now - 3600, self.now + 30 * DAY, &[])
    }
}
