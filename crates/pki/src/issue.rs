//! Issuing certificates and CRLs (RFC 5280 profiles) with any key waxseal signs with.
//!
//! `x509-cert`'s builder wants compile-time signer types; waxseal's keys are chosen at
//! run time, so the `TBSCertificate` frame is written here from `x509-cert`'s own field
//! types (names, validity, extensions), and CRLs are built from its public structs.

use const_oid::ObjectIdentifier as Oid;
use der::asn1::{BitString, GeneralizedTime, Ia5String, OctetString, UtcTime};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, CrlNumber, ExtendedKeyUsage,
    KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

use waxseal_trust::oid;
use waxseal_trust::provider::Provider;
use waxseal_trust::{Certificate, Crl, DigestAlgorithm, PrivateKey};

/// Why a certificate or CRL could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// An encoding step failed (an over-long name or value).
    #[error("cannot encode {what}: {detail}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        detail: String,
    },
    /// The issuer's key could not sign.
    #[error(transparent)]
    Key(#[from] waxseal_trust::KeyError),
    /// A subject or issuer name that does not parse.
    #[error("invalid distinguished name {0:?}")]
    BadName(String),
}

fn enc(what: &'static str) -> impl Fn(der::Error) -> IssueError {
    move |e| IssueError::Encoding {
        what,
        detail: e.to_string(),
    }
}

/// Parses an RFC 4514 name (`CN=bodhi-app01.example.org,O=Example,C=US`).
pub fn parse_name(text: &str) -> Result<Name, IssueError> {
    text.parse()
        .map_err(|_| IssueError::BadName(text.to_string()))
}

/// An X.509 `Time`: UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
pub fn x509_time(secs: u64) -> Result<Time, IssueError> {
    let d = std::time::Duration::from_secs(secs);
    match UtcTime::from_unix_duration(d) {
        Ok(t) if secs < 2_524_608_000 => Ok(Time::UtcTime(t)),
        _ => GeneralizedTime::from_unix_duration(d)
            .map(Time::GeneralTime)
            .map_err(enc("time")),
    }
}

/// The key identifier waxseal writes: SHA-1 of the subject public key bits (RFC 5280
/// §4.2.1.2, method 1), as OpenSSL does.
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Certificate::key_identifier_sha1(spki)
}

/// What goes into a certificate besides subject, key and issuer.
#[derive(Debug, Clone)]
pub struct CertParams {
    /// The subject name.
    pub subject: Name,
    /// Serial number content octets (positive, at most 20 bytes); `None`: 128 random bits.
    pub serial: Option<Vec<u8>>,
    /// `notBefore`, seconds since the epoch.
    pub not_before: u64,
    /// `notAfter`, seconds since the epoch.
    pub not_after: u64,
    /// `Some(path_len)` for a CA (`basicConstraints cA TRUE`, critical).
    pub ca: Option<Option<u8>>,
    /// keyUsage (critical); `None` omits the extension.
    pub key_usage: Option<Vec<KeyUsages>>,
    /// extKeyUsage purposes (non-critical); empty omits the extension.
    pub ext_key_usage: Vec<Oid>,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// subjectAltName uniformResourceIdentifier entries.
    pub uris: Vec<String>,
    /// subjectAltName rfc822Name entries.
    pub emails: Vec<String>,
    /// cRLDistributionPoints URIs.
    pub crl_urls: Vec<String>,
    /// Write subjectKeyIdentifier.
    pub subject_key_identifier: bool,
    /// Write authorityKeyIdentifier (when the issuer has a key identifier).
    pub authority_key_identifier: bool,
    /// More extensions, as given.
    pub extra_extensions: Vec<Extension>,
    /// Signature digest; `None`: the issuer key's default.
    pub digest: Option<DigestAlgorithm>,
}

impl CertParams {
    /// An end-entity signing certificate for `subject`, valid from one hour ago for
    /// `days` days: keyUsage digitalSignature, extendedKeyUsage waxseal bus-signing
    /// ([`oid::WAXSEAL_KP_BUS_SIGNING`]) and emailProtection (so that OpenSSL's
    /// `cms -verify`, which wants S/MIME signers, accepts them too), SKI and AKI.
    pub fn end_entity(subject: Name, now: u64, days: u64) -> Self {
        Self {
            subject,
            serial: None,
            not_before: now.saturating_sub(3600),
            not_after: now + days * 86_400,
            ca: None,
            key_usage: Some(vec![KeyUsages::DigitalSignature]),
            ext_key_usage: vec![oid::WAXSEAL_KP_BUS_SIGNING, oid::KP_EMAIL_PROTECTION],
            dns_names: Vec::new(),
            uris: Vec::new(),
            emails: Vec::new(),
            crl_urls: Vec::new(),
            subject_key_identifier: true,
            authority_key_identifier: true,
            extra_extensions: Vec::new(),
            digest: None,
        }
    }

    /// A CA certificate: `basicConstraints cA TRUE` with `path_len`, keyUsage
    /// keyCertSign and cRLSign, no extendedKeyUsage.
    pub fn ca(subject: Name, now: u64, days: u64, path_len: Option<u8>) -> Self {
        Self {
            ca: Some(path_len),
            key_usage: Some(vec![KeyUsages::KeyCertSign, KeyUsages::CRLSign]),
            ext_key_usage: Vec::new(),
            ..Self::end_entity(subject, now, days)
        }
    }
}

/// A certificate with its private key: what a CA signs with.
#[derive(Debug)]
pub struct Issuer {
    /// The certificate.
    pub cert: Certificate,
    /// Its private key.
    pub key: PrivateKey,
}

impl Issuer {
    /// Issues a certificate for `subject_key` under this issuer.
    pub fn issue(
        &self,
        params: &CertParams,
        subject_key: &SubjectPublicKeyInfoOwned,
    ) -> Result<Certificate, IssueError> {
        let aki = self
            .cert
            .subject_key_identifier()
            .map(<[u8]>::to_vec)
            .or_else(|| Some(key_identifier(self.cert.public_key_info())));
        sign_certificate(params, subject_key, self.cert.subject(), &self.key, aki)
    }

    /// A self-signed certificate (a root CA) for `key`.
    pub fn self_signed(params: &CertParams, key: PrivateKey) -> Result<Self, IssueError> {
        let spki = key.subject_public_key_info();
        let cert = sign_certificate(
            params,
            &spki,
            &params.subject,
            &key,
            Some(key_identifier(&spki)),
        )?;
        Ok(Self { cert, key })
    }

    /// Issues a CRL revoking `revoked`, numbered `number`, current from `this_update`
    /// to `next_update`.
    pub fn issue_crl(
        &self,
        number: u64,
        this_update: u64,
        next_update: u64,
        revoked: &[Revocation],
    ) -> Result<Crl, IssueError> {
        let digest = self.key.default_digest();
        let signature = self.key.signature_algorithm(digest, false)?;
        let entries = revoked
            .iter()
            .map(|r| {
                let mut exts = Vec::new();
                if let Some(reason) = r.reason {
                    exts.push(extension(oid::CE_CRL_REASONS, false, &reason)?);
                }
                Ok(RevokedCert {
                    serial_number: SerialNumber::<x509_cert::certificate::Rfc5280>::new(&r.serial)
                        .map_err(enc("CRL entry serial"))?,
                    revocation_date: x509_time(r.date)?,
                    crl_entry_extensions: (!exts.is_empty()).then_some(exts),
                })
            })
            .collect::<Result<Vec<_>, IssueError>>()?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(
                OctetString::new(
                    self.cert
                        .subject_key_identifier()
                        .map(<[u8]>::to_vec)
                        .unwrap_or_else(|| key_identifier(self.cert.public_key_info())),
                )
                .map_err(enc("key identifier"))?,
            ),
            ..Default::default()
        };
        let number =
            CrlNumber(der::asn1::Uint::new(&number.to_be_bytes()).map_err(enc("CRL number"))?);
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: signature.clone(),
            issuer: self.cert.subject().clone(),
            this_update: x509_time(this_update)?,
            next_update: Some(x509_time(next_update)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(vec![
                extension(oid::CE_AUTHORITY_KEY_IDENTIFIER, false, &aki)?,
                extension(oid::CE_CRL_NUMBER, false, &number)?,
            ]),
        };
        let tbs_der = tbs.to_der().map_err(enc("tbsCertList"))?;
        let (alg, sig) = self
            .key
            .sign(&Provider::default(), &tbs_der, digest, false)?;
        let crl = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: alg,
            signature: BitString::from_bytes(&sig).map_err(enc("CRL signature"))?,
        };
        Crl::from_der(&crl.to_der().map_err(enc("CRL"))?).map_err(|e| IssueError::Encoding {
            what: "CRL",
            detail: e.to_string(),
        })
    }
}

/// One revoked certificate for a CRL.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// Serial number content octets.
    pub serial: Vec<u8>,
    /// Revocation date.
    pub date: u64,
    /// Reason code.
    pub reason: Option<CrlReason>,
}

impl Revocation {
    /// Revokes `cert` as of `date`.
    pub fn of(cert: &Certificate, date: u64, reason: Option<CrlReason>) -> Self {
        Self {
            serial: cert.serial().to_vec(),
            date,
            reason,
        }
    }
}

fn extension(id: Oid, critical: bool, value: &impl Encode) -> Result<Extension, IssueError> {
    Ok(Extension {
        extn_id: id,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(enc("extension"))?)
            .map_err(enc("extension"))?,
    })
}

fn random_serial() -> Vec<u8> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).expect("the OS random number generator works");
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x01; // and 16 bytes long
    serial.to_vec()
}

fn sign_certificate(
    params: &CertParams,
    subject_key: &SubjectPublicKeyInfoOwned,
    issuer: &Name,
    issuer_key: &PrivateKey,
    authority_key_id: Option<Vec<u8>>,
) -> Result<Certificate, IssueError> {
    let digest = params.digest.unwrap_or_else(|| issuer_key.default_digest());
    let signature = issuer_key.signature_algorithm(digest, false)?;
    let serial = params.serial.clone().unwrap_or_else(random_serial);

    let mut exts = Vec::new();
    if let Some(path_len) = params.ca {
        let bc = BasicConstraints {
            ca: true,
            path_len_constraint: path_len,
        };
        exts.push(extension(oid::CE_BASIC_CONSTRAINTS, true, &bc)?);
    }
    if let Some(usages) = &params.key_usage {
        let mut flags = flagset::FlagSet::<KeyUsages>::default();
        for u in usages {
            flags |= *u;
        }
        exts.push(extension(oid::CE_KEY_USAGE, true, &KeyUsage(flags))?);
    }
    if !params.ext_key_usage.is_empty() {
        exts.push(extension(
            oid::CE_EXT_KEY_USAGE,
            false,
            &ExtendedKeyUsage(params.ext_key_usage.clone()),
        )?);
    }
    if params.subject_key_identifier {
        let ski = SubjectKeyIdentifier(
            OctetString::new(key_identifier(subject_key)).map_err(enc("SKI"))?,
        );
        exts.push(extension(oid::CE_SUBJECT_KEY_IDENTIFIER, false, &ski)?);
    }
    if params.authority_key_identifier
        && let Some(id) = authority_key_id
    {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(id).map_err(enc("AKI"))?),
            ..Default::default()
        };
        exts.push(extension(oid::CE_AUTHORITY_KEY_IDENTIFIER, false, &aki)?);
    }
    let mut san: Vec<GeneralName> = Vec::new();
    for d in &params.dns_names {
        san.push(GeneralName::DnsName(
            Ia5String::new(d).map_err(enc("dNSName"))?,
        ));
    }
    for u in &params.uris {
        san.push(GeneralName::UniformResourceIdentifier(
            Ia5String::new(u).map_err(enc("URI"))?,
        ));
    }
    for e in &params.emails {
        san.push(GeneralName::Rfc822Name(
            Ia5String::new(e).map_err(enc("rfc822Name"))?,
        ));
    }
    if !san.is_empty() {
        exts.push(extension(
            oid::CE_SUBJECT_ALT_NAME,
            false,
            &SubjectAltName(san),
        )?);
    }
    if !params.crl_urls.is_empty() {
        let points = params
            .crl_urls
            .iter()
            .map(|u| {
                Ok(x509_cert::ext::pkix::crl::dp::DistributionPoint {
                    distribution_point: Some(DistributionPointName::FullName(vec![
                        GeneralName::UniformResourceIdentifier(
                            Ia5String::new(u).map_err(enc("CRL URL"))?,
                        ),
                    ])),
                    reasons: None,
                    crl_issuer: None,
                })
            })
            .collect::<Result<Vec<_>, IssueError>>()?;
        exts.push(extension(
            oid::CE_CRL_DISTRIBUTION_POINTS,
            false,
            &CrlDistributionPoints(points),
        )?);
    }
    exts.extend(params.extra_extensions.iter().cloned());

    // TBSCertificate (RFC 5280 §4.1).
    let mut body = Vec::new();
    body.extend(waxseal_trust::asn1::tlv(0xa0, &[0x02, 0x01, 0x02])); // version v3
    body.extend(
        SerialNumber::<x509_cert::certificate::Rfc5280>::new(&serial)
            .map_err(enc("serial"))?
            .to_der()
            .map_err(enc("serial"))?,
    );
    body.extend(signature.to_der().map_err(enc("algorithm"))?);
    body.extend(issuer.to_der().map_err(enc("issuer"))?);
    let mut validity = x509_time(params.not_before)?
        .to_der()
        .map_err(enc("notBefore"))?;
    validity.extend(
        x509_time(params.not_after)?
            .to_der()
            .map_err(enc("notAfter"))?,
    );
    body.extend(waxseal_trust::asn1::tlv(0x30, &validity));
    body.extend(params.subject.to_der().map_err(enc("subject"))?);
    body.extend(subject_key.to_der().map_err(enc("subjectPublicKeyInfo"))?);
    if !exts.is_empty() {
        let mut seq = Vec::new();
        for e in &exts {
            seq.extend(e.to_der().map_err(enc("extension"))?);
        }
        body.extend(waxseal_trust::asn1::tlv(
            0xa3,
            &waxseal_trust::asn1::tlv(0x30, &seq),
        ));
    }
    let tbs = waxseal_trust::asn1::tlv(0x30, &body);
    let (alg, sig) = issuer_key.sign(&Provider::default(), &tbs, digest, false)?;
    let mut cert = tbs;
    cert.extend(alg.to_der().map_err(enc("algorithm"))?);
    cert.extend(
        BitString::from_bytes(&sig)
            .map_err(enc("signature"))?
            .to_der()
            .map_err(enc("signature"))?,
    );
    let cert = waxseal_trust::asn1::tlv(0x30, &cert);
    // Round-trip through the parser: what we hand out is exactly what verifiers read.
    let _ = x509_cert::Certificate::from_der(&cert).map_err(enc("certificate"))?;
    Certificate::from_der(&cert).map_err(|e| IssueError::Encoding {
        what: "certificate",
        detail: e.to_string(),
    })
}
