//! The operator runtime: for every task the AVS creates, run the AVS's [`Task`],
//! sign the response under the task's message, and submit it to each aggregator.

use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use bulwark_core::{OperatorId, ResponseDigest, SignedResponse, SigningContext, Task};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::client::{self, Backoff};
use bulwark_net::proto::SubmissionStatus;

use crate::follow::{NewTask, TaskFollower};
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
    /// Aggregator endpoints (`http://host:port`).
    pub aggregators: Vec<String>,
    /// Retry policy for unreachable aggregators.
    pub backoff: Backoff,
    /// When the chain last answered (for `/health`).
    pub health: std::sync::Arc<Health>,
}

impl<T: Task> OperatorRuntime<T> {
    /// An operator with the default retry policy.
    pub fn new(
        task: T,
        key: SecretKey,
        id: OperatorId,
        context: SigningContext,
        aggregators: Vec<String>,
    ) -> Self {
        Self {
            task,
            key,
            id,
            context,
            aggregators,
            backoff: Backoff::default(),
            health: Default::default(),
        }
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
        let message = self
            .context
            .message(task.task_id, &ResponseDigest::of(&response));
        let submission = SignedResponse {
            task_id: task.task_id,
            operator: self.id,
            response,
            signature: self.key.sign(&Domain::SIGNATURE, &message),
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
    aggregators: &[String],
    submission: &SignedResponse,
    backoff: &Backoff,
) -> Vec<Result<SubmissionStatus, client::ClientError>> {
    let mut statuses = Vec::new();
    for endpoint in aggregators {
        let status = submit_when_open(endpoint, submission, backoff).await;
        let label = match &status {
            Ok(status) => bulwark_net::submission::label(*status),
            Err(_) => "unreachable",
        };
        metrics::counter!(names::OPERATOR_SUBMISSIONS, "status" => label).increment(1);
        if let Err(err) = &status {
            tracing::warn!(task = submission.task_id, endpoint, %err, "aggregator unreachable");
        }
        statuses.push(status);
    }
    statuses
}

/// Submits a response, retrying while the aggregator has not opened the task yet (it
/// may see the event a poll later than we do).
pub(crate) async fn submit_when_open(
    endpoint: &str,
    sub: &SignedResponse,
    backoff: &Backoff,
) -> Result<SubmissionStatus, client::ClientError> {
    let mut delay = Duration::from_millis(100);
    for _ in 0..20 {
        let (status, detail) = client::submit(endpoint, sub, backoff).await?;
        if status != SubmissionStatus::UnknownTask {
            tracing::debug!(task = sub.task_id, ?status, detail, "submitted");
            return Ok(status);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
    Ok(SubmissionStatus::UnknownTask)
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
                    for task in tasks {
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
