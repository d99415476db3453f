//! The keeper: starts a feed's next round when one is due — no round yet, the
//! heartbeat elapsed, or the price moved beyond the feed's deviation. It runs beside
//! the aggregator, whose submitter account the AVS owner allows to create tasks.
//!
//! The contract's `roundDue` decides on the price move. The heartbeat is also checked
//! against the wall clock, because `block.timestamp` stands still on a chain that
//! mines only when it has transactions, and an idle feed must still refresh.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;

use alloy::sol_types::SolInterface;
use bulwark::chain::ChainError;

use crate::bindings::OracleAVS;
use crate::config::KeeperConfig;
use crate::round::{Oracle, feed_name};

/// What one check of one feed did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// No round was due.
    NotDue,
    /// A round is still being answered.
    Pending,
    /// Round `round` of the feed started as task `task_id`.
    Started {
        /// The round.
        round: u64,
        /// Its task.
        task_id: u64,
    },
    /// The check failed (sources, chain); retried at the next tick.
    Failed(String),
}

/// Starts rounds of the feeds it keeps.
pub struct Keeper {
    provider: DynProvider,
    avs: Address,
    oracle: Arc<Oracle>,
    feeds: Vec<B256>,
    config: KeeperConfig,
}

impl Keeper {
    /// A keeper of `feeds` on `avs`; `provider` signs as a task creator.
    pub fn new(
        provider: DynProvider,
        avs: Address,
        oracle: Arc<Oracle>,
        feeds: Vec<B256>,
        config: KeeperConfig,
    ) -> Self {
        Self {
            provider,
            avs,
            oracle,
            feeds,
            config,
        }
    }

    /// Checks every feed once.
    pub async fn tick(&self) -> Vec<(B256, Check)> {
        let mut checks = Vec::with_capacity(self.feeds.len());
        for feed in &self.feeds {
            let check = match self.check(feed).await {
                Ok(check) => check,
                Err(why) => Check::Failed(why),
            };
            match &check {
                Check::Started { round, task_id } => {
                    tracing::info!(feed = %feed_name(feed), round, task = task_id, "round started")
                }
                Check::Failed(why) => {
                    tracing::warn!(feed = %feed_name(feed), why, "keeper check failed")
                }
                Check::NotDue | Check::Pending => {}
            }
            checks.push((*feed, check));
        }
        checks
    }

    async fn check(&self, feed: &B256) -> Result<Check, String> {
        let avs = OracleAVS::new(self.avs, self.provider.clone());
        let state = avs
            .feeds(*feed)
            .call()
            .await
            .map_err(|e| format!("reading the feed: {e}"))?;
        if !state.exists {
            return Err(format!(
                "feed {} is not configured on the AVS",
                feed_name(feed)
            ));
        }
        let observed = self
            .oracle
            .observe_feed(feed)
            .await
            .map_err(|e| e.to_string())?;
        let due_on_chain = avs
            .roundDue(*feed, U256::from(observed.price.0))
            .call()
            .await
            .map_err(|e| format!("roundDue: {e}"))?;
        let due = due_on_chain || self.heartbeat_elapsed(&avs, feed, &state).await?;
        if !due {
            return Ok(if state.pendingTaskPlusOne.is_zero() {
                Check::NotDue
            } else {
                Check::Pending
            });
        }
        let input = avs
            .nextRoundInput(*feed)
            .call()
            .await
            .map_err(|e| format!("nextRoundInput: {e}"))?;
        match bulwark::chain::tasks::create_task(
            &self.provider,
            self.avs,
            &input,
            self.config.threshold_bps,
            self.config.response_blocks,
        )
        .await
        {
            Ok(task) => Ok(Check::Started {
                round: state.latestRound + 1,
                task_id: task.task_id,
            }),
            Err(err) => create_failed(&err),
        }
    }

    /// Whether the last round was observed longer ago than the heartbeat, by the
    /// wall clock.
    async fn heartbeat_elapsed(
        &self,
        avs: &OracleAVS::OracleAVSInstance<DynProvider>,
        feed: &B256,
        state: &OracleAVS::feedsReturn,
    ) -> Result<bool, String> {
        if state.latestRound == 0 {
            return Ok(false);
        }
        let round = avs
            .getRound(*feed, state.latestRound)
            .call()
            .await
            .map_err(|e| format!("getRound: {e}"))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(now >= round.observedAt.saturating_add(u64::from(state.heartbeat)))
    }

    /// Checks every `interval_ms` until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(Duration::from_millis(self.config.interval_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => { self.tick().await; }
            }
        }
    }
}

/// What a refused `createTask` means. The wall-clock heartbeat does not know whether
/// a round is still pending, so the contract refusing a second one (`RoundPending`) is
/// no failure; any other refusal (keeper not a task creator, feed removed, ...) is,
/// and says which of the AVS's errors it was.
fn create_failed(err: &ChainError) -> Result<Check, String> {
    let revert = match err {
        ChainError::Contract(e) => e.as_revert_data(),
        _ => None,
    };
    refusal(revert.as_ref().map(|b| b.as_ref()))
        .unwrap_or_else(|| Err(format!("createTask: {err}")))
}

/// The check a revert with one of the AVS's errors gives; `None` for anything else.
fn refusal(revert: Option<&[u8]>) -> Option<Result<Check, String>> {
    let error = OracleAVS::OracleAVSErrors::abi_decode(revert?).ok()?;
    Some(match error {
        OracleAVS::OracleAVSErrors::RoundPending(_) => Ok(Check::Pending),
        other => Err(format!("createTask reverted: {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::SolError;

    use super::*;

    #[test]
    fn only_a_pending_round_is_not_a_failure() {
        let feed = B256::repeat_byte(7);
        let pending = OracleAVS::RoundPending {
            feed,
            taskId: U256::from(3),
        };
        assert_eq!(
            refusal(Some(&pending.abi_encode())),
            Some(Ok(Check::Pending))
        );
        let unknown = OracleAVS::UnknownFeed { feed };
        let refused = refusal(Some(&unknown.abi_encode()))
            .expect("one of the AVS's errors")
            .expect_err("a failure");
        assert!(refused.contains("UnknownFeed"), "{refused}");
        assert_eq!(refusal(Some(&[0xde, 0xad, 0xbe, 0xef])), None);
        assert_eq!(refusal(None), None);
        let timeout =
            create_failed(&ChainError::ReceiptTimeout(B256::ZERO)).expect_err("a failure");
        assert!(timeout.contains("no receipt"), "{timeout}");
    }
}
