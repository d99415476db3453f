//! The operator's side: submits signed responses to an aggregator, retrying with
//! exponential backoff while the aggregator is unreachable, and returning its status.

use std::time::Duration;

use bulwark_core::SignedResponse;

use crate::proto::aggregator_client::AggregatorClient;
use crate::proto::{SubmissionStatus, SubmitResponseReply};
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
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| ClientError::Endpoint(endpoint.to_string(), e.to_string()))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10));
    let request = submission::encode(sub);
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
        match AggregatorClient::new(conn)
            .submit_response(request.clone())
            .await
        {
            Ok(reply) => return Ok(status_of(reply.into_inner())),
            Err(status) if status.code() == tonic::Code::Unavailable => last = status.to_string(),
            Err(status) => return Ok((SubmissionStatus::Unspecified, status.to_string())),
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
