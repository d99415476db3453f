//! Equivocation proven and slashed on anvil: the contract accepts exactly the proofs
//! `Equivocation::verify` accepts, slashes the AVS's fraction once per offence, sends
//! the assets where the AVS says, and refuses late, repeated and forged challenges.

use alloy::primitives::{Address, U256};
use bulwark_chain::ChainError;
use bulwark_chain::bindings::BasicAVS::{self, BasicAVSErrors};
use bulwark_chain::bindings::RestakingCore;
use bulwark_chain::devnet::{DeployConfig, Devnet, ether, mined};
use bulwark_chain::slashing::{Equivocation, challenge, equivocation_offence, registered_key_at};
use bulwark_chain::tasks::create_task;
use bulwark_core::{SigningContext, SlashingProof};
use bulwark_crypto::SecretKey;

fn equivocation(
    ctx: SigningContext,
    key: &SecretKey,
    operator: Address,
    task_id: u64,
    a: &[u8],
    b: &[u8],
) -> Equivocation {
    Equivocation::sign_responses(ctx, key, operator, task_id, a, b)
}

fn refusal(err: ChainError) -> BasicAVSErrors {
    match err {
        ChainError::Contract(e) => e
            .as_decoded_interface_error::<BasicAVSErrors>()
            .unwrap_or_else(|| panic!("an AVS error, got {e}")),
        other => panic!("a contract refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn equivocation_is_proven_and_slashed_once() {
    let devnet = Devnet::start(5).expect("anvil must start: run `make tools`");
    let config = DeployConfig::default();
    let d = devnet.deploy(&config).await.expect("deploy");
    let ops = devnet
        .onboard_operators(&d, 3, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();
    let avs = BasicAVS::new(d.avs, provider.clone());
    let core = RestakingCore::new(d.core, provider.clone());
    let ctx = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain id"),
        avs: d.avs.into_array(),
    };
    // The AVS pays a 10% bounty and sends the rest to its treasury.
    let treasury = Address::repeat_byte(0x7e);
    let challenger = devnet.accounts()[4];
    mined(
        &provider,
        avs.setSlashDestination(treasury, 1000)
            .from(d.owner)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("destination");

    let task = create_task(&provider, d.avs, b"input", 6000, 10)
        .await
        .expect("task");
    let e = equivocation(ctx, &ops[1].key, ops[1].address, task.task_id, b"42", b"43");
    e.verify().expect("a real equivocation holds off-chain");
    assert_eq!(
        registered_key_at(&provider, d.avs, ops[1].address, task.reference_block)
            .await
            .expect("read"),
        Some(ops[1].key.public_key()),
        "the key the contract will hold it against"
    );

    // A forgery framing operator 0 with operator 2's signature: refused off-chain
    // and on-chain alike.
    let mut framed = equivocation(ctx, &ops[0].key, ops[0].address, task.task_id, b"42", b"43");
    framed.second =
        equivocation(ctx, &ops[2].key, ops[2].address, task.task_id, b"42", b"43").second;
    assert!(framed.verify().is_err());
    let err = challenge(&provider, d.avs, task.task_id, &framed.encode())
        .await
        .expect_err("forged");
    assert!(matches!(
        refusal(err),
        BasicAVSErrors::InvalidEquivocationSignature(_)
    ));

    let before = core
        .slashableStake(ops[1].address)
        .call()
        .await
        .expect("stake");
    let slashed = {
        let avs = BasicAVS::new(d.avs, provider.clone());
        let receipt = mined(
            &provider,
            avs.challenge(U256::from(task.task_id), e.encode().into())
                .from(challenger)
                .send()
                .await
                .expect("send"),
        )
        .await
        .expect("the challenge lands");
        receipt
            .decoded_log::<BasicAVS::OperatorSlashed>()
            .expect("event")
            .data
            .clone()
    };
    assert_eq!(slashed.operator, ops[1].address);
    assert_eq!(slashed.offence, equivocation_offence());
    assert_eq!(
        slashed.wadFraction,
        U256::from(100_000_000_000_000_000u64),
        "the default 10%"
    );
    assert_eq!(slashed.slashed, ether(32) / U256::from(10));
    assert_eq!(slashed.bounty, slashed.slashed / U256::from(10));
    assert_eq!(slashed.challenger, challenger);
    let after = core
        .slashableStake(ops[1].address)
        .call()
        .await
        .expect("stake");
    assert_eq!(
        before - after,
        slashed.slashed,
        "the core lost exactly that"
    );
    let token = bulwark_chain::bindings::LiquidStakingToken::new(d.token, provider.clone());
    assert_eq!(
        token.balanceOf(treasury).call().await.expect("balance"),
        slashed.slashed - slashed.bounty
    );
    assert!(token.balanceOf(challenger).call().await.expect("balance") >= slashed.bounty);
    let head = alloy::providers::Provider::get_block_number(&provider)
        .await
        .expect("head");
    let found = avs
        .operatorAt(ops[1].address, head as u32)
        .call()
        .await
        .expect("checkpoint");
    assert_eq!(
        found.checkpoint.stakeGwei, 28_800_000_000,
        "the registry weighs what is left"
    );

    // The same offence again, by anyone: refused, and counted as such.
    let err = challenge(&provider, d.avs, task.task_id, &e.encode())
        .await
        .expect_err("used");
    assert!(matches!(refusal(err), BasicAVSErrors::AlreadySlashed(_)));

    // Too late: past the challenge window of an unanswered task.
    let late = create_task(&provider, d.avs, b"input", 6000, 5)
        .await
        .expect("task");
    let _: serde_json::Value = alloy::providers::Provider::raw_request(
        &provider,
        "anvil_mine".into(),
        (U256::from(5 + config.challenge_window + 1),),
    )
    .await
    .expect("mine");
    let e = equivocation(ctx, &ops[2].key, ops[2].address, late.task_id, b"1", b"2");
    e.verify()
        .expect("holds off-chain; the window is the chain's to say");
    let err = challenge(&provider, d.avs, late.task_id, &e.encode())
        .await
        .expect_err("late");
    assert!(matches!(
        refusal(err),
        BasicAVSErrors::ChallengeWindowClosed(_)
    ));
}
