//! Two-phase tasks in the aggregator: the report round of each open task (reports
//! taken and stored, conflicting reports proven as equivocations), the proposal
//! (made when the round is due, stored before it is shown), endorsements checked
//! against it, and the AVS's own offences proven from an endorsement and the
//! operator's report.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use bulwark_chain::slashing::{Equivocation, SignedKind};
use bulwark_core::{
    OperatorId, Rejection, ReportOutcome, ReportRejection, ReportRound, ResponseDigest, Screened,
    SignedReport, SignedResponse, SigningContext, SlashingProof,
};
use bulwark_crypto::PublicKey;
use bulwark_net::server::ProposalState;

use super::Aggregator;
use super::store::Write;
use crate::telemetry::names;

/// Conflicting reports of one operator checked per round, at most.
const CONFLICT_CHECKS: u8 = 4;
/// Marks an operator whose report conflict is proven (nothing more to check).
const PROVEN: u8 = u8::MAX;

/// Phase one of one open two-phase task.
pub(super) struct OpenRound {
    pub(super) round: ReportRound,
    /// Whether the proposal (once made) is durable and may be shown: a proposal is
    /// stored before any operator can see it, so a restart shows the same one.
    pub(super) published: bool,
    pub(super) failed: Option<String>,
    /// Conflicting reports checked per operator ([`PROVEN`] once one proved): a few
    /// pairings per operator and round at most, however many it sends, and a
    /// forgery in its name cannot stop its real conflict from being proven.
    conflicts_checked: HashMap<OperatorId, u8>,
    /// Operators whose endorsement after the certificate was looked at (once each).
    late_looked: std::collections::HashSet<OperatorId>,
}

impl OpenRound {
    /// Phase one of the task `config` describes, whose input is `input`.
    pub(super) fn new(config: &bulwark_core::TaskConfig, input: &[u8]) -> Self {
        Self {
            round: ReportRound::new(config, input.to_vec()),
            published: false,
            failed: None,
            conflicts_checked: HashMap::new(),
            late_looked: Default::default(),
        }
    }
}

/// One line of the evidence file: an operator's signed report that a proposal left
/// out, with everything needed to check the signature later.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EvidenceRecord {
    /// The task.
    pub task_id: u64,
    /// The chain id and AVS the report was signed for.
    pub chain_id: u64,
    /// The AVS contract, `0x`-hex.
    pub avs: String,
    /// The operator, `0x`-hex.
    pub operator: String,
    /// Why it was left out.
    pub reason: String,
    /// Its report bytes, `0x`-hex.
    pub report: String,
    /// Its BLS signature on the report message, `0x`-hex.
    pub signature: String,
    /// The proposal the report was set against, `0x`-hex.
    pub proposal: String,
}

/// An endorsement of a two-phase task by an operator that reported in the round: what
/// the AVS's own offence check (`Propose::endorsement_evidence`) looks at.
pub(super) struct EndorsementProbe {
    context: SigningContext,
    key: PublicKey,
    report: SignedReport,
    endorsement: SignedResponse,
}

/// Two-phase tasks.
impl Aggregator {
    pub(super) fn rounds(&self) -> std::sync::MutexGuard<'_, HashMap<u64, OpenRound>> {
        self.rounds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// For a two-phase task, only the proposal may be signed: a response to it
    /// before the proposal exists, or any other response, is refused.
    pub(super) fn check_endorsement(&self, submission: &SignedResponse) -> Result<(), Rejection> {
        if self.two_phase.is_none() {
            return Ok(());
        }
        let rounds = self.rounds();
        let Some(open) = rounds.get(&submission.task_id) else {
            // Not open (or already done): the engine gives the precise reason.
            return Ok(());
        };
        match open.round.proposal().filter(|_| open.published) {
            Some(p) if p.response == submission.response => Ok(()),
            Some(_) => Err(Rejection::Malformed("not the proposed response")),
            None => Err(Rejection::Malformed("no proposal yet to endorse")),
        }
    }

    /// A stored endorsement read back after a restart: it was accepted as an
    /// endorsement of the proposal made then, which the fresh round takes over.
    pub(super) fn adopt_replayed(&self, submission: &SignedResponse) -> Result<(), Rejection> {
        if self.two_phase.is_none() {
            return Ok(());
        }
        let adopted = self
            .rounds()
            .get_mut(&submission.task_id)
            .is_none_or(|open| {
                // Stored endorsements were taken for a proposal already shown.
                let adopted = open.round.adopt(&submission.response);
                open.published |= adopted;
                adopted
            });
        if adopted {
            Ok(())
        } else {
            Err(Rejection::Malformed("not the proposed response"))
        }
    }

    /// Takes one report; proposes as soon as the round is ready. Its signature is
    /// checked on the blocking pool, outside the rounds' lock.
    pub(super) async fn take_report(
        &self,
        report: SignedReport,
    ) -> Result<ReportOutcome, ReportRejection> {
        let Some(two_phase) = &self.two_phase else {
            return Err(ReportRejection::UnknownTask(report.task_id));
        };
        let task_id = report.task_id;
        let operator = report.operator;
        // Copied only when it may have to be stored, or be evidence of a conflict.
        let stored = self.store.is_some().then(|| report.clone());
        let copy = report.clone();
        let screened = {
            let now = self.head.load(Ordering::Relaxed);
            let rounds = self.rounds();
            let open = rounds
                .get(&task_id)
                .ok_or(ReportRejection::UnknownTask(task_id))?;
            open.round.screen(now, report, two_phase.proposer.as_ref())
        };
        let verdict = match screened {
            Ok(Screened::Duplicate) => Ok(ReportOutcome::Duplicate),
            Ok(Screened::Check(check)) => {
                match tokio::task::spawn_blocking(move || check.run()).await {
                    Ok(Ok(verified)) => {
                        let now = self.head.load(Ordering::Relaxed);
                        let mut rounds = self.rounds();
                        match rounds.get_mut(&task_id) {
                            Some(open) => open.round.accept(now, verified),
                            None => Err(ReportRejection::UnknownTask(task_id)),
                        }
                    }
                    Ok(Err(rejection)) => Err(rejection),
                    Err(err) => {
                        tracing::error!(task = task_id, %err, "a report check failed to run");
                        Err(ReportRejection::UnknownTask(task_id))
                    }
                }
            }
            Err(rejection) => Err(rejection),
        };
        match &verdict {
            Ok(ReportOutcome::Accepted) => {
                tracing::debug!(task = task_id, %operator, "report accepted");
                if let Some(report) = stored {
                    self.record(task_id, Write::Report(report)).await;
                }
                self.advance(task_id).await;
            }
            Ok(ReportOutcome::Duplicate) => {}
            Err(ReportRejection::Conflicting(_)) => {
                tracing::debug!(task = task_id, claimed = %operator, "conflicting report");
                self.prove_report_conflict(copy).await;
            }
            Err(err) => {
                tracing::debug!(task = task_id, claimed = %operator, %err, "report refused")
            }
        }
        verdict
    }

    /// Whether this is the first endorsement of its operator looked at after the
    /// task's certificate (each costs the AVS's check a few pairings).
    pub(super) fn first_late_look(&self, probe: &EndorsementProbe) -> bool {
        let operator = probe.endorsement.operator;
        self.rounds()
            .get_mut(&probe.endorsement.task_id)
            .is_some_and(|open| open.late_looked.insert(operator))
    }

    /// The endorsement's probe, when its operator reported in the round.
    pub(super) fn endorsement_probe(
        &self,
        submission: &SignedResponse,
    ) -> Option<EndorsementProbe> {
        self.two_phase.as_ref()?;
        let rounds = self.rounds();
        let round = &rounds.get(&submission.task_id)?.round;
        Some(EndorsementProbe {
            context: round.context(),
            key: round.key_of(&submission.operator)?,
            report: round.report_of(&submission.operator)?.clone(),
            endorsement: submission.clone(),
        })
    }

    /// Asks the AVS whether an endorsement is an offence of its own against the
    /// operator's report (on the blocking pool: it verifies what it proves), and
    /// offers the proof to challengers.
    pub(super) async fn prove_endorsement(&self, probe: EndorsementProbe) {
        let Some(two_phase) = &self.two_phase else {
            return;
        };
        let proposer = two_phase.proposer.clone();
        let (task_id, operator) = (probe.endorsement.task_id, probe.endorsement.operator);
        let proof = tokio::task::spawn_blocking(move || {
            proposer.endorsement_evidence(
                &probe.context,
                &probe.key,
                &probe.report,
                &probe.endorsement,
            )
        })
        .await;
        match proof {
            Ok(Some(proof)) => self.offer_evidence(task_id, operator, "template", proof),
            Ok(None) => {}
            Err(err) => tracing::error!(task = task_id, %err, "an endorsement check failed to run"),
        }
    }

    /// A report conflicting with the one its operator has kept in the round: checked
    /// once per operator and round, and if its signature holds, the two reports are
    /// an equivocation, offered to challengers.
    pub(super) async fn prove_report_conflict(&self, report: SignedReport) {
        let (task_id, operator) = (report.task_id, report.operator);
        let found = {
            let mut rounds = self.rounds();
            let Some(open) = rounds.get_mut(&task_id) else {
                return;
            };
            let tried = open.conflicts_checked.entry(operator).or_default();
            if *tried >= CONFLICT_CHECKS {
                return;
            }
            *tried += 1;
            let Some(key) = open.round.key_of(&operator) else {
                return;
            };
            open.round
                .conflict(report)
                .map(|(kept, check)| (kept, check, key, open.round.context()))
        };
        let Some((kept, check, key, context)) = found else {
            return;
        };
        let proof = tokio::task::spawn_blocking(move || {
            let second = check.run().ok()?;
            let second = second.report();
            let proof = Equivocation {
                context,
                task_id,
                kind: SignedKind::Report,
                operator,
                public_key: key,
                first: (ResponseDigest::of(&kept.report), kept.signature),
                second: (ResponseDigest::of(&second.report), second.signature),
            };
            proof.verify().ok()?;
            Some(proof.encode())
        })
        .await;
        match proof {
            Ok(Some(proof)) => {
                if let Some(open) = self.rounds().get_mut(&task_id) {
                    open.conflicts_checked.insert(operator, PROVEN);
                }
                self.offer_evidence(task_id, operator, "equivocation", proof)
            }
            Ok(None) => {
                tracing::debug!(task = task_id, claimed = %operator, "a conflicting report that does not prove")
            }
            Err(err) => {
                tracing::error!(task = task_id, %err, "a report conflict check failed to run")
            }
        }
    }

    /// Proposes for every open round that is ready (its report window passed since
    /// the last poll).
    pub(super) async fn advance_all(&self) {
        if self.two_phase.is_none() {
            return;
        }
        let open: Vec<u64> = self
            .rounds()
            .iter()
            .filter(|(_, r)| r.round.proposal().is_none() && r.failed.is_none())
            .map(|(id, _)| *id)
            .collect();
        for task_id in open {
            self.advance(task_id).await;
        }
    }

    /// The proposal state of `task_id`, as `GetProposal` answers it: a read, never
    /// the trigger of a proposal (those come from reports and the report window).
    pub(super) fn proposal_state(&self, task_id: u64) -> ProposalState {
        let rounds = self.rounds();
        let Some(open) = rounds.get(&task_id) else {
            return ProposalState::UnknownTask;
        };
        if let Some(p) = open.round.proposal().filter(|_| open.published) {
            return ProposalState::Ready(p.response.clone());
        }
        match &open.failed {
            Some(why) => ProposalState::Failed(why.clone()),
            None => ProposalState::Pending,
        }
    }

    /// Proposes for `task_id` if its round is ready; stores the proposal (before any
    /// operator can see it, so a restart serves the same one) and records the
    /// outliers.
    pub(super) async fn advance(&self, task_id: u64) -> ProposalState {
        let Some(two_phase) = &self.two_phase else {
            return ProposalState::UnknownTask;
        };
        let (proposal, evidence) = {
            let mut rounds = self.rounds();
            let Some(open) = rounds.get_mut(&task_id) else {
                return ProposalState::UnknownTask;
            };
            if let Some(p) = open.round.proposal() {
                // Made, and being stored by another call until published.
                return match open.published {
                    true => ProposalState::Ready(p.response.clone()),
                    false => ProposalState::Pending,
                };
            }
            if let Some(why) = &open.failed {
                return ProposalState::Failed(why.clone());
            }
            let now = self.head.load(Ordering::Relaxed);
            if !open.round.due(now, two_phase.report_window_blocks) {
                return ProposalState::Pending;
            }
            let Some(proposal) = open.round.propose(two_phase.proposer.as_ref()).cloned() else {
                let why = format!(
                    "no proposal could be made from reports holding {} gwei of stake",
                    open.round.reported_stake()
                );
                tracing::error!(task = task_id, "{why}");
                open.failed = Some(why.clone());
                return ProposalState::Failed(why);
            };
            let context = open.round.context();
            let evidence: Vec<EvidenceRecord> = proposal
                .outliers
                .iter()
                .filter_map(|o| {
                    let report = open.round.report_of(&o.operator)?;
                    Some(EvidenceRecord {
                        task_id,
                        chain_id: context.chain_id,
                        avs: format!("0x{}", hex::encode(context.avs)),
                        operator: o.operator.to_string(),
                        reason: o.reason.clone(),
                        report: format!("0x{}", hex::encode(&report.report)),
                        signature: format!("0x{}", hex::encode(report.signature.to_bytes())),
                        proposal: format!("0x{}", hex::encode(&proposal.response)),
                    })
                })
                .collect();
            (proposal, evidence)
        };
        self.record(task_id, Write::Proposal(task_id, proposal.response.clone()))
            .await;
        if let Some(open) = self.rounds().get_mut(&task_id) {
            open.published = true;
        }
        tracing::info!(
            task = task_id,
            outliers = evidence.len(),
            "proposal made from the reports"
        );
        for record in evidence {
            self.stats.outliers.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(names::OUTLIERS).increment(1);
            tracing::warn!(
                task = task_id,
                operator = %record.operator,
                reason = %record.reason,
                "report left out of the proposal; evidence recorded"
            );
            if let Some(path) = &two_phase.evidence {
                if let Err(err) = append_evidence(path, &record) {
                    tracing::error!(path = %path.display(), %err, "cannot write evidence");
                }
            }
        }
        ProposalState::Ready(proposal.response)
    }
}

/// Appends one record to the evidence file (one JSON object per line).
fn append_evidence(path: &std::path::Path, record: &EvidenceRecord) -> std::io::Result<()> {
    use std::io::Write;
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(&line)?;
    file.sync_data()
}
