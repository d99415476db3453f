//! A slash on one AVS reweighs the operator on every other AVS of the same core: two
//! AVSs share the restaking core and the operators; operator 1 equivocates on AVS A
//! and is slashed there; the next certificate AVS B's aggregator lands counts the
//! slashed stake, in the aggregator's sums and in `TaskResponded`, with no one
//! calling `syncStakes` on B.

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use bulwark_chain::bindings::{BasicAVS, RestakingCore, TaskManager};
use bulwark_chain::devnet::{DeployConfig, ether, mined};
use bulwark_chain::registration::KeyRegistration;
use bulwark_chain::registry::operator_set_at;
use bulwark_chain::slashing::{Equivocation, SignedKind, challenge};
use bulwark_chain::tasks::create_task;
use bulwark_core::{Certificate, OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark_crypto::Domain;
use bulwark_e2e::{Network, RunningAggregator, respond_accepted};
use bulwark_node::aggregator::TaskOutcome;

/// Every operator starts with 32 tokens, all allocated to both AVSs.
const STAKE_GWEI: u64 = 32_000_000_000;
/// 10% of it: the default equivocation fraction.
const SLASHED_GWEI: u64 = 3_200_000_000;

/// Deploys a second `BasicAVS` on the core AVS A uses, with A's parameters, and has
/// every operator allocate all its stake to it and register its key there; returns
/// it and the core.
async fn second_avs(net: &Network) -> (Address, Address) {
    let config = DeployConfig::default();
    let core = BasicAVS::new(net.avs, net.provider.clone())
        .core()
        .call()
        .await
        .expect("core");
    let owner = net.devnet.accounts()[0];
    let avs = *BasicAVS::deploy(
        net.provider.clone(),
        TaskManager::Params {
            core,
            owner,
            minimumStake: config.minimum_stake,
            referenceWindow: config.reference_window,
            challengeWindow: config.challenge_window,
        },
    )
    .await
    .expect("deploy AVS B")
    .address();
    let restaking = RestakingCore::new(core, net.provider.clone());
    let registry = BasicAVS::new(avs, net.provider.clone());
    for op in &net.operators {
        mined(
            &net.provider,
            restaking
                .allocate(avs, 10_000)
                .from(op.address)
                .send()
                .await
                .expect("send"),
        )
        .await
        .expect("allocate to B");
        let registration = KeyRegistration::new(&op.key, net.context.chain_id, avs, op.address);
        mined(
            &net.provider,
            registry
                .registerOperator(registration.public_key, registration.proof)
                .from(op.address)
                .send()
                .await
                .expect("send"),
        )
        .await
        .expect("register on B");
    }
    (avs, core)
}

/// Operators `signers` answer a fresh task on `avs` (threshold 60%), and its
/// aggregator lands the certificate; returns it with the `TaskResponded` event's
/// signed and total stake.
async fn certify_on(
    net: &Network,
    avs: Address,
    agg: &mut RunningAggregator,
    signers: &[usize],
) -> (Certificate, u64, u64) {
    let task = net.create_task_on(avs, 5, 6000, 100).await;
    let context = SigningContext {
        chain_id: net.context.chain_id,
        avs: avs.into_array(),
    };
    for &i in signers {
        let mut op = net.operator(i, net.operators[i].key.clone(), &agg.endpoint);
        op.context = context;
        respond_accepted(&op, &task).await;
    }
    let cert = match agg.next_outcome(60).await {
        TaskOutcome::Landed(cert) => cert,
        other => panic!("expected a certificate on {avs}, got {other:?}"),
    };
    assert_eq!(cert.task_id, task.task_id);
    let logs = net
        .provider
        .get_logs(
            &Filter::new()
                .address(avs)
                .event_signature(BasicAVS::TaskResponded::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .expect("logs");
    let responded = logs
        .iter()
        .filter_map(|log| log.log_decode::<BasicAVS::TaskResponded>().ok())
        .map(|log| log.inner.data)
        .find(|e| e.taskId == U256::from(task.task_id))
        .expect("a TaskResponded event for the task");
    (*cert, responded.signedStakeGwei, responded.totalStakeGwei)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_on_one_avs_reweighs_the_next_certificate_on_another() {
    let net = Network::start(3).await;
    let (avs_b, core) = second_avs(&net).await;
    let core = RestakingCore::new(core, net.provider.clone());
    let context_b = SigningContext {
        chain_id: net.context.chain_id,
        avs: avs_b.into_array(),
    };
    let mut agg = RunningAggregator::start(
        net.provider.clone(),
        context_b,
        net.provider.get_block_number().await.expect("block"),
        None,
    )
    .await;
    let offender = &net.operators[1];

    // Before: operators 0 and 1 sign on B, operator 2 does not.
    let (cert, signed, total) = certify_on(&net, avs_b, &mut agg, &[0, 1]).await;
    assert_eq!(
        (cert.signed_stake, cert.total_stake),
        (2 * STAKE_GWEI, 3 * STAKE_GWEI)
    );
    assert_eq!((signed, total), (2 * STAKE_GWEI, 3 * STAKE_GWEI));

    // Operator 1 signs two answers to one task on A; anyone proves it there.
    let task = create_task(&net.provider, net.avs, b"input", 6000, 10)
        .await
        .expect("task on A");
    let sign = |answer: &[u8]| {
        let digest = ResponseDigest::of(answer);
        let message = net.context.message(task.task_id, &digest);
        (digest, offender.key.sign(&Domain::SIGNATURE, &message))
    };
    let proof = Equivocation {
        context: net.context,
        task_id: task.task_id,
        kind: SignedKind::Response,
        operator: OperatorId(offender.address.into_array()),
        public_key: offender.key.public_key(),
        first: sign(b"42"),
        second: sign(b"43"),
    };
    assert_eq!(
        core.slashableStake(offender.address)
            .call()
            .await
            .expect("stake"),
        ether(32)
    );
    challenge(&net.provider, net.avs, task.task_id, &proof.encode())
        .await
        .expect("the equivocation is slashed on A");
    let slash_block = net.provider.get_block_number().await.expect("block") as u32;
    assert_eq!(
        core.slashableStake(offender.address)
            .call()
            .await
            .expect("stake"),
        ether(32) - ether(32) / U256::from(10),
        "A slashed its 10%"
    );

    // B's registry followed in the slash's own block, and kept its history.
    let registry_b = BasicAVS::new(avs_b, net.provider.clone());
    for (block, stake) in [
        (slash_block - 1, STAKE_GWEI),
        (slash_block, STAKE_GWEI - SLASHED_GWEI),
    ] {
        let found = registry_b
            .operatorAt(offender.address, block)
            .call()
            .await
            .expect("checkpoint");
        assert_eq!(found.checkpoint.stakeGwei, stake, "at block {block}");
    }
    let set = operator_set_at(&net.provider, avs_b, slash_block)
        .await
        .expect("set");
    assert_eq!(set.total_stake_gwei, 3 * STAKE_GWEI - SLASHED_GWEI);

    // After: the same signers on B's next task weigh the slashed stake.
    let (cert, signed, total) = certify_on(&net, avs_b, &mut agg, &[0, 1]).await;
    let after = (2 * STAKE_GWEI - SLASHED_GWEI, 3 * STAKE_GWEI - SLASHED_GWEI);
    assert_eq!(
        (cert.signed_stake, cert.total_stake),
        after,
        "the aggregator"
    );
    assert_eq!((signed, total), after, "the chain");
    agg.stop().await;
}
