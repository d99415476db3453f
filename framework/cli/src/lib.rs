//! The `bulwark` command line: what AVS teams and operators touch first.
//!
//! - [`keys`]: EIP-2335 BLS keystores (generate, import, list, show);
//! - [`build`]: `bulwark build`, contracts with the pinned forge and solc, the
//!   artifacts, the binary;
//! - [`chain`]: operator registration and allocation, staking, and `status`, against
//!   any RPC URL;
//! - [`devnet`]: a project's AVS on a local anvil, left running until `devnet down`;
//! - [`economics`]: rewards per epoch, a staker's rewards, claims and exposure;
//! - [`scaffold`]: `bulwark new`, a standalone project from a template;
//! - [`state`]: `bulwark.toml` and the devnet state file;
//! - [`error`]: errors with stable exit codes.

pub mod build;
pub mod chain;
pub mod devnet;
pub mod economics;
pub mod error;
pub mod keys;
pub mod scaffold;
pub mod state;
