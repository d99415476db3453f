//! `bulwark avs fund-rewards|distribute-rewards` and `bulwark staker
//! rewards|claim|exposure`: rewards per epoch and what a staker earns and risks,
//! against any RPC URL (addresses not given come from the devnet state file).

use std::fmt::Write;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use bulwark_chain::exposure::Exposure;
use bulwark_chain::restaking::{DevnetCore, Restaking};
use bulwark_chain::rewards::{Epochs, Split};

use crate::chain::tokens;
use crate::error::CliError;

/// The split named on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitArg {
    /// By the stake that signed the epoch's certificates.
    Signed,
    /// By the stake registered at the epoch's last block.
    Stake,
}

impl From<SplitArg> for Split {
    fn from(arg: SplitArg) -> Self {
        match arg {
            SplitArg::Signed => Split::SignedStake,
            SplitArg::Stake => Split::Stake,
        }
    }
}

/// The reward token: the one given, else the core's staking asset.
pub async fn reward_token(
    provider: &DynProvider,
    core: Address,
    token: Option<Address>,
) -> anyhow::Result<Address> {
    match token {
        Some(token) => Ok(token),
        None => Ok(DevnetCore::new(core, provider.clone()).asset().await?),
    }
}

/// Funds `epoch` (the current one if `None`) of `avs` with `amount` of `token` from
/// the sender (the AVS's owner); returns what to print.
pub async fn fund_rewards(
    provider: &DynProvider,
    avs: Address,
    epoch: Option<u64>,
    token: Address,
    amount: U256,
    split: Split,
) -> anyhow::Result<String> {
    let epochs = Epochs::of(provider, avs).await?;
    let head = provider.get_block_number().await?;
    let epoch = epoch.unwrap_or_else(|| epochs.epoch_of(head));
    epochs.fund(epoch, token, amount, split).await?;
    let pot = epochs.pot(epoch).await?;
    Ok(format!(
        "epoch {epoch} of {avs} funded with {} of {token} ({split:?}); {} in all. \
         Claims open at block {} (now {head}): `bulwark avs distribute-rewards --epoch {epoch}`",
        tokens(amount),
        tokens(pot.amount),
        epochs.end_of(epoch),
    ))
}

/// Claims `epoch` for every operator of `avs` that is owed more; returns what to print.
pub async fn distribute_rewards(
    provider: &DynProvider,
    avs: Address,
    epoch: u64,
) -> anyhow::Result<String> {
    let epochs = Epochs::of(provider, avs).await?;
    let head = provider.get_block_number().await?;
    let end = epochs.end_of(epoch);
    if head < end {
        return Err(CliError::Usage(format!(
            "epoch {epoch} is not over: claims open at block {end} (now {head})"
        ))
        .into());
    }
    let pot = epochs.pot(epoch).await?;
    if pot.split.is_none() {
        return Err(CliError::NotFound(format!(
            "epoch {epoch} was never funded: `bulwark avs fund-rewards --epoch {epoch}`"
        ))
        .into());
    }
    let paid = epochs.distribute(epoch).await?;
    let mut out = String::new();
    writeln!(out, "epoch {epoch}: paid {} operators", paid.len())?;
    for (operator, amount) in &paid {
        writeln!(out, "  {operator}  {}", tokens(*amount))?;
    }
    let pot = epochs.pot(epoch).await?;
    write!(
        out,
        "paid {} of {} funded",
        tokens(pot.paid),
        tokens(pot.amount)
    )?;
    Ok(out)
}

/// What `account` can claim in `token`, at the latest block.
pub async fn pending_rewards(
    provider: &DynProvider,
    core: Address,
    account: Address,
    token: Address,
) -> anyhow::Result<U256> {
    Ok(DevnetCore::new(core, provider.clone())
        .pending_rewards(account, token, BlockId::latest())
        .await?)
}

/// Claims the sender's rewards in `token`.
pub async fn claim_rewards(
    provider: &DynProvider,
    core: Address,
    token: Address,
) -> anyhow::Result<U256> {
    Ok(DevnetCore::new(core, provider.clone())
        .claim_rewards(token)
        .await?)
}

/// `staker`'s exposure at `block` (the latest if `None`).
pub async fn exposure(
    provider: &DynProvider,
    core: Address,
    staker: Address,
    block: Option<u64>,
) -> anyhow::Result<Exposure> {
    let block = match block {
        Some(block) => block,
        None => provider.get_block_number().await?,
    };
    let restaking = DevnetCore::new(core, provider.clone());
    Ok(bulwark_chain::exposure::exposure(&restaking, provider, staker, block).await?)
}

/// An exposure as a table.
pub fn exposure_table(e: &Exposure) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "staker {} at block {}", e.staker, e.block)?;
    let Some(operator) = e.operator else {
        writeln!(
            out,
            "not delegated: {} staked, nothing at risk",
            tokens(e.stake)
        )?;
        return Ok(out);
    };
    writeln!(
        out,
        "delegated to {operator}: {} slashable (queued withdrawals included)",
        tokens(e.stake)
    )?;
    writeln!(
        out,
        "  {:<42}  {:>10}  {:>12}  pending slashes",
        "AVS", "allocation", "at risk"
    )?;
    for avs in &e.avs {
        let allocation = match avs.allocation.pending {
            Some((bps, from)) => format!(
                "{:.2}% (to {:.2}% at block {from})",
                f64::from(avs.allocation.bps) / 100.0,
                f64::from(bps) / 100.0
            ),
            None => format!("{:.2}%", f64::from(avs.allocation.bps) / 100.0),
        };
        let pending = if avs.pending_slashes.is_empty() {
            "none".to_string()
        } else {
            avs.pending_slashes
                .iter()
                .map(|s| {
                    format!(
                        "#{} task {} -{} from block {}",
                        s.slash_id,
                        s.task_id,
                        tokens(s.staker_loss),
                        s.ready_block
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        writeln!(
            out,
            "  {:<42}  {allocation:>10}  {:>12}  {pending}",
            avs.allocation.avs.to_string(),
            tokens(avs.at_risk)
        )?;
    }
    writeln!(out, "pending slashes: -{}", tokens(e.pending_loss))?;
    let pct = if e.stake.is_zero() {
        0.0
    } else {
        // Basis points of the stake, exact in U256, then shown with two decimals.
        let bps = e.worst_case * U256::from(10_000u64) / e.stake;
        f64::from(u32::try_from(bps).unwrap_or(u32::MAX)) / 100.0
    };
    write!(
        out,
        "worst case (every AVS slashes its whole allocation, compounded): -{} ({pct:.2}%)",
        tokens(e.worst_case)
    )?;
    Ok(out)
}
