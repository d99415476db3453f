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

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use bulwark_crypto::{AggregatePublicKey, PublicKey};

use crate::bindings::BasicAVS::BasicAVSErrors;
use crate::bindings::lens::{BLS as LensBLS, OperatorSetLens};
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
///
/// One `eth_call` per [`PAGE`] operators ever registered (the lens walks them in the
/// EVM and sends only those registered at the block), instead of two calls per
/// operator: a set of 1,000 is 4 calls, not 2,002.
pub async fn operator_set_at<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    block: u32,
) -> Result<OperatorSet, ChainError> {
    operator_set_paged(provider, avs, block, PAGE).await
}

/// [`operator_set_at`] reading `page` operators per call (tests use small pages to
/// cross page boundaries with a few operators).
pub async fn operator_set_paged<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    block: u32,
    page: u64,
) -> Result<OperatorSet, ChainError> {
    let page_size = page.max(1);
    let mut operators = Vec::new();
    let mut start = 0u64;
    let first = loop {
        let page = read_page(provider, avs, block, start, page_size).await?;
        for member in &page.members {
            let public_key = points::public_key(&g2(&member.publicKey)).map_err(|source| {
                ChainError::InvalidKey {
                    operator: member.operator,
                    source,
                }
            })?;
            operators.push(OperatorEntry {
                address: member.operator,
                stake_gwei: member.stakeGwei,
                public_key,
                hint: u32::try_from(member.index)
                    .map_err(|_| ChainError::OutOfRange("checkpoint index"))?,
            });
        }
        start += page_size;
        if U256::from(start) >= page.everRegistered {
            break page;
        }
    };
    operators.sort_by_key(|e| e.address);
    if operators.windows(2).any(|w| w[0].address == w[1].address) {
        return Err(ChainError::AggregateMismatch(block));
    }
    let result = OperatorSet {
        block,
        set_hint: u32::try_from(first.setIndex).map_err(|_| ChainError::OutOfRange("set index"))?,
        total_stake_gwei: first.set.totalStakeGwei,
        operators,
    };
    let apk = result.aggregate_key()?;
    let tag = alloy::primitives::keccak256(apk.to_eip2537());
    if tag[..16] != first.set.apkTag[..] {
        return Err(ChainError::AggregateMismatch(block));
    }
    Ok(result)
}

/// The lens's copy of the registry's G2 point type, as the registry's.
fn g2(p: &LensBLS::G2Point) -> crate::bindings::BLS::G2Point {
    crate::bindings::BLS::G2Point {
        x0Hi: p.x0Hi,
        x0Lo: p.x0Lo,
        x1Hi: p.x1Hi,
        x1Lo: p.x1Lo,
        y0Hi: p.y0Hi,
        y0Lo: p.y0Lo,
        y1Hi: p.y1Hi,
        y1Lo: p.y1Lo,
    }
}

/// Operators read per `eth_call`: about 25,000 gas each (a checkpoint search and a
/// key), so a page stays near 6.5 M gas, under every node's `eth_call` gas cap.
pub const PAGE: u64 = 256;

/// One page of the set, by running [`OperatorSetLens`]'s creation code in an
/// `eth_call` (nothing is deployed).
async fn read_page<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    block: u32,
    start: u64,
    count: u64,
) -> Result<OperatorSetLens::Page, ChainError> {
    use alloy::network::TransactionBuilder;
    use alloy::sol_types::{SolConstructor, SolValue};
    let args = OperatorSetLens::constructorCall {
        avs,
        blockNumber: block,
        start: U256::from(start),
        count: U256::from(count),
    };
    let mut code = OperatorSetLens::BYTECODE.to_vec();
    code.extend_from_slice(&args.abi_encode());
    let call = alloy::rpc::types::TransactionRequest::default().with_deploy_code(code);
    let output = match provider.call(call).await {
        Ok(output) => output,
        Err(e) => {
            let no_checkpoint = e
                .as_error_resp()
                .and_then(|p| p.as_decoded_interface_error::<BasicAVSErrors>())
                .is_some_and(|e| matches!(e, BasicAVSErrors::NoCheckpointAt(_)));
            if no_checkpoint {
                return Err(ChainError::EmptySet(block));
            }
            return Err(e.into());
        }
    };
    OperatorSetLens::Page::abi_decode(&output)
        .map_err(|_| ChainError::OutOfRange("operator set page"))
}
