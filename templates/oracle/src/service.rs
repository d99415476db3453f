//! The oracle's runtimes from their configs: what `main` runs, and what the
//! end-to-end tests run in-process.

use std::path::Path;
use std::sync::Arc;

use alloy::providers::Provider;
use bulwark::node::aggregator::TaskOutcome;
use bulwark::node::config::{AggregatorConfig, OperatorConfig};
use bulwark::node::service::{ServiceError, run_observer, run_two_phase_aggregator};
use tokio::sync::{mpsc, watch};

use crate::config::{OracleConfig, OracleConfigError};
use crate::keeper::Keeper;
use crate::round::{Median, Oracle, feed_id};

/// Why an oracle runtime could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum OracleServiceError {
    /// The `[avs]` settings are unusable.
    #[error(transparent)]
    Settings(#[from] OracleConfigError),
    /// The framework runtime failed.
    #[error(transparent)]
    Runtime(#[from] ServiceError),
    /// The keeper could not start.
    #[error("keeper: {0}")]
    Keeper(String),
}

/// Runs an oracle operator until `shutdown` resolves.
pub async fn run_operator(
    config: OperatorConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), OracleServiceError> {
    let provider = bulwark::chain::provider::connect(&config.chain.rpc_url, None)
        .map_err(ServiceError::from)?;
    let oracle = Oracle::new(&OracleConfig::from_table(&config.avs)?)?
        .with_chain(provider, config.chain.avs);
    run_observer(config, oracle, shutdown).await?;
    Ok(())
}

/// Runs the oracle's aggregator and, when `[avs.keeper]` is set, its keeper, until
/// `shutdown` resolves; both stop together. A relative keeper key file is taken
/// relative to `config_dir`.
pub async fn run_aggregator(
    config: AggregatorConfig,
    config_dir: &Path,
    outcomes: Option<mpsc::UnboundedSender<TaskOutcome>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), OracleServiceError> {
    let settings = OracleConfig::from_table(&config.avs)?;
    let proposer = Arc::new(Median {
        tolerance_bps: u128::from(settings.tolerance_bps),
    });
    let (stop_tx, stop) = watch::channel(false);
    let keeper = match &settings.keeper {
        Some(keeper_config) => {
            let mut source = keeper_config
                .key
                .clone()
                .unwrap_or_else(|| config.aggregator.submitter_key.clone());
            source.rebase(config_dir);
            let key = source.read("avs.keeper.key").map_err(ServiceError::from)?;
            let signer = bulwark::chain::provider::signer(&key).map_err(ServiceError::from)?;
            let provider =
                bulwark::chain::provider::connect(&config.chain.rpc_url, Some(signer.into()))
                    .map_err(ServiceError::from)?;
            provider
                .get_chain_id()
                .await
                .map_err(|e| OracleServiceError::Keeper(format!("cannot reach the chain: {e}")))?;
            let feeds = settings
                .feeds
                .iter()
                .filter_map(|f| feed_id(&f.name))
                .collect();
            let keeper = Keeper::new(
                provider,
                config.chain.avs,
                Arc::new(Oracle::new(&settings)?),
                feeds,
                keeper_config.clone(),
            );
            let mut stop = stop.clone();
            Some(tokio::spawn(keeper.run(async move {
                let _ = stop.wait_for(|s| *s).await;
            })))
        }
        None => None,
    };
    let result = run_two_phase_aggregator(config, proposer, outcomes, async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    })
    .await;
    if let Some(keeper) = keeper {
        let _ = keeper.await;
    }
    result?;
    Ok(())
}
