//! Proofs of possession: a signature by a key over its own public key, under a tag no
//! other signature may use.
//!
//! Aggregating public keys is only safe when each key's owner knows its secret;
//! otherwise an attacker registers `pk_evil - pk_victim` and forges "both signed". The
//! registry accepts a key only with a valid proof (the "POP" scheme of
//! draft-irtf-cfrg-bls-signature-05, section 3.3).
//!
//! # Example
//! ```
//! use bulwark_crypto::SecretKey;
//! let sk = SecretKey::from_ikm(&[1u8; 32])?;
//! let proof = sk.prove_possession();
//! proof.verify(&sk.public_key())?;
//! # Ok::<(), bulwark_crypto::Error>(())
//! ```

use crate::encoding::impl_encodings;
use crate::{Domain, Error, PublicKey, SecretKey, Signature};

/// A proof that the holder of a public key knows its secret key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofOfPossession(Signature);

impl ProofOfPossession {
    /// Length of the compressed encoding.
    pub const LEN: usize = Signature::LEN;

    pub(crate) fn prove(sk: &SecretKey) -> Self {
        let message = sk.public_key().to_bytes();
        Self(Signature::from_blst(
            sk.sign_raw(&Domain::PROOF_OF_POSSESSION, &message),
        ))
    }

    /// Checks the proof against `public_key`.
    pub fn verify(&self, public_key: &PublicKey) -> Result<(), Error> {
        public_key
            .verify(
                &Domain::PROOF_OF_POSSESSION,
                &public_key.to_bytes(),
                &self.0,
            )
            .map_err(|_| Error::InvalidProofOfPossession)
    }

    /// Decodes and validates 48 compressed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Signature::from_bytes(bytes).map(Self)
    }

    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; 48] {
        self.0.to_bytes()
    }

    /// The 128-byte EIP-2537 encoding, for on-chain registration.
    pub fn to_eip2537(&self) -> [u8; 128] {
        self.0.to_eip2537()
    }

    /// The proof as a plain signature point (for encoders; it verifies only as a proof).
    pub fn as_signature(&self) -> &Signature {
        &self.0
    }
}

impl_encodings!(ProofOfPossession, 48, "proof of possession");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_is_bound_to_its_key_and_tag() {
        let a = SecretKey::from_ikm(&[1u8; 32]).expect("ikm");
        let b = SecretKey::from_ikm(&[2u8; 32]).expect("ikm");
        let proof = a.prove_possession();
        assert!(proof.verify(&a.public_key()).is_ok());
        assert_eq!(
            proof.verify(&b.public_key()),
            Err(Error::InvalidProofOfPossession)
        );
        // An ordinary signature over the key bytes is not a proof: the tags differ.
        let forged = a.sign(&Domain::SIGNATURE, &a.public_key().to_bytes());
        assert_eq!(
            ProofOfPossession(forged).verify(&a.public_key()),
            Err(Error::InvalidProofOfPossession)
        );
        // And a proof is not an ordinary signature over the key bytes.
        assert!(
            a.public_key()
                .verify(
                    &Domain::SIGNATURE,
                    &a.public_key().to_bytes(),
                    proof.as_signature()
                )
                .is_err()
        );
    }
}
