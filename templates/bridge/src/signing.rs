//! An operator's bridge duty: follow both outboxes and the home chain's committed
//! tables, sign what is deep enough, and hand the signatures to whoever asks over
//! HTTP (the relayer, or anyone: a signature on a released message is meant to be
//! public).
//!
//! What is signed, and nothing else:
//! - a message the home outbox emitted for the remote chain, once `confirmations`
//!   deep on the home chain: its delivery to the remote inbox;
//! - a message the remote outbox emitted for the home chain, once `confirmations`
//!   deep there: its delivery to the home inbox;
//! - a table `BridgeHome` committed, once `confirmations` deep: its installation in
//!   the remote table contract.
//!
//! Each is exactly what `BridgeHome` can never prove an offence on (the outbox sent
//! it; the table was committed), unless a reorg deeper than `confirmations` undoes
//! it.
//!
//! # Security
//! The HTTP side only reads: `GET /v1/signatures/0x<digest>` answers the signature
//! this operator made on that digest, or 404. A path that is not a 32-byte hex digest
//! is a 400. Nothing a request carries reaches the signing key, and the book of
//! signatures is bounded (the oldest are forgotten first).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use bulwark::alloy::primitives::{Address, B256, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::alloy::rpc::types::Filter;
use bulwark::alloy::sol_types::SolEvent;
use bulwark::chain::ChainError;
use bulwark::crypto::{SecretKey, Signature};

use crate::contracts::IBridgeHome::TableCommitted;
use crate::relay;
use crate::watch::OutboxWatcher;

/// Where the bridge lives on both chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The home chain's id.
    pub home_chain: u64,
    /// The remote chain's id.
    pub remote_chain: u64,
    /// `BridgeHome` (the AVS, registry and table commits).
    pub home_avs: Address,
    /// The home outbox (`BridgeHome.outbox()`).
    pub home_outbox: Address,
    /// The home inbox (messages from the remote chain).
    pub home_inbox: Address,
    /// The remote outbox.
    pub remote_outbox: Address,
    /// The remote operator table.
    pub remote_table: Address,
    /// The remote inbox.
    pub remote_inbox: Address,
}

/// The signatures an operator made, by digest; bounded, oldest forgotten first.
#[derive(Clone)]
pub struct SignatureBook {
    inner: Arc<Mutex<Book>>,
}

struct Book {
    by_digest: HashMap<B256, Signature>,
    order: VecDeque<B256>,
    capacity: usize,
}

impl SignatureBook {
    /// A book keeping the last `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Book {
                by_digest: HashMap::new(),
                order: VecDeque::new(),
                capacity: capacity.max(1),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding the lock leaves only a map behind: keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `signature` on `digest`.
    pub fn insert(&self, digest: B256, signature: Signature) {
        let mut book = self.lock();
        if book.by_digest.insert(digest, signature).is_none() {
            book.order.push_back(digest);
        }
        while book.order.len() > book.capacity {
            if let Some(old) = book.order.pop_front() {
                book.by_digest.remove(&old);
            }
        }
    }

    /// The signature on `digest`, if this operator made one.
    pub fn get(&self, digest: &B256) -> Option<Signature> {
        self.lock().by_digest.get(digest).copied()
    }

    /// How many signatures it holds.
    pub fn len(&self) -> usize {
        self.lock().by_digest.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The HTTP side: `GET /v1/signatures/0x<digest>`.
pub fn router(book: SignatureBook) -> axum::Router {
    axum::Router::new()
        .route("/v1/signatures/{digest}", get(signature))
        .with_state(book)
}

async fn signature(
    State(book): State<SignatureBook>,
    Path(digest): Path<String>,
) -> Result<String, (StatusCode, &'static str)> {
    let digest: B256 = digest
        .parse()
        .map_err(|_| (StatusCode::BAD_REQUEST, "not a 32-byte hex digest"))?;
    book.get(&digest)
        .map(|s| {
            format!(
                "0x{}",
                bulwark::alloy::primitives::hex::encode(s.to_uncompressed())
            )
        })
        .ok_or((StatusCode::NOT_FOUND, "not signed"))
}

/// One operator's duty on both chains.
pub struct Duty {
    key: SecretKey,
    d: Deployment,
    home: DynProvider,
    confirmations: u64,
    home_watch: OutboxWatcher,
    remote_watch: OutboxWatcher,
    /// The next home block to read `TableCommitted` from.
    tables_from: u64,
    book: SignatureBook,
}

impl Duty {
    /// The duty of the operator holding `key` on the bridge `d`, reading both chains
    /// from block `from_home` / `from_remote`, signing at `confirmations` deep.
    pub fn new(
        key: SecretKey,
        d: Deployment,
        home: DynProvider,
        remote: DynProvider,
        (from_home, from_remote): (u64, u64),
        confirmations: u64,
        book: SignatureBook,
    ) -> Self {
        Self {
            key,
            d,
            home_watch: OutboxWatcher::new(
                home.clone(),
                d.home_outbox,
                d.home_chain,
                from_home,
                confirmations,
            ),
            remote_watch: OutboxWatcher::new(
                remote,
                d.remote_outbox,
                d.remote_chain,
                from_remote,
                confirmations,
            ),
            home,
            confirmations,
            tables_from: from_home,
            book,
        }
    }

    /// Reads both chains once and signs what became deep enough; returns how many
    /// signatures it made.
    pub async fn step(&mut self) -> Result<usize, ChainError> {
        let mut made = 0;
        for m in self.home_watch.poll().await? {
            if m.destination_chain_id == U256::from(self.d.remote_chain) {
                let digest = relay::delivery(self.d.remote_chain, self.d.remote_inbox, &m);
                self.book.insert(digest, relay::sign(&self.key, digest));
                made += 1;
            }
        }
        for m in self.remote_watch.poll().await? {
            if m.destination_chain_id == U256::from(self.d.home_chain) {
                let digest = relay::delivery(self.d.home_chain, self.d.home_inbox, &m);
                self.book.insert(digest, relay::sign(&self.key, digest));
                made += 1;
            }
        }
        let head = self.home.get_block_number().await?;
        if let Some(deep) = head.checked_sub(self.confirmations)
            && deep >= self.tables_from
        {
            let deep = deep.min(self.tables_from.saturating_add(crate::watch::LOG_SPAN - 1));
            let filter = Filter::new()
                .address(self.d.home_avs)
                .event_signature(TableCommitted::SIGNATURE_HASH)
                .from_block(self.tables_from)
                .to_block(deep);
            for log in self.home.get_logs(&filter).await? {
                // The node's filter is not trusted to have filtered.
                if log.address() != self.d.home_avs {
                    continue;
                }
                let Ok(event) = TableCommitted::decode_log(&log.inner) else {
                    continue;
                };
                let digest = relay::update_digest(
                    self.d.home_chain,
                    self.d.home_avs,
                    self.d.remote_chain,
                    self.d.remote_table,
                    &event.data.table,
                );
                self.book.insert(digest, relay::sign(&self.key, digest));
                made += 1;
            }
            self.tables_from = deep + 1;
        }
        Ok(made)
    }
}
