//! The aggregator's gRPC server: decodes and checks submissions, hands them to a
//! [`SubmissionSink`] (the aggregator runtime, which drives the engine), and answers
//! with a status. Serves the gRPC health service alongside.
//!
//! # Security
//! Anyone who can reach the port can call it, with any bytes, as fast as they like.
//! - Assumed: nothing about the caller. The `operator` field of a request is a claim:
//!   it must ride on a session that operator opened by signing a challenge
//!   ([`crate::session`]), checked first, by a map lookup, so a request in someone
//!   else's name costs no decoding and no pairing; the request's own signature is
//!   then proven by the engine, and no answer here binds the operator.
//! - Checked here: the session, message size (tonic refuses more than [`MAX_MESSAGE_BYTES`] before
//!   decoding), field lengths, digest = keccak256(response), the signature a
//!   subgroup point ([`crate::submission`]); a request that fails any is answered
//!   `MALFORMED`, never with a panic or a dropped connection.
//! - Bounded ([`ServerLimits`]): session openings checked at once (each costs a
//!   pairing, in a lane of its own, so a flood of forged openings never slows
//!   submissions on open sessions), requests in the sink at once (the rest wait, then
//!   are answered `UNAVAILABLE`, which clients retry), concurrent HTTP/2 streams and
//!   in-flight requests per connection, and a timeout per request; so a flood costs
//!   the server a fixed number of sink slots, not unbounded tasks.
//! - Submission streams (`SubmitResponses`) check every request as a call is checked;
//!   the first must ride on an open session within [`FIRST_REQUEST_WAIT`], all carry
//!   that one operator's name (another ends the stream), and an operator holds at
//!   most [`MAX_STREAMS_PER_OPERATOR`]. A client that stops reading its replies stops
//!   its own stream (bounded buffer), nobody else's.
//! - Evidence streams ([`crate::evidence`]) need no session (evidence is public and
//!   checked by whoever uses it); at most [`MAX_EVIDENCE_STREAMS`] at once.
//! - What an attacker can still do: hold the session lane busy with forged openings
//!   (operators without a session then wait or retry; open sessions are untouched);
//!   as a registered operator, use its own session's share of the sink slots (the
//!   engine bounds what its bad signatures cost); and open many connections (each bounded, their number is
//!   not: put the port behind a firewall or a proxy for that).

use std::net::SocketAddr;
use std::sync::Arc;

use bulwark_core::{
    OperatorId, Outcome, Rejection, ReportOutcome, ReportRejection, SignedReport, SignedResponse,
};
use bulwark_crypto::{Domain, PublicKey, Signature};
use tonic::{Request, Response, Status};

use crate::evidence::EvidenceLog;
use crate::proto::aggregator_server::{Aggregator, AggregatorServer};
use crate::proto::{
    Evidence, GetChallengeReply, GetChallengeRequest, GetProposalReply, GetProposalRequest,
    OpenSessionReply, OpenSessionRequest, ProposalStatus, SessionStatus, StreamEvidenceRequest,
    SubmissionStatus, SubmitReportRequest, SubmitResponseReply, SubmitResponseRequest,
    SubmitResponsesReply,
};
use crate::session::{ChallengeError, SessionError, Sessions, session_message};
use crate::submission;

/// Largest gRPC message accepted: a response of `max_response_bytes` plus the fixed
/// fields fits well within it; anything larger is refused by tonic before decoding.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Counter of submissions answered, labelled by reply `status` (every reason a
/// submission is refused, including those refused before reaching the sink).
pub const SUBMISSIONS_METRIC: &str = "bulwark_aggregator_submissions_total";

/// Counter of reports answered (two-phase tasks), labelled by reply `status`.
pub const REPORTS_METRIC: &str = "bulwark_aggregator_reports_total";

/// Counter of session openings answered, labelled by reply `status`.
pub const SESSIONS_METRIC: &str = "bulwark_aggregator_sessions_total";

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
    /// No randomness for the session secret.
    #[error("no randomness for the session secret: {0}")]
    Random(#[from] getrandom::Error),
}

/// Limits on what one server takes on at once.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Requests handled by the sink at once, across all connections.
    pub max_in_flight: usize,
    /// How long a request waits for a slot before it is answered `UNAVAILABLE`.
    pub queue_timeout: std::time::Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Requests in flight per connection.
    pub per_connection: usize,
    /// Longest a request may take end to end.
    pub request_timeout: std::time::Duration,
    /// Session openings checked at once (one pairing each), across all connections.
    pub session_checks: usize,
    /// How long a session lasts before its operator must open another.
    pub session_ttl: std::time::Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            queue_timeout: std::time::Duration::from_secs(2),
            max_concurrent_streams: 64,
            per_connection: 32,
            request_timeout: std::time::Duration::from_secs(10),
            session_checks: 2,
            session_ttl: std::time::Duration::from_secs(3600),
        }
    }
}

/// Where a two-phase task's proposal stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalState {
    /// The proposed response.
    Ready(Vec<u8>),
    /// Still collecting reports.
    Pending,
    /// No such two-phase task is open.
    UnknownTask,
    /// No proposal could be made, and why.
    Failed(String),
}

/// Where checked submissions go.
pub trait SubmissionSink: Send + Sync + 'static {
    /// The registered BLS key of `operator`, which opens its sessions; `None` when the
    /// sink knows no such operator (yet).
    fn operator_key(
        &self,
        operator: OperatorId,
    ) -> impl std::future::Future<Output = Option<PublicKey>> + Send;

    /// Takes one submission; returns the engine's verdict.
    fn submit(
        &self,
        submission: SignedResponse,
    ) -> impl std::future::Future<Output = Result<Outcome, Rejection>> + Send;

    /// Takes one report of a two-phase task. Sinks without two-phase tasks know no
    /// task to report on.
    fn submit_report(
        &self,
        report: SignedReport,
    ) -> impl std::future::Future<Output = Result<ReportOutcome, ReportRejection>> + Send {
        async move { Err(ReportRejection::UnknownTask(report.task_id)) }
    }

    /// The proposal of a two-phase task.
    fn proposal(&self, task_id: u64) -> impl std::future::Future<Output = ProposalState> + Send {
        let _ = task_id;
        async { ProposalState::UnknownTask }
    }

    /// The evidence this sink keeps for challengers, if any.
    fn evidence(&self) -> Option<Arc<EvidenceLog>> {
        None
    }
}

/// The tonic service over a sink.
pub struct AggregatorService<S> {
    sink: Arc<S>,
    max_response_bytes: usize,
    slots: Arc<tokio::sync::Semaphore>,
    session_slots: Arc<tokio::sync::Semaphore>,
    queue_timeout: std::time::Duration,
    sessions: Arc<Sessions>,
    evidence_streams: Arc<tokio::sync::Semaphore>,
    /// Submission streams held, per operator.
    streams: Arc<std::sync::Mutex<std::collections::HashMap<Vec<u8>, usize>>>,
    /// Turns true when the server shuts down: open evidence streams end then, or a
    /// graceful shutdown would wait for challengers to hang up.
    closing: tokio::sync::watch::Receiver<bool>,
}

/// Evidence streams served at once; more are refused (`RESOURCE_EXHAUSTED`).
pub const MAX_EVIDENCE_STREAMS: usize = 16;

/// Submission streams (`SubmitResponses`) one operator holds at once; more are
/// refused (`RESOURCE_EXHAUSTED`), so a registered operator cannot take more than its
/// share of the server's tasks this way. Strangers hold none past
/// [`FIRST_REQUEST_WAIT`]: the first request must ride on an open session.
pub const MAX_STREAMS_PER_OPERATOR: usize = 2;

/// How long a new submission stream may wait for its first request.
pub const FIRST_REQUEST_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Replies a submission stream buffers for a client that reads them slowly.
const STREAM_REPLIES_BUFFERED: usize = 64;

/// Resolves once the server shuts down (`closing` turns true); a stream ends then.
async fn shut_down(closing: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

/// One operator's hold on a submission stream; released when dropped.
struct StreamSlot {
    streams: Arc<std::sync::Mutex<std::collections::HashMap<Vec<u8>, usize>>>,
    operator: Vec<u8>,
}

impl StreamSlot {
    fn take(
        streams: &Arc<std::sync::Mutex<std::collections::HashMap<Vec<u8>, usize>>>,
        operator: &[u8],
    ) -> Option<Self> {
        let mut held = streams.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(operator.to_vec()).or_insert(0);
        if *count >= MAX_STREAMS_PER_OPERATOR {
            return None;
        }
        *count += 1;
        Some(Self {
            streams: streams.clone(),
            operator: operator.to_vec(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut held = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.operator) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.operator);
            }
        }
    }
}

impl<S> Clone for AggregatorService<S> {
    fn clone(&self) -> Self {
        Self {
            sink: self.sink.clone(),
            max_response_bytes: self.max_response_bytes,
            slots: self.slots.clone(),
            session_slots: self.session_slots.clone(),
            queue_timeout: self.queue_timeout,
            sessions: self.sessions.clone(),
            evidence_streams: self.evidence_streams.clone(),
            streams: self.streams.clone(),
            closing: self.closing.clone(),
        }
    }
}

impl<S: SubmissionSink> AggregatorService<S> {
    /// A service handing submissions to `sink`, with the default limits.
    pub fn new(sink: Arc<S>, max_response_bytes: usize) -> Result<Self, ServeError> {
        Self::with_limits(sink, max_response_bytes, &ServerLimits::default())
    }

    /// A service handing submissions to `sink`, at most `limits.max_in_flight` at once.
    pub fn with_limits(
        sink: Arc<S>,
        max_response_bytes: usize,
        limits: &ServerLimits,
    ) -> Result<Self, ServeError> {
        Ok(Self {
            sink,
            max_response_bytes,
            slots: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight.max(1))),
            session_slots: Arc::new(tokio::sync::Semaphore::new(limits.session_checks.max(1))),
            queue_timeout: limits.queue_timeout,
            sessions: Arc::new(Sessions::new(limits.session_ttl)?),
            evidence_streams: Arc::new(tokio::sync::Semaphore::new(MAX_EVIDENCE_STREAMS)),
            streams: Arc::default(),
            closing: tokio::sync::watch::channel(false).1,
        })
    }

    /// Ends open evidence streams when `closing` turns true.
    pub fn closing_on(mut self, closing: tokio::sync::watch::Receiver<bool>) -> Self {
        self.closing = closing;
        self
    }

    /// The service's sessions.
    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    /// A slot in the sink, or the reply for a request that waited too long for one.
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SubmitResponseReply> {
        match tokio::time::timeout(self.queue_timeout, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(SubmitResponseReply {
                status: SubmissionStatus::Unavailable as i32,
                detail: "the aggregator is busy; retry".into(),
            }),
        }
    }

    /// Refuses a request that no open session of `operator` carries.
    fn authenticate(&self, session: &[u8], operator: &[u8]) -> Result<(), SubmitResponseReply> {
        if self.sessions.admits(session, operator) {
            Ok(())
        } else {
            Err(SubmitResponseReply {
                status: SubmissionStatus::Unauthenticated as i32,
                detail: "no open session of this operator carries the request; open one".into(),
            })
        }
    }

    /// Authenticates, decodes and hands one submission to the sink; the reply, with
    /// its status counted.
    async fn take_submission(&self, request: SubmitResponseRequest) -> SubmitResponseReply {
        let reply = match self.authenticate(&request.session, &request.operator) {
            Err(refused) => refused,
            Ok(()) => match submission::decode(request, self.max_response_bytes) {
                Ok(sub) => match self.slot().await {
                    Ok(_permit) => submission::reply(&self.sink.submit(sub).await),
                    Err(busy) => busy,
                },
                Err(err) => submission::malformed(&err),
            },
        };
        let status =
            SubmissionStatus::try_from(reply.status).unwrap_or(SubmissionStatus::Unspecified);
        metrics::counter!(SUBMISSIONS_METRIC, "status" => submission::label(status)).increment(1);
        reply
    }

    /// Checks an opening and opens the session: the challenge first (a MAC), then the
    /// key (a lookup), then, in the session lane, the signature (a pairing).
    async fn open(&self, request: OpenSessionRequest) -> (SessionStatus, Vec<u8>, String) {
        let Ok(operator) = <[u8; 20]>::try_from(request.operator.as_slice()) else {
            return (
                SessionStatus::Malformed,
                Vec::new(),
                format!("operator must be 20 bytes, got {}", request.operator.len()),
            );
        };
        let operator = OperatorId(operator);
        let challenge = match self.sessions.check_challenge(&request.challenge) {
            Ok(challenge) => challenge,
            Err(ChallengeError::Length(_)) => {
                return (
                    SessionStatus::Malformed,
                    Vec::new(),
                    ChallengeError::Length(request.challenge.len()).to_string(),
                );
            }
            Err(err) => return (SessionStatus::StaleChallenge, Vec::new(), err.to_string()),
        };
        let Some(key) = self.sink.operator_key(operator).await else {
            return (
                SessionStatus::UnknownOperator,
                Vec::new(),
                format!(
                    "no registered key known for operator 0x{}",
                    hex(&operator.0)
                ),
            );
        };
        let Ok(Ok(_slot)) =
            tokio::time::timeout(self.queue_timeout, self.session_slots.acquire()).await
        else {
            return (
                SessionStatus::Unavailable,
                Vec::new(),
                "too many session checks at once; retry".into(),
            );
        };
        let signature = request.signature;
        let checked = tokio::task::spawn_blocking(move || {
            let signature = Signature::from_bytes(&signature).map_err(|e| e.to_string())?;
            key.verify(
                &Domain::SIGNATURE,
                &session_message(&operator, &challenge),
                &signature,
            )
            .map_err(|e| e.to_string())
        })
        .await;
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return (SessionStatus::BadSignature, Vec::new(), why),
            Err(_) => {
                return (
                    SessionStatus::Unavailable,
                    Vec::new(),
                    "session check interrupted; retry".into(),
                );
            }
        }
        match self.sessions.open(operator, challenge) {
            Ok(token) => (
                SessionStatus::Open,
                token.to_vec(),
                format!("session open for 0x{}", hex(&operator.0)),
            ),
            Err(SessionError::Challenge(err)) => {
                (SessionStatus::StaleChallenge, Vec::new(), err.to_string())
            }
            Err(err @ SessionError::Random(_)) => {
                (SessionStatus::Unavailable, Vec::new(), err.to_string())
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short lowercase name for a session status, for metric labels.
fn session_label(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Unspecified => "unspecified",
        SessionStatus::Open => "open",
        SessionStatus::UnknownOperator => "unknown_operator",
        SessionStatus::BadSignature => "bad_signature",
        SessionStatus::StaleChallenge => "stale_challenge",
        SessionStatus::Malformed => "malformed",
        SessionStatus::Unavailable => "unavailable",
    }
}

#[tonic::async_trait]
impl<S: SubmissionSink> Aggregator for AggregatorService<S> {
    async fn get_challenge(
        &self,
        _request: Request<GetChallengeRequest>,
    ) -> Result<Response<GetChallengeReply>, Status> {
        let challenge = self
            .sessions
            .challenge()
            .map_err(|e| Status::unavailable(format!("no randomness for a challenge: {e}")))?;
        Ok(Response::new(GetChallengeReply {
            challenge: challenge.to_vec(),
        }))
    }

    async fn open_session(
        &self,
        request: Request<OpenSessionRequest>,
    ) -> Result<Response<OpenSessionReply>, Status> {
        let (status, token, detail) = self.open(request.into_inner()).await;
        metrics::counter!(SESSIONS_METRIC, "status" => session_label(status)).increment(1);
        let ttl_seconds = if token.is_empty() {
            0
        } else {
            self.sessions.ttl().as_secs()
        };
        Ok(Response::new(OpenSessionReply {
            status: status as i32,
            token,
            ttl_seconds,
            detail,
        }))
    }

    async fn submit_response(
        &self,
        request: Request<SubmitResponseRequest>,
    ) -> Result<Response<SubmitResponseReply>, Status> {
        Ok(Response::new(
            self.take_submission(request.into_inner()).await,
        ))
    }

    type SubmitResponsesStream =
        tokio_stream::wrappers::ReceiverStream<Result<SubmitResponsesReply, Status>>;

    async fn submit_responses(
        &self,
        request: Request<tonic::Streaming<SubmitResponseRequest>>,
    ) -> Result<Response<Self::SubmitResponsesStream>, Status> {
        let mut inbound = request.into_inner();
        // The first request names the stream's operator; until it comes, the stream
        // holds nothing but its own task.
        let first = match tokio::time::timeout(FIRST_REQUEST_WAIT, inbound.message()).await {
            Ok(Ok(Some(first))) => first,
            Ok(Ok(None)) => return Err(Status::invalid_argument("the stream carried no request")),
            Ok(Err(status)) => return Err(status),
            Err(_) => {
                return Err(Status::deadline_exceeded(format!(
                    "no request within {} s of opening the stream",
                    FIRST_REQUEST_WAIT.as_secs()
                )));
            }
        };
        if let Err(refused) = self.authenticate(&first.session, &first.operator) {
            return Err(Status::unauthenticated(refused.detail));
        }
        let operator = first.operator.clone();
        let Some(held) = StreamSlot::take(&self.streams, &operator) else {
            return Err(Status::resource_exhausted(format!(
                "this operator already holds {MAX_STREAMS_PER_OPERATOR} submission streams; use SubmitResponse"
            )));
        };
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_REPLIES_BUFFERED);
        let this = self.clone();
        tokio::spawn(async move {
            let _held = held;
            let mut closing = this.closing.clone();
            let mut next = Some(first);
            loop {
                let request = match next.take() {
                    Some(request) => request,
                    None => {
                        let closed = shut_down(&mut closing);
                        tokio::select! {
                            message = inbound.message() => match message {
                                Ok(Some(request)) => request,
                                // The client hung up, or sent what does not decode
                                // (tonic refused it: too large, not protobuf).
                                _ => return,
                            },
                            _ = closed => return,
                        }
                    }
                };
                if request.operator != operator {
                    let _ = tx
                        .send(Err(Status::invalid_argument(
                            "a submission stream carries one operator's requests",
                        )))
                        .await;
                    return;
                }
                let task_id = request.task_id;
                let reply = this.take_submission(request).await;
                let reply = SubmitResponsesReply {
                    task_id,
                    status: reply.status,
                    detail: reply.detail,
                };
                // A client that stops reading stops its own stream: the buffer fills
                // and this waits, reading nothing more from it; never past shutdown.
                let closed = shut_down(&mut closing);
                tokio::select! {
                    sent = tx.send(Ok(reply)) => if sent.is_err() { return },
                    _ = closed => return,
                }
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn submit_report(
        &self,
        request: Request<SubmitReportRequest>,
    ) -> Result<Response<SubmitResponseReply>, Status> {
        let request = request.into_inner();
        let reply = match self.authenticate(&request.session, &request.operator) {
            Err(refused) => refused,
            Ok(()) => match submission::decode_report(request, self.max_response_bytes) {
                Ok(report) => match self.slot().await {
                    Ok(_permit) => submission::report_reply(&self.sink.submit_report(report).await),
                    Err(busy) => busy,
                },
                Err(err) => submission::malformed(&err),
            },
        };
        let status =
            SubmissionStatus::try_from(reply.status).unwrap_or(SubmissionStatus::Unspecified);
        metrics::counter!(REPORTS_METRIC, "status" => submission::label(status)).increment(1);
        Ok(Response::new(reply))
    }

    type StreamEvidenceStream = tokio_stream::wrappers::ReceiverStream<Result<Evidence, Status>>;

    async fn stream_evidence(
        &self,
        request: Request<StreamEvidenceRequest>,
    ) -> Result<Response<Self::StreamEvidenceStream>, Status> {
        let log = self
            .sink
            .evidence()
            .ok_or_else(|| Status::unimplemented("this aggregator keeps no evidence"))?;
        let permit = self
            .evidence_streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| Status::resource_exhausted("too many evidence streams; retry later"))?;
        let mut after = request.into_inner().after;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut closing = self.closing.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut changes = log.subscribe();
            let run = log.run().to_vec();
            loop {
                // Marked seen before reading, so a push in between wakes us below.
                changes.borrow_and_update();
                for item in log.since(after) {
                    after = item.sequence;
                    let message = Evidence {
                        sequence: item.sequence,
                        task_id: item.task_id,
                        offence: item.offence.to_vec(),
                        operator: item.operator.to_vec(),
                        evidence: item.evidence,
                        run: run.clone(),
                    };
                    // A challenger that stops reading holds this stream, never
                    // the server's shutdown.
                    let closed = shut_down(&mut closing);
                    tokio::select! {
                        sent = tx.send(Ok(message)) => if sent.is_err() { return },
                        _ = closed => return,
                    }
                }
                let closed = shut_down(&mut closing);
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                    _ = closed => return,
                }
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn get_proposal(
        &self,
        request: Request<GetProposalRequest>,
    ) -> Result<Response<GetProposalReply>, Status> {
        let task_id = request.into_inner().task_id;
        let (status, response, detail) = match self.sink.proposal(task_id).await {
            ProposalState::Ready(response) => (ProposalStatus::Ready, response, String::new()),
            ProposalState::Pending => (
                ProposalStatus::Pending,
                Vec::new(),
                "collecting reports".into(),
            ),
            ProposalState::UnknownTask => (
                ProposalStatus::UnknownTask,
                Vec::new(),
                format!("no two-phase task {task_id} is open"),
            ),
            ProposalState::Failed(why) => (ProposalStatus::Failed, Vec::new(), why),
        };
        Ok(Response::new(GetProposalReply {
            status: status as i32,
            response,
            detail,
        }))
    }
}

/// Serves the aggregator and health services on `listener` until `shutdown` resolves,
/// with the default [`ServerLimits`].
pub async fn serve<S: SubmissionSink>(
    listener: tokio::net::TcpListener,
    sink: Arc<S>,
    max_response_bytes: usize,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    serve_with_limits(
        listener,
        sink,
        max_response_bytes,
        ServerLimits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with explicit limits.
pub async fn serve_with_limits<S: SubmissionSink>(
    listener: tokio::net::TcpListener,
    sink: Arc<S>,
    max_response_bytes: usize,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AggregatorServer<AggregatorService<S>>>()
        .await;
    let (close, closing) = tokio::sync::watch::channel(false);
    let service = AggregatorServer::new(
        AggregatorService::with_limits(sink, max_response_bytes, &limits)?.closing_on(closing),
    )
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let shutdown = async move {
        shutdown.await;
        let _ = close.send(true);
    };
    tonic::transport::Server::builder()
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        .concurrency_limit_per_connection(limits.per_connection)
        .timeout(limits.request_timeout)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(health_service)
        .add_service(service)
        .serve_with_incoming_shutdown(tokio_stream_listener(listener), shutdown)
        .await?;
    Ok(())
}

fn tokio_stream_listener(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    tokio_stream::wrappers::TcpListenerStream::new(listener)
}

/// Binds 127.0.0.1 on a free port (tests, devnets).
pub async fn bind_loopback() -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
