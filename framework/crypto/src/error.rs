//! The one error type of this crate's signing and encoding boundary.

/// What went wrong when decoding, signing, verifying or aggregating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An encoding had the wrong number of bytes.
    #[error("{what}: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// The kind of value being decoded.
        what: &'static str,
        /// The length the encoding must have.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// The bytes are not a point on the curve, or a field element is out of range.
    #[error("{what}: not a valid encoding ({reason})")]
    InvalidEncoding {
        /// The kind of value being decoded.
        what: &'static str,
        /// Why the bytes were refused.
        reason: &'static str,
    },
    /// The point is the identity, which no honest key or signature can be.
    #[error("{what}: the point at infinity is not allowed")]
    PointAtInfinity {
        /// The kind of value being decoded.
        what: &'static str,
    },
    /// The point is on the curve but outside the prime-order subgroup.
    #[error("{what}: point is not in the prime-order subgroup")]
    NotInSubgroup {
        /// The kind of value being decoded.
        what: &'static str,
    },
    /// A secret key scalar was zero or not below the group order.
    #[error("secret key must be a non-zero scalar below the group order")]
    InvalidSecretKey,
    /// Key material for deterministic key generation was too short to be safe.
    #[error("key material must be at least 32 bytes, got {0}")]
    KeyMaterialTooShort(usize),
    /// A domain separation tag was empty or longer than 255 bytes.
    #[error("domain separation tag must be 1 to 255 bytes, got {0}")]
    InvalidDomainLength(usize),
    /// A domain separation tag that only proofs of possession may use.
    #[error("domain separation tag is reserved for proofs of possession")]
    ReservedDomain,
    /// The signature does not verify against the key(s) and message(s).
    #[error("signature verification failed")]
    InvalidSignature,
    /// The proof of possession does not match the public key.
    #[error("proof of possession does not verify for this public key")]
    InvalidProofOfPossession,
    /// An aggregate or batch was asked for over no elements.
    #[error("cannot aggregate or verify an empty set")]
    Empty,
    /// Parallel inputs of a batch had different lengths.
    #[error(
        "batch inputs differ in length: {keys} keys, {messages} messages, {signatures} signatures"
    )]
    BatchLengthMismatch {
        /// Number of public keys given.
        keys: usize,
        /// Number of messages given.
        messages: usize,
        /// Number of signatures given.
        signatures: usize,
    },
    /// A hex string could not be decoded.
    #[error("invalid hex: {0}")]
    InvalidHex(String),
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable: {0}")]
    Randomness(String),
}

impl Error {
    /// Maps a blst decoding failure to a typed error naming the value.
    pub(crate) fn from_blst(what: &'static str, err: blst::BLST_ERROR) -> Self {
        use blst::BLST_ERROR as E;
        match err {
            E::BLST_PK_IS_INFINITY => Error::PointAtInfinity { what },
            E::BLST_POINT_NOT_IN_GROUP => Error::NotInSubgroup { what },
            E::BLST_POINT_NOT_ON_CURVE => Error::InvalidEncoding {
                what,
                reason: "point is not on the curve",
            },
            E::BLST_BAD_ENCODING => Error::InvalidEncoding {
                what,
                reason: "malformed flags or field element",
            },
            E::BLST_VERIFY_FAIL => Error::InvalidSignature,
            E::BLST_AGGR_TYPE_MISMATCH => Error::Empty,
            E::BLST_SUCCESS | E::BLST_BAD_SCALAR => Error::InvalidEncoding {
                what,
                reason: "rejected by blst",
            },
        }
    }
}
