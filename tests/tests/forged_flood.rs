//! An attacker who can reach the aggregator's port, and knows only the protocol and
//! the contract's events, tries to stop certificates: for every task it sends
//! submissions in every operator's name, each with a valid BLS signature made with its
//! own key, before (and after) each honest one, plus forged answers, resends and a
//! flood over several connections. Half carry no session of that operator (no token,
//! a made-up one, another operator's): they are refused `UNAUTHENTICATED` without a
//! signature check. The other half carry a copy of the operator's own session token,
//! as an attacker reading an unencrypted link would: they reach the engine. Every
//! task must still be certified by the honest operators, with exactly their stake,
//! and land on chain.

use std::time::Duration;

use alloy::primitives::U256;
use bulwark_chain::bindings::BasicAVS;
use bulwark_core::{OperatorId, ResponseDigest};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_e2e::{Network, RunningAggregator, respond_accepted};
use bulwark_net::client::open_session;
use bulwark_net::proto::SubmissionStatus;
use bulwark_net::proto::aggregator_client::AggregatorClient;
use bulwark_net::proto::{SessionStatus, SubmitResponseRequest};
use bulwark_node::aggregator::TaskOutcome;
use tonic::transport::Channel;

const OPERATORS: usize = 5;
const TASKS: u64 = 4;
/// Forged submissions per operator and task ahead of the honest one.
const AHEAD: usize = 6;

/// The attacker's request: `response` in `operator`'s name, signed with `key`.
fn forged(
    net: &Network,
    key: &SecretKey,
    task_id: u64,
    operator: OperatorId,
    response: &[u8],
    session: &[u8],
) -> SubmitResponseRequest {
    let digest = ResponseDigest::of(response);
    let signature = key.sign(&Domain::SIGNATURE, &net.context.message(task_id, &digest));
    SubmitResponseRequest {
        task_id,
        operator: operator.0.to_vec(),
        response: response.to_vec(),
        digest: digest.0.to_vec(),
        signature: signature.to_bytes().to_vec(),
        session: session.to_vec(),
    }
}

/// A session of `operator` opened with its key: the token its own client holds,
/// which the attacker is assumed to have copied.
async fn session_of(
    client: &mut AggregatorClient<Channel>,
    operator: OperatorId,
    key: &SecretKey,
) -> Vec<u8> {
    let reply = open_session(client, operator, key).await.expect("open");
    assert_eq!(reply.status, SessionStatus::Open as i32, "{}", reply.detail);
    reply.token
}

async fn send(client: &mut AggregatorClient<Channel>, req: SubmitResponseRequest) -> i32 {
    client
        .submit_response(req)
        .await
        .expect("the aggregator answers every request")
        .into_inner()
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_submissions_ahead_of_every_honest_one_stop_no_certificate() {
    let net = Network::start(OPERATORS).await;
    let mut agg =
        RunningAggregator::start(net.provider.clone(), net.context, net.start, None).await;
    let operators: Vec<_> = (0..OPERATORS)
        .map(|i| net.operator(i, net.operators[i].key.clone(), &agg.endpoint))
        .collect();
    let ids: Vec<OperatorId> = net
        .operators
        .iter()
        .map(|o| OperatorId(o.address.into_array()))
        .collect();
    // The attacker's own connections (several, as a flood would use).
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(
            AggregatorClient::connect(agg.endpoint.clone())
                .await
                .expect("connect"),
        );
    }
    let attacker = SecretKey::from_ikm(&[66; 32]).expect("ikm");
    let avs = BasicAVS::new(net.avs, net.provider.clone());
    let mut stolen: Vec<Vec<u8>> = Vec::new();
    let mut refused_unchecked = 0u64;

    for round in 0..TASKS {
        let input = 10 + round;
        // Every operator must count: a single lost honest signature stops the task.
        let task = net.create_task(input, 10_000, 60).await;
        let answer = (u128::from(input) * u128::from(input)).to_be_bytes();
        // The attacker watches the chain too, and strikes once the task is open.
        for _ in 0..200 {
            if agg
                .aggregator
                .stats
                .tasks_opened
                .load(std::sync::atomic::Ordering::Relaxed)
                > round
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if stolen.is_empty() {
            // Sessions open once the aggregator knows the operators (first task).
            for (i, op) in net.operators.iter().enumerate() {
                stolen.push(session_of(&mut clients[0], ids[i], &op.key).await);
            }
        }
        for (i, operator) in operators.iter().enumerate() {
            // Ahead of the honest one: forged signatures on the right answer (which
            // the attacker can compute too), on a wrong answer, and resends, spread
            // over the attacker's connections and sent concurrently.
            let mut flood = Vec::new();
            for k in 0..AHEAD {
                let response: Vec<u8> = if k % 3 == 2 {
                    format!("wrong answer {k}").into_bytes()
                } else {
                    answer.to_vec()
                };
                // No token, a made-up one, another operator's, the stolen one.
                let session: Vec<u8> = match k % 4 {
                    0 => Vec::new(),
                    1 => vec![k as u8; 32],
                    2 => stolen[(i + 1) % OPERATORS].clone(),
                    _ => stolen[i].clone(),
                };
                let on_session = k % 4 == 3;
                let req = forged(&net, &attacker, task.task_id, ids[i], &response, &session);
                let mut client = clients[k % clients.len()].clone();
                flood.push(tokio::spawn(async move {
                    let first = send(&mut client, req.clone()).await;
                    let again = send(&mut client, req).await;
                    (on_session, first, again)
                }));
            }
            for answer in flood {
                let (on_session, first, again) = answer.await.expect("join");
                for status in [first, again] {
                    if on_session {
                        assert!(
                            [
                                SubmissionStatus::Accepted as i32,
                                SubmissionStatus::Duplicate as i32,
                                SubmissionStatus::BadSignature as i32,
                            ]
                            .contains(&status),
                            "a forgery on the stolen session was answered {status}"
                        );
                    } else {
                        assert_eq!(
                            status,
                            SubmissionStatus::Unauthenticated as i32,
                            "a forgery without the operator's session"
                        );
                        refused_unchecked += 1;
                    }
                }
            }
            // The honest operator is never refused because of them.
            respond_accepted(operator, &task).await;
            // And after: more forgeries and a replay of nothing it did not sign.
            let req = forged(&net, &attacker, task.task_id, ids[i], &answer, &stolen[i]);
            let status = send(&mut clients[0], req).await;
            assert_ne!(status, SubmissionStatus::Conflicting as i32);
        }
        let outcome = agg.next_outcome(60).await;
        let TaskOutcome::Landed(cert) = outcome else {
            panic!("task {} was not certified: {outcome:?}", task.task_id);
        };
        assert_eq!(cert.task_id, task.task_id);
        assert_eq!(cert.signers, {
            let mut sorted = ids.clone();
            sorted.sort();
            sorted
        });
        assert_eq!(cert.response, answer.to_vec());
        let on_chain = avs
            .getTask(U256::from(task.task_id))
            .call()
            .await
            .expect("task");
        assert_eq!(
            on_chain.signedStakeGwei,
            OPERATORS as u64 * 32_000_000_000,
            "every honest operator's stake counted on chain"
        );
        // Replays after the certificate are answered, not taken.
        let late = forged(&net, &attacker, task.task_id, ids[0], &answer, &stolen[0]);
        assert_eq!(
            send(&mut clients[1], late).await,
            SubmissionStatus::AlreadyCertified as i32
        );
    }
    let bad = agg
        .aggregator
        .stats
        .bad_signatures
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(bad >= TASKS, "the forgeries were found and counted");
    // Only forgeries on the stolen sessions reached a signature check.
    let on_stolen = TASKS * OPERATORS as u64 * (AHEAD as u64 / 4 + 1);
    assert!(
        bad <= on_stolen,
        "{bad} signatures found bad, but only {on_stolen} forgeries carried a session"
    );
    assert_eq!(
        refused_unchecked,
        TASKS * OPERATORS as u64 * 2 * (AHEAD - AHEAD / 4) as u64
    );
    agg.stop().await;
}
