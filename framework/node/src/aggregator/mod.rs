//! The aggregator runtime, in parts with one job each:
//! - the chain loop ([`Aggregator::run`]): follows `TaskCreated` and `TaskResponded`
//!   in bounded block ranges, opens a task with the operator set read at its
//!   reference block (retried until its deadline when the read fails), expires
//!   tasks, and stands down on tasks another aggregator answered;
//! - the task book (this type): the engine and the two-phase rounds, fed by
//! - the gRPC sink ([`SubmissionSink`], served by `bulwark_net::server`);
//! - the [`lander`]: lands certificates on its own queue, never stalling the loop;
//! - the [`store`]: accepted work in redb, read back at a restart.
//!
//! # Security
//! Submissions and reports come from anyone (see `bulwark_net::server`); tasks and
//! operator sets come from the chain (see `bulwark_chain::registry`).
//! - The engine's and the report round's rules hold here: nothing unverified binds an
//!   operator, a signature is checked at most once, and what is held is bounded.
//! - Pairings run on tokio's blocking pool and outside every lock: the engine's lock
//!   and the rounds' lock are held only for bookkeeping, so a flood of checks cannot
//!   stall the async workers that answer other operators or follow the chain. The
//!   store is written outside the engine's lock too.
//! - The store holds submissions as received (candidates) and verified reports;
//!   read back after a restart, submissions are checked again like new ones, so a
//!   stored record is never taken as an operator's answer by itself.
//! - Sessions: the gRPC server takes a request in an operator's name only on a
//!   session that operator opened with its key, looked up in the keys of the operator
//!   sets read here ([`SubmissionSink::operator_key`]); so a forgery reaches the
//!   engine only on a registered operator's own session (its own bad signatures) or
//!   a copied token.
//! - What an attacker can still do: with a session (its own, or a copied token),
//!   spend about one pairing check per forged submission (bounded by the server's
//!   in-flight limit and the engine's caps per operator), and have those forgeries
//!   written to the store as candidates (bounded per task by the engine's caps).

pub mod lander;
pub mod store;
mod two_phase;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use bulwark_chain::certificate::build_certificate;
use bulwark_chain::registry::{OperatorSet as ChainSet, operator_set_at};
use bulwark_chain::slashing::{Equivocation, SignedKind};
use bulwark_core::SlashingProof;
use bulwark_core::{
    Certificate, Check, Engine, EngineConfig, Event, Offer, Operator, OperatorId, OperatorSet,
    Outcome, Propose, Rejection, ReportOutcome, ReportRejection, SignedReport, SignedResponse,
    SigningContext, TaskConfig, Threshold,
};
use bulwark_crypto::PublicKey;
use bulwark_net::evidence::EvidenceLog;
use bulwark_net::server::{ProposalState, SubmissionSink};
use tokio::sync::{mpsc, watch};

use crate::follow::{ChainSource, NewTask, TaskFollower};
use crate::telemetry::{Health, names};
use lander::{Lander, Landing};
use store::{PendingCertificate, Store, StoredEvidence, Write};
pub use two_phase::EvidenceRecord;
use two_phase::OpenRound;

/// Counters the runtime keeps (exported as metrics by the binaries).
#[derive(Debug, Default)]
pub struct Stats {
    /// Tasks opened.
    pub tasks_opened: AtomicU64,
    /// Submissions accepted (including duplicates).
    pub accepted: AtomicU64,
    /// Submissions refused, any reason.
    pub rejected: AtomicU64,
    /// Signatures dropped as invalid at aggregation.
    pub bad_signatures: AtomicU64,
    /// Certificates this aggregator landed, or found answered when it tried (shared
    /// with the lander).
    pub certificates_landed: Arc<AtomicU64>,
    /// Tasks another aggregator's certificate answered first: this one stood down.
    pub answered_elsewhere: Arc<AtomicU64>,
    /// Certificates dropped unlanded because the chain passed their task's deadline.
    pub certificates_expired: Arc<AtomicU64>,
    /// Store writes that failed (the work stays accepted in memory; a restart would
    /// lose it).
    pub store_errors: AtomicU64,
    /// Tasks that expired without a certificate.
    pub expired: AtomicU64,
    /// Two-phase tasks: reports left out of a proposal (evidence recorded).
    pub outliers: AtomicU64,
}

/// Two-phase tasks: how the aggregator proposes from reports, how long it waits for
/// them, and where it keeps the evidence against operators it leaves out.
pub struct TwoPhase {
    /// The AVS's proposal rule.
    pub proposer: Arc<dyn Propose>,
    /// Blocks after the task's reference block to wait for every report (once the
    /// reports hold the threshold); then the proposal is made from those received.
    pub report_window_blocks: u64,
    /// Where evidence goes (JSON lines, appended); only logged and counted when absent.
    pub evidence: Option<std::path::PathBuf>,
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Operator sets kept by reference block (the newest blocks'): tasks created in one
/// block share one read and one copy.
const CACHED_SETS: usize = 64;

/// Operator sets by reference block: as read from chain, and as the engine takes it
/// (`None` when the chain's is not a valid set).
type SetCache = std::collections::BTreeMap<u32, (Arc<ChainSet>, Option<OperatorSet>)>;

/// What happened to a task, for callers that watch (tests, the demo).
#[derive(Clone, Debug)]
pub enum TaskOutcome {
    /// A certificate landed on chain.
    Landed(Box<Certificate>),
    /// Another certificate (another aggregator's) answered the task first: this
    /// aggregator stood down.
    Answered {
        /// The task.
        task_id: u64,
    },
    /// The task expired: each response with its valid signers' stake.
    Expired {
        /// The task.
        task_id: u64,
        /// Stake per response digest.
        stakes: Vec<u64>,
    },
}

/// A task the aggregator has open: the set its certificate is built against, and
/// when it opened and was certified (for the latency metrics).
struct OpenTask {
    set: Arc<ChainSet>,
    /// The last block a response lands in.
    deadline_block: u32,
    context: SigningContext,
    opened: Instant,
    certified: Option<Instant>,
}

/// The aggregator: a [`SubmissionSink`] for the gRPC server plus a chain loop.
pub struct Aggregator {
    /// A plain mutex: it is never held across an await, only for the engine's own
    /// (short, synchronous) work, so a lock hand-off never waits on the scheduler.
    engine: std::sync::Mutex<Engine>,
    head: AtomicU64,
    open: std::sync::Mutex<HashMap<u64, OpenTask>>,
    certificates: mpsc::UnboundedSender<Certificate>,
    store: Option<Arc<Store>>,
    two_phase: Option<TwoPhase>,
    rounds: std::sync::Mutex<HashMap<u64, OpenRound>>,
    /// Operator sets read, by reference block.
    sets: std::sync::Mutex<SetCache>,
    /// The set whose keys were last added to `keys`.
    last_keyed: std::sync::Mutex<Option<Arc<ChainSet>>>,
    /// Every operator's key as of the latest operator set read, which opens its
    /// gRPC sessions.
    keys: std::sync::RwLock<HashMap<OperatorId, PublicKey>>,
    /// Proofs of the offences seen, for challengers (`StreamEvidence`).
    evidence: Arc<EvidenceLog>,
    /// Counters.
    pub stats: Stats,
    /// When the chain last answered (for `/health`).
    pub health: Arc<Health>,
}

impl Aggregator {
    /// A new aggregator and the receiving end of its certificates (for [`Self::run`]).
    pub fn new(config: EngineConfig) -> (Arc<Self>, mpsc::UnboundedReceiver<Certificate>) {
        Self::with_store(config, None)
    }

    /// Like [`Aggregator::new`], keeping accepted work in `store` and reading it back
    /// when a task is (re)opened.
    pub fn with_store(
        config: EngineConfig,
        store: Option<Arc<Store>>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Certificate>) {
        Self::build(config, store, None)
    }

    /// Like [`Aggregator::with_store`]; with `two_phase`, every task is a two-phase
    /// task: operators report, the aggregator proposes, and only endorsements of the
    /// proposal are aggregated.
    pub fn build(
        config: EngineConfig,
        store: Option<Arc<Store>>,
        two_phase: Option<TwoPhase>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Certificate>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Self {
                engine: std::sync::Mutex::new(Engine::new(config)),
                head: AtomicU64::new(0),
                open: std::sync::Mutex::new(HashMap::new()),
                certificates: tx,
                store,
                two_phase,
                rounds: std::sync::Mutex::new(HashMap::new()),
                sets: Default::default(),
                last_keyed: Default::default(),
                keys: Default::default(),
                evidence: Arc::new(EvidenceLog::new()),
                stats: Stats::default(),
                health: Arc::new(Health::default()),
            }),
            rx,
        )
    }

    /// Follows the AVS of `chain`, opening and expiring tasks, and hands
    /// certificates from `certificates` to its lander; reports each task's end on
    /// `outcomes`. Runs until `shutdown` resolves.
    ///
    /// With a store, it first reads back what a previous run left open: events are
    /// read on from where it stopped, open tasks are reopened (their accepted work
    /// read back), certificates not yet landed go to the lander, and evidence is
    /// offered again.
    pub async fn run(
        self: Arc<Self>,
        chain: ChainSource,
        mut certificates: mpsc::UnboundedReceiver<Certificate>,
        outcomes: mpsc::UnboundedSender<TaskOutcome>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let ChainSource {
            provider,
            context,
            from_block,
            poll,
            submitter,
        } = chain;
        let avs = Address::from(context.avs);
        let (landings, inbox) = mpsc::unbounded_channel();
        let (head_tx, head_rx) = watch::channel(0u64);
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let lander = Lander::new(
            provider.clone(),
            avs,
            submitter,
            self.store.clone(),
            outcomes.clone(),
            lander::Counters {
                landed: self.stats.certificates_landed.clone(),
                answered: self.stats.answered_elsewhere.clone(),
                expired: self.stats.certificates_expired.clone(),
            },
        );
        // Aborted if this future is dropped (the chain loop's task aborted): no
        // lander outlives its aggregator.
        let mut lander = AbortOnDrop(tokio::spawn(lander.run(inbox, head_rx, async move {
            let _ = stop_rx.changed().await;
        })));
        let mut waiting = Vec::new();
        let mut from = from_block;
        if let Some(recovered) = self.recover(&landings) {
            from = from.max(recovered.cursor.unwrap_or(0));
            waiting = recovered.tasks;
        }
        let mut follower = TaskFollower::new(provider.clone(), avs, from);
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(poll);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(cert) = certificates.recv() => {
                    self.hand_over(cert, &landings).await;
                }
                _ = ticker.tick() => {
                    match follower.poll().await {
                        Ok(news) => {
                            let head = news.head;
                            self.head.store(head, Ordering::Relaxed);
                            let _ = head_tx.send(head);
                            self.health.chain_ok(head);
                            if let Some(store) = &self.store {
                                // Stored before the cursor passes them: a crash
                                // before they open still reopens them.
                                store.write_later(news.tasks.iter().cloned().map(Write::Task).collect());
                            }
                            waiting.extend(news.tasks);
                            if !news.responded.is_empty() {
                                let responded: BTreeSet<u64> = news.responded.iter().copied().collect();
                                waiting.retain(|t| !responded.contains(&t.task_id));
                                for task_id in responded {
                                    self.stand_down(task_id, &landings, &outcomes);
                                }
                            }
                            waiting = self.open_waiting(&provider, context, head, waiting).await;
                            self.expire(head, &outcomes).await;
                            self.rounds().retain(|_, open| open.round.deadline() >= head);
                            if let Some(store) = &self.store {
                                store.write_later(vec![Write::Cursor(news.next_block)]);
                            }
                        }
                        Err(err) => {
                            metrics::counter!(names::CHAIN_ERRORS).increment(1);
                            tracing::warn!(%err, "chain poll failed; retrying");
                        }
                    }
                    self.advance_all().await;
                }
            }
        }
        let _ = stop_tx.send(true);
        let _ = (&mut lander.0).await;
    }

    /// What the store holds from a previous run: evidence offered again, pending
    /// certificates handed to the lander. Returns the cursor and the open tasks
    /// still without a certificate (to reopen).
    fn recover(&self, landings: &mpsc::UnboundedSender<Landing>) -> Option<store::Recovered> {
        let store = self.store.as_ref()?;
        let mut recovered = match store.recover() {
            Ok(recovered) => recovered,
            Err(err) => {
                tracing::error!(%err, "cannot read the store; starting empty");
                return None;
            }
        };
        for e in &recovered.evidence {
            self.evidence
                .push(e.task_id, e.offence, e.operator, e.evidence.clone());
        }
        let certified: BTreeSet<u64> = recovered.certificates.iter().map(|c| c.task_id).collect();
        for pending in std::mem::take(&mut recovered.certificates) {
            let _ = landings.send(Landing::Land {
                pending,
                certificate: None,
                certified: None,
            });
        }
        recovered.tasks.retain(|t| !certified.contains(&t.task_id));
        tracing::info!(
            cursor = ?recovered.cursor,
            tasks = recovered.tasks.len(),
            certificates = certified.len(),
            evidence = recovered.evidence.len(),
            "state read back from the store"
        );
        Some(recovered)
    }

    /// Opens each task in `tasks` whose operator set can be read now; gives back the
    /// ones to try again at the next poll (a failed read never skips a task for
    /// good, only its deadline does).
    async fn open_waiting(
        &self,
        provider: &DynProvider,
        context: SigningContext,
        head: u64,
        tasks: Vec<NewTask>,
    ) -> Vec<NewTask> {
        let mut again = Vec::new();
        for task in tasks {
            if u64::from(task.deadline_block) < head {
                tracing::warn!(
                    task = task.task_id,
                    "task passed its deadline before it could be opened"
                );
                if let Some(store) = &self.store {
                    store.write_later(vec![Write::Finish(task.task_id)]);
                }
                continue;
            }
            if let Some(task) = self.open(provider, context, task).await {
                again.push(task);
            }
        }
        again
    }

    /// Opens `task`; gives it back when its operator set could not be read.
    async fn open(
        &self,
        provider: &DynProvider,
        context: SigningContext,
        task: NewTask,
    ) -> Option<NewTask> {
        let Some((set, operators)) = self.set_at(provider, context, &task).await else {
            return Some(task);
        };
        let (Some(operators), Some(threshold)) = (operators, Threshold::new(task.threshold_bps))
        else {
            tracing::error!(
                task = task.task_id,
                "invalid operator set or threshold; task skipped"
            );
            return None;
        };
        let config = TaskConfig {
            task_id: task.task_id,
            reference_block: task.reference_block,
            threshold,
            deadline: u64::from(task.deadline_block),
            operators,
            context,
        };
        if let Err(err) = self.open_task(config, set, &task.input).await {
            tracing::warn!(task = task.task_id, %err, "task not opened");
        }
        None
    }

    /// The operator set at the task's reference block: read once per block (tasks
    /// created in one block share it) through the lens, and kept for the next
    /// tasks. `None` when it cannot be read now; an inner `None` when what was read
    /// is not a valid set.
    async fn set_at(
        &self,
        provider: &DynProvider,
        context: SigningContext,
        task: &NewTask,
    ) -> Option<(Arc<ChainSet>, Option<OperatorSet>)> {
        let block = task.reference_block;
        if let Some(cached) = self.sets().get(&block) {
            return Some(cached.clone());
        }
        let set = match operator_set_at(provider, Address::from(context.avs), block).await {
            Ok(set) => set,
            Err(err) => {
                tracing::warn!(task = task.task_id, %err, "cannot read the operator set; will retry");
                return None;
            }
        };
        let operators = OperatorSet::new(
            set.operators
                .iter()
                .map(|e| Operator {
                    id: OperatorId(e.address.into_array()),
                    public_key: e.public_key,
                    stake: e.stake_gwei,
                })
                .collect(),
        )
        .ok();
        let entry = (Arc::new(set), operators);
        let mut sets = self.sets();
        sets.insert(block, entry.clone());
        while sets.len() > CACHED_SETS {
            sets.pop_first();
        }
        Some(entry)
    }

    fn sets(&self) -> std::sync::MutexGuard<'_, SetCache> {
        self.sets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a task whose operator set the caller read itself (the chain loop does
    /// this for every `TaskCreated`; benchmarks and tests call it directly), then
    /// reads back what the store holds for it. `input` is the task's input, which
    /// two-phase reports are checked against.
    pub async fn open_task(
        &self,
        config: TaskConfig,
        set: impl Into<Arc<ChainSet>>,
        input: &[u8],
    ) -> Result<(), bulwark_core::EngineError> {
        let set = set.into();
        let task_id = config.task_id;
        let context = config.context;
        let deadline_block = u32::try_from(config.deadline).unwrap_or(u32::MAX);
        if let Some(store) = &self.store {
            // Before anything accepted for it: the store keeps rows only for the
            // tasks it knows are open.
            store.write_later(vec![Write::Task(NewTask {
                task_id,
                input: input.to_vec(),
                reference_block: config.reference_block,
                threshold_bps: config.threshold.bps(),
                deadline_block,
            })]);
        }
        // Cheap: the members are shared.
        let members = config.operators.clone();
        // Phase one is ready before the engine opens, so no operator sees the task
        // open without its report round.
        if self.two_phase.is_some() {
            self.rounds()
                .insert(task_id, OpenRound::new(&config, input));
        }
        // The engine lock must be released before replaying, which takes it again.
        if let Err(err) = self.engine().open(config) {
            self.rounds().remove(&task_id);
            return Err(err);
        }
        // Tasks of one reference block share their set: its keys are added once.
        let keyed = {
            let mut last = self.last_keyed.lock().unwrap_or_else(|e| e.into_inner());
            let same = last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &set));
            *last = Some(set.clone());
            same
        };
        if !keyed {
            self.keys
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .extend(members.operators().iter().map(|o| (o.id, o.public_key)));
        }
        self.tasks().insert(
            task_id,
            OpenTask {
                set,
                deadline_block,
                context,
                opened: Instant::now(),
                certified: None,
            },
        );
        self.stats.tasks_opened.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::TASKS_OPENED).increment(1);
        tracing::info!(task = task_id, "task opened");
        self.replay_reports(task_id);
        self.replay(task_id).await;
        Ok(())
    }

    /// What the store holds for `task_id`, read with `read`; nothing without a
    /// store (or when it cannot be read, which is logged).
    fn stored<T>(
        &self,
        task_id: u64,
        read: impl FnOnce(&Store, u64) -> Result<Vec<T>, store::StoreError>,
    ) -> Vec<T> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        match read(store, task_id) {
            Ok(recorded) => recorded,
            Err(err) => {
                tracing::error!(task = task_id, %err, "cannot read the store");
                Vec::new()
            }
        }
    }

    /// Writes `write` durably, when there is a store. A failure is logged: the work
    /// stays accepted in memory, only a restart would lose it.
    async fn record(&self, task_id: u64, write: Write) {
        let Some(store) = &self.store else {
            return;
        };
        if let Err(err) = store.write(vec![write]).await {
            self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::STORE_ERRORS).increment(1);
            tracing::error!(task = task_id, %err, "store write failed; the work stays accepted in memory only");
        }
    }

    /// Feeds the stored reports for `task_id` back into its round (before the
    /// endorsements, which may carry the proposal made from them), and the stored
    /// proposal, if one was made.
    fn replay_reports(&self, task_id: u64) {
        let Some(two_phase) = &self.two_phase else {
            return;
        };
        let recorded = self.stored(task_id, Store::reports);
        let proposal = self.stored(task_id, |s, t| s.proposal(t).map(Vec::from_iter));
        if recorded.is_empty() && proposal.is_empty() {
            return;
        }
        tracing::info!(
            task = task_id,
            count = recorded.len(),
            "replaying stored reports"
        );
        let now = self.head.load(Ordering::Relaxed);
        let mut rounds = self.rounds();
        let Some(open) = rounds.get_mut(&task_id) else {
            return;
        };
        for report in recorded {
            if let Err(err) = open.round.add(now, report, two_phase.proposer.as_ref()) {
                tracing::warn!(task = task_id, %err, "stored report not replayed");
            }
        }
        if let Some(proposal) = proposal.first() {
            // Stored before it was shown: it is the one operators may have signed.
            open.published = open.round.adopt(proposal);
        }
    }

    /// Feeds the stored submissions for `task_id` back into the engine.
    async fn replay(&self, task_id: u64) {
        let recorded = self.stored(task_id, Store::submissions);
        if !recorded.is_empty() {
            tracing::info!(
                task = task_id,
                count = recorded.len(),
                "replaying stored submissions"
            );
        }
        for sub in recorded {
            self.process(sub, false).await.ok();
        }
    }

    async fn expire(&self, head: u64, outcomes: &mpsc::UnboundedSender<TaskOutcome>) {
        let (expiring, events) = {
            let mut engine = self.engine();
            (engine.take_expired(head), engine.drain_events())
        };
        for event in events {
            self.note(event);
        }
        if expiring.is_empty() {
            return;
        }
        // The candidates still held need a check before the reports can say who
        // signed: pairings, so off the async workers and outside the engine's lock.
        let checked = tokio::task::spawn_blocking(move || {
            expiring.into_iter().map(|e| e.report()).collect::<Vec<_>>()
        })
        .await;
        let checked = match checked {
            Ok(checked) => checked,
            Err(err) => {
                tracing::error!(%err, "expiry checks failed to run");
                return;
            }
        };
        let mut reports = Vec::with_capacity(checked.len());
        for (report, events) in checked {
            for event in events {
                self.note(event);
            }
            reports.push(report);
        }
        for report in reports {
            self.stats.expired.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::TASKS_EXPIRED).increment(1);
            self.tasks().remove(&report.task_id);
            self.rounds().remove(&report.task_id);
            if let Some(store) = &self.store {
                store.write_later(vec![Write::Finish(report.task_id)]);
            }
            tracing::warn!(
                task = report.task_id,
                responses = report.responses.len(),
                "task expired without a certificate"
            );
            let _ = outcomes.send(TaskOutcome::Expired {
                task_id: report.task_id,
                stakes: report.responses.iter().map(|r| r.2).collect(),
            });
        }
    }

    /// Another certificate answered `task_id` on chain (or ours did): the task is
    /// closed and the lander stops trying. Not an error: with two aggregators, one
    /// of them always stands down.
    fn stand_down(
        &self,
        task_id: u64,
        landings: &mpsc::UnboundedSender<Landing>,
        outcomes: &mpsc::UnboundedSender<TaskOutcome>,
    ) {
        let was_open = self.engine().close(task_id);
        self.tasks().remove(&task_id);
        self.rounds().remove(&task_id);
        let _ = landings.send(Landing::Answered(task_id));
        if let Some(store) = &self.store {
            store.write_later(vec![Write::Finish(task_id)]);
        }
        if was_open {
            self.stats
                .answered_elsewhere
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::LANDINGS, "outcome" => "answered").increment(1);
            tracing::info!(
                task = task_id,
                "task answered on chain by another certificate; standing down"
            );
            let _ = outcomes.send(TaskOutcome::Answered { task_id });
        }
    }

    /// Builds the chain's certificate for an engine certificate, stores it (durably:
    /// it is what the operators' signatures came to) and hands it to the lander.
    async fn hand_over(&self, cert: Certificate, landings: &mpsc::UnboundedSender<Landing>) {
        // The round stays until the task's deadline: endorsements arriving after the
        // certificate can still prove an offence.
        let Some(OpenTask {
            set,
            certified,
            deadline_block,
            ..
        }) = self.tasks().remove(&cert.task_id)
        else {
            tracing::error!(task = cert.task_id, "certificate for a task without a set");
            return;
        };
        let signers: BTreeSet<Address> =
            cert.signers.iter().map(|id| Address::from(id.0)).collect();
        let chain_cert = match build_certificate(&set, &signers, &cert.signature) {
            Ok(c) => c,
            Err(err) => {
                tracing::error!(task = cert.task_id, %err, "cannot build the certificate");
                return;
            }
        };
        let pending = PendingCertificate {
            task_id: cert.task_id,
            deadline_block,
            response: cert.response.clone(),
            certificate: lander::encode_certificate(&chain_cert),
        };
        self.record(cert.task_id, Write::Certificate(pending.clone()))
            .await;
        let _ = landings.send(Landing::Land {
            pending,
            certificate: Some(Box::new(cert)),
            certified,
        });
    }
}

impl Aggregator {
    /// Runs one submission through the engine; stores it when accepted and `record`
    /// is set (not for replays), before answering. Signature checks run on the
    /// blocking pool, outside the engine's lock; the store is written outside it too.
    async fn process(
        &self,
        submission: SignedResponse,
        record: bool,
    ) -> Result<Outcome, Rejection> {
        let endorsement = if record {
            self.check_endorsement(&submission)
        } else {
            self.adopt_replayed(&submission)
        };
        if let Err(rejection) = endorsement {
            self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(rejection);
        }
        let now = self.head.load(Ordering::Relaxed);
        // Copied only when it may have to be stored.
        let stored = (record && self.store.is_some()).then(|| submission.clone());
        let endorsed = record
            .then(|| self.endorsement_probe(&submission))
            .flatten();
        let offer = self.engine().offer(now, submission);
        let verdict = match offer {
            Offer::Decided(verdict) => verdict,
            Offer::Check(check) => self.run_checks(check).await,
        };
        let events = self.engine().drain_events();
        for event in events {
            self.note(event);
        }
        if let Some(stored) = stored {
            // A candidate is stored as received: read back after a restart it is
            // checked again, never taken as its operator's answer.
            if matches!(verdict, Ok(Outcome::Pending) | Ok(Outcome::Certified(_))) {
                self.record(stored.task_id, Write::Submission(stored)).await;
            }
        }
        match &verdict {
            Ok(_) => self.stats.accepted.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.rejected.fetch_add(1, Ordering::Relaxed),
        };
        if let Some(probe) = endorsed {
            // An offence does not depend on making the certificate: an endorsement
            // arriving after it is still looked at, once per operator and task (the
            // AVS's check verifies both signatures, the engine did not).
            let look = match &verdict {
                Ok(_) => true,
                Err(Rejection::AlreadyCertified(_)) => self.first_late_look(&probe),
                Err(_) => false,
            };
            if look {
                self.prove_endorsement(probe).await;
            }
        }
        verdict
    }

    /// Runs `check` and the follow-ups its settlement asks for, each on the blocking
    /// pool; the verdict is the first settlement's (or a certificate a follow-up made).
    async fn run_checks(&self, check: Check) -> Result<Outcome, Rejection> {
        let mut verdict: Option<Result<Outcome, Rejection>> = None;
        let mut next = Some(check);
        while let Some(check) = next.take() {
            let checked = match tokio::task::spawn_blocking(move || check.run()).await {
                Ok(checked) => checked,
                Err(err) => {
                    // Only a panic inside blst could get here; the candidates stay
                    // held and the expiry check still reports them.
                    tracing::error!(%err, "a signature check failed to run");
                    return verdict.unwrap_or(Ok(Outcome::Pending));
                }
            };
            let settled = self.engine().settle(checked);
            verdict = Some(settled.verdict_after(verdict));
            next = settled.next;
        }
        verdict.unwrap_or(Ok(Outcome::Pending))
    }
}

impl Aggregator {
    /// The engine. A panic while it was held cannot leave it half-updated in a way
    /// later calls trip on (each call validates its own inputs), so poisoning is
    /// ignored rather than spreading the panic to every later submission.
    fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open tasks. A poisoned lock (a panic elsewhere while holding it) still
    /// holds consistent entries: each update is a single insert or remove.
    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<u64, OpenTask>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Acts on one engine event: certificates go to the chain loop, the rest is
    /// counted and logged.
    fn note(&self, event: Event) {
        match event {
            Event::Certified(cert) => {
                if let Some(task) = self.tasks().get_mut(&cert.task_id) {
                    task.certified = Some(Instant::now());
                    metrics::histogram!(names::TIME_TO_CERTIFICATE)
                        .record(task.opened.elapsed().as_secs_f64());
                }
                let _ = self.certificates.send(*cert);
            }
            Event::SignatureRejected { task_id, operator } => {
                self.stats.bad_signatures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(names::BAD_SIGNATURES).increment(1);
                // Anyone can send bytes in an operator's name: this says nothing
                // against the operator.
                tracing::debug!(task = task_id, claimed = %operator, "invalid signature dropped");
            }
            Event::Equivocation(e) => self.prove_equivocation(&e),
            Event::Credited {
                task_id, operator, ..
            } => tracing::debug!(task = task_id, %operator, "signature verified"),
            Event::Expired(_) => {}
        }
    }
}

impl Aggregator {
    /// Turns an equivocation the engine saw (two verified signatures) into the proof
    /// `TaskManager.challenge` takes, and offers it to challengers.
    fn prove_equivocation(&self, e: &bulwark_core::engine::Equivocation) {
        let proof = self.tasks().get(&e.task_id).and_then(|task| {
            let entry = task
                .set
                .operators
                .iter()
                .find(|o| o.address.into_array() == e.operator.0)?;
            Some(Equivocation {
                context: task.context,
                task_id: e.task_id,
                kind: SignedKind::Response,
                operator: e.operator,
                public_key: entry.public_key,
                first: e.first,
                second: e.second,
            })
        });
        let Some(proof) = proof else {
            tracing::warn!(task = e.task_id, operator = %e.operator, "equivocation on a task no longer open; no proof kept");
            return;
        };
        // The engine verified both signatures; checked again as a challenger will.
        if let Err(err) = proof.verify() {
            tracing::error!(task = e.task_id, operator = %e.operator, %err, "equivocation does not prove; dropped");
            return;
        }
        self.offer_evidence(e.task_id, e.operator, "equivocation", proof.encode());
    }

    /// The evidence kept for challengers.
    pub fn evidence(&self) -> &Arc<EvidenceLog> {
        &self.evidence
    }

    /// Offers `proof` (checked by its maker) to challengers.
    fn offer_evidence(
        &self,
        task_id: u64,
        operator: OperatorId,
        label: &'static str,
        proof: Vec<u8>,
    ) {
        let Some(offence) = proof.get(..32).and_then(|o| <[u8; 32]>::try_from(o).ok()) else {
            tracing::error!(task = task_id, %operator, "evidence shorter than an offence id; dropped");
            return;
        };
        if let Some(store) = &self.store {
            store.write_later(vec![Write::Evidence(StoredEvidence {
                task_id,
                offence,
                operator: operator.0,
                evidence: proof.clone(),
            })]);
        }
        let sequence = self.evidence.push(task_id, offence, operator.0, proof);
        metrics::counter!(names::EVIDENCE, "offence" => label).increment(1);
        tracing::warn!(task = task_id, %operator, offence = label, sequence, "offence proven; offered to challengers");
    }
}

impl SubmissionSink for Aggregator {
    async fn operator_key(&self, operator: OperatorId) -> Option<PublicKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&operator)
            .copied()
    }

    async fn submit(&self, submission: SignedResponse) -> Result<Outcome, Rejection> {
        self.process(submission, true).await
    }

    async fn submit_report(&self, report: SignedReport) -> Result<ReportOutcome, ReportRejection> {
        self.take_report(report).await
    }

    async fn proposal(&self, task_id: u64) -> ProposalState {
        self.proposal_state(task_id)
    }

    fn evidence(&self) -> Option<Arc<EvidenceLog>> {
        Some(self.evidence.clone())
    }
}
