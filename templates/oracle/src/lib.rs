//! A price-oracle AVS on Bulwark.
//!
//! Each round of a feed (ETH/USD, BTC/USD, …) is a two-phase task: every operator
//! reads several exchanges and signs a report of their median, the aggregator
//! proposes the stake-weighted median of the reports, operators endorse it when it
//! lies within their tolerance, and the endorsements land on `OracleAVS` as one
//! certificate. Reports far from the median are left out, and kept as evidence.
//!
//! - [`round`]: the wire formats and the two sides of the task ([`round::Oracle`]
//!   observes and endorses, [`round::Median`] proposes);
//! - [`keeper`]: starts rounds on a heartbeat or a price move;
//! - [`config`]: the `[avs]` settings of the runtime configs;
//! - [`status`]: the feeds and latest rounds, for `bulwark status`;
//! - [`service`]: the operator and aggregator (with keeper) runtimes from their configs;
//! - [`slashing`]: the oracle's own offence, an endorsement beyond the tolerance from
//!   the operator's own report (`FarEndorsement`), checked as `OracleAVS` checks it;
//! - [`price`], [`source`], [`median`]: exact prices, exchange formats, the
//!   stake-weighted median;
//! - [`price_server`]: the devnet's local exchange, with switches to make a source
//!   fail, go stale or lie.
//!
//! `contracts/OracleAVS.sol` stores the rounds (`latestRound`, `latestFreshRound`,
//! heartbeat and deviation triggers) on top of the task manager.

pub mod config;
pub mod keeper;
pub mod median;
pub mod price;
pub mod price_server;
pub mod round;
pub mod service;
pub mod slashing;
pub mod source;
pub mod status;

/// Contract bindings for the oracle, generated from `artifacts/OracleAVS.json`
/// (`make artifacts` refreshes it from `contracts/OracleAVS.sol`).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        OracleAVS,
        "artifacts/OracleAVS.json"
    );
}
