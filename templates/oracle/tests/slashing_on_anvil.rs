//! The oracle's offence on anvil: a `FarEndorsement` built in Rust is the proof
//! `OracleAVS` takes. Beyond the feed's tolerance the operator is slashed; at the
//! tolerance the contract refuses, as `verify` does; an operator's own `Oracle`
//! reads the tolerance from chain before it endorses.

use alloy::primitives::{B256, U256};
use bulwark::chain::ChainError;
use bulwark::chain::devnet::{DeployConfig, Devnet, ether, mined};
use bulwark::chain::slashing::challenge;
use bulwark::chain::tasks::create_task;
use bulwark::core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark::crypto::{Domain, SecretKey};
use oracle_avs::bindings::OracleAVS::{self, OracleAVSErrors};
use oracle_avs::config::{FeedConfig, OracleConfig};
use oracle_avs::price::Price;
use oracle_avs::round::{Oracle, RoundAnswer, RoundInput, feed_id};
use oracle_avs::slashing::{FarEndorsement, far_endorsement_offence, tolerance_for};
use oracle_avs::source::{Exchange, Source};

fn signed(
    ctx: SigningContext,
    key: &SecretKey,
    operator: OperatorId,
    task_id: u64,
    report: RoundAnswer,
    endorsed: RoundAnswer,
    tolerance_bps: u16,
) -> FarEndorsement {
    let report_message = ctx.report_message(task_id, &ResponseDigest::of(&report.encode()));
    let endorsement = ctx.message(task_id, &ResponseDigest::of(&endorsed.encode()));
    FarEndorsement {
        context: ctx,
        task_id,
        operator,
        public_key: key.public_key(),
        report: (report, key.sign(&Domain::SIGNATURE, &report_message)),
        endorsed: (endorsed, key.sign(&Domain::SIGNATURE, &endorsement)),
        tolerance_bps,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_far_endorsement_is_slashed_and_one_at_the_tolerance_is_not() {
    let devnet = Devnet::start(3).expect("anvil (run `make tools`)");
    let d = devnet
        .deploy(&DeployConfig {
            avs_code: OracleAVS::BYTECODE.clone(),
            ..DeployConfig::default()
        })
        .await
        .expect("deploy");
    let ops = devnet
        .onboard_operators(&d, 2, ether(32))
        .await
        .expect("onboard");
    let provider = devnet.provider().clone();
    let avs = OracleAVS::new(d.avs, provider.clone());
    let feed: B256 = feed_id("ETH/USD").expect("id");
    mined(
        &provider,
        avs.configureFeed(feed, 3_600, 50, 8)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("feed");
    mined(
        &provider,
        avs.setEndorsementTolerance(feed, 100)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("tolerance");

    let input = RoundInput { feed, round: 1 };
    let task = create_task(&provider, d.avs, &input.encode(), 6000, 10)
        .await
        .expect("round");
    let tolerance = tolerance_for(
        &provider,
        d.avs,
        feed,
        task.reference_block,
        alloy::eips::BlockId::latest(),
    )
    .await
    .expect("read");
    assert_eq!(tolerance, 100);
    let ctx = SigningContext {
        chain_id: devnet.chain_id().await.expect("chain"),
        avs: d.avs.into_array(),
    };
    let at = |price: u128| RoundAnswer {
        feed,
        round: 1,
        price: Price(price),
        observed_at: 1_700_000_000,
    };
    let operator = OperatorId(ops[0].address.into_array());

    // At the tolerance: no offence, on either side.
    let honest = signed(
        ctx,
        &ops[0].key,
        operator,
        task.task_id,
        at(300_000_000_000),
        at(303_000_000_000),
        tolerance,
    );
    assert!(honest.verify().is_err());
    let err = challenge(&provider, d.avs, task.task_id, &honest.encode())
        .await
        .expect_err("within the tolerance");
    match err {
        ChainError::Contract(e) => assert!(matches!(
            e.as_decoded_interface_error::<OracleAVSErrors>(),
            Some(OracleAVSErrors::WithinTolerance(_))
        )),
        other => panic!("a contract refusal, got {other}"),
    }

    // One unit beyond: slashed by the oracle's fraction (5%).
    let far = signed(
        ctx,
        &ops[0].key,
        operator,
        task.task_id,
        at(300_000_000_000),
        at(303_000_000_001),
        tolerance,
    );
    far.verify().expect("provable off-chain");
    let slashed = challenge(&provider, d.avs, task.task_id, &far.encode())
        .await
        .expect("slashed on chain")
        .slashed()
        .expect("no veto window: slashed at once");
    assert_eq!(slashed.operator, ops[0].address);
    assert_eq!(slashed.offence, far_endorsement_offence());
    assert_eq!(slashed.amount, ether(32) * U256::from(5) / U256::from(100));
    assert_eq!(
        FarEndorsement::decode_with(&far.encode(), tolerance).expect("decodes"),
        far
    );

    // An operator whose own tolerance is looser (3%) endorses within the chain's 1%.
    let config = OracleConfig {
        feeds: vec![FeedConfig {
            name: "ETH/USD".into(),
            sources: vec![Source {
                exchange: Exchange::Coinbase,
                base_url: "http://127.0.0.1:9".into(),
                pair: "ETH-USD".into(),
            }],
            heartbeat_s: 60,
            deviation_bps: 50,
        }],
        tolerance_bps: 300,
        max_quote_age_s: 30,
        min_sources: 1,
        fetch_timeout_ms: 500,
        keeper: None,
        endorse_anything: false,
    };
    let oracle = Oracle::new(&config)
        .expect("oracle")
        .with_chain(provider.clone(), d.avs);
    assert_eq!(oracle.endorsement_limit(&feed), 300, "nothing read yet");
    let head = u32::try_from(
        alloy::providers::Provider::get_block_number(&provider)
            .await
            .expect("head"),
    )
    .expect("u32");
    oracle.refresh_tolerance(&feed, head).await.expect("read");
    assert_eq!(oracle.endorsement_limit(&feed), 100, "capped by the chain");
    // An RPC behind the task's reference block (a lagging node): no read, no report.
    assert!(oracle.refresh_tolerance(&feed, head + 1_000).await.is_err());
    assert_eq!(
        oracle.endorsement_limit(&feed),
        300,
        "the chain's value forgotten"
    );
    // Unreachable chain, nothing read before: the operator refuses to observe.
    let offline = Oracle::new(&config).expect("oracle").with_chain(
        bulwark::chain::provider::connect("http://127.0.0.1:9", None).expect("url"),
        d.avs,
    );
    assert!(offline.refresh_tolerance(&feed, head).await.is_err());
}
