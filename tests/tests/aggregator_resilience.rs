//! The aggregator on a real network's bad days, on anvil over real gRPC:
//! - killed with SIGKILL mid-task (its own process) and restarted: no accepted
//!   signature is lost and the certificate lands;
//! - its RPC endpoint goes away for a while (a proxy cuts and restores it): every
//!   certificate whose task is still open lands afterwards, and one whose deadline
//!   passed meanwhile is dropped, not sent;
//! - two aggregators at once: both collect, one lands, the other stands down
//!   without an error; one killed mid-task, the other lands.

use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use bulwark_chain::bindings::BasicAVS;
use bulwark_core::OperatorId;
use bulwark_e2e::{Network, Proxy, RunningAggregator, Square, respond_accepted};
use bulwark_net::proto::SubmissionStatus;
use bulwark_node::aggregator::TaskOutcome;
use bulwark_node::operator::OperatorRuntime;
use bulwark_node::supervise::Supervised;

/// The task as the chain has it.
async fn on_chain(net: &Network, task_id: u64) -> bulwark_chain::bindings::TaskManager::Task {
    BasicAVS::new(net.avs, net.provider.clone())
        .getTask(U256::from(task_id))
        .call()
        .await
        .expect("getTask")
}

/// Waits up to `secs` for the task to be answered on chain.
async fn answered_within(net: &Network, task_id: u64, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if on_chain(net, task_id).await.respondedBlock != 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The `TaskResponded` events of `task_id`.
async fn responses(net: &Network, task_id: u64) -> usize {
    let filter = Filter::new()
        .address(net.avs)
        .event_signature(BasicAVS::TaskResponded::SIGNATURE_HASH)
        .topic1(U256::from(task_id))
        .from_block(net.start);
    net.provider.get_logs(&filter).await.expect("logs").len()
}

/// Starts the aggregator process on `config`, ready to serve; its gRPC endpoint.
async fn spawn_aggregator(
    config: &std::path::Path,
    log: std::path::PathBuf,
) -> (Supervised, String) {
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_e2e-aggregator"));
    let config = config.to_str().expect("utf-8 path");
    let mut child = Supervised::spawn("aggregator", program, &[config], log).expect("spawn");
    let listening = child
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("the aggregator announces where it listens");
    let grpc = listening.grpc.expect("a gRPC address");
    (child, format!("http://{grpc}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregator_killed_mid_task_loses_no_accepted_signature() {
    let net = Network::start(5).await;
    let dir = tempfile::tempdir().expect("dir");
    let submitter = net.funded_account().await;
    std::fs::write(
        dir.path().join("submitter.key"),
        alloy::hex::encode(submitter.to_bytes()),
    )
    .expect("key file");
    let config = dir.path().join("aggregator.toml");
    std::fs::write(
        &config,
        format!(
            "[chain]\nrpc_url = \"{}\"\navs = \"{}\"\nfrom_block = {}\npoll_ms = 100\n\n\
             [aggregator]\nlisten = \"127.0.0.1:0\"\nstore = \"aggregator.redb\"\n\
             submitter_key = {{ file = \"submitter.key\" }}\n\n\
             [telemetry]\nlisten = \"127.0.0.1:0\"\n",
            net.devnet.endpoint(),
            net.avs,
            net.start
        ),
    )
    .expect("config");

    let (first, endpoint) = spawn_aggregator(&config, dir.path().join("first.log")).await;
    // Every operator must sign: a certificate needs the three the first one took.
    let task = net.create_task(12, 10_000, 200).await;
    for i in 0..3 {
        respond_accepted(
            &net.operator(i, net.operators[i].key.clone(), &endpoint),
            &task,
        )
        .await;
    }
    // No graceful stop: the kernel ends it wherever it is.
    let pid = first.id().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    first.stop(Duration::from_secs(5)).await;
    assert_eq!(on_chain(&net, task.task_id).await.respondedBlock, 0);

    let (second, endpoint) = spawn_aggregator(&config, dir.path().join("second.log")).await;
    for i in 3..5 {
        respond_accepted(
            &net.operator(i, net.operators[i].key.clone(), &endpoint),
            &task,
        )
        .await;
    }
    assert!(
        answered_within(&net, task.task_id, 60).await,
        "the restarted aggregator lands the certificate; its log: {}",
        std::fs::read_to_string(dir.path().join("second.log")).unwrap_or_default()
    );
    let landed = on_chain(&net, task.task_id).await;
    assert_eq!(
        landed.signedStakeGwei, landed.totalStakeGwei,
        "all five signed: the three accepted before the kill were read back"
    );
    second.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_land_once_the_rpc_endpoint_comes_back() {
    let net = Network::start(4).await;
    let proxy = Proxy::start(&net.devnet.endpoint()).await;
    let submitter = net.funded_account().await;
    let address = submitter.address();
    let provider = net.provider_for(&proxy.url(), submitter);
    let mut agg = RunningAggregator::start_as(provider, address, net.context, net.start).await;
    let operators: Vec<_> = (0..4)
        .map(|i| net.operator(i, net.operators[i].key.clone(), &agg.endpoint))
        .collect();

    let open = net.create_task(3, 10_000, 200).await;
    let short = net.create_task(5, 10_000, 12).await;
    // The aggregator has both open once it accepts a signature for each.
    respond_accepted(&operators[0], &open).await;
    respond_accepted(&operators[0], &short).await;

    proxy.cut();
    for op in &operators[1..] {
        respond_accepted(op, &open).await;
        respond_accepted(op, &short).await;
    }
    // Created while the aggregator cannot see the chain.
    let later = net.create_task(4, 10_000, 200).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        agg.outcomes.try_recv().is_err(),
        "nothing can land meanwhile"
    );
    // The short task's deadline passes while the endpoint is away.
    bulwark_chain::devnet::mine(&net.provider, 20)
        .await
        .expect("mine");

    proxy.restore();
    match agg.next_outcome(60).await {
        TaskOutcome::Landed(cert) => assert_eq!(cert.task_id, open.task_id),
        other => panic!("expected the open task's certificate to land, got {other:?}"),
    }
    // The task created during the outage is opened once the chain is back.
    for op in &operators {
        respond_accepted(op, &later).await;
    }
    match agg.next_outcome(60).await {
        TaskOutcome::Landed(cert) => assert_eq!(cert.task_id, later.task_id),
        other => panic!("expected the later task's certificate to land, got {other:?}"),
    }
    assert!(on_chain(&net, open.task_id).await.respondedBlock != 0);
    assert!(on_chain(&net, later.task_id).await.respondedBlock != 0);
    assert_eq!(on_chain(&net, short.task_id).await.respondedBlock, 0);
    let stats = &agg.aggregator.stats;
    assert_eq!(
        stats.certificates_expired.load(Ordering::Relaxed),
        1,
        "past its deadline, the short task's certificate was dropped, not sent"
    );
    assert_eq!(stats.certificates_landed.load(Ordering::Relaxed), 2);
    // The submitter sent exactly the two certificates that landed: nothing for the
    // expired task, no duplicate from the retries during the outage.
    let sent = net
        .provider
        .get_transaction_count(address)
        .await
        .expect("nonce");
    assert_eq!(sent, 2);
    agg.stop().await;
}

/// Operator `i` sending to every endpoint in `endpoints`.
fn operator_of_all(net: &Network, i: usize, endpoints: &[&str]) -> OperatorRuntime<Square> {
    OperatorRuntime::new(
        Square,
        net.operators[i].key.clone(),
        OperatorId(net.operators[i].address.into_array()),
        net.context,
        endpoints.iter().map(|e| e.to_string()).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_aggregators_one_lands_the_other_stands_down() {
    let net = Network::start(4).await;
    let endpoint = net.devnet.endpoint();
    let (key_a, key_b) = (net.funded_account().await, net.funded_account().await);
    let (addr_a, addr_b) = (key_a.address(), key_b.address());
    let mut a = RunningAggregator::start_as(
        net.provider_for(&endpoint, key_a),
        addr_a,
        net.context,
        net.start,
    )
    .await;
    let mut b = RunningAggregator::start_as(
        net.provider_for(&endpoint, key_b),
        addr_b,
        net.context,
        net.start,
    )
    .await;
    let endpoints = [a.endpoint.as_str(), b.endpoint.as_str()];
    let operators: Vec<_> = (0..4)
        .map(|i| operator_of_all(&net, i, &endpoints))
        .collect();

    let task = net.create_task(6, 10_000, 200).await;
    for op in &operators[..3] {
        let statuses = op.respond(&task).await.expect("signs");
        assert!(
            statuses
                .iter()
                .all(|s| matches!(s, Ok(SubmissionStatus::Accepted))),
            "both aggregators accept: {statuses:?}"
        );
    }
    // The last signature completes A's certificate first; A may land it before the
    // operator reaches B, which then says the task is answered (no retrying).
    let statuses = operators[3].respond(&task).await.expect("signs");
    assert!(
        matches!(statuses[0], Ok(SubmissionStatus::Accepted))
            && matches!(
                statuses[1],
                Ok(SubmissionStatus::Accepted | SubmissionStatus::AlreadyCertified)
            ),
        "{statuses:?}"
    );
    // One lands; the other ends the task as answered by another certificate, with
    // no error and nothing expired.
    let (first, second) = (a.next_outcome(60).await, b.next_outcome(60).await);
    let landed = [&first, &second]
        .iter()
        .filter(|o| matches!(o, TaskOutcome::Landed(c) if c.task_id == task.task_id))
        .count();
    let stood_down = [&first, &second]
        .iter()
        .filter(|o| matches!(o, TaskOutcome::Answered { task_id } if *task_id == task.task_id))
        .count();
    assert_eq!(
        (landed, stood_down),
        (1, 1),
        "one lands, one stands down: {first:?} / {second:?}"
    );
    assert_eq!(
        responses(&net, task.task_id).await,
        1,
        "one certificate landed"
    );
    for agg in [&a, &b] {
        assert_eq!(agg.aggregator.stats.expired.load(Ordering::Relaxed), 0);
    }
    let sent = |addr| {
        let provider = net.provider.clone();
        async move { provider.get_transaction_count(addr).await.expect("nonce") }
    };
    assert!(
        sent(addr_a).await + sent(addr_b).await <= 2,
        "at most the loser's one transaction raced the winner's"
    );

    // One aggregator dies mid-task: the other lands.
    let task = net.create_task(7, 10_000, 200).await;
    for op in &operators[..2] {
        op.respond(&task).await.expect("signs");
    }
    a.kill().await;
    for op in &operators[2..] {
        let statuses = op.respond(&task).await.expect("signs");
        assert!(
            matches!(statuses[1], Ok(SubmissionStatus::Accepted)),
            "{statuses:?}"
        );
    }
    match b.next_outcome(60).await {
        TaskOutcome::Landed(cert) => assert_eq!(cert.task_id, task.task_id),
        other => panic!("expected the survivor to land, got {other:?}"),
    }
    assert_eq!(responses(&net, task.task_id).await, 1);
    b.stop().await;
}

/// A certificate transaction that is not mined (the node holds it: automine off)
/// is replaced at its nonce with higher fees, and the replacement is what lands:
/// one transaction from the submitter, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmined_certificate_is_replaced_at_its_nonce() {
    let net = Network::start(3).await;
    let submitter = net.funded_account().await;
    let address = submitter.address();
    let provider = net.provider_for(&net.devnet.endpoint(), submitter);
    let mut agg = RunningAggregator::start_as(provider, address, net.context, net.start).await;
    let operators: Vec<_> = (0..3)
        .map(|i| net.operator(i, net.operators[i].key.clone(), &agg.endpoint))
        .collect();
    let task = net.create_task(9, 10_000, 200).await;
    respond_accepted(&operators[0], &task).await;

    let automine = |on: bool| {
        let provider = net.provider.clone();
        async move {
            let _: serde_json::Value = provider
                .raw_request("evm_setAutomine".into(), (on,))
                .await
                .expect("evm_setAutomine");
        }
    };
    automine(false).await;
    for op in &operators[1..] {
        respond_accepted(op, &task).await;
    }
    // The first transaction waits in the pool past the lander's receipt wait; the
    // lander then sends its replacement.
    let pool = |provider: alloy::providers::DynProvider| async move {
        let content: serde_json::Value = provider
            .raw_request("txpool_content".into(), ())
            .await
            .expect("txpool_content");
        content["pending"]
            .as_object()
            .map(|senders| {
                senders
                    .values()
                    .flat_map(|by_nonce| by_nonce.as_object().cloned().unwrap_or_default())
                    .map(|(_, tx)| tx["maxFeePerGas"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut first_fee = None;
    let deadline = tokio::time::Instant::now()
        + bulwark_node::aggregator::lander::RECEIPT_WAIT
        + Duration::from_secs(20);
    let mut replaced = false;
    while tokio::time::Instant::now() < deadline {
        let fees = pool(net.provider.clone()).await;
        assert!(
            fees.len() <= 1,
            "one pending transaction at a time: {fees:?}"
        );
        match (&first_fee, fees.first()) {
            (None, Some(fee)) => first_fee = Some(fee.clone()),
            (Some(first), Some(fee)) if fee != first => {
                replaced = true;
                break;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        replaced,
        "the unmined transaction was replaced with other fees ({first_fee:?})"
    );
    automine(true).await;
    bulwark_chain::devnet::mine(&net.provider, 1)
        .await
        .expect("mine");
    match agg.next_outcome(60).await {
        TaskOutcome::Landed(cert) => assert_eq!(cert.task_id, task.task_id),
        other => panic!("expected the replacement to land, got {other:?}"),
    }
    assert_eq!(
        net.provider
            .get_transaction_count(address)
            .await
            .expect("nonce"),
        1,
        "the replacement took the first transaction's nonce"
    );
    assert_eq!(responses(&net, task.task_id).await, 1);
    agg.stop().await;
}
