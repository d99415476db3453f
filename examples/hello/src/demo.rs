//! `hello-avs demo`: the whole AVS on a local devnet, as separate processes.
//!
//! Starts anvil, deploys the restaking core and `HelloAVS`, gives N operators stake and
//! BLS keys (written as EIP-2335 keystores), starts one aggregator and N operators as
//! child processes of this same binary (each with its TOML config, metrics and health
//! endpoint), creates a task every couple of seconds, and prints each certificate as
//! it lands. Stops everything on its own, or on Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::consensus::Transaction as _;
use alloy::primitives::B256;
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolCall;
use anyhow::{Context, bail};
use bulwark::chain::bindings::BasicAVS;
use bulwark::chain::devnet::{DeployConfig, Devnet, ether};
use bulwark::crypto::SecretKey;
use bulwark::crypto::keystore::{Kdf, Keystore};
use bulwark::node::config::{AggregatorConfig, ChainConfig, OperatorConfig};
use bulwark::node::follow::EventCursor;
use bulwark::node::supervise::{Supervised, http_get, metric_sum};
use bulwark::node::telemetry::names;
use bulwark::{alloy, anyhow, tokio};

use hello_avs::bindings::HelloAVS;

/// What the demo runs.
pub struct Options {
    /// Operators to start.
    pub operators: usize,
    /// How long to create tasks.
    pub duration: Duration,
    /// Stop after this many tasks instead (tests).
    pub tasks: Option<usize>,
    /// Time between tasks.
    pub interval: Duration,
    /// Threshold in basis points of stake.
    pub threshold_bps: u16,
    /// Folder for keys, configs and logs.
    pub dir: PathBuf,
    /// The `hello-avs` binary the children run.
    pub binary: PathBuf,
}

/// What the demo saw, for tests and the summary.
#[derive(Debug, Default)]
pub struct Summary {
    /// Tasks created.
    pub created: usize,
    /// Tasks whose certificate landed.
    pub certified: usize,
    /// Children that stopped on SIGTERM (not killed).
    pub stopped_cleanly: usize,
    /// Children started.
    pub children: usize,
}

const NAMES: [&str; 12] = [
    "Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Donald", "Margaret", "Tony", "Radia",
    "Ken", "Leslie",
];

struct Landed {
    greeting: String,
    signers: usize,
    signed_gwei: u64,
    total_gwei: u64,
    gas: u64,
    latency: Duration,
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Runs the demo until it is done or `shutdown` resolves.
pub async fn run(
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Summary> {
    tokio::pin!(shutdown);
    let n = options.operators;
    if n == 0 || n > 20 {
        bail!("--operators must be 1 to 20");
    }
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("creating {}", options.dir.display()))?;
    let dir = options.dir.canonicalize()?;

    println!("== Bulwark hello AVS demo: 1 aggregator, {n} operators on a local anvil ==");
    println!("   keys, configs and logs: {}", dir.display());
    let devnet =
        Devnet::start(u32::try_from(n)? + 2).context("starting anvil (run `make tools` first)")?;
    let deployment = devnet
        .deploy(&DeployConfig {
            avs_code: HelloAVS::BYTECODE.clone(),
            ..DeployConfig::default()
        })
        .await
        .context("deploying the restaking core and HelloAVS")?;
    println!(
        "1. anvil {} ({}); core {} ; HelloAVS {}",
        devnet.endpoint(),
        bulwark::chain::devnet::HARDFORK,
        deployment.core,
        deployment.avs
    );

    // Operators with different stakes, so stake shares are not just signer counts.
    let password = format!("demo-{:x}", rand_u64());
    write(&dir.join("password.txt"), &password)?;
    let mut operators = Vec::new();
    for i in 0..n {
        let address = devnet.accounts()[i + 1];
        let key = SecretKey::from_ikm(&[u8::try_from(i + 1)?; 32])?;
        let stake = 16 * (i as u64 + 1);
        devnet
            .onboard_operator(&deployment, address, ether(stake), &key)
            .await
            .with_context(|| format!("onboarding operator {address}"))?;
        let keystore = Keystore::encrypt(&key, &password, Kdf::Pbkdf2 { c: 1 << 18 }, "")?;
        write(
            &dir.join(format!("operator-{i}.keystore.json")),
            &keystore.to_json(),
        )?;
        operators.push((address, stake));
    }
    let total: u64 = operators.iter().map(|o| o.1).sum();
    println!(
        "2. {n} operators registered with BLS keys and self-delegated stake: {} (total {total} LST)",
        operators
            .iter()
            .map(|(a, s)| format!("{}…={s}", &a.to_string()[..8]))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let provider = devnet.provider().clone();
    let start = provider.get_block_number().await?;
    let chain = ChainConfig {
        rpc_url: devnet.endpoint(),
        avs: deployment.avs,
        from_block: Some(start),
        poll_ms: 100,
    };
    let submitter = devnet
        .signer(n + 1)
        .context("anvil has no account for the aggregator")?;
    write(
        &dir.join("submitter.key"),
        &alloy::hex::encode(submitter.to_bytes()),
    )?;
    // Port 0 everywhere: each runtime announces the ports it bound, so no other
    // process can take them between a pick and a bind.
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let agg_config = dir.join("aggregator.toml");
    write(
        &agg_config,
        &AggregatorConfig::local(chain.clone(), any_port, any_port).to_toml()?,
    )?;

    let mut children = Vec::new();
    let binary = options.binary.clone();
    let mut child = Supervised::spawn(
        "aggregator",
        &binary,
        &["aggregator", "--config", &agg_config.display().to_string()],
        dir.join("aggregator.log"),
    )?;
    let listening = child.wait_ready(Duration::from_secs(30)).await?;
    let (Some(grpc), Some(agg_health)) = (listening.grpc, listening.http) else {
        bail!("the aggregator announced {listening:?}, not gRPC and HTTP addresses");
    };
    children.push(child);
    for (i, (address, _)) in operators.iter().enumerate() {
        let config = OperatorConfig::local(
            chain.clone(),
            *address,
            format!("operator-{i}.keystore.json").into(),
            "password.txt".into(),
            grpc,
            any_port,
        );
        let path = dir.join(format!("operator-{i}.toml"));
        write(&path, &config.to_toml()?)?;
        children.push(Supervised::spawn(
            &format!("operator-{i}"),
            &binary,
            &["operator", "--config", &path.display().to_string()],
            dir.join(format!("operator-{i}.log")),
        )?);
    }
    for child in children.iter_mut().skip(1) {
        child.wait_ready(Duration::from_secs(60)).await?;
    }
    println!(
        "3. aggregator (gRPC {grpc}, metrics http://{agg_health}/metrics) and {n} operators running as processes {}",
        children
            .iter()
            .filter_map(|c| c.id())
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match options.tasks {
        Some(t) => println!("4. creating {t} tasks, one every {:?}:", options.interval),
        None => println!(
            "4. creating tasks for {:?}, one every {:?} (Ctrl-C stops early):",
            options.duration, options.interval
        ),
    }

    let mut summary = Summary {
        children: children.len(),
        ..Summary::default()
    };
    let mut created: BTreeMap<u64, (String, Instant)> = BTreeMap::new();
    let mut watcher = Watcher {
        provider: provider.clone(),
        responses: EventCursor::of::<BasicAVS::TaskResponded>(
            provider.clone(),
            deployment.avs,
            start,
        ),
        operators: n,
    };
    let began = Instant::now();
    let mut next_task = Instant::now();
    let mut interrupted = false;
    loop {
        let done_creating = match options.tasks {
            Some(t) => summary.created >= t,
            None => began.elapsed() >= options.duration,
        };
        if done_creating && summary.certified >= summary.created {
            break;
        }
        // Outstanding tasks get a grace period after the last one is created.
        if done_creating && next_task.elapsed() > Duration::from_secs(20) {
            println!(
                "   (giving up on {} unanswered tasks)",
                summary.created - summary.certified
            );
            break;
        }
        if !done_creating && Instant::now() >= next_task {
            let name = NAMES[summary.created % NAMES.len()];
            let task = bulwark::chain::tasks::create_task(
                &provider,
                deployment.avs,
                name.as_bytes(),
                options.threshold_bps,
                30,
            )
            .await
            .context("creating a task")?;
            created.insert(task.task_id, (name.to_string(), Instant::now()));
            summary.created += 1;
            next_task = Instant::now() + options.interval;
        }
        for (task_id, landed) in watcher.poll(&created).await? {
            summary.certified += 1;
            let name = created.get(&task_id).map(|c| c.0.as_str()).unwrap_or("?");
            println!(
                "   task {task_id:>3} {name:<10} -> {:<18} signers {}/{n}  stake {:>5.1}% ({} of {} LST)  gas {:>7}  latency {:>5} ms",
                format!("{:?}", landed.greeting),
                landed.signers,
                100.0 * landed.signed_gwei as f64 / landed.total_gwei.max(1) as f64,
                landed.signed_gwei / 1_000_000_000,
                landed.total_gwei / 1_000_000_000,
                landed.gas,
                landed.latency.as_millis(),
            );
        }
        tokio::select! {
            _ = &mut shutdown => { interrupted = true; break; }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    if interrupted {
        println!("   interrupted: stopping");
    }

    if let Ok((200, text)) = http_get(agg_health, "/metrics").await {
        println!(
            "5. aggregator metrics: {} tasks opened, {} submissions answered ({}), {} certificates, {} invalid signatures, {} expired",
            metric_sum(&text, names::TASKS_OPENED),
            metric_sum(&text, names::SUBMISSIONS),
            by_status(&text),
            metric_sum(&text, names::CERTIFICATES),
            metric_sum(&text, names::BAD_SIGNATURES),
            metric_sum(&text, names::TASKS_EXPIRED),
        );
    }
    // Operators first, so none is left submitting to a stopped aggregator.
    for child in children.into_iter().rev() {
        let name = child.name().to_string();
        match child.stop(Duration::from_secs(10)).await {
            Some(status) if status.success() => summary.stopped_cleanly += 1,
            Some(status) => println!("   {name} exited with {status}"),
            None => println!("   {name} had to be killed"),
        }
    }
    drop(devnet);
    println!(
        "6. {} of {} tasks certified on chain; {} of {} processes stopped cleanly; anvil stopped",
        summary.certified, summary.created, summary.stopped_cleanly, summary.children
    );
    Ok(summary)
}

/// `accepted 60, unknown_task 30, …` from the submissions counter's label sets.
fn by_status(metrics: &str) -> String {
    let mut parts = Vec::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with(names::SUBMISSIONS))
    {
        let status = line
            .split("status=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        let count = line.rsplit_once(' ').map(|(_, v)| v);
        if let (Some(status), Some(count)) = (status, count) {
            parts.push(format!("{status} {count}"));
        }
    }
    parts.sort();
    parts.join(", ")
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std's per-process random hash keys: enough to name the demo's throwaway
    // password.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Reads `TaskResponded` events and what it takes to print them.
struct Watcher {
    provider: DynProvider,
    responses: EventCursor,
    operators: usize,
}

impl Watcher {
    async fn poll(
        &mut self,
        created: &BTreeMap<u64, (String, Instant)>,
    ) -> anyhow::Result<Vec<(u64, Landed)>> {
        let (_, logs) = self.responses.poll().await?;
        let mut landed = Vec::new();
        for log in logs {
            let tx_hash: B256 = log.transaction_hash.context("log without a transaction")?;
            let event = log.log_decode::<BasicAVS::TaskResponded>()?.inner.data;
            let task_id = u64::try_from(event.taskId)?;
            let latency = created
                .get(&task_id)
                .map(|c| c.1.elapsed())
                .unwrap_or_default();
            let receipt = self
                .provider
                .get_transaction_receipt(tx_hash)
                .await?
                .context("no receipt")?;
            let tx = self
                .provider
                .get_transaction_by_hash(tx_hash)
                .await?
                .context("no transaction")?;
            let call = BasicAVS::respondToTaskCall::abi_decode(tx.input())?;
            landed.push((
                task_id,
                Landed {
                    greeting: String::from_utf8_lossy(&event.response).into_owned(),
                    signers: self.operators.saturating_sub(call.cert.nonSigners.len()),
                    signed_gwei: event.signedStakeGwei,
                    total_gwei: event.totalStakeGwei,
                    gas: receipt.gas_used,
                    latency,
                },
            ));
        }
        Ok(landed)
    }
}
