//! Batch verification of many (key, message, signature) triples, and finding the bad
//! signatures in a set whose aggregate fails.
//!
//! Verifying n signatures on n distinct messages one by one costs 2n Miller loops and n
//! final exponentiations. [`verify_batch`] weighs each triple by a fresh random 64-bit
//! scalar and checks them in one multi-pairing (n+1 Miller loops, one final
//! exponentiation): an invalid triple passes only with probability about 2^-64, and
//! without the random weights two bad signatures could be forged to cancel out.
//!
//! When a set fails, [`find_invalid`] and [`find_invalid_same_message`] bisect it: a
//! half that verifies is cleared with one check, so k bad signatures among n are found
//! in about `2k·log2(n)` checks instead of n.
//!
//! # Example
//! ```
//! use bulwark_crypto::{batch, Domain, SecretKey, SignedMessage};
//! let sks: Vec<_> = (1..=4u8).map(|i| SecretKey::from_ikm(&[i; 32])).collect::<Result<_, _>>()?;
//! let pks: Vec<_> = sks.iter().map(|k| k.public_key()).collect();
//! let msgs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i]).collect();
//! let mut sigs: Vec<_> = sks.iter().zip(&msgs).map(|(k, m)| k.sign(&Domain::SIGNATURE, m)).collect();
//! sigs[2] = sks[2].sign(&Domain::SIGNATURE, b"something else");
//! let items: Vec<_> = (0..4).map(|i| SignedMessage::new(&pks[i], &msgs[i], &sigs[i])).collect();
//! assert!(batch::verify_batch(&Domain::SIGNATURE, &items).is_err());
//! assert_eq!(batch::find_invalid(&Domain::SIGNATURE, &items), vec![2]);
//! # Ok::<(), bulwark_crypto::Error>(())
//! ```
//!
//! # Security
//! In [`find_invalid_same_message`], plain aggregation (no random weights) is used, as a
//! certificate is: two colluding signers can submit signatures that are individually
//! wrong but sum to the right aggregate. The resulting certificate is still valid for
//! the signer set; such pairs are not reported as invalid.

use std::ops::Range;

use crate::{AggregatePublicKey, AggregateSignature, Domain, Error, PublicKey, Signature};

/// One signature to check: who signed, what, and the signature.
#[derive(Clone, Copy, Debug)]
pub struct SignedMessage<'a> {
    /// The signer's key.
    pub public_key: &'a PublicKey,
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature to check.
    pub signature: &'a Signature,
}

impl<'a> SignedMessage<'a> {
    /// Bundles a triple.
    pub fn new(public_key: &'a PublicKey, message: &'a [u8], signature: &'a Signature) -> Self {
        Self {
            public_key,
            message,
            signature,
        }
    }
}

/// Bits of randomness per batch weight: forging a passing batch costs 2^64 work.
const RANDOM_BITS: usize = 64;

/// Checks all `items` at once with random weights; `Ok` means every one is valid (up to
/// a 2^-64 chance of error).
pub fn verify_batch(domain: &Domain, items: &[SignedMessage<'_>]) -> Result<(), Error> {
    if items.is_empty() {
        return Err(Error::Empty);
    }
    let mut random = vec![0u8; items.len() * 8];
    getrandom::fill(&mut random).map_err(|e| Error::Randomness(e.to_string()))?;
    let scalars: Vec<blst::blst_scalar> = random
        .chunks_exact(8)
        .map(|chunk| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(chunk);
            // A zero weight would drop the triple from the check.
            b[0] |= 1;
            blst::blst_scalar { b }
        })
        .collect();
    let msgs: Vec<&[u8]> = items.iter().map(|i| i.message).collect();
    let pks: Vec<&blst::min_sig::PublicKey> =
        items.iter().map(|i| i.public_key.as_blst()).collect();
    let sigs: Vec<&blst::min_sig::Signature> =
        items.iter().map(|i| i.signature.as_blst()).collect();
    match blst::min_sig::Signature::verify_multiple_aggregate_signatures(
        &msgs,
        domain.as_bytes(),
        &pks,
        false,
        &sigs,
        false,
        &scalars,
        RANDOM_BITS,
    ) {
        blst::BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(Error::InvalidSignature),
    }
}

/// Indices (ascending) of the invalid triples in `items`, by bisection over
/// [`verify_batch`]. Empty when all are valid.
pub fn find_invalid(domain: &Domain, items: &[SignedMessage<'_>]) -> Vec<usize> {
    bisect(items.len(), |range| {
        verify_batch(domain, &items[range]).is_ok()
    })
}

/// Indices (ascending) of the signatures in `signers` that are not valid signatures of
/// `message`, by bisection over same-message aggregates (one pairing check each).
pub fn find_invalid_same_message(
    domain: &Domain,
    message: &[u8],
    signers: &[(PublicKey, Signature)],
) -> Vec<usize> {
    bisect(signers.len(), |range| {
        let part = &signers[range];
        let (Ok(apk), Ok(asig)) = (
            AggregatePublicKey::aggregate(part.iter().map(|(pk, _)| pk)),
            AggregateSignature::aggregate(part.iter().map(|(_, sig)| sig)),
        ) else {
            return true;
        };
        asig.verify(domain, message, &apk).is_ok()
    })
}

/// Finds the indices in `0..len` that make `passes` fail, assuming a range passes
/// exactly when it holds no bad index (true for aggregate checks, up to the caveats
/// in the module docs).
///
/// A failing range is split; if its left half passes, the right half must fail and is
/// not checked again. Each bad index thus costs at most two checks per level.
pub(crate) fn bisect(len: usize, mut passes: impl FnMut(Range<usize>) -> bool) -> Vec<usize> {
    let mut bad = Vec::new();
    if len == 0 || passes(0..len) {
        return bad;
    }
    // Ranges known to contain at least one bad index, processed left to right.
    let mut stack = Vec::new();
    stack.push(0..len);
    while let Some(range) = stack.pop() {
        if range.len() == 1 {
            bad.push(range.start);
            continue;
        }
        let mid = range.start + range.len() / 2;
        let (left, right) = (range.start..mid, mid..range.end);
        if passes(left.clone()) {
            stack.push(right);
        } else if passes(right.clone()) {
            stack.push(left);
        } else {
            stack.push(right);
            stack.push(left);
        }
    }
    bad.sort_unstable();
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;
    use proptest::prelude::*;

    /// Counts how many checks bisection makes over a set with `bad` indices.
    fn run(len: usize, bad: &[usize]) -> (Vec<usize>, usize) {
        let mut checks = 0;
        let found = bisect(len, |r| {
            checks += 1;
            !bad.iter().any(|b| r.contains(b))
        });
        (found, checks)
    }

    #[test]
    fn bisection_cost_is_logarithmic() {
        let (found, checks) = run(1000, &[613]);
        assert_eq!(found, vec![613]);
        // One check of the whole set, then at most two per level of a depth-10 tree.
        assert!(checks <= 1 + 2 * 10, "{checks} checks for one bad in 1000");
        let bad: Vec<usize> = (0..10).map(|i| i * 97 + 3).collect();
        let (found, checks) = run(1000, &bad);
        assert_eq!(found, bad);
        assert!(
            checks <= 1 + 2 * 10 * 10,
            "{checks} checks for ten bad in 1000"
        );
        assert!(checks < 1000 / 4);
        assert_eq!(run(1000, &[]), (vec![], 1));
        assert_eq!(run(0, &[]), (vec![], 0));
    }

    proptest! {
        #[test]
        fn bisection_finds_exactly_the_bad(len in 1usize..300, picks in proptest::collection::vec(any::<usize>(), 0..20)) {
            let mut bad: Vec<usize> = picks.into_iter().map(|p| p % len).collect();
            bad.sort_unstable();
            bad.dedup();
            let (found, _) = run(len, &bad);
            prop_assert_eq!(found, bad);
        }
    }

    fn fixture(n: usize) -> (Vec<PublicKey>, Vec<Vec<u8>>, Vec<Signature>) {
        let sks: Vec<SecretKey> = (0..n)
            .map(|i| {
                let mut ikm = [0u8; 32];
                ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
                SecretKey::from_ikm(&ikm).expect("ikm")
            })
            .collect();
        let msgs: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let sigs = sks
            .iter()
            .zip(&msgs)
            .map(|(sk, m)| sk.sign(&Domain::SIGNATURE, m))
            .collect();
        (sks.iter().map(SecretKey::public_key).collect(), msgs, sigs)
    }

    #[test]
    fn batch_accepts_valid_and_finds_the_invalid() {
        let (pks, msgs, mut sigs) = fixture(40);
        let items = |sigs: &[Signature]| -> Vec<(PublicKey, Vec<u8>, Signature)> {
            (0..pks.len())
                .map(|i| (pks[i], msgs[i].clone(), sigs[i]))
                .collect()
        };
        let all = items(&sigs);
        let view: Vec<_> = all
            .iter()
            .map(|(p, m, s)| SignedMessage::new(p, m, s))
            .collect();
        assert!(verify_batch(&Domain::SIGNATURE, &view).is_ok());
        assert!(find_invalid(&Domain::SIGNATURE, &view).is_empty());

        // A signature swapped between two signers: each is a valid signature, of the wrong triple.
        sigs.swap(7, 30);
        let all = items(&sigs);
        let view: Vec<_> = all
            .iter()
            .map(|(p, m, s)| SignedMessage::new(p, m, s))
            .collect();
        assert_eq!(
            verify_batch(&Domain::SIGNATURE, &view),
            Err(Error::InvalidSignature)
        );
        assert_eq!(find_invalid(&Domain::SIGNATURE, &view), vec![7, 30]);
        assert_eq!(verify_batch(&Domain::SIGNATURE, &[]), Err(Error::Empty));
    }

    #[test]
    fn same_message_bisection_finds_the_invalid() {
        let (pks, _, _) = fixture(64);
        let sks: Vec<SecretKey> = (0..64usize)
            .map(|i| {
                let mut ikm = [0u8; 32];
                ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
                SecretKey::from_ikm(&ikm).expect("ikm")
            })
            .collect();
        let mut signers: Vec<(PublicKey, Signature)> = sks
            .iter()
            .zip(&pks)
            .map(|(sk, pk)| (*pk, sk.sign(&Domain::SIGNATURE, b"digest")))
            .collect();
        assert!(find_invalid_same_message(&Domain::SIGNATURE, b"digest", &signers).is_empty());
        for i in [0usize, 33, 63] {
            signers[i].1 = sks[i].sign(&Domain::SIGNATURE, b"other digest");
        }
        assert_eq!(
            find_invalid_same_message(&Domain::SIGNATURE, b"digest", &signers),
            vec![0, 33, 63]
        );
    }
}
