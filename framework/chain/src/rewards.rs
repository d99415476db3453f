//! Rewards per epoch through an AVS's `RewardsDistributor`: funding an epoch, working
//! out from the chain what each operator can prove it signed, and claiming for it.
//!
//! # Security
//! Everything a claim lists is read from the chain's own records (`TaskResponded`,
//! `TaskNonSigners`, the registry's checkpoints), and the distributor checks it all
//! again: a wrong list costs a revert, never funds.

use std::collections::BTreeMap;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;

use crate::ChainError;
use crate::bindings::RewardsDistributor::RewardsDistributorErrors;
use crate::bindings::{BasicAVS, LiquidStakingToken, RewardsDistributor};
use crate::devnet::mined;
use crate::registry::operator_set_at;

/// How an epoch's funds are split among operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Split {
    /// By the stake that signed the epoch's certificates.
    SignedStake,
    /// By the stake registered at the epoch's last block.
    Stake,
}

impl Split {
    fn code(self) -> u8 {
        match self {
            Split::SignedStake => 1,
            Split::Stake => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Split::SignedStake),
            2 => Some(Split::Stake),
            _ => None,
        }
    }
}

/// An epoch's funds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pot {
    /// The token.
    pub token: Address,
    /// The split (`None`: never funded).
    pub split: Option<Split>,
    /// Funded so far.
    pub amount: U256,
    /// Paid out so far.
    pub paid: U256,
}

/// The epochs of an AVS: their length and the distributor that pays them.
#[derive(Clone, Debug)]
pub struct Epochs<P> {
    avs: BasicAVS::BasicAVSInstance<P>,
    distributor: RewardsDistributor::RewardsDistributorInstance<P>,
    /// Blocks per epoch.
    pub blocks: u64,
}

/// What an operator can prove it signed in an epoch: the distributor's `claim`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochClaim {
    /// The operator.
    pub operator: Address,
    /// The epoch's tasks it signed, ascending.
    pub task_ids: Vec<U256>,
    /// Each task's non-signers, as the certificate recorded them.
    pub non_signers: Vec<Vec<Address>>,
}

impl<P: Provider + Clone> Epochs<P> {
    /// The epochs of `avs`.
    pub async fn of(provider: &P, avs: Address) -> Result<Self, ChainError> {
        let contract = BasicAVS::new(avs, provider.clone());
        let distributor = contract.rewards().call().await?;
        let blocks = u64::from(contract.rewardEpochBlocks().call().await?);
        Ok(Self {
            avs: contract,
            distributor: RewardsDistributor::new(distributor, provider.clone()),
            blocks,
        })
    }

    /// The distributor's address (approve it before funding).
    pub fn distributor(&self) -> Address {
        *self.distributor.address()
    }

    /// The epoch `block` belongs to.
    pub fn epoch_of(&self, block: u64) -> u64 {
        block / self.blocks.max(1)
    }

    /// The first block after `epoch` (claims open there).
    pub fn end_of(&self, epoch: u64) -> u64 {
        epoch.saturating_add(1).saturating_mul(self.blocks)
    }

    /// `epoch`'s funds.
    pub async fn pot(&self, epoch: u64) -> Result<Pot, ChainError> {
        let pot = self.distributor.epochPot(epoch).call().await?;
        Ok(Pot {
            token: pot.token,
            split: Split::from_code(pot.split),
            amount: pot.amount,
            paid: pot.paid,
        })
    }

    /// Adds `amount` of `token` to `epoch`, split by `split`, from the sender (the
    /// AVS's owner): approves the distributor, then funds.
    pub async fn fund(
        &self,
        epoch: u64,
        token: Address,
        amount: U256,
        split: Split,
    ) -> Result<(), ChainError> {
        let provider = self.avs.provider();
        let erc20 = LiquidStakingToken::new(token, provider.clone());
        mined(
            provider,
            erc20.approve(self.distributor(), amount).send().await?,
        )
        .await?;
        mined(
            provider,
            self.distributor
                .fund(epoch, token, amount, split.code())
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }

    /// Every operator's claim for `epoch`, read from the chain: for a signed-stake
    /// epoch, the tasks answered in it with their non-signers, each credited to the
    /// operators registered at its reference block that are not among them; for a
    /// stake epoch, the operators registered at its last block with empty lists.
    pub async fn claims(&self, epoch: u64) -> Result<Vec<EpochClaim>, ChainError> {
        let provider = self.avs.provider();
        let first = epoch.saturating_mul(self.blocks);
        let last = self.end_of(epoch).saturating_sub(1);
        let mut by_operator: BTreeMap<Address, EpochClaim> = BTreeMap::new();
        let claim_of = |by: &mut BTreeMap<Address, EpochClaim>, operator: Address| {
            by.entry(operator).or_insert_with(|| EpochClaim {
                operator,
                task_ids: Vec::new(),
                non_signers: Vec::new(),
            });
        };
        if self.pot(epoch).await?.split == Some(Split::Stake) {
            let at = u32::try_from(last).map_err(|_| ChainError::OutOfRange("block"))?;
            match operator_set_at(provider, *self.avs.address(), at).await {
                Ok(set) => set
                    .operators
                    .iter()
                    .for_each(|op| claim_of(&mut by_operator, op.address)),
                Err(ChainError::EmptySet(_)) => {}
                Err(err) => return Err(err),
            }
            return Ok(by_operator.into_values().collect());
        }
        let filter = Filter::new()
            .address(*self.avs.address())
            .from_block(first)
            .to_block(last);
        let responded = provider
            .get_logs(
                &filter
                    .clone()
                    .event_signature(BasicAVS::TaskResponded::SIGNATURE_HASH),
            )
            .await?;
        let mut absent: BTreeMap<U256, Vec<Address>> = BTreeMap::new();
        for log in provider
            .get_logs(&filter.event_signature(BasicAVS::TaskNonSigners::SIGNATURE_HASH))
            .await?
        {
            if let Ok(e) = log.log_decode::<BasicAVS::TaskNonSigners>() {
                absent.insert(e.inner.data.taskId, e.inner.data.nonSigners);
            }
        }
        let mut tasks: Vec<U256> = responded
            .iter()
            .filter_map(|log| log.log_decode::<BasicAVS::TaskResponded>().ok())
            .map(|e| e.inner.data.taskId)
            .collect();
        tasks.sort();
        tasks.dedup();
        for id in tasks {
            let task = self.avs.getTask(id).call().await?;
            let non_signers = absent.remove(&id).unwrap_or_default();
            let set = operator_set_at(provider, *self.avs.address(), task.referenceBlock).await?;
            for op in &set.operators {
                if non_signers.contains(&op.address) {
                    continue;
                }
                claim_of(&mut by_operator, op.address);
                if let Some(claim) = by_operator.get_mut(&op.address) {
                    claim.task_ids.push(id);
                    claim.non_signers.push(non_signers.clone());
                }
            }
        }
        Ok(by_operator.into_values().collect())
    }

    /// Claims `claim` for `epoch`; the amount paid, or `None` if nothing more is owed.
    pub async fn claim(&self, epoch: u64, claim: &EpochClaim) -> Result<Option<U256>, ChainError> {
        let call = self.distributor.claim(
            claim.operator,
            epoch,
            claim.task_ids.clone(),
            claim.non_signers.clone(),
        );
        let pending = match call.send().await {
            Ok(pending) => pending,
            Err(err) => {
                return match err.as_decoded_interface_error::<RewardsDistributorErrors>() {
                    Some(RewardsDistributorErrors::NothingOwed(_)) => Ok(None),
                    _ => Err(err.into()),
                };
            }
        };
        let receipt = mined(self.avs.provider(), pending).await?;
        receipt
            .decoded_log::<RewardsDistributor::RewardsPaid>()
            .map(|log| Some(log.amount))
            .ok_or(ChainError::MissingEvent(
                receipt.transaction_hash,
                "RewardsPaid",
            ))
    }

    /// Claims for every operator of `epoch`; what each was paid (operators owed
    /// nothing more are left out).
    pub async fn distribute(&self, epoch: u64) -> Result<Vec<(Address, U256)>, ChainError> {
        let mut paid = Vec::new();
        for claim in self.claims(epoch).await? {
            if let Some(amount) = self.claim(epoch, &claim).await? {
                paid.push((claim.operator, amount));
            }
        }
        Ok(paid)
    }
}
