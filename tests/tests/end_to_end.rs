//! Ten operators with delegated stake on anvil, an aggregator over gRPC on 127.0.0.1,
//! tasks created on chain and certificates verified on chain. Faults: one operator
//! down, one sending a bad signature (excluded and counted, the certificate still
//! lands), too few signers (the task expires and is reported), and an aggregator
//! restarted mid-task (accepted signatures are not lost).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use alloy::primitives::{U64, U256};
use alloy::providers::Provider;
use bulwark_chain::bindings::BasicAVS;
use bulwark_core::OperatorId;
use bulwark_crypto::SecretKey;
use bulwark_e2e::{Network, RunningAggregator, respond_accepted};
use bulwark_node::aggregator::TaskOutcome;

const OPERATORS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_operators_certify_with_faults() {
    let net = Network::start(OPERATORS).await;
    let mut agg =
        RunningAggregator::start(net.provider.clone(), net.context, net.start, None).await;
    let operators: Vec<_> = (0..OPERATORS)
        .map(|i| Arc::new(net.operator(i, net.operators[i].key.clone(), &agg.endpoint)))
        .collect();
    // Someone with a key operator 8 did not register cannot even open its session.
    let impostor = net.operator(
        8,
        SecretKey::from_ikm(&[200; 32]).expect("ikm"),
        &agg.endpoint,
    );
    // Operator 8 itself signs its responses for another chain: its session opens
    // (its key is its own), its signatures fail at aggregation.
    let mut liar = net.operator(8, net.operators[8].key.clone(), &agg.endpoint);
    liar.context.chain_id += 1;

    // Task 0: 80% threshold. Operator 9 is down, operator 8 lies; 0..8 make exactly 80%.
    let task = net.create_task(7, 8000, 30).await;
    assert_eq!(task.task_id, 0);
    let refused = impostor.respond(&task).await.expect("signs");
    assert!(
        matches!(
            refused.first(),
            Some(Ok(bulwark_net::proto::SubmissionStatus::BadSignature))
        ),
        "{refused:?}"
    );
    // The liar goes first so its signature is in the group when it is checked.
    respond_accepted(&liar, &task).await;
    let honest = (0..8).map(|i| {
        let op = operators[i].clone();
        let task = task.clone();
        tokio::spawn(async move { op.respond(&task).await })
    });
    for h in honest {
        h.await.expect("join").expect("signs");
    }
    let outcome = agg.next_outcome(60).await;
    let TaskOutcome::Landed(cert) = outcome else {
        panic!("expected the certificate to land, got {outcome:?}");
    };
    assert_eq!(cert.task_id, 0);
    assert_eq!(cert.signers.len(), 8);
    assert!(
        !cert
            .signers
            .contains(&OperatorId(net.operators[8].address.into_array()))
    );
    assert_eq!(cert.response, 49u128.to_be_bytes().to_vec());
    let avs = BasicAVS::new(net.avs, net.provider.clone());
    let on_chain = avs.getTask(U256::ZERO).call().await.expect("task");
    assert_eq!(on_chain.signedStakeGwei, 8 * 32_000_000_000);
    assert_eq!(on_chain.totalStakeGwei, 10 * 32_000_000_000);
    assert_eq!(
        avs.responseOf(U256::ZERO)
            .call()
            .await
            .expect("response")
            .to_vec(),
        cert.response
    );
    assert!(
        agg.aggregator.stats.bad_signatures.load(Ordering::Relaxed) >= 1,
        "the bad signature is counted"
    );

    // Task 1: only five operators answer a 60% task; it expires and is reported.
    let task = net.create_task(3, 6000, 5).await;
    for op in &operators[..5] {
        op.respond(&task).await.expect("signs");
    }
    // Mine past the deadline.
    let _: serde_json::Value = net
        .provider
        .raw_request("anvil_mine".into(), (U64::from(10),))
        .await
        .expect("anvil_mine");
    match agg.next_outcome(30).await {
        TaskOutcome::Expired { task_id, stakes } => {
            assert_eq!(task_id, 1);
            assert_eq!(stakes, vec![5 * 32_000_000_000]);
        }
        other => panic!("expected expiry, got {other:?}"),
    }
    assert_eq!(agg.aggregator.stats.expired.load(Ordering::Relaxed), 1);
    agg.stop().await;
}

/// An aggregator stopped mid-task loses nothing it accepted: its successor replays
/// the store when it reopens the task, and the certificate needs every signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregator_restart_keeps_accepted_signatures() {
    let net = Network::start(5).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("aggregator.redb");
    let store = || Some(store.as_path());

    let first =
        RunningAggregator::start(net.provider.clone(), net.context, net.start, store()).await;
    // Every operator must sign: without the store the restart would lose three.
    let task = net.create_task(12, 10_000, 60).await;
    for i in 0..3 {
        respond_accepted(
            &net.operator(i, net.operators[i].key.clone(), &first.endpoint),
            &task,
        )
        .await;
    }
    first.stop().await;

    let mut second =
        RunningAggregator::start(net.provider.clone(), net.context, net.start, store()).await;
    for i in 3..5 {
        respond_accepted(
            &net.operator(i, net.operators[i].key.clone(), &second.endpoint),
            &task,
        )
        .await;
    }
    match second.next_outcome(60).await {
        TaskOutcome::Landed(cert) => {
            assert_eq!(
                cert.signers.len(),
                5,
                "the three stored signatures were read back"
            );
            assert_eq!(cert.response, 144u128.to_be_bytes().to_vec());
        }
        other => panic!("expected the certificate to land, got {other:?}"),
    }
    second.stop().await;
}
