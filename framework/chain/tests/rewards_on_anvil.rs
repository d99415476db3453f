//! Rewards, exposure and the veto window on anvil, through the restaking trait:
//! an epoch's funds split by the stake that signed its certificates (worked out from
//! the chain's own records), a staker's exposure before, during and after a slash
//! queued behind the veto window, and the slash executed once the window passes.

use std::collections::BTreeSet;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::Provider;
use bulwark_chain::bindings::{BasicAVS, LiquidStakingToken, RestakingCore, SlashVeto};
use bulwark_chain::certificate::{build_certificate, submit_response};
use bulwark_chain::devnet::{DeployConfig, DevOperator, Devnet, ether, mine_to, mined};
use bulwark_chain::exposure::exposure;
use bulwark_chain::message::task_response_message;
use bulwark_chain::registry::operator_set_at;
use bulwark_chain::restaking::{DevnetCore, Restaking};
use bulwark_chain::rewards::{Epochs, Split};
use bulwark_chain::slashing::{Challenged, Equivocation, challenge, execute_slash};
use bulwark_chain::tasks::create_task;
use bulwark_core::SigningContext;
use bulwark_crypto::{AggregateSignature, Domain};

const EPOCH: u32 = 40;

/// Creates a task and lands a certificate on it signed by `ops` except `absent`.
async fn certify(devnet: &Devnet, avs: Address, ops: &[DevOperator], absent: &[usize]) -> u64 {
    let provider = devnet.provider();
    let task = create_task(provider, avs, b"input", 6000, 20)
        .await
        .expect("task");
    let response = b"42";
    let chain_id = devnet.chain_id().await.expect("chain id");
    let message = task_response_message(chain_id, avs, task.task_id, keccak256(response));
    let signing: Vec<_> = (0..ops.len()).filter(|i| !absent.contains(i)).collect();
    let signers: BTreeSet<Address> = signing.iter().map(|&i| ops[i].address).collect();
    let signatures: Vec<_> = signing
        .iter()
        .map(|&i| ops[i].key.sign(&Domain::SIGNATURE, message.as_slice()))
        .collect();
    let signature = AggregateSignature::aggregate(&signatures)
        .expect("signatures")
        .to_signature()
        .expect("non-identity");
    let set = operator_set_at(provider, avs, task.reference_block)
        .await
        .expect("set");
    let cert = build_certificate(&set, &signers, &signature).expect("certificate");
    submit_response(provider, avs, U256::from(task.task_id), response, cert)
        .await
        .expect("certified");
    task.task_id
}

/// The core, driven by dev account `index`.
fn core_as(
    devnet: &Devnet,
    core: Address,
    index: usize,
) -> DevnetCore<alloy::providers::DynProvider> {
    let signer = devnet.signer(index).expect("a dev account");
    let provider = bulwark_chain::provider::connect(
        &devnet.endpoint(),
        Some(alloy::network::EthereumWallet::from(signer)),
    )
    .expect("provider");
    DevnetCore::new(core, provider)
}

#[tokio::test(flavor = "multi_thread")]
async fn rewards_follow_the_stake_that_signed() {
    let devnet = Devnet::start(6).expect("anvil must start: run `make tools`");
    let config = DeployConfig {
        reward_epoch_blocks: EPOCH,
        ..DeployConfig::default()
    };
    let d = devnet.deploy(&config).await.expect("deploy");
    let ops = devnet
        .onboard_operators(&d, 3, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();
    let epochs = Epochs::of(&provider, d.avs).await.expect("epochs");
    assert_eq!(epochs.blocks, u64::from(EPOCH));
    // Both tasks in one epoch: start at the next epoch's first block.
    let head = provider.get_block_number().await.expect("head");
    let epoch = epochs.epoch_of(head) + 1;
    mine_to(&provider, epoch * u64::from(EPOCH))
        .await
        .expect("anvil_mine");
    let all = certify(&devnet, d.avs, &ops, &[]).await;
    let without_2 = certify(&devnet, d.avs, &ops, &[2]).await;
    assert_eq!(
        epochs.epoch_of(provider.get_block_number().await.expect("head")),
        epoch,
        "both in the epoch"
    );

    // The claims the chain supports: operators 0 and 1 signed both, 2 only the first.
    let claims = epochs.claims(epoch).await.expect("claims");
    assert_eq!(claims.len(), 3);
    for claim in &claims {
        let expected: Vec<U256> = if claim.operator == ops[2].address {
            vec![U256::from(all)]
        } else {
            vec![U256::from(all), U256::from(without_2)]
        };
        assert_eq!(claim.task_ids, expected, "{}", claim.operator);
    }
    let second = claims
        .iter()
        .find(|c| c.operator == ops[0].address)
        .expect("operator 0");
    assert_eq!(second.non_signers[1], vec![ops[2].address]);

    // The owner funds 500 tokens; the epoch must be over before anyone claims.
    let token = LiquidStakingToken::new(d.token, provider.clone());
    mined(
        &provider,
        token.mint(d.owner, ether(500)).send().await.expect("send"),
    )
    .await
    .expect("mint");
    epochs
        .fund(epoch, d.token, ether(500), Split::SignedStake)
        .await
        .expect("fund");
    assert!(
        epochs.claim(epoch, &claims[0]).await.is_err(),
        "refused before the epoch ends"
    );
    mine_to(&provider, epochs.end_of(epoch))
        .await
        .expect("anvil_mine");
    let paid = epochs.distribute(epoch).await.expect("distribute");
    assert_eq!(paid.len(), 3);
    let core = DevnetCore::new(d.core, provider.clone());
    let latest = BlockId::latest();
    // Signed stake: 3 x 32 + 2 x 32 = 160; operators 0 and 1 hold 64 each, 2 holds 32.
    for (i, share) in [(0, 200u64), (1, 200), (2, 100)] {
        let owed = core
            .pending_rewards(ops[i].address, d.token, latest)
            .await
            .expect("pending");
        assert!(
            ether(share) - owed < U256::from(1_000_000u64),
            "operator {i}: {owed}"
        );
    }
    assert!(
        epochs.distribute(epoch).await.expect("again").is_empty(),
        "nothing twice"
    );
    let pot = epochs.pot(epoch).await.expect("pot");
    assert!(pot.paid <= pot.amount);

    // Operator 2 claims its commission and its own shares' rewards in one go.
    let operator_2 = core_as(&devnet, d.core, 3);
    let before = token
        .balanceOf(ops[2].address)
        .call()
        .await
        .expect("balance");
    let claimed = operator_2.claim_rewards(d.token).await.expect("claim");
    assert!(ether(100) - claimed < U256::from(1_000_000u64));
    assert_eq!(
        token
            .balanceOf(ops[2].address)
            .call()
            .await
            .expect("balance")
            - before,
        claimed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exposure_shows_a_queued_slash_until_it_executes() {
    let devnet = Devnet::start(6).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let ops = devnet
        .onboard_operators(&d, 3, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();
    let core = RestakingCore::new(d.core, provider.clone());
    let token = LiquidStakingToken::new(d.token, provider.clone());
    // A staker delegates 8 tokens to operator 0, which allocates half to the AVS.
    let staker = devnet.accounts()[5];
    mined(
        &provider,
        token
            .mint(staker, ether(8))
            .from(d.owner)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("mint");
    mined(
        &provider,
        token
            .approve(d.core, ether(8))
            .from(staker)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("approve");
    mined(
        &provider,
        core.delegate(ops[0].address)
            .from(staker)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("delegate");
    mined(
        &provider,
        core.deposit(ether(8))
            .from(staker)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("deposit");
    let restaking = DevnetCore::new(d.core, provider.clone());
    let core_as_0 = core_as(&devnet, d.core, 1);
    core_as_0.opt_in(d.avs, 5_000).await.expect("decrease");

    let head = provider.get_block_number().await.expect("head");
    let before = exposure(&restaking, &provider, staker, head)
        .await
        .expect("exposure");
    assert_eq!(before.operator, Some(ops[0].address));
    assert!(ether(8) - before.stake < U256::from(10u64));
    assert_eq!(before.avs.len(), 1);
    // A decrease waits for the withdrawal delay: the full allocation stays at risk.
    assert_eq!(before.avs[0].allocation.bps, 10_000);
    assert!(before.avs[0].allocation.pending.is_some());
    assert_eq!(before.avs[0].at_risk, before.stake);
    assert_eq!(before.worst_case, before.stake);
    assert!(before.avs[0].pending_slashes.is_empty());

    // The AVS sets a veto window; operator 0 equivocates and is proven.
    let avs = BasicAVS::new(d.avs, provider.clone());
    let veto = SlashVeto::new(
        avs.slashVeto().call().await.expect("veto"),
        provider.clone(),
    );
    mined(
        &provider,
        veto.setVeto(d.owner, 5)
            .from(d.owner)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("set veto");
    let task = create_task(&provider, d.avs, b"input", 6000, 10)
        .await
        .expect("task");
    let ctx = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain id"),
        avs: d.avs.into_array(),
    };
    let proof =
        Equivocation::sign_responses(ctx, &ops[0].key, ops[0].address, task.task_id, b"42", b"43");
    let queued = match challenge(
        &provider,
        d.avs,
        task.task_id,
        &bulwark_core::SlashingProof::encode(&proof),
    )
    .await
    .expect("challenge")
    {
        Challenged::Queued(q) => q,
        Challenged::Slashed(s) => panic!("a veto window is set, yet slashed at once: {s:?}"),
    };
    assert_eq!(queued.operator, ops[0].address);

    let head = provider.get_block_number().await.expect("head");
    let during = exposure(&restaking, &provider, staker, head)
        .await
        .expect("exposure");
    let pending = &during.avs[0].pending_slashes;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].ready_block, queued.ready_block);
    // 10% of the staker's stake at risk.
    assert_eq!(
        pending[0].staker_loss,
        during.avs[0].at_risk / U256::from(10)
    );
    assert_eq!(during.pending_loss, pending[0].staker_loss);

    let err = execute_slash(&provider, d.avs, queued.slash_id)
        .await
        .expect_err("the window is open");
    assert!(err.to_string().contains("VetoWindowOpen"), "{err}");
    mine_to(&provider, queued.ready_block)
        .await
        .expect("anvil_mine");
    let slashed = execute_slash(&provider, d.avs, queued.slash_id)
        .await
        .expect("executed");
    assert_eq!(slashed.operator, ops[0].address);
    let head = provider.get_block_number().await.expect("head");
    let after = exposure(&restaking, &provider, staker, head)
        .await
        .expect("exposure");
    assert!(after.avs[0].pending_slashes.is_empty());
    let lost = before.stake - after.stake;
    assert!(
        lost.abs_diff(before.stake / U256::from(10)) < U256::from(10u64),
        "the staker lost 10%: {lost}"
    );
}
