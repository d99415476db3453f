//! The aggregator protocol over real gRPC on 127.0.0.1: every status, sessions and
//! what they refuse, the health service, and a server that keeps serving after
//! hostile requests.

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use bulwark_crypto::{Domain, PublicKey, SecretKey};
use bulwark_net::client::{self, Backoff};
use bulwark_net::proto::aggregator_client::AggregatorClient;
use bulwark_net::proto::{
    GetChallengeRequest, OpenSessionRequest, SessionStatus, SubmissionStatus, SubmitResponseRequest,
};
use bulwark_net::server::{self, ServerLimits, SubmissionSink};
use tokio::sync::Mutex;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [5; 20],
};

/// The engine behind the server, counting what reaches it.
struct EngineSink {
    engine: Mutex<Engine>,
    keys: std::collections::HashMap<OperatorId, PublicKey>,
    /// Submissions that reached the sink (past the server's checks).
    reached: AtomicUsize,
}

impl SubmissionSink for EngineSink {
    async fn operator_key(&self, operator: OperatorId) -> Option<PublicKey> {
        self.keys.get(&operator).copied()
    }

    async fn submit(&self, submission: SignedResponse) -> Result<Outcome, Rejection> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        self.engine.lock().await.submit(1, submission)
    }
}

fn id(i: usize) -> OperatorId {
    OperatorId([i as u8 + 1; 20])
}

fn keys() -> Vec<SecretKey> {
    (1..=4u8)
        .map(|i| SecretKey::from_ikm(&[i; 32]).expect("ikm"))
        .collect()
}

fn signed(keys: &[SecretKey], i: usize, task_id: u64, response: &[u8]) -> SignedResponse {
    let message = CTX.message(task_id, &ResponseDigest::of(response));
    SignedResponse {
        task_id,
        operator: OperatorId([i as u8 + 1; 20]),
        response: response.to_vec(),
        signature: keys[i].sign(&Domain::SIGNATURE, &message),
    }
}

type Started = (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Vec<SecretKey>,
);

async fn start() -> Started {
    start_with(ServerLimits::default()).await.0
}

async fn start_with(limits: ServerLimits) -> (Started, Arc<EngineSink>) {
    let keys = keys();
    let set = OperatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Operator {
                id: OperatorId([i as u8 + 1; 20]),
                public_key: k.public_key(),
                stake: 10,
            })
            .collect(),
    )
    .expect("set");
    // Eager: every status is decided on arrival, so each is observable here.
    let mut engine = Engine::new(EngineConfig {
        verification: bulwark_core::Verification::Eager,
        ..EngineConfig::default()
    });
    engine
        .open(TaskConfig {
            task_id: 7,
            reference_block: 1,
            threshold: Threshold::new(7500).expect("t"),
            deadline: 10,
            operators: set,
            context: CTX,
        })
        .expect("open");
    let sink = Arc::new(EngineSink {
        engine: Mutex::new(engine),
        keys: keys
            .iter()
            .enumerate()
            .map(|(i, k)| (id(i), k.public_key()))
            .collect(),
        reached: AtomicUsize::new(0),
    });
    let (listener, addr) = server::bind_loopback().await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let serving = sink.clone();
    let handle = tokio::spawn(async move {
        server::serve_with_limits(listener, serving, 64 * 1024, limits, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    ((format!("http://{addr}"), stop, handle, keys), sink)
}

/// A session of operator `i`, opened over `raw` with `key`.
async fn session(
    raw: &mut AggregatorClient<tonic::transport::Channel>,
    i: usize,
    key: &SecretKey,
) -> Vec<u8> {
    let reply = client::open_session(raw, id(i), key)
        .await
        .expect("answered");
    assert_eq!(reply.status, SessionStatus::Open as i32, "{}", reply.detail);
    assert_eq!(reply.token.len(), 32);
    reply.token
}

/// Operator 0's connection to the aggregator at `endpoint`, its session open: its
/// answer "42" to task 7 was accepted on it.
async fn with_a_session(endpoint: &str, keys: &[SecretKey]) -> client::Connection {
    let operator = client::Connection::for_operator(endpoint, id(0), keys[0].clone());
    let (status, _) = operator
        .submit(&signed(keys, 0, 7, b"42"), &Backoff::default())
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Accepted);
    operator
}

#[tokio::test]
async fn statuses_over_real_grpc() {
    let (endpoint, stop, handle, keys) = start().await;
    let backoff = Backoff::default();
    let status =
        |r: Result<(SubmissionStatus, String), client::ClientError>| r.expect("reachable").0;

    assert_eq!(
        status(client::submit(&endpoint, &keys[0], &signed(&keys, 0, 7, b"42"), &backoff).await),
        SubmissionStatus::Accepted
    );
    assert_eq!(
        status(client::submit(&endpoint, &keys[0], &signed(&keys, 0, 7, b"42"), &backoff).await),
        SubmissionStatus::Duplicate
    );
    assert_eq!(
        status(client::submit(&endpoint, &keys[0], &signed(&keys, 0, 7, b"43"), &backoff).await),
        SubmissionStatus::Conflicting
    );
    assert_eq!(
        status(client::submit(&endpoint, &keys[0], &signed(&keys, 0, 8, b"42"), &backoff).await),
        SubmissionStatus::UnknownTask
    );
    // A forgery in operator 2's name, by the holder of key 3, costs its sender only:
    // its session does not open, and operator 2 still counts.
    let mut forged = signed(&keys, 2, 7, b"42");
    forged.signature = signed(&keys, 3, 7, b"42").signature;
    assert_eq!(
        status(client::submit(&endpoint, &keys[3], &forged, &backoff).await),
        SubmissionStatus::BadSignature
    );
    assert_eq!(
        status(client::submit(&endpoint, &keys[2], &signed(&keys, 2, 7, b"42"), &backoff).await),
        SubmissionStatus::Accepted
    );
    let mut outsider = signed(&keys, 1, 7, b"42");
    outsider.operator = OperatorId([99; 20]);
    assert_eq!(
        status(client::submit(&endpoint, &keys[1], &outsider, &backoff).await),
        SubmissionStatus::UnknownOperator
    );

    // Raw requests a client library would never send.
    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    let good = SubmitResponseRequest {
        session: session(&mut raw, 1, &keys[1]).await,
        ..bulwark_net::submission::encode(&signed(&keys, 1, 7, b"42"))
    };
    for (bad, expected) in [
        (
            SubmitResponseRequest {
                digest: vec![0; 32],
                ..good.clone()
            },
            SubmissionStatus::Malformed,
        ),
        (
            SubmitResponseRequest {
                signature: vec![0xc0; 48],
                ..good.clone()
            },
            SubmissionStatus::Malformed,
        ),
        (
            SubmitResponseRequest {
                signature: vec![1, 2, 3],
                ..good.clone()
            },
            SubmissionStatus::Malformed,
        ),
        (
            SubmitResponseRequest {
                response: vec![0; 65 * 1024],
                ..good.clone()
            },
            SubmissionStatus::Malformed,
        ),
        // The session is checked first: a request it does not carry is refused
        // before its fields are looked at.
        (
            SubmitResponseRequest {
                operator: vec![2; 19],
                ..good.clone()
            },
            SubmissionStatus::Unauthenticated,
        ),
        (
            SubmitResponseRequest::default(),
            SubmissionStatus::Unauthenticated,
        ),
    ] {
        let reply = raw
            .submit_response(bad)
            .await
            .expect("a status, not a dropped call")
            .into_inner();
        assert_eq!(reply.status, expected as i32, "{}", reply.detail);
    }
    // Larger than the message limit: refused by gRPC, and the server lives on.
    let huge = SubmitResponseRequest {
        response: vec![0; 300 * 1024],
        ..good.clone()
    };
    let err = raw.submit_response(huge).await.expect_err("too large");
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err}");

    // A bad signature in operator 1's name is refused to its sender; operator 1's
    // own then completes the 75% (operators 0, 2 and 1).
    let mut forged = signed(&keys, 1, 7, b"42");
    forged.signature = keys[1].sign(&Domain::SIGNATURE, b"wrong");
    assert_eq!(
        status(client::submit(&endpoint, &keys[1], &forged, &backoff).await),
        SubmissionStatus::BadSignature
    );
    let last = client::submit(&endpoint, &keys[1], &signed(&keys, 1, 7, b"42"), &backoff)
        .await
        .expect("reachable");
    assert_eq!(last.0, SubmissionStatus::Accepted, "{}", last.1);
    assert!(last.1.contains("certificate"), "{}", last.1);
    assert_eq!(
        status(client::submit(&endpoint, &keys[3], &signed(&keys, 3, 7, b"42"), &backoff).await),
        SubmissionStatus::AlreadyCertified
    );

    // Health.
    let channel = tonic::transport::Channel::from_shared(endpoint.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "bulwark.v1.Aggregator".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let _ = stop.send(());
    handle.await.expect("server stopped cleanly");
}

#[tokio::test]
async fn client_retries_then_reports_unreachable() {
    // A port nothing listens on.
    let (listener, addr) = server::bind_loopback().await.expect("bind");
    drop(listener);
    let keys = keys();
    let backoff = Backoff {
        attempts: 3,
        initial: Duration::from_millis(10),
        max: Duration::from_millis(20),
    };
    let err = client::submit(
        &format!("http://{addr}"),
        &keys[0],
        &signed(&keys, 0, 7, b"42"),
        &backoff,
    )
    .await
    .expect_err("nothing listens");
    assert!(
        matches!(err, client::ClientError::Unreachable { attempts: 3, .. }),
        "{err}"
    );
}

/// A sink that does not implement two-phase tasks answers reports and proposal
/// requests with "unknown task", and a malformed report with a reason.
#[tokio::test]
async fn reports_to_a_single_phase_aggregator() {
    let (endpoint, stop, handle, keys) = start().await;
    let backoff = Backoff::default();
    let bytes = b"1234".to_vec();
    let message = CTX.report_message(7, &ResponseDigest::of(&bytes));
    let report = SignedReport {
        task_id: 7,
        operator: OperatorId([1; 20]),
        report: bytes,
        signature: keys[0].sign(&Domain::SIGNATURE, &message),
    };
    let (status, detail) = client::submit_report(&endpoint, &keys[0], &report, &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::UnknownTask, "{detail}");
    let (status, response, _) = client::proposal(&endpoint, 7, &backoff)
        .await
        .expect("answered");
    assert_eq!(status, bulwark_net::proto::ProposalStatus::UnknownTask);
    assert!(response.is_empty());

    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    let mut request = bulwark_net::submission::encode_report(&report);
    request.session = session(&mut raw, 0, &keys[0]).await;
    request.signature.pop();
    let reply = raw
        .submit_report(request.clone())
        .await
        .expect("a reply, not an error")
        .into_inner();
    assert_eq!(reply.status, SubmissionStatus::Malformed as i32);
    assert!(reply.detail.contains("signature"), "{}", reply.detail);
    request.session.clear();
    let reply = raw
        .submit_report(request)
        .await
        .expect("a reply, not an error")
        .into_inner();
    assert_eq!(reply.status, SubmissionStatus::Unauthenticated as i32);

    let _ = stop.send(());
    handle.await.expect("server stopped cleanly");
}

/// A loopback TCP relay in front of `upstream` that counts the connections it
/// accepts and can cut every open one.
struct Relay {
    endpoint: String,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    cut: tokio::sync::watch::Sender<u32>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let (listener, addr) = server::bind_loopback().await.expect("bind");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (cut, cuts) = tokio::sync::watch::channel(0u32);
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let upstream = upstream.clone();
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            accepted,
            cut,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A `Connection` makes its calls over one TCP connection, and makes a new one when
/// that breaks.
#[tokio::test]
async fn a_connection_is_reused_and_remade_when_cut() {
    let (endpoint, stop, handle, keys) = start().await;
    let relay = Relay::start(endpoint).await;
    let backoff = Backoff::default();
    let connection = client::Connection::for_operator(&relay.endpoint, id(0), keys[0].clone());
    for _ in 0..20 {
        let (status, _, _) = connection.proposal(7, &backoff).await.expect("answered");
        assert_eq!(status, bulwark_net::proto::ProposalStatus::UnknownTask);
    }
    let (status, _) = connection
        .submit(&signed(&keys, 0, 7, b"42"), &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Accepted);
    assert_eq!(
        relay.accepted(),
        1,
        "20 proposals, the session's challenge and opening, and the submission over one connection"
    );

    relay.cut.send_modify(|n| *n += 1);
    let (status, detail) = connection
        .submit(&signed(&keys, 0, 7, b"42"), &backoff)
        .await
        .expect("answered after the cut");
    assert_eq!(status, SubmissionStatus::Duplicate, "{detail}");
    assert_eq!(relay.accepted(), 2, "one new connection after the cut");

    // The one-off functions connect per call.
    client::proposal(&relay.endpoint, 7, &backoff)
        .await
        .expect("answered");
    assert_eq!(relay.accepted(), 3);
    let _ = stop.send(());
    handle.await.expect("server");
}

/// What an attacker without an operator's key sends in its name: no session, a
/// made-up token, its own session, another operator's, all refused `UNAUTHENTICATED`
/// without reaching the engine, in a flood over several connections; the operator's
/// own submission is accepted beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_operators_session_never_reach_the_engine() {
    let ((endpoint, stop, handle, keys), sink) = start_with(ServerLimits::default()).await;
    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    // The attacker holds operator 3's key (a registered operator of its own).
    let own = session(&mut raw, 3, &keys[3]).await;
    let forged = |session: Vec<u8>| SubmitResponseRequest {
        session,
        ..bulwark_net::submission::encode(&SignedResponse {
            signature: keys[3].sign(
                &Domain::SIGNATURE,
                &CTX.message(7, &ResponseDigest::of(b"42")),
            ),
            ..signed(&keys, 0, 7, b"42")
        })
    };
    let mut flood = tokio::task::JoinSet::new();
    for c in 0..4 {
        let mut raw = AggregatorClient::connect(endpoint.clone())
            .await
            .expect("connect");
        let requests: Vec<_> = (0..250)
            .map(|k: usize| match k % 4 {
                0 => forged(Vec::new()),
                1 => forged(vec![(k + c) as u8; 32]),
                2 => forged(own.clone()),
                _ => forged(vec![0; 31]),
            })
            .collect();
        flood.spawn(async move {
            for request in requests {
                let reply = raw
                    .submit_response(request)
                    .await
                    .expect("answered")
                    .into_inner();
                assert_eq!(
                    reply.status,
                    SubmissionStatus::Unauthenticated as i32,
                    "{}",
                    reply.detail
                );
            }
        });
    }
    let backoff = Backoff::default();
    let (status, detail) =
        client::submit(&endpoint, &keys[0], &signed(&keys, 0, 7, b"42"), &backoff)
            .await
            .expect("answered");
    assert_eq!(status, SubmissionStatus::Accepted, "{detail}");
    while let Some(done) = flood.join_next().await {
        done.expect("every forgery answered");
    }
    assert_eq!(
        sink.reached.load(Ordering::SeqCst),
        1,
        "only the operator's own submission reached the engine"
    );
    let _ = stop.send(());
    handle.await.expect("server");
}

/// Openings that must not open a session: another operator's key, a signature on
/// another challenge, a challenge of another server, tampered, replayed once used,
/// wrong lengths, an operator the aggregator does not know.
#[tokio::test]
async fn forged_stale_and_replayed_openings_are_refused() {
    let ((endpoint, stop, handle, keys), _) = start_with(ServerLimits::default()).await;
    let ((other, stop_other, other_handle, _), _) = start_with(ServerLimits::default()).await;
    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    let mut foreign = AggregatorClient::connect(other).await.expect("connect");
    async fn challenge(raw: &mut AggregatorClient<tonic::transport::Channel>) -> Vec<u8> {
        let c = raw
            .get_challenge(GetChallengeRequest {})
            .await
            .expect("challenge")
            .into_inner()
            .challenge;
        assert_eq!(c.len(), bulwark_net::session::CHALLENGE_BYTES);
        c
    }
    async fn open(
        raw: &mut AggregatorClient<tonic::transport::Channel>,
        request: OpenSessionRequest,
    ) -> (SessionStatus, Vec<u8>) {
        let reply = raw
            .open_session(request)
            .await
            .expect("answered")
            .into_inner();
        (
            SessionStatus::try_from(reply.status).expect("a known status"),
            reply.token,
        )
    }

    let c = challenge(&mut raw).await;
    // Signed by operator 1's key in operator 0's name.
    let mut wrong_key = client::session_request(id(1), &keys[1], c.clone());
    wrong_key.operator = id(0).0.to_vec();
    assert_eq!(
        open(&mut raw, wrong_key).await.0,
        SessionStatus::BadSignature
    );
    // Operator 0's signature on another challenge.
    let other_challenge = challenge(&mut raw).await;
    let mut moved = client::session_request(id(0), &keys[0], other_challenge);
    moved.challenge = c.clone();
    assert_eq!(open(&mut raw, moved).await.0, SessionStatus::BadSignature);
    // A challenge of another server, honestly signed, opens nothing here.
    let theirs = challenge(&mut foreign).await;
    assert_eq!(
        open(&mut raw, client::session_request(id(0), &keys[0], theirs))
            .await
            .0,
        SessionStatus::StaleChallenge
    );
    // Tampered.
    let mut tampered = c.clone();
    tampered[3] ^= 0x80;
    assert_eq!(
        open(&mut raw, client::session_request(id(0), &keys[0], tampered))
            .await
            .0,
        SessionStatus::StaleChallenge
    );
    // The honest opening works once, even after the failed tries on its challenge.
    let honest = client::session_request(id(0), &keys[0], c.clone());
    let (status, token) = open(&mut raw, honest.clone()).await;
    assert_eq!(status, SessionStatus::Open);
    assert_eq!(token.len(), 32);
    assert_eq!(
        open(&mut raw, honest).await.0,
        SessionStatus::StaleChallenge
    );
    // Lengths.
    for request in [
        OpenSessionRequest::default(),
        OpenSessionRequest {
            challenge: vec![0; 47],
            ..client::session_request(id(0), &keys[0], challenge(&mut raw).await)
        },
        OpenSessionRequest {
            operator: vec![1; 21],
            ..client::session_request(id(0), &keys[0], challenge(&mut raw).await)
        },
    ] {
        assert_eq!(open(&mut raw, request).await.0, SessionStatus::Malformed);
    }
    let mut bad_bytes = client::session_request(id(0), &keys[0], challenge(&mut raw).await);
    bad_bytes.signature = vec![0xc0; 48];
    assert_eq!(
        open(&mut raw, bad_bytes).await.0,
        SessionStatus::BadSignature
    );
    let outsider = SecretKey::from_ikm(&[77; 32]).expect("ikm");
    let c = challenge(&mut raw).await;
    assert_eq!(
        open(
            &mut raw,
            client::session_request(OperatorId([99; 20]), &outsider, c)
        )
        .await
        .0,
        SessionStatus::UnknownOperator
    );
    let _ = stop.send(());
    let _ = stop_other.send(());
    handle.await.expect("server");
    other_handle.await.expect("server");
}

/// A flood of forged openings holds the session lane, never the operators who
/// already have a session: their submissions are answered meanwhile, and an honest
/// opening gets through once the flood stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_openings_does_not_stop_open_sessions() {
    let limits = ServerLimits {
        session_checks: 1,
        queue_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    };
    let ((endpoint, stop, handle, keys), _) = start_with(limits).await;
    let backoff = Backoff::default();
    let operator = with_a_session(&endpoint, &keys).await;

    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let statuses = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let mut raw = AggregatorClient::connect(endpoint.clone())
            .await
            .expect("connect");
        let (flooding, statuses) = (flooding.clone(), statuses.clone());
        let forger = SecretKey::from_ikm(&[88; 32]).expect("ikm");
        flood.spawn(async move {
            while flooding.load(Ordering::SeqCst) {
                let c = raw
                    .get_challenge(GetChallengeRequest {})
                    .await
                    .expect("challenge")
                    .into_inner()
                    .challenge;
                let reply = raw
                    .open_session(client::session_request(id(1), &forger, c))
                    .await
                    .expect("answered")
                    .into_inner();
                *statuses
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(reply.status)
                    .or_insert(0u32) += 1;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for response in [&b"42"[..], b"43"] {
        let started = std::time::Instant::now();
        let (status, detail) = operator
            .submit(&signed(&keys, 0, 7, response), &backoff)
            .await
            .expect("answered");
        assert!(
            matches!(
                status,
                SubmissionStatus::Duplicate | SubmissionStatus::Conflicting
            ),
            "{status:?} {detail}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "an open session waited on the flood"
        );
    }
    flooding.store(false, Ordering::SeqCst);
    while let Some(done) = flood.join_next().await {
        done.expect("flood task");
    }
    let statuses = statuses.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        statuses.keys().all(|s| [
            SessionStatus::BadSignature as i32,
            SessionStatus::Unavailable as i32
        ]
        .contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains_key(&(SessionStatus::BadSignature as i32)));
    let (status, detail) =
        client::submit(&endpoint, &keys[2], &signed(&keys, 2, 7, b"42"), &backoff)
            .await
            .expect("answered");
    assert_eq!(status, SubmissionStatus::Accepted, "{detail}");
    let _ = stop.send(());
    handle.await.expect("server");
}

/// A session the aggregator no longer knows (here: expired) is reopened by the
/// client on its own, and the submission goes through.
#[tokio::test]
async fn an_expired_session_is_reopened_by_the_client() {
    let limits = ServerLimits {
        session_ttl: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let ((endpoint, stop, handle, keys), sink) = start_with(limits).await;
    let backoff = Backoff::default();
    let operator = with_a_session(&endpoint, &keys).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, detail) = operator
        .submit(&signed(&keys, 0, 7, b"42"), &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Duplicate, "{detail}");
    assert_eq!(sink.reached.load(Ordering::SeqCst), 2);
    // An anonymous connection's submissions carry no session.
    let (status, _) = client::Connection::new(&endpoint)
        .submit(&signed(&keys, 1, 7, b"42"), &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Unauthenticated);
    let _ = stop.send(());
    handle.await.expect("server");
}

/// Opens a raw submission stream over `raw` whose first request is `first`: the
/// sender of its further requests and its replies, or the status refusing it.
async fn open_stream(
    raw: &mut AggregatorClient<tonic::transport::Channel>,
    first: SubmitResponseRequest,
) -> Result<
    (
        tokio::sync::mpsc::Sender<SubmitResponseRequest>,
        tonic::Streaming<bulwark_net::proto::SubmitResponsesReply>,
    ),
    tonic::Status,
> {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tx.send(first).await.expect("queued");
    let replies = raw
        .submit_responses(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    Ok((tx, replies))
}

async fn next_status(
    replies: &mut tonic::Streaming<bulwark_net::proto::SubmitResponsesReply>,
) -> (u64, SubmissionStatus) {
    let reply = tokio::time::timeout(Duration::from_secs(10), replies.message())
        .await
        .expect("a reply in time")
        .expect("the stream is up")
        .expect("a reply, not the end");
    (
        reply.task_id,
        SubmissionStatus::try_from(reply.status).expect("known status"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_stream_answers_each_request_in_order_as_a_call_would() {
    let ((endpoint, stop, handle, keys), sink) = start_with(ServerLimits::default()).await;
    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    let token = session(&mut raw, 1, &keys[1]).await;
    let good = SubmitResponseRequest {
        session: token.clone(),
        ..bulwark_net::submission::encode(&signed(&keys, 1, 7, b"42"))
    };
    // No session behind the first request: no stream, and nothing reached the engine.
    let refused = open_stream(
        &mut raw,
        SubmitResponseRequest {
            session: vec![7; 32],
            ..good.clone()
        },
    )
    .await
    .expect_err("a stranger gets no stream");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused}");
    assert_eq!(sink.reached.load(Ordering::SeqCst), 0);

    // Forged, malformed, a second encoding of one signature, then the real one and
    // its replay: each answered, in order, on one stream.
    let mut forged = good.clone();
    forged.signature = keys[1]
        .sign(&Domain::SIGNATURE, b"not the task")
        .to_uncompressed()
        .to_vec();
    let mut flagged = good.clone();
    let compressed = signed(&keys, 1, 7, b"42").signature.to_bytes();
    flagged.signature = [compressed.as_slice(), &[0u8; 48]].concat();
    let (tx, mut replies) = open_stream(&mut raw, forged).await.expect("stream");
    for request in [
        SubmitResponseRequest {
            digest: vec![0; 32],
            ..good.clone()
        },
        flagged,
        SubmitResponseRequest {
            task_id: 8,
            ..good.clone()
        },
        good.clone(),
        good.clone(),
    ] {
        tx.send(request).await.expect("sent");
    }
    for expected in [
        (7, SubmissionStatus::BadSignature),
        (7, SubmissionStatus::Malformed),
        (7, SubmissionStatus::Malformed),
        (8, SubmissionStatus::UnknownTask),
        (7, SubmissionStatus::Accepted),
        (7, SubmissionStatus::Duplicate),
    ] {
        assert_eq!(next_status(&mut replies).await, expected);
    }
    // A flood of forgeries on the stream: each refused, the stream still serves.
    for k in 0..200u32 {
        // Each a different forgery, so none is answered from the refused set.
        let mut forged = signed(&keys, 1, 7, b"43");
        forged.signature = keys[1].sign(&Domain::SIGNATURE, &k.to_be_bytes());
        tx.send(SubmitResponseRequest {
            session: token.clone(),
            ..bulwark_net::submission::encode(&forged)
        })
        .await
        .expect("sent");
    }
    for _ in 0..200 {
        assert_eq!(
            next_status(&mut replies).await,
            (7, SubmissionStatus::BadSignature)
        );
    }

    // At most two streams per operator: a third is refused until one ends.
    let (second_tx, _second) = open_stream(&mut raw, good.clone()).await.expect("second");
    let third = open_stream(&mut raw, good.clone())
        .await
        .expect_err("one operator's third stream");
    assert_eq!(third.code(), tonic::Code::ResourceExhausted, "{third}");
    drop(second_tx);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(stream) = open_stream(&mut raw, good.clone()).await {
            reopened = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "a slot frees when a stream ends");

    // A request in another operator's name (with that operator's own session)
    // ends the stream: one stream, one operator.
    let other = SubmitResponseRequest {
        session: session(&mut raw, 2, &keys[2]).await,
        ..bulwark_net::submission::encode(&signed(&keys, 2, 7, b"42"))
    };
    tx.send(other).await.expect("sent");
    let ended = tokio::time::timeout(Duration::from_secs(10), replies.message())
        .await
        .expect("in time")
        .expect_err("the stream ends");
    assert_eq!(ended.code(), tonic::Code::InvalidArgument, "{ended}");

    // A stream that never sends a request is dropped after a few seconds.
    let (idle_tx, idle_rx) = tokio::sync::mpsc::channel::<SubmitResponseRequest>(1);
    let idle = raw
        .submit_responses(tokio_stream::wrappers::ReceiverStream::new(idle_rx))
        .await
        .expect_err("no first request");
    assert_eq!(idle.code(), tonic::Code::DeadlineExceeded, "{idle}");
    drop(idle_tx);

    let _ = stop.send(());
    handle.await.expect("server stopped cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_submits_on_its_stream_and_falls_back_to_calls() {
    let ((endpoint, stop, handle, keys), _sink) = start_with(ServerLimits::default()).await;
    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    // Operator 0's connection submits on a stream of its own: with it held, one
    // more raw stream fits the operator's two, a second does not.
    let connection = with_a_session(&endpoint, &keys).await;
    let token = session(&mut raw, 0, &keys[0]).await;
    let good = SubmitResponseRequest {
        session: token,
        ..bulwark_net::submission::encode(&signed(&keys, 0, 7, b"42"))
    };
    let (_one, mut one_replies) = open_stream(&mut raw, good.clone()).await.expect("one");
    assert_eq!(
        next_status(&mut one_replies).await,
        (7, SubmissionStatus::Duplicate)
    );
    let full = open_stream(&mut raw, good.clone())
        .await
        .expect_err("the connection holds the other");
    assert_eq!(full.code(), tonic::Code::ResourceExhausted, "{full}");

    // Operator 1's streams all taken by someone holding its session: its own
    // connection is refused a stream and submits by calls instead.
    let token = session(&mut raw, 1, &keys[1]).await;
    let taken = SubmitResponseRequest {
        session: token,
        ..bulwark_net::submission::encode(&signed(&keys, 1, 7, b"42"))
    };
    let _held = [
        open_stream(&mut raw, taken.clone()).await.expect("first"),
        open_stream(&mut raw, taken.clone()).await.expect("second"),
    ];
    let operator = client::Connection::for_operator(&endpoint, id(1), keys[1].clone());
    let (status, detail) = operator
        .submit(&signed(&keys, 1, 7, b"42"), &Backoff::default())
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Duplicate, "{detail}");
    let (status, detail) = operator
        .submit(&signed(&keys, 1, 7, b"43"), &Backoff::default())
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Conflicting, "{detail}");
    // It went by calls: with the two held streams ended, the operator's two slots
    // are both free again, none taken by its connection.
    drop(_held);
    let mut reopened = Vec::new();
    for _ in 0..50 {
        if let Ok(stream) = open_stream(&mut raw, taken.clone()).await {
            reopened.push(stream);
            if reopened.len() == 2 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(reopened.len(), 2, "the connection holds no stream");
    drop(connection);

    let _ = stop.send(());
    handle.await.expect("server stopped cleanly");
}
