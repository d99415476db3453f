//! `bulwark devnet up` / `status` / `down` on the hello example, and the chain commands
//! against it: a task certified, a staker depositing, delegating and withdrawing, and
//! `bulwark status` showing it all; then the oracle template, whose devnet adds a
//! price server and a setup step, with rounds landing in `bulwark status`. Every
//! process `up` started is gone after `down`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of a workspace project's `bulwark.toml` (`examples/hello`,
/// `templates/oracle`) in a temporary folder (its devnet files land there), pointing
/// at the workspace's binary, built if missing.
fn project(folder: &str, binary_name: &str) -> tempfile::TempDir {
    let source = repo().join(folder);
    let binary = repo().join("target/debug").join(binary_name);
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--profile",
                "test",
                "-p",
                binary_name,
                "--bin",
                binary_name,
            ])
            .current_dir(repo())
            .status()
            .expect("cargo");
        assert!(status.success(), "building {binary_name}");
    }
    let mut manifest: toml::Table = toml::from_str(
        &std::fs::read_to_string(source.join("bulwark.toml")).expect("bulwark.toml"),
    )
    .expect("toml");
    let avs = manifest
        .get_mut("avs")
        .and_then(toml::Value::as_table_mut)
        .expect("[avs]");
    let contract = source.join(avs["contract"].as_str().expect("contract"));
    avs.insert("contract".into(), contract.display().to_string().into());
    avs.insert("binary".into(), binary.display().to_string().into());
    avs.remove("build");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bulwark.toml"),
        toml::to_string(&manifest).expect("toml"),
    )
    .expect("bulwark.toml");
    dir
}

struct Devnet<'a> {
    project: &'a Path,
    up: bool,
}

impl Devnet<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.project)
            .stdin(Stdio::null())
            .output()
            .expect("run bulwark")
    }
}

/// `devnet down` even when an assertion failed, so no process outlives the test.
impl Drop for Devnet<'_> {
    fn drop(&mut self) {
        if self.up {
            let _ = self.run(&["devnet", "down"]);
        }
    }
}

/// Whether `pid` runs: exists and is not a zombie (orphans of `devnet up` wait for
/// whichever ancestor reaps them).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

fn pids(state: &serde_json::Value) -> Vec<u32> {
    state["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .map(|p| p["pid"].as_u64().expect("pid") as u32)
        .collect()
}

#[test]
fn devnet_up_serves_tasks_stakers_and_status_then_down_stops_it_all() {
    let dir = project("examples/hello", "hello-avs");
    let mut devnet = Devnet {
        project: dir.path(),
        up: false,
    };
    let out = devnet.run(&["devnet", "up", "--operators", "3", "--no-build"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = true;
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".bulwark/devnet.json")).expect("state"),
    )
    .expect("json");
    let started = pids(&state);
    assert_eq!(started.len(), 5, "anvil, aggregator, 3 operators");

    // A second `up` is refused while this one runs.
    let again = devnet.run(&["devnet", "up", "--no-build"]);
    assert_eq!(again.status.code(), Some(5), "{}", text(&again));

    let status = devnet.run(&["devnet", "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert_eq!(
        text(&status).matches("healthy").count(),
        4,
        "{}",
        text(&status)
    );

    // A task goes through the running aggregator and operators to the chain.
    let out = devnet.run(&["task", "create", "Grace"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut certified = String::new();
    for _ in 0..100 {
        let out = devnet.run(&["status"]);
        certified = text(&out);
        if certified.contains("\"Hello, Grace!\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(certified.contains("\"Hello, Grace!\""), "{certified}");
    assert!(
        certified.contains("operators: 3 registered, 96.0000 staked"),
        "{certified}"
    );
    // An input the AVS refuses is a clear failure.
    let out = devnet.run(&["task", "create", ""]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // A staker on a spare account: anvil funded it with ether, not with the staking
    // token, so a deposit is refused, saying what it holds.
    let spare = &state["spare_accounts"][0];
    let key_file = dir.path().join("staker.key");
    std::fs::write(&key_file, spare["private_key"].as_str().expect("key")).expect("write");
    let key = key_file.to_str().expect("utf-8");
    let out = devnet.run(&[
        "staker",
        "deposit",
        "--amount",
        "5",
        "--account-key-file",
        key,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("holds 0"), "{}", text(&out));

    // Tokens from the owner (the devnet token is mintable), then deposit, delegate
    // and withdraw.
    mint(&state, spare["address"].as_str().expect("address"));
    let out = devnet.run(&[
        "staker",
        "deposit",
        "--amount",
        "5",
        "--account-key-file",
        key,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("stake now 5.0000"), "{}", text(&out));
    let operator = state["operators"][0]["address"].as_str().expect("operator");
    let out = devnet.run(&[
        "staker",
        "delegate",
        "--operator",
        operator,
        "--account-key-file",
        key,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The staker's exposure: operators allocate all of their stake to the one AVS,
    // so all of its 5 tokens are at risk there, and in the worst case.
    let spare_address = spare["address"].as_str().expect("address");
    let out = devnet.run(&["staker", "exposure", spare_address]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("100.00%"), "{}", text(&out));
    assert!(
        text(&out).contains("pending slashes: -0.0000"),
        "{}",
        text(&out)
    );
    let out = devnet.run(&["staker", "exposure", spare_address, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let exposure: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(exposure["operator"].as_str(), Some(operator));
    assert_eq!(exposure["avs"][0]["bps"], 10_000);
    assert_eq!(exposure["worst_case"], exposure["stake"]);

    // Rewards: the owner funds this epoch, which ends; anyone distributes it by the
    // stake that signed (the Grace certificate); operators and the staker claim.
    let owner = state["owner"]["address"].as_str().expect("owner");
    mint(&state, owner);
    // The epoch (100 blocks on a devnet) of the block the Grace certificate landed in.
    let landed: u64 = certified
        .lines()
        .find(|l| l.contains("\"Hello, Grace!\""))
        .and_then(|l| l.split("block").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the certificate's block");
    let epoch = (landed / 100).to_string();
    let out = devnet.run(&["avs", "fund-rewards", "--amount", "9", "--epoch", &epoch]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = devnet.run(&["avs", "distribute-rewards", "--epoch", &epoch]);
    assert_eq!(out.status.code(), Some(2), "not over yet: {}", text(&out));
    mine(&state, 200);
    let out = devnet.run(&["avs", "distribute-rewards", "--epoch", &epoch]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("paid 3 operators"), "{}", text(&out));
    let out = devnet.run(&["staker", "rewards", operator]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A third of 9 (all three signed): the operator keeps 10% and shares the rest
    // with the staker by stake, 32 to 5.
    assert!(text(&out).contains("can claim 2.635"), "{}", text(&out));
    let out = devnet.run(&["staker", "claim", "--account-key-file", key]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("claimed 0.364"), "{}", text(&out));
    let out = devnet.run(&["status"]);
    assert!(text(&out).contains("rewards funded: 3"), "{}", text(&out));

    let out = devnet.run(&["staker", "withdraw", "--account-key-file", key]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("queued"), "{}", text(&out));
    let out = devnet.run(&[
        "staker",
        "withdraw",
        "--complete",
        "0",
        "--account-key-file",
        key,
    ]);
    assert_eq!(out.status.code(), Some(1), "too early: {}", text(&out));
    // The revert is named, not shown as a selector.
    assert!(
        text(&out).contains("WithdrawalDelayNotElapsed { id: 0, readyAtBlock: "),
        "{}",
        text(&out)
    );

    let out = devnet.run(&["devnet", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = false;
    assert!(
        text(&out).contains("devnet down (5 processes)"),
        "{}",
        text(&out)
    );
    for pid in started {
        assert!(!running(pid), "process {pid} outlived `devnet down`");
    }
    let out = devnet.run(&["devnet", "status"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
}

/// The oracle template on a devnet: its price server starts, its setup configures the
/// feeds, the keeper starts rounds, and `bulwark status` shows them land. One of
/// four operators is faulty (it reads the wrong pairs and endorses the median
/// anyway): its reports are in the aggregator's evidence file, and the devnet's
/// challenger proves its far endorsements and slashes it on chain.
#[test]
fn oracle_devnet_lands_rounds_that_status_shows_then_down_stops_it_all() {
    let dir = project("templates/oracle", "oracle-avs");
    let mut devnet = Devnet {
        project: dir.path(),
        up: false,
    };
    let out = devnet.run(&[
        "devnet",
        "up",
        "--operators",
        "4",
        "--no-build",
        "--setup-arg=--faulty-operators=1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = true;
    assert!(text(&out).contains("price-server"), "{}", text(&out));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".bulwark/devnet.json")).expect("state"),
    )
    .expect("json");
    let started = pids(&state);
    assert_eq!(
        started.len(),
        8,
        "anvil, price server, aggregator, 4 operators, challenger"
    );
    let status = devnet.run(&["devnet", "status"]);
    assert_eq!(
        text(&status).matches("healthy").count(),
        7,
        "{}",
        text(&status)
    );

    // Rounds of both feeds land; the second round of a feed shows it keeps going.
    let landed = |out: &str, feed: &str| -> u64 {
        out.lines()
            .find(|l| l.trim_start().starts_with(feed) && l.contains(" round "))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mut shown = String::new();
    for _ in 0..300 {
        shown = text(&devnet.run(&["status"]));
        if landed(&shown, "ETH/USD") >= 2 && landed(&shown, "BTC/USD") >= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        landed(&shown, "ETH/USD") >= 2 && landed(&shown, "BTC/USD") >= 1,
        "{shown}"
    );
    assert!(shown.contains("oracle feeds: 2"), "{shown}");
    assert!(shown.contains("signed by "), "{shown}");
    let faulty = state["operators"][3]["address"]
        .as_str()
        .expect("address")
        .to_lowercase();
    // The challenger slashes the faulty operator, and no one else.
    for _ in 0..300 {
        if !shown.contains("slashes: 0") && shown.contains(" lost ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        shown = text(&devnet.run(&["status"]));
    }
    let slashed: Vec<String> = shown
        .lines()
        .filter(|l| l.contains(" lost "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_lowercase)
        .collect();
    assert!(!slashed.is_empty(), "no slash: {shown}");
    assert!(slashed.iter().all(|a| *a == faulty), "{shown}");
    let evidence =
        std::fs::read_to_string(dir.path().join(".bulwark/devnet/aggregator.evidence.jsonl"))
            .expect("evidence file");
    assert!(
        evidence.lines().count() >= 2 && evidence.to_lowercase().contains(&faulty),
        "{evidence}"
    );

    let out = devnet.run(&["devnet", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = false;
    assert!(
        text(&out).contains("devnet down (8 processes)"),
        "{}",
        text(&out)
    );
    for pid in started {
        assert!(!running(pid), "process {pid} outlived `devnet down`");
    }
}

/// Mines `blocks` empty blocks on the devnet's anvil.
fn mine(state: &serde_json::Value, blocks: u64) {
    use alloy::providers::Provider;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let provider =
            bulwark_chain::provider::connect(state["rpc_url"].as_str().expect("rpc"), None)
                .expect("provider");
        let _: serde_json::Value = provider
            .raw_request("anvil_mine".into(), (blocks,))
            .await
            .expect("anvil_mine");
    });
}

/// Mints devnet tokens to `to` as the owner, through the library (no CLI command
/// mints: real staking tokens are not mintable).
fn mint(state: &serde_json::Value, to: &str) {
    use alloy::network::EthereumWallet;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let owner = bulwark_chain::provider::signer(
            state["owner"]["private_key"].as_str().expect("owner key"),
        )
        .expect("signer");
        let provider = bulwark_chain::provider::connect(
            state["rpc_url"].as_str().expect("rpc"),
            Some(EthereumWallet::from(owner)),
        )
        .expect("provider");
        let token = bulwark_chain::bindings::LiquidStakingToken::new(
            state["token"]
                .as_str()
                .expect("token")
                .parse()
                .expect("address"),
            provider.clone(),
        );
        let pending = token
            .mint(
                to.parse().expect("address"),
                bulwark_chain::devnet::ether(10),
            )
            .send()
            .await
            .expect("mint");
        bulwark_chain::devnet::mined(&provider, pending)
            .await
            .expect("mined");
    });
}

/// The same hello AVS (contract and binary) on EigenLayer's own core:
/// `devnet up --restaking eigenlayer` deploys the core from the bytecode `make
/// eigenlayer` fetched, the AVS on its adapter, and operators that deposit, register,
/// allocate and join the operator set; a task is certified with their EigenLayer
/// stake.
#[test]
fn hello_runs_on_eigenlayer() {
    let dir = project("examples/hello", "hello-avs");
    let mut devnet = Devnet {
        project: dir.path(),
        up: false,
    };
    let out = devnet.run(&[
        "devnet",
        "up",
        "--operators",
        "3",
        "--no-build",
        "--restaking",
        "eigenlayer",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = true;
    let out = devnet.run(&["task", "create", "Ada"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut shown = String::new();
    for _ in 0..100 {
        shown = text(&devnet.run(&["status"]));
        if shown.contains("\"Hello, Ada!\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(shown.contains("\"Hello, Ada!\""), "{shown}");
    assert!(
        shown.contains("operators: 3 registered, 96.0000 staked"),
        "EigenLayer stake: {shown}"
    );
    let out = devnet.run(&["devnet", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = false;
}

/// The oracle template on EigenLayer's core: rounds land weighted by EigenLayer
/// stake, and the devnet's challenger slashes the faulty operator's far endorsements
/// through `AllocationManager.slashOperator` (no one else's).
#[test]
fn oracle_runs_and_slashes_on_eigenlayer() {
    let dir = project("templates/oracle", "oracle-avs");
    let mut devnet = Devnet {
        project: dir.path(),
        up: false,
    };
    let out = devnet.run(&[
        "devnet",
        "up",
        "--operators",
        "4",
        "--no-build",
        "--restaking",
        "eigenlayer",
        "--setup-arg=--faulty-operators=1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = true;
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".bulwark/devnet.json")).expect("state"),
    )
    .expect("json");
    let faulty = state["operators"][3]["address"]
        .as_str()
        .expect("address")
        .to_lowercase();
    let mut shown = String::new();
    for _ in 0..400 {
        shown = text(&devnet.run(&["status"]));
        if shown.contains(" lost ") && shown.contains("signed by ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(shown.contains("operators: 4 registered"), "{shown}");
    assert!(shown.contains("signed by "), "a round landed: {shown}");
    let slashed: Vec<String> = shown
        .lines()
        .filter(|l| l.contains(" lost "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_lowercase)
        .collect();
    assert!(!slashed.is_empty(), "no slash on EigenLayer: {shown}");
    assert!(slashed.iter().all(|a| *a == faulty), "{shown}");
    let out = devnet.run(&["devnet", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    devnet.up = false;
}
