//! `bulwark devnet up|down|status`: a project's AVS on a local anvil, left running.
//!
//! `up` starts anvil and the project's aggregator and operators as detached processes
//! (each in its own process group), deploys the restaking core and the project's AVS,
//! funds and registers the operators with delegated stake, and records everything in
//! `.bulwark/devnet.json`. `down` stops exactly the processes recorded there (each
//! checked to still be ours by its command line) and nothing else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use bulwark_chain::devnet::{DeployConfig, Devnet, ether};
use bulwark_crypto::SecretKey;
use bulwark_crypto::keystore::{Kdf, Keystore};
use bulwark_node::config::{
    AggregatorConfig, ChainConfig, ChallengerConfig, ChallengerSection, OperatorConfig,
    SecretSource, TelemetryConfig,
};
use bulwark_node::listening::Listening;
use bulwark_node::supervise::{self, Supervised};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CliError;
use crate::state::{DevAccount, DevnetOperator, DevnetState, Process, Project, expand};

/// What `devnet up` starts.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The project folder (with `bulwark.toml`).
    pub project: PathBuf,
    /// Operators to start.
    pub operators: usize,
    /// Each operator's stake, in tokens.
    pub stake: u64,
    /// Skip the project's build command.
    pub no_build: bool,
    /// Spare funded accounts for stakers.
    pub spare_accounts: usize,
    /// The hard fork anvil runs (`bulwark_chain::devnet::HARDFORK` unless asked).
    pub hardfork: String,
    /// Extra arguments for the project's setup step.
    pub setup_args: Vec<String>,
    /// The restaking layer the AVS runs on.
    pub restaking: RestakingKind,
}

/// The restaking layer of a devnet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RestakingKind {
    /// Bulwark's own devnet restaking core.
    #[default]
    Bulwark,
    /// EigenLayer's core (slashing release), through the `EigenLayerRestaking` adapter.
    Eigenlayer,
}

/// Where the devnet of `project` keeps its files.
pub fn dir_of(project: &Path) -> PathBuf {
    project.join(".bulwark")
}

/// The config file of `project`'s devnet aggregator: the chain, the AVS and the
/// `[avs]` settings the setup printed, which an AVS's status command may need
/// (`{aggregator_config}` in `[avs] status`).
pub fn aggregator_config(project: &Path) -> PathBuf {
    dir_of(project).join("devnet").join("aggregator.toml")
}

/// [`aggregator_config`] of `project`, if its devnet is the chain and AVS a status
/// reads (`rpc_url`, `avs`): the settings there describe that deployment only.
pub fn own_aggregator_config(project: &Path, rpc_url: &str, avs: Address) -> Option<PathBuf> {
    let state = DevnetState::load(&state_path(project)).ok()?;
    let config = aggregator_config(project);
    (state.rpc_url == rpc_url && state.avs == avs && config.is_file()).then_some(config)
}

/// The state file of `project`'s devnet.
pub fn state_path(project: &Path) -> PathBuf {
    dir_of(project).join("devnet.json")
}

fn progress(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Starts the devnet; on any failure stops what it had started.
pub async fn up(options: &UpOptions) -> anyhow::Result<DevnetState> {
    if options.operators == 0 || options.operators > 50 {
        return Err(CliError::Usage("--operators must be 1 to 50".into()).into());
    }
    let project_dir = options.project.canonicalize().map_err(|_| {
        CliError::NotFound(format!("no project folder {}", options.project.display()))
    })?;
    let project = Project::load(&project_dir)?;
    let state_file = state_path(&project_dir);
    if state_file.exists() {
        let state = DevnetState::load(&state_file)?;
        if state
            .processes
            .iter()
            .any(|p| supervise::is_ours(p.pid, &state.marker()))
        {
            return Err(CliError::Exists(
                "a devnet is already running for this project (see `bulwark devnet status`; stop it with `bulwark devnet down`)"
                    .into(),
            )
            .into());
        }
    }
    let dir = dir_of(&project_dir).join("devnet");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let bar = progress(6);

    if !options.no_build {
        // What `bulwark build` does: forge and cargo rebuild only what changed.
        bar.set_message(format!("building {}", project.avs.name));
        if let Err(err) = crate::build::build(
            &project_dir,
            &project,
            crate::build::BuildOptions {
                quiet: true,
                contracts_only: false,
            },
        )
        .await
        {
            bar.finish_and_clear();
            return Err(err.context("building the project (skip with --no-build)"));
        }
    }
    if !project.avs.binary.exists() {
        bar.finish_and_clear();
        return Err(CliError::NotFound(format!(
            "no AVS binary at {} (build the project first)",
            project.avs.binary.display()
        ))
        .into());
    }
    let code = project.creation_code()?;
    bar.inc(1);

    let mut started: Vec<Process> = Vec::new();
    let result = start_all(options, &project, code, &dir, &bar, &mut started).await;
    match result {
        Ok(mut state) => {
            state.processes = started;
            state.save(&state_file)?;
            bar.finish_and_clear();
            Ok(state)
        }
        Err(err) => {
            bar.set_message("failed; stopping what was started");
            let marker = dir.display().to_string();
            for p in started.iter().rev() {
                supervise::terminate(p.pid, &marker, Duration::from_secs(5)).await;
            }
            bar.finish_and_clear();
            Err(err)
        }
    }
}

async fn start_all(
    options: &UpOptions,
    project: &Project,
    code: alloy::primitives::Bytes,
    dir: &Path,
    bar: &ProgressBar,
    started: &mut Vec<Process>,
) -> anyhow::Result<DevnetState> {
    let n = options.operators;
    bar.set_message("starting anvil");
    let accounts = n + 4 + options.spare_accounts;
    let anvil_config = dir.join("anvil.json");
    let anvil_log = dir.join("anvil.log");
    let anvil_path = bulwark_chain::devnet::anvil_binary();
    let anvil = Supervised::spawn_detached(
        "anvil",
        &anvil_path,
        &[
            "--hardfork",
            &options.hardfork,
            "--host",
            "127.0.0.1",
            // Port 0: anvil binds whatever the kernel gives it and says which in its
            // log, so no other process can take the port in between.
            "--port",
            "0",
            "--accounts",
            &accounts.to_string(),
            "--config-out",
            &anvil_config.display().to_string(),
        ],
        anvil_log.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}; run `make tools` or set BULWARK_ANVIL"))?;
    started.push(Process {
        name: "anvil".into(),
        pid: anvil.release().context("anvil exited at once")?,
        health: None,
        log: anvil_log.clone(),
    });
    let (rpc_url, keys) = wait_for_anvil(&anvil_config, &anvil_log).await?;
    bar.inc(1);

    bar.set_message("deploying the restaking core and the AVS");
    let devnet = Devnet::attach(&rpc_url, keys.clone())?;
    let defaults = DeployConfig::default();
    let config = DeployConfig {
        avs_code: code,
        reward_epoch_blocks: project.devnet.reward_epoch_blocks,
        withdrawal_delay: project
            .devnet
            .withdrawal_delay
            .unwrap_or(defaults.withdrawal_delay),
        challenge_window: project
            .devnet
            .challenge_window
            .unwrap_or(defaults.challenge_window),
        ..defaults
    };
    let eigenlayer = match options.restaking {
        RestakingKind::Bulwark => None,
        RestakingKind::Eigenlayer => {
            let artifacts = bulwark_chain::eigenlayer::artifacts_dir();
            Some(
                devnet
                    .deploy_on_eigenlayer(&config, &artifacts)
                    .await
                    .context("deploying EigenLayer's core (fetch it with `make eigenlayer`)")?,
            )
        }
    };
    let deployment = match &eigenlayer {
        Some(el) => el.deployment,
        None => devnet.deploy(&config).await.context("deploying")?,
    };
    bar.inc(1);

    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let password = format!("devnet-{}", hex::encode(secret));
    let password_file = dir.join("password.txt");
    std::fs::write(&password_file, &password)?;
    let mut operators = Vec::new();
    for i in 0..n {
        bar.set_message(format!("registering operator {}/{n}", i + 1));
        let address = devnet.accounts()[i + 1];
        let key = SecretKey::random()?;
        match &eigenlayer {
            Some(el) => {
                devnet
                    .onboard_eigenlayer_operator(el, address, ether(options.stake), &key)
                    .await
            }
            None => {
                devnet
                    .onboard_operator(&deployment, address, ether(options.stake), &key)
                    .await
            }
        }
        .with_context(|| format!("onboarding operator {address}"))?;
        let keystore = dir.join(format!("operator-{i}.keystore.json"));
        std::fs::write(
            &keystore,
            Keystore::encrypt(&key, &password, Kdf::Pbkdf2 { c: 1 << 14 }, "")?.to_json(),
        )?;
        operators.push(DevnetOperator {
            address,
            public_key: format!("0x{}", hex::encode(key.public_key().to_bytes())),
            keystore,
            config: dir.join(format!("operator-{i}.toml")),
        });
    }
    bar.inc(1);

    let vars = setup_vars(&devnet, &deployment, &keys, n, dir)?;
    let avs_settings = avs_setup(project, &options.setup_args, vars, dir, bar, started).await?;
    if project.devnet.block_time > 0 {
        // From here on blocks come at a steady pace, as on a real chain (a keeper
        // that waits on time then sees time pass without transactions).
        let _: serde_json::Value = devnet
            .provider()
            .raw_request("evm_setIntervalMining".into(), (project.devnet.block_time,))
            .await
            .context("setting the block time")?;
    }

    bar.set_message("starting the aggregator");
    let head = devnet.provider().get_block_number().await?;
    let chain = ChainConfig {
        rpc_url: rpc_url.clone(),
        avs: deployment.avs,
        from_block: Some(head),
        poll_ms: 200,
    };
    let submitter = keys.get(n + 1).context("no account for the aggregator")?;
    std::fs::write(dir.join("submitter.key"), hex::encode(submitter.to_bytes()))?;
    // Port 0 everywhere: each runtime announces the ports it bound (no other process
    // can take them between a pick and a bind).
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let aggregator_config = dir.join("aggregator.toml");
    let mut config = AggregatorConfig::local(chain.clone(), any_port, any_port);
    config.avs = avs_settings.of("aggregator");
    std::fs::write(&aggregator_config, config.to_toml()?)?;
    let grpc = start_runtime(
        "aggregator",
        &project.avs.binary,
        &aggregator_config,
        dir,
        started,
    )
    .await?
    .grpc
    .context("the aggregator did not announce its gRPC address")?;
    bar.inc(1);

    for (i, op) in operators.iter().enumerate() {
        bar.set_message(format!("starting operator {}/{n}", i + 1));
        let mut config = OperatorConfig::local(
            chain.clone(),
            op.address,
            op.keystore.clone(),
            password_file.clone(),
            grpc,
            any_port,
        );
        config.avs = avs_settings.of(&format!("operator-{i}"));
        std::fs::write(&op.config, config.to_toml()?)?;
        start_runtime(
            &format!("operator-{i}"),
            &project.avs.binary,
            &op.config,
            dir,
            started,
        )
        .await?;
    }
    if project.devnet.challenger {
        bar.set_message("starting the challenger");
        let key = keys.get(n + 3).context("no account for the challenger")?;
        let key_file = dir.join("challenger.key");
        std::fs::write(&key_file, hex::encode(key.to_bytes()))?;
        let config = ChallengerConfig {
            chain: chain.clone(),
            challenger: ChallengerSection {
                key: SecretSource::File(key_file),
                aggregators: vec![format!("http://{grpc}")],
                state: dir.join("challenger.redb"),
            },
            telemetry: TelemetryConfig {
                listen: Some(any_port),
                ..TelemetryConfig::default()
            },
        };
        let path = dir.join("challenger.toml");
        std::fs::write(&path, toml::to_string(&config)?)?;
        let args = [
            "challenger".to_string(),
            "--config".to_string(),
            path.display().to_string(),
        ];
        start_process(
            "challenger",
            &project.avs.binary,
            &args,
            Readiness::Announced,
            dir,
            started,
        )
        .await?;
    }
    bar.inc(1);

    let account = |k: &PrivateKeySigner| DevAccount {
        address: k.address(),
        private_key: hex::encode(k.to_bytes()),
    };
    Ok(DevnetState {
        dir: dir.to_path_buf(),
        rpc_url,
        chain_id: devnet.chain_id().await?,
        token: deployment.token,
        core: deployment.core,
        avs: deployment.avs,
        owner: account(&keys[0]),
        // Owner, operators, submitter, keeper and challenger come first.
        spare_accounts: keys.iter().skip(n + 4).map(account).collect(),
        aggregator: format!("http://{grpc}"),
        operators,
        processes: Vec::new(),
        settings: avs_settings.shared.clone(),
    })
}

/// The `[avs]` settings of each runtime (`aggregator`, `operator-0`, …): what the
/// project's setup printed, with its `[process.<name>]` tables laid over it for the
/// runtime they name.
#[derive(Clone, Debug, Default)]
pub struct AvsSettings {
    shared: toml::Table,
    per_process: toml::Table,
}

impl AvsSettings {
    /// Splits the setup's output.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut shared: toml::Table = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!("the AVS setup must print its [avs] settings as TOML: {e}")
        })?;
        let per_process = match shared.remove("process") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => anyhow::bail!("the AVS setup printed `process` that is not a table"),
        };
        Ok(Self {
            shared,
            per_process,
        })
    }

    /// The settings of the runtime `name`.
    pub fn of(&self, name: &str) -> toml::Table {
        let mut table = self.shared.clone();
        if let Some(toml::Value::Table(own)) = self.per_process.get(name) {
            for (k, v) in own {
                table.insert(k.clone(), v.clone());
            }
        }
        table
    }
}

/// The placeholders of the project's devnet steps; writes the owner's and the
/// keeper's key files they name.
fn setup_vars(
    devnet: &Devnet,
    deployment: &bulwark_chain::devnet::Deployment,
    keys: &[PrivateKeySigner],
    n: usize,
    dir: &Path,
) -> anyhow::Result<Vec<(String, String)>> {
    let owner = keys.first().context("no owner account")?;
    let owner_key = dir.join("owner.key");
    std::fs::write(&owner_key, hex::encode(owner.to_bytes()))?;
    let keeper = keys.get(n + 2).context("no account for the AVS's keeper")?;
    let keeper_key = dir.join("keeper.key");
    std::fs::write(&keeper_key, hex::encode(keeper.to_bytes()))?;
    Ok(vec![
        ("rpc_url".to_string(), devnet.endpoint().to_string()),
        ("avs".to_string(), deployment.avs.to_string()),
        ("dir".to_string(), dir.display().to_string()),
        (
            "owner_key_file".to_string(),
            owner_key.display().to_string(),
        ),
        (
            "keeper_key_file".to_string(),
            keeper_key.display().to_string(),
        ),
        ("operators".to_string(), n.to_string()),
    ])
}

/// The project's own devnet steps (`[devnet]` of `bulwark.toml`): starts its
/// services, runs its setup, and returns the `[avs]` settings the setup printed.
async fn avs_setup(
    project: &Project,
    extra_args: &[String],
    mut vars: Vec<(String, String)>,
    dir: &Path,
    bar: &ProgressBar,
    started: &mut Vec<Process>,
) -> anyhow::Result<AvsSettings> {
    let spec = &project.devnet;
    if spec.services.is_empty() && spec.setup.is_empty() {
        if !extra_args.is_empty() {
            return Err(CliError::Usage(format!(
                "--setup-arg given, but {} has no [devnet] setup",
                project.avs.name
            ))
            .into());
        }
        return Ok(AvsSettings::default());
    }
    for service in &spec.services {
        bar.set_message(format!("starting {}", service.name));
        // A service that takes `{port}` is told a free one; any other announces the
        // address it bound (see bulwark_node::listening), which cannot be raced.
        let mut with_port = vars.clone();
        let readiness = if service.args.iter().any(|a| a.contains("{port}")) {
            let port = supervise::free_port()?;
            with_port.push(("port".into(), port.port().to_string()));
            Readiness::Health(port)
        } else {
            Readiness::Announced
        };
        let args = service
            .args
            .iter()
            .map(|a| expand(a, &with_port))
            .collect::<Result<Vec<_>, _>>()?;
        if !args.iter().any(|a| a.contains(&dir.display().to_string())) {
            return Err(CliError::Usage(format!(
                "service {} must take {{dir}} in its arguments: the devnet folder in its \
                 command line is how `devnet down` knows the process is its own",
                service.name
            ))
            .into());
        }
        let http = start_process(
            &service.name,
            &project.avs.binary,
            &args,
            readiness,
            dir,
            started,
        )
        .await?
        .http
        .with_context(|| {
            format!(
                "service {} announced no HTTP address; it must write {{\"http\": \"127.0.0.1:PORT\"}} \
                 to $BULWARK_READY_FILE once listening, or take {{port}}",
                service.name
            )
        })?;
        vars.push((format!("url:{}", service.name), format!("http://{http}")));
    }
    if spec.setup.is_empty() {
        return Ok(AvsSettings::default());
    }
    bar.set_message("setting up the AVS");
    let mut args = spec
        .setup
        .iter()
        .map(|a| expand(a, &vars))
        .collect::<Result<Vec<_>, _>>()?;
    args.extend(extra_args.iter().cloned());
    let output = tokio::process::Command::new(&project.avs.binary)
        .args(&args)
        .output()
        .await
        .with_context(|| format!("running the setup {:?}", spec.setup))?;
    if !output.status.success() {
        anyhow::bail!(
            "the AVS setup failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout).context("the setup printed non-UTF-8")?;
    AvsSettings::parse(&text)
}

async fn start_runtime(
    name: &str,
    binary: &Path,
    config: &Path,
    dir: &Path,
    started: &mut Vec<Process>,
) -> anyhow::Result<Listening> {
    let role = if name == "aggregator" {
        "aggregator"
    } else {
        "operator"
    };
    let args = [
        role.to_string(),
        "--config".to_string(),
        config.display().to_string(),
    ];
    start_process(name, binary, &args, Readiness::Announced, dir, started).await
}

/// How a started process shows it is ready.
enum Readiness {
    /// It announces its addresses (a runtime on port 0, see
    /// [`bulwark_node::listening`]), then serves `/health`.
    Announced,
    /// It serves `/health` on the port it was given.
    Health(SocketAddr),
}

/// Starts `binary args` detached, logging to `dir/<name>.log`, records it, and waits
/// until it is ready; returns where it listens.
async fn start_process(
    name: &str,
    binary: &Path,
    args: &[String],
    readiness: Readiness,
    dir: &Path,
    started: &mut Vec<Process>,
) -> anyhow::Result<Listening> {
    let log = dir.join(format!("{name}.log"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = Supervised::spawn_detached(name, binary, &args, log.clone())?;
    let wait = Duration::from_secs(60);
    let ready = match readiness {
        Readiness::Announced => child.wait_ready(wait).await,
        Readiness::Health(addr) => child.wait_healthy(addr, wait).await.map(|()| Listening {
            grpc: None,
            http: Some(addr),
        }),
    };
    // Recorded even when it is not ready, so `devnet down` stops it.
    if let Some(pid) = child.release() {
        started.push(Process {
            name: name.into(),
            pid,
            health: ready.as_ref().ok().and_then(|l| l.http),
            log,
        });
    }
    Ok(ready?)
}

/// Mints `amount` of the devnet's staking token to `to` as its owner; returns what
/// `to` holds now.
pub async fn fund(project: &Path, to: Address, amount: U256) -> anyhow::Result<U256> {
    let path = state_path(project);
    let state = DevnetState::load(&path).map_err(|_| {
        CliError::NotFound(format!(
            "no devnet at {}: run `bulwark devnet up`",
            path.display()
        ))
    })?;
    let owner = bulwark_chain::provider::signer(&state.owner.private_key)?;
    let provider = bulwark_chain::provider::connect(
        &state.rpc_url,
        Some(alloy::network::EthereumWallet::from(owner)),
    )?;
    let token = bulwark_chain::bindings::LiquidStakingToken::new(state.token, provider.clone());
    bulwark_chain::devnet::mined(&provider, token.mint(to, amount).send().await?).await?;
    Ok(token.balanceOf(to).call().await?)
}

/// Waits for anvil to say where it listens (in its log), write its accounts and
/// answer; returns its RPC URL and the funded keys.
async fn wait_for_anvil(
    config: &Path,
    log: &Path,
) -> anyhow::Result<(String, Vec<PrivateKeySigner>)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let port = std::fs::read_to_string(log)
            .ok()
            .and_then(|text| anvil_port(&text));
        let keys = std::fs::read_to_string(config)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .map(|json| {
                json.get("private_keys")
                    .and_then(|k| k.as_array())
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k.as_str())
                            .filter_map(|k| bulwark_chain::provider::signer(k).ok())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if let (Some(port), false) = (port, keys.is_empty()) {
            let rpc_url = format!("http://127.0.0.1:{port}");
            let provider = bulwark_chain::provider::connect(&rpc_url, None)?;
            if provider.get_block_number().await.is_ok() {
                return Ok((rpc_url, keys));
            }
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("anvil did not start within 30 s (see {})", log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The port in anvil's "Listening on 127.0.0.1:PORT" line.
fn anvil_port(log: &str) -> Option<u16> {
    log.lines()
        .find_map(|line| line.trim().strip_prefix("Listening on "))
        .and_then(|addr| addr.trim().rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .filter(|port| *port != 0)
}

/// Stops every process of the devnet recorded for `project`, runtimes first, then
/// anvil; removes the state file. Returns the names stopped.
pub async fn down(project: &Path) -> anyhow::Result<Vec<(String, bool)>> {
    let path = state_path(project);
    let state = DevnetState::load(&path)?;
    let marker = state.marker();
    let mut stopped = Vec::new();
    for p in state.processes.iter().rev() {
        let running = supervise::is_ours(p.pid, &marker);
        if running {
            let clean = supervise::terminate(p.pid, &marker, Duration::from_secs(10)).await;
            stopped.push((p.name.clone(), clean));
        }
    }
    std::fs::remove_file(&path)?;
    Ok(stopped)
}

/// One line per process (running or not, healthy or not) and the chain head.
pub async fn status(project: &Path) -> anyhow::Result<(String, bool)> {
    use std::fmt::Write;
    let state = DevnetState::load(&state_path(project))?;
    let marker = state.marker();
    let mut out = String::new();
    let mut all_ok = true;
    let provider = bulwark_chain::provider::connect(&state.rpc_url, None)?;
    match provider.get_block_number().await {
        Ok(head) => writeln!(
            out,
            "chain  {}  block {head}  chain id {}",
            state.rpc_url, state.chain_id
        )?,
        Err(err) => {
            all_ok = false;
            writeln!(out, "chain  {}  unreachable: {err}", state.rpc_url)?
        }
    }
    writeln!(
        out,
        "core {}  AVS {}  token {}",
        state.core, state.avs, state.token
    )?;
    for p in &state.processes {
        let running = supervise::is_ours(p.pid, &marker);
        let health = match (running, p.health) {
            (false, _) => "stopped".to_string(),
            (true, None) => "running".to_string(),
            (true, Some(addr)) => match supervise::http_get(addr, "/health").await {
                Ok((200, _))
                    if p.name == "aggregator"
                        || p.name == "challenger"
                        || p.name.starts_with("operator-") =>
                {
                    format!("healthy (http://{addr}/metrics)")
                }
                Ok((200, _)) => format!("healthy (http://{addr})"),
                Ok((code, _)) => format!("unhealthy ({code})"),
                Err(_) => "not answering".to_string(),
            },
        };
        all_ok &= health.starts_with("healthy") || health == "running";
        writeln!(out, "{:<12} pid {:>7}  {health}", p.name, p.pid)?;
    }
    Ok((out, all_ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregator_config_is_given_only_for_the_devnets_own_chain_and_avs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path();
        let (url, avs) = ("http://127.0.0.1:8545", Address::repeat_byte(1));
        // No devnet: nothing.
        assert_eq!(own_aggregator_config(project, url, avs), None);
        let config = aggregator_config(project);
        std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
        std::fs::write(&config, "[avs]\n").expect("config");
        // A config left behind by a devnet that is down (its state is gone): nothing.
        assert_eq!(own_aggregator_config(project, url, avs), None);
        let account = DevAccount {
            address: Address::ZERO,
            private_key: String::new(),
        };
        DevnetState {
            dir: project.join(".bulwark/devnet"),
            rpc_url: url.into(),
            chain_id: 31337,
            token: Address::ZERO,
            core: Address::ZERO,
            avs,
            owner: account,
            spare_accounts: Vec::new(),
            aggregator: String::new(),
            operators: Vec::new(),
            processes: Vec::new(),
            settings: toml::Table::new(),
        }
        .save(&state_path(project))
        .expect("state");
        assert_eq!(own_aggregator_config(project, url, avs), Some(config));
        // Another AVS on the devnet's chain, or another chain: not these settings.
        assert_eq!(
            own_aggregator_config(project, url, Address::repeat_byte(2)),
            None
        );
        assert_eq!(
            own_aggregator_config(project, "http://127.0.0.1:9", avs),
            None
        );
    }

    #[test]
    fn setup_output_gives_each_runtime_its_settings() {
        let settings = AvsSettings::parse(
            "tolerance_bps = 100\nfeeds = [\"a\"]\n[keeper]\ninterval_ms = 5\n\
             [process.operator-1]\nfeeds = [\"b\"]\n",
        )
        .expect("valid");
        let shared = settings.of("operator-0");
        assert_eq!(shared["feeds"][0].as_str(), Some("a"));
        assert!(!shared.contains_key("process"), "not passed to runtimes");
        let own = settings.of("operator-1");
        assert_eq!(own["feeds"][0].as_str(), Some("b"));
        assert_eq!(own["tolerance_bps"].as_integer(), Some(100));
        assert!(AvsSettings::parse("process = 3").is_err());
        assert!(AvsSettings::parse("not toml").is_err());
    }

    #[test]
    fn anvil_port_is_read_from_its_listening_line() {
        let log = "\n                             _   _\n...\nGenesis Timestamp\n\
                   ==================\n\n1764071234\n\nListening on 127.0.0.1:40307\n";
        assert_eq!(anvil_port(log), Some(40307));
        assert_eq!(anvil_port("Listening on 127.0.0.1:0\n"), None);
        assert_eq!(anvil_port("still starting\n"), None);
    }
}
