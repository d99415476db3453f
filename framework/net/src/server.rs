//! The aggregator's gRPC server: decodes and checks submissions, hands them to a
//! [`SubmissionSink`] (the aggregator runtime, which drives the engine), and answers
//! with a status. Serves the gRPC health service alongside.

use std::net::SocketAddr;
use std::sync::Arc;

use bulwark_core::{Outcome, Rejection, SignedResponse};
use tonic::{Request, Response, Status};

use crate::proto::aggregator_server::{Aggregator, AggregatorServer};
use crate::proto::{SubmitResponseReply, SubmitResponseRequest};
use crate::submission;

/// Largest gRPC message accepted: a response of `max_response_bytes` plus the fixed
/// fields fits well within it; anything larger is refused by tonic before decoding.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Counter of submissions answered, labelled by reply `status` (every reason a
/// submission is refused, including those refused before reaching the sink).
pub const SUBMISSIONS_METRIC: &str = "bulwark_aggregator_submissions_total";

/// Where checked submissions go.
pub trait SubmissionSink: Send + Sync + 'static {
    /// Takes one submission; returns the engine's verdict.
    fn submit(
        &self,
        submission: SignedResponse,
    ) -> impl std::future::Future<Output = Result<Outcome, Rejection>> + Send;
}

/// The tonic service over a sink.
pub struct AggregatorService<S> {
    sink: Arc<S>,
    max_response_bytes: usize,
}

impl<S: SubmissionSink> AggregatorService<S> {
    /// A service handing submissions to `sink`.
    pub fn new(sink: Arc<S>, max_response_bytes: usize) -> Self {
        Self {
            sink,
            max_response_bytes,
        }
    }
}

#[tonic::async_trait]
impl<S: SubmissionSink> Aggregator for AggregatorService<S> {
    async fn submit_response(
        &self,
        request: Request<SubmitResponseRequest>,
    ) -> Result<Response<SubmitResponseReply>, Status> {
        let reply = match submission::decode(request.into_inner(), self.max_response_bytes) {
            Ok(sub) => submission::reply(&self.sink.submit(sub).await),
            Err(err) => submission::malformed(&err),
        };
        let status = crate::proto::SubmissionStatus::try_from(reply.status)
            .unwrap_or(crate::proto::SubmissionStatus::Unspecified);
        metrics::counter!(SUBMISSIONS_METRIC, "status" => submission::label(status)).increment(1);
        Ok(Response::new(reply))
    }
}

/// Serves the aggregator and health services on `listener` until `shutdown` resolves.
pub async fn serve<S: SubmissionSink>(
    listener: tokio::net::TcpListener,
    sink: Arc<S>,
    max_response_bytes: usize,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AggregatorServer<AggregatorService<S>>>()
        .await;
    let service = AggregatorServer::new(AggregatorService::new(sink, max_response_bytes))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(service)
        .serve_with_incoming_shutdown(tokio_stream_listener(listener), shutdown)
        .await
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
