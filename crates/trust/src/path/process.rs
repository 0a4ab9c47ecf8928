//! Basic path processing (RFC 5280 §6.1) of one candidate path, then revocation (§6.3).

use std::sync::Arc;

use x509_cert::ext::pkix::KeyUsages;

use super::context::PathValidation;
use super::name_constraints::NameConstraintsState;
use super::policy::PolicyState;
use super::{PathError, Purpose, RevocationPolicy, ValidatedPath, revocation};
use crate::cert::Certificate;
use crate::key::{DsaParameters, PublicKey};
use crate::oid;
use crate::provider::PreparedPublicKey;

fn check_validity(cert: &Certificate, time: u64) -> Result<(), PathError> {
    if time < cert.not_before() {
        return Err(PathError::NotYetValid {
            cert: cert.subject_display(),
            not_before: cert.not_before(),
        });
    }
    if time > cert.not_after() {
        return Err(PathError::Expired {
            cert: cert.subject_display(),
            not_after: cert.not_after(),
        });
    }
    Ok(())
}

fn check_extensions_readable(cert: &Certificate) -> Result<(), PathError> {
    if let Some(oid) = cert.extensions().malformed {
        return Err(PathError::MalformedExtension {
            cert: cert.subject_display(),
            oid: oid.to_string(),
        });
    }
    Ok(())
}

fn check_unknown_critical(cert: &Certificate) -> Result<(), PathError> {
    if let Some(oid) = cert.extensions().unknown_critical.first() {
        return Err(PathError::UnknownCriticalExtension {
            cert: cert.subject_display(),
            oid: oid.to_string(),
        });
    }
    Ok(())
}

/// keyUsage and extKeyUsage of the end-entity for the builder's purpose.
fn check_purpose(b: &PathValidation<'_>, cert: &Certificate) -> Result<(), PathError> {
    match b.purpose {
        Purpose::Signing => check_signing_purpose(cert, &b.options.accepted_purposes),
        Purpose::CrlSigning if !cert.allows_key_usage(KeyUsages::CRLSign) => {
            Err(PathError::KeyUsage {
                cert: cert.subject_display(),
                required: "cRLSign",
            })
        }
        Purpose::CrlSigning | Purpose::Any => Ok(()),
    }
}

/// Whether `cert` may sign messages, as S/MIME signing decides it (RFC 8550 §4.4):
/// keyUsage, if present, asserts digitalSignature or nonRepudiation (else `key-usage`);
/// extendedKeyUsage, if present, lists one of `accepted` (else `ext-key-usage`). What
/// [`super::Purpose::Signing`] checks of a signer; signing tools use it to refuse a
/// certificate that verifiers would.
pub fn check_signing_purpose(
    cert: &Certificate,
    accepted: &[const_oid::ObjectIdentifier],
) -> Result<(), PathError> {
    if !(cert.allows_key_usage(KeyUsages::DigitalSignature)
        || cert.allows_key_usage(KeyUsages::NonRepudiation))
    {
        return Err(PathError::KeyUsage {
            cert: cert.subject_display(),
            required: "digitalSignature or nonRepudiation",
        });
    }
    if let Some(eku) = &cert.extensions().ext_key_usage
        && !eku.0.iter().any(|o| accepted.contains(o))
    {
        let names: Vec<String> = accepted.iter().map(oid::name).collect();
        return Err(PathError::ExtKeyUsage {
            cert: cert.subject_display(),
            required: if names.is_empty() {
                "an accepted purpose (none configured)".into()
            } else {
                names.join(" or ")
            },
        });
    }
    Ok(())
}

/// Parses a certificate's key, inheriting DSA parameters (RFC 5280 §6.1.4 (d)-(f)).
/// Returns the key and the working parameters for the next certificate.
fn working_key(
    cert: &Certificate,
    params: Option<DsaParameters>,
    max_bits: usize,
) -> Result<(Arc<PreparedPublicKey>, Option<DsaParameters>), PathError> {
    let spki = cert.public_key_info();
    let next_params = if spki.algorithm.oid == oid::ID_DSA {
        PublicKey::dsa_parameters(spki).or(params)
    } else {
        None
    };
    let key = cert
        .public_key_bounded(next_params.as_ref(), max_bits)
        .map_err(|e| PathError::from_key_error(cert, e))?;
    Ok((key, next_params))
}

/// A certificate the caller trusts directly (it is one of the anchors).
pub(crate) fn validate_direct(
    b: &PathValidation<'_>,
    cert: &Certificate,
) -> Result<ValidatedPath, PathError> {
    check_validity(cert, b.options.time)?;
    check_extensions_readable(cert)?;
    check_purpose(b, cert)?;
    Ok(ValidatedPath {
        certificates: vec![cert.clone()],
        policies: Vec::new(),
        revocation_checked: false,
        valid_from: cert.not_before(),
        valid_until: cert.not_after(),
    })
}

/// Processes the path `anchor -> chain[n-1] -> ... -> chain[0]` (the end-entity).
pub(crate) fn validate_path(
    b: &PathValidation<'_>,
    anchor: &Certificate,
    chain: &[Certificate],
) -> Result<ValidatedPath, PathError> {
    let time = b.options.time;
    let n = chain.len();

    // The trust anchor (RFC 5280 §6.1.1 (d)), plus its validity and keyUsage.
    check_validity(anchor, time)?;
    if !anchor.allows_key_usage(KeyUsages::KeyCertSign) {
        return Err(PathError::CaKeyUsage {
            cert: anchor.subject_display(),
        });
    }
    let (mut key, mut params) = working_key(anchor, None, b.options.budget.max_rsa_bits)?;
    let mut issuer = anchor.clone();
    let mut max_path_length = n;
    let mut constraints = NameConstraintsState::default();
    let mut policy = PolicyState::new(&b.options.policy, n);
    let mut valid_from = anchor.not_before();
    let mut valid_until = anchor.not_after();

    for (idx, cert) in chain.iter().rev().enumerate() {
        let i = idx + 1; // RFC numbering: 1 is issued by the anchor, n is the end-entity.
        let last = i == n;
        let name = || cert.subject_display();

        // §6.1.3 (a): signature, validity, (revocation later), name chaining.
        if cert.issuer_key() != issuer.subject_key() {
            return Err(PathError::UnknownIssuer {
                cert: name(),
                issuer: cert.issuer_display(),
            });
        }
        b.check_certificate_signature(cert, &issuer, &key)?;
        check_validity(cert, time)?;
        check_extensions_readable(cert)?;
        valid_from = valid_from.max(cert.not_before());
        valid_until = valid_until.min(cert.not_after());

        // §6.1.3 (b)-(c): name constraints, skipped for self-issued intermediates.
        if !cert.is_self_issued() || last {
            constraints.check_names(cert)?;
        }

        // §6.1.3 (d)-(f): certificate policies.
        policy.process_certificate(cert, i)?;

        if last {
            break;
        }

        // §6.1.4: preparation for certificate i+1.
        policy.process_mappings(cert, i)?;
        issuer = cert.clone();
        (key, params) = working_key(cert, params, b.options.budget.max_rsa_bits)?;
        constraints.add(cert);
        policy.update_counters(cert);

        // (k) basicConstraints: a CA.
        if !cert.is_ca() {
            return Err(PathError::NotCa { cert: name() });
        }
        // (l)-(m) path length.
        if !cert.is_self_issued() {
            if max_path_length == 0 {
                return Err(PathError::PathLength { cert: name() });
            }
            max_path_length -= 1;
        }
        if let Some(len) = cert
            .extensions()
            .basic_constraints
            .as_ref()
            .and_then(|b| b.path_len_constraint)
        {
            max_path_length = max_path_length.min(len as usize);
        }
        // (n) keyUsage.
        if !cert.allows_key_usage(KeyUsages::KeyCertSign) {
            return Err(PathError::CaKeyUsage { cert: name() });
        }
        // (o) unknown critical extensions.
        check_unknown_critical(cert)?;
    }

    // §6.1.5: wrap-up for the end-entity, whose working public key (c)-(e) must be
    // usable too (and within the budget's modulus cap).
    let ee = &chain[0];
    working_key(ee, params, b.options.budget.max_rsa_bits)?;
    check_unknown_critical(ee)?;
    let policies = policy.wrap_up(ee, &b.options.policy)?;
    check_purpose(b, ee)?;

    // §6.3: revocation, top down, so a revoked CA is reported before its subjects.
    let mut issuer = anchor.clone();
    let mut issuer_params: Option<DsaParameters> = None;
    let mut revocation_checked = b.options.revocation != RevocationPolicy::Off;
    for (idx, cert) in chain.iter().rev().enumerate() {
        let required = match b.options.revocation {
            RevocationPolicy::Off => false,
            RevocationPolicy::RequireAll => true,
            RevocationPolicy::RequireEndEntity => idx + 1 == n,
        };
        let outcome = if b.options.revocation == RevocationPolicy::Off {
            revocation::Outcome::Unchecked
        } else {
            revocation::check_status(b, cert, &issuer, issuer_params.as_ref(), anchor, required)?
        };
        match outcome {
            revocation::Outcome::Good { next_update } => {
                if let Some(t) = next_update {
                    valid_until = valid_until.min(t);
                }
            }
            revocation::Outcome::Unchecked => revocation_checked = false,
        }
        if idx + 1 < n {
            let (_, p) = working_key(cert, issuer_params.take(), b.options.budget.max_rsa_bits)?;
            issuer_params = p;
            issuer = cert.clone();
        }
    }

    let mut certificates: Vec<Certificate> = chain.to_vec();
    certificates.push(anchor.clone());
    Ok(ValidatedPath {
        certificates,
        policies,
        revocation_checked,
        valid_from,
        valid_until,
    })
}

/// The end-entity's public key with DSA parameters inherited along `path`
/// (RFC 5280 §6.1.5 (c)-(e)), with moduli capped at `max_bits`.
pub fn end_entity_key(path: &ValidatedPath, max_bits: usize) -> Result<PublicKey, PathError> {
    let mut params = None;
    let mut key = None;
    for cert in path.certificates.iter().rev() {
        let (k, p) = working_key(cert, params.take(), max_bits)?;
        key = Some(k.key().clone());
        params = p;
    }
    Ok(key.expect("a path is never empty"))
}
