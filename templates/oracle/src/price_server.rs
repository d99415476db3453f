//! A local price server for the devnet: the three exchange formats over HTTP on
//! loopback, with prices that follow a random walk, and switches to make a source
//! fail, go stale or lie, so tests and demos can show what operators do about it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::price::Price;
use crate::source::{Exchange, Source};

/// How one exchange of the server behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Quotes the current price, dated now.
    Honest,
    /// Answers HTTP 503.
    Down,
    /// Quotes the price of `age` ago, dated then (Kraken, which sends no date,
    /// simply repeats an old price).
    Stale {
        /// How old.
        age: Duration,
    },
    /// Quotes the price times `factor`.
    Lying {
        /// The factor.
        factor: f64,
    },
}

/// The exchange's pair names for a feed like `ETH/USD`.
pub fn pair_names(feed: &str) -> Option<[&'static str; 3]> {
    match feed {
        "ETH/USD" => Some(["ETH-USD", "XETHZUSD", "ETHUSDT"]),
        "BTC/USD" => Some(["BTC-USD", "XXBTZUSD", "BTCUSDT"]),
        _ => None,
    }
}

/// The three sources (one per exchange format) for `feed` on a price server at
/// `base_url`.
pub fn sources_at(base_url: &str, feed: &str) -> Vec<Source> {
    let Some(pairs) = pair_names(feed) else {
        return Vec::new();
    };
    [Exchange::Coinbase, Exchange::Kraken, Exchange::Binance]
        .into_iter()
        .zip(pairs)
        .map(|(exchange, pair)| Source {
            exchange,
            base_url: base_url.to_string(),
            pair: pair.into(),
        })
        .collect()
}

struct Market {
    /// Current price of each feed, and the history (time, price) for stale quotes.
    prices: HashMap<String, Vec<(SystemTime, f64)>>,
    modes: HashMap<&'static str, Mode>,
    seed: u64,
}

impl Market {
    fn step(&mut self) {
        let now = SystemTime::now();
        let mut feeds: Vec<_> = self.prices.keys().cloned().collect();
        feeds.sort();
        for feed in feeds {
            // xorshift64*: a deterministic walk of about ±0.2% per step.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            let unit = (self.seed % 10_000) as f64 / 10_000.0 - 0.5;
            if let Some(history) = self.prices.get_mut(&feed) {
                let last = history.last().map(|h| h.1).unwrap_or(1.0);
                history.push((now, last * (1.0 + unit * 0.004)));
                if history.len() > 10_000 {
                    history.drain(..5_000);
                }
            }
        }
    }

    fn quote(&self, feed: &str, exchange: &'static str) -> Option<(f64, SystemTime)> {
        let history = self.prices.get(feed)?;
        let (at, price) = *history.last()?;
        match self.modes.get(exchange).copied().unwrap_or(Mode::Honest) {
            Mode::Honest => Some((price, at)),
            Mode::Down => None,
            Mode::Lying { factor } => Some((price * factor, at)),
            Mode::Stale { age } => {
                let then = SystemTime::now().checked_sub(age)?;
                let old = history
                    .iter()
                    .rev()
                    .find(|h| h.0 <= then)
                    .or(history.first())?;
                Some((old.1, then))
            }
        }
    }
}

type Shared = Arc<Mutex<Market>>;

/// The running server.
pub struct PriceServer {
    addr: SocketAddr,
    market: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl PriceServer {
    /// Serves `feeds` (name, starting price) on `addr` (port 0 for any), stepping the
    /// walk every `tick`.
    pub async fn start(
        addr: SocketAddr,
        feeds: &[(&str, f64)],
        tick: Duration,
    ) -> std::io::Result<Self> {
        let now = SystemTime::now();
        let market = Arc::new(Mutex::new(Market {
            prices: feeds
                .iter()
                .map(|(f, p)| (f.to_string(), vec![(now, *p)]))
                .collect(),
            modes: HashMap::new(),
            seed: 0x9E37_79B9_7F4A_7C15,
        }));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/products/{pair}/ticker", get(coinbase))
            .route("/0/public/Ticker", get(kraken))
            .route("/api/v3/ticker/24hr", get(binance))
            .route("/health", get(|| async { "ok" }))
            .with_state(market.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let walker = market.clone();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            let walk = async move {
                let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
                loop {
                    ticker.tick().await;
                    walker.lock().unwrap_or_else(|e| e.into_inner()).step();
                }
            };
            tokio::select! {
                result = server => if let Err(err) = result {
                    tracing::error!(%err, "price server stopped");
                },
                _ = walk => {}
            }
        });
        Ok(Self {
            addr,
            market,
            stop: Some(stop),
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches one exchange's behaviour.
    pub fn set_mode(&self, exchange: Exchange, mode: Mode) {
        self.lock().modes.insert(name(exchange), mode);
    }

    /// The feed's true current price.
    pub fn price(&self, feed: &str) -> Option<Price> {
        self.lock()
            .prices
            .get(feed)
            .and_then(|h| h.last())
            .map(|h| Price::from_f64(h.1))
    }

    /// Holds the walk still or moves the feed to `price` at once (tests).
    pub fn set_price(&self, feed: &str, price: f64) {
        if let Some(history) = self.lock().prices.get_mut(feed) {
            history.push((SystemTime::now(), price));
        }
    }

    /// The three sources (one per exchange format) for `feed` on this server.
    pub fn sources(&self, feed: &str) -> Vec<Source> {
        sources_at(&format!("http://{}", self.addr), feed)
    }

    /// Stops serving.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Market> {
        self.market.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for PriceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn name(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::Coinbase => "coinbase",
        Exchange::Kraken => "kraken",
        Exchange::Binance => "binance",
    }
}

fn feed_of(pair: &str, index: usize) -> Option<&'static str> {
    ["ETH/USD", "BTC/USD"]
        .into_iter()
        .find(|f| pair_names(f).is_some_and(|p| p[index] == pair))
}

fn quote(
    market: &Shared,
    pair: &str,
    index: usize,
    exchange: &'static str,
) -> Option<(String, SystemTime)> {
    let feed = feed_of(pair, index)?;
    let (price, at) = market
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .quote(feed, exchange)?;
    Some((format!("{:.2}", price), at))
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response()
}

async fn coinbase(State(market): State<Shared>, Path(pair): Path<String>) -> Response {
    if feed_of(&pair, 0).is_none() {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "NotFound"}))).into_response();
    }
    let Some((price, at)) = quote(&market, &pair, 0, "coinbase") else {
        return unavailable();
    };
    let time = humantime::format_rfc3339_micros(at).to_string();
    Json(json!({"trade_id": 1, "price": price, "size": "0.01", "time": time, "bid": price, "ask": price, "volume": "1000"}))
        .into_response()
}

/// The value of `key` in a query string (exchange symbols need no decoding).
fn param(query: &Option<String>, key: &str) -> String {
    query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_default()
        .to_string()
}

async fn kraken(State(market): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let pair = param(&q, "pair");
    if feed_of(&pair, 1).is_none() {
        return Json(json!({"error": ["EQuery:Unknown asset pair"]})).into_response();
    }
    let Some((price, _)) = quote(&market, &pair, 1, "kraken") else {
        return unavailable();
    };
    Json(json!({"error": [], "result": {pair: {"a": [price, "1", "1.000"], "b": [price, "1", "1.000"], "c": [price, "0.01"]}}}))
        .into_response()
}

async fn binance(State(market): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let symbol = param(&q, "symbol");
    if feed_of(&symbol, 2).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": -1121, "msg": "Invalid symbol."})),
        )
            .into_response();
    }
    let Some((price, at)) = quote(&market, &symbol, 2, "binance") else {
        return unavailable();
    };
    let ms = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Json(json!({"symbol": symbol, "lastPrice": price, "closeTime": ms})).into_response()
}
