//! A whole runtime from its configuration: what an AVS binary's `main` calls.
//!
//! [`run_aggregator`] and [`run_operator`] read keys, connect to the chain, start the
//! gRPC server or the task loop, serve `/metrics` and `/health`, and stop cleanly
//! when `shutdown` resolves (the binaries pass Ctrl-C / SIGTERM).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider};
use bulwark_core::{EngineConfig, Observe, OperatorId, SigningContext, Task};
use bulwark_crypto::keystore::Keystore;
use tokio::sync::{mpsc, watch};

use crate::aggregator::{Aggregator, TaskOutcome, TwoPhase};
use crate::challenger::{Challenger, OffenceCheck};
use crate::config::{
    AggregatorConfig, ChainConfig, ChallengerConfig, ConfigError, OperatorConfig, TelemetryConfig,
};
use crate::follow::ChainSource;
use crate::listening::Listening;
use crate::observer::ObserverRuntime;
use crate::operator::OperatorRuntime;
use crate::telemetry::{self, Health, names};

/// Why a runtime could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The chain could not be reached or answered wrongly.
    #[error("chain: {0}")]
    Chain(#[from] bulwark_chain::ChainError),
    /// The keystore could not be read or decrypted.
    #[error("keystore {path}: {reason}")]
    Keystore {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bound addresses could not be written to `$BULWARK_READY_FILE`.
    #[error("cannot announce the listening addresses: {0}")]
    Announce(std::io::Error),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::aggregator::store::StoreError),
    /// The slashing-protection record could not be opened.
    #[error("slashing protection: {0}")]
    Protection(String),
    /// The challenger could not start.
    #[error("challenger: {0}")]
    Challenger(String),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Server(#[from] bulwark_net::server::ServeError),
}

/// How long without an answer from the chain before `/health` says stale: ten polls,
/// at least five seconds.
fn health_age(chain: &ChainConfig) -> Duration {
    (chain.poll() * 10).max(Duration::from_secs(5))
}

async fn chain_source(
    chain: &ChainConfig,
    provider: &DynProvider,
) -> Result<ChainSource, ServiceError> {
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(bulwark_chain::ChainError::from)?;
    let from_block = match chain.from_block {
        Some(block) => block,
        None => provider
            .get_block_number()
            .await
            .map_err(bulwark_chain::ChainError::from)?,
    };
    Ok(ChainSource {
        provider: provider.clone(),
        context: SigningContext {
            chain_id,
            avs: chain.avs.into_array(),
        },
        from_block,
        poll: chain.poll(),
        submitter: None,
    })
}

/// Resolves once `stop` says stop: each of a runtime's tasks waits on its own copy.
fn stopped(stop: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// The telemetry server's task, when one runs.
struct TelemetryServer(Option<tokio::task::JoinHandle<std::io::Result<()>>>);

impl TelemetryServer {
    /// Waits for the server to finish (after `stop`).
    async fn join(self) {
        if let Some(server) = self.0 {
            let _ = server.await;
        }
    }
}

/// Serves `/metrics` and `/health` in the background when `telemetry.listen` is set,
/// then announces the runtime's addresses (its gRPC endpoint `grpc`, if any, and the
/// telemetry's): every runtime starts the same way, so a supervisor reads the ready
/// file only once all of its sockets are bound.
async fn start_telemetry(
    telemetry: &TelemetryConfig,
    health: Arc<Health>,
    role: &'static str,
    max_age: Duration,
    stop: &watch::Receiver<bool>,
    grpc: Option<SocketAddr>,
) -> Result<TelemetryServer, ServiceError> {
    let server = match telemetry.listen {
        Some(addr) => Some(serve_telemetry(addr, health, role, max_age, stop).await?),
        None => None,
    };
    Listening {
        grpc,
        http: server.as_ref().map(|(_, bound)| *bound),
    }
    .announce()
    .map_err(ServiceError::Announce)?;
    Ok(TelemetryServer(server.map(|(task, _)| task)))
}

/// Binds `addr` and serves `/metrics` and `/health` on it until `stop`; returns the
/// server's task and the bound address.
async fn serve_telemetry(
    addr: SocketAddr,
    health: Arc<Health>,
    role: &'static str,
    max_age: Duration,
    stop: &watch::Receiver<bool>,
) -> Result<(tokio::task::JoinHandle<std::io::Result<()>>, SocketAddr), ServiceError> {
    let handle = telemetry::install_metrics();
    let (listener, bound) = telemetry::bind(addr)
        .await
        .map_err(|source| ServiceError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    tracing::info!(%bound, "metrics and health endpoint listening");
    let server = tokio::spawn(telemetry::serve(
        listener,
        handle,
        health,
        role,
        max_age,
        stopped(stop),
    ));
    Ok((server, bound))
}

/// Runs an aggregator until `shutdown` resolves; task outcomes go to `outcomes` when
/// given (the demo prints them).
pub async fn run_aggregator(
    config: AggregatorConfig,
    outcomes: Option<mpsc::UnboundedSender<TaskOutcome>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    run_aggregator_with(config, None, outcomes, shutdown).await
}

/// Runs an aggregator of two-phase tasks (reports, a proposal from `proposer`,
/// endorsements) until `shutdown` resolves; the report window and the evidence file
/// come from the config.
pub async fn run_two_phase_aggregator(
    config: AggregatorConfig,
    proposer: Arc<dyn bulwark_core::Propose>,
    outcomes: Option<mpsc::UnboundedSender<TaskOutcome>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    let two_phase = TwoPhase {
        proposer,
        report_window_blocks: config.aggregator.report_window_blocks,
        evidence: config.aggregator.evidence.clone(),
    };
    run_aggregator_with(config, Some(two_phase), outcomes, shutdown).await
}

async fn run_aggregator_with(
    config: AggregatorConfig,
    two_phase: Option<TwoPhase>,
    outcomes: Option<mpsc::UnboundedSender<TaskOutcome>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    let key = config
        .aggregator
        .submitter_key
        .read("aggregator.submitter_key")?;
    let signer = bulwark_chain::provider::signer(&key)?;
    let signer_address = signer.address();
    tracing::info!(submitter = %signer_address, "aggregator starting");
    let provider = bulwark_chain::provider::connect(
        &config.chain.rpc_url,
        Some(EthereumWallet::from(signer)),
    )?;
    let submitter = signer_address;
    let mut chain = chain_source(&config.chain, &provider).await?;
    chain.submitter = Some(submitter);
    let store = match &config.aggregator.store {
        Some(path) => Some(Arc::new(crate::aggregator::store::Store::open(path)?)),
        None => None,
    };
    let (aggregator, certificates) =
        Aggregator::build(EngineConfig::default(), store.clone(), two_phase);
    let listen = config.aggregator.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServiceError::Listen {
            addr: listen.to_string(),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServiceError::Listen {
            addr: listen.to_string(),
            source,
        })?;
    tracing::info!(%bound, avs = %config.chain.avs, from_block = chain.from_block, "gRPC listening");

    let (stop_tx, stop) = watch::channel(false);
    let metrics = start_telemetry(
        &config.telemetry,
        aggregator.health.clone(),
        "aggregator",
        health_age(&config.chain),
        &stop,
        Some(bound),
    )
    .await?;
    let server = tokio::spawn(bulwark_net::server::serve(
        listener,
        aggregator.clone(),
        config.aggregator.max_response_bytes,
        stopped(&stop),
    ));
    let outcomes = outcomes.unwrap_or_else(|| mpsc::unbounded_channel().0);
    let chain_loop = tokio::spawn(aggregator.clone().run(
        chain,
        certificates,
        outcomes,
        stopped(&stop),
    ));
    shutdown.await;
    tracing::info!("aggregator stopping");
    let _ = stop_tx.send(true);
    let _ = chain_loop.await;
    metrics.join().await;
    match server.await {
        Ok(result) => result?,
        Err(err) => tracing::error!(%err, "gRPC server task failed"),
    }
    if let Some(store) = store {
        // Every write sent is committed before the process ends.
        store.close();
    }
    tracing::info!("aggregator stopped");
    Ok(())
}

/// Runs a challenger until `shutdown` resolves: follows each aggregator's evidence
/// and challenges on chain with what holds (see [`crate::challenger`]); equivocation
/// only, every AVS's offence.
pub async fn run_challenger(
    config: ChallengerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    run_challenger_with(config, Vec::new(), shutdown).await
}

/// [`run_challenger`] that also takes evidence of the AVS's own offences (`checks`).
pub async fn run_challenger_with(
    config: ChallengerConfig,
    checks: Vec<Box<dyn OffenceCheck>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    let key = config.challenger.key.read("challenger.key")?;
    let signer = bulwark_chain::provider::signer(&key)?;
    tracing::info!(challenger = %signer.address(), avs = %config.chain.avs, "challenger starting");
    let provider = bulwark_chain::provider::connect(
        &config.chain.rpc_url,
        Some(EthereumWallet::from(signer)),
    )?;
    let mut challenger =
        Challenger::open(provider.clone(), config.chain.avs, &config.challenger.state)
            .await
            .map_err(|e| ServiceError::Challenger(e.to_string()))?;
    for check in checks {
        challenger = challenger.with_check(check);
    }
    let challenger = Arc::new(challenger);
    let (stop_tx, stop) = watch::channel(false);
    let metrics = start_telemetry(
        &config.telemetry,
        challenger.health.clone(),
        "challenger",
        health_age(&config.chain),
        &stop,
        None,
    )
    .await?;
    let mut work = tokio::task::JoinSet::new();
    for endpoint in config.challenger.aggregators.clone() {
        let (challenger, stopped) = (challenger.clone(), stopped(&stop));
        work.spawn(async move {
            if let Err(err) = challenger.follow(&endpoint, stopped).await {
                tracing::error!(endpoint, %err, "stopped following this aggregator");
            }
        });
    }
    // The chain head, for /health, between challenges; and slashes queued behind
    // the AVS's veto window, executed once it has passed.
    {
        let (challenger, stopped, poll) = (challenger.clone(), stopped(&stop), config.chain.poll());
        work.spawn(async move {
            let mut ticker = tokio::time::interval(poll);
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = ticker.tick() => match provider.get_block_number().await {
                        Ok(head) => {
                            challenger.health.chain_ok(head);
                            challenger.execute_ready(head).await;
                        }
                        Err(err) => {
                            metrics::counter!(names::CHAIN_ERRORS).increment(1);
                            tracing::warn!(%err, "chain poll failed; retrying");
                        }
                    },
                }
            }
        });
    }
    shutdown.await;
    tracing::info!("challenger stopping");
    let _ = stop_tx.send(true);
    while work.join_next().await.is_some() {}
    metrics.join().await;
    tracing::info!("challenger stopped");
    Ok(())
}

/// The operator's BLS key, from its keystore and password.
pub fn operator_key(config: &OperatorConfig) -> Result<bulwark_crypto::SecretKey, ServiceError> {
    let keystore_path = config.operator.keystore.display().to_string();
    let keystore_err = |reason: String| ServiceError::Keystore {
        path: keystore_path.clone(),
        reason,
    };
    let json = std::fs::read_to_string(&config.operator.keystore)
        .map_err(|e| keystore_err(e.to_string()))?;
    let keystore = Keystore::from_json(&json).map_err(|e| keystore_err(e.to_string()))?;
    let password = config.operator.password.read("operator.password")?;
    keystore
        .decrypt(&password)
        .map_err(|e| keystore_err(e.to_string()))
}

/// Runs an operator for `task` until `shutdown` resolves.
pub async fn run_operator<T: Task>(
    config: OperatorConfig,
    task: T,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    serve_operator(&config, shutdown, |parts, stop| {
        let runtime = Arc::new(
            OperatorRuntime::new(task, parts.key, parts.id, parts.context, parts.aggregators)
                .with_protection(parts.protection),
        );
        let health = runtime.health.clone();
        let work = runtime.run(parts.provider, parts.from_block, parts.poll, stop);
        (health, work)
    })
    .await
}

/// Runs an operator of a two-phase AVS (`observe` reports, then endorses proposals
/// within its tolerance) until `shutdown` resolves.
pub async fn run_observer<O: Observe>(
    config: OperatorConfig,
    observe: O,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    serve_operator(&config, shutdown, |parts, stop| {
        let runtime = Arc::new(
            ObserverRuntime::new(
                observe,
                parts.key,
                parts.id,
                parts.context,
                parts.aggregators,
            )
            .with_protection(parts.protection),
        );
        let health = runtime.health.clone();
        let work = runtime.run(parts.provider, parts.from_block, parts.poll, stop);
        (health, work)
    })
    .await
}

/// What every operator runtime is built from.
struct OperatorParts {
    key: bulwark_crypto::SecretKey,
    protection: Arc<crate::protection::Protection>,
    id: OperatorId,
    context: SigningContext,
    aggregators: Vec<String>,
    provider: DynProvider,
    from_block: u64,
    poll: Duration,
}

/// A future that resolves when the runtime is asked to stop.
type StopSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Decrypts the operator's key and connects to its chain, then has `start` build the
/// runtime (its health, and its task loop given the stop signal) and runs the loop
/// with telemetry until `shutdown` resolves.
async fn serve_operator<W>(
    config: &OperatorConfig,
    shutdown: impl Future<Output = ()> + Send,
    start: impl FnOnce(OperatorParts, StopSignal) -> (Arc<Health>, W),
) -> Result<(), ServiceError>
where
    W: Future<Output = ()> + Send + 'static,
{
    let key = operator_key(config)?;
    let protection_path = config.operator.protection_path();
    let protection = Arc::new(
        crate::protection::Protection::open(&protection_path)
            .map_err(|e| ServiceError::Protection(format!("{}: {e}", protection_path.display())))?,
    );
    let provider = bulwark_chain::provider::connect(&config.chain.rpc_url, None)?;
    let chain = chain_source(&config.chain, &provider).await?;
    tracing::info!(
        operator = %config.operator.address,
        avs = %config.chain.avs,
        from_block = chain.from_block,
        aggregators = ?config.operator.aggregators,
        "operator starting"
    );
    let (stop_tx, stop) = watch::channel(false);
    let (health, work) = start(
        OperatorParts {
            key,
            protection,
            id: OperatorId(config.operator.address.into_array()),
            context: chain.context,
            aggregators: config.operator.aggregators.clone(),
            provider,
            from_block: chain.from_block,
            poll: chain.poll,
        },
        Box::pin(stopped(&stop)),
    );
    let metrics = start_telemetry(
        &config.telemetry,
        health,
        "operator",
        health_age(&config.chain),
        &stop,
        None,
    )
    .await?;
    let worker = tokio::spawn(work);
    shutdown.await;
    tracing::info!("operator stopping");
    let _ = stop_tx.send(true);
    let _ = worker.await;
    metrics.join().await;
    tracing::info!("operator stopped");
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: what a runtime binary stops on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
