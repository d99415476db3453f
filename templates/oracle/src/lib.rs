//! A price-oracle AVS on Bulwark (work in progress: the pieces below are complete and
//! tested; the two-phase runtime that ties them to the aggregator comes next).
//!
//! - [`price`]: exact fixed-point prices parsed from exchange strings;
//! - [`source`]: Coinbase, Kraken and Binance ticker formats over HTTP, with failing
//!   and stale sources dropped and the median of the rest observed;
//! - [`median`]: the aggregator's stake-weighted median and its outliers, and the
//!   operators' endorsement rule;
//! - [`price_server`]: the devnet's local exchange, with a random walk and switches
//!   to make a source fail, go stale or lie.
//!
//! `contracts/OracleAVS.sol` stores the rounds (`latestRound`, `latestFreshRound`,
//! heartbeat and deviation triggers) on top of the task manager.

pub mod median;
pub mod price;
pub mod price_server;
pub mod source;
