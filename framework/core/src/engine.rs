//! The aggregation engine: a state machine that takes signed responses for open tasks
//! and emits a [`Certificate`] as soon as operators holding the threshold of stake
//! signed the same response.
//!
//! Verification is optimistic: a signature is not checked when it arrives. Once the
//! stake claimed for one response reaches the threshold, the whole group is checked
//! with one aggregate verification (one pairing); only if that fails does the engine
//! bisect for the bad signatures, drop them, and carry on. Honest traffic thus costs
//! one pairing per task instead of one per operator.
//!
//! The engine does no I/O and reads no clock: callers pass `now` in whatever unit the
//! deadlines use (block numbers for Bulwark's runtimes).
//!
//! # Example
//! ```
//! use bulwark_core::*;
//! use bulwark_crypto::{Domain, SecretKey};
//! let keys: Vec<SecretKey> = (1..=3u8).map(|i| SecretKey::from_ikm(&[i; 32]).unwrap()).collect();
//! let set = OperatorSet::new(keys.iter().enumerate().map(|(i, k)| Operator {
//!     id: OperatorId([i as u8; 20]), public_key: k.public_key(), stake: 10,
//! }).collect()).unwrap();
//! let context = SigningContext { chain_id: 31337, avs: [9; 20] };
//! let mut engine = Engine::new(EngineConfig::default());
//! engine.open(TaskConfig { task_id: 1, reference_block: 7, threshold: Threshold::new(6000).unwrap(),
//!     deadline: 100, operators: set, context }).unwrap();
//! let message = context.message(1, &ResponseDigest::of(b"42"));
//! let mut outcome = None;
//! for (i, k) in keys.iter().enumerate().take(2) {
//!     outcome = Some(engine.submit(5, SignedResponse { task_id: 1, operator: OperatorId([i as u8; 20]),
//!         response: b"42".to_vec(), signature: k.sign(&Domain::SIGNATURE, &message) }).unwrap());
//! }
//! assert!(matches!(outcome, Some(Outcome::Certified(c)) if c.signed_stake == 20));
//! ```
//!
//! # Security
//! Everything in a [`SignedResponse`] is adversarial. Memory per task is bounded: at
//! most [`EngineConfig::max_responses_per_task`] distinct responses of at most
//! [`EngineConfig::max_response_bytes`] each, and one signature per member. An
//! operator whose signature was dropped as invalid cannot resubmit for that task, so
//! it cannot make the engine bisect again and again.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bulwark_crypto::{AggregatePublicKey, AggregateSignature, Domain, Signature, batch};

use crate::{Certificate, OperatorId, OperatorSet, ResponseDigest, SigningContext, Threshold};

/// Limits that bound the engine's memory.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Tasks open at once.
    pub max_open_tasks: usize,
    /// Distinct responses kept per task.
    pub max_responses_per_task: usize,
    /// Largest response accepted, in bytes.
    pub max_response_bytes: usize,
    /// Finished tasks remembered, to answer late submissions precisely.
    pub remembered_finished: usize,
    /// When signatures are checked.
    pub verification: Verification,
}

/// When the engine checks signatures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verification {
    /// Collect unchecked; verify the group's aggregate once when it reaches the
    /// threshold, and look for the bad ones only if that fails. One pairing check per
    /// certificate instead of one per signature: the choice for large operator sets.
    #[default]
    Optimistic,
    /// Verify every signature on arrival and refuse a bad one at once. Costs a pairing
    /// check per signature; the baseline the benchmarks compare against, and an option
    /// for small sets that want immediate feedback to operators.
    Eager,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_open_tasks: 1024,
            max_responses_per_task: 16,
            max_response_bytes: 64 * 1024,
            remembered_finished: 4096,
            verification: Verification::Optimistic,
        }
    }
}

/// A task the engine collects signatures for.
#[derive(Clone, Debug)]
pub struct TaskConfig {
    /// The on-chain task id.
    pub task_id: u64,
    /// The block whose operator set counts.
    pub reference_block: u32,
    /// The stake share a response needs.
    pub threshold: Threshold,
    /// Submissions after this (in the caller's time unit) are late.
    pub deadline: u64,
    /// The operator set at the reference block.
    pub operators: OperatorSet,
    /// Chain and AVS, bound into the signed message.
    pub context: SigningContext,
}

/// One operator's signed response, as it arrives from the network.
#[derive(Clone, Debug)]
pub struct SignedResponse {
    /// The task answered.
    pub task_id: u64,
    /// Who claims to have signed.
    pub operator: OperatorId,
    /// The canonical response bytes.
    pub response: Vec<u8>,
    /// The signature on the task message for keccak256(response).
    pub signature: Signature,
}

/// What happened to an accepted submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; no certificate yet.
    Pending,
    /// The same operator already sent this response: nothing changed.
    Duplicate,
    /// This submission completed a certificate.
    Certified(Box<Certificate>),
}

/// Why a submission was refused. Nothing the engine had accepted is lost by it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No such task is open (never opened, or expired and forgotten).
    #[error("unknown task {0}")]
    UnknownTask(u64),
    /// The task already has a certificate.
    #[error("task {0} is already certified")]
    AlreadyCertified(u64),
    /// The task's deadline passed.
    #[error("task {task_id} closed at {deadline}")]
    TooLate {
        /// The task.
        task_id: u64,
        /// Its deadline.
        deadline: u64,
    },
    /// The operator is not in the task's operator set.
    #[error("operator {0} is not in the task's operator set")]
    UnknownOperator(OperatorId),
    /// The operator already signed a different response to this task.
    #[error("operator {operator} already signed response {first:?}")]
    Conflicting {
        /// The operator.
        operator: OperatorId,
        /// What it signed first.
        first: ResponseDigest,
    },
    /// The signature is not valid (found at aggregation, or earlier for this operator).
    #[error("invalid signature from {0}")]
    BadSignature(OperatorId),
    /// The response is empty or too large.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The task already holds as many distinct responses as allowed.
    #[error("task {0} holds too many distinct responses")]
    TooManyResponses(u64),
}

/// Why a task could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The task is already open or recently finished.
    #[error("task {0} is already known")]
    TaskExists(u64),
    /// Too many tasks are open.
    #[error("{0} tasks are open, the most allowed")]
    TooManyTasks(usize),
    /// The operator set is empty.
    #[error("task {0} has an empty operator set")]
    EmptySet(u64),
}

/// Things the runtime should know about, beyond a submission's own outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A certificate was made.
    Certified(Box<Certificate>),
    /// A signature accepted earlier turned out invalid and was dropped.
    SignatureRejected {
        /// The task.
        task_id: u64,
        /// Whose signature.
        operator: OperatorId,
    },
    /// An operator signed two different responses to one task: evidence for slashing.
    Equivocation(Box<Equivocation>),
    /// A task reached its deadline without a certificate.
    Expired(ExpiryReport),
}

/// Two valid signatures by one operator on different responses to one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The task.
    pub task_id: u64,
    /// The operator.
    pub operator: OperatorId,
    /// Its first response and signature.
    pub first: (ResponseDigest, Signature),
    /// Its second response and signature.
    pub second: (ResponseDigest, Signature),
}

/// Who validly signed what when a task expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryReport {
    /// The task.
    pub task_id: u64,
    /// Each response with its valid signers and their stake.
    pub responses: Vec<(ResponseDigest, Vec<OperatorId>, u64)>,
    /// Stake of the whole set.
    pub total_stake: u64,
}

struct Group {
    response: Vec<u8>,
    message: [u8; 32],
    /// Signatures by index in the operator set (address order).
    signatures: BTreeMap<usize, Signature>,
    stake: u64,
}

struct OpenTask {
    config: TaskConfig,
    groups: HashMap<ResponseDigest, Group>,
    signed: HashMap<usize, ResponseDigest>,
    rejected: HashSet<usize>,
}

/// The aggregation state machine. See the module docs.
pub struct Engine {
    config: EngineConfig,
    open: HashMap<u64, OpenTask>,
    finished: VecDeque<u64>,
    finished_set: HashSet<u64>,
    certified: HashSet<u64>,
    events: VecDeque<Event>,
}

impl Engine {
    /// An engine with no tasks.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            open: HashMap::new(),
            finished: VecDeque::new(),
            finished_set: HashSet::new(),
            certified: HashSet::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts collecting signatures for a task.
    pub fn open(&mut self, task: TaskConfig) -> Result<(), EngineError> {
        let id = task.task_id;
        if self.open.contains_key(&id) || self.finished_set.contains(&id) {
            return Err(EngineError::TaskExists(id));
        }
        if self.open.len() >= self.config.max_open_tasks {
            return Err(EngineError::TooManyTasks(self.open.len()));
        }
        if task.operators.is_empty() {
            return Err(EngineError::EmptySet(id));
        }
        self.open.insert(
            id,
            OpenTask {
                config: task,
                groups: HashMap::new(),
                signed: HashMap::new(),
                rejected: HashSet::new(),
            },
        );
        Ok(())
    }

    /// Whether `task_id` is open.
    pub fn is_open(&self, task_id: u64) -> bool {
        self.open.contains_key(&task_id)
    }

    /// Takes one signed response at time `now`.
    pub fn submit(&mut self, now: u64, sub: SignedResponse) -> Result<Outcome, Rejection> {
        let max_bytes = self.config.max_response_bytes;
        let max_groups = self.config.max_responses_per_task;
        let Some(task) = self.open.get_mut(&sub.task_id) else {
            return Err(if self.certified.contains(&sub.task_id) {
                Rejection::AlreadyCertified(sub.task_id)
            } else {
                Rejection::UnknownTask(sub.task_id)
            });
        };
        if now > task.config.deadline {
            return Err(Rejection::TooLate {
                task_id: sub.task_id,
                deadline: task.config.deadline,
            });
        }
        let index = task
            .config
            .operators
            .index_of(&sub.operator)
            .ok_or(Rejection::UnknownOperator(sub.operator))?;
        if task.rejected.contains(&index) {
            return Err(Rejection::BadSignature(sub.operator));
        }
        if sub.response.is_empty() {
            return Err(Rejection::Malformed("empty response"));
        }
        if sub.response.len() > max_bytes {
            return Err(Rejection::Malformed("response too large"));
        }
        let digest = ResponseDigest::of(&sub.response);
        if let Some(first) = task.signed.get(&index).copied() {
            if first == digest {
                return Ok(Outcome::Duplicate);
            }
            Self::report_equivocation(&mut self.events, task, index, first, digest, &sub);
            return Err(Rejection::Conflicting {
                operator: sub.operator,
                first,
            });
        }
        if !task.groups.contains_key(&digest) && task.groups.len() >= max_groups {
            return Err(Rejection::TooManyResponses(sub.task_id));
        }
        let operator = &task.config.operators.operators()[index];
        let stake = operator.stake;
        let context = task.config.context;
        let eager = self.config.verification == Verification::Eager;
        if eager {
            let message = match task.groups.get(&digest) {
                Some(group) => group.message,
                None => context.message(sub.task_id, &digest),
            };
            if operator
                .public_key
                .verify(&Domain::SIGNATURE, &message, &sub.signature)
                .is_err()
            {
                task.rejected.insert(index);
                self.events.push_back(Event::SignatureRejected {
                    task_id: sub.task_id,
                    operator: sub.operator,
                });
                return Err(Rejection::BadSignature(sub.operator));
            }
        }
        let group = task.groups.entry(digest).or_insert_with(|| Group {
            message: context.message(sub.task_id, &digest),
            response: sub.response,
            signatures: BTreeMap::new(),
            stake: 0,
        });
        group.signatures.insert(index, sub.signature);
        group.stake += stake;
        task.signed.insert(index, digest);

        let total = task.config.operators.total_stake();
        if !task.config.threshold.is_met(group.stake, total) {
            return Ok(Outcome::Pending);
        }
        // Eagerly checked groups hold only valid signatures already.
        let (dropped, verified) = if eager {
            (Vec::new(), None)
        } else {
            Self::drop_invalid(&mut self.events, task, &digest)
        };
        let submitter_dropped = dropped.contains(&index);
        let certificate = Self::try_certify(task, &digest, verified);
        if let Some(cert) = certificate {
            self.finish(sub.task_id, true);
            self.events
                .push_back(Event::Certified(Box::new(cert.clone())));
            if submitter_dropped {
                return Err(Rejection::BadSignature(sub.operator));
            }
            return Ok(Outcome::Certified(Box::new(cert)));
        }
        if submitter_dropped {
            Err(Rejection::BadSignature(sub.operator))
        } else {
            Ok(Outcome::Pending)
        }
    }

    /// Closes every task whose deadline is before `now`, reporting who validly signed
    /// what.
    pub fn expire(&mut self, now: u64) -> Vec<ExpiryReport> {
        let due: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, t)| t.config.deadline < now)
            .map(|(id, _)| *id)
            .collect();
        let mut reports = Vec::new();
        for id in due {
            let Some(mut task) = self.open.remove(&id) else {
                continue;
            };
            let digests: Vec<ResponseDigest> = task.groups.keys().copied().collect();
            let mut responses = Vec::new();
            for digest in digests {
                Self::drop_invalid(&mut self.events, &mut task, &digest);
                if let Some(group) = task.groups.get(&digest) {
                    let ids = group
                        .signatures
                        .keys()
                        .filter_map(|&i| task.config.operators.operators().get(i).map(|o| o.id))
                        .collect();
                    responses.push((digest, ids, group.stake));
                }
            }
            responses.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            let report = ExpiryReport {
                task_id: id,
                responses,
                total_stake: task.config.operators.total_stake(),
            };
            self.events.push_back(Event::Expired(report.clone()));
            self.remember(id);
            reports.push(report);
        }
        reports
    }

    /// Takes the events produced so far, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Verifies a group's aggregate once; on failure finds, drops and reports the bad
    /// signatures. Returns the indices dropped, and the aggregate signature when the
    /// whole group verified at once (so certifying need not sum it again).
    fn drop_invalid(
        events: &mut VecDeque<Event>,
        task: &mut OpenTask,
        digest: &ResponseDigest,
    ) -> (Vec<usize>, Option<AggregateSignature>) {
        let Some(group) = task.groups.get_mut(digest) else {
            return (Vec::new(), None);
        };
        let ops = task.config.operators.operators();
        let entries: Vec<(usize, bulwark_crypto::PublicKey, Signature)> = group
            .signatures
            .iter()
            .filter_map(|(&i, sig)| ops.get(i).map(|o| (i, o.public_key, *sig)))
            .collect();
        if let Some(aggregate) =
            verified_aggregate(&group.message, entries.iter().map(|(_, pk, sig)| (pk, sig)))
        {
            return (Vec::new(), Some(aggregate));
        }
        let pairs: Vec<_> = entries.iter().map(|(_, pk, sig)| (*pk, *sig)).collect();
        let bad: Vec<usize> =
            batch::find_invalid_same_message(&Domain::SIGNATURE, &group.message, &pairs)
                .into_iter()
                .filter_map(|k| entries.get(k).map(|e| e.0))
                .collect();
        for &i in &bad {
            group.signatures.remove(&i);
            if let Some(op) = ops.get(i) {
                group.stake -= op.stake;
                events.push_back(Event::SignatureRejected {
                    task_id: task.config.task_id,
                    operator: op.id,
                });
            }
            task.signed.remove(&i);
            task.rejected.insert(i);
        }
        if group.signatures.is_empty() {
            task.groups.remove(digest);
        }
        (bad, None)
    }

    /// A certificate for `digest` if its (verified) signers meet the threshold;
    /// `verified` is their aggregate signature when already computed.
    fn try_certify(
        task: &OpenTask,
        digest: &ResponseDigest,
        verified: Option<AggregateSignature>,
    ) -> Option<Certificate> {
        let group = task.groups.get(digest)?;
        let set = &task.config.operators;
        if !task.config.threshold.is_met(group.stake, set.total_stake()) {
            return None;
        }
        let aggregate = match verified {
            Some(aggregate) => aggregate,
            None => AggregateSignature::aggregate(group.signatures.values()).ok()?,
        };
        let signature = aggregate.to_signature().ok()?;
        let (signers, non_signers) = set.operators().iter().enumerate().fold(
            (Vec::new(), Vec::new()),
            |(mut s, mut n), (i, o)| {
                if group.signatures.contains_key(&i) {
                    s.push(o.id);
                } else {
                    n.push(o.id);
                }
                (s, n)
            },
        );
        Some(Certificate {
            task_id: task.config.task_id,
            reference_block: task.config.reference_block,
            response: group.response.clone(),
            digest: *digest,
            signers,
            non_signers,
            signature,
            signed_stake: group.stake,
            total_stake: set.total_stake(),
        })
    }

    fn report_equivocation(
        events: &mut VecDeque<Event>,
        task: &OpenTask,
        index: usize,
        first: ResponseDigest,
        second: ResponseDigest,
        sub: &SignedResponse,
    ) {
        // Evidence only counts if both signatures are valid: check the new one, and
        // the stored one (it may not have been verified yet).
        let Some(op) = task.config.operators.operators().get(index) else {
            return;
        };
        let Some(first_sig) = task
            .groups
            .get(&first)
            .and_then(|g| g.signatures.get(&index))
        else {
            return;
        };
        let context = task.config.context;
        let m1 = context.message(sub.task_id, &first);
        let m2 = context.message(sub.task_id, &second);
        if op
            .public_key
            .verify(&Domain::SIGNATURE, &m1, first_sig)
            .is_ok()
            && op
                .public_key
                .verify(&Domain::SIGNATURE, &m2, &sub.signature)
                .is_ok()
        {
            events.push_back(Event::Equivocation(Box::new(Equivocation {
                task_id: sub.task_id,
                operator: sub.operator,
                first: (first, *first_sig),
                second: (second, sub.signature),
            })));
        }
    }

    fn finish(&mut self, task_id: u64, certified: bool) {
        self.open.remove(&task_id);
        if certified {
            self.certified.insert(task_id);
        }
        self.remember(task_id);
    }

    fn remember(&mut self, task_id: u64) {
        if self.finished_set.insert(task_id) {
            self.finished.push_back(task_id);
        }
        while self.finished.len() > self.config.remembered_finished {
            if let Some(old) = self.finished.pop_front() {
                self.finished_set.remove(&old);
                self.certified.remove(&old);
            }
        }
    }
}

/// The aggregate signature of `entries` if it verifies against their summed keys.
fn verified_aggregate<'a>(
    message: &[u8; 32],
    entries: impl Iterator<Item = (&'a bulwark_crypto::PublicKey, &'a Signature)> + Clone,
) -> Option<AggregateSignature> {
    let apk = AggregatePublicKey::aggregate(entries.clone().map(|(pk, _)| pk)).ok()?;
    let asig = AggregateSignature::aggregate(entries.map(|(_, sig)| sig)).ok()?;
    asig.verify(&Domain::SIGNATURE, message, &apk)
        .is_ok()
        .then_some(asig)
}
