//! The cryptography seam: every signature check, signature and SHA-2 digest waxseal makes
//! goes through a [`Provider`], in the style of rustls' `CryptoProvider`.
//!
//! Two backends implement [`Backend`]:
//!
//! - RustCrypto: the RustCrypto crates (`rsa`, `p256`, `p384`,
//!   `ed25519-dalek`, `ml-dsa`, `dsa`, `sha1`, `sha2`, `md-5`). It covers everything
//!   waxseal does.
//! - graviola: the `graviola` crate (Rust and formally verified
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
//! (4 MiB). Bytes that differ anywhere are different
//! entries; a refused key is never kept.
//!
//! [`PublicKey::from_spki_bounded`]: crate::key::PublicKey::from_spki_bounded
//!
//! # Choosing one
//!
//! A [`Provider`] is a value, held by whatever signs or verifies: `ValidationOptions`
//! (path validation), the envelope's `Verifier` and `Signer`, and through them the bus.
//! Each takes [`Provider::default`] when it is made and can be given another with its
//! `with_provider` method; every operation then goes through the provider it holds.
//! [`Provider::default`] is the process default: the one set by [`set_default`] (the CLI
//! calls it once for `--provider`), else the one named by the `WAXSEAL_PROVIDER`
//! environment variable (`auto`, `rustcrypto` or `graviola`, read once), else `auto`.
//!
//! An unknown `WAXSEAL_PROVIDER`, or `graviola` on a CPU that cannot run it, is a
//! configuration error: [`from_env`] reports it (the CLI and the Python package refuse to
//! start), and a provider made from it by [`Provider::default`] is *unusable*: every
//! signature check it makes fails and every signature it is asked for is refused (fail
//! closed: no silent fallback), until a valid provider is set or passed.
//!
//! ```
//! use waxseal_trust::ValidationOptions;
//! use waxseal_trust::provider::{Provider, ProviderChoice};
//! let rc = Provider::new(ProviderChoice::RustCrypto).unwrap();
//! // Path validation with these options checks every signature with RustCrypto.
//! let options = ValidationOptions::at(1_767_225_600).with_provider(rc);
//! assert_eq!(options.provider.choice(), ProviderChoice::RustCrypto);
//! ```
//!
//! This module depends on the key and algorithm types only (and they call into it), so
//! it can move with them into a crate of their own.
//!

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::algorithm::{DigestAlgorithm, SignatureScheme};
use crate::key::{KeyError, PrivateKey, PublicKey, SignatureError};

mod graviola;
mod prepared;
mod rustcrypto;

pub use graviola::RawRsa;
pub use prepared::{PreparedPrivateKey, PreparedPublicKey};

/// The environment variable naming the process default provider.
pub const ENV_VAR: &str = "WAXSEAL_PROVIDER";

/// A backend: one table of the operations a [`Provider`] routes, implemented by
/// RustCrypto (everything) and graviola (what it does fast). Each method returns `None`
/// when the backend does not cover the operation (the provider then asks RustCrypto),
/// and `Some` with the outcome otherwise: a signature the backend refuses is refused,
/// never retried elsewhere.
pub trait Backend: Send + Sync + std::panic::RefUnwindSafe + std::fmt::Debug {
    /// Which backend this is.
    fn id(&self) -> BackendId;

    /// Hashes `data`.
    fn digest(&self, algorithm: DigestAlgorithm, data: &[u8]) -> Option<Vec<u8>>;

    /// An incremental hash of `algorithm`, for content that arrives in pieces (streams).
    fn digest_context(&self, algorithm: DigestAlgorithm) -> Option<Box<dyn DigestContext>>;

    /// Verifies `signature` over `message` (hashed with `digest`, except by Ed25519 and
    /// ML-DSA), with the backend's form of `key` kept beside it.
    fn verify(
        &self,
        key: &PreparedPublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>>;

    /// Verifies `signature` over an already computed `hash` (not Ed25519 or ML-DSA).
    fn verify_prehash(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), SignatureError>>;

    /// Signs `message` as `op` says, with the backend's form of `key` kept beside it.
    fn sign(
        &self,
        key: &PreparedPrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Option<Result<Vec<u8>, KeyError>>;
}

/// An incremental hash ([`Backend::digest_context`]).
pub trait DigestContext: Send {
    /// Feeds `data`.
    fn update(&mut self, data: &[u8]);
    /// The digest of everything fed.
    fn finish(self: Box<Self>) -> Vec<u8>;
    /// A copy of the state so far (S/MIME canonicalisation forks a hash where the content
    /// first differs from its canonical form).
    fn box_clone(&self) -> Box<dyn DigestContext>;
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

/// The cryptography a signer or verifier uses: a checked choice ([`Provider::new`]) with
/// its table of backends, a value held by `ValidationOptions`, `Verifier` and `Signer`.
/// Copying it is free.
#[derive(Clone, Copy)]
pub struct Provider {
    choice: ProviderChoice,
    /// The backend asked first, when this provider uses one besides RustCrypto.
    fast: Option<&'static dyn Backend>,
    /// Made from an invalid `WAXSEAL_PROVIDER`: every check fails, every signing is refused.
    unusable: bool,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.unusable {
            return f.write_str("Provider(unusable)");
        }
        write!(f, "Provider({})", self.describe())
    }
}

impl PartialEq for Provider {
    fn eq(&self, other: &Self) -> bool {
        (self.choice, self.fast.is_some(), self.unusable)
            == (other.choice, other.fast.is_some(), other.unusable)
    }
}

impl Eq for Provider {}

impl std::hash::Hash for Provider {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.choice, self.fast.is_some(), self.unusable).hash(state);
    }
}

impl Default for Provider {
    /// The process default: [`set_default`]'s, else `WAXSEAL_PROVIDER`'s, else `auto`;
    /// unusable when `WAXSEAL_PROVIDER` is invalid and nothing was set (see the module
    /// documentation).
    fn default() -> Self {
        if let Some(choice) = ProviderChoice::from_code(DEFAULT.load(Ordering::Acquire))
            // Validated by `Provider::new` before it was stored, and CPU support does
            // not change while the process runs.
            && let Ok(p) = Provider::new(choice)
        {
            return p;
        }
        match from_env() {
            Ok(Some(p)) => p,
            Ok(None) => Provider::new(ProviderChoice::Auto).unwrap_or(Provider::RUSTCRYPTO),
            Err(_) => Provider {
                unusable: true,
                ..Provider::RUSTCRYPTO
            },
        }
    }
}

impl Provider {
    /// RustCrypto only; always available.
    pub const RUSTCRYPTO: Provider = Provider {
        choice: ProviderChoice::RustCrypto,
        fast: None,
        unusable: false,
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
        let fast: Option<&'static dyn Backend> = if graviola {
            Some(&graviola::Graviola)
        } else {
            None
        };
        Ok(Self {
            choice,
            fast,
            ..Self::RUSTCRYPTO
        })
    }

    /// Parses a name (`auto`, `rustcrypto`, `graviola`) and checks it as [`Provider::new`].
    pub fn from_name(name: &str) -> Result<Self, ProviderError> {
        Self::new(name.parse()?)
    }

    /// What was chosen.
    pub fn choice(&self) -> ProviderChoice {
        self.choice
    }

    /// Whether this provider was made from an invalid `WAXSEAL_PROVIDER` and refuses
    /// every signature operation.
    pub fn is_unusable(&self) -> bool {
        self.unusable
    }

    /// A short description for reports: `rustcrypto`, `graviola`, or `auto (graviola)` /
    /// `auto (rustcrypto)` saying what `auto` resolved to on this CPU.
    pub fn describe(&self) -> String {
        match self.choice {
            ProviderChoice::Auto if self.fast.is_some() => "auto (graviola)".into(),
            ProviderChoice::Auto => "auto (rustcrypto)".into(),
            c => c.name().into(),
        }
    }

    /// The backend [`Provider::verify`] uses for these arguments.
    pub fn backend_for_verify(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
    ) -> BackendId {
        match self.fast {
            Some(_) if graviola::covers_verify(key, scheme, digest) => BackendId::Graviola,
            _ => BackendId::RustCrypto,
        }
    }

    /// The backend [`Provider::sign`] uses for these arguments.
    pub fn backend_for_sign(&self, key: &PrivateKey, op: &SignOp) -> BackendId {
        match self.fast {
            Some(_) if graviola::covers_sign(key, op) => BackendId::Graviola,
            _ => BackendId::RustCrypto,
        }
    }

    /// The backend [`Provider::digest`] uses for `algorithm`.
    pub fn backend_for_digest(&self, algorithm: DigestAlgorithm) -> BackendId {
        match self.fast {
            Some(_) if graviola::covers_digest(algorithm) => BackendId::Graviola,
            _ => BackendId::RustCrypto,
        }
    }

    /// Hashes `data`. A digest on its own vouches for nothing, so an unusable provider
    /// computes it too (with RustCrypto); what it would be checked against fails.
    pub fn digest(&self, algorithm: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
        self.digest_by(algorithm, data).0
    }

    /// [`Provider::digest`], saying which backend did it.
    pub fn digest_by(&self, algorithm: DigestAlgorithm, data: &[u8]) -> (Vec<u8>, BackendId) {
        if let Some(b) = self.fast
            && let Some(h) = b.digest(algorithm, data)
        {
            return (h, b.id());
        }
        (
            rustcrypto::RustCrypto.digest_all(algorithm, data),
            BackendId::RustCrypto,
        )
    }

    /// An incremental hash of `algorithm`, for content read in pieces.
    pub fn digest_context(&self, algorithm: DigestAlgorithm) -> Box<dyn DigestContext> {
        if let Some(b) = self.fast
            && let Some(h) = b.digest_context(algorithm)
        {
            return h;
        }
        rustcrypto::RustCrypto.digest_context_all(algorithm)
    }

    /// Verifies `signature` over `message` with `key` (`digest` is the hash the signature
    /// was made with; Ed25519 and ML-DSA sign the message itself), saying which backend
    /// did it. Only the mathematics: call [`PublicKey::check_scheme`] first. For a key
    /// that checks more than one signature, [`Provider::verify_prepared`] keeps the
    /// backend's form of it.
    pub fn verify(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<BackendId, SignatureError> {
        let key = PreparedPublicKey::new(key.clone());
        self.verify_prepared(&key, scheme, digest, message, signature)
    }

    /// [`Provider::verify`] with a [`PreparedPublicKey`] (what a certificate keeps for its
    /// key): the backend's form of the key is made on its first check and kept in `key`.
    pub fn verify_prepared(
        &self,
        key: &PreparedPublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<BackendId, SignatureError> {
        self.route(
            || SignatureError,
            |b| b.verify(key, scheme, digest, message, signature),
        )
        .map(|((), by)| by)
    }

    /// Verifies `signature` over an already computed `hash` (not Ed25519 or ML-DSA),
    /// saying which backend did it.
    pub fn verify_prehash(
        &self,
        key: &PublicKey,
        scheme: &SignatureScheme,
        digest: DigestAlgorithm,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<BackendId, SignatureError> {
        self.route(
            || SignatureError,
            |b| b.verify_prehash(key, scheme, digest, hash, signature),
        )
        .map(|((), by)| by)
    }

    /// Signs `message` with `key` as `op` says, saying which backend did it. The caller
    /// checks that `op` suits the key ([`PreparedPrivateKey::sign`] does). The backend's
    /// form of the key is made for this signature and dropped: to sign more than once
    /// with a key, [`Provider::sign_prepared`] keeps it.
    pub fn sign(
        &self,
        key: &PrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Result<(Vec<u8>, BackendId), KeyError> {
        self.sign_prepared(&PreparedPrivateKey::new(key.clone()), op, message)
    }

    /// [`Provider::sign`] with a [`PreparedPrivateKey`]: the backend's form of the key is
    /// made on its first signature and kept in `key` for the next.
    pub fn sign_prepared(
        &self,
        key: &PreparedPrivateKey,
        op: &SignOp,
        message: &[u8],
    ) -> Result<(Vec<u8>, BackendId), KeyError> {
        self.route(
            || {
                KeyError::Sign(format!(
                    "the cryptography provider is unusable: {ENV_VAR} is invalid"
                ))
            },
            |b| b.sign(key, op, message),
        )
    }

    /// Runs `op` on the first backend that covers it (the fast one, then RustCrypto, which
    /// covers everything), saying which one did; `refused` when this provider is
    /// unusable.
    fn route<T, E>(
        &self,
        refused: impl FnOnce() -> E,
        op: impl Fn(&dyn Backend) -> Option<Result<T, E>>,
    ) -> Result<(T, BackendId), E> {
        if self.unusable {
            return Err(refused());
        }
        // RustCrypto, the fallback, covers every operation.
        let all: &dyn Backend = &rustcrypto::RustCrypto;
        for b in self.fast.into_iter().chain([all]) {
            if let Some(r) = op(b) {
                return r.map(|t| (t, b.id()));
            }
        }
        Err(refused())
    }
}

/// The process default set by [`set_default`] (0: none).
static DEFAULT: AtomicU8 = AtomicU8::new(0);

/// Sets the process default provider ([`Provider::default`]), replacing the
/// environment's, for every `ValidationOptions`, `Verifier` and `Signer` made after it.
/// The CLI calls it once, for `--provider`.
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

impl PrivateKey {
    /// [`PreparedPrivateKey::sign`] for a key that signs once (a CA's certificate or CRL):
    /// the backend's form of the key is made for this signature and dropped with it.
    pub fn sign(
        &self,
        provider: &Provider,
        message: &[u8],
        digest: DigestAlgorithm,
        pss: bool,
    ) -> Result<(spki::AlgorithmIdentifierOwned, Vec<u8>), KeyError> {
        PreparedPrivateKey::new(self.clone()).sign(provider, message, digest, pss)
    }

    /// The operation [`PreparedPrivateKey::sign`] performs for `digest` and `pss`.
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
}

#[cfg(test)]
mod tests;
