//! What an operator sends to register its BLS key with an AVS: the key and a proof of
//! possession bound to the chain, the AVS's registry contract and the operator account.
//!
//! # Security
//! The proof names its registrant (`bulwark_crypto::pop`): made here for `operator`, it
//! registers the key for `operator` at `registry` on `chain_id` only, so a copy taken
//! from the mempool is worthless to anyone else. The chain id must be the one the
//! registry reads as `block.chainid` (ask the node, [`KeyRegistration::for_chain`]),
//! or the registry refuses the proof with `InvalidProofOfPossession`.

use alloy::primitives::Address;
use alloy::providers::Provider;
use bulwark_crypto::{PossessionBinding, SecretKey};

use crate::ChainError;
use crate::bindings::BLS;
use crate::points;

/// The arguments of `registerOperator(publicKey, proof)` for one operator at one AVS.
#[derive(Clone, Debug)]
pub struct KeyRegistration {
    /// The operator's BLS public key, EIP-2537 encoded.
    pub public_key: BLS::G2Point,
    /// Its proof of possession, bound to the chain, the registry and the operator.
    pub proof: BLS::G1Point,
}

impl KeyRegistration {
    /// The registration of `key` by `operator` at `registry` on chain `chain_id`.
    pub fn new(key: &SecretKey, chain_id: u64, registry: Address, operator: Address) -> Self {
        let proof = key.prove_possession(&possession_binding(chain_id, registry, operator));
        Self {
            public_key: points::g2_point(&key.public_key()),
            proof: points::g1_point(proof.as_signature()),
        }
    }

    /// [`Self::new`] with the chain id read from the node `provider` talks to.
    pub async fn for_chain<P: Provider>(
        provider: &P,
        key: &SecretKey,
        registry: Address,
        operator: Address,
    ) -> Result<Self, ChainError> {
        let chain_id = provider.get_chain_id().await?;
        Ok(Self::new(key, chain_id, registry, operator))
    }
}

/// The binding a proof of possession for `operator` at `registry` on `chain_id` signs,
/// the same bytes as the registry's `possessionBinding(operator)`.
pub fn possession_binding(
    chain_id: u64,
    registry: Address,
    operator: Address,
) -> PossessionBinding {
    PossessionBinding {
        chain_id,
        registry: registry.into_array(),
        operator: operator.into_array(),
    }
}
