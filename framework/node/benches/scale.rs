//! The aggregator at network scale (issue #12's goals), printed by `make bench`:
//!
//! 1. **CPU per accepted signature over gRPC, the aggregator alone**: the aggregator
//!    serves in this process; 1,000 operators (one HTTP/2 connection, session and
//!    submission stream each, uncompressed signatures) run in a child process (this binary again), so the process CPU time
//!    (`getrusage`, user + system) counts the aggregator's work only. Goal: at most
//!    50 µs per signature.
//! 2. **10,000 operators in one task**: the last needed signature entering the
//!    aggregator → its certificate built (p50, p99; goal: p99 within 20 ms), and the
//!    memory an open task takes (resident set growth over 16 open tasks each holding
//!    9,999 signatures, divided by 16).
//! 3. **Restart**: time from opening the store to serving (every task reopened and
//!    its stored signatures read back) with 1,000 open tasks over 10,000 operators in
//!    the store (sets from memory, as the set cache holds them; reading one from
//!    chain is `ceil(10,000 / 256) = 40` `eth_call`s per reference block).
//!
//! `cargo bench -p bulwark-node --bench scale`; `cargo test --benches` runs a small
//! smoke version.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use bulwark_chain::registry::{OperatorEntry, OperatorSet as ChainSet};
use bulwark_core::{
    Certificate, EngineConfig, Operator, OperatorId, OperatorSet, Outcome, ResponseDigest,
    SignedResponse, SigningContext, TaskConfig, Threshold,
};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::proto::SubmissionStatus;
use bulwark_net::server::SubmissionSink;
use bulwark_node::aggregator::Aggregator;
use bulwark_node::aggregator::store::{Store, Write as StoreWrite};
use bulwark_node::follow::NewTask;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [7; 20],
};
const RESPONSE: &[u8] = b"benchmark response";
const STAKE: u64 = 32_000_000_000;
/// Set in the child process: the aggregator's address.
const CLIENTS_ENV: &str = "BULWARK_SCALE_CLIENTS";

struct Operators {
    keys: Vec<SecretKey>,
    ids: Vec<OperatorId>,
    set: OperatorSet,
    chain_set: Arc<ChainSet>,
}

fn key(i: usize) -> SecretKey {
    let mut ikm = [5u8; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
    SecretKey::from_ikm(&ikm).expect("ikm")
}

fn id(i: usize) -> OperatorId {
    let mut a = [0u8; 20];
    a[12..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    OperatorId(a)
}

fn operators(n: usize) -> Operators {
    let keys: Vec<SecretKey> = parallel(n, key);
    let ids: Vec<OperatorId> = (0..n).map(id).collect();
    let set = OperatorSet::new(
        keys.iter()
            .zip(&ids)
            .map(|(k, id)| Operator {
                id: *id,
                public_key: k.public_key(),
                stake: STAKE,
            })
            .collect(),
    )
    .expect("set");
    let chain_set = Arc::new(ChainSet {
        block: 1,
        set_hint: 0,
        total_stake_gwei: STAKE * n as u64,
        operators: set
            .operators()
            .iter()
            .map(|o| OperatorEntry {
                address: Address::from(o.id.0),
                stake_gwei: STAKE,
                public_key: o.public_key,
                hint: 0,
            })
            .collect(),
    });
    Operators {
        keys,
        ids,
        set,
        chain_set,
    }
}

/// `f(0..n)` on every core (key generation and signing are the operators' work).
fn parallel<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let f = &f;
                s.spawn(move || (start..(start + chunk).min(n)).map(f).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn config(ops: &Operators, task_id: u64) -> TaskConfig {
    TaskConfig {
        task_id,
        reference_block: 1,
        threshold: Threshold::new(10_000).expect("threshold"),
        deadline: u64::MAX,
        operators: ops.set.clone(),
        context: CTX,
    }
}

fn signed(ops: &Operators, task_id: u64, range: std::ops::Range<usize>) -> Vec<SignedResponse> {
    let message = CTX.message(task_id, &ResponseDigest::of(RESPONSE));
    let start = range.start;
    parallel(range.len(), |i| SignedResponse {
        task_id,
        operator: ops.ids[start + i],
        response: RESPONSE.to_vec(),
        signature: ops.keys[start + i].sign(&Domain::SIGNATURE, &message),
    })
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// Resident set size of this process, bytes (Linux; 0 elsewhere).
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ------------------------------------------------------------------ 1. gRPC CPU

/// The child: 1,000 operators over gRPC, each with the operator runtime's own
/// `Connection` (its session and its submission stream opened before the
/// measurement, by a submission to a task that does not exist). Signs every task's
/// submission, says `ready`, waits for `go` on stdin, sends them all, says `done`.
async fn clients(addr: &str, n: usize, tasks: u64) {
    let ops = operators(n);
    let endpoint = format!("http://{addr}");
    let backoff = bulwark_net::client::Backoff::default();
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let connection = bulwark_net::client::Connection::for_operator(
            &endpoint,
            ops.ids[i],
            ops.keys[i].clone(),
        );
        let warm = SignedResponse {
            task_id: 0,
            ..signed(&ops, 0, i..i + 1).remove(0)
        };
        let (status, detail) = connection.submit(&warm, &backoff).await.expect("reachable");
        assert_eq!(status, SubmissionStatus::UnknownTask, "{detail}");
        conns.push(connection);
    }
    let mut submissions: Vec<Vec<SignedResponse>> = vec![Vec::new(); n];
    for task_id in 1..=tasks {
        for (i, sub) in signed(&ops, task_id, 0..n).into_iter().enumerate() {
            submissions[i].push(sub);
        }
    }
    println!("ready");
    std::io::stdout().flush().expect("flush");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).expect("go");
    let mut calls = tokio::task::JoinSet::new();
    for (connection, submissions) in conns.into_iter().zip(submissions) {
        let backoff = backoff.clone();
        calls.spawn(async move {
            for sub in submissions {
                loop {
                    let (status, _) = connection.submit(&sub, &backoff).await.expect("reply");
                    if status != SubmissionStatus::Unavailable {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    }
    while calls.join_next().await.is_some() {}
    println!("done");
}

async fn grpc_cpu(n: usize, tasks: u64) {
    let ops = operators(n);
    let (aggregator, mut certificates) = Aggregator::new(EngineConfig::default());
    for task_id in 1..=tasks {
        aggregator
            .open_task(config(&ops, task_id), ops.chain_set.clone(), &[])
            .await
            .expect("open");
    }
    let (listener, addr) = bulwark_net::server::bind_loopback().await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bulwark_net::server::serve(
        listener,
        aggregator.clone(),
        64 * 1024,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .env(CLIENTS_ENV, format!("{addr} {n} {tasks}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the clients' process");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdin = child.stdin.take().expect("stdin");
    let mut line = String::new();
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    while line.trim() != "ready" {
        line.clear();
        assert!(
            stdout.read_line(&mut line).await.expect("read") > 0,
            "the clients' process ended early"
        );
    }
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    stdin.write_all(b"go\n").await.expect("go");
    stdin.flush().await.expect("flush");
    for _ in 0..tasks {
        let cert: Certificate = certificates.recv().await.expect("certificate");
        assert_eq!(cert.signers.len(), n);
    }
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    let signatures = n as f64 * tasks as f64;
    println!(
        "  aggregator CPU per accepted signature: {:.1} µs (goal: at most 50 µs), {:.0} signatures/s per aggregator core; wall {:.0} signatures/s ({n} operators in another process, {tasks} tasks)",
        cpu.as_secs_f64() * 1e6 / signatures,
        signatures / cpu.as_secs_f64(),
        signatures / wall.as_secs_f64(),
    );
    let _ = child.wait().await;
    let _ = stop.send(());
    server.await.expect("join").expect("server stops");
}

// ------------------------------------------------------------- 2. 10,000 in a task

async fn big_task(n: usize, tasks: u64, held: u64) {
    let ops = operators(n);
    let (aggregator, _certificates) = Aggregator::new(EngineConfig {
        max_open_tasks: 64,
        ..EngineConfig::default()
    });
    let mut latency = Vec::new();
    for task_id in 1..=tasks {
        aggregator
            .open_task(config(&ops, task_id), ops.chain_set.clone(), &[])
            .await
            .expect("open");
        let mut subs = signed(&ops, task_id, 0..n);
        let last = subs.pop().expect("one");
        for sub in subs {
            aggregator.submit(sub).await.expect("accepted");
        }
        let entered = Instant::now();
        let outcome = aggregator.submit(last).await;
        latency.push(entered.elapsed());

        assert!(matches!(outcome, Ok(Outcome::Certified(_))), "{outcome:?}");
    }
    latency.sort();
    println!(
        "  {n} operators, threshold 100%: last needed signature -> certificate p50 {:.2} ms, p99 {:.2} ms (goal: p99 within 20 ms; {tasks} tasks)",
        ms(percentile(&latency, 0.5)),
        ms(percentile(&latency, 0.99)),
    );
    // Memory: `held` tasks left open, each holding every signature but one.
    let before = resident();
    for task_id in 1_000..1_000 + held {
        aggregator
            .open_task(config(&ops, task_id), ops.chain_set.clone(), &[])
            .await
            .expect("open");
        for sub in signed(&ops, task_id, 0..n - 1) {
            aggregator.submit(sub).await.expect("accepted");
        }
    }
    let grown = resident().saturating_sub(before);
    println!(
        "  memory per open task ({n} operators, {} signatures held): {:.2} MiB ({held} tasks, resident set +{:.1} MiB)",
        n - 1,
        grown as f64 / held as f64 / (1 << 20) as f64,
        grown as f64 / (1 << 20) as f64,
    );
}

// ------------------------------------------------------------------ 3. restart

async fn restart(n: usize, tasks: u64, signatures_per_task: usize) {
    let ops = operators(n);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("aggregator.redb");
    {
        let store = Store::open(&path).expect("store");
        for task_id in 1..=tasks {
            let mut writes = vec![StoreWrite::Task(NewTask {
                task_id,
                input: Vec::new(),
                reference_block: 1,
                threshold_bps: 10_000,
                deadline_block: u32::MAX,
            })];
            writes.extend(
                signed(&ops, task_id, 0..signatures_per_task)
                    .into_iter()
                    .map(StoreWrite::Submission),
            );
            store.write(writes).await.expect("write");
        }
    }
    let started = Instant::now();
    let store = Arc::new(Store::open(&path).expect("reopen"));
    let recovered = store.recover().expect("recover");
    let read = started.elapsed();
    let (aggregator, _certificates) = Aggregator::with_store(
        EngineConfig {
            max_open_tasks: tasks as usize + 1,
            ..EngineConfig::default()
        },
        Some(store),
    );
    for task in &recovered.tasks {
        aggregator
            .open_task(config(&ops, task.task_id), ops.chain_set.clone(), &[])
            .await
            .expect("reopen");
    }
    let serving = started.elapsed();
    assert_eq!(recovered.tasks.len() as u64, tasks);
    println!(
        "  restart with {tasks} open tasks over {n} operators ({signatures_per_task} stored signatures each): serving after {:.0} ms (store read {:.0} ms)",
        ms(serving),
        ms(read),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(args) = std::env::var(CLIENTS_ENV) {
        let mut args = args.split_whitespace();
        let addr = args.next().expect("address").to_string();
        let n: usize = args.next().and_then(|v| v.parse().ok()).expect("n");
        let tasks: u64 = args.next().and_then(|v| v.parse().ok()).expect("tasks");
        runtime.block_on(clients(&addr, n, tasks));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a small smoke run.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    // `cargo bench --bench scale -- grpc` (or `task`, `restart`) runs one part only.
    let parts: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| parts.is_empty() || parts.contains(&part);
    runtime.block_on(async {
        println!("aggregator at scale");
        let (grpc, task, again) = if smoke {
            ((50, 2), (200, 2, 2), (200, 10, 5))
        } else {
            ((1_000, 20), (10_000, 10, 16), (10_000, 1_000, 20))
        };
        if runs("grpc") {
            grpc_cpu(grpc.0, grpc.1).await;
        }
        if runs("task") {
            big_task(task.0, task.1, task.2).await;
        }
        if runs("restart") {
            restart(again.0, again.1, again.2).await;
        }
    });
}
