//! `waxseal sign`.

use std::path::PathBuf;

use clap::ValueEnum;
use waxseal_envelope::{Envelope, EnvelopeBuilder, SignError, SignerIdKind, StreamBuilder, format};

use super::common;
use crate::InOut;
use crate::error::CliError;
use crate::io::{Output, open_input, read_input};

/// Output encodings.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutForm {
    /// Binary DER.
    Der,
    /// PEM (`-----BEGIN CMS-----`).
    Pem,
    /// S/MIME: application/pkcs7-mime, or multipart/signed when detached.
    Smime,
}

/// Signer identifier choices.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignerId {
    /// issuerAndSerialNumber.
    IssuerSerial,
    /// subjectKeyIdentifier.
    Ski,
}

/// `waxseal sign` arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    signer: common::SignerArgs,
    /// Leave the content out of the envelope (detached signature).
    #[arg(long)]
    detached: bool,
    /// Embed no certificates (verifiers look the signer up in their store).
    #[arg(long)]
    no_certs: bool,
    /// No signed attributes: sign the content directly (as Keystone PKI tokens).
    #[arg(long)]
    no_attrs: bool,
    /// How to identify the signer.
    #[arg(long, value_enum, default_value = "issuer-serial")]
    signer_id: SignerId,
    /// Digest algorithm (default: SHA-256; SHA-384 for P-384; SHA-512 for Ed25519 and
    /// ML-DSA).
    #[arg(long, value_enum)]
    digest: Option<common::Digest>,
    /// RSASSA-PSS instead of PKCS #1 v1.5 (RSA keys). RSASSA-PSS keys (id-RSASSA-PSS
    /// certificate or PKCS #8 key) always sign with PSS and their parameters.
    #[arg(long)]
    rsa_pss: bool,
    /// Add this signer to an existing envelope FILE instead of making a new one (for a
    /// detached envelope, --in gives the content).
    #[arg(long, value_name = "FILE")]
    add_to: Option<PathBuf>,
    /// CRLs to carry in the envelope (RevocationInfoChoices; file or directory;
    /// repeatable): the revocation data of the signing time, which `verify --at-timestamp`
    /// applies.
    #[arg(long, value_name = "FILE|DIR")]
    staple: Vec<PathBuf>,
    #[command(flatten)]
    io: InOut,
    /// Output encoding.
    #[arg(long, value_enum, default_value = "der")]
    outform: OutForm,
}

/// Runs `waxseal sign`.
pub fn run(args: Args) -> Result<(), CliError> {
    let output = Output::prepare_io(&args.io)?;
    let sign_err = |e: waxseal_envelope::SignError| CliError::usage(e.to_string());
    let mut signer = args.signer.signer()?;
    if let Some(d) = args.digest {
        signer = signer.with_digest(d.into()).map_err(sign_err)?;
    }
    signer = signer.with_rsa_pss(args.rsa_pss).map_err(sign_err)?;
    if args.signer_id == SignerId::Ski {
        signer = signer
            .with_signer_id(SignerIdKind::SubjectKeyIdentifier)
            .map_err(sign_err)?;
    }
    if args.no_attrs {
        signer = signer.without_signed_attributes();
    }

    // New envelopes with signed attributes stream their content (read once, any size),
    // but for what needs the content in memory: S/MIME multipart/signed (its body is
    // canonicalized and copied into the output), and attached PEM or S/MIME (armoured).
    let streams = args.add_to.is_none()
        && !args.no_attrs
        && args.staple.is_empty()
        && match (args.detached, args.outform) {
            (true, f) => f != OutForm::Smime,
            (false, f) => f == OutForm::Der,
        };
    if streams {
        return sign_streamed(&args, &signer, &output);
    }

    let (envelope, content) = match &args.add_to {
        Some(existing) => {
            let bytes = read_input(Some(existing))?;
            let mut env = Envelope::parse(&bytes)
                .map_err(|e| CliError::rejected("malformed", e.to_string()))?;
            let content = if env.has_content() {
                None
            } else {
                Some(read_input(args.io.input.as_deref())?)
            };
            env.add_signer(&signer, content.as_deref(), !args.no_certs)
                .map_err(sign_err)?;
            (env, content)
        }
        None => {
            let mut content = read_input(args.io.input.as_deref())?;
            if args.detached && args.outform == OutForm::Smime {
                // multipart/signed signs the canonical (CRLF) form of the first part.
                content = format::canonical_crlf(&content);
            }
            let env = EnvelopeBuilder::new(&content)
                .detached(args.detached)
                .include_certificates(!args.no_certs)
                .add_signer(&signer)
                .build()
                .map_err(sign_err)?;
            (env, Some(content))
        }
    };
    let mut envelope = envelope;
    for path in &args.staple {
        let crls =
            waxseal_trust::store::load_crls(path).map_err(|e| CliError::usage(e.to_string()))?;
        for crl in crls {
            let lazy = waxseal_trust::LazyCrl::from_der(crl.der())
                .map_err(|e| CliError::usage(e.to_string()))?;
            envelope.signed_data_mut().crls.push(lazy);
        }
    }
    let bytes = match args.outform {
        OutForm::Der => envelope.to_der(),
        OutForm::Pem => envelope.to_pem().into_bytes(),
        OutForm::Smime => envelope.to_smime(content.as_deref()).map_err(sign_err)?,
    };
    output.write(&bytes)
}

/// `waxseal sign` of content read as a stream: a detached signature (DER or PEM), or an
/// attached DER envelope written as the content is read, with definite lengths when the
/// content is a regular file (read twice: to hash, then to copy) and indefinite-length
/// BER otherwise (standard input, a pipe).
fn sign_streamed(
    args: &Args,
    signer: &waxseal_envelope::Signer,
    output: &Output,
) -> Result<(), CliError> {
    let input = open_input(args.io.input.as_deref())?;
    let name = input.name.clone();
    let sign_err = |e: SignError| match e {
        SignError::Io(e) => CliError::io(&name, e),
        e => CliError::usage(e.to_string()),
    };
    let builder = || {
        StreamBuilder::new()
            .include_certificates(!args.no_certs)
            .add_signer(signer)
    };
    if args.detached {
        let envelope = builder().sign_detached(input.reader).map_err(sign_err)?;
        let bytes = match args.outform {
            OutForm::Pem => envelope.to_pem().into_bytes(),
            _ => envelope.to_der(),
        };
        return output.write(&bytes);
    }
    let mut reader = Some(input.reader);
    let mut file = input.file;
    output
        .write_with(false, |w| match (file.take(), reader.take()) {
            (Some(f), _) => builder().write_attached_sized(f, w),
            (None, Some(r)) => builder().write_attached(r, w),
            (None, None) => Err(SignError::Io(std::io::Error::other("content already read"))),
        })?
        .map_err(sign_err)
}
