//! The challenger: takes evidence from aggregators (`StreamEvidence`), checks it
//! off-chain as the contract will, and submits the challenges that can still land,
//! remembering across restarts what it submitted and where each stream stood.
//!
//! Several challengers may watch the same aggregators: a proof another one used first
//! is refused on chain (`AlreadySlashed`), counted, and never retried.
//!
//! Every AVS's equivocations are checked here ([`EquivocationCheck`]); an AVS with an
//! offence of its own gives its check ([`OffenceCheck`], e.g. the oracle's far
//! endorsement) to [`Challenger::with_check`]. On an AVS with a veto window, a
//! challenge queues the slash; the challenger executes it once the window has passed
//! ([`Challenger::execute_ready`]), and forgets it if the AVS's resolver vetoed it.
//!
//! # Security
//! Evidence comes from aggregators, which may lie; nothing is sent to the chain before
//! the proof verifies off-chain, names this chain and AVS, and carries the key the
//! operator had registered at the task's reference block. A proof that fails costs
//! the challenger nothing but the check; an aggregator that floods garbage costs it
//! one decode and one pairing check per item (its stream is one of a few). The state
//! file (redb) is the challenger's own: deleting it only makes it check again what it
//! already checked.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolValue;
use bulwark_chain::ChainError;
use bulwark_chain::bindings::BasicAVS::{self, BasicAVSErrors};
use bulwark_chain::bindings::SlashVeto::SlashVetoErrors;
use bulwark_chain::slashing::{
    Challenged, Equivocation, QueuedSlash, challenge, equivocation_offence, execute_slash,
    registered_key_at,
};
use bulwark_core::{SigningContext, SlashingProof};
use bulwark_crypto::PublicKey;
use bulwark_net::client::{Backoff, Connection};
use redb::{Database, ReadableTable, TableDefinition};

use crate::telemetry::{Health, names};

/// offence key (32) -> outcome label.
const OUTCOMES: TableDefinition<&[u8], &str> = TableDefinition::new("outcomes");
/// aggregator endpoint -> run (16) || last sequence handled (8).
const CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("cursors");
/// slash id (8) -> ready block (8) || offence key (32): slashes queued behind the AVS's
/// veto window, to execute once ready.
const QUEUED: TableDefinition<u64, &[u8]> = TableDefinition::new("queued");

/// The task an offence is claimed on, as the chain has it.
#[derive(Clone, Copy, Debug)]
pub struct TaskContext<'a> {
    /// The chain (to read what the contract reads, e.g. a tolerance).
    pub provider: &'a DynProvider,
    /// The AVS.
    pub avs: Address,
    /// The chain id and AVS messages are signed for.
    pub context: SigningContext,
    /// The task.
    pub task_id: u64,
    /// Its reference block.
    pub reference_block: u32,
}

/// What a check found: who the proof accuses, and the key that signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The offender.
    pub operator: Address,
    /// The key its proof verifies under (the chain holds it to the one registered at
    /// the task's reference block).
    pub public_key: PublicKey,
}

/// Why a check did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// The evidence does not prove the offence, and why.
    Invalid(String),
    /// What the check needed to read could not be read; to be tried again.
    Failed(String),
}

/// A future a check returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<Checked, CheckError>> + Send + 'a>>;

/// Checks the evidence of one offence off-chain exactly as the AVS's contract will,
/// reading from the chain what the contract reads.
///
/// # Security
/// `evidence` comes from an aggregator, which may lie: decode it strictly and verify
/// every signature before returning [`Checked`].
pub trait OffenceCheck: Send + Sync {
    /// The offence id it checks (the evidence's first word).
    fn offence(&self) -> B256;

    /// Whom `evidence` accuses, from a decode alone (no signature check): what the
    /// challenger looks up in what it already did before paying for a check.
    fn offender(&self, evidence: &[u8]) -> Result<Address, String>;

    /// Decodes and verifies `evidence` for `task`.
    fn check<'a>(&'a self, task: TaskContext<'a>, evidence: &'a [u8]) -> CheckFuture<'a>;
}

/// Equivocation, every AVS's offence: two valid signatures of one operator on
/// different responses (or reports) to one task.
#[derive(Clone, Copy, Debug, Default)]
pub struct EquivocationCheck;

impl OffenceCheck for EquivocationCheck {
    fn offence(&self) -> B256 {
        equivocation_offence()
    }

    fn offender(&self, evidence: &[u8]) -> Result<Address, String> {
        Equivocation::decode(evidence)
            .map(|p| Address::from(p.operator.0))
            .map_err(|e| e.to_string())
    }

    fn check<'a>(&'a self, task: TaskContext<'a>, evidence: &'a [u8]) -> CheckFuture<'a> {
        Box::pin(async move {
            let proof =
                Equivocation::decode(evidence).map_err(|e| CheckError::Invalid(e.to_string()))?;
            if proof.context != task.context || proof.task_id != task.task_id {
                return Err(CheckError::Invalid("for another chain, AVS or task".into()));
            }
            proof
                .verify()
                .map_err(|e| CheckError::Invalid(e.to_string()))?;
            Ok(Checked {
                operator: Address::from(proof.operator.0),
                public_key: proof.public_key,
            })
        })
    }
}

/// What became of a queued slash the challenger tried to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Executed {
    /// It landed: the operator was slashed.
    Landed(bulwark_chain::slashing::Slashed),
    /// The AVS's resolver vetoed it (or someone else executed it first).
    Gone(String),
    /// Not yet: its window is still open, or the chain could not be reached.
    Waiting(String),
}

/// What became of one piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The challenge landed: the operator was slashed.
    Landed(bulwark_chain::slashing::Slashed),
    /// The challenge landed and the slash waits out the AVS's veto window.
    Queued(bulwark_chain::slashing::QueuedSlash),
    /// This challenger dealt with this offence before.
    Known,
    /// Someone else's challenge for it landed first.
    AlreadyUsed,
    /// Its challenge window has closed.
    Late,
    /// The proof does not hold (or is not this chain's and AVS's), and why.
    Invalid(String),
    /// An offence this challenger cannot check.
    Unsupported(B256),
    /// The chain could not be reached; to be tried again.
    Failed(String),
}

impl Handled {
    /// A short label, for metrics and the state file.
    pub fn label(&self) -> &'static str {
        match self {
            Handled::Landed(_) => "landed",
            Handled::Queued(_) => "queued",
            Handled::Known => "known",
            Handled::AlreadyUsed => "already_used",
            Handled::Late => "late",
            Handled::Invalid(_) => "invalid",
            Handled::Unsupported(_) => "unsupported",
            Handled::Failed(_) => "failed",
        }
    }
}

/// Why the challenger could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChallengerError {
    /// The state file could not be opened, read or written.
    #[error("challenger state: {0}")]
    State(String),
    /// The chain could not be reached.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

crate::store::from_redb_errors!(ChallengerError, ChallengerError::State);

/// Where one aggregator's stream stood.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The aggregator's run.
    pub run: [u8; 16],
    /// The last sequence number handled in it.
    pub after: u64,
}

/// A challenger for one AVS.
pub struct Challenger {
    provider: DynProvider,
    avs: Address,
    context: SigningContext,
    db: Database,
    checks: Vec<Box<dyn OffenceCheck>>,
    /// The lowest slash id in the AVS's veto window that may still be pending: every
    /// one below it was executed or vetoed (a cursor over the chain's queue).
    scan_from: std::sync::atomic::AtomicU64,
    /// When the chain last answered (for `/health`).
    pub health: Arc<Health>,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenger")
            .field("avs", &self.avs)
            .finish_non_exhaustive()
    }
}

/// `TaskManager.offenceKey(taskId, operator, offence)`.
fn offence_key(task_id: u64, operator: Address, offence: B256) -> B256 {
    keccak256((U256::from(task_id), operator, offence).abi_encode_params())
}

impl Challenger {
    /// A challenger sending its transactions with `provider` (which holds its key) to
    /// `avs`, keeping its state in `state`.
    pub async fn open(
        provider: DynProvider,
        avs: Address,
        state: &Path,
    ) -> Result<Self, ChallengerError> {
        if let Some(dir) = state.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ChallengerError::State(e.to_string()))?;
        }
        let db = Database::create(state)?;
        let chain_id = provider.get_chain_id().await.map_err(ChainError::from)?;
        Ok(Self {
            provider,
            avs,
            context: SigningContext {
                chain_id,
                avs: avs.into_array(),
            },
            db,
            checks: vec![Box::new(EquivocationCheck)],
            scan_from: Default::default(),
            health: Default::default(),
        })
    }

    /// Also takes evidence of `check`'s offence (an AVS's own).
    pub fn with_check(mut self, check: Box<dyn OffenceCheck>) -> Self {
        self.checks.push(check);
        self
    }

    /// Where `endpoint`'s stream stood.
    pub fn cursor(&self, endpoint: &str) -> Result<Cursor, ChallengerError> {
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(CURSORS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Cursor::default()),
            Err(e) => return Err(e.into()),
        };
        let Some(v) = table.get(endpoint)? else {
            return Ok(Cursor::default());
        };
        let bytes = v.value();
        let (run, after) = bytes
            .split_at_checked(16)
            .filter(|(_, a)| a.len() == 8)
            .ok_or_else(|| ChallengerError::State(format!("damaged cursor for {endpoint}")))?;
        let mut r = [0u8; 16];
        r.copy_from_slice(run);
        let mut a = [0u8; 8];
        a.copy_from_slice(after);
        Ok(Cursor {
            run: r,
            after: u64::from_be_bytes(a),
        })
    }

    fn set_cursor(&self, endpoint: &str, cursor: Cursor) -> Result<(), ChallengerError> {
        let mut value = cursor.run.to_vec();
        value.extend_from_slice(&cursor.after.to_be_bytes());
        let tx = self.db.begin_write()?;
        tx.open_table(CURSORS)?.insert(endpoint, value.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    fn outcome(&self, key: B256) -> Result<Option<String>, ChallengerError> {
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(OUTCOMES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(key.as_slice())?.map(|v| v.value().to_string()))
    }

    fn record(&self, key: B256, outcome: &Handled) -> Result<(), ChallengerError> {
        let tx = self.db.begin_write()?;
        tx.open_table(OUTCOMES)?
            .insert(key.as_slice(), outcome.label())?;
        tx.commit()?;
        Ok(())
    }

    /// Checks `evidence` for `task_id` and challenges with it if it can still land.
    pub async fn handle(&self, task_id: u64, evidence: &[u8]) -> Handled {
        let handled = self.check_and_challenge(task_id, evidence).await;
        metrics::counter!(names::CHALLENGER_EVIDENCE, "result" => handled.label()).increment(1);
        match &handled {
            Handled::Landed(s) => {
                tracing::warn!(task = task_id, operator = %s.operator, amount = %s.amount, "slashed")
            }
            Handled::Invalid(why) => tracing::warn!(task = task_id, why, "evidence refused"),
            Handled::Failed(why) => {
                tracing::warn!(task = task_id, why, "challenge failed; will retry")
            }
            other => tracing::info!(task = task_id, outcome = other.label(), "evidence handled"),
        }
        handled
    }

    async fn check_and_challenge(&self, task_id: u64, evidence: &[u8]) -> Handled {
        let Some(offence) = evidence.get(..32).map(B256::from_slice) else {
            return Handled::Invalid("shorter than an offence id".into());
        };
        let Some(check) = self.checks.iter().find(|c| c.offence() == offence) else {
            return Handled::Unsupported(offence);
        };
        let operator = match check.offender(evidence) {
            Ok(operator) => operator,
            Err(why) => return Handled::Invalid(why),
        };
        let key = offence_key(task_id, operator, offence);
        match self.outcome(key) {
            Ok(Some(_)) => return Handled::Known,
            Ok(None) => {}
            Err(err) => return Handled::Failed(err.to_string()),
        }
        let contract = BasicAVS::new(self.avs, self.provider.clone());
        let task = match contract.getTask(U256::from(task_id)).call().await {
            Ok(task) => task,
            Err(err) if bulwark_chain::revert::reason(&err).is_some() => {
                return Handled::Invalid(format!("no task {task_id}"));
            }
            Err(err) => return Handled::Failed(err.to_string()),
        };
        // A proof that does not hold is never recorded against the offence: a liar's
        // garbage must not stand in the way of the real proof arriving later.
        let task_context = TaskContext {
            provider: &self.provider,
            avs: self.avs,
            context: self.context,
            task_id,
            reference_block: task.referenceBlock,
        };
        let checked = match check.check(task_context, evidence).await {
            Ok(checked) if checked.operator == operator => checked,
            Ok(_) => return Handled::Invalid("accuses another operator than it names".into()),
            Err(CheckError::Invalid(why)) => return Handled::Invalid(why),
            Err(CheckError::Failed(why)) => return Handled::Failed(why),
        };
        match registered_key_at(&self.provider, self.avs, operator, task.referenceBlock).await {
            Ok(Some(registered)) if registered == checked.public_key => {}
            Ok(_) => return Handled::Invalid("not the key the operator had registered".into()),
            Err(err) => return Handled::Failed(err.to_string()),
        }
        match contract.slashedFor(key).call().await {
            Ok(true) => return self.settle(key, Handled::AlreadyUsed),
            Ok(false) => {}
            Err(err) => return Handled::Failed(err.to_string()),
        }
        let (deadline, head) = match (
            contract.challengeDeadline(U256::from(task_id)).call().await,
            self.provider.get_block_number().await,
        ) {
            (Ok(deadline), Ok(head)) => (deadline, head),
            (Err(err), _) => return Handled::Failed(err.to_string()),
            (_, Err(err)) => return Handled::Failed(err.to_string()),
        };
        self.health.chain_ok(head);
        // The challenge lands in the next block at the earliest.
        if U256::from(head + 1) > deadline {
            return self.settle(key, Handled::Late);
        }
        let outcome = match challenge(&self.provider, self.avs, task_id, evidence).await {
            Ok(Challenged::Slashed(slashed)) => Handled::Landed(slashed),
            Ok(Challenged::Queued(queued)) => {
                if let Err(err) = self.remember_queued(key, &queued) {
                    return Handled::Failed(err.to_string());
                }
                Handled::Queued(queued)
            }
            Err(ChainError::Contract(err)) => {
                match err.as_decoded_interface_error::<BasicAVSErrors>() {
                    Some(BasicAVSErrors::AlreadySlashed(_)) => Handled::AlreadyUsed,
                    Some(BasicAVSErrors::ChallengeWindowClosed(_)) => Handled::Late,
                    Some(_) => {
                        return Handled::Invalid(
                            bulwark_chain::revert::reason(&err).unwrap_or_else(|| err.to_string()),
                        );
                    }
                    None => return Handled::Failed(err.to_string()),
                }
            }
            Err(err) => return Handled::Failed(err.to_string()),
        };
        self.settle(key, outcome)
    }

    fn remember_queued(&self, key: B256, queued: &QueuedSlash) -> Result<(), ChallengerError> {
        let mut value = queued.ready_block.to_be_bytes().to_vec();
        value.extend_from_slice(key.as_slice());
        let tx = self.db.begin_write()?;
        tx.open_table(QUEUED)?
            .insert(queued.slash_id, value.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// The slashes this challenger queued and has not seen through: id, ready block
    /// and offence key.
    pub fn queued(&self) -> Result<Vec<(u64, u64, B256)>, ChallengerError> {
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(QUEUED) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (id, value) = entry?;
            let value = value.value();
            let (ready, key) = value
                .split_at_checked(8)
                .filter(|(_, k)| k.len() == 32)
                .ok_or_else(|| {
                    ChallengerError::State(format!("damaged queued slash {}", id.value()))
                })?;
            let mut r = [0u8; 8];
            r.copy_from_slice(ready);
            out.push((id.value(), u64::from_be_bytes(r), B256::from_slice(key)));
        }
        Ok(out)
    }

    /// Executes queued slash `slash_id`; `key` is its offence key when this
    /// challenger queued it (then its outcome is recorded and the queue entry dropped).
    async fn execute(&self, slash_id: u64, head: u64, key: Option<B256>) -> Executed {
        let executed = match execute_slash(&self.provider, self.avs, slash_id).await {
            Ok(slashed) => Executed::Landed(slashed),
            Err(ChainError::Contract(err)) => {
                match err.as_decoded_interface_error::<SlashVetoErrors>() {
                    Some(SlashVetoErrors::SlashNotPending(_)) => Executed::Gone(
                        bulwark_chain::revert::reason(&err).unwrap_or_else(|| err.to_string()),
                    ),
                    _ => Executed::Waiting(err.to_string()),
                }
            }
            Err(err) => Executed::Waiting(err.to_string()),
        };
        let label = match &executed {
            Executed::Landed(s) => {
                tracing::warn!(slash = slash_id, operator = %s.operator, amount = %s.amount, "queued slash executed");
                if let Some(key) = key {
                    let _ = self.record(key, &Handled::Landed(s.clone()));
                }
                "executed"
            }
            Executed::Gone(why) => {
                tracing::info!(
                    slash = slash_id,
                    why,
                    "queued slash vetoed or executed elsewhere"
                );
                "gone"
            }
            Executed::Waiting(why) => {
                tracing::warn!(
                    slash = slash_id,
                    head,
                    why,
                    "queued slash not executed; will retry"
                );
                "waiting"
            }
        };
        metrics::counter!(names::CHALLENGER_EVIDENCE, "result" => label).increment(1);
        if key.is_some() && !matches!(executed, Executed::Waiting(_)) {
            if let Err(err) = self.forget_queued(slash_id) {
                tracing::error!(slash = slash_id, %err, "cannot update the queued slashes");
            }
        }
        executed
    }

    fn forget_queued(&self, slash_id: u64) -> Result<(), ChallengerError> {
        let tx = self.db.begin_write()?;
        tx.open_table(QUEUED)?.remove(slash_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Executes every slash queued on the AVS whose veto window has passed by block
    /// `head`: first those this challenger queued (remembered across restarts), then
    /// any other the chain's queue holds (another challenger's that was never
    /// executed: the bounty still goes to whoever proved it). Forgets those vetoed or
    /// executed by someone else. What became of each it tried.
    pub async fn execute_ready(&self, head: u64) -> Vec<(u64, Executed)> {
        let mut done = self.execute_own(head).await;
        match self.ready_on_chain(head).await {
            Ok(ids) => {
                for slash_id in ids {
                    let executed = self.execute(slash_id, head, None).await;
                    done.push((slash_id, executed));
                }
            }
            Err(err) => tracing::warn!(%err, "cannot read the AVS's queued slashes; will retry"),
        }
        done
    }

    /// The ids of slashes pending in the AVS's veto window and ready by `head`;
    /// advances the cursor over those settled.
    async fn ready_on_chain(&self, head: u64) -> Result<Vec<u64>, ChainError> {
        use std::sync::atomic::Ordering;
        let veto = BasicAVS::new(self.avs, self.provider.clone())
            .slashVeto()
            .call()
            .await?;
        let veto = bulwark_chain::bindings::SlashVeto::new(veto, self.provider.clone());
        let count = u64::try_from(veto.slashCount().call().await?).unwrap_or(u64::MAX);
        let from = self.scan_from.load(Ordering::Relaxed);
        let mut next = from;
        let mut ready = Vec::new();
        let mut settled_prefix = true;
        for id in from..count {
            let slash = veto.slash(U256::from(id)).call().await?;
            // Status::Pending is 1; the others are final.
            if slash.status != 1 {
                if settled_prefix {
                    next = id + 1;
                }
                continue;
            }
            settled_prefix = false;
            if u64::from(slash.readyBlock) <= head {
                ready.push(id);
            }
        }
        self.scan_from.store(next, Ordering::Relaxed);
        Ok(ready)
    }

    /// Executes this challenger's own queued slashes ready by `head`.
    async fn execute_own(&self, head: u64) -> Vec<(u64, Executed)> {
        let queued = match self.queued() {
            Ok(queued) => queued,
            Err(err) => {
                tracing::error!(%err, "cannot read the queued slashes");
                return Vec::new();
            }
        };
        let mut done = Vec::new();
        for (slash_id, _, key) in queued.into_iter().filter(|(_, ready, _)| *ready <= head) {
            let executed = self.execute(slash_id, head, Some(key)).await;
            done.push((slash_id, executed));
        }
        done
    }

    /// Records a final outcome for the offence: landed, used by someone else, or too
    /// late. (A proof that does not hold, or a failure to reach the chain, is not.)
    fn settle(&self, key: B256, outcome: Handled) -> Handled {
        match self.record(key, &outcome) {
            Ok(()) => outcome,
            Err(err) => Handled::Failed(err.to_string()),
        }
    }

    /// Follows `endpoint`'s evidence from where it stood, handling each item, until
    /// `shutdown` resolves; reconnects when the stream breaks, starts over when the
    /// aggregator restarted (a new run), and retries an item that failed.
    pub async fn follow(
        &self,
        endpoint: &str,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ChallengerError> {
        let connection = Connection::new(endpoint);
        let backoff = Backoff::default();
        tokio::pin!(shutdown);
        let mut delay = Duration::from_millis(200);
        loop {
            let mut cursor = self.cursor(endpoint)?;
            let stream = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                s = connection.evidence(cursor.after, &backoff) => s,
            };
            let mut stream = match stream {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::warn!(endpoint, %err, "no evidence stream; retrying");
                    tokio::select! {
                        _ = &mut shutdown => return Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            loop {
                let item = tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    item = stream.message() => item,
                };
                let Ok(Some(item)) = item else {
                    break;
                };
                delay = Duration::from_millis(200);
                let Ok(run) = <[u8; 16]>::try_from(item.run.as_slice()) else {
                    tracing::warn!(endpoint, "an evidence item without a run id; ignored");
                    continue;
                };
                if run != cursor.run {
                    // A new run of the aggregator: its numbering started over.
                    cursor = Cursor { run, after: 0 };
                    self.set_cursor(endpoint, cursor)?;
                    if item.sequence > 1 {
                        break; // reconnect from its first item
                    }
                }
                if item.sequence <= cursor.after {
                    continue;
                }
                let handled = self.handle(item.task_id, &item.evidence).await;
                if matches!(handled, Handled::Failed(_)) {
                    break; // retried from this item after a pause
                }
                cursor.after = item.sequence;
                self.set_cursor(endpoint, cursor)?;
            }
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
}
