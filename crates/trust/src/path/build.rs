//! Path building: a depth-first search from the end-entity towards a trust anchor.
//!
//! Candidates for each issuer are the trust anchors and pool certificates whose subject
//! matches the child's issuer (RFC 5280 §7.1 comparison), tried anchors first, then
//! certificates whose subject key identifier matches the child's authority key identifier,
//! then certificates valid at the verification time. Each edge's signature is checked as
//! it is taken; each complete candidate path then goes through [`super::process`] (which
//! checks revocation through [`super::revocation`]). When every candidate fails, the error
//! of the candidate that got furthest is reported. The state the three share is the
//! validation's context (`super::context`), which sits below all of them: imports run
//! one way, build → process → revocation → context.
//!
//! All work is counted against the [`super::Budget`] through a [`Meter`] shared with the
//! validation of CRL signers and, in envelope verification, with every signer and path of
//! the envelope, so a hostile pool cannot make one verification run for long.

use std::collections::HashSet;

use super::budget::Meter;
use super::context::PathValidation;
use super::{PathError, TrustAnchors, ValidatedPath, ValidationOptions, process};
use crate::cert::Certificate;
use crate::store::{CertStore, CrlSet};

/// One path validation in progress.
pub struct Builder<'a> {
    ctx: PathValidation<'a>,
}

impl<'a> Builder<'a> {
    /// A builder for one validation.
    pub fn new(
        anchors: &'a TrustAnchors,
        pools: &'a [&'a CertStore],
        crls: &'a CrlSet,
        options: &'a ValidationOptions,
    ) -> Self {
        Self {
            ctx: PathValidation {
                anchors,
                pools,
                crls,
                options,
                meter: Meter::new(options.budget),
                purpose: options.purpose,
                crl_signers: Vec::new(),
                validate,
            },
        }
    }

    /// Counts this validation's work against `meter` (an envelope's) instead of a fresh
    /// meter of `options.budget`.
    pub fn with_meter(mut self, meter: &Meter) -> Self {
        self.ctx.meter = meter.clone();
        self
    }

    /// Builds and validates a path for `cert`.
    pub fn validate(&self, cert: &Certificate) -> Result<ValidatedPath, PathError> {
        validate(&self.ctx, cert)
    }
}

/// Builds and validates a path for `cert` in `ctx` (also the entry point of the CRL
/// signers' nested validations, see [`PathValidation::validate`]).
fn validate(ctx: &PathValidation<'_>, cert: &Certificate) -> Result<ValidatedPath, PathError> {
    if ctx.anchors.contains(cert) {
        return process::validate_direct(ctx, cert);
    }
    let mut best = None;
    let mut chain = vec![cert.clone()];
    match search(ctx, &mut chain, &mut best)? {
        Some(path) => Ok(path),
        None => Err(best.unwrap_or_else(|| PathError::UnknownIssuer {
            cert: cert.subject_display(),
            issuer: cert.issuer_display(),
        })),
    }
}

/// Depth-first search. `chain` holds the end-entity first; returns a validated path,
/// `None` when this branch is exhausted (errors recorded in `best`), or a fatal error.
fn search(
    ctx: &PathValidation<'_>,
    chain: &mut Vec<Certificate>,
    best: &mut Option<PathError>,
) -> Result<Option<ValidatedPath>, PathError> {
    ctx.meter.tick_build()?;
    let child = chain
        .last()
        .expect("chain starts with the end-entity")
        .clone();
    let mut tried = false;

    let mut anchors: Vec<&Certificate> = ctx.anchors.by_subject(child.issuer_key()).collect();
    anchors.sort_by_key(|a| std::cmp::Reverse(key_id_matches(&child, a)));
    for anchor in anchors {
        tried = true;
        match process::validate_path(ctx, anchor, chain) {
            Ok(path) => return Ok(Some(path)),
            Err(e @ PathError::BudgetExceeded { .. }) => return Err(e),
            Err(e) => record(best, e),
        }
    }

    if chain.len() >= ctx.options.budget.max_path_len {
        record(
            best,
            PathError::PathTooLong {
                cert: chain[0].subject_display(),
                max: ctx.options.budget.max_path_len,
            },
        );
        return Ok(None);
    }

    let mut candidates: Vec<&Certificate> = Vec::new();
    let mut seen = HashSet::new();
    for pool in ctx.pools {
        for c in pool.by_subject(child.issuer_key()) {
            let loops = chain.iter().any(|x| {
                x == c
                    || (x.subject_key() == c.subject_key()
                        && x.public_key_info() == c.public_key_info())
            });
            if !loops && !ctx.anchors.contains(c) && seen.insert(c.fingerprint()) {
                candidates.push(c);
            }
        }
    }
    let time = ctx.options.time;
    candidates.sort_by_key(|c| {
        let valid = c.not_before() <= time && time <= c.not_after();
        std::cmp::Reverse((key_id_matches(&child, c), valid))
    });
    for cand in candidates {
        tried = true;
        // Check the edge now when the issuer's key stands alone; a DSA key that
        // inherits its parameters is checked once the whole path is known.
        if let Ok(key) = ctx.key_of(cand, None) {
            match ctx.check_certificate_signature(&child, cand, &key) {
                Ok(()) => {}
                Err(e @ PathError::BudgetExceeded { .. }) => return Err(e),
                Err(e) => {
                    record(best, e);
                    continue;
                }
            }
        }
        chain.push(cand.clone());
        let found = search(ctx, chain, best);
        chain.pop();
        if let Some(path) = found? {
            return Ok(Some(path));
        }
    }
    if !tried {
        record(
            best,
            PathError::UnknownIssuer {
                cert: child.subject_display(),
                issuer: child.issuer_display(),
            },
        );
    }
    Ok(None)
}

/// Keeps the error of the candidate that got furthest (first one on ties).
fn record(best: &mut Option<PathError>, e: PathError) {
    if best.as_ref().is_none_or(|b| e.rank() > b.rank()) {
        *best = Some(e);
    }
}

/// Whether `child`'s authority key identifier names `issuer`'s subject key identifier.
fn key_id_matches(child: &Certificate, issuer: &Certificate) -> bool {
    let aki = child
        .extensions()
        .authority_key_identifier
        .as_ref()
        .and_then(|a| a.key_identifier.as_ref());
    match (aki, issuer.subject_key_identifier()) {
        (Some(a), Some(s)) => a.as_bytes() == s,
        _ => false,
    }
}
