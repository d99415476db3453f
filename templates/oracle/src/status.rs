//! What `bulwark status` shows for an oracle: every feed, its latest round, and how
//! fresh and how endorsed it is.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use alloy::providers::DynProvider;

use crate::bindings::OracleAVS;
use crate::price::Price;
use crate::round::feed_name;

/// Why the feeds could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{avs} does not answer as an OracleAVS: {reason}")]
pub struct StatusError {
    /// The contract asked.
    pub avs: Address,
    /// The call that failed.
    pub reason: String,
}

/// One line per feed: latest round, value, age, endorsing stake and triggers.
pub async fn feeds(provider: &DynProvider, avs: Address) -> Result<String, StatusError> {
    let fail = |reason: String| StatusError { avs, reason };
    let contract = OracleAVS::new(avs, provider.clone());
    let ids = contract
        .allFeeds()
        .call()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "oracle feeds: {}", ids.len());
    for id in ids {
        let feed = contract
            .feeds(id)
            .call()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let name = feed_name(&id);
        let triggers = format!(
            "heartbeat {} s, deviation {} bps",
            feed.heartbeat, feed.deviationBps
        );
        if feed.latestRound == 0 {
            let _ = writeln!(out, "  {name:<8} no round yet  ({triggers})");
            continue;
        }
        let round = contract
            .getRound(id, feed.latestRound)
            .call()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let value = u128::try_from(round.value)
            .map(|v| Price(v).to_string())
            .unwrap_or_else(|_| round.value.to_string());
        let signed = 100.0 * round.signedStakeGwei as f64 / round.totalStakeGwei.max(1) as f64;
        let _ = writeln!(
            out,
            "  {name:<8} round {:>4}  {value:>18}  observed {:>4} s ago  signed by {signed:.1}% of stake{}  ({triggers})",
            feed.latestRound,
            now.saturating_sub(round.observedAt),
            if feed.pendingTaskPlusOne.is_zero() {
                String::new()
            } else {
                format!(", round {} pending", feed.latestRound + 1)
            },
        );
    }
    Ok(out)
}
