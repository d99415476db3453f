//! The oracle end to end on anvil: the keeper starts rounds, four operators read a
//! local price server and report, the aggregator proposes the stake-weighted median,
//! the endorsements land as rounds on `OracleAVS`. One operator reads a lying
//! exchange: it cannot move the value, is left out, and the evidence is on disk. A
//! failing source is dropped; with too few sources nobody reports and no round lands,
//! until they recover.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use bulwark::chain::devnet::{DeployConfig, Devnet, ether, mined};
use bulwark::crypto::SecretKey;
use bulwark::crypto::keystore::{Kdf, Keystore};
use bulwark::node::aggregator::EvidenceRecord;
use bulwark::node::config::{AggregatorConfig, ChainConfig, OperatorConfig, SecretSource};
use bulwark::node::supervise::free_port;
use oracle_avs::bindings::OracleAVS;
use oracle_avs::config::{FeedConfig, KeeperConfig, OracleConfig};
use oracle_avs::price::Price;
use oracle_avs::price_server::{Mode, PriceServer};
use oracle_avs::round::feed_id;
use oracle_avs::service;
use oracle_avs::source::Exchange;
use tokio::sync::watch;

const FEED: &str = "ETH/USD";
const OPERATORS: usize = 4;
const LIAR: usize = 3;

fn settings(server: &PriceServer, keeper: Option<KeeperConfig>) -> toml::Table {
    OracleConfig {
        feeds: vec![FeedConfig {
            name: FEED.into(),
            sources: server.sources(FEED),
            heartbeat_s: 3_600,
            deviation_bps: 50,
        }],
        tolerance_bps: 100,
        max_quote_age_s: 30,
        min_sources: 2,
        fetch_timeout_ms: 1_000,
        keeper,
        endorse_anything: false,
    }
    .to_table()
    .expect("settings")
}

async fn latest(avs: &OracleAVS::OracleAVSInstance<alloy::providers::DynProvider>) -> u64 {
    avs.feeds(feed_id(FEED).expect("id"))
        .call()
        .await
        .map(|f| f.latestRound)
        .unwrap_or(0)
}

/// Waits until round `round` of the feed has landed.
async fn until_round(
    avs: &OracleAVS::OracleAVSInstance<alloy::providers::DynProvider>,
    round: u64,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while latest(avs).await < round {
        assert!(
            tokio::time::Instant::now() < deadline,
            "round {round} did not land in time ({what})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn evidence(path: &Path) -> Vec<EvidenceRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an evidence record"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_land_liars_are_left_out_and_failing_sources_are_handled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let devnet = Devnet::start(OPERATORS as u32 + 3).expect("anvil (run `make tools`)");
    let deployment = devnet
        .deploy(&DeployConfig {
            avs_code: OracleAVS::BYTECODE.clone(),
            ..DeployConfig::default()
        })
        .await
        .expect("deploy");
    let provider = devnet.provider().clone();
    let avs = OracleAVS::new(deployment.avs, provider.clone());
    let feed: B256 = feed_id(FEED).expect("id");
    mined(
        &provider,
        avs.configureFeed(feed, 3_600, 50, 8)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("feed configured");
    let keeper_account = devnet.signer(OPERATORS + 2).expect("keeper account");
    mined(
        &provider,
        avs.setTaskCreator(keeper_account.address(), true)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("keeper allowed");

    let honest = PriceServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        &[(FEED, 3_000.0)],
        Duration::from_millis(300),
    )
    .await
    .expect("honest exchange");
    let lying = PriceServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        &[(FEED, 3_000.0)],
        Duration::from_secs(3_600),
    )
    .await
    .expect("lying exchange");
    for exchange in [Exchange::Coinbase, Exchange::Kraken, Exchange::Binance] {
        lying.set_mode(exchange, Mode::Lying { factor: 1.25 });
    }

    let password = dir.path().join("password.txt");
    std::fs::write(&password, "e2e-password").expect("password");
    let mut operators: Vec<Address> = Vec::new();
    let mut keys: Vec<SecretKey> = Vec::new();
    for i in 0..OPERATORS {
        let address = devnet.accounts()[i + 1];
        let key = SecretKey::random().expect("key");
        devnet
            .onboard_operator(&deployment, address, ether(32), &key)
            .await
            .expect("onboard");
        operators.push(address);
        keys.push(key);
    }
    // From here on a block every second, as on a real chain.
    let _: serde_json::Value = provider
        .raw_request("evm_setIntervalMining".into(), (1,))
        .await
        .expect("interval mining");

    let head = provider.get_block_number().await.expect("head");
    let chain = ChainConfig {
        rpc_url: devnet.endpoint().to_string(),
        avs: deployment.avs,
        from_block: Some(head),
        poll_ms: 200,
    };
    let grpc = free_port().expect("port");
    let submitter = devnet.signer(OPERATORS + 1).expect("submitter");
    std::fs::write(
        dir.path().join("submitter.key"),
        alloy::hex::encode(submitter.to_bytes()),
    )
    .expect("key file");
    std::fs::write(
        dir.path().join("keeper.key"),
        alloy::hex::encode(keeper_account.to_bytes()),
    )
    .expect("key file");
    let evidence_path = dir.path().join("evidence.jsonl");
    let mut aggregator = AggregatorConfig::local(chain.clone(), grpc, grpc);
    aggregator.telemetry.listen = None;
    aggregator.aggregator.store = Some(dir.path().join("aggregator.redb"));
    aggregator.aggregator.evidence = Some(evidence_path.clone());
    aggregator.aggregator.submitter_key = SecretSource::File(dir.path().join("submitter.key"));
    aggregator.avs = settings(
        &honest,
        Some(KeeperConfig {
            interval_ms: 500,
            key: Some(SecretSource::File("keeper.key".into())),
            ..KeeperConfig::default()
        }),
    );

    let (stop_tx, stop) = watch::channel(false);
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let mut runtimes = Vec::new();
    let config_dir: PathBuf = dir.path().to_path_buf();
    runtimes.push(tokio::spawn({
        let stop = stopped(stop.clone());
        async move {
            service::run_aggregator(aggregator, &config_dir, None, stop)
                .await
                .map_err(|e| e.to_string())
        }
    }));
    for (i, (address, key)) in operators.iter().zip(&keys).enumerate() {
        let keystore = dir.path().join(format!("operator-{i}.json"));
        std::fs::write(
            &keystore,
            Keystore::encrypt(key, "e2e-password", Kdf::Pbkdf2 { c: 1024 }, "")
                .expect("encrypt")
                .to_json(),
        )
        .expect("keystore");
        let mut config = OperatorConfig::local(
            chain.clone(),
            *address,
            keystore,
            password.clone(),
            grpc,
            grpc,
        );
        config.telemetry.listen = None;
        config.avs = settings(if i == LIAR { &lying } else { &honest }, None);
        let stop = stopped(stop.clone());
        runtimes.push(tokio::spawn(async move {
            service::run_operator(config, stop)
                .await
                .map_err(|e| e.to_string())
        }));
    }

    // 1. Rounds land, at the honest price, endorsed by the honest 3/4 of the stake.
    until_round(&avs, 2, "all sources up").await;
    let round = avs.getRound(feed, 2).call().await.expect("round 2");
    let truth = honest.price(FEED).expect("price");
    let value = Price(u128::try_from(round.value).expect("fits"));
    assert!(
        truth.deviation_bps(value) < 300,
        "round value {value} is far from the honest price {truth}"
    );
    assert!(
        value.0 < Price::from_f64(3_000.0 * 1.1).0,
        "the liar moved the value: {value}"
    );
    assert_eq!(round.totalStakeGwei, 4 * 32_000_000_000);
    assert_eq!(
        round.signedStakeGwei,
        3 * 32_000_000_000,
        "the liar does not endorse a value 25% from its own"
    );
    let newest = avs.latestRound(feed).call().await.expect("latestRound");
    assert!(newest.roundId >= 2 && newest.value > alloy::primitives::U256::ZERO);
    let records = evidence(&evidence_path);
    let liar = format!("{:?}", operators[LIAR]).to_lowercase();
    assert!(
        records.iter().any(|r| r.operator.to_lowercase() == liar),
        "the liar's report is kept as evidence: {records:?}"
    );
    assert!(
        records.iter().all(|r| r.operator.to_lowercase() == liar),
        "only the liar is an outlier: {records:?}"
    );
    let record = &records[0];
    assert_eq!(
        record.avs.to_lowercase(),
        format!("{:?}", deployment.avs).to_lowercase()
    );
    assert!(
        record.reason.contains("bps from the median"),
        "{}",
        record.reason
    );

    // 2. One exchange down: operators drop it and rounds keep landing.
    honest.set_mode(Exchange::Kraken, Mode::Down);
    let before = latest(&avs).await;
    honest.set_price(FEED, 3_000.0 * 1.03);
    until_round(&avs, before + 2, "one source down").await;

    // 3. A second exchange stale: too few sources, nobody reports, no round lands.
    honest.set_mode(
        Exchange::Binance,
        Mode::Stale {
            age: Duration::from_secs(600),
        },
    );
    // A round the keeper started just before may still land; wait for it to settle.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let frozen = latest(&avs).await;
    honest.set_price(FEED, 3_000.0 * 1.08);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        latest(&avs).await,
        frozen,
        "no round may land from a single source"
    );

    // 4. Sources recover: rounds resume.
    honest.set_mode(Exchange::Kraken, Mode::Honest);
    honest.set_mode(Exchange::Binance, Mode::Honest);
    until_round(&avs, frozen + 1, "sources recovered").await;
    let round = avs.getRound(feed, frozen + 1).call().await.expect("round");
    let value = Price(u128::try_from(round.value).expect("fits"));
    let truth = honest.price(FEED).expect("price");
    assert!(
        truth.deviation_bps(value) < 300,
        "round value {value} is far from the honest price {truth}"
    );

    let _ = stop_tx.send(true);
    for runtime in runtimes {
        let result = tokio::time::timeout(Duration::from_secs(20), runtime)
            .await
            .expect("runtime stops")
            .expect("no panic");
        assert_eq!(result, Ok(()), "runtime ended with an error");
    }
    honest.stop().await;
    lying.stop().await;
}
