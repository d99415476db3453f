//! Domain separation tags as a type, so no signature can be made or checked without one.
//!
//! A BLS signature over the same message under two different tags is unrelated, so a
//! tag names the *purpose* of a signature. Bulwark never accepts a free string where a
//! tag belongs: every sign and verify call takes a [`Domain`], and the tag reserved for
//! proofs of possession cannot be constructed outside this crate, so a task signature
//! can never be passed off as a proof of possession or the other way round.
//!
//! # Example
//! ```
//! use bulwark_crypto::Domain;
//! let app = Domain::new(b"MY-AVS-V1_BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_".to_vec())?;
//! assert_ne!(app, Domain::SIGNATURE);
//! assert!(Domain::new(Vec::new()).is_err());
//! # Ok::<(), bulwark_crypto::Error>(())
//! ```

use std::borrow::Cow;

use crate::Error;

/// Tag of the IETF ciphersuite `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_` (signatures in
/// G1, proof-of-possession scheme) used for ordinary messages.
const SIGNATURE_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_";
/// Tag the same ciphersuite reserves for proofs of possession.
const POP_DST: &[u8] = b"BLS_POP_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_";

/// A domain separation tag (DST) for hashing messages to the curve: 1 to 255 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Domain(Cow<'static, [u8]>);

impl Domain {
    /// The longest tag hash-to-curve (RFC 9380) accepts.
    pub const MAX_LEN: usize = 255;

    /// The standard tag for signatures of the minimal-signature-size, proof-of-possession
    /// ciphersuite (draft-irtf-cfrg-bls-signature-05, section 4.2.3).
    pub const SIGNATURE: Domain = Domain(Cow::Borrowed(SIGNATURE_DST));

    /// The tag of proofs of possession; private so only [`crate::ProofOfPossession`] uses it.
    pub(crate) const PROOF_OF_POSSESSION: Domain = Domain(Cow::Borrowed(POP_DST));

    /// An application tag, e.g. one per protocol version, so keys shared across
    /// protocols cannot have signatures replayed between them.
    ///
    /// Refuses an empty tag, one over 255 bytes, and the proof-of-possession tag.
    pub fn new(tag: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let tag = tag.into();
        if tag.is_empty() || tag.len() > Self::MAX_LEN {
            return Err(Error::InvalidDomainLength(tag.len()));
        }
        if tag == POP_DST {
            return Err(Error::ReservedDomain);
        }
        Ok(Domain(Cow::Owned(tag)))
    }

    /// The tag's bytes, as fed to `expand_message_xmd`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Domain({:?})", String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_lengths_and_the_pop_tag() {
        assert_eq!(Domain::new(vec![]), Err(Error::InvalidDomainLength(0)));
        assert_eq!(
            Domain::new(vec![b'a'; 256]),
            Err(Error::InvalidDomainLength(256))
        );
        assert!(Domain::new(vec![b'a'; 255]).is_ok());
        assert_eq!(Domain::new(POP_DST.to_vec()), Err(Error::ReservedDomain));
    }

    #[test]
    fn standard_tags_differ() {
        assert_ne!(Domain::SIGNATURE, Domain::PROOF_OF_POSSESSION);
    }
}
