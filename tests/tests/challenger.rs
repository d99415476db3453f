//! The challenger end to end on anvil over real gRPC: an operator signs two answers
//! to one task; the aggregator offers the proof; a challenger following its evidence
//! stream slashes the operator on chain. Restarted, it does nothing twice; a second
//! challenger finds the proof used and records it, not retrying; forged, foreign and
//! late evidence is refused without a transaction.

use std::time::Duration;

use alloy::primitives::U256;
use bulwark_chain::bindings::RestakingCore;
use bulwark_chain::slashing::{Equivocation, SignedKind};
use bulwark_core::{
    EngineConfig, OperatorId, ResponseDigest, SignedResponse, SlashingProof, Verification,
};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_e2e::{Network, RunningAggregator};
use bulwark_net::client::{Backoff, Connection};
use bulwark_node::challenger::{Challenger, Handled};

fn signed(net: &Network, i: usize, task_id: u64, response: &[u8]) -> SignedResponse {
    SignedResponse {
        task_id,
        operator: OperatorId(net.operators[i].address.into_array()),
        response: response.to_vec(),
        signature: net.operators[i].key.sign(
            &Domain::SIGNATURE,
            &net.context.message(task_id, &ResponseDigest::of(response)),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenger_slashes_an_equivocation_once_and_only_once() {
    let net = Network::start(3).await;
    let agg = RunningAggregator::start_with(
        net.provider.clone(),
        net.context,
        net.start,
        None,
        EngineConfig {
            verification: Verification::Eager,
            ..EngineConfig::default()
        },
    )
    .await;
    let task = net.create_task(7, 10_000, 20).await;
    // Wait until the aggregator has the task open.
    for _ in 0..200 {
        if agg
            .aggregator
            .stats
            .tasks_opened
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Operator 1 answers twice (its runtime never would: slashing protection).
    let backoff = Backoff::default();
    let op = Connection::for_operator(
        &agg.endpoint,
        OperatorId(net.operators[1].address.into_array()),
        net.operators[1].key.clone(),
    );
    op.submit(
        &signed(&net, 1, task.task_id, &49u128.to_be_bytes()),
        &backoff,
    )
    .await
    .expect("answered");
    op.submit(&signed(&net, 1, task.task_id, b"fifty"), &backoff)
        .await
        .expect("answered");

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("challenger.redb");
    let core_address = bulwark_chain::bindings::BasicAVS::new(net.avs, net.provider.clone())
        .core()
        .call()
        .await
        .expect("core");
    let core = RestakingCore::new(core_address, net.provider.clone());
    let offender = net.operators[1].address;
    let before = core.slashableStake(offender).call().await.expect("stake");

    // The challenger follows the aggregator until the slash lands.
    {
        let challenger = Challenger::open(net.provider.clone(), net.avs, &state)
            .await
            .expect("open");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let endpoint = agg.endpoint.clone();
        let following = tokio::spawn(async move {
            challenger
                .follow(&endpoint, async {
                    let _ = stopped.await;
                })
                .await
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now = core.slashableStake(offender).call().await.expect("stake");
            if now < before {
                assert_eq!(before - now, before / U256::from(10), "the default 10%");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no slash in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop.send(());
        following.await.expect("join").expect("follows cleanly");
    }

    // The evidence, as a challenger receives it.
    let mut stream = Connection::new(&agg.endpoint)
        .evidence(0, &backoff)
        .await
        .expect("stream");
    let item = stream.message().await.expect("ok").expect("an item");
    let evidence = item.evidence.clone();

    // Restarted with its state: it knows the offence, and sends nothing.
    let restarted = Challenger::open(net.provider.clone(), net.avs, &state)
        .await
        .expect("reopen");
    assert_eq!(restarted.cursor(&agg.endpoint).expect("cursor").after, 1);
    assert_eq!(
        restarted.handle(task.task_id, &evidence).await,
        Handled::Known
    );

    // Another challenger: the proof is used; recorded as such, and known afterwards.
    let other_state = dir.path().join("other.redb");
    let other = Challenger::open(net.provider.clone(), net.avs, &other_state)
        .await
        .expect("open");
    assert_eq!(
        other.handle(task.task_id, &evidence).await,
        Handled::AlreadyUsed
    );
    assert_eq!(other.handle(task.task_id, &evidence).await, Handled::Known);

    // Forged: operator 2 "equivocating" with operator 1's second signature.
    let mut forged = Equivocation::decode(&evidence).expect("proof");
    forged.operator = OperatorId(net.operators[2].address.into_array());
    forged.public_key = net.operators[2].key.public_key();
    assert!(matches!(
        other.handle(task.task_id, &forged.encode()).await,
        Handled::Invalid(_)
    ));
    // A real equivocation, but signed with a key operator 2 never registered.
    let stranger = SecretKey::from_ikm(&[77; 32]).expect("ikm");
    let sign = |r: &[u8]| {
        let d = ResponseDigest::of(r);
        (
            d,
            stranger.sign(&Domain::SIGNATURE, &net.context.message(task.task_id, &d)),
        )
    };
    let unregistered = Equivocation {
        context: net.context,
        task_id: task.task_id,
        kind: SignedKind::Response,
        operator: OperatorId(net.operators[2].address.into_array()),
        public_key: stranger.public_key(),
        first: sign(b"a"),
        second: sign(b"b"),
    };
    unregistered.verify().expect("holds off-chain");
    assert!(matches!(
        other.handle(task.task_id, &unregistered.encode()).await,
        Handled::Invalid(_)
    ));
    // Garbage and offences it does not know.
    assert!(matches!(
        other.handle(task.task_id, &[1, 2, 3]).await,
        Handled::Invalid(_)
    ));
    assert!(matches!(
        other.handle(task.task_id, &[7u8; 96]).await,
        Handled::Unsupported(_)
    ));
    assert_eq!(
        core.slashableStake(net.operators[2].address)
            .call()
            .await
            .expect("stake"),
        before,
        "operator 2 untouched"
    );

    // Late: an equivocation on a task whose window has passed.
    let late = net.create_task(3, 10_000, 5).await;
    let _: serde_json::Value = alloy::providers::Provider::raw_request(
        &net.provider,
        "anvil_mine".into(),
        (U256::from(60),),
    )
    .await
    .expect("mine");
    let sign0 = |r: &[u8]| {
        let d = ResponseDigest::of(r);
        (
            d,
            net.operators[0]
                .key
                .sign(&Domain::SIGNATURE, &net.context.message(late.task_id, &d)),
        )
    };
    let too_late = Equivocation {
        context: net.context,
        task_id: late.task_id,
        kind: SignedKind::Response,
        operator: OperatorId(net.operators[0].address.into_array()),
        public_key: net.operators[0].key.public_key(),
        first: sign0(b"1"),
        second: sign0(b"2"),
    };
    assert_eq!(
        other.handle(late.task_id, &too_late.encode()).await,
        Handled::Late
    );
    agg.stop().await;
}
