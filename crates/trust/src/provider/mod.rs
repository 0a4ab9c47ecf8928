//! The cryptography seam: every signature check, signature and SHA-2 digest waxseal makes
//! goes through a [`Provider`], in the style of rustls' `CryptoProvider`.
//!
//! Two backends implement [`Backend`]:
//!
//! - [`RustCrypto`](rustcrypto::RustCrypto): the RustCrypto crates (`rsa`, `p256`, `p384`,
//!   `ed25519-dalek`, `ml-dsa`, `dsa`, `sha1`, `sha2`, `md-5`). It covers everything
//!   waxseal does.
//! - [`Graviola`](graviola::Graviola): the `graviola` crate (Rust and formally verified
//!   assembly, no C), much faster for RSA and ECDSA. It covers RSA PKCS #1 v1.5 and PSS
//!   with 2048 to 8192-bit keys and a salt as long as the hash, ECDSA on P-256 and P-384,
//!   Ed25519 and SHA-256/384/512, on x86_64 and aarch64 CPUs that have the instruction
//!   set extensions it needs ([`graviola_supported`]).
//!
//! A [`Provider`] is a choice between them ([`ProviderChoice`]):
//!
//! - `auto` (the default): graviola where the CPU can run it, and for each operation
//!   RustCrypto for what graviola does not cover (SHA-1 and MD5,
//!   DSA, RSA keys outside 2048-8192 bits, PSS salts other than the hash length, digests
//!   computed elsewhere ([`Provider::verify_prehash`]), ML-DSA, which graviola does not
//!   implement). graviola is the faster of the two where it runs (`bench/compare.sh`
//!   measures both; `docs/design.md` has figures).
//! - `graviola`: the same choice per operation as `auto`, but refused
//!   ([`ProviderError::Unsupported`]) where the CPU cannot run graviola.
//! - `rustcrypto`: RustCrypto only.
//!
//! Every operation reports which backend did the work ([`BackendId`]), and
//! [`Provider::backend_for_verify`] / [`Provider::backend_for_sign`] say it beforehand.
//!
//! # Prepared keys
//!
//! A key is set up once, not on every operation. A [`PreparedPrivateKey`] (what an
//! envelope `Signer` holds) keeps graviola's form of its key, made on its first graviola
//! signature. A [`PreparedPublicKey`] (what a certificate keeps for its key) keeps
//! graviola's form of a public key and its encoding, so that path validation sets a key
//! up once per certificate. Public keys are also reused from bounded process-wide caches
//! keyed by the exact bytes of the key: [`PublicKey::from_spki_bounded`] keeps parsed
//! keys by their `SubjectPublicKeyInfo` DER ([`crate::key::PUBLIC_KEY_CACHE_BYTES`]), the
//! graviola backend keeps its own forms by the key's encoding
//! ([`graviola::PREPARED_PUBLIC_CACHE_BYTES`]). Bytes that differ anywhere are different
//! entries; a refused key is never kept.
//!
//! [`PublicKey::from_spki_bounded`]: crate::key::PublicKey::from_spki_bounded
//!
//! # Choosing one
//!
//! Key and digest operations ([`PublicKey::verify`], [`PrivateKey::sign`],
//! [`DigestAlgorithm::digest`]) use the *current* provider: the one set for the running
//! thread by [`with_provider`], else the process default set by [`set_default`], else the
//! one named by the `WAXSEAL_PROVIDER` environment variable (`auto`, `rustcrypto` or
//! `graviola`, read once), else `auto`. An unknown `WAXSEAL_PROVIDER`, or `graviola` on a
//! CPU that cannot run it, is a configuration error: [`from_env`] reports it, and until a
//! provider is set by [`set_default`] or [`with_provider`] every signature check fails and
//! every signing operation is refused (fail closed: no silent fallback).
//!
//! ```
//! use waxseal_trust::provider::{self, Provider, ProviderChoice};
//! let rc = Provider::new(ProviderChoice::RustCrypto).unwrap();
//! provider::with_provider(rc, || {
//!     // Everything here, including path validation, uses RustCrypto.
//! });
//! ```
//!
//! This module depends on the key and algorithm types only (and they call into it), so
//! it can move with them into a crate of their own.
//!
//! [`PublicKey::verify`]: crate::key::PublicKey::verify
//! [`PrivateKey::sign`]: crate::key::PrivateKey::sign
//! [`DigestAlgorithm::digest`]: crate::algorithm::DigestAlgorithm::digest

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::algorithm::{DigestAlgorithm, SignatureScheme};
use crate::key::{KeyError, PrivateKey, PublicKey, SignatureError};

pub mod graviola;
mod prepared;
pub mod rustcrypto;

pub use prepared::{PreparedPrivateKey, PreparedPublicKey};

/// The environment variable naming the process default provider.
pub const ENV_VAR: &str = "WAXSEAL_PROVIDER";

/// A backend that implements some or all of the operations. Each method returns `None`
/// when the backend does not cover the operation (the provider then asks RustCrypto),
/// and `Some` with the outcome otherwise: a signature the backend refuses is refused,
/// never retried elsewhere. Signing is done by [`Provider::sign`] and
/// [`Provider::sign_prepared`], which keep graviola's form of a private key between
/// signatures.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Which backend this is.
    fn id(&self) -> BackendId;

    /// Hashes `data`.
    fn digest(&self, algorithm: DigestAlgorithm, data: &[u8]) -> Option<Vec<u8>>;

    /// Verifies `signature` over `message` (hashed with `digest`, except by Ed25519).
    fn verify(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>>;

    /// Verifies `signature` over an already computed `hash` (not Ed25519).
    fn verify_prehash(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>>;
}

/// What to sign with: the key's type decides the rest (Ed25519 signs the message itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOp {
    /// RSASSA-PKCS1-v1_5 with this hash (SHA-1 only for the legacy wire format).
    RsaPkcs1(DigestAlgorithm),
    /// RSASSA-PSS with this hash for the message and MGF1, and this salt length.
    RsaPss(DigestAlgorithm, usize),
    /// ECDSA with this hash, DER-encoded signature.
    Ecdsa(DigestAlgorithm),
    /// Pure Ed25519.
    Ed25519,
    /// Pure ML-DSA, empty context, hedged (the key names the parameter set).
    MlDsa,
}

/// Which backend did (or would do) an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendId {
    /// The RustCrypto crates.
    RustCrypto,
    /// graviola.
    Graviola,
}

impl BackendId {
    /// `rustcrypto` or `graviola`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RustCrypto => "rustcrypto",
            Self::Graviola => "graviola",
        }
    }
}

impl std::fmt::Display for BackendId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The choice a user makes (`--provider`, `WAXSEAL_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProviderChoice {
    /// graviola where the CPU runs it and it is faster, RustCrypto for the rest.
    #[default]
    Auto,
    /// RustCrypto only.
    RustCrypto,
    /// graviola for everything it covers (an error where the CPU cannot run it).
    Graviola,
}

impl ProviderChoice {
    /// Every choice.
    pub const ALL: [ProviderChoice; 3] = [Self::Auto, Self::RustCrypto, Self::Graviola];

    /// `auto`, `rustcrypto` or `graviola`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::RustCrypto => "rustcrypto",
            Self::Graviola => "graviola",
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Auto => 1,
            Self::RustCrypto => 2,
            Self::Graviola => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl std::fmt::Display for ProviderChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ProviderChoice {
    type Err = ProviderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ProviderError::Unknown(s.to_owned()))
    }
}

/// A provider that cannot be used: a configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// A name that is not `auto`, `rustcrypto` or `graviola`.
    #[error(
        "unknown cryptography provider \"{}\": expected auto, rustcrypto or graviola",
        crate::display::escape(.0)
    )]
    Unknown(String),
    /// graviola asked for by name on a CPU (or architecture) that cannot run it.
    #[error("the graviola provider cannot run on this CPU: {0}")]
    Unsupported(CpuUnsupported),
}

/// Why this CPU cannot run graviola ([`graviola_supported`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CpuUnsupported {
    /// Instruction-set extensions graviola needs and the CPU lacks, by name.
    #[error("missing CPU features: {}", .0.join(", "))]
    MissingFeatures(Vec<&'static str>),
    /// graviola's own check refuses the CPU although every feature listed is there.
    #[error("graviola reports this CPU as unsupported")]
    Rejected,
    /// An architecture graviola has no code for (its name).
    #[error("graviola supports x86_64 and aarch64 only, not {0}")]
    Architecture(&'static str),
}

impl ProviderError {
    /// A stable kebab-case reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unknown(_) => "unknown-provider",
            Self::Unsupported(_) => "provider-unsupported",
        }
    }
}

/// Whether this CPU has what graviola needs, checked at run time (once): on x86_64
/// `aes`, `pclmulqdq`, `ssse3`, `avx`, `avx2`, `bmi1`, `bmi2` and `adx`; on aarch64
/// `neon`, `aes`, `pmull` and `sha2`; never on other architectures. graviola panics when
/// its code runs without them, so nothing calls it unless this is `Ok`; `Err` lists what
/// is missing.
pub fn graviola_supported() -> Result<(), CpuUnsupported> {
    static CHECK: OnceLock<Result<(), CpuUnsupported>> = OnceLock::new();
    CHECK.get_or_init(graviola::cpu_check).clone()
}

/// A validated choice of provider: [`Provider::new`] has checked that it can run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Provider {
    choice: ProviderChoice,
    graviola: bool,
}

impl Provider {
    /// RustCrypto only; always available.
    pub const RUSTCRYPTO: Provider = Provider {
        choice: ProviderChoice::RustCrypto,
        graviola: false,
    };

    /// The provider for `choice`: `auto` always succeeds (graviola if the CPU can run it),
    /// `graviola` fails where the CPU cannot run it.
    pub fn new(choice: ProviderChoice) -> Result<Self, ProviderError> {
        let graviola = match choice {
            ProviderChoice::RustCrypto => false,
            ProviderChoice::Auto => graviola_supported().is_ok(),
            ProviderChoice::Graviola => {
                graviola_supported().map_err(ProviderError::Unsupported)?;
                true
            }
        };
        Ok(Self { choice, graviola })
    }

    /// Parses a name (`auto`, `rustcrypto`, `graviola`) and checks it as [`Provider::new`].
    pub fn from_name(name: &str) -> Result<Self, ProviderError> {
        Self::new(name.parse()?)
    }

    /// What was chosen.
    pub fn choice(&self) -> ProviderChoice {
        self.choice
    }

    /// A short description for reports: `rustcrypto`, `graviola`, or `auto (graviola)` /
    /// `auto (rustcrypto)` saying what `auto` resolved to on this CPU.
    pub fn describe(&self) -> String {
        match self.choice {
            ProviderChoice::Auto if self.graviola => "auto (graviola)".into(),
            ProviderChoice::Auto => "auto (rustcrypto)".into(),
            c => c.name().into(),
        }
    }

    /// The fast backend, when this provider uses it: for Ed25519 too, since keys are
    /// prepared once (a `Signer`'s [`PreparedPrivateKey`], cached public keys).
    fn fast(&self) -> Option<&'static dyn Backend> {
        if !self.graviola {
            return None;
        }
        Some(&graviola::Graviola)
    }

    /// Whether this provider uses graviola (for what graviola covers).
    fn uses_graviola(&self) -> bool {
        self.fast().is_some()
    }

    /// The backend [`Provider::verify`] uses for these arguments.
    pub fn backend_for_verify(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
    ) -> BackendId {
        match self.fast() {
            Some(_) if graviola::covers_verify(key, scheme, digest) => BackendId::Graviola,
            _ => BackendId::RustCrypto,
        }
    }

    /// The backend [`Provider::sign`] uses for these arguments.
    pub fn backend_for_sign(&self, key: &PrivateKey, op: &SignOp) -> BackendId {
        match self.fast() {
            Some(_) if graviola::covers_sign(key, op) => BackendId::Graviola,
            _ => BackendId::RustCrypto,
        }
    }

    /// The backend [`Provider::digest`] uses for `algorithm`.
    pub fn backend_for_digest(&self, algorithm: DigestAlgorithm) -> BackendId {
        match self.fast() {
            Some(_) if graviola::covers_digest(algorithm) => BackendId::Graviola,
            _ => BackendId::RustCrypto,
        }
    }

    /// Hashes `data`, saying which backend did it.
    pub fn digest(&self, algorithm: DigestAlgorithm, data: &[u8]) -> (Vec<u8>, BackendId) {
        if let Some(b) = self.fast()
            && let Some(h) = b.digest(algorithm, data)
        {
            return (h, b.id());
        }
        (
            rustcrypto::RustCrypto.digest_all(algorithm, data),
            BackendId::RustCrypto,
        )
    }

    /// Verifies `signature` over `message`, saying which backend did it. Only the
    /// mathematics: call [`PublicKey::check_scheme`] first.
    pub fn verify(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<BackendId, SignatureError> {
        if let Some(b) = self.fast()
            && let Some(r) = b.verify(key, scheme, digest, message, signature)
        {
            return r.map(|()| b.id());
        }
        rustcrypto::RustCrypto
            .verify_all(key, scheme, digest, message, signature)
            .map(|()| BackendId::RustCrypto)
    }

    /// Verifies `signature` over an already computed `hash`, saying which backend did it.
    pub fn verify_prehash(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<BackendId, SignatureError> {
        if let Some(b) = self.fast()
            && let Some(r) = b.verify_prehash(key, scheme, digest, hash, signature)
        {
            return r.map(|()| b.id());
        }
        rustcrypto::RustCrypto
            .verify_prehash_all(key, scheme, digest, hash, signature)
            .map(|()| BackendId::RustCrypto)
    }

    /// Signs `message` as `op` says with `key`, saying which backend did it. The caller
    /// checks that `op` suits the key ([`PrivateKey::sign`] does).
    ///
    /// graviola's form of the key is made for this signature and dropped: to sign more
    /// than once with a key, [`Provider::sign_prepared`] keeps it.
    pub fn sign(
        &self,
        key: &PrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Result<(Vec<u8>, BackendId), KeyError> {
        self.sign_with(key, &graviola::PreparedSigning::default(), op, message)
    }

    /// [`Provider::sign`] with a [`PreparedPrivateKey`]: graviola's form of the key is
    /// made on the first graviola signature and reused by the next ones. Same backends,
    /// same fallbacks, same signatures as [`Provider::sign`].
    pub fn sign_prepared(
        &self,
        key: &PreparedPrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Result<(Vec<u8>, BackendId), KeyError> {
        self.sign_with(key.key(), key.graviola(), op, message)
    }

    /// Signs with `key`, whose graviola form is (or will be) in `prepared`.
    fn sign_with(
        &self,
        key: &PrivateKey,
        prepared: &graviola::PreparedSigning,
        op: &SignOp,
        message: &[u8],
    ) -> Result<(Vec<u8>, BackendId), KeyError> {
        if self.fast().is_some()
            && let Some(r) = graviola::sign_prepared(key, prepared, op, message)
        {
            return r.map(|s| (s, BackendId::Graviola));
        }
        rustcrypto::RustCrypto
            .sign_all(key, op, message)
            .map(|s| (s, BackendId::RustCrypto))
    }
}

/// The process default set by [`set_default`] (0: none).
static DEFAULT: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static SCOPED: Cell<Option<Provider>> = const { Cell::new(None) };
}

/// Sets the process default provider (what [`current`] returns outside [`with_provider`]),
/// replacing the environment's. The CLI calls it for `--provider`.
pub fn set_default(provider: Provider) {
    DEFAULT.store(provider.choice.code(), Ordering::Release);
}

/// The provider named by `WAXSEAL_PROVIDER` (read once per process): `Ok(None)` when the
/// variable is unset or empty, an error when it names no provider or one this CPU cannot
/// run.
pub fn from_env() -> Result<Option<Provider>, ProviderError> {
    static ENV: OnceLock<Result<Option<Provider>, ProviderError>> = OnceLock::new();
    ENV.get_or_init(|| parse_env(std::env::var_os(ENV_VAR).as_deref()))
        .clone()
}

fn parse_env(value: Option<&std::ffi::OsStr>) -> Result<Option<Provider>, ProviderError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => match v.to_str() {
            Some(name) => Provider::from_name(name).map(Some),
            None => Err(ProviderError::Unknown(v.to_string_lossy().into_owned())),
        },
    }
}

/// The provider in effect on this thread: [`with_provider`]'s, else [`set_default`]'s,
/// else `WAXSEAL_PROVIDER`'s, else `auto`. An error when `WAXSEAL_PROVIDER` is invalid
/// and nothing else was set.
pub fn current() -> Result<Provider, ProviderError> {
    if let Some(p) = SCOPED.with(Cell::get) {
        return Ok(p);
    }
    if let Some(choice) = ProviderChoice::from_code(DEFAULT.load(Ordering::Acquire)) {
        // Validated by `Provider::new` before it was stored, and CPU support does not
        // change while the process runs.
        return Provider::new(choice);
    }
    Ok(from_env()?
        .unwrap_or_else(|| Provider::new(ProviderChoice::Auto).expect("auto is always available")))
}

/// Runs `f` with `provider` as this thread's provider (nested calls restore the outer one).
pub fn with_provider<R>(provider: Provider, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Provider>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPED.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SCOPED.with(|s| s.replace(Some(provider))));
    f()
}

// The operations themselves, as methods of the key and algorithm types. They are defined
// here, not in `key` and `algorithm`, so that this module depends on those two and
// neither depends on it (no module cycle).

impl DigestAlgorithm {
    /// Hashes `data` with the current provider ([`current`]): SHA-2 with graviola under
    /// `auto` and `graviola`, SHA-1 and MD5 always with RustCrypto.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        // An unusable WAXSEAL_PROVIDER fails the signature operations; a digest on its
        // own vouches for nothing, so RustCrypto computes it.
        current()
            .unwrap_or(Provider::RUSTCRYPTO)
            .digest(self, data)
            .0
    }
}

impl PublicKey {
    /// Verifies `signature` over `message` with the current provider ([`current`]).
    /// `digest` is the hash the signature was made with (ignored by Ed25519, which signs
    /// the message itself). Call [`PublicKey::check_scheme`] first: this only does the
    /// mathematics. Fails when the provider configuration is invalid.
    pub fn verify(
        &self,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let provider = current().map_err(|_| SignatureError)?;
        provider
            .verify(self, scheme, digest, message, signature)
            .map(drop)
    }

    /// Verifies `signature` over an already computed hash (not for Ed25519), with the
    /// current provider.
    pub fn verify_prehash(
        &self,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let provider = current().map_err(|_| SignatureError)?;
        provider
            .verify_prehash(self, scheme, digest, hash, signature)
            .map(drop)
    }
}

impl PrivateKey {
    /// The operation [`PrivateKey::sign`] performs for `digest` and `pss`.
    pub fn sign_op(&self, digest: DigestAlgorithm, pss: bool) -> Result<SignOp, KeyError> {
        self.check_digest(digest, pss)?;
        Ok(match self {
            Self::Ed25519(_) => SignOp::Ed25519,
            Self::MlDsa(_) => SignOp::MlDsa,
            Self::P256(_) | Self::P384(_) => SignOp::Ecdsa(digest),
            Self::Rsa(_) if !pss => SignOp::RsaPkcs1(digest),
            Self::Rsa(_) | Self::RsaPss(..) => SignOp::RsaPss(
                digest,
                crate::key::pss_salt_len(digest, self.pss_restriction().flatten()),
            ),
        })
    }

    /// Signs `message` with `digest` (RSA PKCS #1 v1.5 unless `pss`), with the current
    /// provider ([`current`]), returning the signature algorithm identifier and the
    /// signature value. Ed25519 signs `message` itself and requires `digest` to be
    /// SHA-512 (RFC 8419). Refused when the provider configuration is invalid.
    pub fn sign(
        &self,
        message: &[u8],
        digest: DigestAlgorithm,
        pss: bool,
    ) -> Result<(spki::AlgorithmIdentifierOwned, Vec<u8>), KeyError> {
        let alg = self.signature_algorithm(digest, pss)?;
        let op = self.sign_op(digest, pss)?;
        let provider = current().map_err(|e| KeyError::Sign(e.to_string()))?;
        let (sig, _) = provider.sign(self, &op, message)?;
        Ok((alg, sig))
    }

    /// Signs `message` with RSA PKCS #1 v1.5 over SHA-1 (sha1WithRSAEncryption), for a
    /// legacy wire format that requires exactly that and nothing else (fedmsg 1.x's
    /// `x509` messages). SHA-1 is broken for collision resistance, which is why
    /// [`PrivateKey::sign`] refuses it: call this only to talk to peers that cannot
    /// verify anything better, and only for content the signer chose (a chosen-prefix
    /// collision needs the attacker to pick both messages). RSA keys only (not
    /// RSASSA-PSS-restricted ones). Always RustCrypto (graviola has no SHA-1).
    pub fn sign_legacy_rsa_pkcs1_sha1(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Rsa(_) => {
                let provider = current().map_err(|e| KeyError::Sign(e.to_string()))?;
                let op = SignOp::RsaPkcs1(DigestAlgorithm::Sha1);
                provider.sign(self, &op, message).map(|(s, _)| s)
            }
            other => Err(KeyError::Sign(format!(
                "PKCS #1 v1.5 with SHA-1 needs an RSA key, not {}",
                other.public_key().kind()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
