//! Creating tasks on an AVS (what a task source does).

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;

use crate::ChainError;
use crate::bindings::BasicAVS;
use crate::devnet::mined;

/// A task as created: its id and reference block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreatedTask {
    /// The task id.
    pub task_id: u64,
    /// The block whose operator set counts.
    pub reference_block: u32,
    /// The last block a response is accepted in.
    pub deadline_block: u32,
}

/// Creates a task on the AVS at `avs` (the sender must be a task creator) and waits
/// for it to be mined.
pub async fn create_task<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    input: &[u8],
    threshold_bps: u16,
    response_blocks: u32,
) -> Result<CreatedTask, ChainError> {
    let contract = BasicAVS::new(avs, provider.clone());
    let sent = contract
        .createTask(
            Bytes::copy_from_slice(input),
            threshold_bps,
            response_blocks,
        )
        .send()
        .await?;
    let receipt = mined(provider, sent).await?;
    let event = receipt
        .decoded_log::<BasicAVS::TaskCreated>()
        .ok_or(ChainError::MissingEvent(
            receipt.transaction_hash,
            "TaskCreated",
        ))?;
    Ok(CreatedTask {
        task_id: u64::try_from(event.taskId).map_err(|_| ChainError::OutOfRange("task id"))?,
        reference_block: event.referenceBlock,
        deadline_block: event.deadlineBlock,
    })
}
