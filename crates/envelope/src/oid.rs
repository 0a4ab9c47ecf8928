//! The object identifiers of CMS (RFC 5652): content types, signed attributes, and
//! waxseal's own routing-slip attributes. Those of X.509 and of the algorithms are
//! [`waxseal_trust::oid`]'s.

use const_oid::ObjectIdentifier as Oid;

const fn oid(s: &str) -> Oid {
    Oid::new_unwrap(s)
}

/// `id-data`
pub const ID_DATA: Oid = oid("1.2.840.113549.1.7.1");
/// `id-signedData`
pub const ID_SIGNED_DATA: Oid = oid("1.2.840.113549.1.7.2");
/// `id-contentType`
pub const ID_CONTENT_TYPE: Oid = oid("1.2.840.113549.1.9.3");
/// `id-messageDigest`
pub const ID_MESSAGE_DIGEST: Oid = oid("1.2.840.113549.1.9.4");
/// `id-signingTime`
pub const ID_SIGNING_TIME: Oid = oid("1.2.840.113549.1.9.5");
/// `id-countersignature`
pub const ID_COUNTERSIGNATURE: Oid = oid("1.2.840.113549.1.9.6");
// Named when an envelope carries them (`inspect`), never interpreted.
/// `smimeCapabilities` (RFC 8551)
const ID_SMIME_CAPABILITIES: Oid = oid("1.2.840.113549.1.9.15");
/// `id-aa-contentHint` (RFC 2634)
const ID_AA_CONTENT_HINT: Oid = oid("1.2.840.113549.1.9.16.2.4");

// waxseal's own attributes, under an arc minted from a random UUID with the GUID-to-OID
// method of 1.2.840.113556.1.8000.2554 (no registration needed; const-oid's 32-bit arcs rule
// out the 2.25 UUID arc). UUID f479fe25-f706-44ee-a106-f6bfc135a41b. The bus-signing key
// purpose under the same arc is X.509's: `waxseal_trust::oid::WAXSEAL_KP_BUS_SIGNING`.
/// Routing-slip hop role (signed attribute, UTF8String), e.g. `conductor`.
pub const WAXSEAL_HOP_ROLE: Oid =
    oid("1.2.840.113556.1.8000.2554.62585.65061.63238.17646.10553078.12575029.42011.1.1");
/// Routing-slip hop action (signed attribute, UTF8String), e.g. `forwarded`.
pub const WAXSEAL_HOP_ACTION: Oid =
    oid("1.2.840.113556.1.8000.2554.62585.65061.63238.17646.10553078.12575029.42011.1.2");

/// A human-readable name for well-known OIDs (CMS's here, then
/// [`waxseal_trust::oid::name`]'s), else the dotted form.
pub fn name(oid: &Oid) -> String {
    const KNOWN: &[(Oid, &str)] = &[
        (ID_DATA, "id-data"),
        (ID_SIGNED_DATA, "id-signedData"),
        (ID_CONTENT_TYPE, "content-type"),
        (ID_MESSAGE_DIGEST, "message-digest"),
        (ID_SIGNING_TIME, "signing-time"),
        (ID_COUNTERSIGNATURE, "countersignature"),
        (ID_SMIME_CAPABILITIES, "smime-capabilities"),
        (ID_AA_CONTENT_HINT, "content-hint"),
        (WAXSEAL_HOP_ROLE, "hop-role"),
        (WAXSEAL_HOP_ACTION, "hop-action"),
    ];
    KNOWN
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| waxseal_trust::oid::name(oid))
}
