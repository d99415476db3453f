//! Slashes behind an AVS's veto window, as challengers see them on anvil: a challenge
//! queues the slash, the challenger remembers it across a restart and executes it
//! once the window has passed; another challenger executes a slash it never proved
//! (read from the chain's queue; the bounty still goes to the prover); a vetoed slash
//! is never executed.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use bulwark_chain::bindings::{BasicAVS, LiquidStakingToken, RestakingCore, SlashVeto};
use bulwark_chain::devnet::{DeployConfig, DevOperator, Devnet, ether, mine_to, mined};
use bulwark_chain::slashing::Equivocation;
use bulwark_chain::tasks::create_task;
use bulwark_core::{SigningContext, SlashingProof};
use bulwark_node::challenger::{Challenger, Executed, Handled};

const VETO: u32 = 4;

/// Operator `op` signing two answers to a new task: the evidence, and the task.
async fn equivocate(devnet: &Devnet, avs: Address, op: &DevOperator) -> (Vec<u8>, u64) {
    let task = create_task(devnet.provider(), avs, b"input", 6000, 10)
        .await
        .expect("task");
    let context = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain id"),
        avs: avs.into_array(),
    };
    let proof =
        Equivocation::sign_responses(context, &op.key, op.address, task.task_id, b"yes", b"no");
    (proof.encode(), task.task_id)
}

fn signing_as(devnet: &Devnet, index: usize) -> DynProvider {
    let signer = devnet.signer(index).expect("a dev account");
    bulwark_chain::provider::connect(&devnet.endpoint(), Some(EthereumWallet::from(signer)))
        .expect("provider")
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_slashes_are_executed_once_ready_and_vetoed_ones_never() {
    let devnet = Devnet::start(8).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let ops = devnet
        .onboard_operators(&d, 3, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();
    let avs = BasicAVS::new(d.avs, provider.clone());
    let veto = SlashVeto::new(
        avs.slashVeto().call().await.expect("veto"),
        provider.clone(),
    );
    let resolver = devnet.accounts()[7];
    mined(
        &provider,
        veto.setVeto(resolver, VETO)
            .from(d.owner)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("veto set");
    // 10% of each slash goes to whoever proved it.
    mined(
        &provider,
        avs.setSlashDestination(Address::repeat_byte(0x7e), 1000)
            .from(d.owner)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("bounty set");
    let core = RestakingCore::new(d.core, provider.clone());
    let token = LiquidStakingToken::new(d.token, provider.clone());
    let dir = tempfile::tempdir().expect("tempdir");

    // Challenger A proves operator 0's equivocation: the slash is queued, remembered.
    let (evidence, task) = equivocate(&devnet, d.avs, &ops[0]).await;
    let a_state = dir.path().join("a.redb");
    let a_account = devnet.accounts()[5];
    {
        let a = Challenger::open(signing_as(&devnet, 5), d.avs, &a_state)
            .await
            .expect("open");
        let Handled::Queued(queued) = a.handle(task, &evidence).await else {
            panic!("a veto window is set: the slash must be queued");
        };
        assert_eq!(queued.operator, ops[0].address);
        assert_eq!(a.queued().expect("state").len(), 1);
        // Not before the window has passed.
        let head = provider.get_block_number().await.expect("head");
        assert!(a.execute_ready(head).await.is_empty());
    }
    assert_eq!(
        core.slashableStake(ops[0].address)
            .call()
            .await
            .expect("stake"),
        ether(32)
    );

    // Restarted, A still knows it and executes it once ready.
    let a = Challenger::open(signing_as(&devnet, 5), d.avs, &a_state)
        .await
        .expect("reopen");
    assert_eq!(a.queued().expect("state").len(), 1);
    assert_eq!(a.handle(task, &evidence).await, Handled::Known);
    let ready = veto
        .slash(U256::ZERO)
        .call()
        .await
        .expect("slash")
        .readyBlock;
    mine_to(&provider, u64::from(ready))
        .await
        .expect("anvil_mine");
    let done = a.execute_ready(u64::from(ready)).await;
    assert!(
        matches!(done.as_slice(), [(0, Executed::Landed(s))] if s.operator == ops[0].address),
        "{done:?}"
    );
    assert!(a.queued().expect("state").is_empty());
    let left = core
        .slashableStake(ops[0].address)
        .call()
        .await
        .expect("stake");
    assert_eq!(ether(32) - left, ether(32) / U256::from(10));
    assert_eq!(
        token.balanceOf(a_account).call().await.expect("balance"),
        ether(32) / U256::from(100),
        "A's bounty"
    );

    // Operator 1 proven by someone without a challenger; B, which never saw the
    // evidence, finds the queued slash on chain and executes it; the bounty is the
    // prover's. Operator 2's queued slash is vetoed: B never executes it.
    let prover = devnet.accounts()[6];
    for op in &ops[1..] {
        let (evidence, task) = equivocate(&devnet, d.avs, op).await;
        bulwark_chain::slashing::challenge(&signing_as(&devnet, 6), d.avs, task, &evidence)
            .await
            .expect("queued");
    }
    mined(
        &provider,
        veto.veto(U256::from(2))
            .from(resolver)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("vetoed");
    let b = Challenger::open(signing_as(&devnet, 4), d.avs, &dir.path().join("b.redb"))
        .await
        .expect("open");
    let head = provider.get_block_number().await.expect("head");
    assert!(b.execute_ready(head).await.is_empty(), "not ready yet");
    mine_to(&provider, head + u64::from(VETO))
        .await
        .expect("anvil_mine");
    let head = provider.get_block_number().await.expect("head");
    let done = b.execute_ready(head).await;
    assert!(
        matches!(done.as_slice(), [(1, Executed::Landed(s))] if s.operator == ops[1].address),
        "{done:?}"
    );
    assert_eq!(
        token.balanceOf(prover).call().await.expect("balance"),
        ether(32) / U256::from(100),
        "the prover's bounty"
    );
    assert_eq!(
        core.slashableStake(ops[2].address)
            .call()
            .await
            .expect("stake"),
        ether(32),
        "vetoed: never slashed"
    );
    assert!(b.execute_ready(head + 10).await.is_empty(), "nothing left");
}
