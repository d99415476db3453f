//! The oracle's settings: the `[avs]` table of the operator and aggregator configs
//! (the framework passes it through untouched).
//!
//! ```toml
//! [avs]
//! tolerance_bps = 100          # endorse / keep reports within 1% of the median
//! [[avs.feeds]]
//! name = "ETH/USD"
//! heartbeat_s = 60             # a new round at least this often
//! deviation_bps = 50           # or when the price moves 0.5%
//! sources = [
//!   { exchange = "coinbase", base_url = "https://api.exchange.coinbase.com", pair = "ETH-USD" },
//!   { exchange = "kraken", base_url = "https://api.kraken.com", pair = "XETHZUSD" },
//! ]
//! [avs.keeper]                 # aggregator only: start rounds
//! interval_ms = 1000
//! ```

use bulwark::node::config::SecretSource;
use serde::{Deserialize, Serialize};

use crate::source::Source;

/// Why the oracle settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum OracleConfigError {
    /// The `[avs]` table does not parse.
    #[error("[avs]: {0}")]
    Parse(String),
    /// A value parses but cannot work.
    #[error("[avs] {field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// One price feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Its name, e.g. `ETH/USD` (at most 32 bytes: it is the on-chain id).
    pub name: String,
    /// Where prices come from.
    pub sources: Vec<Source>,
    /// Seconds after which a new round is due even if the price did not move.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_s: u32,
    /// Move (basis points) that makes a new round due.
    #[serde(default = "default_deviation")]
    pub deviation_bps: u16,
}

/// The keeper, which starts rounds (runs in the aggregator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeeperConfig {
    /// How often it checks every feed, in milliseconds.
    #[serde(default = "default_keeper_interval")]
    pub interval_ms: u64,
    /// Stake share (basis points) a round's certificate needs.
    #[serde(default = "default_threshold")]
    pub threshold_bps: u16,
    /// Blocks operators have to answer a round.
    #[serde(default = "default_response_blocks")]
    pub response_blocks: u32,
    /// The key (hex) of the account that creates rounds, which the AVS owner made a
    /// task creator. Absent: the aggregator's submitter key (then both share one
    /// account's nonces; a separate account avoids their transactions racing).
    #[serde(default)]
    pub key: Option<SecretSource>,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        Self {
            interval_ms: default_keeper_interval(),
            threshold_bps: default_threshold(),
            response_blocks: default_response_blocks(),
            key: None,
        }
    }
}

/// The oracle settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleConfig {
    /// The feeds served.
    pub feeds: Vec<FeedConfig>,
    /// How far (basis points) from its own observation an operator endorses a
    /// proposal, and from the median the aggregator keeps a report.
    #[serde(default = "default_tolerance")]
    pub tolerance_bps: u32,
    /// Oldest quote a source may serve, in seconds.
    #[serde(default = "default_max_quote_age")]
    pub max_quote_age_s: u64,
    /// Sources that must answer for an observation.
    #[serde(default = "default_min_sources")]
    pub min_sources: usize,
    /// Timeout of one source request, in milliseconds.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout_ms: u64,
    /// The keeper (aggregator only).
    #[serde(default)]
    pub keeper: Option<KeeperConfig>,
    /// A faulty operator, for demos and tests: endorses every proposal for the
    /// round, however far from its own report. That is the oracle's slashable
    /// offence (`FAR_ENDORSEMENT`): never set it on an operator with real stake.
    #[serde(default)]
    pub endorse_anything: bool,
}

fn default_heartbeat() -> u32 {
    60
}
fn default_deviation() -> u16 {
    50
}
fn default_keeper_interval() -> u64 {
    1_000
}
fn default_threshold() -> u16 {
    6_667
}
fn default_response_blocks() -> u32 {
    30
}
fn default_tolerance() -> u32 {
    100
}
fn default_max_quote_age() -> u64 {
    60
}
fn default_min_sources() -> usize {
    2
}
fn default_fetch_timeout() -> u64 {
    2_000
}

impl OracleConfig {
    /// Reads the `[avs]` table of a runtime config.
    pub fn from_table(table: &toml::Table) -> Result<Self, OracleConfigError> {
        let config: Self = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| OracleConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The settings as an `[avs]` table.
    pub fn to_table(&self) -> Result<toml::Table, OracleConfigError> {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(table)) => Ok(table),
            Ok(_) => Err(OracleConfigError::Parse("not a table".into())),
            Err(e) => Err(OracleConfigError::Parse(e.to_string())),
        }
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), OracleConfigError> {
        let invalid = |field: &str, reason: String| OracleConfigError::Invalid {
            field: field.to_string(),
            reason,
        };
        if self.feeds.is_empty() {
            return Err(invalid("feeds", "at least one feed is needed".into()));
        }
        for (i, feed) in self.feeds.iter().enumerate() {
            if crate::round::feed_id(&feed.name).is_none() {
                return Err(invalid(
                    &format!("feeds[{i}].name"),
                    format!("{:?} must be 1 to 32 bytes", feed.name),
                ));
            }
            if self.feeds[..i].iter().any(|f| f.name == feed.name) {
                return Err(invalid(
                    &format!("feeds[{i}].name"),
                    format!("{} is listed twice", feed.name),
                ));
            }
            if feed.sources.len() < self.min_sources {
                return Err(invalid(
                    &format!("feeds[{i}].sources"),
                    format!(
                        "{} has {} sources but min_sources is {}",
                        feed.name,
                        feed.sources.len(),
                        self.min_sources
                    ),
                ));
            }
            if feed.heartbeat_s == 0 || feed.deviation_bps == 0 || feed.deviation_bps > 10_000 {
                return Err(invalid(
                    &format!("feeds[{i}]"),
                    "heartbeat_s must be positive and deviation_bps 1 to 10000".into(),
                ));
            }
        }
        if self.tolerance_bps == 0 || self.tolerance_bps > 10_000 {
            return Err(invalid(
                "tolerance_bps",
                format!("{} is outside 1..=10000", self.tolerance_bps),
            ));
        }
        if self.min_sources == 0 {
            return Err(invalid("min_sources", "must be at least 1".into()));
        }
        if let Some(keeper) = &self.keeper {
            if keeper.threshold_bps == 0 || keeper.threshold_bps > 10_000 {
                return Err(invalid(
                    "keeper.threshold_bps",
                    format!("{} is outside 1..=10000", keeper.threshold_bps),
                ));
            }
            if keeper.interval_ms == 0 || keeper.response_blocks == 0 {
                return Err(invalid(
                    "keeper",
                    "interval_ms and response_blocks must be positive".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
tolerance_bps = 100
[[feeds]]
name = "ETH/USD"
sources = [
  { exchange = "coinbase", base_url = "http://127.0.0.1:1", pair = "ETH-USD" },
  { exchange = "kraken", base_url = "http://127.0.0.1:1", pair = "XETHZUSD" },
]
[keeper]
interval_ms = 500
"#;

    #[test]
    fn parses_round_trips_and_names_bad_fields() {
        let table: toml::Table = toml::from_str(EXAMPLE).expect("toml");
        let config = OracleConfig::from_table(&table).expect("valid");
        assert_eq!(config.feeds[0].heartbeat_s, 60);
        assert_eq!(config.keeper.as_ref().map(|k| k.interval_ms), Some(500));
        assert_eq!(
            OracleConfig::from_table(&config.to_table().expect("table")).expect("again"),
            config
        );

        let mut typo = table.clone();
        typo.insert("tolerance".into(), toml::Value::Integer(5));
        let err = OracleConfig::from_table(&typo).expect_err("unknown field");
        assert!(err.to_string().contains("tolerance"), "{err}");

        let mut few = config.clone();
        few.feeds[0].sources.pop();
        let err = few.validate().expect_err("too few sources");
        assert!(err.to_string().contains("feeds[0].sources"), "{err}");

        let mut dup = config.clone();
        dup.feeds.push(dup.feeds[0].clone());
        assert!(dup.validate().is_err());

        let mut long = config;
        long.feeds[0].name = "x".repeat(40);
        assert!(long.validate().is_err());
    }
}
