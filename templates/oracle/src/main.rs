//! `oracle-avs`: the price oracle's operator and aggregator (with its round keeper),
//! the devnet's local price server, and the devnet setup `bulwark devnet up` runs.
//!
//! ```text
//! oracle-avs operator   --config operator.toml     observe, report, endorse
//! oracle-avs aggregator --config aggregator.toml   propose medians, land rounds, keep feeds fresh
//! oracle-avs challenger --config challenger.toml   prove equivocations and far endorsements on chain
//! oracle-avs price-server --listen 127.0.0.1:8080  a local exchange (three API formats)
//! oracle-avs devnet-setup ...                      configure feeds on a fresh devnet
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::network::EthereumWallet;
use bulwark::anyhow::{self, Context};
use bulwark::node::config::SecretSource;
use bulwark::node::listening::Listening;
use bulwark::node::service::shutdown_signal;
use bulwark::node::telemetry::init_tracing;
use bulwark::{alloy, clap, tracing};
use oracle_avs::bindings::OracleAVS;
use oracle_avs::config::{FeedConfig, KeeperConfig, OracleConfig};
use oracle_avs::price_server::{Mode, PriceServer, sources_at};
use oracle_avs::round::feed_id;
use oracle_avs::service;
use oracle_avs::source::Exchange;

/// The oracle's own subcommands, beside the roles `bulwark::app!` gives it.
#[derive(clap::Subcommand)]
enum Command {
    /// Serve a local exchange (Coinbase, Kraken and Binance formats) whose prices
    /// follow a random walk.
    PriceServer {
        /// Where to listen (loopback).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// A feed and its starting price, e.g. `ETH/USD=3000`; repeatable.
        #[arg(long = "feed", default_values = ["ETH/USD=3000", "BTC/USD=60000"])]
        feeds: Vec<String>,
        /// Milliseconds between steps of the walk.
        #[arg(long, default_value_t = 1000)]
        tick_ms: u64,
        /// Quote every price times this factor (a lying exchange, for demos).
        #[arg(long)]
        lie: Option<f64>,
        /// A folder to write the server's URL to (`price-server.url`); `bulwark
        /// devnet up` passes the devnet folder.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print every feed and its latest round.
    Status {
        /// The chain.
        #[arg(long)]
        rpc_url: String,
        /// The OracleAVS contract.
        #[arg(long)]
        avs: alloy::primitives::Address,
    },
    /// Configure the feeds on a freshly deployed OracleAVS and allow the keeper to
    /// start rounds; prints the `[avs]` settings for the runtime configs.
    DevnetSetup {
        /// The chain.
        #[arg(long)]
        rpc_url: String,
        /// The OracleAVS contract.
        #[arg(long)]
        avs: alloy::primitives::Address,
        /// File holding the AVS owner's private key (hex).
        #[arg(long)]
        owner_key_file: PathBuf,
        /// File holding the keeper account's private key (hex).
        #[arg(long)]
        keeper_key_file: PathBuf,
        /// The local price server's URL.
        #[arg(long)]
        price_server: String,
        /// Seconds after which a round is due even without a move.
        #[arg(long, default_value_t = 10)]
        heartbeat_s: u32,
        /// Price move (basis points) that makes a round due.
        #[arg(long, default_value_t = 50)]
        deviation_bps: u16,
        /// How many operators the devnet runs (`operator-0` …).
        #[arg(long, default_value_t = 0)]
        operators: usize,
        /// Make the last K operators faulty, for demos: they read the other feed's
        /// pairs, so their reports are far off (left out, recorded as evidence), and
        /// endorse the proposal anyway: a far endorsement, which the challenger proves
        /// and the AVS slashes.
        #[arg(long, default_value_t = 0)]
        faulty_operators: usize,
    },
}

fn main() -> std::process::ExitCode {
    bulwark::app!()
        .operator(|config, role| async move {
            service::run_operator(config, role.shutdown).await?;
            Ok(())
        })
        .aggregator(|config, role| async move {
            let dir = role.config_dir().to_path_buf();
            service::run_aggregator(config, &dir, None, role.shutdown).await?;
            Ok(())
        })
        .offence_check(oracle_avs::slashing::FarEndorsementCheck)
        .describe(oracle_avs::round::describe_answer)
        .commands(run)
        .run()
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::PriceServer {
            listen,
            feeds,
            tick_ms,
            lie,
            dir,
        } => {
            init_tracing("info");
            if !listen.ip().is_loopback() {
                anyhow::bail!("the price server is for devnets: listen on a loopback address");
            }
            let feeds = feeds
                .iter()
                .map(|f| parse_feed(f))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let feeds: Vec<(&str, f64)> = feeds.iter().map(|(n, p)| (n.as_str(), *p)).collect();
            let server = PriceServer::start(listen, &feeds, Duration::from_millis(tick_ms.max(1)))
                .await
                .with_context(|| format!("listening on {listen}"))?;
            if let Some(factor) = lie {
                for exchange in [Exchange::Coinbase, Exchange::Kraken, Exchange::Binance] {
                    server.set_mode(exchange, Mode::Lying { factor });
                }
            }
            tracing::info!(addr = %server.addr(), "price server listening");
            // For `bulwark devnet up`, which started us on port 0.
            Listening {
                grpc: None,
                http: Some(server.addr()),
            }
            .announce()
            .context("announcing the address")?;
            println!("http://{}", server.addr());
            if let Some(dir) = dir {
                std::fs::write(
                    dir.join("price-server.url"),
                    format!("http://{}\n", server.addr()),
                )
                .with_context(|| format!("writing the URL to {}", dir.display()))?;
            }
            shutdown_signal().await;
            server.stop().await;
        }
        Command::Status { rpc_url, avs } => {
            let provider = bulwark::chain::provider::connect(&rpc_url, None)?;
            print!("{}", oracle_avs::status::feeds(&provider, avs).await?);
        }
        Command::DevnetSetup {
            rpc_url,
            avs,
            owner_key_file,
            keeper_key_file,
            price_server,
            heartbeat_s,
            deviation_bps,
            operators,
            faulty_operators,
        } => {
            if faulty_operators > operators {
                anyhow::bail!(
                    "--faulty-operators {faulty_operators} exceeds --operators {operators}"
                );
            }
            let owner = read_key(&owner_key_file)?;
            let keeper = read_key(&keeper_key_file)?;
            let provider =
                bulwark::chain::provider::connect(&rpc_url, Some(EthereumWallet::from(owner)))?;
            let contract = OracleAVS::new(avs, provider.clone());
            let mut feeds = Vec::new();
            for name in ["ETH/USD", "BTC/USD"] {
                let id = feed_id(name).context("feed name")?;
                let sent = contract
                    .configureFeed(id, heartbeat_s, deviation_bps, 8)
                    .send()
                    .await
                    .with_context(|| format!("configuring {name}"))?;
                bulwark::chain::devnet::mined(&provider, sent).await?;
                // Operators endorse within 1% (tolerance_bps below); beyond that an
                // endorsement is slashable.
                let sent = contract
                    .setEndorsementTolerance(id, 100)
                    .send()
                    .await
                    .with_context(|| format!("setting the tolerance of {name}"))?;
                bulwark::chain::devnet::mined(&provider, sent).await?;
                feeds.push(FeedConfig {
                    name: name.into(),
                    sources: sources_at(&price_server, name),
                    heartbeat_s,
                    deviation_bps,
                });
            }
            let sent = contract
                .setTaskCreator(keeper.address(), true)
                .send()
                .await
                .context("allowing the keeper to start rounds")?;
            bulwark::chain::devnet::mined(&provider, sent).await?;
            let settings = OracleConfig {
                feeds,
                tolerance_bps: 100,
                max_quote_age_s: 30,
                min_sources: 2,
                fetch_timeout_ms: 2_000,
                keeper: Some(KeeperConfig {
                    interval_ms: 1_000,
                    key: Some(SecretSource::File(keeper_key_file.canonicalize()?)),
                    ..KeeperConfig::default()
                }),
                endorse_anything: false,
            };
            let mut table = settings.to_table()?;
            // Faulty operators: each feed read from the other feed's pairs.
            let mut process = toml::Table::new();
            for i in operators - faulty_operators..operators {
                let mut faulty = settings.clone();
                faulty.keeper = None;
                faulty.endorse_anything = true;
                let names: Vec<String> = faulty.feeds.iter().map(|f| f.name.clone()).collect();
                for (feed, other) in faulty.feeds.iter_mut().zip(names.iter().rev()) {
                    feed.sources = sources_at(&price_server, other);
                }
                process.insert(format!("operator-{i}"), faulty.to_table()?.into());
            }
            if !process.is_empty() {
                table.insert("process".into(), process.into());
            }
            print!("{}", toml::to_string(&table)?);
        }
    }
    Ok(())
}

fn parse_feed(text: &str) -> anyhow::Result<(String, f64)> {
    let (name, price) = text
        .split_once('=')
        .with_context(|| format!("--feed {text}: expected NAME=PRICE"))?;
    let price: f64 = price
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite() && *p > 0.0)
        .with_context(|| format!("--feed {text}: the price must be a positive number"))?;
    Ok((name.to_string(), price))
}

fn read_key(path: &Path) -> anyhow::Result<alloy::signers::local::PrivateKeySigner> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    Ok(bulwark::chain::provider::signer(text.trim())?)
}
