//! The aggregator over gRPC on loopback with 1,000 operators.
//!
//! Every task needs all 1,000 signatures (threshold 100%), so the certificate waits
//! for the last one. Each operator has its own HTTP/2 connection, opened beforehand
//! (operators keep theirs open). Per task we measure:
//! - throughput: 1,000 signatures / (first request sent → certificate built);
//! - latency: the last needed signature entering the aggregator (decoded, at the
//!   engine's door) → its certificate built (p50 and p99 over the tasks).
//!
//! Optimistic is the real aggregator (one aggregate check per certificate). Eager is the
//! same aggregator behind a sink that verifies every signature on arrival before
//! handing it on, in parallel on the server's worker threads: the usual design, and a
//! fair baseline. Every operator opens its session before the clock starts, as the
//! runtime does once per aggregator.
//!
//! Flooded is the real aggregator while an attacker, over 16 connections of its own
//! with 8 calls in flight each, sends up to [`FORGED_PER_HONEST`] submissions in each
//! operator's name (valid BLS signatures under its own keys, on the right response)
//! as fast as the server answers, from the moment the operators start; it prints how
//! many it got sent per honest one. The attacker is an operator the aggregator knows,
//! with a session of its own, which it puts on every forgery. Ahead is the worst
//! order for the aggregator: each operator's [`FORGED_PER_HONEST`] forgeries all
//! arrive, one after the other, before its own submission (which waits for them).
//! All run in this one process (attacker included, so its CPU is the aggregator's
//! too), one after the other, on the same machine. Prints the figures and the ratios (goals: optimistic at least 20x eager;
//! flooded at least half of optimistic).
//!
//! `cargo bench -p bulwark-node --bench grpc` (`make bench`); `BULWARK_BENCH_TASKS`
//! overrides the number of optimistic tasks (default 30; eager runs a quarter).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use bulwark_chain::registry::{OperatorEntry, OperatorSet as ChainSet};
use bulwark_core::{
    EngineConfig, Operator, OperatorId, OperatorSet, Outcome, Rejection, ResponseDigest,
    SignedResponse, SigningContext, TaskConfig, Threshold,
};
use bulwark_crypto::{Domain, PublicKey, SecretKey};
use bulwark_net::proto::aggregator_client::AggregatorClient;
use bulwark_net::proto::{SessionStatus, SubmissionStatus, SubmitResponseRequest};
use bulwark_net::server::SubmissionSink;
use bulwark_node::aggregator::Aggregator;
use tonic::transport::Channel;

const N: usize = 1000;
const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [7; 20],
};
const RESPONSE: &[u8] = b"benchmark response";
/// Forged submissions per honest one in the flooded run.
const FORGED_PER_HONEST: usize = 10;
/// The attacker's connections.
const ATTACKER_CONNECTIONS: usize = 16;
/// Calls each attacker connection keeps in flight.
const FLOOD_CALLS_PER_CONNECTION: usize = 8;
/// The attacker's own operator address (known to the aggregator, in no task's set).
const ATTACKER: OperatorId = OperatorId([0xAA; 20]);

/// The aggregator with a clock on the signature that completed each certificate.
struct Timed {
    aggregator: Arc<Aggregator>,
    /// Every operator's key, and the attacker's: they open sessions.
    keys: HashMap<OperatorId, PublicKey>,
    /// Whether every signature is verified before the aggregator sees it.
    eager: bool,
    /// When the completing signature entered, and when its certificate came out.
    completed: Mutex<Option<(Instant, Instant)>>,
}

impl SubmissionSink for Timed {
    async fn operator_key(&self, operator: OperatorId) -> Option<PublicKey> {
        self.keys.get(&operator).copied()
    }

    async fn submit(&self, sub: SignedResponse) -> Result<Outcome, Rejection> {
        let entered = Instant::now();
        if self.eager {
            let key = self
                .keys
                .get(&sub.operator)
                .ok_or(Rejection::UnknownOperator(sub.operator))?;
            let message = CTX.message(sub.task_id, &ResponseDigest::of(&sub.response));
            key.verify(&Domain::SIGNATURE, &message, &sub.signature)
                .map_err(|_| Rejection::BadSignature(sub.operator))?;
        }
        let outcome = self.aggregator.submit(sub).await;
        if matches!(outcome, Ok(Outcome::Certified(_))) {
            *self.completed.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((entered, Instant::now()));
        }
        outcome
    }
}

struct Operators {
    keys: Vec<SecretKey>,
    ids: Vec<OperatorId>,
    set: OperatorSet,
    chain_set: ChainSet,
}

fn operators() -> Operators {
    let keys: Vec<SecretKey> = (0..N)
        .map(|i| {
            let mut ikm = [3u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_ikm(&ikm).expect("ikm")
        })
        .collect();
    let ids: Vec<OperatorId> = (0..N)
        .map(|i| {
            let mut a = [0u8; 20];
            a[12..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            OperatorId(a)
        })
        .collect();
    let set = OperatorSet::new(
        keys.iter()
            .zip(&ids)
            .map(|(k, id)| Operator {
                id: *id,
                public_key: k.public_key(),
                stake: 32_000_000_000,
            })
            .collect(),
    )
    .expect("set");
    let chain_set = ChainSet {
        block: 1,
        set_hint: 0,
        total_stake_gwei: 32_000_000_000 * N as u64,
        operators: keys
            .iter()
            .zip(&ids)
            .map(|(k, id)| OperatorEntry {
                address: Address::from(id.0),
                stake_gwei: 32_000_000_000,
                public_key: k.public_key(),
                hint: 0,
            })
            .collect(),
    };
    Operators {
        keys,
        ids,
        set,
        chain_set,
    }
}

/// Opens a session of `operator` on `client`.
async fn session(
    client: &mut AggregatorClient<Channel>,
    operator: OperatorId,
    key: &SecretKey,
) -> Vec<u8> {
    let reply = bulwark_net::client::open_session(client, operator, key)
        .await
        .expect("session");
    assert_eq!(reply.status, SessionStatus::Open as i32, "{}", reply.detail);
    reply.token
}

/// A client on its own HTTP/2 connection to `addr`.
async fn connect(addr: std::net::SocketAddr) -> AggregatorClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    AggregatorClient::new(channel)
}

struct Run {
    throughput: Vec<f64>,
    latency: Vec<Duration>,
    /// Forgeries the attacker got sent before each certificate, summed.
    forged_sent: usize,
}

/// Starts an aggregator (eager or not) behind a gRPC server, connects every operator,
/// and runs `tasks` tasks through it.
/// How the attacker floods, if at all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flood {
    None,
    /// Over its own connections, as fast as the server answers, beside the operators.
    Concurrent,
    /// Strictly ahead of each operator's own submission (which waits for them).
    Ahead,
}

async fn run(ops: &Operators, eager: bool, flood_mode: Flood, tasks: u64) -> Run {
    let forged_per_honest = if flood_mode == Flood::None {
        0
    } else {
        FORGED_PER_HONEST
    };
    let (aggregator, mut certificates) = Aggregator::new(EngineConfig::default());
    let attacker_key = SecretKey::from_ikm(&[199; 32]).expect("ikm");
    let mut keys: HashMap<OperatorId, PublicKey> = ops
        .ids
        .iter()
        .zip(&ops.keys)
        .map(|(id, k)| (*id, k.public_key()))
        .collect();
    keys.insert(ATTACKER, attacker_key.public_key());
    let sink = Arc::new(Timed {
        aggregator: aggregator.clone(),
        keys,
        eager,
        completed: Mutex::new(None),
    });
    let (listener, addr) = bulwark_net::server::bind_loopback().await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bulwark_net::server::serve(
        listener,
        sink.clone(),
        64 * 1024,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut clients = Vec::with_capacity(N);
    let mut sessions = Vec::with_capacity(N);
    for (id, key) in ops.ids.iter().zip(&ops.keys) {
        let mut client = connect(addr).await;
        sessions.push(session(&mut client, *id, key).await);
        clients.push(client);
    }
    let mut attacker_clients = Vec::new();
    for _ in 0..ATTACKER_CONNECTIONS.min(forged_per_honest * N) {
        attacker_clients.push(connect(addr).await);
    }
    let attacker_session = match attacker_clients.first_mut() {
        Some(client) => session(client, ATTACKER, &attacker_key).await,
        None => Vec::new(),
    };
    let attacker_keys: Vec<SecretKey> = (0..forged_per_honest)
        .map(|j| SecretKey::from_ikm(&[200u8.wrapping_add(j as u8); 32]).expect("ikm"))
        .collect();

    let mut result = Run {
        throughput: Vec::new(),
        latency: Vec::new(),
        forged_sent: 0,
    };
    for task_id in 1..=tasks {
        aggregator
            .open_task(
                TaskConfig {
                    task_id,
                    reference_block: 1,
                    threshold: Threshold::new(10_000).expect("threshold"),
                    deadline: u64::MAX,
                    operators: ops.set.clone(),
                    context: CTX,
                },
                ops.chain_set.clone(),
                &[],
            )
            .await
            .expect("open");
        // Signing is the operators' work, not the aggregator's: done before the clock.
        let message = CTX.message(task_id, &ResponseDigest::of(RESPONSE));
        let requests: Vec<SubmitResponseRequest> = ops
            .keys
            .iter()
            .zip(&ops.ids)
            .zip(&sessions)
            .map(|((k, id), session)| SubmitResponseRequest {
                session: session.clone(),
                ..bulwark_net::submission::encode(&SignedResponse {
                    task_id,
                    operator: *id,
                    response: RESPONSE.to_vec(),
                    signature: k.sign(&Domain::SIGNATURE, &message),
                })
            })
            .collect();
        // The attacker's forgeries, signed before the clock too: each of its keys
        // signs the task message once, sent in every operator's name.
        let forgeries: Vec<Vec<u8>> = attacker_keys
            .iter()
            .map(|k| k.sign(&Domain::SIGNATURE, &message).to_bytes().to_vec())
            .collect();
        // The flood: the attacker's connections, each with a few calls in flight,
        // send every forgery (each operator's name, each attacker key) as fast as the
        // server answers, from the moment the honest operators start.
        let forged: Vec<SubmitResponseRequest> = forgeries
            .iter()
            .flat_map(|sig| {
                let attacker_session = &attacker_session;
                requests.iter().map(move |request| SubmitResponseRequest {
                    signature: sig.clone(),
                    session: attacker_session.clone(),
                    ..request.clone()
                })
            })
            .collect();
        let forged = Arc::new(forged);
        let cursor = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut flood = tokio::task::JoinSet::new();
        let started = Instant::now();
        if flood_mode == Flood::Concurrent {
            for attacker in &attacker_clients {
                for _ in 0..FLOOD_CALLS_PER_CONNECTION {
                    let mut attacker = attacker.clone();
                    let (forged, cursor) = (forged.clone(), cursor.clone());
                    flood.spawn(async move {
                        loop {
                            let k = cursor.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(request) = forged.get(k) else {
                                return;
                            };
                            // The attacker does not care what it is told.
                            let _ = attacker.submit_response(request.clone()).await;
                        }
                    });
                }
            }
        }
        let mut calls = tokio::task::JoinSet::new();
        for (i, (client, request)) in clients.iter().zip(requests).enumerate() {
            let mut client = client.clone();
            // Ahead: this operator's forgeries, one per attacker key, sent first.
            let ahead: Vec<SubmitResponseRequest> = if flood_mode == Flood::Ahead {
                (0..forged_per_honest)
                    .filter_map(|j| forged.get(j * N + i).cloned())
                    .collect()
            } else {
                Vec::new()
            };
            let mut attacker = attacker_clients
                .get(i % attacker_clients.len().max(1))
                .cloned();
            let cursor = cursor.clone();
            calls.spawn(async move {
                if let Some(attacker) = attacker.as_mut() {
                    for f in ahead {
                        cursor.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let _ = attacker.submit_response(f).await;
                    }
                }
                // Like the operator runtime, retry while the aggregator is busy.
                loop {
                    let reply = client.submit_response(request.clone()).await?.into_inner();
                    if reply.status != SubmissionStatus::Unavailable as i32 {
                        return Ok::<_, tonic::Status>(reply);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
        while let Some(reply) = calls.join_next().await {
            if let Err(status) = reply.expect("join") {
                panic!("an honest submission failed: {status}");
            }
        }
        let cert = certificates.recv().await.expect("certificate");
        flood.abort_all();
        result.forged_sent += cursor
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(forged.len());
        assert_eq!(cert.task_id, task_id);
        assert_eq!(cert.signers.len(), N);
        let (entered, certified) = sink
            .completed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("the completing signature was timed");
        result
            .throughput
            .push(N as f64 / (certified - started).as_secs_f64());
        result.latency.push(certified - entered);
    }
    drop(clients);
    let _ = stop.send(());
    server.await.expect("join").expect("server stops");
    result
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn report(name: &str, mut run: Run) -> f64 {
    run.latency.sort();
    let throughput = median(&mut run.throughput);
    let forged = if run.forged_sent > 0 {
        format!(
            ", {:.1} forged sent per honest",
            run.forged_sent as f64 / (N * run.latency.len()) as f64
        )
    } else {
        String::new()
    };
    println!(
        "  {name:<10} {:>9.0} signatures/s   last needed signature -> certificate: p50 {:>7.2} ms, p99 {:>7.2} ms  ({} tasks{forged})",
        throughput,
        percentile(&run.latency, 0.5).as_secs_f64() * 1e3,
        percentile(&run.latency, 0.99).as_secs_f64() * 1e3,
        run.latency.len(),
    );
    throughput
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with nothing:
    // a smoke run of one task each then.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let tasks: u64 = std::env::var("BULWARK_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 1 } else { 30 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let ops = operators();
        println!(
            "aggregator over gRPC on 127.0.0.1, {N} operators (one connection each), threshold 100%"
        );
        let optimistic = report("optimistic", run(&ops, false, Flood::None, tasks).await);
        let eager = report("eager", run(&ops, true, Flood::None, tasks.div_ceil(4)).await);
        let flooded = report(
            "flooded",
            run(&ops, false, Flood::Concurrent, tasks.div_ceil(4)).await,
        );
        let ahead = report(
            "ahead",
            run(&ops, false, Flood::Ahead, tasks.div_ceil(10)).await,
        );
        println!(
            "  throughput ratio optimistic/eager: {:.1}x (goal: at least 20x)",
            optimistic / eager
        );
        println!(
            "  flooded / optimistic: {:.2} (goal: at least 0.5; the attacker floods {ATTACKER_CONNECTIONS} connections x {FLOOD_CALLS_PER_CONNECTION} calls with up to {FORGED_PER_HONEST} forgeries per operator)",
            flooded / optimistic
        );
        println!(
            "  ahead / optimistic: {:.2} ({FORGED_PER_HONEST} forgeries strictly ahead of every honest submission; goal: at least 0.5)",
            ahead / optimistic
        );
    });
}
