//! The operator runtime for two-phase tasks: for every task, observe with the AVS's
//! [`Observe`], sign and send the report, wait for the aggregator's proposal, and
//! endorse it (sign it as the response) only when it lies within the operator's own
//! tolerance of what it observed.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use bulwark_core::{
    Observe, OperatorId, ResponseDigest, SignedReport, SignedResponse, SigningContext,
};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::client::{Backoff, Connection};
use bulwark_net::proto::{ProposalStatus, SubmissionStatus};

use crate::follow::NewTask;
use crate::operator::{
    ChainHead, DEFAULT_IN_FLIGHT, Follow, count_answer, follow_tasks, submit_to_all, when_open,
};
use crate::protection::{Protection, Signed};
use crate::telemetry::{Health, names};
use bulwark_chain::slashing::SignedKind;

/// What one task came to, for callers that watch (tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endorsement {
    /// The input was refused or observing failed: nothing was reported.
    NotObserved,
    /// No aggregator accepted the report.
    ReportRefused,
    /// No proposal came (the aggregator could not make one, or took too long).
    NoProposal,
    /// The proposal lay outside the operator's tolerance: not signed.
    Declined,
    /// The proposal was signed and sent; each aggregator's status.
    Endorsed(Vec<Option<SubmissionStatus>>),
}

/// An operator serving one two-phase AVS.
pub struct ObserverRuntime<O: Observe> {
    /// The AVS's observation logic.
    pub observe: O,
    /// The operator's BLS key.
    pub key: SecretKey,
    /// The operator's address.
    pub id: OperatorId,
    /// Chain and AVS.
    pub context: SigningContext,
    /// The aggregators, one reused connection each. Reports go to all; the proposal
    /// is taken from the first that has one, and only that one is endorsed, so an
    /// operator never signs two responses to one task.
    pub aggregators: Vec<Connection>,
    /// Retry policy for unreachable aggregators.
    pub backoff: Backoff,
    /// How long to observe, and then how long to wait for a proposal.
    pub patience: Duration,
    /// When the chain last answered (for `/health`).
    pub health: Arc<Health>,
    /// What it signed per task, so it never signs two reports or two endorsements
    /// for one.
    pub protection: Arc<Protection>,
    /// The chain head as last polled: observing stops at the task's deadline block.
    pub head: ChainHead,
    /// Tasks served at once, at most (see [`crate::operator::OperatorRuntime`]).
    pub max_in_flight: usize,
}

impl<O: Observe> ObserverRuntime<O> {
    /// An operator with the default retry policy and 30 s of patience, for the
    /// aggregators at `aggregators` (`http://host:port`); inside a tokio runtime.
    pub fn new(
        observe: O,
        key: SecretKey,
        id: OperatorId,
        context: SigningContext,
        aggregators: Vec<String>,
    ) -> Self {
        Self {
            aggregators: aggregators
                .iter()
                .map(|e| Connection::for_operator(e, id, key.clone()))
                .collect(),
            observe,
            key,
            id,
            context,
            backoff: Backoff::default(),
            patience: Duration::from_secs(30),
            health: Default::default(),
            protection: Arc::new(crate::operator::in_memory_protection()),
            head: ChainHead::default(),
            max_in_flight: DEFAULT_IN_FLIGHT,
        }
    }

    /// The same operator with `protection` (a file, so it survives restarts).
    pub fn with_protection(mut self, protection: Arc<Protection>) -> Self {
        self.protection = protection;
        self
    }

    /// Observes, reports, and endorses the proposal for one task.
    pub async fn respond(&self, task: &NewTask) -> Endorsement {
        let task_id = task.task_id;
        metrics::counter!(names::OPERATOR_TASKS).increment(1);
        let Some(input) = self.observe.decode_input(&task.input) else {
            tracing::warn!(task = task_id, "input refused; not reporting");
            return Endorsement::NotObserved;
        };
        let observing = tokio::time::timeout(
            self.patience,
            self.observe.observe(&input, task.reference_block),
        );
        let observation = match self
            .head
            .before_deadline(task.deadline_block, observing)
            .await
        {
            Some(Ok(Ok(observation))) => observation,
            Some(Ok(Err(err))) => {
                tracing::warn!(task = task_id, %err, "observation failed; not reporting");
                return Endorsement::NotObserved;
            }
            Some(Err(_)) => {
                tracing::warn!(task = task_id, "observation timed out; not reporting");
                return Endorsement::NotObserved;
            }
            None => {
                metrics::counter!(names::OPERATOR_DEADLINES).increment(1);
                tracing::warn!(
                    task = task_id,
                    "observation passed the task's deadline; not reporting"
                );
                return Endorsement::NotObserved;
            }
        };
        let fresh_report = self.observe.encode_report(&input, &observation);
        let Some(report) = self.sign_once(task_id, SignedKind::Report, &fresh_report) else {
            return Endorsement::NotObserved;
        };
        // The report on record is not this observation (signed before a restart): an
        // endorsement judged against this observation could lie beyond the tolerance
        // from the report on record, which is slashable. Only an endorsement signed
        // back then may be sent (again).
        let stale = report.payload != fresh_report;
        let signed = SignedReport {
            task_id,
            operator: self.id,
            report: report.payload,
            signature: report.signature,
        };
        let mut reported = false;
        for aggregator in &self.aggregators {
            let endpoint = aggregator.endpoint();
            let status = when_open(|| aggregator.submit_report(&signed, &self.backoff)).await;
            count_answer(names::OPERATOR_REPORTS, &status);
            match status {
                Ok((SubmissionStatus::Accepted | SubmissionStatus::Duplicate, _)) => {
                    reported = true
                }
                Ok((status, detail)) => {
                    tracing::warn!(task = task_id, endpoint, ?status, detail, "report refused")
                }
                Err(err) => {
                    tracing::warn!(task = task_id, endpoint, %err, "aggregator unreachable")
                }
            }
        }
        if !reported {
            return Endorsement::ReportRefused;
        }
        if stale {
            return match self
                .protection
                .signed(&self.context, task_id, SignedKind::Response)
            {
                Ok(Some(previous)) => {
                    let endorsement = SignedResponse {
                        task_id,
                        operator: self.id,
                        response: previous.payload,
                        signature: previous.signature,
                    };
                    let statuses =
                        submit_to_all(&self.aggregators, &endorsement, &self.backoff).await;
                    Endorsement::Endorsed(statuses.into_iter().map(Result::ok).collect())
                }
                _ => {
                    tracing::warn!(
                        task = task_id,
                        "reported before with another observation; not endorsing now"
                    );
                    Endorsement::Declined
                }
            };
        }
        let Some(proposal) = self.await_proposal(task_id).await else {
            return Endorsement::NoProposal;
        };
        if !self.observe.endorses(&input, &observation, &proposal) {
            metrics::counter!(names::OPERATOR_SUBMISSIONS, "status" => "declined").increment(1);
            tracing::warn!(
                task = task_id,
                "the proposal lies outside our tolerance; not endorsing"
            );
            return Endorsement::Declined;
        }
        let Some(endorsed) = self.sign_once(task_id, SignedKind::Response, &proposal) else {
            return Endorsement::Declined;
        };
        let endorsement = SignedResponse {
            task_id,
            operator: self.id,
            response: endorsed.payload,
            signature: endorsed.signature,
        };
        let statuses = submit_to_all(&self.aggregators, &endorsement, &self.backoff).await;
        Endorsement::Endorsed(statuses.into_iter().map(Result::ok).collect())
    }

    /// Signs `payload` as this operator's `kind` for `task_id`, or gives back what it
    /// signed for them before (slashing protection); `None` when protection is
    /// unavailable (then nothing is signed).
    fn sign_once(&self, task_id: u64, kind: SignedKind, payload: &[u8]) -> Option<Signed> {
        let message = |digest: &ResponseDigest| match kind {
            SignedKind::Response => self.context.message(task_id, digest),
            SignedKind::Report => self.context.report_message(task_id, digest),
        };
        match self
            .protection
            .sign_once(&self.context, task_id, kind, payload, |digest| {
                self.key.sign(&Domain::SIGNATURE, &message(digest))
            }) {
            Ok(signed) => {
                if !signed.fresh && signed.payload != payload {
                    tracing::warn!(
                        task = task_id,
                        ?kind,
                        "signed something else for this task before; sending that again"
                    );
                }
                Some(signed)
            }
            Err(err) => {
                tracing::error!(task = task_id, %err, "slashing protection unavailable; not signing");
                None
            }
        }
    }

    /// The first proposal any aggregator has, polling until `patience` runs out.
    async fn await_proposal(&self, task_id: u64) -> Option<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + self.patience;
        let mut delay = Duration::from_millis(50);
        loop {
            let mut failed = 0;
            for aggregator in &self.aggregators {
                let endpoint = aggregator.endpoint();
                match aggregator.proposal(task_id, &self.backoff).await {
                    Ok((ProposalStatus::Ready, response, _)) => return Some(response),
                    Ok((ProposalStatus::Failed, _, detail)) => {
                        failed += 1;
                        tracing::debug!(task = task_id, endpoint, detail, "no proposal possible");
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(task = task_id, endpoint, %err, "aggregator unreachable")
                    }
                }
            }
            if failed == self.aggregators.len() {
                tracing::warn!(
                    task = task_id,
                    "no aggregator could make a proposal; not endorsing"
                );
                return None;
            }
            if tokio::time::Instant::now() + delay > deadline {
                tracing::warn!(task = task_id, "no proposal in time; not endorsing");
                return None;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// Follows the AVS from `from_block` and serves every new task, until `shutdown`
    /// resolves.
    pub async fn run(
        self: Arc<Self>,
        provider: DynProvider,
        from_block: u64,
        poll: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let follow = Follow {
            provider,
            avs: Address::from(self.context.avs),
            from_block,
            poll,
            health: self.health.clone(),
            head: self.head.clone(),
            max_in_flight: self.max_in_flight,
        };
        follow_tasks(follow, shutdown, |task| {
            let me = self.clone();
            async move {
                let outcome = me.respond(&task).await;
                tracing::debug!(task = task.task_id, ?outcome, "task done");
            }
        })
        .await;
    }
}
