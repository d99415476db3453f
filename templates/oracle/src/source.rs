//! Price sources: the public ticker formats of Coinbase, Kraken and Binance, fetched
//! over HTTP with a timeout, each quote dated (by the exchange when it says, else by
//! the fetch) so stale ones can be dropped.
//!
//! # Security
//! A source is a server the operator does not control, and may lie or be taken over.
//! - Checked: the HTTP status, the body's size (at most [`MAX_BODY_BYTES`], read in
//!   chunks so a huge body is never held), its format (exact field paths, prices
//!   parsed exactly, no floats), and its age (`max_age`); a source failing any is
//!   dropped with its reason, never a panic.
//! - Assumed: fewer than half of an operator's sources lie at once; the median of the
//!   usable ones is its observation.
//! - What a lying source can still do: move that operator's median within the range
//!   of its honest sources, or make it observe nothing (then it neither reports nor
//!   endorses). The stake-weighted median across operators bounds what a minority of
//!   operators can move the round by.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::price::{Price, PriceError};

/// Largest ticker body read from a source; real ones are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An exchange API format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    /// Coinbase Exchange `GET /products/{pair}/ticker` (`price`, `time`).
    Coinbase,
    /// Kraken `GET /0/public/Ticker?pair={pair}` (`result.{pair}.c[0]`, no time).
    Kraken,
    /// Binance `GET /api/v3/ticker/24hr?symbol={pair}` (`lastPrice`, `closeTime`).
    Binance,
}

/// One place an operator reads a feed's price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The format.
    pub exchange: Exchange,
    /// `https://api.exchange.coinbase.com`, or the devnet price server's URL.
    pub base_url: String,
    /// The exchange's name for the pair (`ETH-USD`, `XETHZUSD`, `ETHUSDT`).
    pub pair: String,
}

/// A price as one source quoted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The price.
    pub price: Price,
    /// When the exchange says it traded (or when it was fetched, if it does not say).
    pub at: SystemTime,
}

/// Why a source gave no usable quote.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The request failed or timed out.
    #[error("request failed: {0}")]
    Http(String),
    /// The server answered with an error status.
    #[error("HTTP {0}")]
    Status(u16),
    /// The body is not the exchange's format.
    #[error("unexpected response: {0}")]
    Format(String),
    /// The exchange reported an error.
    #[error("exchange error: {0}")]
    Exchange(String),
    /// The price does not parse.
    #[error(transparent)]
    Price(#[from] PriceError),
    /// The quote is older than allowed.
    #[error("stale: {age:?} old")]
    Stale {
        /// How old.
        age: Duration,
    },
}

impl Source {
    /// The request URL.
    pub fn url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match self.exchange {
            Exchange::Coinbase => format!("{base}/products/{}/ticker", self.pair),
            Exchange::Kraken => format!("{base}/0/public/Ticker?pair={}", self.pair),
            Exchange::Binance => format!("{base}/api/v3/ticker/24hr?symbol={}", self.pair),
        }
    }

    /// Reads a response body of this source's format; `fetched_at` dates quotes the
    /// exchange does not date.
    pub fn parse(&self, body: &str, fetched_at: SystemTime) -> Result<Quote, SourceError> {
        let json: serde_json::Value =
            serde_json::from_str(body).map_err(|e| SourceError::Format(e.to_string()))?;
        let text = |v: Option<&serde_json::Value>, what: &str| {
            v.and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| SourceError::Format(format!("no {what}")))
        };
        match self.exchange {
            Exchange::Coinbase => {
                let price = Price::parse(&text(json.get("price"), "price")?)?;
                let time = text(json.get("time"), "time")?;
                let at = humantime::parse_rfc3339_weak(time.trim_end_matches('Z'))
                    .or_else(|_| humantime::parse_rfc3339(&time))
                    .map_err(|e| SourceError::Format(format!("time {time:?}: {e}")))?;
                Ok(Quote { price, at })
            }
            Exchange::Kraken => {
                if let Some(errors) = json.get("error").and_then(|e| e.as_array()) {
                    if !errors.is_empty() {
                        return Err(SourceError::Exchange(
                            errors
                                .iter()
                                .filter_map(|e| e.as_str())
                                .collect::<Vec<_>>()
                                .join("; "),
                        ));
                    }
                }
                let last = json
                    .get("result")
                    .and_then(|r| r.get(&self.pair))
                    .and_then(|p| p.get("c"))
                    .and_then(|c| c.get(0));
                let price = Price::parse(&text(last, "result.<pair>.c[0]")?)?;
                Ok(Quote {
                    price,
                    at: fetched_at,
                })
            }
            Exchange::Binance => {
                if let Some(msg) = json.get("msg").and_then(|m| m.as_str()) {
                    return Err(SourceError::Exchange(msg.to_string()));
                }
                let price = Price::parse(&text(json.get("lastPrice"), "lastPrice")?)?;
                let ms = json
                    .get("closeTime")
                    .and_then(|t| t.as_u64())
                    .ok_or_else(|| SourceError::Format("no closeTime".into()))?;
                Ok(Quote {
                    price,
                    at: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
                })
            }
        }
    }

    /// Fetches and parses one quote, refusing one older than `max_age`.
    pub async fn fetch(
        &self,
        client: &reqwest::Client,
        max_age: Duration,
    ) -> Result<Quote, SourceError> {
        let response = client
            .get(self.url())
            .send()
            .await
            .map_err(|e| SourceError::Http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(SourceError::Status(response.status().as_u16()));
        }
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| SourceError::Http(e.to_string()))?
        {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(SourceError::Format(format!(
                    "body larger than {MAX_BODY_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(bytes)
            .map_err(|_| SourceError::Format("body is not UTF-8".into()))?;
        let now = SystemTime::now();
        let quote = self.parse(&body, now)?;
        let age = now.duration_since(quote.at).unwrap_or_default();
        if age > max_age {
            return Err(SourceError::Stale { age });
        }
        Ok(quote)
    }
}

/// What an operator saw of a feed: the median of its usable sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The median price (the lower middle for an even count: no rounding).
    pub price: Price,
    /// The median quote time, unix seconds.
    pub at: u64,
    /// Sources used.
    pub used: usize,
    /// Sources dropped, with why.
    pub dropped: Vec<(String, String)>,
}

/// Why no observation could be made.
#[derive(Debug, thiserror::Error)]
#[error("only {usable} of {total} sources usable (need {needed}): {reasons}")]
pub struct TooFewSources {
    /// Usable sources.
    pub usable: usize,
    /// Sources asked.
    pub total: usize,
    /// Sources needed.
    pub needed: usize,
    /// Why the others failed.
    pub reasons: String,
}

/// Asks every source at once (each within `timeout`), drops failing and stale ones,
/// and returns the median of the rest if at least `needed` answered.
pub async fn observe(
    client: &reqwest::Client,
    sources: &[Source],
    max_age: Duration,
    needed: usize,
) -> Result<Observation, TooFewSources> {
    let results = futures_join(client, sources, max_age).await;
    let mut quotes = Vec::new();
    let mut dropped = Vec::new();
    for (source, result) in sources.iter().zip(results) {
        match result {
            Ok(q) => quotes.push(q),
            Err(e) => dropped.push((source.url(), e.to_string())),
        }
    }
    if quotes.len() < needed.max(1) {
        return Err(TooFewSources {
            usable: quotes.len(),
            total: sources.len(),
            needed: needed.max(1),
            reasons: dropped
                .iter()
                .map(|(u, e)| format!("{u}: {e}"))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let mut prices: Vec<Price> = quotes.iter().map(|q| q.price).collect();
    prices.sort();
    let mut times: Vec<u64> = quotes
        .iter()
        .map(|q| {
            q.at.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
        .collect();
    times.sort();
    let mid = (prices.len() - 1) / 2;
    Ok(Observation {
        price: prices[mid],
        at: times[mid],
        used: quotes.len(),
        dropped,
    })
}

async fn futures_join(
    client: &reqwest::Client,
    sources: &[Source],
    max_age: Duration,
) -> Vec<Result<Quote, SourceError>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, source) in sources.iter().enumerate() {
        let client = client.clone();
        let source = source.clone();
        tasks.spawn(async move { (i, source.fetch(&client, max_age).await) });
    }
    let mut results: Vec<Option<Result<Quote, SourceError>>> =
        (0..sources.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(SourceError::Http("fetch task failed".into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(exchange: Exchange, pair: &str) -> Source {
        Source {
            exchange,
            base_url: "http://127.0.0.1:1".into(),
            pair: pair.into(),
        }
    }

    // Bodies in the shape the exchanges' public APIs answer.
    const COINBASE: &str = r#"{"ask":"3021.46","bid":"3021.44","volume":"91234.5","trade_id":612345678,"price":"3021.45","size":"0.0412","time":"2026-11-25T08:00:00.123456Z"}"#;
    const KRAKEN: &str = r#"{"error":[],"result":{"XETHZUSD":{"a":["3021.46000","12","12.000"],"b":["3021.44000","3","3.000"],"c":["3021.45000","0.04120000"],"v":["1000.1","20000.2"],"p":["3010.1","3001.2"],"t":[1000,20000],"l":["2990.00","2950.00"],"h":["3030.00","3050.00"],"o":"3000.00"}}}"#;
    const BINANCE: &str = r#"{"symbol":"ETHUSDT","priceChange":"21.45","priceChangePercent":"0.715","lastPrice":"3021.45000000","openTime":1795939200000,"closeTime":1795996800000,"count":123456}"#;

    #[test]
    fn parses_each_exchange_format() {
        let now = SystemTime::now();
        let expected = Price::parse("3021.45").expect("price");
        let cb = source(Exchange::Coinbase, "ETH-USD")
            .parse(COINBASE, now)
            .expect("coinbase");
        assert_eq!(cb.price, expected);
        assert_ne!(cb.at, now, "dated by the exchange");
        let kr = source(Exchange::Kraken, "XETHZUSD")
            .parse(KRAKEN, now)
            .expect("kraken");
        assert_eq!((kr.price, kr.at), (expected, now));
        let bn = source(Exchange::Binance, "ETHUSDT")
            .parse(BINANCE, now)
            .expect("binance");
        assert_eq!(bn.price, expected);
        assert_eq!(
            bn.at,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_996_800_000)
        );
    }

    #[test]
    fn errors_and_wrong_shapes_are_refused() {
        let now = SystemTime::now();
        let kraken = source(Exchange::Kraken, "XETHZUSD");
        assert!(matches!(
            kraken.parse(r#"{"error":["EQuery:Unknown asset pair"]}"#, now),
            Err(SourceError::Exchange(_))
        ));
        assert!(matches!(
            kraken.parse(KRAKEN.replace("XETHZUSD", "XXBTZUSD").as_str(), now),
            Err(SourceError::Format(_))
        ));
        let binance = source(Exchange::Binance, "ETHUSDT");
        assert!(matches!(
            binance.parse(r#"{"code":-1121,"msg":"Invalid symbol."}"#, now),
            Err(SourceError::Exchange(_))
        ));
        let coinbase = source(Exchange::Coinbase, "ETH-USD");
        assert!(coinbase.parse("<html>", now).is_err());
        assert!(
            coinbase
                .parse(&COINBASE.replace("3021.45", "-1"), now)
                .is_err()
        );
        assert!(
            coinbase
                .parse(&COINBASE.replace("2026-11-25T", "yesterday "), now)
                .is_err()
        );
    }

    #[test]
    fn urls_follow_each_api() {
        assert_eq!(
            source(Exchange::Coinbase, "ETH-USD").url(),
            "http://127.0.0.1:1/products/ETH-USD/ticker"
        );
        assert_eq!(
            source(Exchange::Kraken, "XETHZUSD").url(),
            "http://127.0.0.1:1/0/public/Ticker?pair=XETHZUSD"
        );
        assert_eq!(
            source(Exchange::Binance, "ETHUSDT").url(),
            "http://127.0.0.1:1/api/v3/ticker/24hr?symbol=ETHUSDT"
        );
    }
}
