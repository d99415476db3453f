//! `bulwark`: scaffold AVS projects, manage keys, run a devnet, register operators,
//! stake, and inspect an AVS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use anyhow::Context;
use bulwark_cli::chain::{self, AccountArgs, Target};
use bulwark_cli::devnet::{self, UpOptions};
use bulwark_cli::economics::{self, SplitArg};
use bulwark_cli::error::{CliError, exit, exit_code};
use bulwark_cli::keys::{self, PasswordSource};
use bulwark_cli::state;
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "Exit codes: 0 done, 1 failure (chain, I/O, reverted transaction), \
2 usage or config error, 3 wrong password, 4 not found, 5 would overwrite or already running.";

#[derive(Parser)]
#[command(name = "bulwark", version, about = "Build and run restaking services (AVSs) on Bulwark", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a standalone AVS project from a template; it builds and passes its own
    /// tests right away.
    New {
        /// The project (crate) name: a-z, 0-9, '-' and '_'.
        name: String,
        /// The template.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            bulwark_cli::scaffold::TEMPLATES.iter().map(|t| t.name)
        ))]
        template: String,
        /// Where to create it [default: ./NAME]; must be absent or empty.
        #[arg(long)]
        path: Option<PathBuf>,
        /// Where Bulwark lives, written once into the project's `bulwark` dependency: a
        /// checkout's path or a git URL [default: the checkout this binary was built
        /// from]. Templates come from that checkout, or this binary's for a URL.
        #[arg(long, env = "BULWARK_CHECKOUT")]
        bulwark: Option<String>,
    },
    /// Build the project: its contracts with Bulwark's pinned forge and solc, the
    /// artifact its Rust bindings read (artifacts/<Contract>.json), then its binary.
    Build {
        /// The project folder (holding bulwark.toml).
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Only the contracts and their artifact (a quick loop on the Solidity side).
        #[arg(long)]
        contracts_only: bool,
    },
    /// BLS keys in EIP-2335 keystores.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A project's AVS on a local anvil: aggregator and operators included.
    #[command(subcommand)]
    Devnet(DevnetCommand),
    /// Operator actions: register with the core and an AVS, allocate stake, run.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Aggregator actions.
    #[command(subcommand)]
    Aggregator(AggregatorCommand),
    /// Challenger actions: prove aggregators' evidence on chain.
    #[command(subcommand)]
    Challenger(ChallengerCommand),
    /// Staker actions: deposit, delegate, withdraw, rewards, claim, exposure.
    #[command(subcommand)]
    Staker(StakerCommand),
    /// AVS actions: fund and distribute rewards per epoch.
    #[command(subcommand)]
    Avs(AvsCommand),
    /// Tasks: create one on the AVS (as a task creator, the devnet owner by default).
    #[command(subcommand)]
    Task(TaskCommand),
    /// Tasks, operators and their stake, recent certificates, rewards and slashes.
    Status {
        #[command(flatten)]
        target: Target,
        /// How many recent certificates, rewards and slashes to list.
        #[arg(long, default_value_t = 10)]
        recent: usize,
    },
}

#[derive(Args, Clone)]
struct KeysDir {
    /// The keys folder [default: $BULWARK_HOME/keys or ~/.bulwark/keys].
    #[arg(long, env = "BULWARK_KEYS_DIR")]
    keys_dir: Option<PathBuf>,
}

impl KeysDir {
    fn path(&self) -> PathBuf {
        self.keys_dir.clone().unwrap_or_else(keys::default_dir)
    }
}

#[derive(Args, Clone)]
struct Password {
    /// File whose first line is the keystore password.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Environment variable holding the keystore password.
    #[arg(long)]
    password_env: Option<String>,
}

impl Password {
    fn source(&self) -> PasswordSource {
        PasswordSource::from_flags(self.password_file.clone(), self.password_env.clone())
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new random key and store it encrypted.
    Generate {
        /// The key's name (its file is NAME.json).
        name: String,
        #[command(flatten)]
        dir: KeysDir,
        #[command(flatten)]
        password: Password,
        /// Key derivation: scrypt (EIP-2335 default, ~1 s to open) or pbkdf2.
        #[arg(long, default_value = "scrypt")]
        kdf: String,
    },
    /// Store an existing key: from a hex secret file or another keystore.
    Import {
        /// The name to store it under.
        name: String,
        #[command(flatten)]
        dir: KeysDir,
        /// A file whose first line is the 32-byte secret key in hex.
        #[arg(long, conflicts_with = "keystore")]
        secret_file: Option<PathBuf>,
        /// An EIP-2335 keystore to re-encrypt (opened with --source-password-file).
        #[arg(long)]
        keystore: Option<PathBuf>,
        /// The password of --keystore.
        #[arg(long)]
        source_password_file: Option<PathBuf>,
        #[command(flatten)]
        password: Password,
        /// Key derivation for the new keystore.
        #[arg(long, default_value = "scrypt")]
        kdf: String,
    },
    /// List the keys in the folder.
    List {
        #[command(flatten)]
        dir: KeysDir,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one key's public key and file; `--check` also opens it with the password.
    Show {
        /// The key's name.
        name: String,
        #[command(flatten)]
        dir: KeysDir,
        /// Open the keystore to check the password (never prints the secret).
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        password: Password,
    },
}

#[derive(Subcommand)]
enum DevnetCommand {
    /// Start anvil, deploy, register operators, start the aggregator and operators.
    Up {
        /// The project folder (holding bulwark.toml).
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Operators to register and run.
        #[arg(long, default_value_t = 3)]
        operators: usize,
        /// Each operator's own stake, in tokens.
        #[arg(long, default_value_t = 32)]
        stake: u64,
        /// Funded accounts to leave spare for stakers.
        #[arg(long, default_value_t = 2)]
        spare_accounts: usize,
        /// Do not run the project's build command first.
        #[arg(long)]
        no_build: bool,
        /// The hard fork anvil runs (`anvil --hardfork`), e.g. `prague` to try the
        /// contracts on the fork before mainnet's.
        #[arg(long, default_value = bulwark_chain::devnet::HARDFORK)]
        hardfork: String,
        /// An extra argument for the project's setup step (`[devnet] setup` in
        /// bulwark.toml), e.g. `--setup-arg=--faulty-operators=1`; repeatable.
        #[arg(long = "setup-arg", allow_hyphen_values = true)]
        setup_args: Vec<String>,
        /// The restaking layer: Bulwark's devnet core, or EigenLayer's own core
        /// deployed from the bytecode `make eigenlayer` fetched (the AVS contract and
        /// binary are the same on both).
        #[arg(long, value_enum, default_value = "bulwark")]
        restaking: devnet::RestakingKind,
    },
    /// Stop everything `up` started (and nothing else).
    Down {
        /// The project folder.
        #[arg(long, default_value = ".")]
        project: PathBuf,
    },
    /// Which devnet processes run and answer their health checks.
    Status {
        /// The project folder.
        #[arg(long, default_value = ".")]
        project: PathBuf,
    },
    /// Print the devnet's RPC URL, core and AVS as shell exports
    /// (`eval "$(bulwark devnet env)"`), the variables every command reads; on another
    /// chain, set them to its values.
    Env {
        /// The project folder.
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Also export a funded spare account as BULWARK_ACCOUNT_KEY (and its address
        /// as BULWARK_ACCOUNT): the N-th of those `devnet up` left for stakers.
        #[arg(long, value_name = "N")]
        spare: Option<usize>,
    },
    /// Mint devnet staking tokens to an account (the devnet token's owner mints;
    /// real staking tokens are not mintable).
    Fund {
        /// The project folder.
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Who receives them.
        address: Address,
        /// Tokens, e.g. 10 or 2.5.
        #[arg(long)]
        amount: String,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Register as an operator with the restaking core and the BLS key with the AVS
    /// (which needs the AVS's minimum stake allocated to it first: register with
    /// `--core-only`, get stake delegated, `allocate`, then register the key).
    Register {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// The BLS key's name.
        #[arg(long, required_unless_present = "core_only")]
        key: Option<String>,
        /// Only register with the restaking core (so stake can be delegated and
        /// allocated before the key is registered with the AVS).
        #[arg(long, conflicts_with = "key")]
        core_only: bool,
        #[command(flatten)]
        dir: KeysDir,
        #[command(flatten)]
        password: Password,
        /// Commission on stakers' rewards, in basis points.
        #[arg(long, default_value_t = 1000)]
        commission_bps: u16,
    },
    /// Allocate a share of the operator's stake to the AVS (slashable by it).
    Allocate {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// Basis points of the operator's stake.
        #[arg(long)]
        bps: u16,
    },
    /// Run the AVS's operator runtime (the project's binary) with a config.
    Run {
        /// The project folder (holding bulwark.toml).
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// The operator's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AggregatorCommand {
    /// Run the AVS's aggregator (the project's binary) with a config.
    Run {
        /// The project folder (holding bulwark.toml).
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// The aggregator's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum ChallengerCommand {
    /// Follow aggregators' evidence and challenge on chain with every proof that
    /// holds, until interrupted (a framework runtime: works for any AVS's
    /// equivocations, against any RPC URL).
    Run {
        /// The challenger's TOML config (`[chain]`, `[challenger]`, `[telemetry]`).
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum TaskCommand {
    /// Create a task and print its id.
    Create {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// The task's input: text, or bytes as 0x-hex.
        input: String,
        /// Stake share (basis points) a certificate needs.
        #[arg(long, default_value_t = 6667)]
        threshold_bps: u16,
        /// Blocks the operators have to answer.
        #[arg(long, default_value_t = 30)]
        response_blocks: u32,
    },
}

#[derive(Subcommand)]
enum StakerCommand {
    /// Deposit staking tokens into the restaking core.
    Deposit {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// Tokens, e.g. 32 or 1.5.
        #[arg(long)]
        amount: String,
    },
    /// Delegate all of the account's stake to an operator.
    Delegate {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// The operator.
        #[arg(long)]
        operator: Address,
    },
    /// Queue a withdrawal (all shares unless --shares), or complete one with --complete.
    Withdraw {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// Shares to withdraw.
        #[arg(long, conflicts_with = "complete")]
        shares: Option<U256>,
        /// Complete the queued withdrawal with this id.
        #[arg(long)]
        complete: Option<U256>,
    },
    /// Rewards an account (staker or operator) can claim now.
    Rewards {
        #[command(flatten)]
        target: Target,
        /// The staker or operator.
        address: Address,
        /// The reward token [default: the staking token].
        #[arg(long)]
        token: Option<Address>,
    },
    /// Claim the account's rewards (as staker and as operator).
    Claim {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// The reward token [default: the staking token].
        #[arg(long)]
        token: Option<Address>,
    },
    /// Per AVS the stake at risk, pending slashes and the compounded worst case.
    Exposure {
        #[command(flatten)]
        target: Target,
        /// The staker.
        address: Address,
        /// Read the chain as it stood at this block [default: the latest].
        #[arg(long)]
        block: Option<u64>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AvsCommand {
    /// Fund an epoch's rewards (as the AVS's owner, the devnet owner by default).
    FundRewards {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// The epoch [default: the current one].
        #[arg(long)]
        epoch: Option<u64>,
        /// Tokens, e.g. 100 or 2.5.
        #[arg(long)]
        amount: String,
        /// The reward token [default: the staking token].
        #[arg(long)]
        token: Option<Address>,
        /// How the epoch is split among operators.
        #[arg(long, value_enum, default_value = "signed")]
        split: SplitArg,
    },
    /// Pay every operator its share of an epoch that is over (anyone may).
    DistributeRewards {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        account: AccountArgs,
        /// The epoch.
        #[arg(long)]
        epoch: u64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("error: {}", message(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The error and its causes on one line, with a contract's revert decoded by name
/// (`WithdrawalDelayNotElapsed { .. }`, not `custom error 0x…`).
fn message(err: &anyhow::Error) -> String {
    let mut text = format!("{err:#}");
    let reasons = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<alloy::contract::Error>())
        .filter_map(bulwark_chain::revert::reason);
    for reason in reasons {
        if !text.contains(&reason) {
            text.push_str(&format!(" (reverted with {reason})"));
        }
    }
    text
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::New {
            name,
            template,
            path,
            bulwark,
        } => {
            use bulwark_cli::scaffold::{Location, default_checkout, new_project};
            let location = match bulwark {
                Some(text) => Location::parse(&text),
                None => Location::Path(default_checkout().ok_or_else(|| {
                    CliError::Usage("no Bulwark checkout found: pass --bulwark PATH|URL".into())
                })?),
            };
            let checkout = match &location {
                Location::Path(path) => path.clone(),
                Location::Git { .. } => default_checkout().ok_or_else(|| {
                    CliError::Usage(
                        "the templates come from a checkout: run a bulwark built from one".into(),
                    )
                })?,
            };
            let dest = path.unwrap_or_else(|| PathBuf::from(&name));
            let files = new_project(&name, &template, &dest, &checkout, &location)?;
            println!(
                "created {} ({} files) from the {template} template; its contract is {}",
                dest.display(),
                files.len(),
                bulwark_cli::scaffold::contract_name(&name)
            );
            // A bridge's table needs two thirds of the stake: four operators keep it
            // certifying with one down.
            let operators = if template == "bridge" {
                " --operators 4"
            } else {
                ""
            };
            println!(
                "next: cd {} && bulwark build && cargo test && bulwark devnet up{operators}",
                dest.display()
            );
            Ok(())
        }
        Command::Build {
            project: dir,
            contracts_only,
        } => {
            let project = state::Project::load(&dir)?;
            let options = bulwark_cli::build::BuildOptions {
                quiet: false,
                contracts_only,
            };
            let built = bulwark_cli::build::build(&dir, &project, options).await?;
            if let Some(artifact) = &built.artifact {
                println!(
                    "{} {}",
                    if built.artifact_changed {
                        "refreshed"
                    } else {
                        "up to date:"
                    },
                    artifact.display()
                );
            }
            for (artifact, changed) in &built.others {
                println!(
                    "{} {}",
                    if *changed { "refreshed" } else { "up to date:" },
                    artifact.display()
                );
            }
            match &built.bulwark {
                Some(bulwark) => println!(
                    "built {} against Bulwark at {}",
                    project.avs.name,
                    bulwark.display()
                ),
                None => println!("built {}", project.avs.name),
            }
            Ok(())
        }
        Command::Keys(cmd) => run_keys(cmd),
        Command::Devnet(cmd) => run_devnet(cmd).await,
        Command::Operator(cmd) => run_operator(cmd).await,
        Command::Aggregator(AggregatorCommand::Run { project, config }) => {
            exec_runtime(&project, "aggregator", &config).await
        }
        Command::Challenger(ChallengerCommand::Run { config }) => {
            let config = bulwark_node::config::ChallengerConfig::load(&config)?;
            bulwark_node::telemetry::init_tracing(&config.telemetry.log);
            bulwark_node::service::run_challenger(config, bulwark_node::service::shutdown_signal())
                .await?;
            Ok(())
        }
        Command::Staker(cmd) => run_staker(cmd).await,
        Command::Avs(cmd) => run_avs(cmd).await,
        Command::Task(TaskCommand::Create {
            target,
            account,
            input,
            threshold_bps,
            response_blocks,
        }) => {
            let resolved = target.resolve()?;
            let bytes = match input.strip_prefix("0x") {
                Some(hex) => alloy::hex::decode(hex)
                    .map_err(|_| CliError::Usage(format!("{input:?} is not 0x-hex")))?,
                None => input.clone().into_bytes(),
            };
            let signer = account.signer_or(resolved.owner_key.as_deref())?;
            let (provider, _) = chain::connect(&resolved.rpc_url, signer)?;
            let task = bulwark_chain::tasks::create_task(
                &provider,
                resolved.avs()?,
                &bytes,
                threshold_bps,
                response_blocks,
            )
            .await
            .context(
                "creating the task (is the account a task creator, the input valid for this AVS?)",
            )?;
            println!(
                "task {} created (reference block {}, deadline block {})",
                task.task_id, task.reference_block, task.deadline_block
            );
            Ok(())
        }
        Command::Status { target, recent } => {
            let resolved = target.resolve()?;
            let provider = bulwark_chain::provider::connect(&resolved.rpc_url, None)?;
            let avs = resolved.avs()?;
            let project_dir = target
                .state
                .parent()
                .and_then(Path::parent)
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."));
            let project = state::Project::load(project_dir).ok();
            // The AVS's own reading of its responses, if the project has one.
            let describer = project
                .as_ref()
                .filter(|p| !p.avs.describe.is_empty())
                .map(|p| chain::Describer {
                    binary: p.avs.binary.clone(),
                    args: p.avs.describe.clone(),
                });
            print!(
                "{}",
                chain::status(&provider, resolved.core, avs, recent, describer.as_ref()).await?
            );
            // The project's own view (e.g. an oracle's latest rounds), if it has one.
            if let Some(project) = project.filter(|p| !p.avs.status.is_empty()) {
                print!(
                    "{}",
                    avs_status(&project, project_dir, &resolved.rpc_url, avs).await
                );
            }
            Ok(())
        }
    }
}

/// Runs the project's status command; its failure is reported, not fatal.
/// `{aggregator_config}` is known only when status reads the project's own devnet
/// (its state names this chain and AVS): the settings there describe no other.
async fn avs_status(
    project: &state::Project,
    project_dir: &Path,
    rpc_url: &str,
    avs: alloy::primitives::Address,
) -> String {
    let mut vars = vec![
        ("rpc_url".to_string(), rpc_url.to_string()),
        ("avs".to_string(), avs.to_string()),
    ];
    if let Some(config) = devnet::own_aggregator_config(project_dir, rpc_url, avs) {
        vars.push(("aggregator_config".into(), config.display().to_string()));
    } else if project
        .avs
        .status
        .iter()
        .any(|a| a.contains("{aggregator_config}"))
    {
        return format!(
            "{}: its own status reads this project's devnet settings ({}), and no devnet of this project runs this chain and AVS; elsewhere run `{} {}` with that deployment's settings\n",
            project.avs.name,
            devnet::aggregator_config(project_dir).display(),
            project.avs.binary.display(),
            project
                .avs
                .status
                .first()
                .map(String::as_str)
                .unwrap_or("status"),
        );
    }
    let args = match project
        .avs
        .status
        .iter()
        .map(|a| state::expand(a, &vars))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(args) => args,
        Err(err) => return format!("{}: {err}\n", project.avs.name),
    };
    match tokio::process::Command::new(&project.avs.binary)
        .args(&args)
        .output()
        .await
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => format!(
            "{} status failed: {}\n",
            project.avs.name,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => format!(
            "{} status: cannot run {}: {err}\n",
            project.avs.name,
            project.avs.binary.display()
        ),
    }
}

fn run_keys(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Generate {
            name,
            dir,
            password,
            kdf,
        } => {
            let kdf = keys::kdf(&kdf)?;
            let dir = dir.path();
            keys::path_of(&dir, &name)?;
            let password = password.source().read(&name, true)?;
            let key = bulwark_crypto::SecretKey::random()?;
            let info = keys::store(&dir, &name, &key, &password, kdf)?;
            println!(
                "{}  {}  {}",
                info.name,
                info.public_key,
                info.path.display()
            );
        }
        KeysCommand::Import {
            name,
            dir,
            secret_file,
            keystore,
            source_password_file,
            password,
            kdf,
        } => {
            let kdf = keys::kdf(&kdf)?;
            let key = match (secret_file, keystore) {
                (Some(file), None) => keys::secret_from_hex_file(&file)?,
                (None, Some(path)) => {
                    let json = std::fs::read_to_string(&path).map_err(|e| {
                        CliError::NotFound(format!("keystore {}: {e}", path.display()))
                    })?;
                    let source = bulwark_crypto::keystore::Keystore::from_json(&json)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let source_password = PasswordSource::from_flags(source_password_file, None)
                        .read(&path.display().to_string(), false)?;
                    keys::open(&path, &source, &source_password)?
                }
                _ => {
                    return Err(CliError::Usage(
                        "give the key with --secret-file or --keystore".into(),
                    )
                    .into());
                }
            };
            let password = password.source().read(&name, true)?;
            let info = keys::store(&dir.path(), &name, &key, &password, kdf)?;
            println!(
                "{}  {}  {}",
                info.name,
                info.public_key,
                info.path.display()
            );
        }
        KeysCommand::List { dir, json } => {
            let listed = keys::list(&dir.path())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else if listed.is_empty() {
                println!("no keys in {}", dir.path().display());
            } else {
                for k in listed {
                    println!("{:<16} {}  {}", k.name, k.public_key, k.path.display());
                }
            }
        }
        KeysCommand::Show {
            name,
            dir,
            check,
            password,
        } => {
            let (path, keystore) = keys::load(&dir.path(), &name)?;
            println!("name        {name}");
            println!("file        {}", path.display());
            println!(
                "public key  0x{}",
                keystore.pubkey().unwrap_or("(not recorded)")
            );
            println!("uuid        {}", keystore.uuid());
            if check {
                let password = password.source().read(&name, false)?;
                let key = keys::open(&path, &keystore, &password)?;
                println!(
                    "password    opens it (public key 0x{})",
                    hex::encode(key.public_key().to_bytes())
                );
            }
        }
    }
    Ok(())
}

async fn run_devnet(cmd: DevnetCommand) -> anyhow::Result<()> {
    match cmd {
        DevnetCommand::Up {
            project,
            operators,
            stake,
            spare_accounts,
            no_build,
            hardfork,
            setup_args,
            restaking,
        } => {
            let state = devnet::up(&UpOptions {
                project: project.clone(),
                operators,
                stake,
                no_build,
                spare_accounts,
                hardfork,
                setup_args,
                restaking,
            })
            .await?;
            println!(
                "devnet up: anvil {} (chain id {})",
                state.rpc_url, state.chain_id
            );
            println!("  restaking core {}", state.core);
            println!("  AVS            {}", state.avs);
            println!("  staking token  {}", state.token);
            println!("  aggregator     {}", state.aggregator);
            let runtimes = state
                .processes
                .iter()
                .filter(|p| p.name.starts_with("operator-"));
            for (op, p) in state.operators.iter().zip(runtimes) {
                println!("  operator       {}  pid {}", op.address, p.pid);
            }
            for p in state.processes.iter().filter(|p| {
                p.name != "anvil" && p.name != "aggregator" && !p.name.starts_with("operator-")
            }) {
                println!("  {:<14} pid {}", p.name, p.pid);
            }
            println!(
                "state: {}; logs: {}",
                devnet::state_path(&project).display(),
                state.dir.display()
            );
            println!("next: `bulwark status`, `bulwark devnet status`, `bulwark devnet down`");
        }
        DevnetCommand::Down { project } => {
            let stopped = devnet::down(&project).await?;
            for (name, clean) in &stopped {
                println!(
                    "stopped {name}{}",
                    if *clean { "" } else { " (killed after 10 s)" }
                );
            }
            println!("devnet down ({} processes)", stopped.len());
        }
        DevnetCommand::Env { project, spare } => {
            let state = state::DevnetState::load(&devnet::state_path(&project))?;
            // For `eval`: every value single-quoted, so a doctored state file cannot
            // run commands in the user's shell.
            let quote = |value: &str| format!("'{}'", value.replace('\'', "'\\''"));
            println!("export BULWARK_RPC_URL={}", quote(&state.rpc_url));
            println!("export BULWARK_CORE={}", state.core);
            println!("export BULWARK_AVS={}", state.avs);
            if let Some(n) = spare {
                let account = state.spare_accounts.get(n).ok_or_else(|| {
                    CliError::NotFound(format!(
                        "the devnet has {} spare accounts (devnet up --spare-accounts)",
                        state.spare_accounts.len()
                    ))
                })?;
                println!("export BULWARK_ACCOUNT={}", account.address);
                println!("export BULWARK_ACCOUNT_KEY={}", quote(&account.private_key));
            }
        }
        DevnetCommand::Status { project } => {
            let (text, ok) = devnet::status(&project).await?;
            print!("{text}");
            if !ok {
                return Err(anyhow::anyhow!("some devnet processes are down"));
            }
        }
        DevnetCommand::Fund {
            project,
            address,
            amount,
        } => {
            let amount = chain::parse_tokens(&amount)?;
            let balance = devnet::fund(&project, address, amount).await?;
            println!(
                "minted {} to {address}; it holds {}",
                chain::tokens(amount),
                chain::tokens(balance)
            );
        }
    }
    Ok(())
}

async fn run_operator(cmd: OperatorCommand) -> anyhow::Result<()> {
    match cmd {
        OperatorCommand::Register {
            target,
            account,
            key,
            core_only,
            dir,
            password,
            commission_bps,
        } => {
            let resolved = target.resolve()?;
            let key = key.filter(|_| !core_only);
            let Some(key) = key else {
                let (provider, operator) = chain::connect(&resolved.rpc_url, account.signer()?)?;
                let new = chain::register_with_core(
                    &provider,
                    resolved.core()?,
                    operator,
                    commission_bps,
                )
                .await?;
                println!(
                    "operator {operator} {} with the restaking core {}",
                    if new {
                        "registered"
                    } else {
                        "was already registered"
                    },
                    resolved.core()?
                );
                return Ok(());
            };
            let (path, keystore) = keys::load(&dir.path(), &key)?;
            let secret = keys::open(&path, &keystore, &password.source().read(&key, false)?)?;
            let (provider, operator) = chain::connect(&resolved.rpc_url, account.signer()?)?;
            chain::register_operator(
                &provider,
                resolved.core()?,
                resolved.avs()?,
                operator,
                &secret,
                commission_bps,
            )
            .await?;
            println!(
                "operator {operator} registered with the AVS {} (BLS key 0x{})",
                resolved.avs()?,
                hex::encode(secret.public_key().to_bytes())
            );
        }
        OperatorCommand::Allocate {
            target,
            account,
            bps,
        } => {
            if bps > 10_000 {
                return Err(CliError::Usage("--bps is at most 10000".into()).into());
            }
            let resolved = target.resolve()?;
            let (provider, operator) = chain::connect(&resolved.rpc_url, account.signer()?)?;
            chain::allocate(&provider, resolved.core()?, resolved.avs()?, operator, bps).await?;
            println!(
                "operator {operator} allocates {bps} bps to {}",
                resolved.avs()?
            );
        }
        OperatorCommand::Run { project, config } => {
            exec_runtime(&project, "operator", &config).await?;
        }
    }
    Ok(())
}

/// Runs the project's binary as `role --config config`, passing its exit status on.
async fn exec_runtime(
    project: &std::path::Path,
    role: &str,
    config: &std::path::Path,
) -> anyhow::Result<()> {
    let project = bulwark_cli::state::Project::load(project)?;
    let status = tokio::process::Command::new(&project.avs.binary)
        .args([role, "--config"])
        .arg(config)
        .status()
        .await
        .map_err(|e| {
            CliError::NotFound(format!(
                "cannot run {} ({e}); build the project first",
                project.avs.binary.display()
            ))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("the {role} exited with {status}"))
    }
}

async fn run_avs(cmd: AvsCommand) -> anyhow::Result<()> {
    match cmd {
        AvsCommand::FundRewards {
            target,
            account,
            epoch,
            amount,
            token,
            split,
        } => {
            let amount = chain::parse_tokens(&amount)?;
            let resolved = target.resolve()?;
            let signer = account.signer_or(resolved.owner_key.as_deref())?;
            let (provider, _) = chain::connect(&resolved.rpc_url, signer)?;
            let token = economics::reward_token(&provider, resolved.core()?, token).await?;
            let avs = resolved.avs()?;
            println!(
                "{}",
                economics::fund_rewards(&provider, avs, epoch, token, amount, split.into()).await?
            );
        }
        AvsCommand::DistributeRewards {
            target,
            account,
            epoch,
        } => {
            let resolved = target.resolve()?;
            let signer = account.signer_or(resolved.owner_key.as_deref())?;
            let (provider, _) = chain::connect(&resolved.rpc_url, signer)?;
            println!(
                "{}",
                economics::distribute_rewards(&provider, resolved.avs()?, epoch).await?
            );
        }
    }
    Ok(())
}

async fn run_staker(cmd: StakerCommand) -> anyhow::Result<()> {
    match cmd {
        StakerCommand::Rewards {
            target,
            address,
            token,
        } => {
            let resolved = target.resolve()?;
            let provider = bulwark_chain::provider::connect(&resolved.rpc_url, None)?;
            let core = resolved.core()?;
            let token = economics::reward_token(&provider, core, token).await?;
            let owed = economics::pending_rewards(&provider, core, address, token).await?;
            println!("{address} can claim {} of {token}", chain::tokens(owed));
        }
        StakerCommand::Claim {
            target,
            account,
            token,
        } => {
            let resolved = target.resolve()?;
            let (provider, who) = chain::connect(&resolved.rpc_url, account.signer()?)?;
            let core = resolved.core()?;
            let token = economics::reward_token(&provider, core, token).await?;
            let paid = economics::claim_rewards(&provider, core, token).await?;
            println!("{who} claimed {} of {token}", chain::tokens(paid));
        }
        StakerCommand::Exposure {
            target,
            address,
            block,
            json,
        } => {
            let resolved = target.resolve()?;
            let provider = bulwark_chain::provider::connect(&resolved.rpc_url, None)?;
            let exposure = economics::exposure(&provider, resolved.core()?, address, block).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&exposure)?);
            } else {
                println!("{}", economics::exposure_table(&exposure)?);
            }
        }
        StakerCommand::Deposit {
            target,
            account,
            amount,
        } => {
            let amount = chain::parse_tokens(&amount)?;
            let resolved = target.resolve()?;
            let (provider, staker) = chain::connect(&resolved.rpc_url, account.signer()?)?;
            let stake = chain::deposit(&provider, resolved.core()?, staker, amount).await?;
            println!(
                "{staker} deposited {}; stake now {}",
                chain::tokens(amount),
                chain::tokens(stake)
            );
        }
        StakerCommand::Delegate {
            target,
            account,
            operator,
        } => {
            let resolved = target.resolve()?;
            let (provider, staker) = chain::connect(&resolved.rpc_url, account.signer()?)?;
            chain::delegate(&provider, resolved.core()?, staker, operator).await?;
            println!("{staker} delegates to {operator}");
        }
        StakerCommand::Withdraw {
            target,
            account,
            shares,
            complete,
        } => {
            let resolved = target.resolve()?;
            let (provider, staker) = chain::connect(&resolved.rpc_url, account.signer()?)?;
            match complete {
                Some(id) => {
                    let assets =
                        chain::complete_withdrawal(&provider, resolved.core()?, staker, id).await?;
                    println!(
                        "withdrawal {id} completed: {} paid out",
                        chain::tokens(assets)
                    );
                }
                None => {
                    let (id, block) =
                        chain::queue_withdrawal(&provider, resolved.core()?, staker, shares)
                            .await?;
                    println!(
                        "withdrawal {id} queued; complete it from block {block} with `bulwark staker withdraw --complete {id}`"
                    );
                }
            }
        }
    }
    Ok(())
}
