//! The operator's side: opens a session with an aggregator, submits signed responses
//! on it, retrying with exponential backoff while the aggregator is unreachable, and
//! returns its status.

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::{OperatorId, SignedReport, SignedResponse};
use bulwark_crypto::{Domain, SecretKey};

use tonic::transport::Channel;

use crate::proto::aggregator_client::AggregatorClient;
use crate::proto::{
    GetChallengeRequest, GetProposalRequest, OpenSessionReply, OpenSessionRequest, ProposalStatus,
    SessionStatus, SubmissionStatus, SubmitResponseReply,
};
use crate::session::session_message;
use crate::stream::{Refused, SubmissionStream};
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
    /// The aggregator answered the call with an error status.
    #[error("aggregator refused: {0}")]
    Refused(String),
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

/// The operator a connection opens sessions for.
struct Identity {
    operator: OperatorId,
    key: SecretKey,
}

/// One aggregator, connected on first use and reused: tonic's channel multiplexes
/// calls over one HTTP/2 connection and reconnects when it breaks, so a runtime keeps
/// one per aggregator rather than paying a handshake per call (an observer asks for
/// proposals every 50–500 ms). An operator's connection also keeps its session,
/// opened before the first submission and again whenever the aggregator no longer
/// knows it (restarted, or the session expired). Cheap to clone; clones share the
/// session.
#[derive(Clone)]
pub struct Connection {
    endpoint: String,
    /// The channel, or why the endpoint is unusable (reported by every call).
    channel: Result<Channel, String>,
    identity: Option<Arc<Identity>>,
    /// The open session's token; the lock also makes concurrent first submissions
    /// open one session between them, not one each.
    session: Arc<tokio::sync::Mutex<Option<Vec<u8>>>>,
    /// The submission stream, opened with the first submission.
    stream: Arc<std::sync::Mutex<Option<Arc<SubmissionStream>>>>,
    /// When the aggregator turned a stream down: submissions go call by call for a
    /// while.
    stream_refused: Arc<Refused>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .field("operator", &self.identity.as_ref().map(|i| i.operator))
            .finish_non_exhaustive()
    }
}

/// The attempts at opening a session before a submission gives up on it (a
/// challenge can go stale between asking and answering, e.g. across a restart).
const SESSION_ATTEMPTS: u32 = 3;

impl Connection {
    /// An anonymous connection to `endpoint` (e.g. `http://127.0.0.1:50051`), made
    /// lazily: it can ask for proposals, and its submissions carry no session (the
    /// aggregator answers them `UNAUTHENTICATED`). An invalid endpoint is reported by
    /// each call as [`ClientError::Endpoint`]. Must be called inside a tokio runtime.
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
            identity: None,
            session: Arc::new(tokio::sync::Mutex::new(None)),
            stream: Arc::default(),
            stream_refused: Arc::default(),
        }
    }

    /// A connection of `operator`, whose registered BLS key is `key`: it opens a
    /// session with the aggregator before its first submission or report.
    pub fn for_operator(endpoint: &str, operator: OperatorId, key: SecretKey) -> Self {
        Self {
            identity: Some(Arc::new(Identity { operator, key })),
            ..Self::new(endpoint)
        }
    }

    /// The operator this connection submits for, if any.
    pub fn operator(&self) -> Option<OperatorId> {
        self.identity.as_ref().map(|i| i.operator)
    }

    /// The open session's token: the one held, or a new one. An anonymous connection
    /// has none (an empty token). A refusal by the aggregator comes back as the
    /// status a submission would get for it (unknown operator, bad signature).
    async fn session(
        &self,
        backoff: &Backoff,
    ) -> Result<Result<Vec<u8>, (SubmissionStatus, String)>, ClientError> {
        let Some(identity) = &self.identity else {
            return Ok(Ok(Vec::new()));
        };
        let mut held = self.session.lock().await;
        if let Some(token) = &*held {
            return Ok(Ok(token.clone()));
        }
        let mut last = (SubmissionStatus::Unauthenticated, String::new());
        let mut delay = backoff.initial;
        for attempt in 0..SESSION_ATTEMPTS.max(backoff.attempts) {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(backoff.max);
            }
            let challenge = match self
                .call(backoff, |mut client| async move {
                    client.get_challenge(GetChallengeRequest {}).await
                })
                .await?
            {
                Ok(reply) => reply.challenge,
                Err(status) => return Ok(Err((SubmissionStatus::Unspecified, status.to_string()))),
            };
            let request = session_request(identity.operator, &identity.key, challenge);
            let reply = match self
                .call(backoff, |mut client| {
                    let request = request.clone();
                    async move { client.open_session(request).await }
                })
                .await?
            {
                Ok(reply) => reply,
                Err(status) => return Ok(Err((SubmissionStatus::Unspecified, status.to_string()))),
            };
            let status =
                SessionStatus::try_from(reply.status).unwrap_or(SessionStatus::Unspecified);
            match status {
                SessionStatus::Open => {
                    *held = Some(reply.token.clone());
                    return Ok(Ok(reply.token));
                }
                SessionStatus::StaleChallenge | SessionStatus::Unavailable => {
                    last = (SubmissionStatus::Unavailable, reply.detail);
                }
                SessionStatus::UnknownOperator => {
                    return Ok(Err((SubmissionStatus::UnknownOperator, reply.detail)));
                }
                SessionStatus::BadSignature => {
                    return Ok(Err((SubmissionStatus::BadSignature, reply.detail)));
                }
                SessionStatus::Malformed | SessionStatus::Unspecified => {
                    return Ok(Err((SubmissionStatus::Malformed, reply.detail)));
                }
            }
        }
        Ok(Err(last))
    }

    /// Sends a request in the operator's name with `send`, on the session; when the
    /// aggregator no longer knows the session, opens a new one and sends once more.
    async fn on_session<F, Fut>(
        &self,
        backoff: &Backoff,
        mut send: F,
    ) -> Result<(SubmissionStatus, String), ClientError>
    where
        F: FnMut(Vec<u8>) -> Fut,
        Fut: std::future::Future<Output = Result<(SubmissionStatus, String), ClientError>>,
    {
        let mut answer = (SubmissionStatus::Unauthenticated, String::new());
        for _ in 0..2 {
            let token = match self.session(backoff).await? {
                Ok(token) => token,
                Err(refused) => return Ok(refused),
            };
            answer = send(token.clone()).await?;
            if answer.0 != SubmissionStatus::Unauthenticated || self.identity.is_none() {
                break;
            }
            let mut held = self.session.lock().await;
            if held.as_ref() == Some(&token) {
                *held = None;
            }
        }
        Ok(answer)
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Submits `sub`: on the connection's submission stream when the aggregator
    /// takes one, else (or when the stream cannot carry it) as a call of its own. A
    /// status from the aggregator, whatever it is, ends the retries: only transport
    /// failures are retried.
    pub async fn submit(
        &self,
        sub: &SignedResponse,
        backoff: &Backoff,
    ) -> Result<(SubmissionStatus, String), ClientError> {
        let request = submission::encode(sub);
        self.on_session(backoff, |session| {
            let request = crate::proto::SubmitResponseRequest {
                session,
                ..request.clone()
            };
            async move {
                if let Some(stream) = self.submission_stream() {
                    if let Some(reply) = stream.send(request.clone()).await {
                        return Ok((
                            SubmissionStatus::try_from(reply.status)
                                .unwrap_or(SubmissionStatus::Unspecified),
                            reply.detail,
                        ));
                    }
                }
                let reply = self
                    .call(backoff, |mut client| {
                        let request = request.clone();
                        async move { client.submit_response(request).await }
                    })
                    .await?;
                Ok(answer_of(reply))
            }
        })
        .await
    }

    /// The submission stream: the open one, or a new one; none for an anonymous
    /// connection (no session to carry it) or shortly after the aggregator refused
    /// one.
    fn submission_stream(&self) -> Option<Arc<SubmissionStream>> {
        if self.identity.is_none() || self.stream_refused.recently() {
            return None;
        }
        let channel = self.channel.as_ref().ok()?;
        let mut held = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        match &*held {
            Some(stream) if !stream.is_closed() => Some(stream.clone()),
            _ => {
                let stream = Arc::new(SubmissionStream::start(
                    channel.clone(),
                    self.stream_refused.clone(),
                ));
                *held = Some(stream.clone());
                Some(stream)
            }
        }
    }

    /// Submits a two-phase task's report; retried like [`Connection::submit`].
    pub async fn submit_report(
        &self,
        report: &SignedReport,
        backoff: &Backoff,
    ) -> Result<(SubmissionStatus, String), ClientError> {
        let request = submission::encode_report(report);
        self.submit_with(
            backoff,
            |session| crate::proto::SubmitReportRequest {
                session,
                ..request.clone()
            },
            |mut client, request| async move { client.submit_report(request).await },
        )
        .await
    }

    /// Sends a submission of either kind on the session: `request` builds it for a
    /// session token and `send` makes the call, retried by [`Connection::call`]. One
    /// path for responses and reports, so both get the same session renewal and the
    /// same reading of the aggregator's answer.
    async fn submit_with<Q, R, S, Fut>(
        &self,
        backoff: &Backoff,
        request: R,
        send: S,
    ) -> Result<(SubmissionStatus, String), ClientError>
    where
        Q: Clone,
        R: Fn(Vec<u8>) -> Q,
        S: Fn(AggregatorClient<Channel>, Q) -> Fut,
        Fut: std::future::Future<
                Output = Result<tonic::Response<SubmitResponseReply>, tonic::Status>,
            >,
    {
        let send = &send;
        self.on_session(backoff, |session| {
            let request = request(session);
            async move {
                let reply = self
                    .call(backoff, |client| send(client, request.clone()))
                    .await?;
                Ok(answer_of(reply))
            }
        })
        .await
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

    /// The aggregator's evidence stream (`StreamEvidence`) after sequence `after`.
    pub async fn evidence(
        &self,
        after: u64,
        backoff: &Backoff,
    ) -> Result<tonic::Streaming<crate::proto::Evidence>, ClientError> {
        let reply = self
            .call(backoff, |mut client| async move {
                client
                    .stream_evidence(crate::proto::StreamEvidenceRequest { after })
                    .await
            })
            .await?;
        reply.map_err(|status| ClientError::Refused(status.to_string()))
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

/// Submits `sub` to the aggregator at `endpoint` over a connection (and session) of
/// its own, opened with `key`, the registered key of `sub.operator` (see
/// [`Connection`] to reuse one).
pub async fn submit(
    endpoint: &str,
    key: &SecretKey,
    sub: &SignedResponse,
    backoff: &Backoff,
) -> Result<(SubmissionStatus, String), ClientError> {
    Connection::for_operator(endpoint, sub.operator, key.clone())
        .submit(sub, backoff)
        .await
}

/// Submits a report to the aggregator at `endpoint` over a connection (and session)
/// of its own, opened with `key`, the registered key of `report.operator`.
pub async fn submit_report(
    endpoint: &str,
    key: &SecretKey,
    report: &SignedReport,
    backoff: &Backoff,
) -> Result<(SubmissionStatus, String), ClientError> {
    Connection::for_operator(endpoint, report.operator, key.clone())
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

/// The request that opens a session for `operator` on `challenge`, signed with `key`.
pub fn session_request(
    operator: OperatorId,
    key: &SecretKey,
    challenge: Vec<u8>,
) -> OpenSessionRequest {
    let signature = key.sign(&Domain::SIGNATURE, &session_message(&operator, &challenge));
    OpenSessionRequest {
        operator: operator.0.to_vec(),
        challenge,
        signature: signature.to_bytes().to_vec(),
    }
}

/// One attempt at opening a session for `operator` over a raw `client` (tools and
/// tests that speak the protocol themselves; [`Connection`] does this for
/// runtimes): asks for a challenge, signs it with `key`, returns the aggregator's
/// reply.
pub async fn open_session(
    client: &mut AggregatorClient<Channel>,
    operator: OperatorId,
    key: &SecretKey,
) -> Result<OpenSessionReply, tonic::Status> {
    let challenge = client
        .get_challenge(GetChallengeRequest {})
        .await?
        .into_inner()
        .challenge;
    Ok(client
        .open_session(session_request(operator, key, challenge))
        .await?
        .into_inner())
}

/// Whether `status` is the aggregator's answer, rather than the transport's failure
/// to get one (unavailable, or a broken connection, which tonic reports as `Unknown`
/// with the transport error as its source).
fn from_server(status: &tonic::Status) -> bool {
    let transport = std::error::Error::source(status)
        .is_some_and(|source| source.is::<tonic::transport::Error>());
    status.code() != tonic::Code::Unavailable && !transport
}

fn answer_of(reply: Result<SubmitResponseReply, tonic::Status>) -> (SubmissionStatus, String) {
    match reply {
        Ok(reply) => (
            SubmissionStatus::try_from(reply.status).unwrap_or(SubmissionStatus::Unspecified),
            reply.detail,
        ),
        Err(status) => (SubmissionStatus::Unspecified, status.to_string()),
    }
}
