//! Secret and public keys.
//!
//! # Example
//! ```
//! use bulwark_crypto::{Domain, SecretKey};
//! let sk = SecretKey::from_ikm(&[7u8; 32])?;
//! let pk = sk.public_key();
//! let sig = sk.sign(&Domain::SIGNATURE, b"task 1: price 3141");
//! pk.verify(&Domain::SIGNATURE, b"task 1: price 3141", &sig)?;
//! # Ok::<(), bulwark_crypto::Error>(())
//! ```
//!
//! # Security
//! A [`PublicKey`] exists only after the subgroup and infinity checks, so code that holds
//! one never checks again. A [`SecretKey`] is wiped from memory when dropped, prints as
//! `SecretKey(<redacted>)`, and leaves this type only through [`SecretKey::to_bytes`],
//! whose buffer is wiped too.

use zeroize::Zeroizing;

use crate::encoding::{self, impl_encodings};
use crate::{Domain, Error, PossessionBinding, ProofOfPossession, Signature};

/// A BLS12-381 secret scalar.
#[derive(Clone)]
pub struct SecretKey(blst::min_sig::SecretKey);

impl SecretKey {
    /// Length of [`SecretKey::to_bytes`].
    pub const LEN: usize = 32;

    /// A fresh key from the operating system's random number generator.
    pub fn random() -> Result<Self, Error> {
        let mut ikm = Zeroizing::new([0u8; 32]);
        getrandom::fill(ikm.as_mut()).map_err(|e| Error::Randomness(e.to_string()))?;
        Self::from_ikm(ikm.as_ref())
    }

    /// The key `KeyGen(ikm)` of draft-irtf-cfrg-bls-signature-05 derives (HKDF-SHA256 with
    /// the `BLS-SIG-KEYGEN-SALT-` salt, empty key info). Needs at least 32 bytes.
    pub fn from_ikm(ikm: &[u8]) -> Result<Self, Error> {
        if ikm.len() < 32 {
            return Err(Error::KeyMaterialTooShort(ikm.len()));
        }
        blst::min_sig::SecretKey::key_gen(ikm, &[])
            .map(Self)
            .map_err(|_| Error::KeyMaterialTooShort(ikm.len()))
    }

    /// Decodes a 32-byte big-endian scalar, refusing zero and values not below the order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != Self::LEN {
            return Err(Error::InvalidLength {
                what: "secret key",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        blst::min_sig::SecretKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidSecretKey)
    }

    /// The 32-byte big-endian scalar, in a buffer wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.sk_to_pk())
    }

    /// Signs `message` under `domain`.
    pub fn sign(&self, domain: &Domain, message: &[u8]) -> Signature {
        Signature::from_blst(self.0.sign(message, domain.as_bytes(), &[]))
    }

    /// Proves knowledge of this key for one registration, so it can be registered
    /// without enabling rogue-key attacks on aggregation. The proof is bound to
    /// `binding` (chain, registry, operator) so that no one who copies it can register
    /// the key in the operator's place (see [`crate::pop`]).
    pub fn prove_possession(&self, binding: &PossessionBinding) -> ProofOfPossession {
        ProofOfPossession::prove(self, binding)
    }

    pub(crate) fn sign_raw(&self, domain: &Domain, message: &[u8]) -> blst::min_sig::Signature {
        self.0.sign(message, domain.as_bytes(), &[])
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A validated BLS12-381 public key: a point of G2's prime-order subgroup, not the identity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(blst::min_sig::PublicKey);

impl PublicKey {
    /// Length of the compressed encoding.
    pub const LEN: usize = 96;
    /// Length of the EIP-2537 encoding (a G2 point).
    pub const EIP2537_LEN: usize = 256;
    /// EIP-2537 slot -> blst element: blst writes `x.c1 x.c0 y.c1 y.c0`.
    const EIP2537_ORDER: [usize; 4] = [1, 0, 3, 2];

    /// Decodes and validates 96 compressed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        const WHAT: &str = "public key";
        if bytes.len() != Self::LEN {
            return Err(Error::InvalidLength {
                what: WHAT,
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let pk =
            blst::min_sig::PublicKey::uncompress(bytes).map_err(|e| Error::from_blst(WHAT, e))?;
        Self::validated(pk)
    }

    /// Decodes and validates the 256-byte EIP-2537 encoding, e.g. as read from a contract.
    pub fn from_eip2537(bytes: &[u8]) -> Result<Self, Error> {
        const WHAT: &str = "public key (EIP-2537)";
        let raw: [u8; 192] = encoding::from_eip2537(WHAT, bytes, &Self::EIP2537_ORDER)?;
        let pk =
            blst::min_sig::PublicKey::deserialize(&raw).map_err(|e| Error::from_blst(WHAT, e))?;
        Self::validated(pk)
    }

    fn validated(pk: blst::min_sig::PublicKey) -> Result<Self, Error> {
        pk.validate()
            .map_err(|e| Error::from_blst("public key", e))?;
        Ok(Self(pk))
    }

    /// The 96-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; 96] {
        self.0.compress()
    }

    /// The 256-byte EIP-2537 encoding of the G2 point.
    pub fn to_eip2537(&self) -> [u8; 256] {
        encoding::to_eip2537(&self.0.serialize(), &Self::EIP2537_ORDER)
    }

    /// Checks `signature` on `message` under `domain`.
    pub fn verify(
        &self,
        domain: &Domain,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), Error> {
        // Both points were group-checked when constructed.
        match signature
            .as_blst()
            .verify(false, message, domain.as_bytes(), &[], &self.0, false)
        {
            blst::BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(Error::InvalidSignature),
        }
    }

    pub(crate) fn as_blst(&self) -> &blst::min_sig::PublicKey {
        &self.0
    }

    pub(crate) fn from_validated_blst(pk: blst::min_sig::PublicKey) -> Self {
        Self(pk)
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl_encodings!(PublicKey, 96, "public key");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_debug_is_redacted() {
        let sk = SecretKey::from_ikm(&[1u8; 32]).expect("ikm");
        assert_eq!(format!("{sk:?}"), "SecretKey(<redacted>)");
    }

    #[test]
    fn secret_key_round_trips_and_rejects_zero_and_order() {
        let sk = SecretKey::random().expect("os rng");
        let back = SecretKey::from_bytes(sk.to_bytes().as_ref()).expect("round trip");
        assert_eq!(back.public_key(), sk.public_key());
        assert_eq!(
            SecretKey::from_bytes(&[0u8; 32]).err(),
            Some(Error::InvalidSecretKey)
        );
        // The group order r itself is not a valid scalar.
        let r = hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
            .expect("hex");
        assert_eq!(
            SecretKey::from_bytes(&r).err(),
            Some(Error::InvalidSecretKey)
        );
        assert!(matches!(
            SecretKey::from_bytes(&[1u8; 31]),
            Err(Error::InvalidLength { .. })
        ));
    }

    #[test]
    fn short_ikm_is_refused() {
        assert_eq!(
            SecretKey::from_ikm(&[0u8; 31]).err(),
            Some(Error::KeyMaterialTooShort(31))
        );
    }

    #[test]
    fn random_keys_differ() {
        let a = SecretKey::random().expect("rng").public_key();
        let b = SecretKey::random().expect("rng").public_key();
        assert_ne!(a, b);
    }

    #[test]
    fn public_key_encodings_round_trip() {
        let pk = SecretKey::from_ikm(&[9u8; 32]).expect("ikm").public_key();
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).expect("bytes"), pk);
        assert_eq!(
            PublicKey::from_eip2537(&pk.to_eip2537()).expect("eip2537"),
            pk
        );
        let s = pk.to_string();
        assert!(s.starts_with("0x") && s.len() == 2 + 192);
        assert_eq!(s.parse::<PublicKey>().expect("hex"), pk);
        let json = serde_json::to_string(&pk).expect("json");
        assert_eq!(serde_json::from_str::<PublicKey>(&json).expect("json"), pk);
    }

    #[test]
    fn infinity_and_non_subgroup_keys_are_refused() {
        let mut inf = [0u8; 96];
        inf[0] = 0xc0;
        assert_eq!(
            PublicKey::from_bytes(&inf).err(),
            Some(Error::PointAtInfinity { what: "public key" })
        );
        // Flip bits of x until a point on the curve but outside the subgroup appears:
        // the G2 cofactor is huge, so nearly every valid x is such a point.
        let pk = SecretKey::from_ikm(&[3u8; 32])
            .expect("ikm")
            .public_key()
            .to_bytes();
        let mut found = false;
        for i in 0..64u8 {
            let mut b = pk;
            b[95] ^= i + 1;
            match PublicKey::from_bytes(&b) {
                Err(Error::NotInSubgroup { .. }) => {
                    found = true;
                    break;
                }
                Err(_) => continue,
                Ok(_) => panic!("a perturbed key decoded as valid"),
            }
        }
        assert!(found, "no off-subgroup point found among perturbations");
    }
}
