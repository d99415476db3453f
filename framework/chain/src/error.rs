//! The error type of chain access.

use alloy::primitives::Address;

/// What went wrong talking to the chain or reading what it returned.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The anvil binary could not be started.
    #[error("could not start anvil ({path}): {source}; run `make tools` or set BULWARK_ANVIL")]
    Anvil {
        /// The binary tried.
        path: String,
        /// Why it failed.
        #[source]
        source: alloy::node_bindings::NodeError,
    },
    /// A contract call or transaction failed (including reverts).
    #[error("contract call failed: {}", crate::revert::describe(.0))]
    Contract(#[from] alloy::contract::Error),
    /// A transaction was sent but its receipt could not be had.
    #[error("transaction receipt: {0}")]
    Receipt(#[from] alloy::providers::PendingTransactionError),
    /// An RPC request failed.
    #[error("rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// No receipt came for a sent transaction in time.
    #[error("no receipt for {0} within the timeout")]
    ReceiptTimeout(alloy::primitives::TxHash),
    /// A transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(alloy::primitives::TxHash),
    /// A receipt lacked the event it must carry.
    #[error("receipt of {0} has no {1} event")]
    MissingEvent(alloy::primitives::TxHash, &'static str),
    /// A key read from the registry is not a valid BLS public key.
    #[error("registry holds an invalid key for {operator}: {source}")]
    InvalidKey {
        /// Whose key.
        operator: Address,
        /// Why it is invalid.
        #[source]
        source: bulwark_crypto::Error,
    },
    /// The registry's aggregate key tag does not match the keys it lists.
    #[error("aggregate key at block {0} does not match the registered keys")]
    AggregateMismatch(u32),
    /// The operator set was empty at the block asked for.
    #[error("no operator registered at block {0}")]
    EmptySet(u32),
    /// An RPC URL that does not parse.
    #[error("invalid RPC URL {0:?}")]
    InvalidUrl(String),
    /// A private key that is not 32 bytes of hex forming a valid secp256k1 key.
    #[error("invalid private key: expected 32 bytes of hex")]
    InvalidPrivateKey,
    /// A value did not fit the width the contracts use.
    #[error("{0} out of range")]
    OutOfRange(&'static str),
    /// A contract artifact (ABI and bytecode) is missing or unreadable.
    #[error("artifact {0}: {1}")]
    Artifact(String, String),
    /// The restaking layer does not offer this.
    #[error("not supported on this restaking layer: {0}")]
    Unsupported(&'static str),
}
