//! The `hello-avs` binary as users run it: the demo end to end (separate aggregator and
//! operator processes on anvil), its clean stop on Ctrl-C, and clear errors for bad
//! configs and keys.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hello-avs");

/// The process ids the demo printed for its children.
fn child_pids(output: &str) -> Vec<u32> {
    output
        .lines()
        .find_map(|l| l.split_once("running as processes "))
        .map(|(_, pids)| {
            pids.split(", ")
                .filter_map(|p| p.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_gone(pids: &[u32]) {
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "child process {pid} outlived the demo"
        );
    }
}

#[test]
fn demo_certifies_tasks_and_stops_every_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(BIN)
        .args([
            "demo",
            "--operators",
            "4",
            "--tasks",
            "3",
            "--interval-ms",
            "300",
        ])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("3 of 3 tasks certified on chain"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5 of 5 processes stopped cleanly"),
        "{stdout}"
    );
    for name in ["Ada", "Grace", "Alan"] {
        let greeting = format!("\"{}, {name}!\"", hello_avs::GREETING);
        assert!(stdout.contains(&greeting), "{stdout}");
    }
    // The numbers come from the aggregator's own /metrics endpoint.
    assert!(stdout.contains("3 tasks opened"), "{stdout}");
    assert!(stdout.contains("3 certificates"), "{stdout}");
    let pids = child_pids(&stdout);
    assert_eq!(pids.len(), 5, "{stdout}");
    assert_gone(&pids);
    // Each runtime wrote its config and log where the demo said.
    let log = std::fs::read_to_string(dir.path().join("aggregator.log")).expect("log");
    assert!(log.contains("certificate landed"), "{log}");
}

#[test]
fn demo_stops_cleanly_when_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut demo = Command::new(BIN)
        .args([
            "demo",
            "--operators",
            "2",
            "--seconds",
            "600",
            "--interval-ms",
            "300",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let stdout = demo.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = String::new();
    // Wait for the first certificate, then interrupt only the demo process (a terminal
    // would signal the whole group; this checks the demo's own shutdown path).
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.trim_start().starts_with("task ") {
            break;
        }
    }
    let pids = child_pids(&seen);
    assert_eq!(pids.len(), 3, "{seen}");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(demo.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let started = Instant::now();
    for line in lines {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = demo.wait().expect("demo exits");
    assert!(started.elapsed() < Duration::from_secs(30), "slow stop");
    assert!(status.success(), "{seen}");
    assert!(seen.contains("interrupted: stopping"), "{seen}");
    assert!(seen.contains("3 of 3 processes stopped cleanly"), "{seen}");
    assert_gone(&pids);
}

#[test]
fn bad_config_and_wrong_password_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[chain]\nrpc_url = \"nope\"\n").expect("write");
    let out = Command::new(BIN)
        .args(["aggregator", "--config"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid config") && err.contains("avs"),
        "{err}"
    );

    let missing = Command::new(BIN)
        .args(["operator", "--config"])
        .arg(dir.path().join("absent.toml"))
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read config"));

    let key = bulwark::crypto::SecretKey::from_ikm(&[7; 32]).expect("key");
    let keystore = bulwark::crypto::keystore::Keystore::encrypt(
        &key,
        "right",
        bulwark::crypto::keystore::Kdf::Pbkdf2 { c: 16 },
        "",
    )
    .expect("encrypt");
    std::fs::write(dir.path().join("op.json"), keystore.to_json()).expect("write");
    std::fs::write(dir.path().join("pw"), "wrong\n").expect("write");
    let config = dir.path().join("op.toml");
    std::fs::write(
        &config,
        "[chain]\nrpc_url = \"http://127.0.0.1:9\"\navs = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n\
         [operator]\naddress = \"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\"\nkeystore = \"op.json\"\n\
         password = { file = \"pw\" }\naggregators = [\"http://127.0.0.1:50051\"]\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["operator", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("op.json") && err.contains("password"), "{err}");
}
