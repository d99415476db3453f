//! The bytes operators sign for a task response, from `bulwark-core` (the one
//! definition), in alloy types. `CertificateVerifier.taskResponseMessage` computes the
//! same bytes on-chain; the anvil test checks they agree.

use alloy::primitives::{Address, B256, keccak256};
use bulwark_core::{ResponseDigest, SigningContext};

/// keccak256(abi.encode(MESSAGE_TAG, chainId, avs, taskId, responseDigest)).
pub fn task_response_message(
    chain_id: u64,
    avs: Address,
    task_id: u64,
    response_digest: B256,
) -> B256 {
    let context = SigningContext {
        chain_id,
        avs: avs.into_array(),
    };
    B256::from(context.message(task_id, &ResponseDigest(response_digest.0)))
}

/// keccak256 of the response bytes: what the contract stores and the message binds.
pub fn response_digest(response: &[u8]) -> B256 {
    keccak256(response)
}
