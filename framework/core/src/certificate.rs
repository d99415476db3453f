//! What the aggregation engine produces: a verified aggregate signature from operators
//! holding at least the threshold of stake, and who did not sign.

use bulwark_crypto::Signature;

use crate::{OperatorId, ResponseDigest};

/// A certificate the engine verified: `signature` is the aggregate of the signers'
/// valid signatures on the task's message for `digest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The task.
    pub task_id: u64,
    /// The block whose operator set and stakes it counts.
    pub reference_block: u32,
    /// The certified response bytes.
    pub response: Vec<u8>,
    /// keccak256 of `response`.
    pub digest: ResponseDigest,
    /// Who signed, in address order.
    pub signers: Vec<OperatorId>,
    /// Members who did not sign (or whose signature was dropped), in address order.
    pub non_signers: Vec<OperatorId>,
    /// The aggregate signature.
    pub signature: Signature,
    /// Stake of the signers.
    pub signed_stake: u64,
    /// Stake of the whole set.
    pub total_stake: u64,
}
