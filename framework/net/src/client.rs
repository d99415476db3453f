//! The operator's side: submits signed responses to an aggregator, retrying with
//! exponential backoff while the aggregator is unreachable, and returning its status.

use std::time::Duration;

use bulwark_core::{SignedReport, SignedResponse};

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

/// Submits `sub` to the aggregator at `endpoint` (e.g. `http://127.0.0.1:50051`).
/// A status from the aggregator, whatever it is, ends the retries: only transport
/// failures are retried.
pub async fn submit(
    endpoint: &str,
    sub: &SignedResponse,
    backoff: &Backoff,
) -> Result<(SubmissionStatus, String), ClientError> {
    let request = submission::encode(sub);
    let reply = call(endpoint, backoff, |mut client| {
        let request = request.clone();
        async move { client.submit_response(request).await }
    })
    .await?;
    Ok(match reply {
        Ok(reply) => status_of(reply),
        Err(status) => (SubmissionStatus::Unspecified, status.to_string()),
    })
}

/// Submits a two-phase task's report; retried like [`submit`].
pub async fn submit_report(
    endpoint: &str,
    report: &SignedReport,
    backoff: &Backoff,
) -> Result<(SubmissionStatus, String), ClientError> {
    let request = submission::encode_report(report);
    let reply = call(endpoint, backoff, |mut client| {
        let request = request.clone();
        async move { client.submit_report(request).await }
    })
    .await?;
    Ok(match reply {
        Ok(reply) => status_of(reply),
        Err(status) => (SubmissionStatus::Unspecified, status.to_string()),
    })
}

/// Asks for a two-phase task's proposal: its status, the response when ready, and
/// the aggregator's explanation.
pub async fn proposal(
    endpoint: &str,
    task_id: u64,
    backoff: &Backoff,
) -> Result<(ProposalStatus, Vec<u8>, String), ClientError> {
    let reply = call(endpoint, backoff, |mut client| async move {
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

/// Runs one call against `endpoint`, retrying with `backoff` while the aggregator is
/// unreachable or unavailable. Any other answer, including an error status, ends it.
async fn call<R, F, Fut>(
    endpoint: &str,
    backoff: &Backoff,
    mut call: F,
) -> Result<Result<R, tonic::Status>, ClientError>
where
    F: FnMut(AggregatorClient<tonic::transport::Channel>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
{
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| ClientError::Endpoint(endpoint.to_string(), e.to_string()))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10));
    let mut delay = backoff.initial;
    let mut last = String::new();
    let attempts = backoff.attempts.max(1);
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(backoff.max);
        }
        let conn = match channel.connect().await {
            Ok(conn) => conn,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        match call(AggregatorClient::new(conn)).await {
            Ok(reply) => return Ok(Ok(reply.into_inner())),
            Err(status) if status.code() == tonic::Code::Unavailable => last = status.to_string(),
            Err(status) => return Ok(Err(status)),
        }
    }
    Err(ClientError::Unreachable {
        endpoint: endpoint.to_string(),
        attempts,
        last,
    })
}

fn status_of(reply: SubmitResponseReply) -> (SubmissionStatus, String) {
    (
        SubmissionStatus::try_from(reply.status).unwrap_or(SubmissionStatus::Unspecified),
        reply.detail,
    )
}
