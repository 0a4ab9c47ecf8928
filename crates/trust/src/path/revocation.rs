//! CRL processing (RFC 5280 §6.3): distribution points, reason partitions, indirect
//! CRLs, delta CRLs, and validation of the CRL signer.
//!
//! Only CRLs the caller supplies (or the envelope carries) are consulted; nothing is
//! fetched. A CRL past its `nextUpdate` is not used, so a certificate whose only CRL has
//! expired fails with [`PathError::CrlExpired`], as fedmsg does.

use std::cmp::Ordering;
use std::sync::Arc;

use x509_cert::ext::pkix::KeyUsages;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::crl::dp::ReasonFlags;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

use super::context::PathValidation;
use super::{PathError, RevocationProblem};
use crate::algorithm::{AlgorithmPolicy, DigestAlgorithm, SignatureScheme};
use crate::cert::Certificate;
use crate::crl::{Crl, cmp_uint};
use crate::key::{DsaParameters, PublicKey};
use crate::name::NameKey;
use crate::provider::{PreparedPublicKey, Provider};

/// All eight revocation reasons of `ReasonFlags` (bit 0, `unused`, excluded).
const ALL_REASONS: u16 = 0x1fe;

/// The revocation verdict for a certificate that is not revoked.
pub(crate) enum Outcome {
    /// Not revoked, established by CRLs; the earliest `nextUpdate` relied on.
    Good {
        /// Earliest `nextUpdate` of the CRLs used.
        next_update: Option<u64>,
    },
    /// Not established, and not required.
    Unchecked,
}

/// A distribution point of the certificate, in comparable form.
struct DistPoint {
    /// Names of the distribution point (`fullName`, or the relative name resolved).
    names: Option<Vec<Vec<u8>>>,
    reasons: u16,
    /// `cRLIssuer` directory names.
    crl_issuers: Option<Vec<NameKey>>,
    /// All `cRLIssuer` names, comparable.
    crl_issuer_names: Option<Vec<Vec<u8>>>,
}

/// A comparable form of a general name: directory names by RFC 5280 matching, others
/// by encoding.
fn general_name_key(name: &GeneralName) -> Vec<u8> {
    match name {
        GeneralName::DirectoryName(dn) => {
            let mut k = b"D".to_vec();
            k.extend(format!("{:?}", NameKey::new(dn)).into_bytes());
            k
        }
        other => {
            let mut k = b"G".to_vec();
            k.extend(der::Encode::to_der(other).unwrap_or_default());
            k
        }
    }
}

fn resolve_dp_name(
    name: &DistributionPointName,
    crl_issuer: &x509_cert::name::Name,
) -> Vec<Vec<u8>> {
    match name {
        DistributionPointName::FullName(names) => names.iter().map(general_name_key).collect(),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            let key = NameKey::from_rdns(crl_issuer.iter_rdn().chain(std::iter::once(rdn)));
            let mut k = b"D".to_vec();
            k.extend(format!("{key:?}").into_bytes());
            vec![k]
        }
    }
}

fn reason_bits(flags: &ReasonFlags) -> u16 {
    flags.bits() & ALL_REASONS
}

fn distribution_points(cert: &Certificate) -> Vec<DistPoint> {
    let Some(dps) = &cert.extensions().crl_distribution_points else {
        return vec![DistPoint {
            names: None,
            reasons: ALL_REASONS,
            crl_issuers: None,
            crl_issuer_names: None,
        }];
    };
    dps.0
        .iter()
        .map(|dp| {
            let crl_issuer_dn = dp.crl_issuer.as_ref().and_then(|names| {
                names.iter().find_map(|n| match n {
                    GeneralName::DirectoryName(dn) => Some(dn.clone()),
                    _ => None,
                })
            });
            let base = crl_issuer_dn.as_ref().unwrap_or(cert.issuer());
            DistPoint {
                names: dp
                    .distribution_point
                    .as_ref()
                    .map(|n| resolve_dp_name(n, base)),
                reasons: dp.reasons.as_ref().map(reason_bits).unwrap_or(ALL_REASONS),
                crl_issuers: dp.crl_issuer.as_ref().map(|names| {
                    names
                        .iter()
                        .filter_map(|n| match n {
                            GeneralName::DirectoryName(dn) => Some(NameKey::new(dn)),
                            _ => None,
                        })
                        .collect()
                }),
                crl_issuer_names: dp
                    .crl_issuer
                    .as_ref()
                    .map(|names| names.iter().map(general_name_key).collect()),
            }
        })
        .collect()
}

/// §6.3.3 (b): whether `crl` is in scope for `cert` through `dp`.
fn in_scope(crl: &Crl, cert: &Certificate, dp: &DistPoint) -> bool {
    if dp.crl_issuers.is_some()
        && !crl
            .issuing_distribution_point()
            .is_some_and(|i| i.indirect_crl)
    {
        return false;
    }
    let Some(idp) = crl.issuing_distribution_point() else {
        return true;
    };
    if let Some(idp_name) = &idp.distribution_point {
        let idp_names = resolve_dp_name(idp_name, crl.issuer());
        let against = match (&dp.names, &dp.crl_issuer_names) {
            (Some(names), _) => names,
            (None, Some(issuers)) => issuers,
            // The certificate names no distribution point: a CRL partitioned by
            // distribution point is not known to cover it.
            (None, None) => return false,
        };
        if !idp_names.iter().any(|n| against.contains(n)) {
            return false;
        }
    }
    if idp.only_contains_user_certs && cert.is_ca() {
        return false;
    }
    if idp.only_contains_ca_certs && !cert.is_ca() {
        return false;
    }
    !idp.only_contains_attribute_certs
}

/// The CRLs of `issuer`, parsed (embedded ones now, under the budget), complete CRLs
/// newest first: the highest `cRLNumber` first, then the latest `thisUpdate` (a CRL with
/// a number before one without). A stale CRL replayed next to a newer one is thereby never
/// the one that decides. Also returns the problems of CRLs that did not parse.
fn crls_of(
    b: &PathValidation<'_>,
    issuer: &NameKey,
) -> Result<(Vec<Crl>, Vec<RevocationProblem>), PathError> {
    let mut crls = Vec::new();
    let mut problems = Vec::new();
    for lazy in b.crls.by_issuer(issuer) {
        if lazy.parsed().is_none() {
            b.meter.tick_crl(lazy.der().len())?;
        }
        match lazy.parse() {
            Ok(crl) => crls.push(crl.clone()),
            Err(e) => problems.push(RevocationProblem::CrlMalformed {
                issuer: lazy.issuer_display(),
                detail: e.to_string(),
            }),
        }
    }
    crls.sort_by(newest_first);
    Ok((crls, problems))
}

/// Orders CRLs of one issuer newest first (a total order: `cRLNumber`, absent lowest,
/// then `thisUpdate`).
fn newest_first(a: &Crl, b: &Crl) -> Ordering {
    b.cmp_recency(a)
}

/// The signature scheme and digest of `crl`'s signature, when `key` may make it under
/// `algorithms` (both algorithm fields agree, the scheme is known and acceptable).
fn crl_scheme(
    crl: &Crl,
    key: &PublicKey,
    algorithms: &AlgorithmPolicy,
) -> Option<(SignatureScheme, DigestAlgorithm)> {
    if crl.signature_algorithm() != crl.tbs_signature_algorithm() {
        return None;
    }
    let scheme = SignatureScheme::from_algorithm_identifier(crl.signature_algorithm()).ok()?;
    let digest = match scheme {
        s if s.is_pure() => DigestAlgorithm::Sha512,
        _ => scheme.named_digest()?,
    };
    key.check_scheme(&scheme, digest, algorithms).ok()?;
    Some((scheme, digest))
}

/// Whether `key` signed `crl` (memoised, counted against the budget).
fn crl_signed_by(
    b: &PathValidation<'_>,
    crl: &Crl,
    key: &PreparedPublicKey,
) -> Result<bool, PathError> {
    let Some((scheme, digest)) = crl_scheme(crl, key.key(), &b.options.algorithms) else {
        return Ok(false);
    };
    let alg = der::Encode::to_der(crl.signature_algorithm()).unwrap_or_default();
    b.verify_signature(
        &[b"crl", &alg, digest.name().as_bytes()],
        key,
        &scheme,
        digest,
        &crl.fingerprint(),
        crl.tbs_der(),
        crl.signature(),
    )
}

/// Whether `issuer`'s key signed `crl` under `algorithms`, and `issuer` may sign CRLs
/// (keyUsage, if present, asserts cRLSign): the signature check path validation makes of
/// a CRL, outside a validation (no memo, no budget beyond the key-size cap of
/// [`Budget::default`](super::Budget)). For gatekeeping a CRL before it is stored (a
/// fetched CRL replacing a held one); path validation still checks the CRL and its
/// signer's path when it uses it.
pub fn crl_signature_verifies(
    crl: &Crl,
    issuer: &Certificate,
    algorithms: &AlgorithmPolicy,
    provider: &Provider,
) -> bool {
    if crl.issuer_key() != issuer.subject_key() || !issuer.allows_key_usage(KeyUsages::CRLSign) {
        return false;
    }
    let Ok(key) = issuer.public_key_bounded(None, super::Budget::default().max_rsa_bits) else {
        return false;
    };
    let Some((scheme, digest)) = crl_scheme(crl, key.key(), algorithms) else {
        return false;
    };
    provider
        .verify_prepared(&key, &scheme, digest, crl.tbs_der(), crl.signature())
        .is_ok()
}

/// §6.3.3 (f)-(g): finds the key that signed `crl` and checks that its holder may sign
/// CRLs and chains to `anchor`.
fn crl_signer_key(
    b: &PathValidation<'_>,
    crl: &Crl,
    issuer: &Certificate,
    issuer_params: Option<&DsaParameters>,
    anchor: &Certificate,
) -> Result<Result<(Arc<PreparedPublicKey>, Certificate), RevocationProblem>, PathError> {
    let problem = |detail: String| RevocationProblem::CrlSignature {
        issuer: crl.issuer_display(),
        detail,
    };
    let mut last = problem("no certificate of the CRL issuer verifies its signature".into());

    // The certificate's own issuer, the usual case.
    if crl.issuer_key() == issuer.subject_key()
        && let Ok(key) = b.key_of(issuer, issuer_params)
        && crl_signed_by(b, crl, &key)?
    {
        if issuer.allows_key_usage(KeyUsages::CRLSign) {
            return Ok(Ok((key, issuer.clone())));
        }
        last = problem(format!(
            "{} may not sign CRLs (keyUsage lacks cRLSign)",
            issuer.subject_display()
        ));
    }

    // Another certificate of the CRL issuer: a separate CRL-signing key, an indirect CRL
    // issuer, or a key rollover. Its own path must lead to the same anchor.
    let mut candidates: Vec<&Certificate> = Vec::new();
    for pool in b.pools {
        for c in pool.by_subject(crl.issuer_key()) {
            if c != issuer && !candidates.contains(&c) {
                candidates.push(c);
            }
        }
    }
    if crl.issuer_key() == anchor.subject_key() && anchor != issuer {
        candidates.push(anchor);
    }
    for cand in candidates {
        let Ok(key) = b.key_of(cand, None) else {
            continue;
        };
        if !crl_signed_by(b, crl, &key)? {
            continue;
        }
        if !cand.allows_key_usage(KeyUsages::CRLSign) {
            last = problem(format!(
                "{} may not sign CRLs (keyUsage lacks cRLSign)",
                cand.subject_display()
            ));
            continue;
        }
        if cand == anchor || b.validating_crl_signer(cand) {
            return Ok(Ok((key, cand.clone())));
        }
        if !b.may_nest_crl_signer() {
            last = problem("CRL signer certificates nest too deeply".into());
            continue;
        }
        match b.validate_crl_signer(cand, anchor) {
            Ok(_) => return Ok(Ok((key, cand.clone()))),
            Err(e @ PathError::BudgetExceeded { .. }) => return Err(e),
            Err(e) => last = problem(format!("its signer is not valid: {e}")),
        }
    }
    Ok(Err(last))
}

/// Current according to `time`? At a proven past time (`proven`), a CRL issued later
/// is evidence as well.
fn currency(crl: &Crl, time: u64, proven: bool) -> Result<(), RevocationProblem> {
    if crl.this_update() > time && !proven {
        return Err(RevocationProblem::CrlNotYetValid {
            issuer: crl.issuer_display(),
        });
    }
    if let Some(next) = crl.next_update()
        && time > next
    {
        return Err(RevocationProblem::CrlExpired {
            issuer: crl.issuer_display(),
            next_update: next,
        });
    }
    Ok(())
}

/// §6.3.3 (c): the newest current delta CRL that applies to `complete`.
///
/// Delta CRLs are handled, not refused: one applies only on top of a complete CRL of the
/// same scope whose number is at least its base (`deltaCRLIndicator`), only when its own
/// number is higher than the complete CRL's, when current and signed by the complete
/// CRL's signer; a delta CRL never stands in for a complete one.
fn find_delta(
    b: &PathValidation<'_>,
    complete: &Crl,
    key: &PreparedPublicKey,
) -> Result<Option<Crl>, PathError> {
    let Some(number) = complete.crl_number() else {
        return Ok(None);
    };
    let mut best: Option<Crl> = None;
    let (crls, _) = crls_of(b, complete.issuer_key())?;
    for delta in crls.into_iter().filter(|d| d.is_delta()) {
        let applies = delta.issuing_distribution_point_der()
            == complete.issuing_distribution_point_der()
            && delta
                .delta_base()
                .is_some_and(|base| cmp_uint(base, number) != Ordering::Greater)
            && delta
                .crl_number()
                .is_some_and(|n| cmp_uint(n, number) == Ordering::Greater)
            && !delta.is_unusable()
            && currency(&delta, b.options.time, b.options.at_proven_time).is_ok();
        if !applies || !crl_signed_by(b, &delta, key)? {
            continue;
        }
        let newer = best.as_ref().is_none_or(|cur| {
            cmp_uint(
                delta.crl_number().unwrap_or(&[]),
                cur.crl_number().unwrap_or(&[]),
            ) == Ordering::Greater
        });
        if newer {
            best = Some(delta);
        }
    }
    Ok(best)
}

fn reason_text(reason: Option<CrlReason>) -> String {
    match reason {
        None | Some(CrlReason::Unspecified) => "unspecified".into(),
        Some(CrlReason::KeyCompromise) => "keyCompromise".into(),
        Some(CrlReason::CaCompromise) => "cACompromise".into(),
        Some(CrlReason::AffiliationChanged) => "affiliationChanged".into(),
        Some(CrlReason::Superseded) => "superseded".into(),
        Some(CrlReason::CessationOfOperation) => "cessationOfOperation".into(),
        Some(CrlReason::CertificateHold) => "certificateHold".into(),
        Some(CrlReason::RemoveFromCRL) => "removeFromCRL".into(),
        Some(CrlReason::PrivilegeWithdrawn) => "privilegeWithdrawn".into(),
        Some(CrlReason::AaCompromise) => "aACompromise".into(),
    }
}

/// §6.3.3 for `cert`, issued by `issuer` (whose key inherits `issuer_params`), on a path
/// ending at `anchor`. `required`: fail when status cannot be established.
pub(crate) fn check_status(
    b: &PathValidation<'_>,
    cert: &Certificate,
    issuer: &Certificate,
    issuer_params: Option<&DsaParameters>,
    anchor: &Certificate,
    required: bool,
) -> Result<Outcome, PathError> {
    let time = b.options.time;
    let mut reasons_mask: u16 = 0;
    let mut revoked: Option<(String, u64)> = None;
    let mut problems: Vec<RevocationProblem> = Vec::new();
    let mut next_update: Option<u64> = None;
    let mut out_of_scope: Option<String> = None;

    'dps: for dp in distribution_points(cert) {
        let issuers: Vec<NameKey> = match &dp.crl_issuers {
            Some(names) => names.clone(),
            None => vec![cert.issuer_key().clone()],
        };
        for crl_issuer in &issuers {
            let (crls, unparsable) = crls_of(b, crl_issuer)?;
            problems.extend(unparsable);
            for crl in crls.iter().filter(|c| !c.is_delta()) {
                if reasons_mask == ALL_REASONS || revoked.is_some() {
                    break 'dps;
                }
                if !in_scope(crl, cert, &dp) {
                    out_of_scope.get_or_insert_with(|| crl.issuer_display());
                    continue;
                }
                if crl.is_unusable() {
                    problems.push(RevocationProblem::CrlUnusable {
                        issuer: crl.issuer_display(),
                    });
                    continue;
                }
                if let Err(p) = currency(crl, time, b.options.at_proven_time) {
                    problems.push(p);
                    continue;
                }
                let idp_reasons = crl
                    .issuing_distribution_point()
                    .and_then(|i| i.only_some_reasons.as_ref())
                    .map(reason_bits)
                    .unwrap_or(ALL_REASONS);
                let interim = idp_reasons & dp.reasons;
                if interim & !reasons_mask == 0 {
                    continue;
                }
                let (key, _signer) = match crl_signer_key(b, crl, issuer, issuer_params, anchor)? {
                    Ok(k) => k,
                    Err(p) => {
                        problems.push(p);
                        continue;
                    }
                };
                let delta = find_delta(b, crl, &key)?;

                // (h)-(j): the delta first, then the complete CRL.
                let mut status: Option<(Option<CrlReason>, u64)> = None;
                if let Some(entry) = delta
                    .as_ref()
                    .and_then(|d| d.find(cert.issuer_key(), cert.serial()))
                {
                    status = Some((entry.reason, entry.revocation_date));
                }
                if status.is_none()
                    && let Some(entry) = crl.find(cert.issuer_key(), cert.serial())
                {
                    status = Some((entry.reason, entry.revocation_date));
                }
                match status {
                    Some((Some(CrlReason::RemoveFromCRL), _)) | None => {}
                    // Revoked after the proven time: the signature was made before.
                    Some((_, date)) if b.options.at_proven_time && date > time => {}
                    Some((reason, date)) => revoked = Some((reason_text(reason), date)),
                }
                reasons_mask |= interim;
                for t in [crl.next_update(), delta.as_ref().and_then(Crl::next_update)]
                    .into_iter()
                    .flatten()
                {
                    next_update = Some(next_update.map_or(t, |n| n.min(t)));
                }
            }
        }
    }

    if let Some((reason, date)) = revoked {
        return Err(PathError::Revoked {
            cert: cert.subject_display(),
            reason,
            date,
        });
    }
    if reasons_mask == ALL_REASONS {
        return Ok(Outcome::Good { next_update });
    }
    if !required {
        return Ok(Outcome::Unchecked);
    }
    let cert_name = cert.subject_display();
    if let Some(p) = problems
        .iter()
        .find(|p| matches!(p, RevocationProblem::CrlExpired { .. }))
    {
        return Err(PathError::CrlExpired {
            cert: cert_name,
            problem: p.clone(),
        });
    }
    let problem = problems.into_iter().next().unwrap_or(if reasons_mask != 0 {
        RevocationProblem::Incomplete {
            detail: "the supplied CRLs cover only some revocation reasons".into(),
        }
    } else if let Some(issuer) = out_of_scope {
        RevocationProblem::Incomplete {
            detail: format!(
                "the CRLs from {issuer} do not cover it (distribution point, scope or indirect-CRL mismatch)"
            ),
        }
    } else {
        RevocationProblem::NoCrl
    });

    Err(PathError::RevocationUnknown {
        cert: cert_name,
        problem,
    })
}
