//! Following an AVS on chain: new `TaskCreated` events and the head block, by polling
//! (HTTP providers have no subscriptions, and polling survives node restarts).
//! [`EventCursor`] does the block-range bookkeeping for any one event.

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use bulwark_chain::bindings::BasicAVS::TaskCreated;

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

/// One event of one contract, read block range by block range: each poll returns the
/// head and the logs from the block after the last poll's head up to it, so no log is
/// read twice or missed while the node keeps its history.
pub struct EventCursor {
    provider: DynProvider,
    address: Address,
    signature: B256,
    next_block: u64,
}

impl EventCursor {
    /// Reads event `E` of `address` from `from_block` on.
    pub fn of<E: SolEvent>(provider: DynProvider, address: Address, from_block: u64) -> Self {
        Self {
            provider,
            address,
            signature: E::SIGNATURE_HASH,
            next_block: from_block,
        }
    }

    /// The head block and the logs since the last poll.
    pub async fn poll(&mut self) -> Result<(u64, Vec<Log>), alloy::transports::TransportError> {
        let head = self.provider.get_block_number().await?;
        if head < self.next_block {
            return Ok((head, Vec::new()));
        }
        let filter = Filter::new()
            .address(self.address)
            .event_signature(self.signature)
            .from_block(self.next_block)
            .to_block(head);
        let logs = self.provider.get_logs(&filter).await?;
        self.next_block = head + 1;
        Ok((head, logs))
    }
}

/// Reads `TaskCreated` events of one AVS block range by block range.
pub struct TaskFollower {
    cursor: EventCursor,
}

impl TaskFollower {
    /// Follows `avs` from `from_block` on.
    pub fn new(provider: DynProvider, avs: Address, from_block: u64) -> Self {
        Self {
            cursor: EventCursor::of::<TaskCreated>(provider, avs, from_block),
        }
    }

    /// The head block and the tasks created since the last poll. Malformed logs are
    /// skipped with a warning: they cannot come from the AVS contract.
    pub async fn poll(&mut self) -> Result<(u64, Vec<NewTask>), alloy::transports::TransportError> {
        let (head, logs) = self.cursor.poll().await?;
        let mut tasks = Vec::new();
        for log in logs {
            match log.log_decode::<TaskCreated>() {
                Ok(event) => {
                    let e = event.inner.data;
                    let Ok(task_id) = u64::try_from(e.taskId) else {
                        tracing::warn!(task_id = %e.taskId, "task id beyond u64, skipped");
                        continue;
                    };
                    tasks.push(NewTask {
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
        Ok((head, tasks))
    }
}
