//! The aggregation engine: a state machine that takes signed responses for open tasks
//! and emits a [`Certificate`] as soon as operators holding the threshold of stake
//! validly signed the same response.
//!
//! Verification is optimistic: a submission is held as an unverified **candidate**
//! when it arrives. Once the stake claimed by the candidates of one response (plus
//! the operators already verified for it) reaches the threshold, the candidates are
//! checked with one aggregate verification (one pairing check); only if that fails
//! does the check bisect for the bad ones. Honest traffic thus costs one pairing check
//! per task instead of one per operator.
//!
//! Two ways to drive it:
//! - [`Engine::submit`] runs every check inline: simple, for tests and small sets;
//! - [`Engine::offer`] returns the [`Check`] it needs instead, which the caller runs
//!   with [`Check::run`] wherever pairings belong (a blocking pool, outside the lock
//!   that guards the engine) and hands back to [`Engine::settle`].
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
//! Everything in a [`SignedResponse`] is adversarial, the `operator` field included:
//! it is a claim until a signature check proves it. So:
//! - **An unverified submission binds nothing.** It is a candidate: it cannot make a
//!   later submission of the same operator a duplicate or a conflict, cannot get the
//!   operator refused, and is never reported as the operator's answer. A bad
//!   signature costs its sender only (its bytes are remembered as refused); the
//!   operator it names is credited with its valid signature whenever that arrives.
//!   An operator is *credited* (bound to one response) only by a verified signature.
//! - **Equivocation** is two *verified* signatures of one operator on different
//!   responses; it is reported as [`Event::Equivocation`] with both.
//! - **Work per submission is bounded.** A signature is checked at most once: a
//!   credited signature answers its resubmissions as duplicates, a refused one is
//!   remembered (up to [`EngineConfig::max_refused_per_task`] per task), and BLS
//!   signatures are unique, so another signature of a credited operator on its own
//!   response is refused with no check at all. The engine holds at most one candidate
//!   per operator and response, [`EngineConfig::max_candidates_per_operator`] per
//!   operator, [`EngineConfig::max_candidates_per_task`] per task and
//!   [`EngineConfig::max_responses_per_task`] responses that nobody is verified for;
//!   a submission past any of these bounds is checked on its own (one pairing check,
//!   paid for by that submission) instead of being held or refused, so a flood can
//!   neither grow memory nor crowd an honest operator out.
//! - What an attacker can still do: make the aggregator spend about one pairing
//!   check per forged submission (bisection costs up to ~2 log2(n) aggregate checks
//!   per bad candidate when they are sparse among n); the runtime bounds request
//!   rates and concurrency. A forged candidate that arrives before an honest one
//!   on the same response costs the honest one a single check.

mod check;

use std::collections::{BTreeMap, VecDeque};

// Seeded per process, and several times cheaper than SipHash on the per-operator
// maps a 10,000-member check walks. foldhash resists collision floods only
// minimally; every map here is bounded (operator indices, the per-task caps on
// candidates, responses and refused signatures), so a flood cannot grow one.
use foldhash::{HashMap, HashSet};

use bulwark_crypto::{AggregateSignature, Signature};

use check::Scope;
pub use check::{Check, Checked};

use crate::{Certificate, OperatorId, OperatorSet, ResponseDigest, SigningContext, Threshold};

/// Limits that bound the engine's memory and work.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Tasks open at once.
    pub max_open_tasks: usize,
    /// Distinct responses per task held with unverified candidates only. Responses
    /// that a verified signature backs are bounded by the operator set (an operator
    /// is credited with one response).
    pub max_responses_per_task: usize,
    /// Largest response accepted, in bytes.
    pub max_response_bytes: usize,
    /// Finished tasks remembered, to answer late submissions precisely.
    pub remembered_finished: usize,
    /// Unverified candidates held per operator and task (each on another response).
    pub max_candidates_per_operator: usize,
    /// Unverified candidates held per task (at least twice the task's operator set,
    /// whatever this says: one honest candidate per member must fit).
    pub max_candidates_per_task: usize,
    /// Refused signatures remembered per task, so a resent one costs no check.
    pub max_refused_per_task: usize,
    /// When signatures are checked.
    pub verification: Verification,
}

/// When the engine checks signatures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verification {
    /// Hold candidates unchecked; verify a response's candidates together once they
    /// claim the threshold, and look for the bad ones only if that fails. One pairing
    /// check per certificate instead of one per signature: the choice for large
    /// operator sets.
    #[default]
    Optimistic,
    /// Verify every signature on arrival and answer a bad one at once. Costs a
    /// pairing check per signature; the baseline the benchmarks compare against, and
    /// an option for small sets that want immediate feedback to operators.
    Eager,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_open_tasks: 1024,
            max_responses_per_task: 16,
            max_response_bytes: 64 * 1024,
            remembered_finished: 4096,
            max_candidates_per_operator: 4,
            max_candidates_per_task: 8192,
            max_refused_per_task: 8192,
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Held as a candidate (not yet verified), or verified; no certificate yet.
    Pending,
    /// This exact submission is already held or credited: nothing changed.
    Duplicate,
    /// This submission completed a certificate.
    Certified(Box<Certificate>),
}

/// Why a submission was refused. Nothing the engine had accepted is lost by it, and
/// no refusal binds the operator the submission names unless its signature verified.
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
    /// The operator validly signed a different response to this task before: this
    /// submission's signature is valid too, so both are kept as evidence.
    #[error("operator {operator} already signed response {first:?}")]
    Conflicting {
        /// The operator.
        operator: OperatorId,
        /// What it signed first.
        first: ResponseDigest,
    },
    /// The signature is not the named operator's on this response. Only the sender
    /// of these bytes is refused: the operator may still submit its own.
    #[error("invalid signature in the name of {0}")]
    BadSignature(OperatorId),
    /// The response is empty or too large.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
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
    /// A submission in `operator`'s name carried an invalid signature and was
    /// dropped. It says nothing against the operator: anyone can send such bytes.
    SignatureRejected {
        /// The task.
        task_id: u64,
        /// Whose name the submission claimed.
        operator: OperatorId,
    },
    /// A signature was verified and the operator credited with the response: from
    /// here on this is the operator's answer.
    Credited {
        /// The task.
        task_id: u64,
        /// The operator.
        operator: OperatorId,
        /// What it signed.
        digest: ResponseDigest,
    },
    /// An operator validly signed two different responses to one task: evidence for
    /// slashing.
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

/// A task taken out of the engine at its deadline (see [`Engine::take_expired`]).
pub struct Expiring {
    task: OpenTask,
}

/// What [`Engine::offer`] decided.
#[derive(Debug)]
pub enum Offer {
    /// The verdict, with no check needed.
    Decided(Result<Outcome, Rejection>),
    /// Run this check and hand it to [`Engine::settle`]; the verdict comes from there.
    Check(Check),
}

/// What [`Engine::settle`] decided.
#[derive(Debug)]
pub struct Settled {
    /// The verdict for the submission that waited on the check (`Pending` when none
    /// did).
    pub verdict: Result<Outcome, Rejection>,
    /// A follow-up check the settled one made necessary (candidates that arrived
    /// while it ran now claim the threshold).
    pub next: Option<Check>,
}

impl Settled {
    /// The verdict of the submission that waited on the first of a chain of checks
    /// (each settlement's `next` run in turn), given its verdict so far (`None` at
    /// the first): the first settlement decides, except that a follow-up which
    /// certifies completes a pending submission's work too.
    pub fn verdict_after(
        &self,
        earlier: Option<Result<Outcome, Rejection>>,
    ) -> Result<Outcome, Rejection> {
        match (earlier, &self.verdict) {
            (None, first) => first.clone(),
            (Some(Ok(Outcome::Pending)), Ok(Outcome::Certified(c))) => {
                Ok(Outcome::Certified(c.clone()))
            }
            (Some(earlier), _) => earlier,
        }
    }
}

/// A response and the signatures held for it.
struct Group {
    response: Vec<u8>,
    message: [u8; 32],
    /// Verified signatures by index in the operator set (address order).
    valid: BTreeMap<usize, Signature>,
    valid_stake: u64,
    /// Unverified candidates, at most one per operator, with whether a check of
    /// them is running.
    candidates: BTreeMap<usize, (Signature, bool)>,
    /// Stake of the operators with a candidate here.
    candidate_stake: u64,
    /// A group check is running.
    checking: bool,
}

impl Group {
    fn claimed(&self) -> u64 {
        self.valid_stake.saturating_add(self.candidate_stake)
    }
}

struct OpenTask {
    config: TaskConfig,
    groups: HashMap<ResponseDigest, Group>,
    /// Operators bound by a verified signature: which response, and the signature.
    credited: HashMap<usize, (ResponseDigest, Signature)>,
    /// Candidates held per operator.
    candidates_of: HashMap<usize, usize>,
    candidates: usize,
    /// Signatures found invalid, by operator and response.
    refused: HashSet<(usize, ResponseDigest, [u8; 48])>,
}

impl OpenTask {
    fn stake_of(&self, index: usize) -> u64 {
        self.config
            .operators
            .operators()
            .get(index)
            .map_or(0, |o| o.stake)
    }

    fn id_of(&self, index: usize) -> OperatorId {
        self.config
            .operators
            .operators()
            .get(index)
            .map_or(OperatorId([0; 20]), |o| o.id)
    }

    /// Groups that nobody is verified for.
    fn unverified_groups(&self) -> usize {
        self.groups.values().filter(|g| g.valid.is_empty()).count()
    }

    fn refuse(&mut self, max: usize, index: usize, digest: ResponseDigest, sig: &Signature) {
        if self.refused.len() < max {
            self.refused.insert((index, digest, sig.to_bytes()));
        }
    }

    /// Removes `index`'s candidate from `digest`'s group (if it is `sig`, or any
    /// when `sig` is `None`); returns whether one was removed.
    fn drop_candidate(
        &mut self,
        digest: &ResponseDigest,
        index: usize,
        sig: Option<&Signature>,
    ) -> Option<Signature> {
        let stake = self.stake_of(index);
        let group = self.groups.get_mut(digest)?;
        let held = group.candidates.get(&index)?.0;
        if sig.is_some_and(|s| *s != held) {
            return None;
        }
        group.candidates.remove(&index);
        group.candidate_stake = group.candidate_stake.saturating_sub(stake);
        self.uncount_candidate(index);
        Some(held)
    }

    /// Takes one candidate of `index` off the per-operator and per-task counts.
    fn uncount_candidate(&mut self, index: usize) {
        if let Some(n) = self.candidates_of.get_mut(&index) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.candidates_of.remove(&index);
            }
        }
        self.candidates = self.candidates.saturating_sub(1);
    }

    /// Takes the candidates a finished group check covered out of `digest`'s group
    /// in one pass (`entries` ascending by index, as `group_check` builds them), and
    /// lets the group be checked again.
    fn release_checked(&mut self, digest: &ResponseDigest, entries: &[(usize, Signature)]) {
        let ops = self.config.operators.operators();
        let Some(group) = self.groups.get_mut(digest) else {
            return;
        };
        group.checking = false;
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        let mut released = Vec::with_capacity(entries.len());
        let all_covered = group.candidates.len() == entries.len()
            && group
                .candidates
                .iter()
                .zip(entries)
                .all(|((i, (held, _)), (j, sig))| i == j && held == sig);
        if all_covered {
            // The usual case (nothing arrived while the check ran): one drop, not
            // one rebalancing removal per candidate.
            released.extend(std::mem::take(&mut group.candidates).into_keys());
        } else {
            group.candidates.retain(|i, (held, _)| {
                let covered = entries
                    .binary_search_by_key(i, |e| e.0)
                    .is_ok_and(|k| entries[k].1 == *held);
                if covered {
                    released.push(*i);
                }
                !covered
            });
        }
        let stake: u64 = released
            .iter()
            .map(|&i| ops.get(i).map_or(0, |o| o.stake))
            .fold(0, u64::saturating_add);
        group.candidate_stake = group.candidate_stake.saturating_sub(stake);
        for i in released {
            self.uncount_candidate(i);
        }
    }

    /// Credits operators whose signatures on `digest` verified and who were bound to
    /// nothing (ascending by index): into the group (made from `response` when a
    /// single check's response has none yet), each bound to it.
    fn credit(
        &mut self,
        digest: &ResponseDigest,
        credit: Vec<(usize, Signature)>,
        response: Option<Vec<u8>>,
        max_refused: usize,
        events: &mut VecDeque<Event>,
    ) {
        let task_id = self.config.task_id;
        let context = self.config.context;
        let stake: u64 = credit
            .iter()
            .map(|&(i, _)| self.stake_of(i))
            .fold(0, u64::saturating_add);
        let group = match (self.groups.get_mut(digest), response) {
            (Some(group), _) => group,
            (None, Some(bytes)) => self.groups.entry(*digest).or_insert(Group {
                message: context.message(task_id, digest),
                response: bytes,
                valid: BTreeMap::new(),
                valid_stake: 0,
                candidates: BTreeMap::new(),
                candidate_stake: 0,
                checking: false,
            }),
            // Nothing to hold the credit (a group check's group is never pruned
            // while it runs): nobody is credited.
            (None, None) => return,
        };
        // Another candidate of a credited operator here cannot be valid too (BLS
        // signatures are unique); none is left in the usual case.
        let others: Vec<usize> = if group.candidates.is_empty() {
            Vec::new()
        } else {
            credit
                .iter()
                .filter(|(i, _)| group.candidates.contains_key(i))
                .map(|(i, _)| *i)
                .collect()
        };
        if group.valid.is_empty() {
            // Built in one pass from sorted input.
            group.valid = credit.iter().copied().collect();
        } else {
            group.valid.extend(credit.iter().copied());
        }
        group.valid_stake = group.valid_stake.saturating_add(stake);
        for index in others {
            if let Some(other) = self.drop_candidate(digest, index, None) {
                self.refuse(max_refused, index, *digest, &other);
            }
        }
        self.credited.reserve(credit.len());
        for (index, sig) in credit {
            self.credited.insert(index, (*digest, sig));
            events.push_back(Event::Credited {
                task_id,
                operator: self.id_of(index),
                digest: *digest,
            });
        }
    }

    /// Forgets `digest`'s group when nothing is held for it any more.
    fn prune(&mut self, digest: &ResponseDigest) {
        if self
            .groups
            .get(digest)
            .is_some_and(|g| g.valid.is_empty() && g.candidates.is_empty() && !g.checking)
        {
            self.groups.remove(digest);
        }
    }

    /// A check of every candidate of `digest`'s group not already being checked.
    fn group_check(
        &mut self,
        digest: &ResponseDigest,
        trigger: Option<(usize, Signature)>,
    ) -> Option<Check> {
        let members = self.config.operators.len();
        let group = self.groups.get_mut(digest)?;
        if group.checking || group.candidates.is_empty() {
            return None;
        }
        let mut entries = Vec::with_capacity(group.candidates.len());
        for (&i, (sig, checking)) in group.candidates.iter_mut() {
            if i < members {
                *checking = true;
                entries.push((i, *sig));
            }
        }
        group.checking = true;
        Some(Check {
            task_id: self.config.task_id,
            digest: *digest,
            message: group.message,
            entries,
            trigger,
            scope: Scope::Group,
            response: None,
            set: self.config.operators.clone(),
        })
    }

    fn certificate(
        &self,
        digest: &ResponseDigest,
        verified: Option<AggregateSignature>,
    ) -> Option<Certificate> {
        let group = self.groups.get(digest)?;
        let set = &self.config.operators;
        if !self
            .config
            .threshold
            .is_met(group.valid_stake, set.total_stake())
        {
            return None;
        }
        let aggregate = match verified {
            Some(aggregate) => aggregate,
            None => AggregateSignature::aggregate(group.valid.values()).ok()?,
        };
        let signature = aggregate.to_signature().ok()?;
        // `valid` is in index order: one merge pass, no lookups.
        let mut signers = Vec::with_capacity(group.valid.len());
        let mut non_signers = Vec::new();
        let mut next = group.valid.keys().peekable();
        for (i, o) in set.operators().iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
                signers.push(o.id);
            } else {
                non_signers.push(o.id);
            }
        }
        Some(Certificate {
            task_id: self.config.task_id,
            reference_block: self.config.reference_block,
            response: group.response.clone(),
            digest: *digest,
            signers,
            non_signers,
            signature,
            signed_stake: group.valid_stake,
            total_stake: set.total_stake(),
        })
    }
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
            open: HashMap::default(),
            finished: VecDeque::new(),
            finished_set: HashSet::default(),
            certified: HashSet::default(),
            events: VecDeque::new(),
        }
    }

    /// Its limits.
    pub fn config(&self) -> &EngineConfig {
        &self.config
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
                groups: HashMap::default(),
                credited: HashMap::default(),
                candidates_of: HashMap::default(),
                candidates: 0,
                refused: HashSet::default(),
            },
        );
        Ok(())
    }

    /// Whether `task_id` is open.
    pub fn is_open(&self, task_id: u64) -> bool {
        self.open.contains_key(&task_id)
    }

    /// Takes one signed response at time `now`, running any signature check it needs
    /// inline. See [`Engine::offer`] to run checks elsewhere.
    pub fn submit(&mut self, now: u64, sub: SignedResponse) -> Result<Outcome, Rejection> {
        match self.offer(now, sub) {
            Offer::Decided(verdict) => verdict,
            Offer::Check(check) => {
                let mut verdict = None;
                let mut next = Some(check);
                while let Some(check) = next {
                    let settled = self.settle(check.run());
                    verdict = Some(settled.verdict_after(verdict));
                    next = settled.next;
                }
                verdict.unwrap_or(Ok(Outcome::Pending))
            }
        }
    }

    /// Takes one signed response at time `now`: a verdict, or the check it needs
    /// first. Every [`Check`] returned must come back through [`Engine::settle`]
    /// (a dropped one leaves its candidates waiting until the task ends).
    pub fn offer(&mut self, now: u64, sub: SignedResponse) -> Offer {
        match self.admit(now, sub) {
            Ok(offer) => offer,
            Err(rejection) => Offer::Decided(Err(rejection)),
        }
    }

    fn admit(&mut self, now: u64, sub: SignedResponse) -> Result<Offer, Rejection> {
        let config = &self.config;
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
        if sub.response.is_empty() {
            return Err(Rejection::Malformed("empty response"));
        }
        if sub.response.len() > config.max_response_bytes {
            return Err(Rejection::Malformed("response too large"));
        }
        let digest = ResponseDigest::of(&sub.response);
        if task
            .refused
            .contains(&(index, digest, sub.signature.to_bytes()))
        {
            return Err(Rejection::BadSignature(sub.operator));
        }
        let single = |task: &OpenTask, response: Vec<u8>| {
            let message = task.groups.get(&digest).map_or_else(
                || task.config.context.message(sub.task_id, &digest),
                |g| g.message,
            );
            Offer::Check(Check {
                task_id: sub.task_id,
                digest,
                message,
                entries: vec![(index, sub.signature)],
                trigger: Some((index, sub.signature)),
                scope: Scope::Single,
                response: Some(response),
                set: task.config.operators.clone(),
            })
        };
        if let Some((first, signature)) = task.credited.get(&index).copied() {
            if first == digest {
                // BLS signatures are unique: only the credited one is valid.
                return if signature == sub.signature {
                    Ok(Offer::Decided(Ok(Outcome::Duplicate)))
                } else {
                    task.refuse(config.max_refused_per_task, index, digest, &sub.signature);
                    Err(Rejection::BadSignature(sub.operator))
                };
            }
            // Either equivocation (valid) or a forgery: only a check tells.
            return Ok(single(task, sub.response));
        }
        let group = task.groups.get(&digest);
        if let Some((held, _)) = group.and_then(|g| g.candidates.get(&index)) {
            if *held == sub.signature {
                return Ok(Offer::Decided(Ok(Outcome::Duplicate)));
            }
            // At most one of the two is valid; check the newcomer alone.
            return Ok(single(task, sub.response));
        }
        // Room for one candidate per member at least: a set larger than the cap
        // would otherwise pay a pairing for every signature past it.
        let per_task = config
            .max_candidates_per_task
            .max(task.config.operators.len().saturating_mul(2));
        let over_bound = config.verification == Verification::Eager
            || task.candidates >= per_task
            || task.candidates_of.get(&index).copied().unwrap_or(0)
                >= config.max_candidates_per_operator
            || (group.is_none() && task.unverified_groups() >= config.max_responses_per_task);
        if over_bound {
            return Ok(single(task, sub.response));
        }
        let stake = task.stake_of(index);
        let context = task.config.context;
        let group = task.groups.entry(digest).or_insert_with(|| Group {
            message: context.message(sub.task_id, &digest),
            response: sub.response,
            valid: BTreeMap::new(),
            valid_stake: 0,
            candidates: BTreeMap::new(),
            candidate_stake: 0,
            checking: false,
        });
        group.candidates.insert(index, (sub.signature, false));
        group.candidate_stake = group.candidate_stake.saturating_add(stake);
        let claimed = group.claimed();
        *task.candidates_of.entry(index).or_insert(0) += 1;
        task.candidates += 1;
        let total = task.config.operators.total_stake();
        if !task.config.threshold.is_met(claimed, total) {
            return Ok(Offer::Decided(Ok(Outcome::Pending)));
        }
        match task.group_check(&digest, Some((index, sub.signature))) {
            Some(check) => Ok(Offer::Check(check)),
            // A check of this group is running; its settlement takes this one next.
            None => Ok(Offer::Decided(Ok(Outcome::Pending))),
        }
    }

    /// Applies a finished check: credits the operators whose signatures verified,
    /// refuses the bad ones, reports equivocations, and certifies when the verified
    /// stake meets the threshold. Returns the verdict for the submission that waited
    /// on the check.
    pub fn settle(&mut self, checked: Checked) -> Settled {
        let Checked {
            check,
            invalid,
            aggregate,
        } = checked;
        let task_id = check.task_id;
        let trigger = check.trigger;
        let Some(task) = self.open.get_mut(&task_id) else {
            let gone = if self.certified.contains(&task_id) {
                Rejection::AlreadyCertified(task_id)
            } else {
                Rejection::UnknownTask(task_id)
            };
            return Settled {
                verdict: Err(gone),
                next: None,
            };
        };
        let digest = check.digest;
        let group_scope = check.scope == Scope::Group;
        if group_scope {
            task.release_checked(&digest, &check.entries);
        }
        let max_refused = self.config.max_refused_per_task;
        let mut verdict = Ok(Outcome::Pending);
        let all_valid = invalid.is_empty();
        let prior_valid = task.groups.get(&digest).map_or(0, |g| g.valid.len());
        let entries_len = check.entries.len();
        let mut bad = invalid.iter().peekable();
        // Operators whose signature verified and who are bound by nothing yet: credited
        // together below (one group lookup, one bulk build of the group's map).
        let mut credit: Vec<(usize, Signature)> =
            Vec::with_capacity(if all_valid { entries_len } else { 0 });
        for (k, (index, sig)) in check.entries.into_iter().enumerate() {
            let is_trigger = trigger == Some((index, sig));
            if bad.peek() == Some(&&k) {
                bad.next();
                task.refuse(max_refused, index, digest, &sig);
                self.events.push_back(Event::SignatureRejected {
                    task_id,
                    operator: task.id_of(index),
                });
                if is_trigger {
                    verdict = Err(Rejection::BadSignature(task.id_of(index)));
                }
                continue;
            }
            match task.credited.get(&index).copied() {
                Some((first, _)) if first == digest => {
                    if is_trigger {
                        verdict = Ok(Outcome::Duplicate);
                    }
                }
                Some((first, first_sig)) => {
                    let operator = task.id_of(index);
                    self.events
                        .push_back(Event::Equivocation(Box::new(Equivocation {
                            task_id,
                            operator,
                            first: (first, first_sig),
                            second: (digest, sig),
                        })));
                    if is_trigger {
                        verdict = Err(Rejection::Conflicting { operator, first });
                    }
                }
                None => credit.push((index, sig)),
            }
        }
        if !credit.is_empty() {
            task.credit(
                &digest,
                credit,
                check.response,
                max_refused,
                &mut self.events,
            );
        }
        // A fully valid group check that made every verified signature of its group
        // has summed the certificate's signature already.
        let verified = aggregate.filter(|_| {
            all_valid
                && check.scope == Scope::Group
                && prior_valid == 0
                && task.groups.get(&digest).map(|g| g.valid.len()) == Some(entries_len)
        });
        if let Some(cert) = task.certificate(&digest, verified) {
            self.finish(task_id, true);
            self.events
                .push_back(Event::Certified(Box::new(cert.clone())));
            if matches!(verdict, Ok(Outcome::Pending)) {
                verdict = Ok(Outcome::Certified(Box::new(cert)));
            }
            return Settled {
                verdict,
                next: None,
            };
        }
        task.prune(&digest);
        let total = task.config.operators.total_stake();
        let due = task
            .groups
            .get(&digest)
            .is_some_and(|g| task.config.threshold.is_met(g.claimed(), total));
        let next = if due {
            task.group_check(&digest, None)
        } else {
            None
        };
        Settled { verdict, next }
    }

    /// Closes every task whose deadline is before `now`. Their candidates still need
    /// checking before the reports can say who validly signed: run
    /// [`Expiring::report`] outside the engine's lock.
    pub fn take_expired(&mut self, now: u64) -> Vec<Expiring> {
        let due: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, t)| t.config.deadline < now)
            .map(|(id, _)| *id)
            .collect();
        let mut expiring = Vec::new();
        for id in due {
            if let Some(task) = self.open.remove(&id) {
                self.remember(id);
                expiring.push(Expiring { task });
            }
        }
        expiring
    }

    /// Closes every task whose deadline is before `now`, reporting who validly signed
    /// what; checks inline (and queues the events). See [`Engine::take_expired`].
    pub fn expire(&mut self, now: u64) -> Vec<ExpiryReport> {
        let mut reports = Vec::new();
        for expiring in self.take_expired(now) {
            let (report, events) = expiring.report();
            self.events.extend(events);
            reports.push(report);
        }
        reports
    }

    /// Closes `task_id` without a certificate or an expiry report: it was answered on
    /// chain by someone else (another aggregator), so what it holds no longer
    /// matters. Later submissions for it are refused as already certified (the
    /// chain holds a certificate), which tells an operator to stop retrying, where
    /// "unknown task" would have it wait for the task to open. Returns whether it
    /// was open.
    pub fn close(&mut self, task_id: u64) -> bool {
        let was_open = self.open.remove(&task_id).is_some();
        self.certified.insert(task_id);
        self.remember(task_id);
        was_open
    }

    /// Takes the events produced so far, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
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

impl Expiring {
    /// The task.
    pub fn task_id(&self) -> u64 {
        self.task.config.task_id
    }

    /// Checks the candidates still held (pairings: call it outside the engine's
    /// lock) and reports who validly signed each response, with the events found
    /// on the way (invalid signatures dropped, the expiry itself).
    pub fn report(self) -> (ExpiryReport, Vec<Event>) {
        let task = self.task;
        let task_id = task.config.task_id;
        let mut events = Vec::new();
        let ops = task.config.operators.operators();
        let id_of = |i: usize| ops.get(i).map_or(OperatorId([0; 20]), |o| o.id);
        let stake_of = |i: usize| ops.get(i).map_or(0, |o| o.stake);
        // Each operator's first valid signature: verified before, or found now.
        let mut bound: HashMap<usize, (ResponseDigest, Signature)> = task.credited.clone();
        let mut digests: Vec<&ResponseDigest> = task.groups.keys().collect();
        digests.sort();
        let mut responses = Vec::new();
        for digest in digests {
            let Some(group) = task.groups.get(digest) else {
                continue;
            };
            let mut signers: BTreeMap<usize, u64> =
                group.valid.keys().map(|&i| (i, stake_of(i))).collect();
            let entries: Vec<(usize, Signature)> = group
                .candidates
                .iter()
                .filter(|(i, _)| **i < ops.len())
                .map(|(&i, (sig, _))| (i, *sig))
                .collect();
            if !entries.is_empty() {
                let checked = Check {
                    task_id,
                    digest: *digest,
                    message: group.message,
                    entries,
                    trigger: None,
                    scope: Scope::Group,
                    response: None,
                    set: task.config.operators.clone(),
                }
                .run();
                for (k, (i, sig)) in checked.check.entries.iter().enumerate() {
                    if checked.invalid.binary_search(&k).is_ok() {
                        events.push(Event::SignatureRejected {
                            task_id,
                            operator: id_of(*i),
                        });
                        continue;
                    }
                    match bound.get(i).copied() {
                        Some((first, first_sig)) if first != *digest => {
                            events.push(Event::Equivocation(Box::new(Equivocation {
                                task_id,
                                operator: id_of(*i),
                                first: (first, first_sig),
                                second: (*digest, *sig),
                            })));
                        }
                        Some(_) => {}
                        None => {
                            bound.insert(*i, (*digest, *sig));
                            signers.insert(*i, stake_of(*i));
                        }
                    }
                }
            }
            if signers.is_empty() {
                continue;
            }
            let ids = signers.keys().map(|&i| id_of(i)).collect();
            let stake = signers.values().fold(0u64, |a, s| a.saturating_add(*s));
            responses.push((*digest, ids, stake));
        }
        responses.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let report = ExpiryReport {
            task_id,
            responses,
            total_stake: task.config.operators.total_stake(),
        };
        events.push(Event::Expired(report.clone()));
        (report, events)
    }
}
