//! A staker's exposure: per AVS its operator is opted into, the stake at risk
//! (allocation times the staker's delegated stake), the slashes queued against the
//! operator there, and the compounded worst case across all of them, read at one
//! block. EigenLayer users ask for this and are told it is not supported.
//!
//! The worst case assumes every AVS slashes all it can (its whole allocation, one
//! after another on what the previous left), the loss a staker accepts by
//! delegating; each AVS's own per-offence fractions are usually far lower.

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;

use crate::ChainError;
use crate::bindings::{BasicAVS, SlashVeto};
use crate::restaking::{Allocation, Restaking};

const BPS: u64 = 10_000;

/// A slash proven against the operator and waiting out an AVS's veto window.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PendingSlash {
    /// Its id in the AVS's `SlashVeto`.
    pub slash_id: u64,
    /// The task it was proven on.
    pub task_id: u64,
    /// The offence.
    pub offence: B256,
    /// The fraction of the allocation it takes (1e18 = all).
    pub wad_fraction: U256,
    /// The first block it can execute.
    pub ready_block: u64,
    /// What the staker would lose to it, at today's stake.
    pub staker_loss: U256,
}

/// The staker's exposure to one AVS.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AvsExposure {
    /// The AVS and the operator's allocation to it.
    #[serde(flatten)]
    pub allocation: Allocation,
    /// The staker's stake the AVS can slash: allocation times its delegated stake.
    pub at_risk: U256,
    /// Slashes proven against the operator here and not yet executed.
    pub pending_slashes: Vec<PendingSlash>,
}

/// A staker's exposure at a block.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Exposure {
    /// The staker.
    pub staker: Address,
    /// The block read at.
    pub block: u64,
    /// Its operator (`None`: undelegated, nothing at risk).
    pub operator: Option<Address>,
    /// Its slashable stake: active plus queued for withdrawal.
    pub stake: U256,
    /// Per AVS.
    pub avs: Vec<AvsExposure>,
    /// The sum of the pending slashes' losses.
    pub pending_loss: U256,
    /// The loss if every AVS slashed its whole allocation, compounded.
    pub worst_case: U256,
}

/// Reads `staker`'s exposure at `block` from `restaking`, and the queued slashes
/// from each AVS's veto window (an AVS that is not a Bulwark task manager has none).
pub async fn exposure<R: Restaking, P: Provider + Clone>(
    restaking: &R,
    provider: &P,
    staker: Address,
    block: u64,
) -> Result<Exposure, ChainError> {
    let at = BlockId::number(block);
    let delegation = restaking.delegation(staker, at).await?;
    let stake = delegation.stake + delegation.queued_stake;
    let mut out = Exposure {
        staker,
        block,
        operator: delegation.operator,
        stake,
        avs: Vec::new(),
        pending_loss: U256::ZERO,
        worst_case: U256::ZERO,
    };
    let Some(operator) = delegation.operator else {
        return Ok(out);
    };
    let mut remaining = stake;
    for allocation in restaking.allocations(operator, at).await? {
        let bps = U256::from(allocation.bps);
        let at_risk = stake * bps / U256::from(BPS);
        remaining -= remaining * bps / U256::from(BPS);
        let pending_slashes =
            pending_slashes(provider, allocation.avs, operator, at_risk, block).await?;
        out.pending_loss += pending_slashes
            .iter()
            .fold(U256::ZERO, |sum, s| sum + s.staker_loss);
        out.avs.push(AvsExposure {
            allocation,
            at_risk,
            pending_slashes,
        });
    }
    out.worst_case = stake - remaining;
    Ok(out)
}

/// The slashes queued against `operator` on `avs` at `block`, each with what it would
/// take of `at_risk`.
async fn pending_slashes<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    operator: Address,
    at_risk: U256,
    block: u64,
) -> Result<Vec<PendingSlash>, ChainError> {
    let at = BlockId::number(block);
    // Anyone can register as an AVS: one without a veto window (or without code)
    // simply has no queued slashes.
    let Ok(veto) = BasicAVS::new(avs, provider.clone())
        .slashVeto()
        .block(at)
        .call()
        .await
    else {
        return Ok(Vec::new());
    };
    let veto = SlashVeto::new(veto, provider.clone());
    let Ok(count) = veto.slashCount().block(at).call().await else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut id = U256::ZERO;
    while id < count {
        let s = veto.slash(id).block(at).call().await?;
        // Status::Pending is 1.
        if s.operator == operator && s.status == 1 {
            out.push(PendingSlash {
                slash_id: u64::try_from(id).map_err(|_| ChainError::OutOfRange("slash id"))?,
                task_id: u64::try_from(s.taskId).map_err(|_| ChainError::OutOfRange("task id"))?,
                offence: s.offence,
                wad_fraction: s.wadFraction,
                ready_block: u64::from(s.readyBlock),
                staker_loss: at_risk * s.wadFraction / U256::from(10u64).pow(U256::from(18u64)),
            });
        }
        id += U256::from(1);
    }
    Ok(out)
}
