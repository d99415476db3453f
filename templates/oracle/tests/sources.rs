//! Operators' observations against the local price server over real HTTP: all three
//! formats agree, and a source that fails, goes stale or lies is handled.

use std::time::Duration;

use oracle_avs::price::Price;
use oracle_avs::price_server::{Mode, PriceServer};
use oracle_avs::source::{Exchange, observe};

async fn server() -> PriceServer {
    // A slow tick: the walk must not move between the server's quote and the check.
    PriceServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        &[("ETH/USD", 3000.0), ("BTC/USD", 64000.0)],
        Duration::from_secs(3600),
    )
    .await
    .expect("price server")
}

#[tokio::test]
async fn every_format_reads_the_same_price() {
    let server = server().await;
    let client = reqwest::Client::new();
    for feed in ["ETH/USD", "BTC/USD"] {
        let seen = observe(&client, &server.sources(feed), Duration::from_secs(30), 3)
            .await
            .expect("observation");
        assert_eq!(seen.used, 3, "{:?}", seen.dropped);
        let expected = server.price(feed).expect("price");
        // The server quotes 2 decimals.
        assert!(
            expected.deviation_bps(seen.price) <= 1,
            "{} vs {expected}",
            seen.price
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn failing_stale_and_lying_sources() {
    let server = server().await;
    let client = reqwest::Client::new();
    let sources = server.sources("ETH/USD");
    let max_age = Duration::from_secs(30);

    server.set_mode(Exchange::Kraken, Mode::Down);
    let seen = observe(&client, &sources, max_age, 2)
        .await
        .expect("two left");
    assert_eq!(seen.used, 2);
    assert!(
        seen.dropped[0].0.contains("Ticker") && seen.dropped[0].1.contains("503"),
        "{:?}",
        seen.dropped
    );

    server.set_mode(
        Exchange::Coinbase,
        Mode::Stale {
            age: Duration::from_secs(120),
        },
    );
    let err = observe(&client, &sources, max_age, 2)
        .await
        .expect_err("one left");
    assert!(err.reasons.contains("stale"), "{err}");
    assert_eq!(err.usable, 1);

    // One lying source among three cannot move an operator's median.
    server.set_mode(Exchange::Kraken, Mode::Honest);
    server.set_mode(Exchange::Coinbase, Mode::Lying { factor: 10.0 });
    let seen = observe(&client, &sources, max_age, 3).await.expect("three");
    let truth = server.price("ETH/USD").expect("price");
    assert!(
        truth.deviation_bps(seen.price) <= 1,
        "{} vs {truth}",
        seen.price
    );
    assert!(seen.price < Price::parse("4000").expect("price"));

    server.set_mode(Exchange::Coinbase, Mode::Down);
    server.set_mode(Exchange::Kraken, Mode::Down);
    server.set_mode(Exchange::Binance, Mode::Down);
    assert!(observe(&client, &sources, max_age, 1).await.is_err());
    server.stop().await;
}
