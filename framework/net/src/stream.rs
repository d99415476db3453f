//! The operator's side of `SubmitResponses`: one long-lived stream per connection
//! carries its submissions and brings their replies back in order, so the aggregator
//! pays for one HTTP/2 stream instead of one per signature.
//!
//! The stream is a fast path, never the only one: when it cannot carry a request
//! (the aggregator refuses streams, the stream broke, a reply is late), the caller
//! gets `None` and sends the request as a call of its own. A request sent both ways
//! is a duplicate to the aggregator, never a second vote.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tonic::transport::Channel;

use crate::proto::aggregator_client::AggregatorClient;
use crate::proto::{SubmitResponseRequest, SubmitResponsesReply};

/// How long a caller waits for its reply on the stream before sending the request
/// as a call of its own.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// Requests sent and not yet answered. Kept below what the server buffers for a
/// stream, so neither side can wait on the other with both buffers full.
const MAX_UNANSWERED: usize = 32;

/// How long a connection submits call by call after the aggregator refused it a
/// stream (its share may free up, e.g. when a restarted process's old streams end).
const REFUSED_FOR: Duration = Duration::from_secs(60);

type Pending = (SubmitResponseRequest, oneshot::Sender<SubmitResponsesReply>);

/// When the aggregator last refused a connection a stream.
#[derive(Default)]
pub(crate) struct Refused(Mutex<Option<Instant>>);

impl Refused {
    fn note(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether a refusal is recent enough not to ask again yet.
    pub(crate) fn recently(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < REFUSED_FOR)
    }
}

/// A handle on one stream's driver task; dropping the last handle ends the stream.
pub(crate) struct SubmissionStream {
    requests: mpsc::Sender<Pending>,
}

impl SubmissionStream {
    /// Starts a driver on `channel`; the stream opens with the first request. Sets
    /// `refused` when the aggregator turns streams down (an older aggregator, or
    /// this operator holds its share already), so the connection stops asking for a
    /// while.
    pub(crate) fn start(channel: Channel, refused: Arc<Refused>) -> Self {
        let (requests, pending) = mpsc::channel(MAX_UNANSWERED);
        tokio::spawn(drive(channel, pending, refused));
        Self { requests }
    }

    /// Whether the driver has ended (a new stream is needed).
    pub(crate) fn is_closed(&self) -> bool {
        self.requests.is_closed()
    }

    /// Sends `request`; its reply, or `None` when the stream could not carry it
    /// within [`REPLY_WAIT`] (queueing included: a stalled stream never holds a
    /// caller longer than that).
    pub(crate) async fn send(
        &self,
        request: SubmitResponseRequest,
    ) -> Option<SubmitResponsesReply> {
        let (reply, answer) = oneshot::channel();
        tokio::time::timeout(REPLY_WAIT, async {
            self.requests.send((request, reply)).await.ok()?;
            answer.await.ok()
        })
        .await
        .ok()?
    }
}

async fn drive(channel: Channel, mut pending: mpsc::Receiver<Pending>, refused: Arc<Refused>) {
    let Some((first, first_reply)) = pending.recv().await else {
        return;
    };
    let (body, body_rx) = mpsc::channel(MAX_UNANSWERED);
    let mut waiting = VecDeque::with_capacity(MAX_UNANSWERED);
    waiting.push_back((first.task_id, first_reply));
    // The server answers the call once it has read the first request.
    if body.send(first).await.is_err() {
        return;
    }
    let mut client = AggregatorClient::new(channel);
    let mut replies = match client
        .submit_responses(tokio_stream::wrappers::ReceiverStream::new(body_rx))
        .await
    {
        Ok(response) => response.into_inner(),
        // The caller of the first request falls back to a call of its own.
        Err(status) => {
            if matches!(
                status.code(),
                tonic::Code::Unimplemented | tonic::Code::ResourceExhausted
            ) {
                refused.note();
            }
            return;
        }
    };
    loop {
        tokio::select! {
            next = pending.recv(), if waiting.len() < MAX_UNANSWERED => {
                let Some((request, reply)) = next else {
                    return;
                };
                let task_id = request.task_id;
                if body.send(request).await.is_err() {
                    return;
                }
                waiting.push_back((task_id, reply));
            }
            reply = replies.message() => {
                let Ok(Some(reply)) = reply else {
                    return;
                };
                // Replies come in request order; one for another task means the
                // stream cannot be trusted to pair them: end it (callers retry).
                match waiting.pop_front() {
                    Some((task_id, caller)) if task_id == reply.task_id => {
                        let _ = caller.send(reply);
                    }
                    _ => return,
                }
            }
        }
    }
}
