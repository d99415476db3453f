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
    /// The chain head as last polled: execution of a task stops once it passes the
    /// task's deadline block (see [`OperatorRuntime::respond`]).
    pub head: ChainHead,
    /// Tasks served at once, at most; a task arriving while all are busy is skipped
    /// (counted in `bulwark_operator_tasks_skipped_total`).
    pub max_in_flight: usize,
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
            head: ChainHead::default(),
            max_in_flight: DEFAULT_IN_FLIGHT,
        }
    }

    /// The same operator with `protection` (a file, so it survives restarts).
    pub fn with_protection(mut self, protection: std::sync::Arc<Protection>) -> Self {
        self.protection = protection;
        self
    }

    /// Executes, signs and submits one task; returns each aggregator's status (or the
    /// error that left it without one). `None` when the operator does not sign (input
    /// refused, execution failed, or execution still running when the chain head
    /// passed the task's deadline block: a response then could not land anyway).
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
        let execution = self
            .head
            .before_deadline(task.deadline_block, self.task.execute(input));
        let output = match execution.await {
            Some(Ok(output)) => output,
            Some(Err(err)) => {
                tracing::warn!(task = task.task_id, %err, "execution failed; not signing");
                return None;
            }
            None => {
                metrics::counter!(names::OPERATOR_DEADLINES).increment(1);
                tracing::warn!(
                    task = task.task_id,
                    deadline = task.deadline_block,
                    "execution passed the task's deadline; abandoned"
                );
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
        let follow = Follow {
            provider,
            avs,
            from_block,
            poll,
            health: self.health.clone(),
            head: self.head.clone(),
            max_in_flight: self.max_in_flight,
        };
        follow_tasks(follow, shutdown, |task| {
            let me = self.clone();
            async move {
                me.respond(&task).await;
            }
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

/// Tasks an operator serves at once by default.
pub const DEFAULT_IN_FLIGHT: usize = 64;

/// The chain head as the operator's follower last saw it, shared with the tasks it
/// serves so each can stop at its deadline block (blocks, not wall-clock time: the
/// deadline is a block number, and block times differ between chains).
#[derive(Clone, Debug)]
pub struct ChainHead(tokio::sync::watch::Sender<u64>);

impl Default for ChainHead {
    fn default() -> Self {
        Self(tokio::sync::watch::Sender::new(0))
    }
}

impl ChainHead {
    /// Records a newly polled head (never moves back: a lagging RPC node behind a
    /// load balancer must not revive a task already past its deadline).
    pub fn advance(&self, head: u64) {
        self.0.send_if_modified(|current| {
            let moved = head > *current;
            if moved {
                *current = head;
            }
            moved
        });
    }

    /// The head last recorded (0 before the first poll).
    pub fn get(&self) -> u64 {
        *self.0.borrow()
    }

    /// Runs `work` until it finishes or the head passes `deadline` (`None` then).
    pub async fn before_deadline<F: std::future::Future>(
        &self,
        deadline: u32,
        work: F,
    ) -> Option<F::Output> {
        let mut head = self.0.subscribe();
        let passed = async move {
            // `wait_for` fails only when the sender is gone, which it is not while
            // `self` lives; then the deadline cannot be observed and `work` runs on.
            if head.wait_for(|h| *h > u64::from(deadline)).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            output = work => Some(output),
            () = passed => None,
        }
    }
}

/// What [`follow_tasks`] follows and how.
pub(crate) struct Follow {
    pub provider: DynProvider,
    pub avs: Address,
    pub from_block: u64,
    pub poll: Duration,
    pub health: std::sync::Arc<Health>,
    pub head: ChainHead,
    pub max_in_flight: usize,
}

/// Polls the AVS for new tasks every `poll` from `from_block`, serving each with
/// `serve` on its own tokio task (at most `max_in_flight` at once), until `shutdown`
/// resolves; chain errors are counted and retried.
///
/// # Security
/// Anyone can create tasks on a permissionless AVS: without the bound, a burst of
/// tasks whose execution hangs (a slow HTTP source) would pile up tasks, sockets and
/// memory without limit. Over the bound, new tasks are skipped, not queued: a queue
/// would only serve them after their deadlines.
pub(crate) async fn follow_tasks<F, Fut>(
    follow: Follow,
    shutdown: impl std::future::Future<Output = ()>,
    mut serve: F,
) where
    F: FnMut(NewTask) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut follower = TaskFollower::new(follow.provider, follow.avs, follow.from_block);
    let mut serving = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(follow.poll);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            Some(_) = serving.join_next(), if !serving.is_empty() => {}
            _ = ticker.tick() => match follower.poll().await {
                Ok(super::follow::News { head, tasks, .. }) => {
                    follow.health.chain_ok(head);
                    follow.head.advance(head);
                    // A task past its deadline can no longer be answered: signing
                    // for it (again, after a restart) could only add risk.
                    for task in tasks.into_iter().filter(|t| u64::from(t.deadline_block) >= head) {
                        while serving.try_join_next().is_some() {}
                        if serving.len() >= follow.max_in_flight {
                            metrics::counter!(names::OPERATOR_SKIPPED).increment(1);
                            tracing::warn!(
                                task = task.task_id,
                                in_flight = serving.len(),
                                "too many tasks in flight; task skipped"
                            );
                            continue;
                        }
                        serving.spawn(serve(task));
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ChainHead;

    #[tokio::test]
    async fn work_stops_when_the_head_passes_the_deadline_not_at_it() {
        let head = ChainHead::default();
        let hanging = head.before_deadline(10, std::future::pending::<()>());
        let advancing = async {
            for block in [5, 10, 9, 11] {
                tokio::time::sleep(Duration::from_millis(5)).await;
                head.advance(block);
            }
        };
        let (outcome, ()) = tokio::join!(hanging, advancing);
        assert_eq!(outcome, None);
        // A lagging node's lower head does not move it back.
        assert_eq!(head.get(), 11);
        // Work that finishes before the deadline keeps its output.
        let head = ChainHead::default();
        head.advance(10);
        assert_eq!(head.before_deadline(10, async { 7 }).await, Some(7));
        // Past the deadline already: the work may still win the race if it is
        // ready at once, but never waits.
        let late = head.before_deadline(3, std::future::pending::<()>());
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(1), late).await,
            Ok(None)
        );
    }
}
