//! The operator runtime: for every task the AVS creates, run the AVS's [`Task`],
//! sign the response under the task's message, and submit it to each aggregator.

use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use bulwark_chain::slashing::SignedKind;
use bulwark_core::{OperatorId, SignedResponse, SigningContext, Task};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::client::{self, Backoff, Connection};
use bulwark_net::proto::SubmissionStatus;

use crate::follow::{NewTask, TaskFollower};
use crate::protection::Protection;
use crate::telemetry::{Health, names};

/// An operator serving one AVS.
pub struct OperatorRuntime<T: Task> {
    /// The AVS's task logic.
    pub task: T,
    /// The operator's BLS key.
    pub key: SecretKey,
    /// The operator's address.
    pub id: OperatorId,
    /// Chain and AVS.
    pub context: SigningContext,
    /// The aggregators, one reused connection each.
    pub aggregators: Vec<Connection>,
    /// Retry policy for unreachable aggregators.
    pub backoff: Backoff,
    /// When the chain last answered (for `/health`).
    pub health: std::sync::Arc<Health>,
    /// What it signed per task, so it never signs two responses to one.
    pub protection: std::sync::Arc<Protection>,
}

impl<T: Task> OperatorRuntime<T> {
    /// An operator with the default retry policy, for the aggregators at
    /// `aggregators` (`http://host:port`), with slashing protection in memory (see
    /// [`OperatorRuntime::with_protection`] to keep it across restarts); inside a
    /// tokio runtime.
    pub fn new(
        task: T,
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
            task,
            key,
            id,
            context,
            backoff: Backoff::default(),
            health: Default::default(),
            protection: std::sync::Arc::new(in_memory_protection()),
        }
    }

    /// The same operator with `protection` (a file, so it survives restarts).
    pub fn with_protection(mut self, protection: std::sync::Arc<Protection>) -> Self {
        self.protection = protection;
        self
    }

    /// Executes, signs and submits one task; returns each aggregator's status (or the
    /// error that left it without one). `None` when the operator does not sign (input
    /// refused or execution failed).
    pub async fn respond(
        &self,
        task: &NewTask,
    ) -> Option<Vec<Result<SubmissionStatus, client::ClientError>>> {
        metrics::counter!(names::OPERATOR_TASKS).increment(1);
        let Some(input) = self.task.decode_input(&task.input) else {
            tracing::warn!(
                task = task.task_id,
                "input refused by the task; not signing"
            );
            return None;
        };
        let output = match self.task.execute(input).await {
            Ok(output) => output,
            Err(err) => {
                tracing::warn!(task = task.task_id, %err, "execution failed; not signing");
                return None;
            }
        };
        let response = self.task.encode_output(&output);
        let signed = match self.protection.sign_once(
            &self.context,
            task.task_id,
            SignedKind::Response,
            &response,
            |digest| {
                self.key.sign(
                    &Domain::SIGNATURE,
                    &self.context.message(task.task_id, digest),
                )
            },
        ) {
            Ok(signed) => signed,
            Err(err) => {
                tracing::error!(task = task.task_id, %err, "slashing protection unavailable; not signing");
                return None;
            }
        };
        if !signed.fresh && signed.payload != response {
            tracing::warn!(
                task = task.task_id,
                "this task was answered before with another response; sending that one again"
            );
        }
        let submission = SignedResponse {
            task_id: task.task_id,
            operator: self.id,
            response: signed.payload,
            signature: signed.signature,
        };
        Some(submit_to_all(&self.aggregators, &submission, &self.backoff).await)
    }

    /// Follows the AVS from `from_block` and responds to every new task, until
    /// `shutdown` resolves.
    pub async fn run(
        self: std::sync::Arc<Self>,
        provider: DynProvider,
        from_block: u64,
        poll: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let avs = Address::from(self.context.avs);
        let health = self.health.clone();
        follow_tasks(provider, avs, from_block, poll, &health, shutdown, |task| {
            let me = self.clone();
            tokio::spawn(async move { me.respond(&task).await });
        })
        .await;
    }
}

/// Submits a response to every aggregator in turn; counts and logs each outcome.
pub(crate) async fn submit_to_all(
    aggregators: &[Connection],
    submission: &SignedResponse,
    backoff: &Backoff,
) -> Vec<Result<SubmissionStatus, client::ClientError>> {
    let mut statuses = Vec::new();
    for aggregator in aggregators {
        let endpoint = aggregator.endpoint();
        let status = when_open(|| aggregator.submit(submission, backoff)).await;
        count_answer(names::OPERATOR_SUBMISSIONS, &status);
        match &status {
            Ok((status, detail)) => {
                tracing::debug!(
                    task = submission.task_id,
                    endpoint,
                    ?status,
                    detail,
                    "submitted"
                )
            }
            Err(err) => {
                tracing::warn!(task = submission.task_id, endpoint, %err, "aggregator unreachable")
            }
        }
        statuses.push(status.map(|(status, _)| status));
    }
    statuses
}

/// Sends with `send` (a submission, a report) until the aggregator has opened the
/// task, which it may do a poll later than we see the event: up to 20 tries, 100 ms
/// apart at first, doubling to 1 s. Until then it may also not know the operator
/// (its session cannot open before the aggregator has read an operator set with it),
/// so "unknown operator" is retried the same way. Gives the aggregator's status and
/// detail.
pub(crate) async fn when_open<F, Fut>(
    mut send: F,
) -> Result<(SubmissionStatus, String), client::ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(SubmissionStatus, String), client::ClientError>>,
{
    let mut delay = Duration::from_millis(100);
    let mut answer = (SubmissionStatus::UnknownTask, String::new());
    for _ in 0..20 {
        answer = send().await?;
        if !matches!(
            answer.0,
            SubmissionStatus::UnknownTask | SubmissionStatus::UnknownOperator
        ) {
            break;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
    Ok(answer)
}

/// Counts an aggregator's answer in `metric`, labelled by status (or `unreachable`).
pub(crate) fn count_answer<T>(
    metric: &'static str,
    answer: &Result<(SubmissionStatus, T), client::ClientError>,
) {
    let label = match answer {
        Ok((status, _)) => bulwark_net::submission::label(*status),
        Err(_) => "unreachable",
    };
    metrics::counter!(metric, "status" => label).increment(1);
}

/// Polls the AVS for new tasks every `poll` from `from_block`, handing each to
/// `on_task`, until `shutdown` resolves; chain errors are counted and retried.
pub(crate) async fn follow_tasks(
    provider: DynProvider,
    avs: Address,
    from_block: u64,
    poll: Duration,
    health: &Health,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_task: impl FnMut(NewTask),
) {
    let mut follower = TaskFollower::new(provider, avs, from_block);
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(poll);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => match follower.poll().await {
                Ok((head, tasks)) => {
                    health.chain_ok(head);
                    // A task past its deadline can no longer be answered: signing
                    // for it (again, after a restart) could only add risk.
                    for task in tasks.into_iter().filter(|t| u64::from(t.deadline_block) >= head) {
                        on_task(task);
                    }
                }
                Err(err) => {
                    metrics::counter!(names::CHAIN_ERRORS).increment(1);
                    tracing::warn!(%err, "chain poll failed; retrying");
                }
            },
        }
    }
}

/// Slashing protection in memory. Creating an in-memory redb database fails only if
/// the allocator does, which aborts anyway.
pub(crate) fn in_memory_protection() -> Protection {
    match Protection::in_memory() {
        Ok(protection) => protection,
        Err(err) => panic!("an in-memory database cannot fail to open: {err}"),
    }
}
