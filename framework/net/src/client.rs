//! The operator's side: submits signed responses to an aggregator, retrying with
//! exponential backoff while the aggregator is unreachable, and returning its status.

use std::time::Duration;

use bulwark_core::{SignedReport, SignedResponse};

use tonic::transport::Channel;

use crate::proto::aggregator_client::AggregatorClient;
use crate::proto::{GetProposalRequest, ProposalStatus, SubmissionStatus, SubmitResponseReply};
use crate::submission;

/// Retry policy for one submission.
#[derive(Clone, Debug)]
pub struct Backoff {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 6,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

/// Why a submission got no status from the aggregator.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a valid URI.
    #[error("invalid aggregator endpoint {0}: {1}")]
    Endpoint(String, String),
    /// Every attempt failed to reach the aggregator.
    #[error("aggregator {endpoint} unreachable after {attempts} attempts: {last}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
}

/// One aggregator, connected on first use and reused: tonic's channel multiplexes
/// calls over one HTTP/2 connection and reconnects when it breaks, so a runtime keeps
/// one per aggregator rather than paying a handshake per call (an observer asks for
/// proposals every 50–500 ms). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Connection {
    endpoint: String,
    /// The channel, or why the endpoint is unusable (reported by every call).
    channel: Result<Channel, String>,
}

impl Connection {
    /// A connection to `endpoint` (e.g. `http://127.0.0.1:50051`), made lazily; an
    /// invalid endpoint is reported by each call as [`ClientError::Endpoint`]. Must be
    /// called inside a tokio runtime.
    pub fn new(endpoint: &str) -> Self {
        let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
            .map(|e| {
                e.connect_timeout(Duration::from_secs(2))
                    .timeout(Duration::from_secs(10))
                    .connect_lazy()
            })
            .map_err(|e| e.to_string());
        Self {
            endpoint: endpoint.to_string(),
            channel,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Submits `sub`. A status from the aggregator, whatever it is, ends the
    /// retries: only transport failures are retried.
    pub async fn submit(
        &self,
        sub: &SignedResponse,
        backoff: &Backoff,
    ) -> Result<(SubmissionStatus, String), ClientError> {
        let request = submission::encode(sub);
        let reply = self
            .call(backoff, |mut client| {
                let request = request.clone();
                async move { client.submit_response(request).await }
            })
            .await?;
        Ok(match reply {
            Ok(reply) => status_of(reply),
            Err(status) => (SubmissionStatus::Unspecified, status.to_string()),
        })
    }

    /// Submits a two-phase task's report; retried like [`Connection::submit`].
    pub async fn submit_report(
        &self,
        report: &SignedReport,
        backoff: &Backoff,
    ) -> Result<(SubmissionStatus, String), ClientError> {
        let request = submission::encode_report(report);
        let reply = self
            .call(backoff, |mut client| {
                let request = request.clone();
                async move { client.submit_report(request).await }
            })
            .await?;
        Ok(match reply {
            Ok(reply) => status_of(reply),
            Err(status) => (SubmissionStatus::Unspecified, status.to_string()),
        })
    }

    /// Asks for a two-phase task's proposal: its status, the response when ready,
    /// and the aggregator's explanation.
    pub async fn proposal(
        &self,
        task_id: u64,
        backoff: &Backoff,
    ) -> Result<(ProposalStatus, Vec<u8>, String), ClientError> {
        let reply = self
            .call(backoff, |mut client| async move {
                client.get_proposal(GetProposalRequest { task_id }).await
            })
            .await?;
        Ok(match reply {
            Ok(reply) => (
                ProposalStatus::try_from(reply.status).unwrap_or(ProposalStatus::Unspecified),
                reply.response,
                reply.detail,
            ),
            Err(status) => (ProposalStatus::Unspecified, Vec::new(), status.to_string()),
        })
    }

    /// Runs one call, retrying with `backoff` while the aggregator is unreachable,
    /// unavailable, or the connection broke under the call (a restarted aggregator:
    /// the channel reconnects on the next try; every call is idempotent, a resent
    /// submission is a duplicate). Any other answer, including an error status, ends
    /// it.
    async fn call<R, F, Fut>(
        &self,
        backoff: &Backoff,
        mut call: F,
    ) -> Result<Result<R, tonic::Status>, ClientError>
    where
        F: FnMut(AggregatorClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let channel = self
            .channel
            .as_ref()
            .map_err(|e| ClientError::Endpoint(self.endpoint.clone(), e.clone()))?;
        let mut delay = backoff.initial;
        let mut last = String::new();
        let attempts = backoff.attempts.max(1);
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(backoff.max);
            }
            match call(AggregatorClient::new(channel.clone())).await {
                Ok(reply) => return Ok(Ok(reply.into_inner())),
                Err(status) if !from_server(&status) => last = status.to_string(),
                Err(status) => return Ok(Err(status)),
            }
        }
        Err(ClientError::Unreachable {
            endpoint: self.endpoint.clone(),
            attempts,
            last,
        })
    }
}

/// Submits `sub` to the aggregator at `endpoint` over a connection of its own (see
/// [`Connection`] to reuse one).
pub async fn submit(
    endpoint: &str,
    sub: &SignedResponse,
    backoff: &Backoff,
) -> Result<(SubmissionStatus, String), ClientError> {
    Connection::new(endpoint).submit(sub, backoff).await
}

/// Submits a report to the aggregator at `endpoint` over a connection of its own.
pub async fn submit_report(
    endpoint: &str,
    report: &SignedReport,
    backoff: &Backoff,
) -> Result<(SubmissionStatus, String), ClientError> {
    Connection::new(endpoint)
        .submit_report(report, backoff)
        .await
}

/// Asks the aggregator at `endpoint` for a proposal over a connection of its own.
pub async fn proposal(
    endpoint: &str,
    task_id: u64,
    backoff: &Backoff,
) -> Result<(ProposalStatus, Vec<u8>, String), ClientError> {
    Connection::new(endpoint).proposal(task_id, backoff).await
}

/// Whether `status` is the aggregator's answer, rather than the transport's failure
/// to get one (unavailable, or a broken connection, which tonic reports as `Unknown`
/// with the transport error as its source).
fn from_server(status: &tonic::Status) -> bool {
    let transport = std::error::Error::source(status)
        .is_some_and(|source| source.is::<tonic::transport::Error>());
    status.code() != tonic::Code::Unavailable && !transport
}

fn status_of(reply: SubmitResponseReply) -> (SubmissionStatus, String) {
    (
        SubmissionStatus::try_from(reply.status).unwrap_or(SubmissionStatus::Unspecified),
        reply.detail,
    )
}
