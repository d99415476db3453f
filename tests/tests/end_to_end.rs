//! Ten operators with delegated stake on anvil, an aggregator over gRPC on 127.0.0.1,
//! tasks created on chain and certificates verified on chain. Faults: one operator
//! down, one sending a bad signature (excluded and counted, the certificate still
//! lands), and too few signers (the task expires and is reported).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy::primitives::{U64, U256};
use alloy::providers::Provider;
use bulwark_chain::bindings::BasicAVS;
use bulwark_chain::devnet::{DeployConfig, Devnet, ether};
use bulwark_chain::tasks::create_task;
use bulwark_core::{OperatorId, SigningContext};
use bulwark_crypto::SecretKey;
use bulwark_e2e::{RunningAggregator, Square};
use bulwark_net::client::Backoff;
use bulwark_net::proto::SubmissionStatus;
use bulwark_node::aggregator::TaskOutcome;
use bulwark_node::follow::{NewTask, TaskFollower};
use bulwark_node::journal::Journal;
use bulwark_node::operator::OperatorRuntime;

const OPERATORS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_operators_certify_with_faults() {
    let devnet = Devnet::start(OPERATORS as u32 + 1).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let ops = devnet
        .onboard_operators(&d, OPERATORS, ether(32))
        .await
        .expect("onboard");
    let keys: Vec<SecretKey> = ops.iter().map(|o| o.key.clone()).collect();
    let accounts: Vec<_> = ops.iter().map(|o| o.address).collect();
    let provider = devnet.provider().clone();
    let context = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain id"),
        avs: d.avs.into_array(),
    };
    let start = provider.get_block_number().await.expect("block");

    // The aggregator: gRPC on a free loopback port, following the chain.
    let mut agg = RunningAggregator::start(provider.clone(), context, start, None).await;
    let endpoint = agg.endpoint.clone();
    let runtime = |i: usize, key: SecretKey| OperatorRuntime {
        task: Square,
        key,
        id: OperatorId(accounts[i].into_array()),
        context,
        aggregators: vec![endpoint.clone()],
        backoff: Backoff::default(),
    };
    let operators: Vec<Arc<OperatorRuntime<Square>>> = (0..OPERATORS)
        .map(|i| Arc::new(runtime(i, keys[i].clone())))
        .collect();
    // Operator 8 signs with a key that is not the one it registered.
    let impostor = Arc::new(runtime(8, SecretKey::from_ikm(&[200; 32]).expect("ikm")));

    // Task 0: 80% threshold. Operator 9 is down, operator 8 lies; 0..8 make exactly 80%.
    let avs = BasicAVS::new(d.avs, provider.clone());
    create_task(&provider, d.avs, &7u64.to_be_bytes(), 8000, 30)
        .await
        .expect("createTask");
    let mut follower = TaskFollower::new(provider.clone(), d.avs, start);
    let task = next_task(&mut follower).await;
    assert_eq!(task.task_id, 0);

    // The impostor goes first so its signature is in the group when it is checked.
    let statuses = impostor.respond(&task).await.expect("signs");
    assert!(
        matches!(statuses[0], Ok(SubmissionStatus::Accepted)),
        "{statuses:?}"
    );
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
    assert!(!cert.signers.contains(&OperatorId(accounts[8].into_array())));
    assert_eq!(cert.response, 49u128.to_be_bytes().to_vec());
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
    create_task(&provider, d.avs, &3u64.to_be_bytes(), 6000, 5)
        .await
        .expect("createTask");
    let task = next_task(&mut follower).await;
    for op in &operators[..5] {
        op.respond(&task).await.expect("signs");
    }
    // Mine past the deadline.
    let _: serde_json::Value = provider
        .raw_request("anvil_mine".into(), (U64::from(10),))
        .await
        .expect("anvil_mine");
    let outcome = agg.next_outcome(30).await;
    match outcome {
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
/// the journal when it reopens the task, and the certificate needs every signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregator_restart_keeps_accepted_signatures() {
    let devnet = Devnet::start(6).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let ops = devnet
        .onboard_operators(&d, 5, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();
    let context = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain id"),
        avs: d.avs.into_array(),
    };
    let start = provider.get_block_number().await.expect("block");
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_path = dir.path().join("aggregator.journal");

    let first = RunningAggregator::start(
        provider.clone(),
        context,
        start,
        Some(Journal::open(&journal_path).expect("journal")),
    )
    .await;
    // Every operator must sign: without the journal the restart would lose three.
    create_task(&provider, d.avs, &12u64.to_be_bytes(), 10_000, 60)
        .await
        .expect("createTask");
    let mut follower = TaskFollower::new(provider.clone(), d.avs, start);
    let task = next_task(&mut follower).await;
    let runtime = |i: usize, endpoint: &str| OperatorRuntime {
        task: Square,
        key: ops[i].key.clone(),
        id: OperatorId(ops[i].address.into_array()),
        context,
        aggregators: vec![endpoint.to_string()],
        backoff: Backoff::default(),
    };
    for i in 0..3 {
        let statuses = runtime(i, &first.endpoint)
            .respond(&task)
            .await
            .expect("signs");
        assert!(
            matches!(statuses[0], Ok(SubmissionStatus::Accepted)),
            "{statuses:?}"
        );
    }
    first.stop().await;

    let mut second = RunningAggregator::start(
        provider.clone(),
        context,
        start,
        Some(Journal::open(&journal_path).expect("journal")),
    )
    .await;
    for i in 3..5 {
        let statuses = runtime(i, &second.endpoint)
            .respond(&task)
            .await
            .expect("signs");
        assert!(
            matches!(statuses[0], Ok(SubmissionStatus::Accepted)),
            "{statuses:?}"
        );
    }
    match second.next_outcome(60).await {
        TaskOutcome::Landed(cert) => {
            assert_eq!(
                cert.signers.len(),
                5,
                "the three journaled signatures were replayed"
            );
            assert_eq!(cert.response, 144u128.to_be_bytes().to_vec());
        }
        other => panic!("expected the certificate to land, got {other:?}"),
    }
    second.stop().await;
}

async fn next_task(follower: &mut TaskFollower) -> NewTask {
    for _ in 0..100 {
        let (_, mut tasks) = follower.poll().await.expect("poll");
        if let Some(task) = tasks.pop() {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no TaskCreated event seen");
}
