//! Signatures: points of G1 (48 bytes compressed).
//!
//! # Security
//! A [`Signature`] exists only after the subgroup check and is never the identity, so
//! aggregation and verification never re-check it and a small-subgroup point cannot
//! slip into an aggregate.

use crate::Error;
use crate::encoding::{self, impl_encodings};

/// A validated BLS signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(blst::min_sig::Signature);

impl Signature {
    /// Length of the compressed encoding.
    pub const LEN: usize = 48;
    /// Length of the uncompressed encoding.
    pub const UNCOMPRESSED_LEN: usize = 96;
    /// Length of the EIP-2537 encoding (a G1 point).
    pub const EIP2537_LEN: usize = 128;
    const EIP2537_ORDER: [usize; 2] = [0, 1];

    /// Decodes and validates 48 compressed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        const WHAT: &str = "signature";
        if bytes.len() != Self::LEN {
            return Err(Error::InvalidLength {
                what: WHAT,
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let sig =
            blst::min_sig::Signature::uncompress(bytes).map_err(|e| Error::from_blst(WHAT, e))?;
        Self::validated(WHAT, sig)
    }

    /// Decodes and validates 96 uncompressed bytes (x then y, big-endian, the
    /// ZCash flag bits clear): no square root to take, which saves about a quarter
    /// of what decoding a compressed signature costs. The subgroup check stays.
    pub fn from_uncompressed(bytes: &[u8]) -> Result<Self, Error> {
        const WHAT: &str = "signature (uncompressed)";
        if bytes.len() != Self::UNCOMPRESSED_LEN {
            return Err(Error::InvalidLength {
                what: WHAT,
                expected: Self::UNCOMPRESSED_LEN,
                got: bytes.len(),
            });
        }
        // One encoding per signature: a set compression flag (48 compressed bytes
        // and 48 ignored ones) is refused here, whatever the blst version does.
        if bytes[0] & 0x80 != 0 {
            return Err(Error::InvalidEncoding {
                what: WHAT,
                reason: "the compression flag is set",
            });
        }
        let sig =
            blst::min_sig::Signature::deserialize(bytes).map_err(|e| Error::from_blst(WHAT, e))?;
        Self::validated(WHAT, sig)
    }

    /// Decodes either wire form: 48 compressed or 96 uncompressed bytes.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, Error> {
        match bytes.len() {
            Self::UNCOMPRESSED_LEN => Self::from_uncompressed(bytes),
            _ => Self::from_bytes(bytes),
        }
    }

    /// Decodes and validates the 128-byte EIP-2537 encoding.
    pub fn from_eip2537(bytes: &[u8]) -> Result<Self, Error> {
        const WHAT: &str = "signature (EIP-2537)";
        let raw: [u8; 96] = encoding::from_eip2537(WHAT, bytes, &Self::EIP2537_ORDER)?;
        let sig =
            blst::min_sig::Signature::deserialize(&raw).map_err(|e| Error::from_blst(WHAT, e))?;
        Self::validated(WHAT, sig)
    }

    fn validated(what: &'static str, sig: blst::min_sig::Signature) -> Result<Self, Error> {
        sig.validate(true).map_err(|e| Error::from_blst(what, e))?;
        Ok(Self(sig))
    }

    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; 48] {
        self.0.compress()
    }

    /// The 96-byte uncompressed encoding ([`Signature::from_uncompressed`]).
    pub fn to_uncompressed(&self) -> [u8; 96] {
        self.0.serialize()
    }

    /// The 128-byte EIP-2537 encoding of the G1 point.
    pub fn to_eip2537(&self) -> [u8; 128] {
        encoding::to_eip2537(&self.0.serialize(), &Self::EIP2537_ORDER)
    }

    /// Wraps a signature blst produced from valid inputs (a signing or aggregation
    /// result), which is in the subgroup by construction.
    pub(crate) fn from_blst(sig: blst::min_sig::Signature) -> Self {
        Self(sig)
    }

    pub(crate) fn as_blst(&self) -> &blst::min_sig::Signature {
        &self.0
    }
}

impl std::hash::Hash for Signature {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl_encodings!(Signature, 48, "signature");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, SecretKey};

    fn sample() -> (SecretKey, Signature) {
        let sk = SecretKey::from_ikm(&[5u8; 32]).expect("ikm");
        let sig = sk.sign(&Domain::SIGNATURE, b"hello");
        (sk, sig)
    }

    #[test]
    fn encodings_round_trip() {
        let (_, sig) = sample();
        assert_eq!(Signature::from_bytes(&sig.to_bytes()).expect("bytes"), sig);
        assert_eq!(
            Signature::from_eip2537(&sig.to_eip2537()).expect("eip"),
            sig
        );
        assert_eq!(sig.to_string().parse::<Signature>().expect("hex"), sig);
        let json = serde_json::to_string(&sig).expect("json");
        assert_eq!(serde_json::from_str::<Signature>(&json).expect("json"), sig);
    }

    #[test]
    fn wrong_message_key_or_domain_fails() {
        let (sk, sig) = sample();
        let pk = sk.public_key();
        assert!(pk.verify(&Domain::SIGNATURE, b"hello", &sig).is_ok());
        assert_eq!(
            pk.verify(&Domain::SIGNATURE, b"hellp", &sig),
            Err(Error::InvalidSignature)
        );
        let other = SecretKey::from_ikm(&[6u8; 32]).expect("ikm").public_key();
        assert_eq!(
            other.verify(&Domain::SIGNATURE, b"hello", &sig),
            Err(Error::InvalidSignature)
        );
        let app = Domain::new(b"OTHER-APP".to_vec()).expect("domain");
        assert_eq!(
            pk.verify(&app, b"hello", &sig),
            Err(Error::InvalidSignature)
        );
    }

    #[test]
    fn the_uncompressed_form_round_trips_and_has_one_encoding() {
        let (_, sig) = sample();
        let raw = sig.to_uncompressed();
        assert_eq!(
            Signature::from_uncompressed(&raw).expect("uncompressed"),
            sig
        );
        assert_eq!(Signature::from_wire(&raw).expect("wire, 96"), sig);
        assert_eq!(
            Signature::from_wire(&sig.to_bytes()).expect("wire, 48"),
            sig
        );
        // The compressed bytes padded to 96 with the flag set: blst alone would read
        // them as the same signature.
        let mut flagged = [0u8; 96];
        flagged[..48].copy_from_slice(&sig.to_bytes());
        assert!(matches!(
            Signature::from_uncompressed(&flagged),
            Err(Error::InvalidEncoding { .. })
        ));
        let mut infinity = [0u8; 96];
        infinity[0] = 0x40;
        assert!(Signature::from_uncompressed(&infinity).is_err());
        assert!(matches!(
            Signature::from_uncompressed(&raw[..95]),
            Err(Error::InvalidLength { got: 95, .. })
        ));
        // (4, sqrt(4^3 + 4)) is on the curve but outside the prime-order subgroup.
        let off = hex::decode(concat!(
            "000000000000000000000000000000000000000000000000",
            "000000000000000000000000000000000000000000000004",
            "0a989badd40d6212b33cffc3f3763e9bc760f988c9926b26",
            "da9dd85e928483446346b8ed00e1de5d5ea93e354abe706c"
        ))
        .expect("hex");
        assert!(matches!(
            Signature::from_uncompressed(&off),
            Err(Error::NotInSubgroup { .. })
        ));
        // Off the curve: y + 1.
        let mut bent = off.clone();
        bent[95] ^= 1;
        assert!(matches!(
            Signature::from_uncompressed(&bent),
            Err(Error::InvalidEncoding { .. })
        ));
    }

    #[test]
    fn infinity_is_refused() {
        let mut inf = [0u8; 48];
        inf[0] = 0xc0;
        assert_eq!(
            Signature::from_bytes(&inf).err(),
            Some(Error::PointAtInfinity { what: "signature" })
        );
    }

    #[test]
    fn every_flipped_bit_is_refused_or_fails_verification() {
        let (sk, sig) = sample();
        let pk = sk.public_key();
        let bytes = sig.to_bytes();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes;
            b[bit / 8] ^= 1 << (bit % 8);
            if let Ok(s) = Signature::from_bytes(&b) {
                assert!(
                    pk.verify(&Domain::SIGNATURE, b"hello", &s).is_err(),
                    "bit {bit}"
                );
            }
        }
    }
}
