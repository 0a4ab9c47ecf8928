//! `waxseal verify`.

use std::path::PathBuf;

use serde_json::json;
use waxseal_envelope::verify::RejectedSigner;
use waxseal_envelope::{
    Envelope, Format, SignerRequirement, StreamError, StreamVerified, VerifiedSigner,
};
use waxseal_trust::display::Escaped;

use super::common;
use crate::error::CliError;
use crate::io::{Output, VerifiedOut, open_input, read_input};

/// `waxseal verify` arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    trust: common::TrustArgs,
    #[command(flatten)]
    timestamps: super::timestamp::VerifyArgs,
    /// The signed content, for a detached signature.
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// Envelope file ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    #[command(flatten)]
    out: VerifiedOut,
    /// Accept the envelope when at least one signer verifies (default: all must).
    #[arg(long)]
    any_signer: bool,
    /// Print a JSON report on stdout (content goes only to --out).
    #[arg(long)]
    pub json: bool,
}

/// Runs `waxseal verify`.
pub fn run(args: Args) -> Result<(), CliError> {
    let output = args.out.prepare()?;
    let mut verifier = args.timestamps.apply(args.trust.verifier()?)?;
    if args.any_signer {
        verifier = verifier.with_requirement(SignerRequirement::Any);
    }
    let mut input = open_input(args.input.as_deref())?;
    let head = input.peek()?;
    if head.first() == Some(&0x30) {
        return verify_streamed(&args, &verifier, input, &output);
    }
    if args.content.is_none() && waxseal_envelope::stream::smime::is_multipart_signed(head) {
        return verify_multipart(&args, &verifier, input, &output);
    }
    // PEM, base64 and S/MIME are read whole (under the input limit); detached content
    // still streams.
    let bytes = input.read_all()?;
    let envelope = Envelope::parse(&bytes)
        .map_err(|e| CliError::rejected("malformed", format!("malformed envelope: {e}")))?;
    if let Some(path) = args.content.as_deref()
        && !envelope.has_content()
    {
        let content = open_input(Some(path))?;
        let name = content.name.clone();
        let mut reader = Some(content.reader);
        return stream_out(&args, &output, &name, |sink| {
            let Some(reader) = reader.take() else {
                return Err(StreamError::Io(std::io::Error::other(
                    "content already read",
                )));
            };
            verifier.verify_detached_reader_to(&envelope, reader, sink)
        });
    }
    let content = args
        .content
        .as_deref()
        .map(|p| read_input(Some(p)))
        .transpose()?;
    let verified = verifier
        .verify(&envelope, content.as_deref())
        .map_err(|e| common::rejected(&e))?;
    let summary = Summary {
        format: verified.format(),
        content_type: waxseal_envelope::oid::name(&verified.content_type()),
        content_len: verified.content().len() as u64,
        signers: verified.signers(),
        rejected: verified.rejected(),
    };
    if !args.json || args.out.output.is_some() {
        output.write(verified.content())?;
    }
    summary.print(args.json);
    Ok(())
}

/// A binary (DER/BER) envelope, verified as it is read: the content (attached, or the
/// `--content` file) goes to `--out` through a temporary file renamed into place only on
/// success, or to standard output once verified; it is read once, in bounded memory.
fn verify_streamed(
    args: &Args,
    verifier: &waxseal_envelope::Verifier,
    input: crate::io::Input,
    output: &Output,
) -> Result<(), CliError> {
    let mut content = args
        .content
        .as_deref()
        .map(|p| open_input(Some(p)))
        .transpose()?;
    if content.is_some()
        && args
            .content
            .as_deref()
            .is_some_and(|p| p.as_os_str() == "-")
        && args.input.as_deref().is_none_or(|p| p.as_os_str() == "-")
    {
        return Err(CliError::usage(
            "the envelope and the content cannot both come from standard input",
        ));
    }
    let name = input.name.clone();
    let mut envelope = Some(input.reader);
    stream_out(args, output, &name, |sink| {
        let Some(envelope) = envelope.take() else {
            return Err(StreamError::Io(std::io::Error::other(
                "envelope already read",
            )));
        };
        let detached = content
            .as_mut()
            .map(|c| &mut c.reader as &mut dyn std::io::Read);
        verifier.verify_reader(envelope, detached, sink)
    })
}

/// Runs a streamed verification `run` into `--out` (or standard output, or nowhere for
/// `--json` without `--out`), keeping the content only if it verifies, and reports.
fn stream_out(
    args: &Args,
    output: &Output,
    name: &std::path::Path,
    mut run: impl FnMut(&mut dyn std::io::Write) -> Result<StreamVerified, StreamError>,
) -> Result<(), CliError> {
    let result: Result<StreamVerified, StreamError> = if args.json && args.out.output.is_none() {
        run(&mut std::io::sink())
    } else {
        let mut verified = None;
        output
            .write_with(true, |w| {
                verified = Some(run(w)?);
                Ok(())
            })?
            .map(|()| verified.expect("set on success"))
    };
    let verified = result.map_err(|e| match e {
        StreamError::Verify(e) => common::rejected(&e),
        StreamError::Io(e) => CliError::io(name, e),
        e => CliError::usage(e.to_string()),
    })?;
    Summary {
        format: verified.format(),
        content_type: waxseal_envelope::oid::name(&verified.content_type()),
        content_len: verified.content_len(),
        signers: verified.signers(),
        rejected: verified.rejected(),
    }
    .print(args.json);
    Ok(())
}

/// An S/MIME multipart/signed message, verified as it is read: its first part is hashed
/// as it streams into an anonymous temporary file, then, once verified, copied to the
/// output in the form that verified (as received, or canonical CRLF, as the in-memory
/// verification hands it out).
fn verify_multipart(
    args: &Args,
    verifier: &waxseal_envelope::Verifier,
    input: crate::io::Input,
    output: &Output,
) -> Result<(), CliError> {
    use std::io::{Seek, Write};
    let name = input.name.clone();
    let io = |e| CliError::io(&name, e);
    let mut spool = std::io::BufWriter::new(tempfile::tempfile().map_err(io)?);
    let verified = verifier
        .verify_multipart_reader(input.reader, &mut spool)
        .map_err(|e| match e {
            StreamError::Verify(e) => common::rejected(&e),
            StreamError::Io(e) => CliError::io(&name, e),
            e => CliError::usage(e.to_string()),
        })?;
    spool.flush().map_err(io)?;
    let mut spool = spool.into_inner().map_err(|e| io(e.into_error()))?;
    spool.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    if !args.json || args.out.output.is_some() {
        let canonical = verified.is_canonical();
        output
            .write_with(false, |w| copy_form(&mut spool, w, canonical))?
            .map_err(io)?;
    }
    Summary {
        format: verified.format(),
        content_type: waxseal_envelope::oid::name(&verified.content_type()),
        content_len: verified.content_len(),
        signers: verified.signers(),
        rejected: verified.rejected(),
    }
    .print(args.json);
    Ok(())
}

/// Copies `from` to `to`, with bare LFs as CRLF when `canonical`.
fn copy_form(
    from: &mut impl std::io::Read,
    to: &mut dyn std::io::Write,
    canonical: bool,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut prev = 0u8;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if !canonical {
            to.write_all(&buf[..n])?;
            continue;
        }
        let mut start = 0;
        for i in 0..n {
            if buf[i] == b'\n' && (if i == 0 { prev } else { buf[i - 1] }) != b'\r' {
                to.write_all(&buf[start..i])?;
                to.write_all(b"\r")?;
                start = i;
            }
        }
        to.write_all(&buf[start..n])?;
        prev = buf[n - 1];
    }
}

/// What `verify` reports of a verification.
struct Summary<'a> {
    format: Format,
    content_type: String,
    content_len: u64,
    signers: &'a [VerifiedSigner],
    rejected: &'a [RejectedSigner],
}

impl Summary<'_> {
    /// The JSON report on stdout, or one line per signer on stderr.
    fn print(&self, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&self.report()).expect("reports serialise")
            );
            return;
        }
        for s in self.signers {
            let path: Vec<String> = s
                .path
                .iter()
                .flat_map(|p| p.certificates.iter().map(|c| c.subject_display()))
                .collect();
            let revocation = match &s.path {
                Some(p) if p.revocation_checked => "revocation checked",
                _ => "revocation not checked",
            };
            eprintln!(
                "waxseal: verified: signer {} {} ({}, {}); path {}; {revocation}",
                s.index + 1,
                s.certificate.subject_display(),
                s.digest,
                Escaped(&s.signature_algorithm),
                path.join(" <- "),
            );
            if let Some(ts) = &s.timestamp {
                eprintln!(
                    "waxseal: time-stamp: signer {} at {} by {}",
                    s.index + 1,
                    waxseal_trust::time::format(ts.gen_time),
                    ts.tsa.subject_display()
                );
            }
        }
        for r in self.rejected {
            eprintln!(
                "waxseal: note: signer {} rejected: {} ({})",
                r.index + 1,
                Escaped(&r.error.to_string()),
                r.error.code()
            );
        }
    }

    fn report(&self) -> serde_json::Value {
        let signers: Vec<serde_json::Value> =
            self.signers.iter().map(VerifiedSigner::report).collect();
        let rejected: Vec<serde_json::Value> = self
            .rejected
            .iter()
            .map(
                |r| json!({"index": r.index, "reason": r.error.code(), "message": r.error.to_string()}),
            )
            .collect();
        json!({
            "valid": true,
            "format": self.format.name(),
            "content_type": self.content_type,
            "content_length": self.content_len,
            "signers": signers,
            "rejected_signers": rejected,
        })
    }
}
