//! The aggregator protocol over real gRPC on 127.0.0.1: every status, the health
//! service, and a server that keeps serving after hostile requests.

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::*;
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::client::{self, Backoff};
use bulwark_net::proto::aggregator_client::AggregatorClient;
use bulwark_net::proto::{SubmissionStatus, SubmitResponseRequest};
use bulwark_net::server::{self, SubmissionSink};
use tokio::sync::Mutex;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [5; 20],
};

struct EngineSink(Mutex<Engine>);

impl SubmissionSink for EngineSink {
    async fn submit(&self, submission: SignedResponse) -> Result<Outcome, Rejection> {
        self.0.lock().await.submit(1, submission)
    }
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

async fn start() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Vec<SecretKey>,
) {
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
    let sink = Arc::new(EngineSink(Mutex::new(engine)));
    let (listener, addr) = server::bind_loopback().await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        server::serve(listener, sink, 64 * 1024, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    (format!("http://{addr}"), stop, handle, keys)
}

#[tokio::test]
async fn statuses_over_real_grpc() {
    let (endpoint, stop, handle, keys) = start().await;
    let backoff = Backoff::default();
    let status =
        |r: Result<(SubmissionStatus, String), client::ClientError>| r.expect("reachable").0;

    assert_eq!(
        status(client::submit(&endpoint, &signed(&keys, 0, 7, b"42"), &backoff).await),
        SubmissionStatus::Accepted
    );
    assert_eq!(
        status(client::submit(&endpoint, &signed(&keys, 0, 7, b"42"), &backoff).await),
        SubmissionStatus::Duplicate
    );
    assert_eq!(
        status(client::submit(&endpoint, &signed(&keys, 0, 7, b"43"), &backoff).await),
        SubmissionStatus::Conflicting
    );
    assert_eq!(
        status(client::submit(&endpoint, &signed(&keys, 0, 8, b"42"), &backoff).await),
        SubmissionStatus::UnknownTask
    );
    // A forgery in operator 2's name costs its sender only: operator 2 still counts.
    let mut forged = signed(&keys, 2, 7, b"42");
    forged.signature = signed(&keys, 3, 7, b"42").signature;
    assert_eq!(
        status(client::submit(&endpoint, &forged, &backoff).await),
        SubmissionStatus::BadSignature
    );
    assert_eq!(
        status(client::submit(&endpoint, &signed(&keys, 2, 7, b"42"), &backoff).await),
        SubmissionStatus::Accepted
    );
    let mut outsider = signed(&keys, 1, 7, b"42");
    outsider.operator = OperatorId([99; 20]);
    assert_eq!(
        status(client::submit(&endpoint, &outsider, &backoff).await),
        SubmissionStatus::UnknownOperator
    );

    // Raw requests a client library would never send.
    let mut raw = AggregatorClient::connect(endpoint.clone())
        .await
        .expect("connect");
    let good = bulwark_net::submission::encode(&signed(&keys, 1, 7, b"42"));
    for bad in [
        SubmitResponseRequest {
            operator: vec![1; 19],
            ..good.clone()
        },
        SubmitResponseRequest {
            digest: vec![0; 32],
            ..good.clone()
        },
        SubmitResponseRequest {
            signature: vec![0xc0; 48],
            ..good.clone()
        },
        SubmitResponseRequest {
            signature: vec![1, 2, 3],
            ..good.clone()
        },
        SubmitResponseRequest::default(),
    ] {
        let reply = raw
            .submit_response(bad)
            .await
            .expect("a status, not a dropped call")
            .into_inner();
        assert_eq!(
            reply.status,
            SubmissionStatus::Malformed as i32,
            "{}",
            reply.detail
        );
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
        status(client::submit(&endpoint, &forged, &backoff).await),
        SubmissionStatus::BadSignature
    );
    let last = client::submit(&endpoint, &signed(&keys, 1, 7, b"42"), &backoff)
        .await
        .expect("reachable");
    assert_eq!(last.0, SubmissionStatus::Accepted, "{}", last.1);
    assert!(last.1.contains("certificate"), "{}", last.1);
    assert_eq!(
        status(client::submit(&endpoint, &signed(&keys, 3, 7, b"42"), &backoff).await),
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
    let (status, detail) = client::submit_report(&endpoint, &report, &backoff)
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
    request.operator.pop();
    let reply = raw
        .submit_report(request)
        .await
        .expect("a reply, not an error")
        .into_inner();
    assert_eq!(reply.status, SubmissionStatus::Malformed as i32);
    assert!(
        reply.detail.contains("operator must be 20 bytes"),
        "{}",
        reply.detail
    );

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
    let connection = client::Connection::new(&relay.endpoint);
    for _ in 0..20 {
        let (status, _, _) = connection.proposal(7, &backoff).await.expect("answered");
        assert_eq!(status, bulwark_net::proto::ProposalStatus::UnknownTask);
    }
    let (status, _) = connection
        .submit(&signed(&keys, 0, 7, b"42"), &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Accepted);
    assert_eq!(relay.accepted(), 1, "21 calls over one connection");

    relay.cut.send_modify(|n| *n += 1);
    let (status, detail) = connection
        .submit(&signed(&keys, 1, 7, b"42"), &backoff)
        .await
        .expect("answered after the cut");
    assert_eq!(status, SubmissionStatus::Accepted, "{detail}");
    assert_eq!(relay.accepted(), 2, "one new connection after the cut");

    // The one-off functions connect per call.
    client::proposal(&relay.endpoint, 7, &backoff)
        .await
        .expect("answered");
    assert_eq!(relay.accepted(), 3);
    let _ = stop.send(());
    handle.await.expect("server");
}
