//! Following an AVS on chain: new `TaskCreated` events and the head block, by polling
//! (HTTP providers have no subscriptions, and polling survives node restarts).
//! [`EventCursor`] does the block-range bookkeeping for any one event.

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use bulwark_chain::bindings::BasicAVS::{TaskCreated, TaskResponded};

/// Which AVS to follow, from where, and how often to poll.
#[derive(Clone)]
pub struct ChainSource {
    /// A provider for the chain.
    pub provider: DynProvider,
    /// Chain id and AVS address.
    pub context: bulwark_core::SigningContext,
    /// First block to read events from.
    pub from_block: u64,
    /// Poll interval.
    pub poll: std::time::Duration,
    /// The account the provider sends transactions from, when known (the lander
    /// replaces a stuck certificate transaction at its nonce).
    pub submitter: Option<Address>,
}

/// A task as announced on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTask {
    /// The task id.
    pub task_id: u64,
    /// The input bytes.
    pub input: Vec<u8>,
    /// The block whose operator set counts.
    pub reference_block: u32,
    /// The threshold in basis points.
    pub threshold_bps: u16,
    /// The last block a response is accepted in.
    pub deadline_block: u32,
}

/// The most blocks one `eth_getLogs` request spans: public RPC providers refuse wider
/// ranges (commonly 1,000 to 10,000 blocks).
pub const MAX_LOG_RANGE: u64 = 1_000;
/// The most the head may move forward between two polls of one follower.
pub const MAX_HEAD_JUMP: u64 = 100_000;
/// Ranges read in one poll at most, so catching up on a long history does not hold
/// a poll (and what waits on it) for minutes.
const RANGES_PER_POLL: u64 = 16;

/// Some events of one contract, read block range by block range: each poll returns the
/// head and the logs from the block after the last range read up to it (in ranges of
/// at most [`MAX_LOG_RANGE`] blocks). A range is passed only once its logs are
/// returned, so a failed request costs a retry, never a log.
///
/// # Security
/// The RPC endpoint is trusted to relay one chain (run your own node, or pin one
/// behind a load balancer): a head that goes backwards is ignored, and one that
/// jumps more than [`MAX_HEAD_JUMP`] blocks in one poll is refused, so a single bad
/// answer cannot expire every open task at once.
pub struct EventCursor {
    provider: DynProvider,
    address: Address,
    signatures: Vec<B256>,
    next_block: u64,
    head: Option<u64>,
}

impl EventCursor {
    /// Reads event `E` of `address` from `from_block` on.
    pub fn of<E: SolEvent>(provider: DynProvider, address: Address, from_block: u64) -> Self {
        Self::of_signatures(provider, address, vec![E::SIGNATURE_HASH], from_block)
    }

    /// Reads the events with these signature hashes of `address` from `from_block`.
    pub fn of_signatures(
        provider: DynProvider,
        address: Address,
        signatures: Vec<B256>,
        from_block: u64,
    ) -> Self {
        Self {
            provider,
            address,
            signatures,
            next_block: from_block,
            head: None,
        }
    }

    /// The next block a poll reads from.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// The head block and the logs since the last poll (up to [`RANGES_PER_POLL`]
    /// ranges; the next poll goes on from there).
    pub async fn poll(&mut self) -> Result<(u64, Vec<Log>), alloy::transports::TransportError> {
        let reported = self.provider.get_block_number().await?;
        let head = match self.head {
            Some(known) if reported < known => known,
            Some(known) if reported - known > MAX_HEAD_JUMP => {
                return Err(alloy::transports::TransportErrorKind::custom_str(&format!(
                    "the node reports head {reported}, {} blocks past {known} in one poll; refused",
                    reported - known
                )));
            }
            _ => reported,
        };
        self.head = Some(head);
        let mut logs = Vec::new();
        for _ in 0..RANGES_PER_POLL {
            if head < self.next_block {
                break;
            }
            let to = head.min(self.next_block.saturating_add(MAX_LOG_RANGE - 1));
            let filter = Filter::new()
                .address(self.address)
                .event_signature(self.signatures.clone())
                .from_block(self.next_block)
                .to_block(to);
            match self.provider.get_logs(&filter).await {
                Ok(read) => logs.extend(read),
                // What was read so far is returned; the failed range is read again.
                Err(err) if logs.is_empty() => return Err(err),
                Err(err) => {
                    tracing::warn!(%err, from = self.next_block, to, "log range not read; retrying at the next poll");
                    break;
                }
            }
            self.next_block = to + 1;
        }
        Ok((head, logs))
    }
}

/// What one poll of an AVS found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct News {
    /// The head block.
    pub head: u64,
    /// The block the next poll reads from.
    pub next_block: u64,
    /// Tasks created.
    pub tasks: Vec<NewTask>,
    /// Tasks answered.
    pub responded: Vec<u64>,
}

/// Reads `TaskCreated` and `TaskResponded` events of one AVS block range by block
/// range.
pub struct TaskFollower {
    cursor: EventCursor,
}

impl TaskFollower {
    /// Follows `avs` from `from_block` on.
    pub fn new(provider: DynProvider, avs: Address, from_block: u64) -> Self {
        Self {
            cursor: EventCursor::of_signatures(
                provider,
                avs,
                vec![TaskCreated::SIGNATURE_HASH, TaskResponded::SIGNATURE_HASH],
                from_block,
            ),
        }
    }

    /// The head block, the tasks created and the tasks answered since the last poll.
    /// Malformed logs are skipped with a warning: they cannot come from the AVS
    /// contract.
    pub async fn poll(&mut self) -> Result<News, alloy::transports::TransportError> {
        let (head, logs) = self.cursor.poll().await?;
        let mut news = News {
            head,
            next_block: self.cursor.next_block(),
            ..News::default()
        };
        for log in logs {
            if log.topic0() == Some(&TaskResponded::SIGNATURE_HASH) {
                match log.log_decode::<TaskResponded>() {
                    Ok(event) => match u64::try_from(event.inner.data.taskId) {
                        Ok(task_id) => news.responded.push(task_id),
                        Err(_) => tracing::warn!("task id beyond u64, skipped"),
                    },
                    Err(err) => tracing::warn!(%err, "undecodable TaskResponded log skipped"),
                }
                continue;
            }
            match log.log_decode::<TaskCreated>() {
                Ok(event) => {
                    let e = event.inner.data;
                    let Ok(task_id) = u64::try_from(e.taskId) else {
                        tracing::warn!(task_id = %e.taskId, "task id beyond u64, skipped");
                        continue;
                    };
                    news.tasks.push(NewTask {
                        task_id,
                        input: e.input.to_vec(),
                        reference_block: e.referenceBlock,
                        threshold_bps: e.thresholdBps,
                        deadline_block: e.deadlineBlock,
                    });
                }
                Err(err) => tracing::warn!(%err, "undecodable TaskCreated log skipped"),
            }
        }
        Ok(news)
    }
}
