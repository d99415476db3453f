//! The bytes operators sign for a task response; the same layout as
//! `CertificateVerifier.taskResponseMessage` (see contracts/README.md).

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;

/// `bytes32("bulwark.task-response.v1")`, right-padded with zeros as Solidity does.
pub const MESSAGE_TAG: B256 = {
    let tag = b"bulwark.task-response.v1";
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < tag.len() {
        out[i] = tag[i];
        i += 1;
    }
    B256::new(out)
};

/// keccak256(abi.encode(MESSAGE_TAG, chainId, avs, taskId, responseDigest)).
pub fn task_response_message(
    chain_id: u64,
    avs: Address,
    task_id: U256,
    response_digest: B256,
) -> B256 {
    keccak256(
        (
            MESSAGE_TAG,
            U256::from(chain_id),
            avs,
            task_id,
            response_digest,
        )
            .abi_encode(),
    )
}

/// keccak256 of the response bytes: what the contract stores and the message binds.
pub fn response_digest(response: &[u8]) -> B256 {
    keccak256(response)
}
