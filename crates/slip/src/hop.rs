//! A verified hop of a slip: what [`crate::verify`] produces for each hop and
//! [`crate::expect`] checks the route against (it sits below both, so that their imports
//! run one way: verify → expect → hop).

use waxseal_envelope::rfc5652::Attribute;
use waxseal_trust::{Certificate, ValidatedPath};

/// One verified hop.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Position: 0 is the origin.
    pub index: usize,
    /// The signer's name (per the verifier's namer).
    pub name: String,
    /// The signer's certificate.
    pub certificate: Certificate,
    /// The signer's validated path (`None` only in signature-only mode).
    pub path: Option<ValidatedPath>,
    /// The signing-time attribute, if present.
    pub signing_time: Option<u64>,
    /// The hop-role attribute, if present.
    pub role: Option<String>,
    /// The hop-action attribute, if present.
    pub action: Option<String>,
    /// All signed attributes, as received.
    pub signed_attributes: Vec<Attribute>,
    /// The signature algorithm, described.
    pub signature_algorithm: String,
}

impl Hop {
    /// The hop as a JSON report, the one `waxseal slip verify --json` and the Python binding
    /// print: index, name, subject, serial, signing time, role, action, algorithm, the
    /// path's subjects and whether revocation was checked.
    pub fn report(&self) -> serde_json::Value {
        serde_json::json!({
            "index": self.index,
            "name": self.name,
            "subject": self.certificate.subject_display(),
            "serial": self.certificate.serial_hex(),
            "signing_time": self.signing_time.map(waxseal_trust::time::format),
            "role": self.role,
            "action": self.action,
            "signature_algorithm": self.signature_algorithm,
            "path": self.path.as_ref().map(ValidatedPath::subjects),
            "revocation_checked": self.path.as_ref().is_some_and(|p| p.revocation_checked),
        })
    }
}

/// The text of the single-valued string attribute `oid` among `attrs` (hop role,
/// hop action), if present and a string.
pub(crate) fn text_attribute(
    attrs: &[Attribute],
    oid: const_oid::ObjectIdentifier,
) -> Option<String> {
    let raw = attrs.iter().find(|a| a.oid == oid)?.values.first()?;
    let any = <der::asn1::Any as der::Decode>::from_der(raw).ok()?;
    waxseal_trust::name::string_value(&any)
}
