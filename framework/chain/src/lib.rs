//! Alloy bindings to Bulwark's contracts, operator-set readers, certificate submission and a devnet deployer on anvil.
//!
//! - [`bindings`]: `sol!` bindings from the committed forge artifacts;
//! - [`registry`]: the operator set, keys and stakes at a past block;
//! - [`registration`]: a key and its proof of possession, bound to the operator;
//! - [`certificate`]: building a certificate and submitting it;
//! - [`message`]: the bytes operators sign for a task response;
//! - [`tasks`]: creating tasks;
//! - [`revert`]: custom Solidity errors decoded by name for error messages;
//! - [`slashing`]: equivocation proofs, checked off-chain as on-chain, and challenges;
//! - [`restaking`]: the restaking layer behind one trait ([`restaking::Restaking`]),
//!   Bulwark's devnet core its first implementation;
//! - [`rewards`]: rewards per epoch, funded, proven from the chain and claimed;
//! - [`exposure`]: a staker's stake at risk per AVS and in the worst case;
//! - [`eigenlayer`]: EigenLayer's core on a devnet (bytecode fetched at test time), an
//!   AVS on it through its adapter, and the restaking trait over it;
//! - [`provider`]: HTTP providers filled alike for runtimes and the devnet;
//! - [`devnet`]: anvil on a free port with the restaking core and an AVS deployed.

pub mod bindings;
pub mod certificate;
pub mod devnet;
pub mod eigenlayer;
mod error;
pub mod exposure;
pub mod message;
pub mod points;
pub mod provider;
pub mod registration;
pub mod registry;
pub mod restaking;
pub mod revert;
pub mod rewards;
pub mod slashing;
pub mod tasks;

pub use error::ChainError;
