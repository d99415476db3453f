//! Aggregation of public keys and signatures, and same-message aggregate verification.
//!
//! n signatures on one message verify with n point additions on each side and a
//! single pairing check, instead of n pairing checks: this is what makes a certificate
//! from a thousand operators cheap to check, off-chain and on-chain alike.
//!
//! # Example
//! ```
//! use bulwark_crypto::{AggregatePublicKey, AggregateSignature, Domain, SecretKey};
//! let keys: Vec<SecretKey> = (1..=3u8).map(|i| SecretKey::from_ikm(&[i; 32])).collect::<Result<_, _>>()?;
//! let sigs: Vec<_> = keys.iter().map(|k| k.sign(&Domain::SIGNATURE, b"digest")).collect();
//! let apk = AggregatePublicKey::aggregate(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>().iter())?;
//! let asig = AggregateSignature::aggregate(sigs.iter())?;
//! asig.verify(&Domain::SIGNATURE, b"digest", &apk)?;
//! # Ok::<(), bulwark_crypto::Error>(())
//! ```
//!
//! # Security
//! Aggregating keys is sound only for keys whose owners proved possession
//! ([`crate::ProofOfPossession`]); the registry enforces that before a key is counted.

use crate::{Domain, Error, PublicKey, Signature};

/// The sum of a set of public keys.
#[derive(Clone, Copy)]
pub struct AggregatePublicKey(blst::min_sig::AggregatePublicKey);

impl AggregatePublicKey {
    /// Sums `keys`; refuses an empty set.
    pub fn aggregate<'a>(keys: impl IntoIterator<Item = &'a PublicKey>) -> Result<Self, Error> {
        // One batched affine addition, as for signatures.
        let points: Vec<blst::min_sig::PublicKey> =
            keys.into_iter().map(|k| *k.as_blst()).collect();
        if points.is_empty() {
            return Err(Error::Empty);
        }
        Ok(Self(blst::MultiPoint::add(points.as_slice())))
    }

    /// Adds one key.
    pub fn add(&mut self, key: &PublicKey) {
        // Keys are validated on construction; blst need not check again.
        let _ = self.0.add_public_key(key.as_blst(), false);
    }

    /// Adds another aggregate.
    pub fn add_aggregate(&mut self, other: &AggregatePublicKey) {
        self.0.add_aggregate(&other.0);
    }

    /// Removes one key, as a verifier does for each non-signer of a certificate.
    pub fn subtract(&mut self, key: &PublicKey) {
        self.0
            .sub_aggregate(&blst::min_sig::AggregatePublicKey::from_public_key(
                key.as_blst(),
            ));
    }

    /// The sum as a single key, for the compressed or EIP-2537 encodings. `None` when
    /// the sum is the identity (an empty difference), which no signature can match.
    pub fn to_public_key(&self) -> Option<PublicKey> {
        let pk = self.0.to_public_key();
        pk.validate().ok()?;
        Some(PublicKey::from_validated_blst(pk))
    }

    /// The 256-byte EIP-2537 encoding of the sum (all zeros for the identity).
    pub fn to_eip2537(&self) -> [u8; 256] {
        self.to_public_key()
            .map_or([0u8; 256], |pk| pk.to_eip2537())
    }
}

/// The sum of a set of signatures.
#[derive(Clone, Copy)]
pub struct AggregateSignature(blst::min_sig::AggregateSignature);

impl AggregateSignature {
    /// Sums `signatures`; refuses an empty set.
    pub fn aggregate<'a>(
        signatures: impl IntoIterator<Item = &'a Signature>,
    ) -> Result<Self, Error> {
        // One batched affine addition (blst's `p1s_add`, Montgomery's trick for the
        // inversions): several times faster than adding points one by one, which
        // matters for a certificate of 10,000 signatures.
        let points: Vec<blst::min_sig::Signature> =
            signatures.into_iter().map(|s| *s.as_blst()).collect();
        if points.is_empty() {
            return Err(Error::Empty);
        }
        Ok(Self(blst::MultiPoint::add(points.as_slice())))
    }

    /// Adds one signature.
    pub fn add(&mut self, signature: &Signature) {
        // Signatures are group-checked on construction.
        let _ = self.0.add_signature(signature.as_blst(), false);
    }

    /// The sum as one signature, e.g. for a certificate. Fails only if the sum is the
    /// identity, which happens when submitted signatures cancel out: such a set never
    /// verifies against a non-empty set of honest keys.
    pub fn to_signature(&self) -> Result<Signature, Error> {
        let sig = self.0.to_signature();
        sig.validate(true)
            .map_err(|e| Error::from_blst("aggregate signature", e))?;
        Ok(Signature::from_blst(sig))
    }

    /// Checks that the sum is a valid signature of `message` by the sum `key`: one
    /// pairing check.
    pub fn verify(
        &self,
        domain: &Domain,
        message: &[u8],
        key: &AggregatePublicKey,
    ) -> Result<(), Error> {
        let sig = self.0.to_signature();
        let pk = key.0.to_public_key();
        match sig.fast_aggregate_verify_pre_aggregated(false, message, domain.as_bytes(), &pk) {
            blst::BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(Error::InvalidSignature),
        }
    }
}

impl PublicKey {
    /// Whether an aggregate of `keys` matches `signature` on `message` (the IETF
    /// `FastAggregateVerify`): n key additions and one pairing check.
    pub fn fast_aggregate_verify(
        domain: &Domain,
        message: &[u8],
        keys: &[PublicKey],
        signature: &Signature,
    ) -> Result<(), Error> {
        let apk = AggregatePublicKey::aggregate(keys)?;
        AggregateSignature::aggregate([signature])?.verify(domain, message, &apk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn signers(n: u8) -> Vec<(SecretKey, PublicKey)> {
        (1..=n)
            .map(|i| {
                let sk = SecretKey::from_ikm(&[i; 32]).expect("ikm");
                let pk = sk.public_key();
                (sk, pk)
            })
            .collect()
    }

    #[test]
    fn same_message_aggregate_verifies_and_detects_a_missing_signer() {
        let s = signers(5);
        let pks: Vec<_> = s.iter().map(|(_, pk)| *pk).collect();
        let sigs: Vec<_> = s
            .iter()
            .map(|(sk, _)| sk.sign(&Domain::SIGNATURE, b"m"))
            .collect();
        let apk = AggregatePublicKey::aggregate(&pks).expect("keys");
        let asig = AggregateSignature::aggregate(&sigs).expect("sigs");
        assert!(asig.verify(&Domain::SIGNATURE, b"m", &apk).is_ok());
        assert!(asig.verify(&Domain::SIGNATURE, b"n", &apk).is_err());
        let short = AggregateSignature::aggregate(&sigs[..4]).expect("sigs");
        assert!(short.verify(&Domain::SIGNATURE, b"m", &apk).is_err());
        // Subtracting the missing signer's key makes it verify: the non-signer path.
        let mut apk4 = apk;
        apk4.subtract(&pks[4]);
        assert!(short.verify(&Domain::SIGNATURE, b"m", &apk4).is_ok());
        let one = short.to_signature().expect("not identity");
        assert!(
            PublicKey::fast_aggregate_verify(&Domain::SIGNATURE, b"m", &pks[..4], &one).is_ok()
        );
    }

    #[test]
    fn empty_sets_are_refused() {
        assert!(matches!(
            AggregatePublicKey::aggregate(&[]),
            Err(Error::Empty)
        ));
        assert!(matches!(
            AggregateSignature::aggregate(&[]),
            Err(Error::Empty)
        ));
    }

    #[test]
    fn subtracting_everything_leaves_the_identity() {
        let s = signers(2);
        let mut apk = AggregatePublicKey::aggregate([&s[0].1, &s[1].1]).expect("keys");
        apk.subtract(&s[0].1);
        assert_eq!(apk.to_public_key(), Some(s[1].1));
        apk.subtract(&s[1].1);
        assert_eq!(apk.to_public_key(), None);
        assert_eq!(apk.to_eip2537(), [0u8; 256]);
    }
}
