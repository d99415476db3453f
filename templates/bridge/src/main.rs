//! `bridge-avs`: the bridge AVS's commands.
//!
//! ```text
//! bridge-avs demo     two anvils, four operators and a relayer on loopback: tokens
//!                     there and back, a forged mint slashed, and the slash felt by
//!                     the oracle sharing the stake
//! bridge-avs status   messages by state on both chains, and both tables
//! bridge-avs remote-chain --dir DIR      the devnet's remote chain (an anvil), announced
//! bridge-avs devnet-setup ...            the remote side, vault and epoch 1 around a
//!                                        fresh BridgeHome; prints the [avs] settings
//! ```

use std::time::{Duration, Instant};

use bridge_avs::contracts::{self, IBridgeHome, IInbox, IOutbox, IWrappedToken};
use bridge_avs::devnet::{Bridge, CONFIRMATIONS, HOME, REMOTE};
use bridge_avs::message::Message;
use bridge_avs::relay::{self, Signed};
use bridge_avs::relayer::{Endpoint, Relayer};
use bridge_avs::signing::{Duty, SignatureBook, router};
use bulwark::alloy::primitives::{Address, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::alloy::sol_types::SolValue;
use bulwark::anyhow::{self, Context};
use bulwark::chain::bindings::{BasicAVS, LiquidStakingToken, RestakingCore};
use bulwark::chain::devnet::{self, DeployConfig, ether};
use bulwark::chain::registration::KeyRegistration;
use bulwark::chain::registry::operator_set_at;
use bulwark::clap;
use bulwark::tokio;

/// The oracle template's contract, deployed beside the bridge on the same core.
const ORACLE_AVS: &str = include_str!("../../oracle/artifacts/OracleAVS.json");

/// The bridge's own subcommands, beside the `operator` and `aggregator` (relayer)
/// roles `bulwark::app!` gives it.
#[derive(clap::Subcommand)]
enum Command {
    /// Run the bridge end to end on two local anvils and narrate it.
    Demo {
        /// Milliseconds between blocks on both chains.
        #[arg(long, default_value_t = 250)]
        block_ms: u64,
    },
    /// Run the devnet's remote chain: an anvil with its own chain id on a loopback
    /// port, announced (`$BULWARK_READY_FILE`) and written to `DIR/remote-chain.url`;
    /// it stops with this process.
    RemoteChain {
        /// The devnet folder.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// The remote chain's id.
        #[arg(long, default_value_t = REMOTE)]
        chain_id: u64,
        /// Funded dev accounts (the home chain's mnemonic: the same keys on both).
        #[arg(long, default_value_t = 20)]
        accounts: u32,
        /// Seconds between blocks (0: a block per transaction).
        #[arg(long, default_value_t = 0)]
        block_time: u64,
    },
    /// Deploy everything around a fresh BridgeHome whose operators are registered:
    /// epoch 1 committed and installed on the remote chain, the remote outbox, inbox
    /// and wrapped token, the home inbox and the vault; print the `[avs]` settings.
    DevnetSetup {
        /// The home chain.
        #[arg(long)]
        rpc_url: String,
        /// BridgeHome.
        #[arg(long)]
        avs: Address,
        /// The remote chain.
        #[arg(long)]
        remote_rpc_url: String,
        /// File holding the owner's private key (hex); the same account deploys on
        /// the remote chain.
        #[arg(long)]
        owner_key_file: std::path::PathBuf,
        /// Confirmations operators wait for before signing.
        #[arg(long, default_value_t = CONFIRMATIONS)]
        confirmations: u64,
    },
    /// Lock tokens in the vault on the home chain; the bridge mints as many wrapped
    /// tokens to `--to` on the remote chain.
    Lock {
        #[command(flatten)]
        at: Where,
        /// File holding the sender's private key (hex); it must hold the tokens.
        #[arg(long)]
        key_file: std::path::PathBuf,
        /// Whole tokens (18 decimals).
        #[arg(long)]
        amount: u64,
        /// Who receives the wrapped tokens (default: the sender).
        #[arg(long)]
        to: Option<Address>,
    },
    /// Burn wrapped tokens on the remote chain; the vault releases as many to `--to`
    /// on the home chain.
    Burn {
        #[command(flatten)]
        at: Where,
        /// File holding the holder's private key (hex).
        #[arg(long)]
        key_file: std::path::PathBuf,
        /// Whole tokens (18 decimals).
        #[arg(long)]
        amount: u64,
        /// Who receives the tokens on the home chain (default: the holder).
        #[arg(long)]
        to: Option<Address>,
    },
    /// Messages by state on both chains, and the operator table on each side.
    Status {
        #[command(flatten)]
        at: Where,
        /// Confirmations before a message counts as deep (default: the config's, else
        /// the template's).
        #[arg(long)]
        confirmations: Option<u64>,
    },
}

/// Where the bridge is: a devnet runtime's config file (`bulwark devnet up` writes
/// `.bulwark/devnet/aggregator.toml`), or each chain and contract by flag; a flag
/// given beside the file wins.
#[derive(clap::Args, Clone, Debug, Default)]
struct Where {
    /// A runtime config: the home chain and BridgeHome under `[chain]` (`rpc_url`,
    /// `avs`), the bridge's settings under `[avs]` (what `devnet-setup` printed).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// The home chain's RPC URL.
    #[arg(long, alias = "rpc-url")]
    home_rpc_url: Option<String>,
    /// The remote chain's RPC URL.
    #[arg(long)]
    remote_rpc_url: Option<String>,
    /// `BridgeHome` on the home chain.
    #[arg(long)]
    home_avs: Option<Address>,
    /// The home inbox.
    #[arg(long)]
    home_inbox: Option<Address>,
    /// The vault on the home chain.
    #[arg(long)]
    vault: Option<Address>,
    /// The remote outbox.
    #[arg(long)]
    remote_outbox: Option<Address>,
    /// The remote operator table.
    #[arg(long)]
    remote_table: Option<Address>,
    /// The remote inbox.
    #[arg(long)]
    remote_inbox: Option<Address>,
    /// The wrapped token on the remote chain.
    #[arg(long)]
    wrapped: Option<Address>,
}

impl Where {
    /// The flags, with what `--config` says filling those not given (a flag given is
    /// never read from the file, so one bad key there breaks only what needs it).
    fn resolve(self) -> anyhow::Result<Located> {
        let config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let table: toml::Table = toml::from_str(&text)
                    .with_context(|| format!("{} is not TOML", path.display()))?;
                Some((path.display().to_string(), table))
            }
            None => None,
        };
        let file = config.as_ref().map(|(path, _)| path.clone());
        let read = |section: &str, key: &str| -> Option<String> {
            config
                .as_ref()?
                .1
                .get(section)?
                .get(key)?
                .as_str()
                .map(str::to_string)
        };
        let address =
            |flag: Option<Address>, section: &str, key: &str| -> anyhow::Result<Option<Address>> {
                if flag.is_some() {
                    return Ok(flag);
                }
                read(section, key)
                    .map(|text| {
                        text.parse().with_context(|| {
                            format!(
                                "[{section}] {key} in {} is not an address: {text:?}",
                                file.as_deref().unwrap_or("the config")
                            )
                        })
                    })
                    .transpose()
            };
        // The file's addresses belong to its BridgeHome: read against another, its
        // lanes would compare unrelated contracts.
        if let (Some(flag), Some(own)) = (self.home_avs, address(None, "chain", "avs")?) {
            if flag != own {
                anyhow::bail!(
                    "--home-avs {flag} is not the BridgeHome {own} that {} describes",
                    file.as_deref().unwrap_or("the config")
                );
            }
        }
        let confirmations = match config
            .as_ref()
            .and_then(|(_, c)| c.get("avs")?.get("confirmations"))
        {
            None => None,
            Some(value) => Some(
                value
                    .as_integer()
                    .and_then(|n| u64::try_from(n).ok())
                    .with_context(|| {
                        format!(
                            "[avs] confirmations in {} is not a count: {value}",
                            file.as_deref().unwrap_or("the config")
                        )
                    })?,
            ),
        };
        Ok(Located {
            home_rpc_url: self.home_rpc_url.or_else(|| read("chain", "rpc_url")),
            remote_rpc_url: self
                .remote_rpc_url
                .or_else(|| read("avs", "remote_rpc_url")),
            home_avs: address(self.home_avs, "chain", "avs")?,
            home_inbox: address(self.home_inbox, "avs", "home_inbox")?,
            vault: address(self.vault, "avs", "vault")?,
            remote_outbox: address(self.remote_outbox, "avs", "remote_outbox")?,
            remote_table: address(self.remote_table, "avs", "remote_table")?,
            remote_inbox: address(self.remote_inbox, "avs", "remote_inbox")?,
            wrapped: address(self.wrapped, "avs", "wrapped")?,
            confirmations,
            file,
        })
    }
}

/// [`Where`] resolved; each part is required only by the commands that use it.
struct Located {
    home_rpc_url: Option<String>,
    remote_rpc_url: Option<String>,
    home_avs: Option<Address>,
    home_inbox: Option<Address>,
    vault: Option<Address>,
    remote_outbox: Option<Address>,
    remote_table: Option<Address>,
    remote_inbox: Option<Address>,
    wrapped: Option<Address>,
    confirmations: Option<u64>,
    /// The config file read, if any.
    file: Option<String>,
}

impl Located {
    /// `value`, or an error naming the flag (and the file's key) that gives it.
    fn needed<T>(&self, value: Option<T>, flag: &str, key: &str) -> anyhow::Result<T> {
        value.with_context(|| match &self.file {
            Some(file) => format!("{file} has no {key}: pass --{flag}"),
            None => format!("pass --{flag}, or --config with a devnet runtime's config"),
        })
    }
}

fn main() -> std::process::ExitCode {
    bulwark::app!()
        .operator(|config, role| async move {
            bridge_avs::runtime::run_operator(config, role.shutdown).await?;
            Ok(())
        })
        .aggregator(|config, role| async move {
            let dir = role.config_dir().to_path_buf();
            bridge_avs::runtime::run_relayer(config, &dir, role.shutdown).await?;
            Ok(())
        })
        .commands(run)
        .run()
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Demo { block_ms } => demo(Duration::from_millis(block_ms.max(10))).await,
        Command::RemoteChain {
            dir,
            chain_id,
            accounts,
            block_time,
        } => remote_chain(dir, chain_id, accounts, block_time).await,
        Command::DevnetSetup {
            rpc_url,
            avs,
            remote_rpc_url,
            owner_key_file,
            confirmations,
        } => devnet_setup(rpc_url, avs, remote_rpc_url, owner_key_file, confirmations).await,
        Command::Lock {
            at,
            key_file,
            amount,
            to,
        } => {
            let at = at.resolve()?;
            let vault = at.needed(at.vault, "vault", "[avs] vault")?;
            let rpc_url = at.needed(at.home_rpc_url.clone(), "home-rpc-url", "[chain] rpc_url")?;
            let (provider, from) = wallet_provider(&rpc_url, &key_file)?;
            let token = bridge_avs::contracts::ITokenVault::new(vault, provider.clone())
                .token()
                .call()
                .await?;
            let amount = ether(amount);
            devnet::mined(
                &provider,
                LiquidStakingToken::new(token, provider.clone())
                    .approve(vault, amount)
                    .send()
                    .await?,
            )
            .await?;
            let receipt = devnet::mined(
                &provider,
                bridge_avs::contracts::ITokenVault::new(vault, provider.clone())
                    .lock(amount, to.unwrap_or(from))
                    .send()
                    .await?,
            )
            .await?;
            println!(
                "locked {} in block {}: the bridge mints as many on the remote chain once it is deep",
                eth(amount),
                receipt.block_number.unwrap_or_default()
            );
            Ok(())
        }
        Command::Burn {
            at,
            key_file,
            amount,
            to,
        } => {
            let at = at.resolve()?;
            let wrapped = at.needed(at.wrapped, "wrapped", "[avs] wrapped")?;
            let remote_rpc_url = at.needed(
                at.remote_rpc_url.clone(),
                "remote-rpc-url",
                "[avs] remote_rpc_url",
            )?;
            let (provider, from) = wallet_provider(&remote_rpc_url, &key_file)?;
            let amount = ether(amount);
            let receipt = devnet::mined(
                &provider,
                IWrappedToken::new(wrapped, provider.clone())
                    .burn(amount, to.unwrap_or(from))
                    .send()
                    .await?,
            )
            .await?;
            println!(
                "burned {} in block {}: the vault releases as many on the home chain once it is deep",
                eth(amount),
                receipt.block_number.unwrap_or_default()
            );
            Ok(())
        }
        Command::Status { at, confirmations } => {
            let at = at.resolve()?;
            let home = bulwark::chain::provider::connect(
                &at.needed(at.home_rpc_url.clone(), "home-rpc-url", "[chain] rpc_url")?,
                None,
            )?;
            let remote = bulwark::chain::provider::connect(
                &at.needed(
                    at.remote_rpc_url.clone(),
                    "remote-rpc-url",
                    "[avs] remote_rpc_url",
                )?,
                None,
            )?;
            let home_avs = at.needed(at.home_avs, "home-avs", "[chain] avs")?;
            let confirmations = confirmations.or(at.confirmations).unwrap_or(CONFIRMATIONS);
            let d = bridge_avs::signing::Deployment {
                home_chain: home.get_chain_id().await?,
                remote_chain: remote.get_chain_id().await?,
                home_avs,
                home_outbox: IBridgeHome::new(home_avs, home.clone())
                    .outbox()
                    .call()
                    .await?,
                home_inbox: at.needed(at.home_inbox, "home-inbox", "[avs] home_inbox")?,
                remote_outbox: at.needed(
                    at.remote_outbox,
                    "remote-outbox",
                    "[avs] remote_outbox",
                )?,
                remote_table: at.needed(at.remote_table, "remote-table", "[avs] remote_table")?,
                remote_inbox: at.needed(at.remote_inbox, "remote-inbox", "[avs] remote_inbox")?,
            };
            print!(
                "{}",
                bridge_avs::status::report(&d, &home, &remote, confirmations).await?
            );
            Ok(())
        }
    }
}

fn gwei_eth(gwei: u64) -> String {
    format!("{:.1}", gwei as f64 / 1e9)
}

fn eth(wei: U256) -> String {
    let whole = wei / ether(1);
    format!("{whole}")
}

async fn demo(block: Duration) -> anyhow::Result<()> {
    println!(
        "== two chains: home {HOME} (restaking core, BridgeHome) and remote {REMOTE} (operator table)"
    );
    let bridge = Bridge::start().await.context("starting the two anvils")?;
    let (a, b) = (bridge.a().clone(), bridge.b().clone());
    println!(
        "   4 operators, 32 LST each; table epoch 1 committed on home (root {}) and installed on remote",
        bridge.committed.table.root
    );

    // The oracle shares the core and the operators' stake.
    let oracle = bridge
        .home
        .deploy_avs(
            &DeployConfig {
                avs_code: contracts::creation_code(ORACLE_AVS)?,
                ..DeployConfig::default()
            },
            bridge.d.core,
            bridge.d.owner,
        )
        .await?;
    let core = RestakingCore::new(bridge.d.core, a.clone());
    let oracle_registry = BasicAVS::new(oracle, a.clone());
    for op in &bridge.ops {
        devnet::mined(
            &a,
            core.allocate(oracle, 10_000)
                .from(op.address)
                .send()
                .await?,
        )
        .await?;
        let reg = KeyRegistration::for_chain(&a, &op.key, oracle, op.address).await?;
        devnet::mined(
            &a,
            oracle_registry
                .registerOperator(reg.public_key, reg.proof)
                .from(op.address)
                .send()
                .await?,
        )
        .await?;
    }
    println!(
        "   the oracle AVS runs on the same core: every operator allocates all its stake to both"
    );

    // Operators and a relayer, over HTTP on loopback; blocks on both chains.
    let d = bridge.deployment();
    let mut tasks = Vec::new();
    let mut endpoints = Vec::new();
    for op in &bridge.ops {
        let book = SignatureBook::new(10_000);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = router(book.clone());
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        let mut duty = Duty::new(
            op.key.clone(),
            d,
            a.clone(),
            b.clone(),
            (0, 0),
            CONFIRMATIONS,
            book,
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let _ = duty.step().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
        endpoints.push(Endpoint {
            operator: op.address,
            url,
        });
    }
    for p in [a.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(block).await;
                let _ = devnet::mine(&p, 1).await;
            }
        }));
    }
    let mut relayer = Relayer::new(
        d,
        a.clone(),
        b.clone(),
        (bridge.d.owner, bridge.relayer_b),
        endpoints,
        (0, 0),
        CONFIRMATIONS,
        Duration::from_millis(500),
    )
    .await?;
    println!(
        "   operators sign at {CONFIRMATIONS} confirmations and serve signatures over HTTP; a relayer carries them; a block every {} ms",
        block.as_millis()
    );

    println!("\n== tokens there: a user locks 10 LST in the vault on home");
    let user = bridge.funded_user(5, ether(10)).await?;
    let started = Instant::now();
    let sent_at = bridge.lock(user, ether(10)).await?;
    while bridge.wrapped_balance(user).await? != ether(10) {
        relayer.step().await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no delivery within a minute"
        );
    }
    let blocks = a.get_block_number().await? - sent_at;
    println!(
        "   10 wLST minted on remote: {blocks} home blocks after the lock ({CONFIRMATIONS} confirmations), {} ms",
        started.elapsed().as_millis()
    );

    println!("\n== and back: the user burns 4 wLST on remote");
    let wrapped = IWrappedToken::new(bridge.wrapped, b.clone());
    devnet::mined(&b, wrapped.burn(ether(4), user).from(user).send().await?).await?;
    let token = LiquidStakingToken::new(bridge.d.token, a.clone());
    let started = Instant::now();
    while token.balanceOf(user).call().await? != ether(4) {
        relayer.step().await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no release within a minute"
        );
    }
    println!(
        "   4 LST released on home after {} ms (certified by the registry itself); 6 stay locked",
        started.elapsed().as_millis()
    );

    println!(
        "\n== a forged mint: operators 1-3 (75% of the stake) sign 1,000,000 wLST the vault never locked"
    );
    let attacker = bridge.remote.accounts()[7];
    let home = IBridgeHome::new(bridge.d.avs, a.clone());
    let next_nonce = IOutbox::new(bridge.outbox_a, a.clone())
        .nextNonce()
        .call()
        .await?;
    let forged = Message {
        source_chain_id: U256::from(HOME),
        outbox: bridge.outbox_a,
        nonce: next_nonce + 1000,
        sender: bridge.vault,
        destination_chain_id: U256::from(REMOTE),
        recipient: bridge.wrapped,
        payload: (attacker, ether(1_000_000)).abi_encode().into(),
    };
    let digest = relay::delivery(REMOTE, bridge.inbox_b, &forged);
    let colluders = &bridge.ops[..3];
    let votes: Vec<Signed> = colluders
        .iter()
        .map(|op| Signed {
            operator: op.address,
            signature: relay::sign(&op.key, digest),
        })
        .collect();
    let (cert, _) = relay::table_certificate(relayer.table(), digest, &votes)?;
    let receipt = devnet::mined(
        &b,
        IInbox::new(bridge.inbox_b, b.clone())
            .deliver((&forged).into(), cert.clone())
            .from(bridge.relayer_b)
            .send()
            .await?,
    )
    .await?;
    println!(
        "   remote executed it (a delivery costs the relayer {} gas): the attacker holds {} wLST",
        receipt.gas_used,
        eth(bridge.wrapped_balance(attacker).await?)
    );

    println!("\n== the fraud proof on home: the outbox never emitted that message");
    let offence = home.FORGED_DELIVERY().call().await?;
    let weight = |avs: Address, op: Address| {
        let a = a.clone();
        async move { stake_of(&a, avs, op).await }
    };
    for op in colluders {
        let before = (
            weight(bridge.d.avs, op.address).await?,
            weight(oracle, op.address).await?,
        );
        let evidence = relay::forged_delivery_evidence(
            offence,
            &bridge.committed.table,
            &bridge.table,
            &forged,
            bridge.inbox_b,
            &cert,
            op.address,
        )?;
        devnet::mined(
            &a,
            home.challenge(bridge.committed.task_id, evidence)
                .from(bridge.home.accounts()[8])
                .send()
                .await?,
        )
        .await?;
        let after = (
            weight(bridge.d.avs, op.address).await?,
            weight(oracle, op.address).await?,
        );
        println!(
            "   {} slashed 50%: bridge weight {} -> {} LST, oracle weight {} -> {} LST (one stake)",
            op.address,
            gwei_eth(before.0),
            gwei_eth(after.0),
            gwei_eth(before.1),
            gwei_eth(after.1)
        );
    }
    let honest = &bridge.ops[3];
    println!(
        "   the honest operator {} keeps {} LST on both",
        honest.address,
        gwei_eth(weight(oracle, honest.address).await?)
    );

    println!("\n== bridge-avs status");
    print!(
        "{}",
        bridge_avs::status::report(&d, &a, &b, CONFIRMATIONS).await?
    );

    for task in tasks {
        task.abort();
    }
    println!("\ndone: both anvils stop with this process");
    Ok(())
}

/// `op`'s registered stake (gwei) on `avs` now.
async fn stake_of(a: &DynProvider, avs: Address, op: Address) -> anyhow::Result<u64> {
    let head = u32::try_from(a.get_block_number().await?)?;
    let set = operator_set_at(a, avs, head).await?;
    Ok(set.get(&op).map_or(0, |e| e.stake_gwei))
}

async fn remote_chain(
    dir: std::path::PathBuf,
    chain_id: u64,
    accounts: u32,
    block_time: u64,
) -> anyhow::Result<()> {
    let chain = bulwark::chain::devnet::Devnet::start_chain(accounts, chain_id)
        .context("starting the remote chain's anvil")?;
    if block_time > 0 {
        let _: serde_json::Value = chain
            .provider()
            .raw_request("evm_setIntervalMining".into(), (block_time,))
            .await
            .context("setting the block time")?;
    }
    // anvil answers JSON-RPC but not `GET /health`, which a devnet service must: a
    // front on another loopback port answers it and passes every other request to
    // anvil, so its address is the chain's RPC URL too.
    let anvil = chain.endpoint();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the remote chain's front")?;
    let addr = listener.local_addr()?;
    let endpoint = format!("http://{addr}");
    let front = rpc_front(anvil.clone())?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, front).await;
    });
    std::fs::write(dir.join("remote-chain.url"), format!("{endpoint}\n"))
        .with_context(|| format!("writing {}", dir.display()))?;
    bulwark::node::listening::Listening {
        grpc: None,
        http: Some(addr),
    }
    .announce()
    .context("announcing the remote chain")?;
    println!("{endpoint}");
    bulwark::node::service::shutdown_signal().await;
    server.abort();
    // Dropping the devnet stops its anvil.
    drop(chain);
    Ok(())
}

async fn devnet_setup(
    rpc_url: String,
    avs: Address,
    remote_rpc_url: String,
    owner_key_file: std::path::PathBuf,
    confirmations: u64,
) -> anyhow::Result<()> {
    let key = std::fs::read_to_string(&owner_key_file)
        .with_context(|| format!("reading {}", owner_key_file.display()))?;
    let owner = bulwark::chain::provider::signer(key.trim())?;
    let from = owner.address();
    let wallet = bulwark::alloy::network::EthereumWallet::from(owner);
    let home = bulwark::chain::provider::connect(&rpc_url, Some(wallet.clone()))?;
    let remote = bulwark::chain::provider::connect(&remote_rpc_url, Some(wallet))?;
    let core = BasicAVS::new(avs, home.clone()).core().call().await?;
    let token = RestakingCore::new(core, home.clone())
        .asset()
        .call()
        .await?;
    let sides = bridge_avs::devnet::deploy_sides(&home, from, &remote, from, avs, token)
        .await
        .context("deploying the bridge around BridgeHome")?;
    println!("remote_rpc_url = \"{remote_rpc_url}\"");
    // The owner commits tables (a task creator); a real deployment names its own.
    println!("relayer_key_file = \"{}\"", owner_key_file.display());
    println!("confirmations = {confirmations}");
    for (name, address) in [
        ("home_outbox", sides.home_outbox),
        ("home_inbox", sides.home_inbox),
        ("vault", sides.vault),
        ("remote_outbox", sides.remote_outbox),
        ("remote_table", sides.remote_table),
        ("remote_inbox", sides.remote_inbox),
        ("wrapped", sides.wrapped),
    ] {
        println!("{name} = \"{address}\"");
    }
    Ok(())
}

/// Largest JSON-RPC request or answer the remote chain's front passes on.
const MAX_RPC_BYTES: usize = 8 << 20;

/// `GET /health`, and every JSON-RPC `POST /` passed to the anvil at `anvil`.
fn rpc_front(anvil: String) -> anyhow::Result<axum::Router> {
    use axum::body::Bytes;
    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    // Straight to the anvil on loopback: never through a proxy from the
    // environment; a call anvil does not answer in 30 s fails instead of hanging.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("building the remote chain's HTTP client")?;
    Ok(axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(
            "/",
            axum::routing::post(
                |State((client, anvil)): State<(reqwest::Client, String)>, body: Bytes| async move {
                    let answer = client
                        .post(&anvil)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await;
                    match answer {
                        Ok(response) => match response.bytes().await {
                            Ok(bytes) => (
                                StatusCode::OK,
                                [(header::CONTENT_TYPE, "application/json")],
                                bytes,
                            )
                                .into_response(),
                            Err(_) => StatusCode::BAD_GATEWAY.into_response(),
                        },
                        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
                    }
                },
            ),
        )
        .layer(DefaultBodyLimit::max(MAX_RPC_BYTES))
        .with_state((client, anvil)))
}

/// A provider signing with the key in `key_file`, and its account.
fn wallet_provider(
    rpc_url: &str,
    key_file: &std::path::Path,
) -> anyhow::Result<(DynProvider, Address)> {
    let key = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let signer = bulwark::chain::provider::signer(key.trim())?;
    let from = signer.address();
    let provider = bulwark::chain::provider::connect(
        rpc_url,
        Some(bulwark::alloy::network::EthereumWallet::from(signer)),
    )?;
    Ok((provider, from))
}
