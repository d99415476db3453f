//! The aggregator's state in an embedded database (redb): what it accepted and has
//! not finished with, so a restart (even a `SIGKILL`) loses no accepted signature,
//! report, proposal or certificate, and reads back only what is still open.
//!
//! Tables, all keyed by task first so a finished task is pruned with range deletes:
//! - `tasks`: the open tasks as announced on chain (reopened at start without
//!   re-reading old logs);
//! - `submissions`, `reports`: what was accepted for each open task, in order;
//! - `proposals`: a two-phase task's proposal, once made (a restart proposes the
//!   same, so operators never see two);
//! - `certificates`: certificates not yet landed (the lander's queue);
//! - `evidence`: proofs offered to challengers (the latest [`MAX_EVIDENCE`]);
//! - `meta`: the next block to read events from, and the sequence counter.
//!
//! A task's rows are kept only while the task itself is (written when it opens,
//! before anything accepted for it): a row for a task already finished is dropped.
//!
//! Writes go through one writer thread that commits whatever is waiting in one
//! transaction (group commit, fsync'd): under load a commit carries hundreds of
//! signatures, and a caller is answered only once its write is durable.
//!
//! # Security
//! The file is local state, but its records are decoded like input: a record that
//! does not decode is skipped with a warning, and submissions read back are checked
//! again like new ones (a stored line is never taken as an operator's answer by
//! itself). A JSONL journal of an older aggregator is refused with a clear message.

use std::path::Path;

use bulwark_core::{OperatorId, SignedReport, SignedResponse};
use bulwark_crypto::Signature;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::oneshot;

use crate::follow::NewTask;

/// (task, sequence) -> operator (20) || signature (48) || response.
const SUBMISSIONS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("submissions");
/// (task, sequence) -> operator (20) || signature (48) || report.
const REPORTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("reports");
/// task -> reference block (4) || threshold bps (2) || deadline block (4) || input.
const TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");
/// task -> the proposed response.
const PROPOSALS: TableDefinition<u64, &[u8]> = TableDefinition::new("proposals");
/// task -> a pending certificate (see [`PendingCertificate`]).
const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
/// sequence -> task (8) || offence (32) || operator (20) || evidence.
const EVIDENCE: TableDefinition<u64, &[u8]> = TableDefinition::new("evidence");
/// name -> u64.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Evidence records kept (the newest), as many as the evidence stream serves.
pub const MAX_EVIDENCE: u64 = bulwark_net::evidence::MAX_ITEMS as u64;

const CURSOR: &str = "cursor";
const SEQUENCE: &str = "sequence";
const RECORD_HEAD: usize = 20 + Signature::LEN;

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("aggregator store: {0}")]
    Db(String),
    /// The file is a JSONL journal written by an older aggregator.
    #[error(
        "{0} is a JSONL journal of an older Bulwark aggregator, not a store; \
         wait until the tasks it holds have expired, then move it away (or point \
         `aggregator.store` at a new file)"
    )]
    OldJournal(String),
    /// The writer thread is gone (the process is stopping).
    #[error("aggregator store: the writer has stopped")]
    Stopped,
}

crate::store::from_redb_errors!(StoreError, StoreError::Db);

/// A certificate waiting to land: what the chain takes, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCertificate {
    /// The task.
    pub task_id: u64,
    /// The last block the task accepts a response in.
    pub deadline_block: u32,
    /// The certified response.
    pub response: Vec<u8>,
    /// `respondToTask`'s certificate argument, ABI-encoded.
    pub certificate: Vec<u8>,
}

impl PendingCertificate {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.response.len() + self.certificate.len());
        out.extend_from_slice(&self.deadline_block.to_be_bytes());
        out.extend_from_slice(&(self.response.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.response);
        out.extend_from_slice(&self.certificate);
        out
    }

    fn decode(task_id: u64, bytes: &[u8]) -> Option<Self> {
        let deadline_block = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
        let len = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
        let response = bytes.get(8..8usize.checked_add(len)?)?.to_vec();
        let certificate = bytes.get(8 + len..)?.to_vec();
        Some(Self {
            task_id,
            deadline_block,
            response,
            certificate,
        })
    }
}

/// One piece of stored evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvidence {
    /// The task.
    pub task_id: u64,
    /// The offence id.
    pub offence: [u8; 32],
    /// The offender.
    pub operator: [u8; 20],
    /// What `TaskManager.challenge` takes.
    pub evidence: Vec<u8>,
}

/// What a restart finds in the store.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The next block to read events from, if one was recorded.
    pub cursor: Option<u64>,
    /// The open tasks, by id.
    pub tasks: Vec<NewTask>,
    /// Certificates not yet landed.
    pub certificates: Vec<PendingCertificate>,
    /// Evidence kept for challengers, oldest first.
    pub evidence: Vec<StoredEvidence>,
}

/// One change to the store.
#[derive(Clone, Debug)]
pub enum Write {
    /// A task opened.
    Task(NewTask),
    /// A submission accepted (a candidate: it is checked again when read back).
    Submission(SignedResponse),
    /// A verified report accepted.
    Report(SignedReport),
    /// A two-phase task's proposal.
    Proposal(u64, Vec<u8>),
    /// A certificate to land.
    Certificate(PendingCertificate),
    /// Evidence offered to challengers.
    Evidence(StoredEvidence),
    /// The task is done (landed, answered by someone else, or expired): all its rows go.
    Finish(u64),
    /// Events are read up to here.
    Cursor(u64),
}

struct Job {
    writes: Vec<Write>,
    done: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// The aggregator's store.
pub struct Store {
    db: std::sync::Arc<Database>,
    jobs: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (or creates) the store at `path`; refuses an old JSONL journal.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.to_string()))?;
        }
        if looks_like_journal(path) {
            return Err(StoreError::OldJournal(path.display().to_string()));
        }
        Self::start(Database::create(path)?)
    }

    /// A store that lives as long as the process (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::start(
            Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?,
        )
    }

    fn start(db: Database) -> Result<Self, StoreError> {
        let db = std::sync::Arc::new(db);
        // Every table exists from the start, so reads need no "missing table" case.
        let tx = db.begin_write()?;
        tx.open_table(SUBMISSIONS)?;
        tx.open_table(REPORTS)?;
        tx.open_table(TASKS)?;
        tx.open_table(PROPOSALS)?;
        tx.open_table(CERTIFICATES)?;
        tx.open_table(EVIDENCE)?;
        let sequence = tx
            .open_table(META)?
            .get(SEQUENCE)?
            .map(|v| v.value())
            .unwrap_or(0);
        tx.commit()?;
        let (jobs, queue) = std::sync::mpsc::channel();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("aggregator-store".into())
            .spawn(move || write_loop(&writer_db, &queue, sequence))
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok(Self {
            db,
            jobs: std::sync::Mutex::new(Some(jobs)),
            writer: std::sync::Mutex::new(Some(writer)),
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .ok_or(StoreError::Stopped)?
            .send(job)
            .map_err(|_| StoreError::Stopped)
    }

    /// Writes `writes` in one transaction and returns once they are durable.
    pub async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.send(Job {
            writes,
            done: Some(done),
        })?;
        committed.await.map_err(|_| StoreError::Stopped)?
    }

    /// Writes `writes` without waiting: they are committed in order with every
    /// other write (a task before the cursor that passes it, say), but the caller
    /// goes on before they are durable (open tasks, the cursor, pruning, evidence:
    /// what a crash can lose is found again on chain or proven again).
    pub fn write_later(&self, writes: Vec<Write>) {
        if let Err(err) = self.send(Job { writes, done: None }) {
            tracing::error!(%err, "store write dropped");
        }
    }

    /// Waits for every write sent so far and stops the writer.
    pub fn close(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
    }

    /// What a restart needs: the cursor, the open tasks, pending certificates and
    /// the evidence kept.
    pub fn recover(&self) -> Result<Recovered, StoreError> {
        let tx = self.db.begin_read()?;
        let cursor = tx.open_table(META)?.get(CURSOR)?.map(|v| v.value());
        let mut tasks = Vec::new();
        for row in tx.open_table(TASKS)?.iter()? {
            let (id, value) = row?;
            match decode_task(id.value(), value.value()) {
                Some(task) => tasks.push(task),
                None => tracing::warn!(task = id.value(), "undecodable stored task skipped"),
            }
        }
        let mut certificates = Vec::new();
        for row in tx.open_table(CERTIFICATES)?.iter()? {
            let (id, value) = row?;
            match PendingCertificate::decode(id.value(), value.value()) {
                Some(cert) => certificates.push(cert),
                None => {
                    tracing::warn!(task = id.value(), "undecodable stored certificate skipped")
                }
            }
        }
        let mut evidence = Vec::new();
        for row in tx.open_table(EVIDENCE)?.iter()? {
            let (_, value) = row?;
            match decode_evidence(value.value()) {
                Some(e) => evidence.push(e),
                None => tracing::warn!("undecodable stored evidence skipped"),
            }
        }
        Ok(Recovered {
            cursor,
            tasks,
            certificates,
            evidence,
        })
    }

    /// The submissions stored for `task_id`, in the order they were accepted.
    pub fn submissions(&self, task_id: u64) -> Result<Vec<SignedResponse>, StoreError> {
        Ok(self
            .records(SUBMISSIONS, task_id)?
            .into_iter()
            .map(|(operator, signature, response)| SignedResponse {
                task_id,
                operator,
                response,
                signature,
            })
            .collect())
    }

    /// The reports stored for `task_id`, in the order they were accepted.
    pub fn reports(&self, task_id: u64) -> Result<Vec<SignedReport>, StoreError> {
        Ok(self
            .records(REPORTS, task_id)?
            .into_iter()
            .map(|(operator, signature, report)| SignedReport {
                task_id,
                operator,
                report,
                signature,
            })
            .collect())
    }

    /// The proposal stored for `task_id`, if one was made.
    pub fn proposal(&self, task_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(PROPOSALS)?;
        Ok(table.get(task_id)?.map(|v| v.value().to_vec()))
    }

    fn records(
        &self,
        table: TableDefinition<(u64, u64), &[u8]>,
        task_id: u64,
    ) -> Result<Vec<(OperatorId, Signature, Vec<u8>)>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(table)?;
        let mut out = Vec::new();
        for row in table.range((task_id, 0)..=(task_id, u64::MAX))? {
            let (_, value) = row?;
            match decode_record(value.value()) {
                Some(record) => out.push(record),
                None => tracing::warn!(task = task_id, "undecodable stored record skipped"),
            }
        }
        Ok(out)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: takes every job waiting, applies them in one transaction,
/// commits (fsync), and answers each.
fn write_loop(db: &Database, queue: &std::sync::mpsc::Receiver<Job>, mut sequence: u64) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 4096 {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let before = sequence;
        let result = apply(db, &jobs, &mut sequence);
        if result.is_err() {
            sequence = before;
        }
        for job in jobs {
            if let Some(done) = job.done {
                let _ = done.send(match &result {
                    Ok(()) => Ok(()),
                    Err(err) => Err(StoreError::Db(err.to_string())),
                });
            } else if let Err(err) = &result {
                tracing::error!(%err, "store write failed");
            }
        }
    }
}

fn apply(db: &Database, jobs: &[Job], sequence: &mut u64) -> Result<(), StoreError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate);
    {
        let mut submissions = tx.open_table(SUBMISSIONS)?;
        let mut reports = tx.open_table(REPORTS)?;
        let mut tasks = tx.open_table(TASKS)?;
        let mut proposals = tx.open_table(PROPOSALS)?;
        let mut certificates = tx.open_table(CERTIFICATES)?;
        let mut evidence = tx.open_table(EVIDENCE)?;
        let mut meta = tx.open_table(META)?;
        for write in jobs.iter().flat_map(|j| &j.writes) {
            *sequence += 1;
            match write {
                Write::Task(task) => {
                    tasks.insert(task.task_id, encode_task(task).as_slice())?;
                }
                // Rows of a task the store does not hold as open (finished while
                // this write was on its way) are dropped: nothing would prune them.
                Write::Submission(s) if tasks.get(s.task_id)?.is_some() => {
                    let record = encode_record(s.operator, &s.signature, &s.response);
                    submissions.insert((s.task_id, *sequence), record.as_slice())?;
                }
                Write::Report(r) if tasks.get(r.task_id)?.is_some() => {
                    let record = encode_record(r.operator, &r.signature, &r.report);
                    reports.insert((r.task_id, *sequence), record.as_slice())?;
                }
                Write::Proposal(task, response) if tasks.get(*task)?.is_some() => {
                    proposals.insert(*task, response.as_slice())?;
                }
                Write::Certificate(cert) if tasks.get(cert.task_id)?.is_some() => {
                    certificates.insert(cert.task_id, cert.encode().as_slice())?;
                }
                Write::Submission(_)
                | Write::Report(_)
                | Write::Proposal(..)
                | Write::Certificate(_) => {}
                Write::Evidence(e) => {
                    evidence.insert(*sequence, encode_evidence(e).as_slice())?;
                    while evidence.len()? > MAX_EVIDENCE {
                        evidence.pop_first()?;
                    }
                }
                Write::Finish(task) => {
                    submissions.retain_in((*task, 0)..=(*task, u64::MAX), |_, _| false)?;
                    reports.retain_in((*task, 0)..=(*task, u64::MAX), |_, _| false)?;
                    tasks.remove(*task)?;
                    proposals.remove(*task)?;
                    certificates.remove(*task)?;
                }
                Write::Cursor(block) => {
                    meta.insert(CURSOR, *block)?;
                }
            }
        }
        meta.insert(SEQUENCE, *sequence)?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether `path` holds a JSONL journal (its first byte is `{`); redb files start
/// with their own magic number.
fn looks_like_journal(path: &Path) -> bool {
    use std::io::Read;
    let mut first = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut first))
        .is_ok_and(|()| first[0] == b'{')
}

/// A stored submission or report: operator, signature, payload.
pub fn encode_record(operator: OperatorId, signature: &Signature, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEAD + payload.len());
    out.extend_from_slice(&operator.0);
    out.extend_from_slice(&signature.to_bytes());
    out.extend_from_slice(payload);
    out
}

/// A stored submission or report: operator, signature, payload. The signature is
/// decoded (on-curve and subgroup checked) like any other.
pub fn decode_record(bytes: &[u8]) -> Option<(OperatorId, Signature, Vec<u8>)> {
    let operator = OperatorId(bytes.get(..20)?.try_into().ok()?);
    let signature = Signature::from_bytes(bytes.get(20..RECORD_HEAD)?).ok()?;
    Some((operator, signature, bytes.get(RECORD_HEAD..)?.to_vec()))
}

fn encode_task(task: &NewTask) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + task.input.len());
    out.extend_from_slice(&task.reference_block.to_be_bytes());
    out.extend_from_slice(&task.threshold_bps.to_be_bytes());
    out.extend_from_slice(&task.deadline_block.to_be_bytes());
    out.extend_from_slice(&task.input);
    out
}

fn decode_task(task_id: u64, bytes: &[u8]) -> Option<NewTask> {
    Some(NewTask {
        task_id,
        reference_block: u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?),
        threshold_bps: u16::from_be_bytes(bytes.get(4..6)?.try_into().ok()?),
        deadline_block: u32::from_be_bytes(bytes.get(6..10)?.try_into().ok()?),
        input: bytes.get(10..)?.to_vec(),
    })
}

fn encode_evidence(e: &StoredEvidence) -> Vec<u8> {
    let mut out = Vec::with_capacity(60 + e.evidence.len());
    out.extend_from_slice(&e.task_id.to_be_bytes());
    out.extend_from_slice(&e.offence);
    out.extend_from_slice(&e.operator);
    out.extend_from_slice(&e.evidence);
    out
}

fn decode_evidence(bytes: &[u8]) -> Option<StoredEvidence> {
    Some(StoredEvidence {
        task_id: u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?),
        offence: bytes.get(8..40)?.try_into().ok()?,
        operator: bytes.get(40..60)?.try_into().ok()?,
        evidence: bytes.get(60..)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use bulwark_crypto::{Domain, SecretKey};

    use super::*;

    fn response(task_id: u64, operator: u8, bytes: &[u8]) -> SignedResponse {
        let key = SecretKey::from_ikm(&[operator; 32]).expect("ikm");
        SignedResponse {
            task_id,
            operator: OperatorId([operator; 20]),
            response: bytes.to_vec(),
            signature: key.sign(&Domain::SIGNATURE, bytes),
        }
    }

    fn task(task_id: u64) -> NewTask {
        NewTask {
            task_id,
            input: vec![1, 2, 3],
            reference_block: 7,
            threshold_bps: 6_667,
            deadline_block: 40,
        }
    }

    #[tokio::test]
    async fn reads_back_what_it_wrote_and_a_finished_task_is_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("aggregator.redb");
        let store = Store::open(&path).expect("open");
        let report = SignedReport {
            task_id: 1,
            operator: OperatorId([4; 20]),
            report: vec![9; 8],
            signature: response(1, 4, b"r").signature,
        };
        let cert = PendingCertificate {
            task_id: 2,
            deadline_block: 99,
            response: vec![5; 3],
            certificate: vec![6; 40],
        };
        let evidence = StoredEvidence {
            task_id: 2,
            offence: [1; 32],
            operator: [2; 20],
            evidence: vec![3; 10],
        };
        store
            .write(vec![
                Write::Task(task(1)),
                Write::Task(task(2)),
                Write::Submission(response(1, 1, b"a")),
                Write::Submission(response(1, 2, b"b")),
                Write::Submission(response(2, 1, b"c")),
                Write::Report(report.clone()),
                Write::Proposal(1, vec![8]),
                Write::Certificate(cert.clone()),
                Write::Evidence(evidence.clone()),
                Write::Cursor(12),
            ])
            .await
            .expect("write");
        store
            .write(vec![Write::Task(task(3))])
            .await
            .expect("task 3");
        // Concurrent writers each get their own answer once durable.
        let store = std::sync::Arc::new(store);
        let mut writers = tokio::task::JoinSet::new();
        for i in 0..50u8 {
            let store = store.clone();
            writers.spawn(async move {
                store
                    .write(vec![Write::Submission(response(3, i, b"x"))])
                    .await
            });
        }
        while let Some(written) = writers.join_next().await {
            written.expect("join").expect("write");
        }
        drop(store);

        let store = Store::open(&path).expect("reopen");
        let recovered = store.recover().expect("recover");
        assert_eq!(recovered.cursor, Some(12));
        assert_eq!(recovered.tasks, vec![task(1), task(2), task(3)]);
        assert_eq!(recovered.certificates, vec![cert]);
        assert_eq!(recovered.evidence, vec![evidence.clone()]);
        let firsts = store.submissions(1).expect("read");
        assert_eq!(firsts, vec![response(1, 1, b"a"), response(1, 2, b"b")]);
        assert_eq!(store.submissions(3).expect("read").len(), 50);
        assert_eq!(store.reports(1).expect("read"), vec![report]);
        assert_eq!(store.proposal(1).expect("read"), Some(vec![8]));

        store
            .write(vec![Write::Finish(1), Write::Finish(2)])
            .await
            .expect("finish");
        let recovered = store.recover().expect("recover");
        assert_eq!(recovered.tasks, vec![task(3)]);
        assert!(recovered.certificates.is_empty());
        assert!(store.submissions(1).expect("read").is_empty());
        assert!(store.reports(1).expect("read").is_empty());
        assert_eq!(store.proposal(1).expect("read"), None);
        // Other tasks' rows and evidence stay (challengers may still need it).
        assert_eq!(store.submissions(3).expect("read").len(), 50);
        assert_eq!(recovered.evidence, vec![evidence]);
    }

    #[tokio::test]
    async fn rows_of_a_finished_task_are_dropped_and_evidence_is_bounded() {
        let store = Store::in_memory().expect("store");
        store
            .write(vec![Write::Task(task(1)), Write::Finish(1)])
            .await
            .expect("write");
        // Late writes for the finished task (an expiry raced them) leave nothing.
        store
            .write(vec![
                Write::Submission(response(1, 1, b"late")),
                Write::Proposal(1, vec![1]),
                Write::Certificate(PendingCertificate {
                    task_id: 1,
                    deadline_block: 9,
                    response: vec![1],
                    certificate: vec![2],
                }),
            ])
            .await
            .expect("write");
        assert!(store.submissions(1).expect("read").is_empty());
        assert_eq!(store.proposal(1).expect("read"), None);
        assert!(store.recover().expect("recover").certificates.is_empty());
        // Evidence keeps the newest MAX_EVIDENCE, however many other writes happen.
        let evidence = |i: u64| StoredEvidence {
            task_id: i,
            offence: [0; 32],
            operator: [0; 20],
            evidence: vec![],
        };
        let writes: Vec<Write> = (0..MAX_EVIDENCE + 3)
            .map(|i| Write::Evidence(evidence(i)))
            .collect();
        store.write(writes).await.expect("evidence");
        store
            .write((10..20).map(|i| Write::Task(task(i))).collect())
            .await
            .expect("tasks");
        let kept = store.recover().expect("recover").evidence;
        assert_eq!(kept.len() as u64, MAX_EVIDENCE);
        assert_eq!(kept.first().map(|e| e.task_id), Some(3));
        assert_eq!(kept.last().map(|e| e.task_id), Some(MAX_EVIDENCE + 2));
    }

    #[test]
    fn an_old_journal_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("aggregator.journal");
        std::fs::write(&path, b"{\"task_id\":1}\n").expect("journal");
        let err = Store::open(&path).expect_err("refused");
        assert!(matches!(err, StoreError::OldJournal(_)));
        assert!(err.to_string().contains("JSONL journal"), "{err}");
    }

    #[test]
    fn damaged_records_do_not_decode() {
        assert!(decode_record(&[0; 10]).is_none());
        assert!(
            decode_record(&[0; RECORD_HEAD]).is_none(),
            "zero is not a signature"
        );
        assert!(decode_task(1, &[0; 9]).is_none());
        assert!(PendingCertificate::decode(1, &[0, 0, 0, 1, 255, 255, 255, 255]).is_none());
        assert!(decode_evidence(&[0; 59]).is_none());
    }
}
