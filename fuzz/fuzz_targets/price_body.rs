//! Exchange ticker bodies (Coinbase, Kraken, Binance), as an operator's price sources
//! read them: every input is read in all three formats.
//!
//! A quote that parses has a positive price whose decimal form parses back to it.

#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use oracle_avs::price::Price;
use oracle_avs::source::{Exchange, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let fetched_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_996_800);
    for (exchange, pair) in [
        (Exchange::Coinbase, "ETH-USD"),
        (Exchange::Kraken, "XETHZUSD"),
        (Exchange::Binance, "ETHUSDT"),
    ] {
        let source = Source {
            exchange,
            base_url: "http://127.0.0.1:1".into(),
            pair: pair.into(),
        };
        let Ok(quote) = source.parse(body, fetched_at) else {
            continue;
        };
        assert!(quote.price.0 > 0);
        let text = quote.price.to_string();
        assert_eq!(
            Price::parse(&text).expect("a price's decimal form parses"),
            quote.price
        );
        // How `Source::fetch` dates it: never a panic, however far off the time.
        let _ = fetched_at.duration_since(quote.at);
    }
});
