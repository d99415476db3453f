//! The lander: takes certificates to the chain on its own queue, so chain following,
//! task opening and expiry never wait on a transaction.
//!
//! Each certificate is kept (in memory and in the [`Store`]) until it lands, the task
//! is answered by someone else (another aggregator: `TaskAlreadyResponded`, or a
//! `TaskResponded` the chain loop saw), or the chain passes the task's deadline
//! block. Attempts are retried with exponential backoff (200 ms doubling to 5 s); an
//! unreachable RPC endpoint only delays them. Any other revert is retried too, until
//! the deadline: a revert at estimation can come from a lagging node.
//!
//! With the submitter's address known, the lander sets each transaction's nonce
//! (the account's pending count) and fees (the node's estimate) itself and records
//! them; a transaction not mined within [`RECEIPT_WAIT`] is replaced on the next
//! attempt at the same nonce with fees an eighth higher (and at least the current
//! estimate), so one stuck under a fee spike does not hold every later one behind
//! it. Certificates are sent one at a time, oldest task first: the account's nonces
//! are sequential anyway.
//!
//! Every attempt that fails is logged and counted as `retry`, and every end once, in
//! `bulwark_aggregator_landings_total{outcome}`: `landed`, `answered` (someone
//! else's certificate was first), `expired` (the deadline passed first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolValue;
use bulwark_chain::bindings::BasicAVS;
use bulwark_chain::bindings::CertificateVerifier::Certificate as ChainCertificate;
use bulwark_core::Certificate;
use tokio::sync::{mpsc, watch};

use super::TaskOutcome;
use super::store::{PendingCertificate, Store, Write};
use crate::telemetry::names;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long one attempt waits for its transaction to be mined.
pub const RECEIPT_WAIT: Duration = Duration::from_secs(12);
/// How long one RPC request may take before the attempt counts as failed.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the lander is told.
#[derive(Debug)]
pub enum Landing {
    /// Land this certificate (already in the store).
    Land {
        /// What goes on chain.
        pending: PendingCertificate,
        /// The engine's certificate, reported when it lands.
        certificate: Option<Box<Certificate>>,
        /// When the engine certified it (for the latency metric).
        certified: Option<Instant>,
    },
    /// The task was answered on chain (a `TaskResponded` event): stop trying.
    Answered(u64),
}

/// A transaction sent and not yet seen mined.
#[derive(Clone, Copy, Debug)]
struct Sent {
    hash: B256,
    nonce: u64,
    max_fee: u128,
    priority_fee: u128,
}

struct Entry {
    pending: PendingCertificate,
    certificate: Option<Box<Certificate>>,
    certified: Option<Instant>,
    attempts: u32,
    next_try: Instant,
    backoff: Duration,
    sent: Option<Sent>,
}

/// How one attempt went.
enum Attempt {
    Landed(B256),
    Answered,
    /// Sent but not mined yet: replace it at the next attempt (it may still land).
    Unmined(Sent),
    /// Not sent, or sent and reverted: try again; the transaction to replace, if
    /// one is still unmined.
    Retry(Option<Sent>, String),
    Failed(String),
}

/// What the lander counts (shared with the aggregator's stats).
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Certificates landed by this lander.
    pub landed: Arc<AtomicU64>,
    /// Certificates made moot by another certificate.
    pub answered: Arc<AtomicU64>,
    /// Certificates dropped at their task's deadline.
    pub expired: Arc<AtomicU64>,
}

/// Lands certificates for one AVS.
pub struct Lander {
    provider: DynProvider,
    avs: Address,
    /// The account that sends certificates, when known: needed to replace a stuck
    /// transaction at its nonce.
    submitter: Option<Address>,
    store: Option<Arc<Store>>,
    outcomes: mpsc::UnboundedSender<TaskOutcome>,
    counters: Counters,
    queue: BTreeMap<u64, Entry>,
}

impl Lander {
    /// A lander for `avs` sending through `provider` (which signs, as `submitter` when
    /// given); outcomes go to `outcomes`, and are counted in `counters`.
    pub fn new(
        provider: DynProvider,
        avs: Address,
        submitter: Option<Address>,
        store: Option<Arc<Store>>,
        outcomes: mpsc::UnboundedSender<TaskOutcome>,
        counters: Counters,
    ) -> Self {
        Self {
            provider,
            avs,
            submitter,
            store,
            outcomes,
            counters,
            queue: BTreeMap::new(),
        }
    }

    /// Works until `shutdown` resolves: takes landings from `inbox`, tries each when
    /// due, and drops the ones whose task the chain head (`head`) has passed.
    pub async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<Landing>,
        head: watch::Receiver<u64>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let due = self.queue.values().map(|e| e.next_try).min();
            let wake = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                message = inbox.recv() => match message {
                    Some(message) => self.take(message),
                    None => return,
                },
                () = wake => {
                    let now_head = *head.borrow();
                    if self.work(now_head, &mut shutdown).await.is_break() {
                        return;
                    }
                }
            }
        }
    }

    fn take(&mut self, message: Landing) {
        match message {
            Landing::Land {
                pending,
                certificate,
                certified,
            } => {
                self.queue.entry(pending.task_id).or_insert(Entry {
                    pending,
                    certificate,
                    certified,
                    attempts: 0,
                    next_try: Instant::now(),
                    backoff: FIRST_BACKOFF,
                    sent: None,
                });
            }
            Landing::Answered(task_id) => {
                if let Some(entry) = self.queue.remove(&task_id) {
                    self.done(entry, "answered");
                }
            }
        }
    }

    /// Tries every due certificate once (oldest task first), one transaction at a
    /// time: the submitter's nonces are sequential anyway. Breaks when `shutdown`
    /// resolved meanwhile (it must not be polled again).
    async fn work(
        &mut self,
        head: u64,
        shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> std::ops::ControlFlow<()> {
        let now = Instant::now();
        let due: Vec<u64> = self
            .queue
            .iter()
            .filter(|(_, e)| e.next_try <= now)
            .map(|(id, _)| *id)
            .collect();
        for task_id in due {
            let Some(mut entry) = self.queue.remove(&task_id) else {
                continue;
            };
            if head > u64::from(entry.pending.deadline_block) {
                tracing::error!(
                    task = task_id,
                    deadline = entry.pending.deadline_block,
                    head,
                    attempts = entry.attempts,
                    "certificate not landed before the task's deadline; dropped"
                );
                self.done(entry, "expired");
                continue;
            }
            entry.attempts += 1;
            let attempt = tokio::select! {
                attempt = self.attempt(&entry) => attempt,
                () = shutdown.as_mut() => {
                    self.queue.insert(task_id, entry);
                    return std::ops::ControlFlow::Break(());
                }
            };
            match attempt {
                Attempt::Landed(tx) => {
                    tracing::info!(task = task_id, %tx, attempts = entry.attempts, "certificate landed");
                    self.done(entry, "landed");
                }
                Attempt::Answered => {
                    tracing::info!(
                        task = task_id,
                        "task already answered on chain; standing down"
                    );
                    self.done(entry, "answered");
                }
                Attempt::Retry(sent, err) => {
                    metrics::counter!(names::LANDINGS, "outcome" => "retry").increment(1);
                    tracing::warn!(task = task_id, %err, attempt = entry.attempts, "certificate not landed; retrying");
                    entry.sent = sent;
                    self.retry(entry);
                }
                Attempt::Unmined(sent) => {
                    metrics::counter!(names::LANDINGS, "outcome" => "retry").increment(1);
                    tracing::warn!(task = task_id, tx = %sent.hash, nonce = sent.nonce, "certificate transaction not mined yet; will replace it");
                    entry.sent = Some(sent);
                    self.retry(entry);
                }
                Attempt::Failed(err) => {
                    metrics::counter!(names::LANDINGS, "outcome" => "retry").increment(1);
                    tracing::warn!(task = task_id, %err, attempt = entry.attempts, "certificate not landed; retrying");
                    self.retry(entry);
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    fn retry(&mut self, mut entry: Entry) {
        entry.next_try = Instant::now() + entry.backoff;
        entry.backoff = (entry.backoff * 2).min(MAX_BACKOFF);
        self.queue.insert(entry.pending.task_id, entry);
    }

    /// Ends a certificate's journey: counted, pruned from the store, reported.
    fn done(&self, entry: Entry, outcome: &'static str) {
        metrics::counter!(names::LANDINGS, "outcome" => outcome).increment(1);
        let task_id = entry.pending.task_id;
        if let Some(store) = &self.store {
            store.write_later(vec![Write::Finish(task_id)]);
        }
        match outcome {
            "landed" => {
                self.counters.landed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(names::CERTIFICATES).increment(1);
                if let Some(at) = entry.certified {
                    metrics::histogram!(names::TIME_TO_LAND).record(at.elapsed().as_secs_f64());
                }
                if let Some(cert) = entry.certificate {
                    let _ = self.outcomes.send(TaskOutcome::Landed(cert));
                }
            }
            "answered" => {
                self.counters.answered.fetch_add(1, Ordering::Relaxed);
                let _ = self.outcomes.send(TaskOutcome::Answered { task_id });
            }
            _ => {
                self.counters.expired.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn attempt(&self, entry: &Entry) -> Attempt {
        // The transaction of the last attempt may have been mined since.
        let mut replace = entry.sent;
        if let Some(sent) = entry.sent {
            match timed(self.provider.get_transaction_receipt(sent.hash)).await {
                Ok(Some(receipt)) if receipt.status() => return Attempt::Landed(sent.hash),
                // Mined and reverted: its nonce is used; answered meanwhile, or
                // refused (the send below says which).
                Ok(Some(_)) => replace = None,
                Ok(None) => {}
                Err(err) => return Attempt::Failed(err),
            }
        }
        let certificate = match ChainCertificate::abi_decode(&entry.pending.certificate) {
            Ok(c) => c,
            Err(err) => return Attempt::Failed(format!("stored certificate undecodable: {err}")),
        };
        let contract = BasicAVS::new(self.avs, self.provider.clone());
        let mut call = contract.respondToTask(
            U256::from(entry.pending.task_id),
            Bytes::copy_from_slice(&entry.pending.response),
            certificate,
        );
        // Nonce and fees set here and recorded, so a stuck transaction can be
        // replaced; without the submitter's address the provider fills them.
        let mut sending = None;
        if let Some(submitter) = self.submitter {
            let estimate = match timed(self.provider.estimate_eip1559_fees()).await {
                Ok(estimate) => estimate,
                Err(err) => return Attempt::Failed(err),
            };
            let (nonce, max_fee, priority_fee) = match replace {
                Some(sent) => {
                    let bump = |previous: u128| previous + previous / 8 + 1;
                    let priority = bump(sent.priority_fee).max(estimate.max_priority_fee_per_gas);
                    (
                        sent.nonce,
                        bump(sent.max_fee)
                            .max(estimate.max_fee_per_gas)
                            .max(priority),
                        priority,
                    )
                }
                None => {
                    let nonce =
                        match timed(self.provider.get_transaction_count(submitter).pending()).await
                        {
                            Ok(nonce) => nonce,
                            Err(err) => return Attempt::Failed(err),
                        };
                    (
                        nonce,
                        estimate.max_fee_per_gas,
                        estimate.max_priority_fee_per_gas,
                    )
                }
            };
            call = call
                .nonce(nonce)
                .max_fee_per_gas(max_fee)
                .max_priority_fee_per_gas(priority_fee);
            sending = Some((nonce, max_fee, priority_fee));
        }
        // Gas estimated at the latest block, not the pending one: there, our own
        // unmined transaction has answered the task already, and the estimate
        // would revert with TaskAlreadyResponded exactly when it needs replacing.
        let call = call.block(alloy::eips::BlockId::latest());
        let estimated = match tokio::time::timeout(RPC_TIMEOUT, call.estimate_gas()).await {
            Ok(Ok(gas)) => Ok(gas),
            Ok(Err(err)) => Err(err),
            Err(_) => {
                return Attempt::Retry(replace, format!("no answer within {RPC_TIMEOUT:?}"));
            }
        };
        let sent_call = match estimated {
            // A quarter more than estimated, as challenges get: the state can move
            // between the estimate and the block.
            Ok(gas) => Ok(call.gas(gas.saturating_add(gas / 4))),
            Err(err) => Err(err),
        };
        let outcome = match sent_call {
            Ok(call) => tokio::time::timeout(RPC_TIMEOUT, call.send()).await,
            Err(err) => Ok(Err(err)),
        };
        let pending = match outcome {
            Ok(Ok(pending)) => pending,
            Ok(Err(err)) => {
                let answered = matches!(
                    err.as_decoded_interface_error::<BasicAVS::BasicAVSErrors>(),
                    Some(BasicAVS::BasicAVSErrors::TaskAlreadyResponded(_))
                );
                // Any other revert at estimation may still mean answered (a lagging
                // node, or our replaced transaction mined meanwhile): the chain says.
                if answered || self.answered(entry.pending.task_id).await {
                    return Attempt::Answered;
                }
                return Attempt::Retry(replace, err.to_string());
            }
            Err(_) => {
                return Attempt::Retry(replace, format!("no answer within {RPC_TIMEOUT:?}"));
            }
        };
        let hash = *pending.tx_hash();
        let sent = sending.map(|(nonce, max_fee, priority_fee)| Sent {
            hash,
            nonce,
            max_fee,
            priority_fee,
        });
        let deadline = tokio::time::Instant::now() + RECEIPT_WAIT;
        let mut delay = Duration::from_millis(50);
        while tokio::time::Instant::now() < deadline {
            match timed(self.provider.get_transaction_receipt(hash)).await {
                Ok(Some(receipt)) if receipt.status() => return Attempt::Landed(hash),
                Ok(Some(_)) => {
                    if self.answered(entry.pending.task_id).await {
                        return Attempt::Answered;
                    }
                    return Attempt::Retry(None, format!("transaction {hash} reverted"));
                }
                Ok(None) | Err(_) => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
        match sent {
            Some(sent) => Attempt::Unmined(sent),
            None => Attempt::Retry(
                None,
                format!("transaction {hash} not mined in {RECEIPT_WAIT:?}"),
            ),
        }
    }

    /// Whether the task has a response on chain.
    async fn answered(&self, task_id: u64) -> bool {
        let contract = BasicAVS::new(self.avs, self.provider.clone());
        timed(contract.getTask(U256::from(task_id)).call())
            .await
            .is_ok_and(|task| task.respondedBlock != 0)
    }
}

/// `request` within [`RPC_TIMEOUT`], its error as text.
async fn timed<T, E: std::fmt::Display>(
    request: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(RPC_TIMEOUT, request.into_future()).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {RPC_TIMEOUT:?}")),
    }
}

/// `respondToTask`'s certificate argument, as the store keeps it.
pub fn encode_certificate(certificate: &ChainCertificate) -> Vec<u8> {
    certificate.abi_encode()
}
