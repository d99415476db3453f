//! The pieces `bulwark devnet up` will run for a bridge project, as processes: the
//! remote chain as a service (announced, and stopped with its process) and the setup
//! that deploys everything around a fresh BridgeHome and prints the `[avs]` settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bridge_avs::contracts::{self, IBridgeHome, IOperatorTable, code};
use bridge_avs::devnet::{CHALLENGE_WINDOW, REMOTE};
use bulwark::alloy::primitives::Address;
use bulwark::alloy::providers::Provider;
use bulwark::chain::devnet::{DeployConfig, Devnet, ether};
use bulwark::node::listening::Listening;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn scratch(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bridge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_chain_service_and_the_setup_deploy_both_sides() -> Result {
    let dir = scratch("services")?;
    let ready = dir.join("ready.json");
    let mut service = Command::new(env!("CARGO_BIN_EXE_bridge-avs"))
        .args(["remote-chain", "--dir"])
        .arg(&dir)
        .env("BULWARK_READY_FILE", &ready)
        .stdout(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    let announced = loop {
        if let Some(listening) = Listening::read_from(&ready)? {
            break listening;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the remote chain never announced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let http = announced.http.ok_or("no address announced")?;
    let remote_url = format!("http://{http}");
    assert_eq!(
        std::fs::read_to_string(dir.join("remote-chain.url"))?.trim(),
        remote_url
    );
    let remote = bulwark::chain::provider::connect(&remote_url, None)?;
    assert_eq!(remote.get_chain_id().await?, REMOTE);

    // The home chain as `bulwark devnet up` leaves it before the setup: BridgeHome
    // deployed, four operators registered.
    let home = Devnet::start(10)?;
    let d = home
        .deploy(&DeployConfig {
            avs_code: contracts::creation_code(code::BRIDGE_HOME)?,
            challenge_window: CHALLENGE_WINDOW,
            withdrawal_delay: CHALLENGE_WINDOW,
            ..DeployConfig::default()
        })
        .await?;
    home.onboard_operators(&d, 4, ether(32)).await?;
    let owner_key = dir.join("owner.key");
    let owner = home.signer(0).ok_or("no owner key")?;
    std::fs::write(
        &owner_key,
        bulwark::alloy::primitives::hex::encode(owner.to_bytes()),
    )?;

    let output = Command::new(env!("CARGO_BIN_EXE_bridge-avs"))
        .args(["devnet-setup", "--rpc-url", &home.endpoint(), "--avs"])
        .arg(d.avs.to_string())
        .args(["--remote-rpc-url", &remote_url, "--owner-key-file"])
        .arg(&owner_key)
        .output()?;
    assert!(
        output.status.success(),
        "setup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let settings: BTreeMap<String, String> = String::from_utf8(output.stdout.clone())?
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect();
    assert_eq!(settings.get("remote_rpc_url"), Some(&remote_url));
    assert_eq!(settings.get("confirmations").map(String::as_str), Some("3"));
    let address = |name: &str| -> Result<Address> {
        Ok(settings.get(name).ok_or(format!("no {name}"))?.parse()?)
    };
    let bridge_home = IBridgeHome::new(d.avs, home.provider().clone());
    assert_eq!(bridge_home.epochs().call().await?, 1, "epoch 1 committed");
    assert_eq!(address("home_outbox")?, bridge_home.outbox().call().await?);
    let table = IOperatorTable::new(address("remote_table")?, remote.clone());
    assert_eq!(
        table.table().call().await?.epoch,
        1,
        "and installed on remote"
    );
    for name in [
        "home_inbox",
        "vault",
        "remote_outbox",
        "remote_inbox",
        "wrapped",
    ] {
        let at = address(name)?;
        let on = if name.starts_with("remote") || name == "wrapped" {
            &remote
        } else {
            home.provider()
        };
        assert!(!on.get_code_at(at).await?.is_empty(), "{name} has code");
    }

    // `status --config` reads both chains where a devnet runtime's config says (what
    // `bulwark status` passes it): nothing sent yet, epoch 1 in force on remote.
    let config = dir.join("aggregator.toml");
    let setup = String::from_utf8(output.stdout.clone())?;
    std::fs::write(
        &config,
        format!(
            "[chain]\nrpc_url = \"{}\"\navs = \"{}\"\n\n[avs]\n{setup}",
            home.endpoint(),
            d.avs
        ),
    )?;
    let status = |config: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_bridge-avs"))
            .args(["status", "--config"])
            .arg(config)
            .output()
    };
    let out = status(&config)?;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report
            .matches(": 0 sent, 0 deep, 0 executed, 0 forged")
            .count(),
        2,
        "{report}"
    );
    assert!(
        report.contains("tables: 1 committed on home; epoch 1 in force on remote"),
        "{report}"
    );
    // A config naming something that is no address is refused by name.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&config)?.replace(
            &format!("remote_table = \"{}\"", address("remote_table")?),
            "remote_table = \"0xnot-an-address\"",
        ),
    )?;
    let out = status(&bad)?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[avs] remote_table"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Stopping the service stops its anvil.
    Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status()?;
    let stopped = Instant::now();
    while service.try_wait()?.is_none() {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "the service did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        remote.get_chain_id().await.is_err(),
        "the remote chain outlived its service"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
