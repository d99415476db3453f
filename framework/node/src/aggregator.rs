//! The aggregator runtime: opens an engine task for every `TaskCreated` event (with the
//! operator set read from chain at the task's reference block), serves operators'
//! submissions through the engine, and submits each certificate to the AVS, retrying
//! until it lands or someone else's does.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use bulwark_chain::certificate::{Submission, build_certificate, submit_response};
use bulwark_chain::registry::{OperatorSet as ChainSet, operator_set_at};
use bulwark_core::{
    Certificate, Engine, EngineConfig, Event, Operator, OperatorId, OperatorSet, Outcome,
    Rejection, SignedResponse, SigningContext, TaskConfig, Threshold,
};
use bulwark_net::server::SubmissionSink;
use tokio::sync::mpsc;

use crate::follow::{ChainSource, NewTask, TaskFollower};
use crate::journal::Journal;
use crate::telemetry::{Health, names};

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
    /// Certificates submitted and landed (or already answered).
    pub certificates_landed: AtomicU64,
    /// Tasks that expired without a certificate.
    pub expired: AtomicU64,
}

/// What happened to a task, for callers that watch (tests, the demo).
#[derive(Clone, Debug)]
pub enum TaskOutcome {
    /// A certificate landed on chain.
    Landed(Box<Certificate>),
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
    set: ChainSet,
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
    journal: Option<std::sync::Mutex<Journal>>,
    /// Counters.
    pub stats: Stats,
    /// When the chain last answered (for `/health`).
    pub health: Arc<Health>,
}

impl Aggregator {
    /// A new aggregator and the receiving end of its certificates (for [`Self::run`]).
    pub fn new(config: EngineConfig) -> (Arc<Self>, mpsc::UnboundedReceiver<Certificate>) {
        Self::with_journal(config, None)
    }

    /// Like [`Aggregator::new`], recording accepted submissions in `journal` and
    /// replaying the ones recorded there when a task is opened.
    pub fn with_journal(
        config: EngineConfig,
        journal: Option<Journal>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Certificate>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Self {
                engine: std::sync::Mutex::new(Engine::new(config)),
                head: AtomicU64::new(0),
                open: std::sync::Mutex::new(HashMap::new()),
                certificates: tx,
                journal: journal.map(std::sync::Mutex::new),
                stats: Stats::default(),
                health: Arc::new(Health::default()),
            }),
            rx,
        )
    }

    /// Follows the AVS of `chain`, opening and expiring tasks, and submits
    /// certificates from `certificates`; reports each task's end on `outcomes`. Runs
    /// until `shutdown` resolves.
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
        } = chain;
        let avs = Address::from(context.avs);
        let mut follower = TaskFollower::new(provider.clone(), avs, from_block);
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(poll);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                Some(cert) = certificates.recv() => {
                    self.land(&provider, avs, cert, &outcomes).await;
                }
                _ = ticker.tick() => {
                    match follower.poll().await {
                        Ok((head, tasks)) => {
                            self.head.store(head, Ordering::Relaxed);
                            self.health.chain_ok(head);
                            for task in tasks {
                                self.open(&provider, context, task).await;
                            }
                            self.expire(head, &outcomes).await;
                        }
                        Err(err) => {
                            metrics::counter!(names::CHAIN_ERRORS).increment(1);
                            tracing::warn!(%err, "chain poll failed; retrying");
                        }
                    }
                }
            }
        }
    }

    async fn open(&self, provider: &DynProvider, context: SigningContext, task: NewTask) {
        let avs = Address::from(context.avs);
        let set = match operator_set_at(provider, avs, task.reference_block).await {
            Ok(set) => set,
            Err(err) => {
                tracing::error!(task = task.task_id, %err, "cannot read the operator set; task skipped");
                return;
            }
        };
        let operators = set
            .operators
            .iter()
            .map(|e| Operator {
                id: OperatorId(e.address.into_array()),
                public_key: e.public_key,
                stake: e.stake_gwei,
            })
            .collect();
        let (Ok(operators), Some(threshold)) = (
            OperatorSet::new(operators),
            Threshold::new(task.threshold_bps),
        ) else {
            tracing::error!(
                task = task.task_id,
                "invalid operator set or threshold; task skipped"
            );
            return;
        };
        let config = TaskConfig {
            task_id: task.task_id,
            reference_block: task.reference_block,
            threshold,
            deadline: u64::from(task.deadline_block),
            operators,
            context,
        };
        if let Err(err) = self.open_task(config, set).await {
            tracing::warn!(task = task.task_id, %err, "task not opened");
        }
    }

    /// Opens a task whose operator set the caller read itself (the chain loop does
    /// this for every `TaskCreated`; benchmarks and tests call it directly), then
    /// replays what the journal holds for it.
    pub async fn open_task(
        &self,
        config: TaskConfig,
        set: ChainSet,
    ) -> Result<(), bulwark_core::EngineError> {
        let task_id = config.task_id;
        // The engine lock must be released before replaying, which takes it again.
        self.engine().open(config)?;
        self.tasks().insert(
            task_id,
            OpenTask {
                set,
                opened: Instant::now(),
                certified: None,
            },
        );
        self.stats.tasks_opened.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::TASKS_OPENED).increment(1);
        tracing::info!(task = task_id, "task opened");
        self.replay(task_id).await;
        Ok(())
    }

    /// Feeds the journal's submissions for `task_id` back into the engine.
    async fn replay(&self, task_id: u64) {
        let Some(journal) = &self.journal else {
            return;
        };
        let recorded = match journal.lock().map(|j| j.replay(task_id)) {
            Ok(Ok(recorded)) => recorded,
            Ok(Err(err)) => {
                tracing::error!(task = task_id, %err, "cannot read the journal");
                return;
            }
            Err(_) => return,
        };
        if !recorded.is_empty() {
            tracing::info!(
                task = task_id,
                count = recorded.len(),
                "replaying journaled submissions"
            );
        }
        for sub in recorded {
            self.process(sub, false).await.ok();
        }
    }

    async fn expire(&self, head: u64, outcomes: &mpsc::UnboundedSender<TaskOutcome>) {
        let (reports, events) = {
            let mut engine = self.engine();
            (engine.expire(head), engine.drain_events())
        };
        for event in events {
            self.note(event);
        }
        for report in reports {
            self.stats.expired.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::TASKS_EXPIRED).increment(1);
            self.tasks().remove(&report.task_id);
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

    async fn land(
        &self,
        provider: &DynProvider,
        avs: Address,
        cert: Certificate,
        outcomes: &mpsc::UnboundedSender<TaskOutcome>,
    ) {
        let Some(OpenTask { set, certified, .. }) = self.tasks().remove(&cert.task_id) else {
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
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=5 {
            match submit_response(
                provider,
                avs,
                U256::from(cert.task_id),
                &cert.response,
                chain_cert.clone(),
            )
            .await
            {
                Ok(Submission::Accepted(tx)) => {
                    tracing::info!(task = cert.task_id, %tx, "certificate landed");
                    break;
                }
                Ok(Submission::AlreadyResponded) => {
                    tracing::info!(task = cert.task_id, "task already answered");
                    break;
                }
                Err(err) if attempt < 5 => {
                    tracing::warn!(task = cert.task_id, %err, attempt, "submission failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(err) => {
                    tracing::error!(task = cert.task_id, %err, "giving up on the certificate");
                    return;
                }
            }
        }
        self.stats
            .certificates_landed
            .fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::CERTIFICATES).increment(1);
        if let Some(at) = certified {
            metrics::histogram!(names::TIME_TO_LAND).record(at.elapsed().as_secs_f64());
        }
        let _ = outcomes.send(TaskOutcome::Landed(Box::new(cert)));
    }
}

impl Aggregator {
    /// Runs one submission through the engine; journals it first when accepted and
    /// `record` is set (not for replays).
    async fn process(
        &self,
        submission: SignedResponse,
        record: bool,
    ) -> Result<Outcome, Rejection> {
        let now = self.head.load(Ordering::Relaxed);
        let (verdict, events) = {
            let mut engine = self.engine();
            // Copied only when it may have to be journaled.
            let journaled = (record && self.journal.is_some()).then(|| submission.clone());
            let verdict = engine.submit(now, submission);
            if let (Some(journaled), Some(journal)) = (journaled, &self.journal) {
                if matches!(verdict, Ok(Outcome::Pending) | Ok(Outcome::Certified(_))) {
                    if let Err(err) = journal
                        .lock()
                        .map(|mut j| j.append(&journaled))
                        .unwrap_or(Ok(()))
                    {
                        tracing::error!(%err, "journal write failed");
                    }
                }
            }
            (verdict, engine.drain_events())
        };
        for event in events {
            self.note(event);
        }
        match &verdict {
            Ok(_) => self.stats.accepted.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.rejected.fetch_add(1, Ordering::Relaxed),
        };
        verdict
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
                tracing::warn!(task = task_id, %operator, "invalid signature dropped");
            }
            Event::Equivocation(e) => {
                tracing::warn!(task = e.task_id, operator = %e.operator, "equivocation recorded")
            }
            Event::Expired(_) => {}
        }
    }
}

impl SubmissionSink for Aggregator {
    async fn submit(&self, submission: SignedResponse) -> Result<Outcome, Rejection> {
        self.process(submission, true).await
    }
}
