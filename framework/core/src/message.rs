//! The bytes operators sign for a task response, identical to
//! `CertificateVerifier.taskResponseMessage` on-chain:
//! `keccak256(abi.encode(bytes32("bulwark.task-response.v1"), chainId, avs, taskId, digest))`.
//!
//! Chain id and AVS address keep a signature from being replayed on another chain or
//! AVS; the task id, on another task.
//!
//! # Example
//! ```
//! use bulwark_core::{ResponseDigest, SigningContext};
//! let ctx = SigningContext { chain_id: 31337, avs: [0x11; 20] };
//! let digest = ResponseDigest::of(b"42");
//! assert_ne!(ctx.message(1, &digest), ctx.message(2, &digest));
//! ```

use sha3::{Digest, Keccak256};

/// The version tag, as Solidity's `bytes32("bulwark.task-response.v1")`.
pub const MESSAGE_TAG: [u8; 32] = tag(b"bulwark.task-response.v1");

/// The version tag of a two-phase task's report (`bytes32("bulwark.task-report.v1")`):
/// a report can never pass for a response, nor the reverse.
pub const REPORT_TAG: [u8; 32] = tag(b"bulwark.task-report.v1");

/// `bytes32(text)` as Solidity pads a short string literal.
const fn tag(text: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < text.len() && i < 32 {
        out[i] = text[i];
        i += 1;
    }
    out
}

/// keccak256 of a canonical response encoding: what the contract stores.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ResponseDigest(pub [u8; 32]);

impl ResponseDigest {
    /// The digest of `response`.
    pub fn of(response: &[u8]) -> Self {
        Self(Keccak256::digest(response).into())
    }
}

impl std::fmt::Debug for ResponseDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// Where a task lives: the chain and the AVS contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SigningContext {
    /// The chain id.
    pub chain_id: u64,
    /// The AVS (task manager) contract address.
    pub avs: [u8; 20],
}

impl SigningContext {
    /// The 32 bytes operators sign for `digest` as the answer to `task_id`.
    pub fn message(&self, task_id: u64, digest: &ResponseDigest) -> [u8; 32] {
        self.tagged(&MESSAGE_TAG, task_id, digest)
    }

    /// The 32 bytes operators sign for a report (phase one of a two-phase task) with
    /// keccak digest `digest`: the same layout under [`REPORT_TAG`].
    pub fn report_message(&self, task_id: u64, digest: &ResponseDigest) -> [u8; 32] {
        self.tagged(&REPORT_TAG, task_id, digest)
    }

    fn tagged(&self, tag: &[u8; 32], task_id: u64, digest: &ResponseDigest) -> [u8; 32] {
        let mut words = [0u8; 160];
        words[..32].copy_from_slice(tag);
        words[56..64].copy_from_slice(&self.chain_id.to_be_bytes());
        words[76..96].copy_from_slice(&self.avs);
        words[120..128].copy_from_slice(&task_id.to_be_bytes());
        words[128..].copy_from_slice(&digest.0);
        Keccak256::digest(words).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_message() {
        let ctx = SigningContext {
            chain_id: 1,
            avs: [7; 20],
        };
        let d = ResponseDigest::of(b"x");
        let m = ctx.message(5, &d);
        assert_ne!(m, SigningContext { chain_id: 2, ..ctx }.message(5, &d));
        assert_ne!(
            m,
            SigningContext {
                avs: [8; 20],
                ..ctx
            }
            .message(5, &d)
        );
        assert_ne!(m, ctx.message(6, &d));
        assert_ne!(m, ctx.message(5, &ResponseDigest::of(b"y")));
        assert_ne!(m, ctx.report_message(5, &d), "a report is not a response");
    }

    #[test]
    fn keccak_of_empty_is_the_known_value() {
        assert_eq!(
            format!("{:?}", ResponseDigest::of(b"")),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }
}
