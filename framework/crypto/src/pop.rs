//! Proofs of possession: a signature by a key over its own public key and the
//! registration it is for, under a tag no other signature may use.
//!
//! Aggregating public keys is only safe when each key's owner knows its secret;
//! otherwise an attacker registers `pk_evil - pk_victim` and forges "both signed". The
//! registry accepts a key only with a valid proof (the "POP" scheme of
//! draft-irtf-cfrg-bls-signature-05, section 3.3, with the registrant appended to the
//! signed key, see below).
//!
//! # Security
//! A proof made over the key alone is a bearer token: it travels in the registration
//! transaction, so anyone who sees it in the mempool can register the key first, and a
//! registry that reserves each key to its first registrant locks the real operator
//! out for good. So the proof also signs a [`PossessionBinding`]: the chain, the
//! registry contract and the operator account it registers. A copied proof verifies
//! for no other sender, registry or chain. The signed message is
//!
//! ```text
//! offset  length  field
//!      0      96  public key, compressed (PublicKey::to_bytes)
//!     96      32  PossessionBinding::TAG, "bulwark.possession.v1" right-padded with zeros
//!    128      32  chain id, big-endian (a uint256, as block.chainid)
//!    160      20  registry contract address
//!    180      20  operator address (the account that sends the registration)
//! ```
//!
//! 200 bytes, hashed to G1 under the POP tag: exactly what `OperatorRegistry` builds
//! from `block.chainid`, `address(this)` and `msg.sender` (Solidity
//! `abi.encodePacked(BLS.compress(pk), POSSESSION_TAG, block.chainid, address(this),
//! operator)`). The key comes first and the POP tag is reserved, so the rogue-key
//! defence is the standard one; the tag versions the layout. What is not bound: the
//! key itself is public, and a proof for one (operator, registry, chain) can be
//! replayed for that same triple, which only re-does what its owner asked for.
//!
//! # Example
//! ```
//! use bulwark_crypto::{PossessionBinding, SecretKey};
//! let sk = SecretKey::from_ikm(&[1u8; 32])?;
//! let binding = PossessionBinding {
//!     chain_id: 31337,
//!     registry: [0x11; 20],
//!     operator: [0x22; 20],
//! };
//! let proof = sk.prove_possession(&binding);
//! proof.verify(&sk.public_key(), &binding)?;
//! // Copied by anyone else, it proves nothing.
//! let thief = PossessionBinding { operator: [0x33; 20], ..binding };
//! assert!(proof.verify(&sk.public_key(), &thief).is_err());
//! # Ok::<(), bulwark_crypto::Error>(())
//! ```

use crate::encoding::impl_encodings;
use crate::{Domain, Error, PublicKey, SecretKey, Signature};

/// The registration a proof of possession is for: which chain, which registry
/// contract, which operator account. Addresses are the 20 raw bytes of an Ethereum
/// address, so this crate needs no Ethereum library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PossessionBinding {
    /// The chain's id (EIP-155), as the registry reads `block.chainid`.
    pub chain_id: u64,
    /// The registry contract's address.
    pub registry: [u8; 20],
    /// The operator account that sends the registration (`msg.sender`).
    pub operator: [u8; 20],
}

impl PossessionBinding {
    /// Version tag that starts the binding, `bytes32("bulwark.possession.v1")`.
    pub const TAG: [u8; 32] = *b"bulwark.possession.v1\0\0\0\0\0\0\0\0\0\0\0";
    /// Length of [`Self::to_bytes`]: tag, chain id word, two addresses.
    pub const LEN: usize = 32 + 32 + 20 + 20;

    /// The binding's bytes, as the registry's `possessionBinding(operator)` returns them
    /// (layout in the [module docs](self)).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..32].copy_from_slice(&Self::TAG);
        // The chain id as a 32-byte big-endian word: 24 zero bytes, then the u64.
        out[56..64].copy_from_slice(&self.chain_id.to_be_bytes());
        out[64..84].copy_from_slice(&self.registry);
        out[84..].copy_from_slice(&self.operator);
        out
    }
}

/// A proof that the holder of a public key knows its secret key, made for one
/// registration ([`PossessionBinding`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofOfPossession(Signature);

impl ProofOfPossession {
    /// Length of the compressed encoding.
    pub const LEN: usize = Signature::LEN;
    /// Length of [`Self::message`].
    pub const MESSAGE_LEN: usize = PublicKey::LEN + PossessionBinding::LEN;

    /// The bytes a proof for `public_key` and `binding` signs: the compressed key, then
    /// the binding (layout in the [module docs](self)).
    pub fn message(public_key: &PublicKey, binding: &PossessionBinding) -> [u8; Self::MESSAGE_LEN] {
        let mut out = [0u8; Self::MESSAGE_LEN];
        out[..PublicKey::LEN].copy_from_slice(&public_key.to_bytes());
        out[PublicKey::LEN..].copy_from_slice(&binding.to_bytes());
        out
    }

    pub(crate) fn prove(sk: &SecretKey, binding: &PossessionBinding) -> Self {
        let message = Self::message(&sk.public_key(), binding);
        Self(Signature::from_blst(
            sk.sign_raw(&Domain::PROOF_OF_POSSESSION, &message),
        ))
    }

    /// Checks the proof against `public_key`, for the registration `binding` names.
    pub fn verify(&self, public_key: &PublicKey, binding: &PossessionBinding) -> Result<(), Error> {
        public_key
            .verify(
                &Domain::PROOF_OF_POSSESSION,
                &Self::message(public_key, binding),
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

    const BINDING: PossessionBinding = PossessionBinding {
        chain_id: 31337,
        registry: [0xaa; 20],
        operator: [0xbb; 20],
    };

    #[test]
    fn proof_is_bound_to_its_key_and_tag() {
        let a = SecretKey::from_ikm(&[1u8; 32]).expect("ikm");
        let b = SecretKey::from_ikm(&[2u8; 32]).expect("ikm");
        let proof = a.prove_possession(&BINDING);
        assert!(proof.verify(&a.public_key(), &BINDING).is_ok());
        assert_eq!(
            proof.verify(&b.public_key(), &BINDING),
            Err(Error::InvalidProofOfPossession)
        );
        // An ordinary signature over the same bytes is not a proof: the tags differ.
        let message = ProofOfPossession::message(&a.public_key(), &BINDING);
        let forged = a.sign(&Domain::SIGNATURE, &message);
        assert_eq!(
            ProofOfPossession(forged).verify(&a.public_key(), &BINDING),
            Err(Error::InvalidProofOfPossession)
        );
        // And a proof is not an ordinary signature over them.
        assert!(
            a.public_key()
                .verify(&Domain::SIGNATURE, &message, proof.as_signature())
                .is_err()
        );
    }

    #[test]
    fn proof_is_bound_to_its_registration() {
        let sk = SecretKey::from_ikm(&[3u8; 32]).expect("ikm");
        let pk = sk.public_key();
        let proof = sk.prove_possession(&BINDING);
        let others = [
            PossessionBinding {
                operator: [0xcc; 20],
                ..BINDING
            },
            PossessionBinding {
                registry: [0xcc; 20],
                ..BINDING
            },
            PossessionBinding {
                chain_id: 1,
                ..BINDING
            },
        ];
        for other in others {
            assert_eq!(
                proof.verify(&pk, &other),
                Err(Error::InvalidProofOfPossession),
                "{other:?}"
            );
        }
        // The unbound proof of the IETF scheme (over the key alone) is refused too.
        let unbound = sk.sign_raw(&Domain::PROOF_OF_POSSESSION, &pk.to_bytes());
        assert_eq!(
            ProofOfPossession(Signature::from_blst(unbound)).verify(&pk, &BINDING),
            Err(Error::InvalidProofOfPossession)
        );
    }

    #[test]
    fn message_layout_is_the_documented_one() {
        let sk = SecretKey::from_ikm(&[4u8; 32]).expect("ikm");
        let binding = PossessionBinding {
            chain_id: 0x0102_0304_0506_0708,
            registry: [0x11; 20],
            operator: [0x22; 20],
        };
        let message = ProofOfPossession::message(&sk.public_key(), &binding);
        assert_eq!(message.len(), 200);
        assert_eq!(&message[..96], &sk.public_key().to_bytes());
        assert_eq!(&message[96..117], b"bulwark.possession.v1");
        assert_eq!(&message[117..152], &[0u8; 35]);
        assert_eq!(&message[152..160], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&message[160..180], &[0x11; 20]);
        assert_eq!(&message[180..], &[0x22; 20]);
    }
}
