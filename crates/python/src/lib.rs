//! # waxseal-python
//!
//! The Python extension module `waxseal._waxseal`, re-exported by the `waxseal` package
//! (`python/waxseal/__init__.py`; the API with its documentation is in `__init__.pyi`).
//! It exposes the Rust API and adds nothing of its own: [`Signer`] and [`Verifier`] wrap
//! `waxseal_envelope`'s, `countersign` and `Verifier.verify_slip` `waxseal_slip`,
//! [`Bus`] `waxseal_message::Bus`.
//!
//! - Bytes in, bytes out.
//! - Every refusal raises `waxseal.Rejected` with the reason code the CLI reports
//!   (`.code`), the bus stage (`.stage`) and the slip hop (`.hop`); unusable files and
//!   configuration raise `waxseal.ConfigError`.
//! - Legacy, for `waxseal.fedmsg` only: `Signer.sign_legacy_rsa_sha1` and
//!   `Bus.validate_legacy_x509` speak fedmsg 1.x's x509 wire (RSA PKCS #1 v1.5 with SHA-1),
//!   each refused unless called with `legacy_sha1=True`.
//! - Signing and verification run with the GIL released ([`Python::detach`]): one
//!   [`Verifier`] or [`Bus`] shared by threads verifies on as many cores.
//!
//! Built by maturin (`pip install ./crates/python`), which sets
//! `PYO3_BUILD_EXTENSION_MODULE` so the wheel does not link libpython; a plain
//! `cargo build` links it, so workspace-wide cargo commands work on a machine with Python.
#![warn(missing_docs)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use serde_json::Value;

use waxseal_message::{Arrival, Call, Route, SignError, Subscription, oslo};
use waxseal_slip::{RouteExpectations, SlipVerifier};
use waxseal_trust::store::{load_certificates, load_crls};
use waxseal_trust::{
    AlgorithmPolicy, CertStore, Certificate, Crl, CrlSet, DigestAlgorithm, KeyFileCheck, PathCache,
    PrivateKey, RevocationPolicy, TrustAnchors, time,
};

pyo3::create_exception!(
    waxseal,
    WaxsealError,
    PyException,
    "Base class of waxseal's exceptions."
);
pyo3::create_exception!(
    waxseal,
    Rejected,
    WaxsealError,
    "A refused envelope, slip or message: .code (the CLI's reason code), .stage, .hop, .reason."
);
pyo3::create_exception!(
    waxseal,
    ConfigError,
    WaxsealError,
    "A configuration, certificate, key or CRL that cannot be used."
);

/// A failure computed without the GIL, turned into a Python exception after.
#[derive(Debug)]
enum Fail {
    /// A refusal: `waxseal.Rejected`.
    Rejected {
        code: String,
        reason: String,
        stage: Option<&'static str>,
        hop: Option<usize>,
        /// The receiver's failure, not the message's (retry later).
        transient: bool,
    },
    /// Unusable configuration or files: `waxseal.ConfigError`.
    Config(String),
    /// A bad argument: `ValueError`.
    Value(String),
    /// Anything else: `waxseal.WaxsealError`.
    Other(String),
}

impl Fail {
    fn rejected(code: &str, reason: impl Into<String>) -> Self {
        Self::Rejected {
            code: code.into(),
            reason: reason.into(),
            stage: None,
            hop: None,
            transient: false,
        }
    }

    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Self::Rejected {
                code,
                reason,
                stage,
                hop,
                transient,
            } => {
                let err = Rejected::new_err(format!("{code}: {reason}"));
                let value = err.value(py);
                let set = || -> PyResult<()> {
                    value.setattr("code", &code)?;
                    value.setattr("reason", &reason)?;
                    value.setattr("stage", stage)?;
                    value.setattr("hop", hop)?;
                    value.setattr("transient", transient)?;
                    Ok(())
                };
                match set() {
                    Ok(()) => err,
                    Err(e) => e,
                }
            }
            Self::Config(m) => ConfigError::new_err(m),
            Self::Value(m) => PyValueError::new_err(m),
            Self::Other(m) => WaxsealError::new_err(m),
        }
    }
}

impl From<waxseal_message::Rejection> for Fail {
    fn from(r: waxseal_message::Rejection) -> Self {
        Self::Rejected {
            code: r.code,
            reason: r.reason,
            stage: Some(r.stage.name()),
            hop: r.hop,
            transient: r.class == waxseal_message::Class::Transient,
        }
    }
}

impl From<waxseal_slip::SlipError> for Fail {
    fn from(e: waxseal_slip::SlipError) -> Self {
        Self::Rejected {
            code: e.code().into(),
            reason: e.to_string(),
            stage: None,
            hop: e.hop(),
            transient: false,
        }
    }
}

impl From<waxseal_envelope::VerifyError> for Fail {
    fn from(e: waxseal_envelope::VerifyError) -> Self {
        Self::rejected(e.code(), e.to_string())
    }
}

/// A message-signing failure: refused input is `Rejected` (as the CLI's exit 1), and so is
/// a time-stamp that could not be had (`stage` None; `transient` when the TSA was out of
/// reach, `tsa-unavailable`); the rest `WaxsealError`.
impl From<SignError> for Fail {
    fn from(e: SignError) -> Self {
        if let SignError::Timestamp(t) = &e {
            return Self::Rejected {
                code: t.code().into(),
                reason: e.to_string(),
                stage: None,
                hop: None,
                transient: e.is_transient(),
            };
        }
        match e.input_code() {
            Some(code) => Self::Rejected {
                code: code.into(),
                reason: e.to_string(),
                stage: Some("format"),
                hop: None,
                transient: false,
            },
            None => Self::Other(e.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, Fail>;

// The Python signatures spell the default `max_hops` as a literal (so that it shows in
// `help()` and the stubs); it is the slip crate's.
const _: () = assert!(waxseal_slip::DEFAULT_MAX_HOPS == 32);

/// Runs `f` without the GIL, then converts its failure.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T> + Send) -> PyResult<T> {
    py.detach(f).map_err(|e| e.into_py(py))
}

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(o) => {
            let dict = PyDict::new(py);
            for (k, x) in o {
                dict.set_item(k, to_py(py, x)?)?;
            }
            dict.into_any()
        }
    })
}

/// An entity as serde writes it (`fields`, `id`).
fn entity_report<'py>(
    py: Python<'py>,
    e: &waxseal_entity::EntityId,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let fields = PyDict::new(py);
    for (k, v) in &e.fields {
        fields.set_item(k, v)?;
    }
    d.set_item(intern!(py, "fields"), fields)?;
    d.set_item(intern!(py, "id"), &e.id)?;
    Ok(d)
}

/// The members of a report dict, written in key order once all are known (serde_json's
/// map is sorted, so `to_py(serde_json::to_value(..))` makes its dicts in key order; the
/// reports built here without the JSON value in between keep that order). Keys are
/// interned Python strings: every validated message pays for each one.
struct Members<'py> {
    items: Vec<(&'static str, Bound<'py, PyString>, Bound<'py, PyAny>)>,
}

/// `(key, its interned Python string)`.
macro_rules! key {
    ($py:expr, $k:literal) => {
        ($k, intern!($py, $k))
    };
}

impl<'py> Members<'py> {
    fn new() -> Self {
        Self {
            items: Vec::with_capacity(12),
        }
    }

    fn add(
        &mut self,
        (name, key): (&'static str, &Bound<'py, PyString>),
        value: impl IntoPyObject<'py>,
    ) -> PyResult<()> {
        let value = value.into_bound_py_any(key.py())?;
        self.items.push((name, key.clone(), value));
        Ok(())
    }

    fn into_dict(mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.items.sort_unstable_by_key(|(name, _, _)| *name);
        let d = PyDict::new(py);
        for (_, k, v) in self.items {
            d.set_item(k, v)?;
        }
        Ok(d)
    }
}

/// An authorization as serde writes it (`allowed`, `decisions`, `entity`).
fn authorization_report<'py>(
    py: Python<'py>,
    a: &waxseal_entity::Authorization,
) -> PyResult<Bound<'py, PyDict>> {
    let auth = PyDict::new(py);
    auth.set_item(intern!(py, "allowed"), a.allowed)?;
    let decisions = PyList::empty(py);
    for x in &a.decisions {
        let decision = PyDict::new(py);
        decision.set_item(intern!(py, "allowed"), x.allowed)?;
        decision.set_item(intern!(py, "code"), x.code)?;
        decision.set_item(intern!(py, "reason"), &x.reason)?;
        decision.set_item(intern!(py, "rule"), x.rule.as_deref())?;
        decisions.append(decision)?;
    }
    auth.set_item(intern!(py, "decisions"), decisions)?;
    match &a.entity {
        Some(e) => auth.set_item(intern!(py, "entity"), entity_report(py, e)?)?,
        None => auth.set_item(intern!(py, "entity"), py.None())?,
    }
    Ok(auth)
}

/// The `authorization` and `entity` members of a report, each when present.
fn authorized_members<'py>(
    py: Python<'py>,
    authorization: Option<&waxseal_entity::Authorization>,
    entity: Option<&waxseal_entity::EntityId>,
    m: &mut Members<'py>,
) -> PyResult<()> {
    if let Some(a) = authorization {
        m.add(key!(py, "authorization"), authorization_report(py, a)?)?;
    }
    if let Some(e) = entity {
        m.add(key!(py, "entity"), entity_report(py, e)?)?;
    }
    Ok(())
}

/// The members of a fedmsg validation report (`Validated` as serde writes it).
fn validated_members<'py>(
    py: Python<'py>,
    v: &waxseal_message::Validated,
    m: &mut Members<'py>,
) -> PyResult<()> {
    authorized_members(py, v.authorization.as_ref(), v.entity.as_ref(), m)?;
    m.add(key!(py, "note"), &v.note)?;
    m.add(key!(py, "signed"), v.signed)?;
    if let Some(s) = &v.signer {
        m.add(key!(py, "signer"), s)?;
    }
    Ok(())
}

/// A fedmsg validation report: the dict `to_py(serde_json::to_value(v))` makes (the same
/// keys in the same, sorted, order, the same fields left out), built without the JSON
/// value in between, since every validated message pays for it.
fn validated_report<'py>(
    py: Python<'py>,
    v: &waxseal_message::Validated,
) -> PyResult<Bound<'py, PyDict>> {
    let mut m = Members::new();
    validated_members(py, v, &mut m)?;
    m.into_dict(py)
}

/// The members of a verified oslo message (`OsloVerified` as serde writes it).
fn oslo_members<'py>(
    py: Python<'py>,
    v: &waxseal_message::OsloVerified,
    m: &mut Members<'py>,
) -> PyResult<()> {
    authorized_members(py, v.authorization.as_ref(), v.entity.as_ref(), m)?;
    let hops = PyList::empty(py);
    for h in &v.hops {
        let d = PyDict::new(py);
        if let Some(a) = &h.action {
            d.set_item(intern!(py, "action"), a)?;
        }
        d.set_item(intern!(py, "entity"), &h.entity)?;
        d.set_item(intern!(py, "index"), h.index)?;
        if let Some(r) = &h.role {
            d.set_item(intern!(py, "role"), r)?;
        }
        if let Some(t) = &h.signing_time {
            d.set_item(intern!(py, "signing_time"), t)?;
        }
        d.set_item(intern!(py, "subject"), &h.subject)?;
        hops.append(d)?;
    }
    m.add(key!(py, "hops"), hops)?;
    m.add(key!(py, "message"), to_py(py, &v.message)?)?;
    if let Some(r) = &v.route {
        let d = PyDict::new(py);
        if let Some(e) = &r.exchange {
            d.set_item(intern!(py, "exchange"), e)?;
        }
        d.set_item(intern!(py, "topic"), &r.topic)?;
        m.add(key!(py, "route"), d)?;
    }
    m.add(key!(py, "signed"), v.signed)?;
    Ok(())
}

/// An admission report: `to_py(serde_json::to_value(a))` with `message_text` (the
/// message's `oslo.message` member, when it has one) added, built without the JSON value
/// in between (see [`validated_report`]).
fn admitted_report<'py>(
    py: Python<'py>,
    a: &waxseal_message::Admitted,
    message_text: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut m = Members::new();
    match &a.message {
        waxseal_message::AdmittedMessage::Fedmsg(v) => {
            m.add(key!(py, "format"), intern!(py, "fedmsg"))?;
            validated_members(py, v, &mut m)?;
        }
        waxseal_message::AdmittedMessage::Oslo(v) => {
            m.add(key!(py, "format"), intern!(py, "oslo"))?;
            oslo_members(py, v, &mut m)?;
        }
    }
    if let Some(k) = &a.replay_key {
        m.add(key!(py, "replay_key"), hex::encode(k))?;
    }
    m.add(key!(py, "duplicate"), a.duplicate)?;
    if let Some(u) = &a.user_id {
        m.add(key!(py, "user_id"), u)?;
    }
    if let Some(t) = message_text {
        m.add(key!(py, "message_text"), t)?;
    }
    m.into_dict(py)
}

/// A verified oslo message's report: `to_py(serde_json::to_value(v))` with
/// `message_text`, built as [`admitted_report`] is.
fn oslo_report<'py>(
    py: Python<'py>,
    v: &waxseal_message::OsloVerified,
    message_text: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut m = Members::new();
    oslo_members(py, v, &mut m)?;
    if let Some(t) = message_text {
        m.add(key!(py, "message_text"), t)?;
    }
    m.into_dict(py)
}

/// Strict JSON (duplicate keys refused, numbers exact) from wire bytes.
fn parse_json(bytes: &[u8]) -> Result<Value> {
    waxseal_message::json::parse(bytes).map_err(|e| Fail::Rejected {
        code: e.code.into(),
        reason: e.message,
        stage: Some("format"),
        hop: None,
        transient: false,
    })
}

/// The certificate of a fedmsg x509 message: PEM bytes, or the message's `certificate`
/// field (base64 of PEM).
enum CertificateInput {
    Pem(Vec<u8>),
    Field(String),
}

impl<'a, 'py> FromPyObject<'a, 'py> for CertificateInput {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Self::Pem(b.as_bytes().to_vec()));
        }
        Ok(Self::Field(obj.extract::<String>()?))
    }
}

/// A file path (`str` or `os.PathLike`), an http(s) URL (`str`, fetched once when the
/// `Verifier` is made) or the PEM/DER bytes themselves.
enum Source {
    Path(PathBuf),
    Url(waxseal_message::Source),
    Bytes(Vec<u8>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Source {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Self::Bytes(b.as_bytes().to_vec()));
        }
        if let Ok(s) = obj.extract::<String>()
            && let Ok(u @ waxseal_message::Source::Url(_)) = waxseal_message::Source::parse(&s)
        {
            return Ok(Self::Url(u));
        }
        Ok(Self::Path(obj.extract::<PathBuf>()?))
    }
}

/// How a `Verifier` fetches its URLs.
struct Fetch {
    config: waxseal_message::FetchConfig,
    time: u64,
}

fn fetched(
    url: &waxseal_message::Source,
    kind: waxseal_message::distribution::Kind,
    fetch: &Fetch,
) -> Result<(Vec<Certificate>, Vec<Crl>)> {
    waxseal_message::distribution::load_once(url, kind, &fetch.config, fetch.time)
        .map_err(|e| Fail::Config(e.0))
}

fn certificates(
    sources: &[Source],
    kind: waxseal_message::distribution::Kind,
    fetch: &Fetch,
) -> Result<Vec<Certificate>> {
    let mut out = Vec::new();
    for s in sources {
        match s {
            Source::Url(u) => out.extend(fetched(u, kind, fetch)?.0),
            Source::Path(p) => {
                out.extend(load_certificates(p).map_err(|e| Fail::Config(e.to_string()))?)
            }
            Source::Bytes(b) => out.extend(
                Certificate::load_all(b)
                    .map_err(|e| Fail::Config(format!("certificate bytes: {e}")))?,
            ),
        }
    }
    Ok(out)
}

fn crls(sources: &[Source], fetch: &Fetch) -> Result<CrlSet> {
    let mut set = CrlSet::new();
    for s in sources {
        let list = match s {
            Source::Url(u) => fetched(u, waxseal_message::distribution::Kind::Crls, fetch)?.1,
            Source::Path(p) => load_crls(p).map_err(|e| Fail::Config(e.to_string()))?,
            Source::Bytes(b) => {
                Crl::load_all(b).map_err(|e| Fail::Config(format!("CRL bytes: {e}")))?
            }
        };
        for c in list {
            set.add(c);
        }
    }
    Ok(set)
}

fn purposes(names: Option<Vec<String>>) -> Result<Option<Vec<waxseal_trust::oid::Oid>>> {
    names
        .map(|n| {
            n.iter()
                .map(|p| {
                    waxseal_trust::oid::parse_purpose(p)
                        .map_err(|e| Fail::Value(format!("purpose {p:?}: {e}")))
                })
                .collect()
        })
        .transpose()
}

fn rfc3339(at: Option<&str>) -> Result<Option<u64>> {
    at.map(|t| time::parse_rfc3339(t).map_err(|e| Fail::Value(format!("at {t:?}: {e}"))))
        .transpose()
}

fn seconds(name: &str, v: f64) -> Result<u64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v as u64)
    } else {
        Err(Fail::Value(format!(
            "{name} must be a non-negative number of seconds"
        )))
    }
}

/// A signing identity: certificate, private key and chain.
#[pyclass(frozen, module = "waxseal")]
pub struct Signer {
    inner: waxseal_envelope::Signer,
}

impl Signer {
    fn build(
        cert: Certificate,
        key: PrivateKey,
        chain: Vec<Certificate>,
        accepted: Option<Vec<waxseal_trust::oid::Oid>>,
    ) -> Result<Self> {
        let accepted =
            accepted.unwrap_or_else(|| waxseal_trust::path::DEFAULT_SIGNING_PURPOSES.to_vec());
        waxseal_trust::path::check_signing_purpose(&cert, &accepted).map_err(|e| {
            Fail::Config(format!(
                "{e}: verifiers would refuse its signatures (purposes)"
            ))
        })?;
        let inner = waxseal_envelope::Signer::new(cert, key)
            .map_err(|e| Fail::Config(e.to_string()))?
            .with_chain(chain);
        Ok(Self { inner })
    }
}

fn first_certificate(mut certs: Vec<Certificate>, what: &str) -> Result<Certificate> {
    if certs.is_empty() {
        return Err(Fail::Config(format!("{what}: no certificate")));
    }
    Ok(certs.remove(0))
}

#[pymethods]
impl Signer {
    /// Loads the certificate, key and chain files.
    #[new]
    #[pyo3(signature = (cert, key, chain = None, *, insecure_key_permissions = false, purposes = None))]
    fn new(
        py: Python<'_>,
        cert: PathBuf,
        key: PathBuf,
        chain: Option<Bound<'_, PyAny>>,
        insecure_key_permissions: bool,
        purposes: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let chain: Vec<PathBuf> = match chain {
            None => Vec::new(),
            Some(c) => match c.extract::<PathBuf>() {
                Ok(p) => vec![p],
                Err(_) => c.extract::<Vec<PathBuf>>()?,
            },
        };
        let accepted = self::purposes(purposes).map_err(|e| e.into_py(py))?;
        detached(py, move || {
            let certificate = first_certificate(
                load_certificates(&cert).map_err(|e| Fail::Config(e.to_string()))?,
                &cert.display().to_string(),
            )?;
            let check = if insecure_key_permissions {
                KeyFileCheck::AllowInsecure
            } else {
                KeyFileCheck::OwnerOnly
            };
            let key = PrivateKey::load(&key, check)
                .map_err(|e| Fail::Config(format!("{}: {e}", key.display())))?;
            let mut chain_certs = Vec::new();
            for p in &chain {
                chain_certs.extend(load_certificates(p).map_err(|e| Fail::Config(e.to_string()))?);
            }
            Signer::build(certificate, key, chain_certs, accepted)
        })
    }

    /// A signer from PEM (or DER) bytes.
    #[staticmethod]
    #[pyo3(signature = (cert, key, chain = None))]
    fn from_pem(py: Python<'_>, cert: &[u8], key: &[u8], chain: Option<&[u8]>) -> PyResult<Self> {
        detached(py, || {
            let certificate = first_certificate(
                Certificate::load_all(cert).map_err(|e| Fail::Config(format!("cert: {e}")))?,
                "cert",
            )?;
            let key = PrivateKey::from_bytes(key).map_err(|e| Fail::Config(format!("key: {e}")))?;
            let chain = match chain {
                Some(c) => {
                    Certificate::load_all(c).map_err(|e| Fail::Config(format!("chain: {e}")))?
                }
                None => Vec::new(),
            };
            Signer::build(certificate, key, chain, None)
        })
    }

    /// The certificate's subject.
    #[getter]
    fn subject(&self) -> String {
        self.inner.certificate().subject_display()
    }

    /// The certificate then the chain, PEM.
    #[getter]
    fn certificate_pem(&self) -> String {
        let mut pem = self.inner.certificate().to_pem();
        for c in self.inner.chain() {
            pem.push_str(&c.to_pem());
        }
        pem
    }

    /// A CMS SignedData (DER) over `content`.
    #[pyo3(signature = (content, *, detached = false, certificates = true, signed_attributes = true, digest = None))]
    fn sign<'py>(
        &self,
        py: Python<'py>,
        content: &[u8],
        detached: bool,
        certificates: bool,
        signed_attributes: bool,
        digest: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let digest = match digest.map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("sha256" | "sha-256") => Some(DigestAlgorithm::Sha256),
            Some("sha384" | "sha-384") => Some(DigestAlgorithm::Sha384),
            Some("sha512" | "sha-512") => Some(DigestAlgorithm::Sha512),
            Some(other) => {
                return Err(PyValueError::new_err(format!(
                    "digest {other:?}: expected sha256, sha384 or sha512"
                )));
            }
        };
        let der = self::detached(py, || {
            let err = |e: waxseal_envelope::SignError| Fail::Value(e.to_string());
            let custom;
            let signer = if digest.is_some() || !signed_attributes {
                let mut s = self.inner.clone();
                if let Some(d) = digest {
                    s = s.with_digest(d).map_err(err)?;
                }
                if !signed_attributes {
                    s = s.without_signed_attributes();
                }
                custom = s;
                &custom
            } else {
                &self.inner
            };
            Ok(waxseal_envelope::EnvelopeBuilder::new(content)
                .detached(detached)
                .include_certificates(certificates)
                .add_signer(signer)
                .build()
                .map_err(|e| Fail::Other(e.to_string()))?
                .to_der())
        })?;
        Ok(PyBytes::new(py, &der))
    }

    /// RSA PKCS #1 v1.5 with SHA-1 over raw `data`: no envelope, no attributes. Only for
    /// legacy wires that verify nothing better (fedmsg 1.x's `x509` messages); refused
    /// unless `legacy_sha1=True`, and for keys that are not RSA.
    #[pyo3(signature = (data, *, legacy_sha1 = false))]
    fn sign_legacy_rsa_sha1<'py>(
        &self,
        py: Python<'py>,
        data: &[u8],
        legacy_sha1: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if !legacy_sha1 {
            return Err(PyValueError::new_err(
                "RSA-SHA1 is a legacy signature: pass legacy_sha1=True to sign with it",
            ));
        }
        let sig = self::detached(py, || {
            self.inner
                .sign_legacy_rsa_pkcs1_sha1(data)
                .map_err(|e| Fail::Value(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &sig))
    }

    fn __repr__(&self) -> String {
        format!("<waxseal.Signer {}>", self.subject())
    }
}

/// A verified envelope.
#[pyclass(frozen, get_all, module = "waxseal")]
pub struct Verified {
    /// The verified content.
    content: Py<PyBytes>,
    /// One dict per verified signer.
    signers: Py<PyList>,
}

/// A verified routing slip.
#[pyclass(frozen, get_all, module = "waxseal")]
pub struct VerifiedSlip {
    /// The verified content.
    content: Py<PyBytes>,
    /// One dict per hop, origin first.
    hops: Py<PyList>,
}

/// Verifies CMS envelopes and slips against trust anchors; shared by threads.
#[pyclass(frozen, module = "waxseal")]
pub struct Verifier {
    inner: waxseal_envelope::Verifier,
}

#[pymethods]
impl Verifier {
    /// Loads the anchors, certificates and CRLs.
    #[new]
    #[pyo3(signature = (trust, *, certs = Vec::new(), crls = Vec::new(), crl_scope = "all", at = None, allow_sha1 = false, purposes = None, fetch_timeout = 10.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        trust: Vec<Source>,
        certs: Vec<Source>,
        crls: Vec<Source>,
        crl_scope: &str,
        at: Option<&str>,
        allow_sha1: bool,
        purposes: Option<Vec<String>>,
        fetch_timeout: f64,
    ) -> PyResult<Self> {
        if !(fetch_timeout > 0.0 && fetch_timeout.is_finite()) {
            return Err(PyValueError::new_err(
                "fetch_timeout must be a positive number",
            ));
        }
        let leaf = match crl_scope {
            "all" => false,
            "leaf" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "crl_scope {other:?}: expected \"all\" or \"leaf\""
                )));
            }
        };
        let accepted = self::purposes(purposes).map_err(|e| e.into_py(py))?;
        let at = rfc3339(at).map_err(|e| e.into_py(py))?;
        detached(py, move || {
            use waxseal_message::distribution::Kind;
            let fetch = Fetch {
                config: waxseal_message::FetchConfig {
                    timeout_ms: (fetch_timeout * 1000.0).ceil() as u64,
                    ..Default::default()
                },
                time: at.unwrap_or_else(waxseal_trust::time::now),
            };
            let anchors = TrustAnchors::new(certificates(&trust, Kind::Anchors, &fetch)?)
                .map_err(|_| Fail::Config("trust: no trust anchor certificates found".into()))?;
            let crls = self::crls(&crls, &fetch)?;
            let mut v = waxseal_envelope::Verifier::new(anchors)
                .with_store(CertStore::from_certificates(certificates(
                    &certs,
                    Kind::Certificates,
                    &fetch,
                )?))
                .with_algorithms(AlgorithmPolicy {
                    allow_sha1,
                    allow_md5: false,
                })
                .with_cache(Arc::new(PathCache::default()));
            if let Some(t) = at {
                v = v.at_time(t);
            }
            if let Some(p) = accepted {
                v = v.with_accepted_purposes(p);
            }
            if !crls.is_empty() && leaf {
                v = v.with_revocation(RevocationPolicy::RequireEndEntity);
            }
            Ok(Verifier {
                inner: v.with_crls(crls),
            })
        })
    }

    /// Verifies an envelope (`content`: of a detached one).
    #[pyo3(signature = (envelope, content = None))]
    fn verify(
        &self,
        py: Python<'_>,
        envelope: &[u8],
        content: Option<&[u8]>,
    ) -> PyResult<Verified> {
        let (content, signers) = detached(py, || {
            let v = self.inner.verify_bytes(envelope, content)?;
            let signers: Vec<Value> = v
                .signers()
                .iter()
                .map(waxseal_envelope::VerifiedSigner::report)
                .collect();
            Ok((v.into_content(), signers))
        })?;
        Ok(Verified {
            content: PyBytes::new(py, &content).unbind(),
            signers: to_py(py, &Value::Array(signers))?
                .cast_into::<PyList>()?
                .unbind(),
        })
    }

    /// What the path and signature-outcome cache did so far, as a dict (see
    /// `cache_stats_dict`).
    fn cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        cache_stats_dict(py, self.inner.cache_stats())
    }

    /// Verifies a routing slip and its route.
    #[pyo3(signature = (envelope, content = None, *, expect = None, require = None, max_hops = 32, max_age = None, clock_skew = 300.0, allow_repeats = false))]
    #[allow(clippy::too_many_arguments)]
    fn verify_slip(
        &self,
        py: Python<'_>,
        envelope: &[u8],
        content: Option<&[u8]>,
        expect: Option<Vec<String>>,
        require: Option<Vec<String>>,
        max_hops: usize,
        max_age: Option<f64>,
        clock_skew: f64,
        allow_repeats: bool,
    ) -> PyResult<VerifiedSlip> {
        let (content, hops) = detached(py, || {
            let expectations = RouteExpectations {
                itinerary: expect,
                required: require.unwrap_or_default(),
                max_hops,
                allow_repeats,
                clock_skew: seconds("clock_skew", clock_skew)?,
                future_skew: None,
                max_age: max_age.map(|a| seconds("max_age", a)).transpose()?,
                require_signing_times: false,
            };
            let env = waxseal_slip::parse(envelope, max_hops)?;
            let slip = SlipVerifier::new(&self.inner)
                .with_expectations(expectations)
                .verify(&env, content)?;
            let hops: Vec<Value> = slip.hops.iter().map(waxseal_slip::Hop::report).collect();
            Ok((slip.envelope.into_content(), hops))
        })?;
        Ok(VerifiedSlip {
            content: PyBytes::new(py, &content).unbind(),
            hops: to_py(py, &Value::Array(hops))?
                .cast_into::<PyList>()?
                .unbind(),
        })
    }
}

/// A [`CacheStats`](waxseal_trust::CacheStats) as a Python dict, one key per field.
fn cache_stats_dict(py: Python<'_>, s: waxseal_trust::CacheStats) -> PyResult<Bound<'_, PyDict>> {
    let v = serde_json::json!({
        "path_hits": s.path_hits,
        "path_misses": s.path_misses,
        "signature_hits": s.signature_hits,
        "signature_misses": s.signature_misses,
        "entries": s.entries,
        "path_entries": s.path_entries,
        "signature_entries": s.signature_entries,
        "capacity": s.capacity,
        "generation": s.generation,
    });
    Ok(to_py(py, &v)?.cast_into::<PyDict>()?)
}

/// Adds a routing-slip hop: `signer` countersigns the last hop of `envelope`.
#[pyfunction]
#[pyo3(signature = (envelope, signer, *, role = None, action = None, max_hops = 32, certificates = true))]
fn countersign<'py>(
    py: Python<'py>,
    envelope: &[u8],
    signer: &Signer,
    role: Option<&str>,
    action: Option<&str>,
    max_hops: usize,
    certificates: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let der = detached(py, || {
        let hop = waxseal_slip::hop_signer(signer.inner.clone(), role, action)
            .map_err(|e| Fail::Value(e.to_string()))?;
        let mut env = waxseal_slip::parse(envelope, max_hops)?;
        waxseal_slip::append_hop(&mut env, 0, &hop, certificates, max_hops)?;
        Ok(env.to_der())
    })?;
    Ok(PyBytes::new(py, &der))
}

/// The message's text (JSON is UTF-8; anything else is refused as malformed JSON).
fn text(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Fail::Rejected {
        code: waxseal_message::json::MALFORMED_JSON.into(),
        reason: format!("not UTF-8: {e}"),
        stage: Some("format"),
        hop: None,
        transient: false,
    })
}

fn route(topic: &str, exchange: Option<&str>) -> Route {
    let r = Route::topic(topic);
    match exchange {
        Some(e) => r.on_exchange(e),
        None => r,
    }
}

/// A bus participant, from a `waxseal msg validate --config` file; shared by threads.
#[pyclass(frozen, module = "waxseal")]
pub struct Bus {
    origin: BusOrigin,
    at: Option<u64>,
    /// The bus in use: read by every message without a lock (and without touching a
    /// shared reference count), replaced whole by `reload`.
    inner: ArcSwap<waxseal_message::Bus>,
    /// Held by `reload` alone, so that two reloads do not interleave.
    reloading: Mutex<()>,
}

/// Where a [`Bus`]'s configuration comes from (and is re-read from on reload).
enum BusOrigin {
    /// A configuration file.
    File(PathBuf),
    /// Configuration text, relative paths resolved in `base`.
    Text { text: String, base: PathBuf },
}

fn load_bus(origin: &BusOrigin, at: Option<u64>) -> Result<waxseal_message::Bus> {
    let bus = match origin {
        BusOrigin::File(path) => waxseal_message::Bus::from_config_file(path),
        BusOrigin::Text { text, base } => {
            waxseal_message::BusConfig::from_json(text, base).and_then(waxseal_message::Bus::new)
        }
    }
    .map_err(|e| Fail::Config(e.0))?;
    Ok(match at {
        Some(t) => bus.at_time(t),
        None => bus,
    })
}

impl Bus {
    fn load(py: Python<'_>, origin: BusOrigin, at: Option<&str>) -> PyResult<Self> {
        let at = rfc3339(at).map_err(|e| e.into_py(py))?;
        let bus = detached(py, || load_bus(&origin, at))?;
        Ok(Self {
            origin,
            at,
            inner: ArcSwap::from_pointee(bus),
            reloading: Mutex::new(()),
        })
    }

    /// The bus in use, for the length of one call (a reload meanwhile does not disturb it).
    fn current(&self) -> arc_swap::Guard<Arc<waxseal_message::Bus>> {
        self.inner.load()
    }
}

#[pymethods]
impl Bus {
    /// Loads the configuration file.
    #[new]
    #[pyo3(signature = (config, *, at = None))]
    fn new(py: Python<'_>, config: PathBuf, at: Option<&str>) -> PyResult<Self> {
        Self::load(py, BusOrigin::File(config), at)
    }

    /// A bus from configuration text (the file's JSON); relative paths in it are resolved
    /// in `base` (default: the current directory). `reload` re-reads the files it names.
    #[staticmethod]
    #[pyo3(signature = (config, *, base = None, at = None))]
    fn from_json(
        py: Python<'_>,
        config: &str,
        base: Option<PathBuf>,
        at: Option<&str>,
    ) -> PyResult<Self> {
        let origin = BusOrigin::Text {
            text: config.to_string(),
            base: base.unwrap_or_else(|| PathBuf::from(".")),
        };
        Self::load(py, origin, at)
    }

    /// The configuration's `sign_messages`.
    #[getter]
    fn sign_messages(&self) -> bool {
        self.current().config().sign_messages
    }

    /// The configuration's `validate_signatures`.
    #[getter]
    fn validate_signatures(&self) -> bool {
        self.current().config().validate_signatures
    }

    /// Signs a fedmsg-style message (text in, text out), time-stamped at the
    /// configuration's `tsa_url` when it names one.
    fn sign<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        signer: &Signer,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let out = detached(py, || {
            Ok(self.current().sign_text(text(message)?, &signer.inner)?)
        })?;
        Ok(PyBytes::new(py, out.as_bytes()))
    }

    /// Validates a fedmsg-style message; returns the report. `replay=False`: every check
    /// but the replay store, nothing recorded (a question about a message that may be
    /// asked again, as fedmsg's `validate`).
    #[pyo3(signature = (message, topic = None, *, replay = true))]
    fn validate<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        topic: Option<&str>,
        replay: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let v = detached(py, || {
            let bus = self.current();
            let arrival = match topic {
                Some(t) => Arrival::on(Route::topic(t)),
                None => Arrival::unrouted(),
            };
            // From the bytes: the message's signature and certificates are read in
            // place rather than copied into a parsed value (`Bus::admit`).
            let v = if replay {
                bus.admit(message, &arrival)?.into_fedmsg()?
            } else {
                bus.examine(message, &arrival)?.unrecorded().into_fedmsg()?
            };
            Ok(v)
        })?;
        validated_report(py, &v)
    }

    /// Validates a fedmsg-style message signed by the entity `signer` (`replay` as for
    /// `validate`).
    #[pyo3(signature = (message, signer, topic = None, *, replay = true))]
    fn validate_signed_by<'py>(
        &self,
        py: Python<'py>,
        message: &[u8],
        signer: &str,
        topic: Option<&str>,
        replay: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let v = detached(py, || {
            let bus = self.current();
            let m = parse_json(message)?;
            if let Some(t) = topic {
                check_topic(t)?;
                if m.get("topic").and_then(Value::as_str) != Some(t) {
                    return Err(Fail::Rejected {
                        code: waxseal_message::bus::TOPIC_MISMATCH.into(),
                        reason: format!("the message's topic is not the arrival topic {t}"),
                        stage: Some("route"),
                        hop: None,
                        transient: false,
                    });
                }
            }
            let v = if replay {
                bus.validate_signed_by(&m, signer)?
            } else {
                bus.examine_value(&m, &Arrival::unrouted().signed_by(signer))?
                    .unrecorded()
                    .into_fedmsg()?
            };
            Ok(v)
        })?;
        validated_report(py, &v)
    }

    /// Signs an oslo envelope, bound to its route (time-stamped at `tsa_url` when the
    /// configuration names one).
    #[pyo3(signature = (envelope, signer, *, topic, exchange = None))]
    fn sign_oslo<'py>(
        &self,
        py: Python<'py>,
        envelope: &[u8],
        signer: &Signer,
        topic: &str,
        exchange: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let out = detached(py, || {
            let bus = self.current();
            let input = text(envelope)?;
            let value = parse_json(envelope)?;
            let s = oslo::route_signer(signer.inner.clone(), &route(topic, exchange))?;
            if value.get(oslo::VERSION_KEY).is_some() {
                let signed = bus.sign_oslo(&value, &s)?;
                waxseal_message::json::splice(
                    input,
                    &[oslo::SIGNATURE_KEY],
                    &[(oslo::SIGNATURE_KEY, &signed[oslo::SIGNATURE_KEY])],
                )
                .map_err(|e| Fail::rejected(e.code, e.message))
            } else {
                let wrapped = oslo::wrap_text(input)?;
                let signed = bus.sign_oslo(&wrapped, &s)?;
                serde_json::to_string(&signed).map_err(|e| Fail::Other(e.to_string()))
            }
        })?;
        Ok(PyBytes::new(py, out.as_bytes()))
    }

    /// The `oslo.signature` for the `oslo.message` text `message` of a version 2.0
    /// envelope, bound to its route: what `sign_oslo` adds to that envelope, for a caller
    /// that holds the envelope as a dict (the oslo.messaging driver) and would otherwise
    /// serialise it only to parse the result back.
    #[pyo3(signature = (message, signer, *, topic, exchange = None))]
    fn oslo_signature(
        &self,
        py: Python<'_>,
        message: &str,
        signer: &Signer,
        topic: &str,
        exchange: Option<&str>,
    ) -> PyResult<String> {
        detached(py, || {
            let s = oslo::route_signer(signer.inner.clone(), &route(topic, exchange))?;
            let mut envelope = serde_json::Map::new();
            envelope.insert(oslo::VERSION_KEY.into(), oslo::VERSION.into());
            envelope.insert(oslo::MESSAGE_KEY.into(), message.into());
            match self
                .current()
                .sign_oslo(&Value::Object(envelope), &s)?
                .as_object_mut()
                .and_then(|o| o.remove(oslo::SIGNATURE_KEY))
            {
                Some(Value::String(signature)) => Ok(signature),
                _ => Err(Fail::Other(format!("no {} made", oslo::SIGNATURE_KEY))),
            }
        })
    }

    /// Adds a routing-slip hop to a signed oslo envelope.
    #[pyo3(signature = (envelope, signer, *, topic = None, exchange = None, role = None, action = None))]
    #[allow(clippy::too_many_arguments)]
    fn countersign_oslo<'py>(
        &self,
        py: Python<'py>,
        envelope: &[u8],
        signer: &Signer,
        topic: Option<&str>,
        exchange: Option<&str>,
        role: Option<&str>,
        action: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if exchange.is_some() && topic.is_none() {
            return Err(PyValueError::new_err(
                "exchange needs topic: a hop signs the whole route it forwards on",
            ));
        }
        let out = detached(py, || {
            let bus = self.current();
            let mut s = waxseal_slip::hop_signer(signer.inner.clone(), role, action)
                .map_err(|e| Fail::Value(e.to_string()))?;
            if let Some(t) = topic {
                s = oslo::route_signer(s, &route(t, exchange))?;
            }
            let value = parse_json(envelope)?;
            let out = oslo::countersign(&value, &s, bus.config().route.max_hops)?;
            serde_json::to_string(&out).map_err(|e| Fail::Other(e.to_string()))
        })?;
        Ok(PyBytes::new(py, out.as_bytes()))
    }

    /// Admits a delivery: `body` as it came off the broker, and everything the receiver
    /// knows of how it arrived (see `waxseal_message::admission`): the delivery's
    /// `exchange` and `routing_key`; `signed_exchange`: compare the exchange with the
    /// signed route too, by oslo.messaging's rules (an oslo consumer of the sender's
    /// exchange); `subscription`: `(exchange, queue, [binding keys])` this consumer
    /// declared; the broker's `redelivered` flag; the broker-validated `user_id`;
    /// `sender_routed`: the delivery carried `CC` or `BCC` headers; `reply_to`: for an RPC
    /// reply, the call it answers, `(msg_id, topic, server)`; `signed_by`: the entity the
    /// message must come from.
    #[pyo3(signature = (body, *, exchange = None, routing_key = None, signed_exchange = false,
        subscription = None, redelivered = false, user_id = None, sender_routed = false,
        reply_to = None, signed_by = None))]
    #[allow(clippy::too_many_arguments)]
    fn admit<'py>(
        &self,
        py: Python<'py>,
        body: &[u8],
        exchange: Option<&str>,
        routing_key: Option<&str>,
        signed_exchange: bool,
        subscription: Option<(String, String, Vec<String>)>,
        redelivered: bool,
        user_id: Option<&str>,
        sender_routed: bool,
        reply_to: Option<(String, String, Option<String>)>,
        signed_by: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut arrival = match (exchange, routing_key) {
            (Some(e), rk) if signed_exchange => {
                Arrival::delivery_on_signed_exchange(e, rk.unwrap_or_default())
            }
            (Some(e), Some(rk)) => Arrival::delivery(e, rk),
            (Some(_), None) => {
                return Err(Fail::Value(
                    "a delivery's routing_key is required with its exchange".into(),
                )
                .into_py(py));
            }
            (None, Some(rk)) => Arrival::on(Route::topic(rk)),
            (None, None) => Arrival::unrouted(),
        }
        .redelivered(redelivered)
        .user_id(user_id)
        .sender_routed(sender_routed);
        if let Some((e, queue, keys)) = &subscription {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            arrival = arrival.subscribed(Subscription::new(e, queue, &keys));
        }
        if let Some((msg_id, topic, server)) = reply_to {
            arrival = arrival.reply_to(Call {
                msg_id,
                topic,
                server,
            });
        }
        if let Some(s) = signed_by {
            arrival = arrival.signed_by(s);
        }
        let (admitted, text) = detached(py, || {
            let bus = self.current();
            // From the bytes: the signature and the inner text are read in place.
            Ok(bus.admit_with_text(body, &arrival)?)
        })?;
        admitted_report(py, &admitted, text.as_deref())
    }

    /// Verifies an oslo envelope that arrived on `topic` (and `exchange`).
    #[pyo3(signature = (envelope, *, topic, exchange = None))]
    fn verify_oslo<'py>(
        &self,
        py: Python<'py>,
        envelope: &[u8],
        topic: &str,
        exchange: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (verified, text) = detached(py, || {
            let bus = self.current();
            Ok(bus.verify_oslo_route_bytes(envelope, &route(topic, exchange))?)
        })?;
        oslo_report(py, &verified, Some(&text))
    }

    /// Validates a fedmsg 1.x `x509` message: `signed` is the exact byte string its
    /// signature covers (fedmsg's canonical JSON of the message without `signature` and
    /// `certificate`), `signature` the raw RSA PKCS #1 v1.5 SHA-1 signature, `certificate`
    /// the signer's certificate: PEM (`bytes`), or the message's `certificate` field as it
    /// is (`str`: base64 of PEM, without line breaks), each distinct field decoded once
    /// (the bus's cache of `certificate` fields); only the first certificate is used:
    /// fedmsg's wire carries no chain. The certificate path is validated with the bus's anchors, certificates and
    /// CRLs; the topic and the claims are read from `signed` itself, then authorized as
    /// [`Bus::validate`] does (by `signer` alone, nitpicky, when given). No signing time,
    /// so no freshness or replay check. Refused unless `legacy_sha1=True`.
    #[pyo3(signature = (signed, signature, certificate, *, signer = None, legacy_sha1 = false))]
    #[allow(clippy::too_many_arguments)]
    fn validate_legacy_x509<'py>(
        &self,
        py: Python<'py>,
        signed: &[u8],
        signature: &[u8],
        certificate: CertificateInput,
        signer: Option<&str>,
        legacy_sha1: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        if !legacy_sha1 {
            return Err(PyValueError::new_err(
                "fedmsg's x509 wire is RSA-SHA1, a legacy signature: pass legacy_sha1=True to accept it",
            ));
        }
        let v = detached(py, || {
            let bus = self.current();
            let reject = |stage: &'static str, code: &str, reason: String| Fail::Rejected {
                code: code.into(),
                reason,
                stage: Some(stage),
                hop: None,
                transient: false,
            };
            let Some(verifier) = bus.current_verifier()? else {
                return Ok(None);
            };
            // I-JSON strings, as on the cms wire: an escaped lone surrogate is refused.
            waxseal_message::json::check_surrogates(signed)
                .map_err(|e| reject("format", e.code, format!("signed bytes: {}", e.message)))?;
            let message: Value = serde_json::from_slice(signed)
                .map_err(|e| reject("format", "malformed", format!("signed bytes: {e}")))?;
            let topic = match message.get("topic") {
                Some(Value::String(t)) => t.as_str(),
                Some(_) => {
                    return Err(reject(
                        "format",
                        "malformed",
                        "topic must be a string".into(),
                    ));
                }
                None => {
                    return Err(reject(
                        "format",
                        "missing-topic",
                        "the message has no topic".into(),
                    ));
                }
            };
            check_topic(topic)?;
            let certs: Arc<[Certificate]> = match &certificate {
                CertificateInput::Pem(pem) => Certificate::load_all(pem).unwrap_or_default().into(),
                CertificateInput::Field(field) => bus.certificate_field(field)?,
            };
            let cert = certs.first().ok_or_else(|| {
                reject(
                    "format",
                    "malformed",
                    "certificate is not a PEM certificate".into(),
                )
            })?;
            let options = verifier.validation_options(bus.time());
            verifier
                .validate_certificate(cert, &CertStore::new(), verifier.crls(), &options)
                .map_err(|e| reject("certificate", e.code(), e.to_string()))?;
            let public = cert
                .public_key_bounded(None, options.budget.max_rsa_bits)
                .map_err(|e| reject("certificate", "bad-public-key", e.to_string()))?;
            let scheme = waxseal_trust::algorithm::SignatureScheme::RsaPkcs1 {
                digest: Some(DigestAlgorithm::Sha1),
            };
            public
                .key()
                .check_scheme(
                    &scheme,
                    DigestAlgorithm::Sha1,
                    &AlgorithmPolicy::LEGACY_SHA1,
                )
                .map_err(|e| reject("signature", "algorithm-mismatch", e.to_string()))?;
            options
                .provider
                .verify_prepared(&public, &scheme, DigestAlgorithm::Sha1, signed, signature)
                .map_err(|_| {
                    reject(
                        "signature",
                        "bad-signature",
                        "the RSA-SHA1 signature does not match the message".into(),
                    )
                })?;
            let narrowed;
            let authorizer = match signer {
                Some(s) => {
                    narrowed = bus.authorizer().signed_by(topic, s);
                    &narrowed
                }
                None => bus.authorizer(),
            };
            let authorization = authorizer.authorize(cert, topic, Some(&message));
            if let Some(d) = authorization.denial() {
                return Err(reject("authorization", d.code, d.reason.clone()));
            }
            Ok(Some((cert.subject_display(), authorization)))
        })?;
        // The report as serde wrote it (sorted keys; `entity` null when there is none).
        let mut m = Members::new();
        match v {
            None => {
                m.add(
                    key!(py, "note"),
                    "validation is switched off (validate_signatures: false)",
                )?;
                m.add(key!(py, "signed"), false)?;
            }
            Some((subject, authorization)) => {
                m.add(
                    key!(py, "note"),
                    format!("signed by {subject} (fedmsg x509 wire: RSA PKCS #1 v1.5 with SHA-1)"),
                )?;
                m.add(key!(py, "signed"), true)?;
                match &authorization.entity {
                    Some(e) => m.add(key!(py, "entity"), entity_report(py, e)?)?,
                    None => m.add(key!(py, "entity"), py.None())?,
                }
                m.add(
                    key!(py, "authorization"),
                    authorization_report(py, &authorization)?,
                )?;
                m.add(key!(py, "signer"), subject)?;
            }
        }
        m.into_dict(py)
    }

    /// What the verifiers' path and signature-outcome cache did so far, as a dict (see
    /// `cache_stats_dict`); a reload starts a new cache.
    fn cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        cache_stats_dict(py, self.current().cache_stats())
    }

    /// Fetches every CA and CRL URL now and re-reads changed files, waiting for it
    /// (validations go on meanwhile with the held copies); `True` if anything changed.
    /// Validation itself refreshes in the background when a source is due.
    fn refresh_trust(&self, py: Python<'_>) -> bool {
        py.detach(|| self.current().refresh_trust())
    }

    /// What became of fetched and cached CA bundles and CRLs, as a dict (the fields of
    /// `DistributionStats`): for a service to log or export; a reload starts anew.
    fn distribution_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let v = serde_json::to_value(self.current().distribution_stats())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(to_py(py, &v)?.cast_into::<PyDict>()?)
    }

    /// Marks an admitted message settled once its acknowledgement went out: a broker
    /// redelivery of it is then refused as `replayed` too. `replay_key`: the admission
    /// report's (64 hex digits). A store out of reach raises `Rejected` with
    /// `transient=True` (the key stays admitted); a malformed key is a `ValueError`.
    fn settle(&self, py: Python<'_>, replay_key: &str) -> PyResult<()> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(replay_key, &mut key).map_err(|_| {
            PyValueError::new_err("replay_key: 64 hex digits (an admission report's replay_key)")
        })?;
        detached(py, || Ok(self.current().settle(key)?))
    }

    /// The replay store this bus uses, in a few words (`memory`, `file ...`, `redis
    /// HOST:PORT`), without credentials: for a service to log at start.
    #[getter]
    fn replay_store(&self) -> String {
        self.current().replay_store().describe()
    }

    /// Re-reads the configuration, anchors and CRLs; keeps the replay store (the new bus
    /// and validations still running on the old one share it).
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        detached(py, || {
            let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = load_bus(&self.origin, self.at)?;
            let store = self.inner.load().replay_store();
            self.inner.store(Arc::new(fresh.with_replay_store(store)));
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        match &self.origin {
            BusOrigin::File(p) => format!("<waxseal.Bus {}>", p.display()),
            BusOrigin::Text { .. } => "<waxseal.Bus (from JSON)>".into(),
        }
    }
}

/// An arrival topic must be printable ASCII without white space (`malformed-topic`).
fn check_topic(t: &str) -> Result<()> {
    waxseal_entity::glob::check_topic(t).map_err(|e| Fail::Rejected {
        code: waxseal_entity::glob::MALFORMED_TOPIC.into(),
        reason: e.to_string(),
        stage: Some("format"),
        hop: None,
        transient: false,
    })
}

/// The message without `signature` and `certificate`.
#[pyfunction]
fn strip_credentials<'py>(py: Python<'py>, message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let out = detached(py, || {
        let input = text(message)?;
        parse_json(message)?;
        waxseal_message::json::splice(input, &waxseal_message::bus::CREDENTIAL_FIELDS, &[])
            .map_err(|e| Fail::rejected(e.code, e.message))
    })?;
    Ok(PyBytes::new(py, out.as_bytes()))
}

/// The extension module.
#[pymodule]
fn _waxseal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The cryptography provider is picked once, here, for every signer and verifier the
    // package makes: an invalid WAXSEAL_PROVIDER fails the import as a configuration
    // error, as it fails the CLI, rather than leaving every verification to fail later.
    if let Err(e) = waxseal_trust::provider::from_env() {
        return Err(ConfigError::new_err(format!(
            "{}: {e} [{}]",
            waxseal_trust::provider::ENV_VAR,
            e.reason()
        )));
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("WaxsealError", py.get_type::<WaxsealError>())?;
    m.add("Rejected", py.get_type::<Rejected>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add_class::<Signer>()?;
    m.add_class::<Verifier>()?;
    m.add_class::<Verified>()?;
    m.add_class::<VerifiedSlip>()?;
    m.add_class::<Bus>()?;
    m.add_function(wrap_pyfunction!(countersign, m)?)?;
    m.add_function(wrap_pyfunction!(strip_credentials, m)?)?;
    Ok(())
}
