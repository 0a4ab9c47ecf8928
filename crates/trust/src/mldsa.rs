//! ML-DSA (FIPS 204): the three parameter sets, their keys in the encodings of RFC 9881
//! (`SubjectPublicKeyInfo`, and the `seed`, `expandedKey` and `both` private key forms),
//! and pure ML-DSA signatures with an empty context, as RFC 9882 uses them in CMS.
//!
//! The arithmetic is RustCrypto's `ml-dsa` crate; this module owns the encodings around it
//! and the checks on them, so that a malformed key is refused here with a [`KeyError`]
//! and never reaches code that could panic on it:
//!
//! - a public key must have exactly the length of its parameter set (RFC 9881 §4: the raw
//!   `pkEncode` output in the BIT STRING, no extra wrapping) and the algorithm identifier
//!   no parameters;
//! - a `both` private key must hold an expanded key equal to the one its seed generates
//!   (RFC 9881 §6.1's consistency check: "MUST reject" when it is done; waxseal always
//!   does it);
//! - an `expandedKey`-only private key must have its secret vectors within FIPS 204's
//!   range (coefficients in `[-eta, eta]`: out of range, signing could loop without
//!   end), and a signature made with it must verify under the public key its s1 and s2
//!   imply, which refuses a `tr` that does not belong to the key (RFC 9881 Appendix C's
//!   second bad example). Its `t0` is not recomputed (that needs FIPS 204's arithmetic,
//!   which the crate does not expose): a key with a wrong `t0` (the RFC's third example)
//!   is read, and its signatures are checked like any other. The seed form, which
//!   waxseal writes, has no such question;
//! - a PKCS #8 v2 key carrying its public key must carry the one its private key implies.
//!
//! Signing is hedged (FIPS 204 §3.4: fresh randomness from the OS mixed with the key's
//! own), as RFC 9882 §5 recommends; verification accepts hedged and deterministic
//! signatures alike (they verify the same way).

use std::sync::Arc;

use ml_dsa::{
    EncodedVerifyingKey, ExpandedSigningKey, ExpandedSigningKeyBytes, MlDsa44, MlDsa65, MlDsa87,
    MlDsaParams, Signature, SigningKey, VerifyingKey,
};
use zeroize::Zeroizing;

pub use crate::algorithm::MlDsaParameterSet;
use crate::keyerror::{KeyError, SignatureError, rng};

/// (eta, bits per packed coefficient of s1 and s2, l, k) of `set`'s private keys.
fn secret_shape(set: MlDsaParameterSet) -> (u8, usize, usize, usize) {
    match set {
        MlDsaParameterSet::MlDsa44 => (2, 3, 4, 4),
        MlDsaParameterSet::MlDsa65 => (4, 4, 5, 6),
        MlDsaParameterSet::MlDsa87 => (2, 3, 7, 8),
    }
}

/// Runs `$body` with `$k` bound to the boxed key of whichever parameter set `$e` holds.
macro_rules! each_set {
    ($e:expr, $ty:ident, $k:ident => $body:expr) => {
        match $e {
            $ty::P44($k) => $body,
            $ty::P65($k) => $body,
            $ty::P87($k) => $body,
        }
    };
}

#[derive(Clone)]
enum Public {
    P44(Box<VerifyingKey<MlDsa44>>),
    P65(Box<VerifyingKey<MlDsa65>>),
    P87(Box<VerifyingKey<MlDsa87>>),
}

/// An ML-DSA public key.
#[derive(Clone)]
pub struct MlDsaPublicKey(Public);

impl std::fmt::Debug for MlDsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlDsaPublicKey({})", self.parameter_set())
    }
}

impl PartialEq for MlDsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.parameter_set() == other.parameter_set() && self.to_bytes() == other.to_bytes()
    }
}

fn decode_public<P: MlDsaParams>(bytes: &[u8]) -> Option<Box<VerifyingKey<P>>> {
    let enc = EncodedVerifyingKey::<P>::try_from(bytes).ok()?;
    Some(Box::new(VerifyingKey::<P>::decode(&enc)))
}

fn verify_with<P: MlDsaParams>(
    key: &VerifyingKey<P>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let sig = Signature::<P>::try_from(signature).map_err(|_| SignatureError)?;
    // Pure ML-DSA, empty context (RFC 9882 §3.2).
    if key.verify_with_context(message, &[], &sig) {
        Ok(())
    } else {
        Err(SignatureError)
    }
}

impl MlDsaPublicKey {
    /// Decodes `pkEncode` output of `set`: exactly [`MlDsaParameterSet::public_key_len`]
    /// bytes (every such string is a key: t1's 10-bit coefficients have no invalid values).
    pub fn from_bytes(set: MlDsaParameterSet, bytes: &[u8]) -> Result<Self, KeyError> {
        let bad = || KeyError::BadPublicKey("ML-DSA (length)");
        Ok(Self(match set {
            MlDsaParameterSet::MlDsa44 => Public::P44(decode_public(bytes).ok_or_else(bad)?),
            MlDsaParameterSet::MlDsa65 => Public::P65(decode_public(bytes).ok_or_else(bad)?),
            MlDsaParameterSet::MlDsa87 => Public::P87(decode_public(bytes).ok_or_else(bad)?),
        }))
    }

    /// The parameter set.
    pub fn parameter_set(&self) -> MlDsaParameterSet {
        match self.0 {
            Public::P44(_) => MlDsaParameterSet::MlDsa44,
            Public::P65(_) => MlDsaParameterSet::MlDsa65,
            Public::P87(_) => MlDsaParameterSet::MlDsa87,
        }
    }

    /// The encoded key (`pkEncode`), what the `SubjectPublicKeyInfo`'s BIT STRING holds.
    pub fn to_bytes(&self) -> Vec<u8> {
        each_set!(&self.0, Public, k => k.encode().to_vec())
    }

    /// The key as a DER `SubjectPublicKeyInfo` (RFC 9881 §4: parameters absent).
    pub fn to_spki_der(&self) -> Option<Vec<u8>> {
        let spki = spki::SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: self.parameter_set().oid(),
                parameters: None,
            },
            subject_public_key: der::asn1::BitString::from_bytes(&self.to_bytes()).ok()?,
        };
        der::Encode::to_der(&spki).ok()
    }

    /// Verifies a pure ML-DSA signature (empty context) over `message`. A signature of the
    /// wrong length, or one that does not decode (hint out of order, z out of range), does
    /// not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        each_set!(&self.0, Public, k => verify_with(k, message, signature))
    }
}

/// The secret of one parameter set: from a seed (the key is generated from it, FIPS 204
/// Algorithm 6), or an expanded key without its seed (checked when read). Shared by its
/// clones (a signer is cloned per connection or thread; generating the key again from the
/// seed costs about as much as a signature) and wiped when the last one goes.
enum Secret<P: MlDsaParams> {
    Seed(Arc<SigningKey<P>>),
    Expanded(Arc<ExpandedSigningKey<P>>, Arc<VerifyingKey<P>>),
}

impl<P: MlDsaParams> Clone for Secret<P> {
    fn clone(&self) -> Self {
        match self {
            Self::Seed(k) => Self::Seed(Arc::clone(k)),
            Self::Expanded(e, v) => Self::Expanded(Arc::clone(e), Arc::clone(v)),
        }
    }
}

impl<P: MlDsaParams> Secret<P> {
    fn expanded(&self) -> &ExpandedSigningKey<P> {
        match self {
            Self::Seed(k) => k.expanded_key(),
            Self::Expanded(e, _) => e,
        }
    }

    fn verifying_key(&self) -> VerifyingKey<P> {
        match self {
            Self::Seed(k) => k.as_ref().as_ref().clone(),
            Self::Expanded(_, v) => v.as_ref().clone(),
        }
    }

    fn seed(&self) -> Option<[u8; 32]> {
        match self {
            Self::Seed(k) => Some(k.to_seed().into()),
            Self::Expanded(..) => None,
        }
    }

    #[allow(deprecated)] // skEncode: the form RFC 9881's expandedKey holds.
    fn expanded_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.expanded().to_expanded().to_vec())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.expanded()
            .sign_randomized(message, &[], &mut rng())
            .map(|s| s.encode().to_vec())
            .map_err(|_| KeyError::Sign("ML-DSA signing failed".into()))
    }

    fn from_seed(seed: &[u8]) -> Result<Self, KeyError> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| KeyError::Unreadable("ML-DSA seed is not 32 bytes".into()))?;
        Ok(Self::Seed(Arc::new(SigningKey::from_seed(&seed.into()))))
    }

    #[allow(deprecated)] // skDecode, after the checks that make it safe (see the module doc).
    fn from_expanded(set: MlDsaParameterSet, bytes: &[u8]) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::Unreadable(format!("ML-DSA expanded key: {why}"));
        let enc = ExpandedSigningKeyBytes::<P>::try_from(bytes)
            .map_err(|_| bad("wrong length for the parameter set"))?;
        if !secret_vectors_in_range(set, bytes) {
            return Err(bad("s1 or s2 out of range"));
        }
        let esk = ExpandedSigningKey::<P>::from_expanded(&enc);
        let vk = esk.verifying_key();
        let probe = b"waxseal ML-DSA expanded key consistency check";
        let sig = esk
            .sign_deterministic(probe, &[])
            .map_err(|_| bad("cannot sign"))?;
        if !vk.verify_with_context(probe, &[], &sig) {
            return Err(bad("tr does not belong to the key"));
        }
        Ok(Self::Expanded(Arc::new(esk), Arc::new(vk)))
    }
}

/// Whether the packed s1 and s2 of an expanded key (`skEncode`: rho, K, tr, then s1 and
/// s2 with each coefficient stored as eta - c in 3 or 4 bits, least significant bit
/// first) hold only coefficients in [-eta, eta], that is stored values 0..=2*eta.
fn secret_vectors_in_range(set: MlDsaParameterSet, sk: &[u8]) -> bool {
    let (eta, bits, l, k) = secret_shape(set);
    let start = 32 + 32 + 64;
    let count = (l + k) * 256;
    let packed = &sk[start..start + count * bits / 8];
    (0..count).all(|i| {
        let bit = i * bits;
        let lo = packed[bit / 8] as u16;
        let hi = packed.get(bit / 8 + 1).copied().unwrap_or(0) as u16;
        let v = ((lo | (hi << 8)) >> (bit % 8)) & ((1 << bits) - 1);
        v <= 2 * u16::from(eta)
    })
}

#[derive(Clone)]
enum Private {
    P44(Secret<MlDsa44>),
    P65(Secret<MlDsa65>),
    P87(Secret<MlDsa87>),
}

/// An ML-DSA private key. Clones share the secret, which is wiped (the `ml-dsa` crate's
/// `zeroize`) when the last of them is dropped.
#[derive(Clone)]
pub struct MlDsaPrivateKey(Private);

impl std::fmt::Debug for MlDsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlDsaPrivateKey({})", self.parameter_set())
    }
}

impl MlDsaPrivateKey {
    /// A fresh key of `set` from a seed of the OS generator.
    pub fn generate(set: MlDsaParameterSet) -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Sign(e.to_string()))?;
        Self::from_seed(set, seed.as_ref())
    }

    /// The key `set` generates from `seed` (FIPS 204 Algorithm 6, `ML-DSA.KeyGen_internal`).
    pub fn from_seed(set: MlDsaParameterSet, seed: &[u8]) -> Result<Self, KeyError> {
        Ok(Self(match set {
            MlDsaParameterSet::MlDsa44 => Private::P44(Secret::from_seed(seed)?),
            MlDsaParameterSet::MlDsa65 => Private::P65(Secret::from_seed(seed)?),
            MlDsaParameterSet::MlDsa87 => Private::P87(Secret::from_seed(seed)?),
        }))
    }

    /// Reads the `privateKey` OCTET STRING's content of an RFC 9881 PKCS #8 key: the
    /// `ML-DSA-PrivateKey` CHOICE, told apart by its tag (RFC 9881 §6): `seed` (`[0]`
    /// IMPLICIT OCTET STRING of 32 bytes), `expandedKey` (OCTET STRING) or `both`
    /// (SEQUENCE of the two, which must agree).
    pub fn from_private_key_choice(set: MlDsaParameterSet, der: &[u8]) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::Unreadable(format!("ML-DSA private key: {why}"));
        let (tag, body) = crate::asn1::read_one(der).map_err(|_| bad("not DER"))?;
        match tag {
            0x80 => Self::from_seed(set, body),
            0x04 => Self::from_expanded(set, body),
            0x30 => {
                let items = crate::asn1::split_tlvs(body).map_err(|_| bad("not DER"))?;
                let [(0x04, _, seed), (0x04, _, expanded)] = items.as_slice() else {
                    return Err(bad("both is not two OCTET STRINGs"));
                };
                let key = Self::from_seed(set, seed)?;
                if key.expanded_bytes().as_slice() != *expanded {
                    return Err(bad("seed and expandedKey do not match (RFC 9881 §6.1)"));
                }
                Ok(key)
            }
            _ => Err(bad("neither seed, expandedKey nor both")),
        }
    }

    fn from_expanded(set: MlDsaParameterSet, bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(Self(match set {
            MlDsaParameterSet::MlDsa44 => Private::P44(Secret::from_expanded(set, bytes)?),
            MlDsaParameterSet::MlDsa65 => Private::P65(Secret::from_expanded(set, bytes)?),
            MlDsaParameterSet::MlDsa87 => Private::P87(Secret::from_expanded(set, bytes)?),
        }))
    }

    /// The `ML-DSA-PrivateKey` this key is written as: the `seed` form (RFC 9881 §6
    /// recommends it) whenever the seed is known, else the `expandedKey` form it was read
    /// in (a seed cannot be recovered from an expanded key).
    pub fn to_private_key_choice(&self) -> Zeroizing<Vec<u8>> {
        match self.seed() {
            Some(seed) => Zeroizing::new(crate::asn1::tlv(0x80, seed.as_ref())),
            None => Zeroizing::new(crate::asn1::tlv(0x04, &self.expanded_bytes())),
        }
    }

    /// The parameter set.
    pub fn parameter_set(&self) -> MlDsaParameterSet {
        match self.0 {
            Private::P44(_) => MlDsaParameterSet::MlDsa44,
            Private::P65(_) => MlDsaParameterSet::MlDsa65,
            Private::P87(_) => MlDsaParameterSet::MlDsa87,
        }
    }

    /// The seed, when the key was made from one.
    pub fn seed(&self) -> Option<Zeroizing<[u8; 32]>> {
        each_set!(&self.0, Private, k => k.seed().map(Zeroizing::new))
    }

    /// The expanded private key (`skEncode`).
    pub fn expanded_bytes(&self) -> Zeroizing<Vec<u8>> {
        each_set!(&self.0, Private, k => k.expanded_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> MlDsaPublicKey {
        MlDsaPublicKey(match &self.0 {
            Private::P44(k) => Public::P44(Box::new(k.verifying_key())),
            Private::P65(k) => Public::P65(Box::new(k.verifying_key())),
            Private::P87(k) => Public::P87(Box::new(k.verifying_key())),
        })
    }

    /// A hedged pure ML-DSA signature (empty context) over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        each_set!(&self.0, Private, k => k.sign(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_fips_204_table_2() {
        for set in MlDsaParameterSet::ALL {
            let key = MlDsaPrivateKey::from_seed(set, &[7; 32]).unwrap();
            let public = key.public_key();
            assert_eq!(public.to_bytes().len(), set.public_key_len(), "{set}");
            assert_eq!(key.expanded_bytes().len(), set.expanded_key_len(), "{set}");
            let sig = key.sign(b"m").unwrap();
            assert_eq!(sig.len(), set.signature_len(), "{set}");
            public.verify(b"m", &sig).unwrap();
            assert!(public.verify(b"n", &sig).is_err());
            assert!(public.verify(b"m", &sig[1..]).is_err());
            assert_eq!(MlDsaParameterSet::from_oid(&set.oid()), Some(set));
        }
    }

    #[test]
    fn expanded_form_round_trips_and_out_of_range_secrets_are_refused() {
        for set in MlDsaParameterSet::ALL {
            let key = MlDsaPrivateKey::from_seed(set, &[9; 32]).unwrap();
            let expanded = key.expanded_bytes();
            let choice = crate::asn1::tlv(0x04, &expanded);
            let again = MlDsaPrivateKey::from_private_key_choice(set, &choice).unwrap();
            assert!(again.seed().is_none());
            assert_eq!(again.public_key(), key.public_key());
            let sig = again.sign(b"x").unwrap();
            key.public_key().verify(b"x", &sig).unwrap();
            // The first coefficient of s1 stored as 7: out of range for every eta.
            let mut bad = expanded.to_vec();
            bad[128] |= 0x07;
            if secret_shape(set).0 == 4 {
                bad[128] |= 0x0f;
            }
            let choice = crate::asn1::tlv(0x04, &bad);
            assert!(MlDsaPrivateKey::from_private_key_choice(set, &choice).is_err());
            // A wrong tr.
            let mut bad = expanded.to_vec();
            bad[64] ^= 1;
            let choice = crate::asn1::tlv(0x04, &bad);
            assert!(MlDsaPrivateKey::from_private_key_choice(set, &choice).is_err());
        }
    }
}
