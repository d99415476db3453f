//! Two-phase tasks, for answers honest operators do not agree on byte for byte
//! (prices): each operator signs a **report** of what it observed, the aggregator
//! **proposes** one response from the reports (e.g. a stake-weighted median), and each
//! operator **endorses** the proposal, by signing it as an ordinary response, when it
//! lies within its own tolerance. The endorsements then aggregate like any task's
//! responses into one certificate.
//!
//! An AVS team writes [`Observe`] (operator side) and [`Propose`] (aggregator side);
//! [`ReportRound`] is the sans-IO state of phase one that the aggregator runtime
//! drives. Reports are signed under [`SigningContext::report_message`], so an
//! operator's report is evidence of what it claimed to see: the aggregator keeps the
//! reports of operators it left out.
//!
//! # Security
//! Reports arrive from anyone, in any operator's name.
//! - A report is kept only after its signature verified against the named member's
//!   key ([`VerifiedReport`] exists only then), so a forgery binds nothing: the
//!   operator's own report is taken whenever it arrives. A forged report costs its
//!   sender one check ([`ReportCheck::run`], which the runtime runs off its locks).
//! - One report per operator: the same bytes again are a duplicate (no check), other
//!   bytes once one is kept are refused as conflicting without a check (nothing new is
//!   bound by that answer). Reports close when the proposal is made.
//! - [`Propose::check_report`] refuses malformed report bytes before any pairing.
//! - What an attacker can still do: make the aggregator check one signature per
//!   forged report until the operator's own arrives.

use std::collections::BTreeMap;
use std::future::Future;

use bulwark_crypto::{Domain, Signature};

use crate::{OperatorId, OperatorSet, ResponseDigest, SigningContext, TaskConfig, Threshold};

/// The operator's side of a two-phase task.
pub trait Observe: Send + Sync + 'static {
    /// The task's input, decoded from the `TaskCreated` event's bytes.
    type Input: Send + Sync;
    /// What the operator observed.
    type Observation: Send + Sync;
    /// Why observing failed (the operator then neither reports nor endorses).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decodes the on-chain input; `None` refuses it.
    fn decode_input(&self, bytes: &[u8]) -> Option<Self::Input>;

    /// Observes the world for `input` of a task whose reference block is
    /// `reference_block` (may do I/O; bounded by the task deadline). What the AVS
    /// holds the operator to for this task is read at that block, never at a later or
    /// earlier one.
    fn observe(
        &self,
        input: &Self::Input,
        reference_block: u32,
    ) -> impl Future<Output = Result<Self::Observation, Self::Error>> + Send;

    /// The report bytes the operator signs.
    fn encode_report(&self, input: &Self::Input, observation: &Self::Observation) -> Vec<u8>;

    /// Whether the operator signs `proposal` (the response the contract would store)
    /// given what it observed itself.
    fn endorses(
        &self,
        input: &Self::Input,
        observation: &Self::Observation,
        proposal: &[u8],
    ) -> bool;
}

/// One report with its operator's stake, as [`Propose::propose`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct WeighedReport<'a> {
    /// Who reported.
    pub operator: OperatorId,
    /// Its stake at the task's reference block.
    pub stake: u64,
    /// The report bytes (already checked by [`Propose::check_report`]).
    pub report: &'a [u8],
}

/// An operator the proposal left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outlier {
    /// The operator.
    pub operator: OperatorId,
    /// A human-readable reason (kept with the evidence).
    pub reason: String,
}

/// What the aggregator asks operators to endorse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The response bytes operators sign and the contract stores.
    pub response: Vec<u8>,
    /// Reports the proposal disregards.
    pub outliers: Vec<Outlier>,
}

/// The aggregator's side of a two-phase task.
pub trait Propose: Send + Sync + 'static {
    /// Whether `report` is a well-formed report for a task with `input`; others are
    /// refused as malformed.
    fn check_report(&self, input: &[u8], report: &[u8]) -> bool;

    /// The proposal from the reports; `None` when none can be made.
    fn propose(&self, input: &[u8], reports: &[WeighedReport<'_>]) -> Option<Proposal>;

    /// Evidence of an offence of the AVS's own in an endorsement, for challengers: the
    /// bytes `TaskManager.challenge` takes, or `None`. `report` is the operator's
    /// report of the round (its signature verified), `endorsement` what it signed
    /// as its response and `key` its registered key. Called on the blocking pool:
    /// an implementation may verify the proof (pairings) before returning it, and
    /// must, since the endorsement's signature is not checked yet when it is called.
    /// By default an AVS has no offence of its own.
    fn endorsement_evidence(
        &self,
        context: &SigningContext,
        key: &bulwark_crypto::PublicKey,
        report: &SignedReport,
        endorsement: &crate::engine::SignedResponse,
    ) -> Option<Vec<u8>> {
        let _ = (context, key, report, endorsement);
        None
    }
}

/// A report as the operator sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedReport {
    /// The task.
    pub task_id: u64,
    /// Who claims to have signed.
    pub operator: OperatorId,
    /// The report bytes.
    pub report: Vec<u8>,
    /// The signature on [`SigningContext::report_message`] for keccak256(report).
    pub signature: Signature,
}

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRejection {
    /// No two-phase task with this id is open.
    #[error("unknown task {0}")]
    UnknownTask(u64),
    /// The aggregator already proposed: reports are closed.
    #[error("task {0} already has a proposal; reports are closed")]
    Closed(u64),
    /// The task's deadline passed.
    #[error("task {task_id} closed at block {deadline}")]
    TooLate {
        /// The task.
        task_id: u64,
        /// Its deadline.
        deadline: u64,
    },
    /// The operator is not in the task's operator set.
    #[error("operator {0} is not in the task's operator set")]
    UnknownOperator(OperatorId),
    /// The operator already reported something else.
    #[error("operator {0} already sent a different report")]
    Conflicting(OperatorId),
    /// The signature does not verify.
    #[error("invalid report signature from {0}")]
    BadSignature(OperatorId),
    /// The report is not a well-formed report for this task.
    #[error("malformed report: {0}")]
    Malformed(String),
}

/// A report taken in, or seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportOutcome {
    /// New and valid.
    Accepted,
    /// Exactly this report was already taken.
    Duplicate,
}

/// What [`ReportRound::screen`] found.
#[derive(Debug)]
pub enum Screened {
    /// Exactly this report is already kept.
    Duplicate,
    /// New: its signature is to be checked.
    Check(Box<ReportCheck>),
}

/// A report whose signature is still to be checked (a pairing).
#[derive(Debug)]
pub struct ReportCheck {
    key: bulwark_crypto::PublicKey,
    message: [u8; 32],
    report: SignedReport,
}

impl ReportCheck {
    /// Verifies the signature: pure computation, to run off async workers and
    /// outside the round's lock.
    pub fn run(self) -> Result<VerifiedReport, ReportRejection> {
        self.key
            .verify(&Domain::SIGNATURE, &self.message, &self.report.signature)
            .map_err(|_| ReportRejection::BadSignature(self.report.operator))?;
        Ok(VerifiedReport(self.report))
    }
}

/// A report whose signature verified against its operator's key in the task's set.
/// Only [`ReportCheck::run`] makes one.
#[derive(Debug)]
pub struct VerifiedReport(SignedReport);

impl VerifiedReport {
    /// The report.
    pub fn report(&self) -> &SignedReport {
        &self.0
    }
}

/// Phase one of one task: the verified reports so far and, once made, the proposal.
#[derive(Debug)]
pub struct ReportRound {
    task_id: u64,
    input: Vec<u8>,
    operators: OperatorSet,
    context: SigningContext,
    threshold: Threshold,
    deadline: u64,
    /// The block the report window counts from: the task's reference block (the
    /// block before its creation), the same for every aggregator.
    reference_block: u64,
    reports: BTreeMap<OperatorId, SignedReport>,
    reported_stake: u64,
    proposal: Option<Proposal>,
}

impl ReportRound {
    /// Phase one of the task `config` describes, whose on-chain input is `input`.
    pub fn new(config: &TaskConfig, input: Vec<u8>) -> Self {
        Self {
            task_id: config.task_id,
            input,
            operators: config.operators.clone(),
            context: config.context,
            threshold: config.threshold,
            deadline: config.deadline,
            reference_block: u64::from(config.reference_block),
            reports: BTreeMap::new(),
            reported_stake: 0,
            proposal: None,
        }
    }

    /// Takes one report at block `now`, checked by `propose` and by its signature.
    /// The signature is verified on arrival (not batched): reports are few, and a
    /// kept report must be evidence that stands on its own. Runs the pairing inline;
    /// [`ReportRound::screen`] and [`ReportRound::accept`] run it elsewhere.
    pub fn add(
        &mut self,
        now: u64,
        report: SignedReport,
        propose: &dyn Propose,
    ) -> Result<ReportOutcome, ReportRejection> {
        match self.screen(now, report, propose)? {
            Screened::Duplicate => Ok(ReportOutcome::Duplicate),
            Screened::Check(check) => self.accept(now, check.run()?),
        }
    }

    /// Every check of a report but its signature's (cheap, no pairing): the
    /// [`ReportCheck`] to run outside whatever lock guards the round, then hand to
    /// [`ReportRound::accept`].
    pub fn screen(
        &self,
        now: u64,
        report: SignedReport,
        propose: &dyn Propose,
    ) -> Result<Screened, ReportRejection> {
        if self.settled(now, &report)?.is_some() {
            return Ok(Screened::Duplicate);
        }
        let Some(member) = self.operators.get(&report.operator) else {
            return Err(ReportRejection::UnknownOperator(report.operator));
        };
        if !propose.check_report(&self.input, &report.report) {
            return Err(ReportRejection::Malformed(format!(
                "{} bytes that are not a report for this task",
                report.report.len()
            )));
        }
        let message = self
            .context
            .report_message(self.task_id, &ResponseDigest::of(&report.report));
        Ok(Screened::Check(Box::new(ReportCheck {
            key: member.public_key,
            message,
            report,
        })))
    }

    /// Keeps a report whose signature verified, unless the round moved on while it
    /// was checked (closed, late, or the same operator's report kept meanwhile).
    pub fn accept(
        &mut self,
        now: u64,
        verified: VerifiedReport,
    ) -> Result<ReportOutcome, ReportRejection> {
        let report = verified.0;
        if let Some(outcome) = self.settled(now, &report)? {
            return Ok(outcome);
        }
        let Some(member) = self.operators.get(&report.operator) else {
            return Err(ReportRejection::UnknownOperator(report.operator));
        };
        self.reported_stake = self.reported_stake.saturating_add(member.stake);
        self.reports.insert(report.operator, report);
        Ok(ReportOutcome::Accepted)
    }

    /// The answer for `report` that needs no signature check: refusals for the
    /// wrong task, a late or closed round, and what the operator's kept report says
    /// (the same bytes: a duplicate; others: a conflict, which binds nothing new).
    fn settled(
        &self,
        now: u64,
        report: &SignedReport,
    ) -> Result<Option<ReportOutcome>, ReportRejection> {
        if report.task_id != self.task_id {
            return Err(ReportRejection::UnknownTask(report.task_id));
        }
        if now > self.deadline {
            return Err(ReportRejection::TooLate {
                task_id: self.task_id,
                deadline: self.deadline,
            });
        }
        if self.operators.get(&report.operator).is_none() {
            return Err(ReportRejection::UnknownOperator(report.operator));
        }
        if let Some(seen) = self.reports.get(&report.operator) {
            return if seen.report == report.report && seen.signature == report.signature {
                Ok(Some(ReportOutcome::Duplicate))
            } else {
                Err(ReportRejection::Conflicting(report.operator))
            };
        }
        if self.proposal.is_some() {
            return Err(ReportRejection::Closed(self.task_id));
        }
        Ok(None)
    }

    /// Whether the aggregator should propose now: not yet proposed, the reports hold
    /// the task's threshold of stake, and either every operator reported or the
    /// caller's report window is over (late operators then only endorse).
    pub fn ready(&self, window_over: bool) -> bool {
        self.proposal.is_none()
            && self
                .threshold
                .is_met(self.reported_stake, self.operators.total_stake())
            && (window_over || self.reports.len() == self.operators.len())
    }

    /// Whether the aggregator should propose at block `now`, with a report window of
    /// `window_blocks` after the task's reference block: [`ReportRound::ready`] with
    /// the window timed in blocks, like the engine's deadline, so every aggregator
    /// following the same chain closes it at the same block whatever its clock.
    pub fn due(&self, now: u64, window_blocks: u64) -> bool {
        self.ready(now >= self.reference_block.saturating_add(window_blocks))
    }

    /// Makes the proposal (once; later calls return the first). `None` when
    /// `propose` cannot make one from these reports.
    pub fn propose(&mut self, propose: &dyn Propose) -> Option<&Proposal> {
        if self.proposal.is_none() {
            let weighed: Vec<WeighedReport<'_>> = self
                .reports
                .values()
                .filter_map(|r| {
                    Some(WeighedReport {
                        operator: r.operator,
                        stake: self.operators.get(&r.operator)?.stake,
                        report: &r.report,
                    })
                })
                .collect();
            self.proposal = propose.propose(&self.input, &weighed);
        }
        self.proposal.as_ref()
    }

    /// Takes `response` as the proposal when none is made yet: an aggregator
    /// restarting replays endorsements it had accepted, which all carry the proposal
    /// it had made, so operators asking again get the same one. Returns whether the
    /// round's proposal is now `response`.
    pub fn adopt(&mut self, response: &[u8]) -> bool {
        match &self.proposal {
            Some(p) => p.response == response,
            None => {
                self.proposal = Some(Proposal {
                    response: response.to_vec(),
                    outliers: Vec::new(),
                });
                true
            }
        }
    }

    /// The proposal, once made.
    pub fn proposal(&self) -> Option<&Proposal> {
        self.proposal.as_ref()
    }

    /// The signed report of `operator`, if it reported (evidence).
    pub fn report_of(&self, operator: &OperatorId) -> Option<&SignedReport> {
        self.reports.get(operator)
    }

    /// The registered key of `operator` in the task's set.
    pub fn key_of(&self, operator: &OperatorId) -> Option<bulwark_crypto::PublicKey> {
        self.operators.get(operator).map(|m| m.public_key)
    }

    /// For a report conflicting with the one its operator already has kept here: the
    /// kept report and the check of the new one's signature. Both verified, they are
    /// an equivocation (two reports of one round), which binds nothing new in the
    /// round but is evidence for challengers.
    pub fn conflict(&self, report: SignedReport) -> Option<(SignedReport, ReportCheck)> {
        let kept = self.reports.get(&report.operator)?;
        if kept.report == report.report {
            return None;
        }
        let key = self.operators.get(&report.operator)?.public_key;
        let message = self
            .context
            .report_message(self.task_id, &ResponseDigest::of(&report.report));
        Some((
            kept.clone(),
            ReportCheck {
                key,
                message,
                report,
            },
        ))
    }

    /// Stake that reported so far.
    pub fn reported_stake(&self) -> u64 {
        self.reported_stake
    }

    /// The chain and AVS the reports are signed for.
    pub fn context(&self) -> SigningContext {
        self.context
    }

    /// The task's deadline block.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    /// The task's on-chain input.
    pub fn input(&self) -> &[u8] {
        &self.input
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operator;
    use bulwark_crypto::SecretKey;

    /// Reports are a big-endian u64; the proposal is the (unweighted) lowest one, and
    /// anything above 100 is an outlier.
    struct Lowest;
    impl Propose for Lowest {
        fn check_report(&self, _input: &[u8], report: &[u8]) -> bool {
            report.len() == 8
        }
        fn propose(&self, _input: &[u8], reports: &[WeighedReport<'_>]) -> Option<Proposal> {
            let value =
                |r: &WeighedReport<'_>| u64::from_be_bytes(r.report.try_into().ok()?).into();
            let lowest: u64 = reports.iter().filter_map(value).min()?;
            Some(Proposal {
                response: lowest.to_be_bytes().to_vec(),
                outliers: reports
                    .iter()
                    .filter(|r| value(r).is_some_and(|v: u64| v > 100))
                    .map(|r| Outlier {
                        operator: r.operator,
                        reason: "above 100".into(),
                    })
                    .collect(),
            })
        }
    }

    fn setup(stakes: &[u64]) -> (Vec<SecretKey>, TaskConfig) {
        let keys: Vec<SecretKey> = stakes
            .iter()
            .map(|_| SecretKey::random().expect("key"))
            .collect();
        let operators = keys
            .iter()
            .zip(stakes)
            .enumerate()
            .map(|(i, (k, s))| Operator {
                id: OperatorId([i as u8 + 1; 20]),
                public_key: k.public_key(),
                stake: *s,
            })
            .collect();
        let config = TaskConfig {
            task_id: 7,
            reference_block: 1,
            threshold: Threshold::new(6_000).expect("bps"),
            deadline: 50,
            operators: OperatorSet::new(operators).expect("set"),
            context: SigningContext {
                chain_id: 31337,
                avs: [9; 20],
            },
        };
        (keys, config)
    }

    fn report(config: &TaskConfig, keys: &[SecretKey], i: usize, value: u64) -> SignedReport {
        let bytes = value.to_be_bytes().to_vec();
        let message = config
            .context
            .report_message(config.task_id, &ResponseDigest::of(&bytes));
        SignedReport {
            task_id: config.task_id,
            operator: OperatorId([i as u8 + 1; 20]),
            report: bytes,
            signature: keys[i].sign(&Domain::SIGNATURE, &message),
        }
    }

    #[test]
    fn collects_until_threshold_then_proposes_once() {
        let (keys, config) = setup(&[30, 30, 40]);
        let mut round = ReportRound::new(&config, b"in".to_vec());
        assert_eq!(
            round.add(1, report(&config, &keys, 0, 90), &Lowest),
            Ok(ReportOutcome::Accepted)
        );
        assert!(
            !round.ready(true),
            "30% of stake is below the 60% threshold"
        );
        assert_eq!(
            round.add(1, report(&config, &keys, 2, 500), &Lowest),
            Ok(ReportOutcome::Accepted)
        );
        assert!(round.ready(true));
        assert!(!round.ready(false), "one operator has not reported yet");
        assert_eq!(
            round.add(1, report(&config, &keys, 0, 90), &Lowest),
            Ok(ReportOutcome::Duplicate)
        );
        assert_eq!(
            round.add(1, report(&config, &keys, 1, 95), &Lowest),
            Ok(ReportOutcome::Accepted)
        );
        assert!(round.ready(false), "everyone reported");
        let proposal = round.propose(&Lowest).expect("proposal").clone();
        assert_eq!(proposal.response, 90u64.to_be_bytes());
        assert_eq!(proposal.outliers.len(), 1);
        assert_eq!(proposal.outliers[0].operator, OperatorId([3; 20]));
        assert!(
            round.report_of(&OperatorId([3; 20])).is_some(),
            "evidence kept"
        );
        assert!(!round.ready(true), "proposed already");
        assert_eq!(round.reported_stake(), 100);
        assert!(round.adopt(&90u64.to_be_bytes()), "the same proposal");
        assert!(!round.adopt(&91u64.to_be_bytes()), "never replaced");
    }

    #[test]
    fn the_report_window_closes_at_a_block_counted_from_the_reference_block() {
        let (keys, config) = setup(&[30, 30, 40]);
        let mut round = ReportRound::new(&config, Vec::new());
        round
            .add(1, report(&config, &keys, 0, 90), &Lowest)
            .expect("report");
        round
            .add(1, report(&config, &keys, 2, 90), &Lowest)
            .expect("report");
        // Reference block 1, a window of 3 blocks: open through block 3.
        assert!(!round.due(2, 3));
        assert!(!round.due(3, 3));
        assert!(round.due(4, 3), "closed at reference block + window");
        assert!(round.due(u64::MAX, u64::MAX), "no overflow");
        // Below the threshold, no window makes it due.
        let (keys, config) = setup(&[30, 30, 40]);
        let mut thin = ReportRound::new(&config, Vec::new());
        thin.add(1, report(&config, &keys, 0, 90), &Lowest)
            .expect("report");
        assert!(!thin.due(1_000, 0));
    }

    #[test]
    fn a_restarted_aggregator_adopts_the_replayed_proposal() {
        let (keys, config) = setup(&[30, 30, 40]);
        let mut round = ReportRound::new(&config, Vec::new());
        assert!(round.adopt(b"earlier proposal"));
        assert_eq!(
            round.proposal().map(|p| p.response.as_slice()),
            Some(&b"earlier proposal"[..])
        );
        assert_eq!(
            round.add(1, report(&config, &keys, 0, 5), &Lowest),
            Err(ReportRejection::Closed(7)),
            "reports are closed once a proposal stands"
        );
    }

    #[test]
    fn refuses_bad_reports_with_a_reason() {
        let (keys, config) = setup(&[30, 30, 40]);
        let mut round = ReportRound::new(&config, Vec::new());
        let mut forged = report(&config, &keys, 0, 5);
        forged.operator = OperatorId([2; 20]);
        assert_eq!(
            round.add(1, forged, &Lowest),
            Err(ReportRejection::BadSignature(OperatorId([2; 20])))
        );
        let mut stranger = report(&config, &keys, 0, 5);
        stranger.operator = OperatorId([77; 20]);
        assert!(matches!(
            round.add(1, stranger, &Lowest),
            Err(ReportRejection::UnknownOperator(_))
        ));
        let mut short = report(&config, &keys, 0, 5);
        short.report.pop();
        assert!(matches!(
            round.add(1, short, &Lowest),
            Err(ReportRejection::Malformed(_))
        ));
        assert!(matches!(
            round.add(51, report(&config, &keys, 0, 5), &Lowest),
            Err(ReportRejection::TooLate { .. })
        ));
        let mut other_task = report(&config, &keys, 0, 5);
        other_task.task_id = 8;
        assert_eq!(
            round.add(1, other_task, &Lowest),
            Err(ReportRejection::UnknownTask(8))
        );
        // A response signature is not a report signature.
        let bytes = 5u64.to_be_bytes().to_vec();
        let response_sig = keys[0].sign(
            &Domain::SIGNATURE,
            &config.context.message(7, &ResponseDigest::of(&bytes)),
        );
        let as_report = SignedReport {
            task_id: 7,
            operator: OperatorId([1; 20]),
            report: bytes,
            signature: response_sig,
        };
        assert!(matches!(
            round.add(1, as_report, &Lowest),
            Err(ReportRejection::BadSignature(_))
        ));
        assert_eq!(round.reported_stake(), 0, "nothing refused was counted");
        round
            .add(1, report(&config, &keys, 0, 5), &Lowest)
            .expect("valid");
        assert_eq!(
            round.add(1, report(&config, &keys, 0, 6), &Lowest),
            Err(ReportRejection::Conflicting(OperatorId([1; 20])))
        );
        round
            .add(1, report(&config, &keys, 2, 6), &Lowest)
            .expect("valid");
        round.propose(&Lowest);
        assert_eq!(
            round.add(1, report(&config, &keys, 1, 6), &Lowest),
            Err(ReportRejection::Closed(7))
        );
    }
}
