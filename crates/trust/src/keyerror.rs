//! The errors of keys and signatures, and the random numbers keys are made and sign with:
//! what [`crate::key`] and [`crate::mldsa`] both need, kept apart so that neither of the
//! two depends on the other for them.

use rand_core::UnwrapErr;

use crate::algorithm::AlgorithmError;

/// A key problem: unreadable, unsupported, or unsafe to use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a key in any supported encoding.
    #[error("not a supported private key (PKCS #8, PKCS #1 RSA or SEC1 EC, unencrypted): {0}")]
    Unreadable(String),
    /// An encrypted PKCS #8 key.
    #[error(
        "encrypted private keys are not supported; decrypt it first (openssl pkey -in KEY -out KEY.plain)"
    )]
    Encrypted,
    /// A key algorithm or curve waxseal does not implement.
    #[error(transparent)]
    Algorithm(#[from] AlgorithmError),
    /// A malformed public key.
    #[error("invalid {0} public key")]
    BadPublicKey(&'static str),
    /// A DSA key without domain parameters and none to inherit.
    #[error("DSA key has no domain parameters and its issuer provides none")]
    MissingDsaParameters,
    /// An RSA or DSA modulus above the verifier's cap (8,192 bits, `DEFAULT_MAX_MODULUS_BITS`, unless
    /// configured), refused before any arithmetic.
    #[error("{key} key of {bits} bits is above the maximum of {max}")]
    TooLarge {
        /// Key type.
        key: &'static str,
        /// Modulus size.
        bits: usize,
        /// The cap.
        max: usize,
    },
    /// A key file readable by group or others.
    #[error(
        "private key file {path} is accessible by group or others (mode {mode:04o}); run `chmod 600 {path}`, or load it with the insecure-key-permissions setting (KeyFileCheck::AllowInsecure)"
    )]
    InsecurePermissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading the key file failed.
    #[error("cannot read private key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Signing failed (for example an RSA key with a modulus too small for the digest).
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct SignatureError;

/// The OS random number generator, as the `rand_core` 0.10 traits want it.
pub fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}
