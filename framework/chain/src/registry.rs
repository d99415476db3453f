//! Reads an AVS's operator set, keys and stakes as they stood at a past block, with the
//! checkpoint indices ("hints") a certificate must name.
//!
//! # Security
//! The RPC endpoint is trusted to relay the chain (use your own node); the contract's
//! answers are still checked before the aggregator counts on them:
//! - every key decodes to a valid G2 subgroup point (the registry only takes keys with
//!   a proof of possession bound to their registrant, so no rogue-key sums);
//! - the listed keys must sum to the aggregate key the registry committed to at that
//!   block (`apkTag`): a reader that skipped or invented a member would fail here,
//!   before any certificate is built on it;
//! - indices that do not fit are refused, not truncated.
//!
//! What a lying RPC can still do: report a different block's set or stakes (the
//! certificate it leads to then fails on chain), or withhold answers (tasks skipped).

use alloy::primitives::Address;
use alloy::providers::Provider;
use bulwark_crypto::{AggregatePublicKey, PublicKey};

use crate::bindings::BasicAVS::{self, BasicAVSErrors};
use crate::{ChainError, points};

/// One registered operator at a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorEntry {
    /// The operator's address.
    pub address: Address,
    /// Its stake for this AVS, in gwei.
    pub stake_gwei: u64,
    /// Its BLS key.
    pub public_key: PublicKey,
    /// Index of its checkpoint in force at the block.
    pub hint: u32,
}

/// An AVS's operator set at a reference block.
#[derive(Clone, Debug)]
pub struct OperatorSet {
    /// The reference block.
    pub block: u32,
    /// Index of the set checkpoint in force at the block.
    pub set_hint: u32,
    /// Total registered stake, in gwei.
    pub total_stake_gwei: u64,
    /// The members, sorted by address (the order certificates list non-signers in).
    pub operators: Vec<OperatorEntry>,
}

impl OperatorSet {
    /// The member with `address`.
    pub fn get(&self, address: &Address) -> Option<&OperatorEntry> {
        self.operators
            .binary_search_by(|e| e.address.cmp(address))
            .ok()
            .and_then(|i| self.operators.get(i))
    }

    /// The sum of every member's key, as the registry checkpointed it.
    pub fn aggregate_key(&self) -> Result<AggregatePublicKey, ChainError> {
        AggregatePublicKey::aggregate(self.operators.iter().map(|e| &e.public_key))
            .map_err(|_| ChainError::EmptySet(self.block))
    }
}

/// Reads the set of the AVS at `avs` as it stood at the end of `block`, and checks the
/// keys it lists sum to the aggregate key the registry committed to.
pub async fn operator_set_at<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    block: u32,
) -> Result<OperatorSet, ChainError> {
    let contract = BasicAVS::new(avs, provider.clone());
    let set = match contract.setAt(block).call().await {
        Ok(set) => set,
        Err(e) if is_no_checkpoint(&e) => return Err(ChainError::EmptySet(block)),
        Err(e) => return Err(e.into()),
    };
    let mut operators = Vec::new();
    for address in contract.allOperators().call().await? {
        let entry = match contract.operatorAt(address, block).call().await {
            Ok(entry) => entry,
            Err(e) if is_no_checkpoint(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        if entry.checkpoint.keyTag.is_zero() {
            continue;
        }
        let key = contract.publicKeyOf(address).call().await?;
        let public_key = points::public_key(&key).map_err(|source| ChainError::InvalidKey {
            operator: address,
            source,
        })?;
        operators.push(OperatorEntry {
            address,
            stake_gwei: entry.checkpoint.stakeGwei,
            public_key,
            hint: u32::try_from(entry.index)
                .map_err(|_| ChainError::OutOfRange("checkpoint index"))?,
        });
    }
    operators.sort_by_key(|e| e.address);
    let result = OperatorSet {
        block,
        set_hint: u32::try_from(set.index).map_err(|_| ChainError::OutOfRange("set index"))?,
        total_stake_gwei: set.checkpoint.totalStakeGwei,
        operators,
    };
    let apk = result.aggregate_key()?;
    let tag = alloy::primitives::keccak256(apk.to_eip2537());
    if tag[..16] != set.checkpoint.apkTag[..] {
        return Err(ChainError::AggregateMismatch(block));
    }
    Ok(result)
}

fn is_no_checkpoint(e: &alloy::contract::Error) -> bool {
    matches!(
        e.as_decoded_interface_error::<BasicAVSErrors>(),
        Some(BasicAVSErrors::NoCheckpointAt(_))
    )
}
