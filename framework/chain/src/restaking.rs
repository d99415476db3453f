//! The restaking layer behind one trait: what Bulwark reads of it (stake, allocations,
//! delegations, rewards owed, each at a block) and does with it (opt in, claim
//! rewards). [`DevnetCore`], Bulwark's own `RestakingCore`, is its first
//! implementation; an adapter to EigenLayer or Symbiotic implements the same trait,
//! and what is built on it ([`crate::exposure`], the CLI) works unchanged. On chain,
//! the AVS contracts reach the layer the same way, through `IRestakingCore`.
//!
//! Slashing is not here: an AVS slashes through its own contract (`challenge`, see
//! [`crate::slashing`]), which calls the layer's `slash`.

use std::future::Future;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;

use crate::ChainError;
use crate::bindings::RestakingCore;
use crate::devnet::mined;

/// One AVS an operator is opted into, and how much of its stake it allocated there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Allocation {
    /// The AVS.
    pub avs: Address,
    /// Basis points of the operator's stake the AVS can slash now.
    pub bps: u16,
    /// A lower allocation waiting for the withdrawal delay, and the block it takes
    /// effect (until then `bps` stays slashable).
    pub pending: Option<(u16, u64)>,
}

/// Whom a staker delegates to, and what its stake is worth.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Delegation {
    /// The operator (`None`: undelegated, never slashable).
    pub operator: Option<Address>,
    /// The staker's shares in the operator's pool.
    pub shares: U256,
    /// What they are worth in the staking asset.
    pub stake: U256,
    /// Shares queued for withdrawal (still slashable until completed) and their worth.
    pub queued_stake: U256,
}

/// What Bulwark needs from a restaking layer. Reads take the block to read at, so
/// answers about the past (a certificate's reference block) stay exact.
pub trait Restaking {
    /// The token stake is held and slashed in.
    fn asset(&self) -> impl Future<Output = Result<Address, ChainError>> + Send;

    /// Blocks stake stays slashable after it starts to leave.
    fn withdrawal_delay(&self) -> impl Future<Output = Result<u32, ChainError>> + Send;

    /// `staker`'s delegation at `at`.
    fn delegation(
        &self,
        staker: Address,
        at: BlockId,
    ) -> impl Future<Output = Result<Delegation, ChainError>> + Send;

    /// Every AVS `operator` is opted into at `at`, with its allocation.
    fn allocations(
        &self,
        operator: Address,
        at: BlockId,
    ) -> impl Future<Output = Result<Vec<Allocation>, ChainError>> + Send;

    /// The stake `operator` offers `avs` at `at` (what the AVS may weigh).
    fn allocated_stake(
        &self,
        operator: Address,
        avs: Address,
        at: BlockId,
    ) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// What can be slashed of `operator`'s pool at `at` (queued withdrawals included).
    fn slashable_stake(
        &self,
        operator: Address,
        at: BlockId,
    ) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// Rewards `account` (a staker or an operator) can claim in `token` at `at`.
    fn pending_rewards(
        &self,
        account: Address,
        token: Address,
        at: BlockId,
    ) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// Claims the sender's rewards in `token`; returns the amount paid.
    fn claim_rewards(
        &self,
        token: Address,
    ) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// Opts the sender (an operator) into `avs` with `bps` of its stake.
    fn opt_in(&self, avs: Address, bps: u16)
    -> impl Future<Output = Result<(), ChainError>> + Send;
}

/// Bulwark's devnet `RestakingCore` at an address.
#[derive(Clone, Debug)]
pub struct DevnetCore<P> {
    core: RestakingCore::RestakingCoreInstance<P>,
}

impl<P: Provider + Clone> DevnetCore<P> {
    /// The core at `address`, read and driven through `provider`.
    pub fn new(address: Address, provider: P) -> Self {
        Self {
            core: RestakingCore::new(address, provider),
        }
    }

    /// The core's address.
    pub fn address(&self) -> Address {
        *self.core.address()
    }
}

impl<P: Provider + Clone + Send + Sync> Restaking for DevnetCore<P> {
    async fn asset(&self) -> Result<Address, ChainError> {
        Ok(self.core.asset().call().await?)
    }

    async fn withdrawal_delay(&self) -> Result<u32, ChainError> {
        Ok(self.core.withdrawalDelay().call().await?)
    }

    async fn delegation(&self, staker: Address, at: BlockId) -> Result<Delegation, ChainError> {
        let operator = self.core.delegatedTo(staker).block(at).call().await?;
        let shares = self.core.sharesOf(staker).block(at).call().await?;
        let stake = self.core.stakeOf(staker).block(at).call().await?;
        let mut queued_shares = U256::ZERO;
        if !operator.is_zero() {
            // Queued withdrawals leave the staker's shares but stay in the pool, and
            // so stay slashable, until completed.
            let count = self.core.withdrawalCount().block(at).call().await?;
            let mut id = U256::ZERO;
            while id < count {
                let w = self.core.withdrawal(id).block(at).call().await?;
                if w.staker == staker && w.operator == operator && !w.completed {
                    queued_shares += w.shares;
                }
                id += U256::from(1);
            }
        }
        let queued_stake = if queued_shares.is_zero() {
            U256::ZERO
        } else {
            let pool = self.core.poolOf(operator).block(at).call().await?;
            // The core's own rounding (virtual shares and assets).
            queued_shares * (pool.assets + U256::from(1)) / (pool.shares + U256::from(1000))
        };
        Ok(Delegation {
            operator: (!operator.is_zero()).then_some(operator),
            shares,
            stake,
            queued_stake,
        })
    }

    async fn allocations(
        &self,
        operator: Address,
        at: BlockId,
    ) -> Result<Vec<Allocation>, ChainError> {
        let mut out = Vec::new();
        for avs in self.core.avsesOfOperator(operator).block(at).call().await? {
            let a = self.core.allocation(operator, avs).block(at).call().await?;
            out.push(Allocation {
                avs,
                bps: a.bps,
                pending: (a.effectiveBlock != 0)
                    .then_some((a.pendingBps, u64::from(a.effectiveBlock))),
            });
        }
        Ok(out)
    }

    async fn allocated_stake(
        &self,
        operator: Address,
        avs: Address,
        at: BlockId,
    ) -> Result<U256, ChainError> {
        Ok(self
            .core
            .allocatedStake(operator, avs)
            .block(at)
            .call()
            .await?)
    }

    async fn slashable_stake(&self, operator: Address, at: BlockId) -> Result<U256, ChainError> {
        Ok(self.core.slashableStake(operator).block(at).call().await?)
    }

    async fn pending_rewards(
        &self,
        account: Address,
        token: Address,
        at: BlockId,
    ) -> Result<U256, ChainError> {
        Ok(self
            .core
            .pendingRewards(account, token)
            .block(at)
            .call()
            .await?)
    }

    async fn claim_rewards(&self, token: Address) -> Result<U256, ChainError> {
        let pending = self.core.claimRewards(token).send().await?;
        let receipt = mined(self.core.provider(), pending).await?;
        receipt
            .decoded_log::<RestakingCore::RewardsClaimed>()
            .map(|log| log.amount)
            .ok_or(ChainError::MissingEvent(
                receipt.transaction_hash,
                "RewardsClaimed",
            ))
    }

    async fn opt_in(&self, avs: Address, bps: u16) -> Result<(), ChainError> {
        let pending = self.core.allocate(avs, bps).send().await?;
        mined(self.core.provider(), pending).await?;
        Ok(())
    }
}
