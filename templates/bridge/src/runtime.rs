//! The bridge's two runtimes as `bulwark devnet up` (or an operator) starts them:
//! `operator --config` runs an operator's [`Duty`] with its signature server, and
//! `aggregator --config` runs the [`Relayer`].
//!
//! Operators tell the relayer where their signatures are: each registers its
//! server's URL at every aggregator endpoint its config names (`POST /v1/signers`),
//! signed with its BLS key over the home chain, `BridgeHome`, its address, the URL and
//! the time, again every [`REGISTER_EVERY`].
//!
//! # Security
//! A registration is a claim until it verifies: it must name a registered operator,
//! verify under that operator's key in the registry, be at most [`REGISTRATION_SKEW`]
//! from the relayer's clock and newer than the last one it replaces, point at a
//! loopback `http://` URL (a relayer fetches only where operators on its own machine
//! serve; a remote deployment configures its operators instead) and fit in 2 KiB.
//! A wrong registration costs the sender a pairing's worth of our time and changes
//! nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use bulwark::alloy::primitives::{Address, B256, U256, keccak256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::alloy::sol_types::SolValue;
use bulwark::chain::ChainError;
use bulwark::chain::registry::operator_set_at;
use bulwark::crypto::{Domain, SecretKey, Signature};
use bulwark::node::config::{AggregatorConfig, OperatorConfig};
use bulwark::node::listening::Listening;

use crate::contracts::IBridgeHome;
use crate::relay;
use crate::relayer::{Endpoint, Relayer};
use crate::signing::{Deployment, Duty, SignatureBook, router};

/// How often an operator registers its URL again (relayers restart).
pub const REGISTER_EVERY: Duration = Duration::from_secs(30);
/// How far a registration's time may be from the relayer's clock.
pub const REGISTRATION_SKEW: u64 = 300;
/// How far ahead of the relayer's clock a registration may be dated (an operator
/// whose clock runs fast must not lock its own URL in for minutes).
pub const FUTURE_SKEW: u64 = 5;
/// Largest registration body.
const MAX_REGISTRATION: usize = 2048;

/// Why a runtime could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A setting in `[avs]` is missing or malformed.
    #[error("[avs] {0}")]
    Settings(String),
    /// The chain could not be reached, or refused.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The relay could not start.
    #[error(transparent)]
    Relay(#[from] relay::RelayError),
    /// A socket could not be bound or announced.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The operator's key or the relayer's account could not be read.
    #[error("{0}")]
    Key(String),
}

/// The bridge's `[avs]` settings (what `bridge-avs devnet-setup` prints).
#[derive(Clone, Debug)]
pub struct BridgeSettings {
    /// The remote chain's RPC URL.
    pub remote_rpc_url: String,
    /// Confirmations before signing.
    pub confirmations: u64,
    /// The contracts.
    pub home_outbox: Address,
    /// The home inbox.
    pub home_inbox: Address,
    /// The remote outbox.
    pub remote_outbox: Address,
    /// The remote table.
    pub remote_table: Address,
    /// The remote inbox.
    pub remote_inbox: Address,
    /// The relayer's account key file (a task creator of `BridgeHome`), if not the
    /// aggregator's submitter.
    pub relayer_key_file: Option<String>,
}

impl BridgeSettings {
    /// Reads the settings from an `[avs]` table.
    pub fn from_table(t: &toml::Table) -> Result<Self, RuntimeError> {
        let text = |name: &str| -> Result<String, RuntimeError> {
            t.get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| RuntimeError::Settings(format!("{name} is missing or not a string")))
        };
        let address = |name: &str| -> Result<Address, RuntimeError> {
            text(name)?
                .parse()
                .map_err(|_| RuntimeError::Settings(format!("{name} is not an address")))
        };
        let confirmations = t
            .get("confirmations")
            .and_then(|v| v.as_integer())
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| RuntimeError::Settings("confirmations is missing".into()))?;
        Ok(Self {
            remote_rpc_url: text("remote_rpc_url")?,
            confirmations,
            home_outbox: address("home_outbox")?,
            home_inbox: address("home_inbox")?,
            remote_outbox: address("remote_outbox")?,
            remote_table: address("remote_table")?,
            remote_inbox: address("remote_inbox")?,
            relayer_key_file: text("relayer_key_file").ok(),
        })
    }
}

async fn deployment(
    home: &DynProvider,
    remote: &DynProvider,
    home_avs: Address,
    s: &BridgeSettings,
) -> Result<Deployment, RuntimeError> {
    let outbox = IBridgeHome::new(home_avs, home.clone())
        .outbox()
        .call()
        .await
        .map_err(ChainError::from)?;
    if outbox != s.home_outbox {
        return Err(RuntimeError::Settings(format!(
            "home_outbox {} is not BridgeHome's outbox {outbox}",
            s.home_outbox
        )));
    }
    Ok(Deployment {
        home_chain: home.get_chain_id().await.map_err(ChainError::from)?,
        remote_chain: remote.get_chain_id().await.map_err(ChainError::from)?,
        home_avs,
        home_outbox: s.home_outbox,
        home_inbox: s.home_inbox,
        remote_outbox: s.remote_outbox,
        remote_table: s.remote_table,
        remote_inbox: s.remote_inbox,
    })
}

/// What an operator signs to register `url` with relayers.
pub fn registration_digest(d: &Deployment, operator: Address, url: &str, issued_at: u64) -> B256 {
    let mut tag = [0u8; 32];
    let text = b"bulwark.bridge.signer.v1";
    tag[..text.len()].copy_from_slice(text);
    keccak256(
        (
            B256::from(tag),
            U256::from(d.home_chain),
            d.home_avs,
            operator,
            keccak256(url.as_bytes()),
            issued_at,
        )
            .abi_encode(),
    )
}

/// The body an operator posts to a relayer's `/v1/signers`: its URL, signed with
/// its BLS key at `issued_at` (Unix seconds).
pub fn registration(
    key: &SecretKey,
    d: &Deployment,
    operator: Address,
    url: &str,
    issued_at: u64,
) -> String {
    let signature = relay::sign(key, registration_digest(d, operator, url, issued_at));
    serde_json::json!({
        "operator": operator.to_string(),
        "url": url,
        "issued_at": issued_at,
        "signature": format!("0x{}", bulwark::alloy::primitives::hex::encode(signature.to_uncompressed())),
    })
    .to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Runs an operator until `shutdown` resolves.
pub async fn run_operator(
    config: OperatorConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RuntimeError> {
    let key = bulwark::node::service::operator_key(&config)
        .map_err(|e| RuntimeError::Key(e.to_string()))?;
    let settings = BridgeSettings::from_table(&config.avs)?;
    let home = bulwark::chain::provider::connect(&config.chain.rpc_url, None)?;
    let remote = bulwark::chain::provider::connect(&settings.remote_rpc_url, None)?;
    let d = deployment(&home, &remote, config.chain.avs, &settings).await?;
    let book = SignatureBook::new(100_000);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let app = router(book.clone()).route("/health", get(|| async { "ok" }));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Listening {
        grpc: None,
        http: Some(addr),
    }
    .announce()?;
    bulwark::tracing::info!(operator = %config.operator.address, %url, "bridge operator serving signatures");
    let from = (
        home.get_block_number().await.map_err(ChainError::from)?,
        remote.get_block_number().await.map_err(ChainError::from)?,
    );
    let mut duty = Duty::new(
        key.clone(),
        d,
        home,
        remote,
        (
            config.chain.from_block.unwrap_or(from.0),
            from.1
                .saturating_sub(settings.confirmations.saturating_mul(4)),
        ),
        settings.confirmations,
        book,
    );
    let registrar = tokio::spawn(register_forever(
        key,
        d,
        config.operator.address,
        url,
        config.operator.aggregators.clone(),
    ));
    let poll = Duration::from_millis(config.chain.poll_ms);
    let work = async {
        loop {
            if let Err(e) = duty.step().await {
                bulwark::tracing::warn!(error = %e, "bridge operator step failed; retrying");
            }
            tokio::time::sleep(poll).await;
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = work => {}
    }
    registrar.abort();
    server.abort();
    Ok(())
}

async fn register_forever(
    key: SecretKey,
    d: Deployment,
    operator: Address,
    url: String,
    aggregators: Vec<String>,
) {
    // Relayers are named by the config, reached directly: never through a proxy
    // from the environment, never redirected elsewhere.
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return;
    };
    loop {
        let body = registration(&key, &d, operator, &url, unix_now());
        for aggregator in &aggregators {
            let sent = http
                .post(format!("{}/v1/signers", aggregator.trim_end_matches('/')))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            if let Err(e) = sent {
                bulwark::tracing::debug!(%aggregator, error = %e, "registering with a relayer failed");
            }
        }
        tokio::time::sleep(REGISTER_EVERY).await;
    }
}

/// The relayer's view of registered operators: where each serves its signatures,
/// and when it signed that (a registration replaces only an older one).
#[derive(Clone, Debug, Default)]
pub struct Registrations(Arc<RwLock<BTreeMap<Address, (String, u64)>>>);

impl Registrations {
    /// Each registered operator's signature server, as the relayer asks them.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.0
            .read()
            .map(|s| {
                s.iter()
                    .map(|(operator, (url, _))| Endpoint {
                        operator: *operator,
                        url: url.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The relayer's registration endpoint, `POST /v1/signers` (and `/health`):
/// registrations that verify against `d`'s registry on `home` land in
/// `registrations`.
///
/// # Security
/// See the module's: every field is checked before the registry is read, the
/// signature before anything is stored, bodies over 2 KiB are refused unread.
pub fn registration_router(
    registrations: Registrations,
    home: DynProvider,
    d: Deployment,
) -> axum::Router {
    axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/signers", post(register))
        .layer(DefaultBodyLimit::max(MAX_REGISTRATION))
        .with_state(Registry {
            signers: registrations,
            home,
            d,
        })
}

#[derive(Clone)]
struct Registry {
    signers: Registrations,
    home: DynProvider,
    d: Deployment,
}

async fn register(State(r): State<Registry>, body: Bytes) -> (StatusCode, &'static str) {
    match accept(&r, &body).await {
        Ok(()) => (StatusCode::OK, "registered"),
        Err(reason) => (StatusCode::BAD_REQUEST, reason),
    }
}

async fn accept(r: &Registry, body: &[u8]) -> Result<(), &'static str> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| "not JSON")?;
    let operator: Address = v["operator"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("operator")?;
    let url = v["url"].as_str().ok_or("url")?.to_string();
    let issued_at = v["issued_at"].as_u64().ok_or("issued_at")?;
    let signature = v["signature"]
        .as_str()
        .and_then(|s| bulwark::alloy::primitives::hex::decode(s).ok())
        .and_then(|b| Signature::from_wire(&b).ok())
        .ok_or("signature")?;
    let loopback = url
        .strip_prefix("http://")
        .and_then(|rest| rest.parse::<SocketAddr>().ok())
        .is_some_and(|a| a.ip().is_loopback());
    if !loopback {
        return Err("url must be http:// on a loopback address");
    }
    let now = unix_now();
    // Saturating: the time is the sender's number, u64::MAX included.
    if issued_at.saturating_add(REGISTRATION_SKEW) < now
        || issued_at > now.saturating_add(FUTURE_SKEW)
    {
        return Err("issued_at too far from now");
    }
    let newer = r
        .signers
        .0
        .read()
        .map_err(|_| "busy")?
        .get(&operator)
        .is_none_or(|(_, at)| issued_at > *at);
    if !newer {
        return Err("not newer than the registration in force");
    }
    let head = r.home.get_block_number().await.map_err(|_| "chain")?;
    let block = u32::try_from(head.saturating_sub(1)).map_err(|_| "chain")?;
    let set = operator_set_at(&r.home, r.d.home_avs, block)
        .await
        .map_err(|_| "chain")?;
    let member = set.get(&operator).ok_or("not a registered operator")?;
    let digest = registration_digest(&r.d, operator, &url, issued_at);
    member
        .public_key
        .verify(&Domain::SIGNATURE, digest.as_slice(), &signature)
        .map_err(|_| "signature does not verify")?;
    let mut signers = r.signers.0.write().map_err(|_| "busy")?;
    // Again under the lock: a registration that raced this one may be newer.
    if signers
        .get(&operator)
        .is_some_and(|(_, at)| issued_at <= *at)
    {
        return Err("not newer than the registration in force");
    }
    signers.insert(operator, (url, issued_at));
    Ok(())
}

/// Runs the relayer until `shutdown` resolves. Its account comes from
/// `[avs] relayer_key_file` (relative to `config_dir`), else the aggregator's
/// submitter key; it must be a task creator of `BridgeHome` to commit tables.
pub async fn run_relayer(
    config: AggregatorConfig,
    config_dir: &std::path::Path,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RuntimeError> {
    let settings = BridgeSettings::from_table(&config.avs)?;
    let key = match &settings.relayer_key_file {
        Some(file) => std::fs::read_to_string(config_dir.join(file))
            .map_err(|e| RuntimeError::Key(format!("{file}: {e}")))?,
        None => config
            .aggregator
            .submitter_key
            .read("aggregator.submitter_key")
            .map_err(|e| RuntimeError::Key(e.to_string()))?,
    };
    let signer = bulwark::chain::provider::signer(key.trim())?;
    let account = signer.address();
    let wallet = bulwark::alloy::network::EthereumWallet::from(signer);
    let home = bulwark::chain::provider::connect(&config.chain.rpc_url, Some(wallet.clone()))?;
    let remote = bulwark::chain::provider::connect(&settings.remote_rpc_url, Some(wallet))?;
    let d = deployment(&home, &remote, config.chain.avs, &settings).await?;
    let signers = Registrations::default();
    let app = registration_router(signers.clone(), home.clone(), d);
    let listener = tokio::net::TcpListener::bind(config.aggregator.listen).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Listening {
        grpc: Some(addr),
        http: Some(addr),
    }
    .announce()?;
    bulwark::tracing::info!(%addr, %account, "bridge relayer listening for operators");
    let from = (
        home.get_block_number().await.map_err(ChainError::from)?,
        remote.get_block_number().await.map_err(ChainError::from)?,
    );
    let mut relayer = Relayer::new(
        d,
        home,
        remote,
        (account, account),
        Vec::new(),
        (
            config.chain.from_block.unwrap_or(from.0),
            from.1
                .saturating_sub(settings.confirmations.saturating_mul(4)),
        ),
        settings.confirmations,
        Duration::from_millis(500),
    )
    .await?;
    let poll = Duration::from_millis(config.chain.poll_ms);
    let work = async {
        loop {
            let endpoints = signers.endpoints();
            relayer.set_endpoints(endpoints);
            match relayer.step().await {
                Ok(report) => {
                    for id in report.to_remote {
                        bulwark::tracing::info!(%id, "delivered to the remote chain");
                    }
                    for id in report.to_home {
                        bulwark::tracing::info!(%id, "delivered to the home chain");
                    }
                    if let Some(epoch) = report.installed {
                        bulwark::tracing::info!(epoch, "table installed on the remote chain");
                    }
                }
                Err(e) => bulwark::tracing::warn!(error = %e, "relay step failed; retrying"),
            }
            tokio::time::sleep(poll).await;
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = work => {}
    }
    server.abort();
    Ok(())
}
