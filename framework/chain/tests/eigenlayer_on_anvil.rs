//! A Bulwark AVS on EigenLayer's real core on anvil (deployed from the bytecode
//! `make eigenlayer` fetched from crates.io): the same `BasicAVS` contract as on the
//! devnet core, only the deployment differs. Certificates are weighted by EigenLayer
//! stake; a staker's deposit and delegation change the next certificate; an
//! equivocation is proven and slashed through `AllocationManager.slashOperator`; the
//! restaking trait and a staker's exposure read EigenLayer's state.

use std::collections::BTreeSet;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::Provider;
use bulwark_chain::bindings::{BasicAVS, LiquidStakingToken};
use bulwark_chain::certificate::{build_certificate, submit_response};
use bulwark_chain::devnet::{DeployConfig, DevOperator, Devnet, ether, mined};
use bulwark_chain::eigenlayer::{EigenLayerRestakingLayer, artifacts_dir};
use bulwark_chain::message::task_response_message;
use bulwark_chain::registry::operator_set_at;
use bulwark_chain::restaking::Restaking;
use bulwark_chain::slashing::{Challenged, Equivocation, challenge};
use bulwark_chain::tasks::create_task;
use bulwark_core::{SigningContext, SlashingProof};
use bulwark_crypto::{AggregateSignature, Domain};

/// A task certified by every operator; its signed and total stake (gwei).
async fn certify_all(devnet: &Devnet, avs: Address, ops: &[DevOperator]) -> (u64, u64, u64) {
    let provider = devnet.provider();
    let task = create_task(provider, avs, b"input", 6000, 20)
        .await
        .expect("task");
    let chain_id = devnet.chain_id().await.expect("chain id");
    let message = task_response_message(chain_id, avs, task.task_id, keccak256(b"42"));
    let signatures: Vec<_> = ops
        .iter()
        .map(|o| o.key.sign(&Domain::SIGNATURE, message.as_slice()))
        .collect();
    let signature = AggregateSignature::aggregate(&signatures)
        .expect("signatures")
        .to_signature()
        .expect("non-identity");
    let signers: BTreeSet<Address> = ops.iter().map(|o| o.address).collect();
    let set = operator_set_at(provider, avs, task.reference_block)
        .await
        .expect("set");
    let cert = build_certificate(&set, &signers, &signature).expect("certificate");
    submit_response(provider, avs, U256::from(task.task_id), b"42", cert)
        .await
        .expect("certified");
    let t = BasicAVS::new(avs, provider.clone())
        .getTask(U256::from(task.task_id))
        .call()
        .await
        .expect("task");
    (task.task_id, t.signedStakeGwei, t.totalStakeGwei)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulwark_avs_runs_and_slashes_on_eigenlayer() {
    let devnet = Devnet::start(8).expect("anvil must start: run `make tools`");
    let el = devnet
        .deploy_on_eigenlayer(&DeployConfig::default(), &artifacts_dir())
        .await
        .expect("EigenLayer's core must deploy: run `make eigenlayer`");
    let d = el.deployment;
    let ops = devnet
        .onboard_eigenlayer_operators(&el, 3, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();

    // Weighted by EigenLayer stake: three operators of 32.
    let (_, signed, total) = certify_all(&devnet, d.avs, &ops).await;
    assert_eq!((signed, total), (96_000_000_000, 96_000_000_000));

    // A staker deposits 16 and delegates to operator 1; once synced, the next
    // certificate weighs it.
    let staker = devnet.accounts()[6];
    let token = LiquidStakingToken::new(d.token, provider.clone());
    mined(
        &provider,
        token
            .mint(staker, ether(16))
            .from(d.owner)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("mint");
    el.core
        .deposit(&provider, staker, d.token, el.strategy, ether(16))
        .await
        .expect("deposit");
    el.core
        .delegate(&provider, staker, ops[1].address)
        .await
        .expect("delegate");
    let avs = BasicAVS::new(d.avs, provider.clone());
    mined(
        &provider,
        avs.syncStakes(vec![ops[1].address])
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("sync");
    let (task, _, total) = certify_all(&devnet, d.avs, &ops).await;
    assert!(
        total.abs_diff(112_000_000_000) < 10,
        "96 + 16 delegated: {total}"
    );

    // The restaking trait and exposure read EigenLayer.
    let layer = EigenLayerRestakingLayer::new(provider.clone(), el.core, d.core)
        .await
        .expect("layer");
    let latest = BlockId::latest();
    let delegation = layer.delegation(staker, latest).await.expect("delegation");
    assert_eq!(delegation.operator, Some(ops[1].address));
    assert!(ether(16) - delegation.stake < U256::from(1_000u64));
    let allocations = layer
        .allocations(ops[1].address, latest)
        .await
        .expect("allocations");
    assert_eq!(allocations.len(), 1);
    assert_eq!((allocations[0].avs, allocations[0].bps), (d.avs, 10_000));
    let head = provider.get_block_number().await.expect("head");
    let exposure = bulwark_chain::exposure::exposure(&layer, &provider, staker, head)
        .await
        .expect("exposure");
    assert_eq!(exposure.avs[0].at_risk, exposure.stake);
    assert_eq!(exposure.worst_case, exposure.stake);
    assert!(matches!(
        layer.pending_rewards(staker, d.token, latest).await,
        Err(bulwark_chain::ChainError::Unsupported(_))
    ));

    // Operator 1 equivocates on the last task: proven and slashed through
    // AllocationManager.slashOperator, the AVS's weight updated at once, and its
    // staker's shares down pro rata.
    let context = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain id"),
        avs: d.avs.into_array(),
    };
    let proof =
        Equivocation::sign_responses(context, &ops[1].key, ops[1].address, task, b"42", b"43");
    let before = layer
        .slashable_stake(ops[1].address, latest)
        .await
        .expect("stake");
    let slashed = match challenge(&provider, d.avs, task, &proof.encode())
        .await
        .expect("slashed")
    {
        Challenged::Slashed(s) => s,
        Challenged::Queued(q) => panic!("no veto window, yet queued: {q:?}"),
    };
    assert_eq!(slashed.operator, ops[1].address);
    assert!(slashed.amount.abs_diff(ether(48) / U256::from(10)) < U256::from(1_000u64));
    assert_eq!(
        slashed.bounty,
        U256::ZERO,
        "EigenLayer burns slashed shares"
    );
    let after = layer
        .slashable_stake(ops[1].address, latest)
        .await
        .expect("stake");
    assert!(
        (before - after).abs_diff(ether(48) / U256::from(10)) < U256::from(1_000u64),
        "{before} -> {after}"
    );
    let block = u32::try_from(provider.get_block_number().await.expect("head")).expect("u32");
    let entry = avs
        .operatorAt(ops[1].address, block)
        .call()
        .await
        .expect("checkpoint");
    assert!(
        entry.checkpoint.stakeGwei.abs_diff(43_200_000_000) < 10,
        "the registry weighs it at once: {}",
        entry.checkpoint.stakeGwei
    );
    let staker_after = layer.delegation(staker, latest).await.expect("delegation");
    assert!(
        staker_after
            .stake
            .abs_diff(delegation.stake * U256::from(9) / U256::from(10))
            < U256::from(1_000u64),
        "the staker lost 10%: {} -> {}",
        delegation.stake,
        staker_after.stake
    );

    // Operator 2 deallocates: from the next block its weight is gone, yet what it
    // signed stays slashable until EigenLayer's delay passes.
    el.core
        .allocate(&provider, ops[2].address, d.core, el.strategy, 0)
        .await
        .expect("deallocate");
    mined(
        &provider,
        avs.syncStakes(vec![ops[2].address])
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("sync");
    let block = u32::try_from(provider.get_block_number().await.expect("head")).expect("u32");
    let entry = avs
        .operatorAt(ops[2].address, block)
        .call()
        .await
        .expect("checkpoint");
    assert_eq!(entry.checkpoint.stakeGwei, 0, "no longer weighed");
    let proof =
        Equivocation::sign_responses(context, &ops[2].key, ops[2].address, task, b"42", b"43");
    let slashed = challenge(&provider, d.avs, task, &proof.encode())
        .await
        .expect("still slashable")
        .slashed()
        .expect("no veto window");
    assert_eq!(slashed.operator, ops[2].address);
    assert!(slashed.amount.abs_diff(ether(32) / U256::from(10)) < U256::from(1_000u64));
}
