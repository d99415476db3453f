//! Bulwark for AVS authors: one dependency for a restaking service.
//!
//! An AVS crate depends on `bulwark` alone. It writes its task (a [`Task`], or for
//! two-phase tasks an [`Observe`] and a [`Propose`]), its contract, and a `main` of a
//! few lines; this crate gives the binary its `operator`, `aggregator` and
//! `challenger` subcommands, config loading, tracing, metrics and signals:
//!
//! ```no_run
//! use bulwark::prelude::*;
//!
//! /// Squares a number.
//! struct Square;
//!
//! impl Task for Square {
//!     type Input = u64;
//!     type Output = u128;
//!     type Error = std::convert::Infallible;
//!
//!     fn decode_input(&self, bytes: &[u8]) -> Option<u64> {
//!         Some(u64::from_be_bytes(bytes.try_into().ok()?))
//!     }
//!
//!     async fn execute(&self, n: u64) -> Result<u128, Self::Error> {
//!         Ok(u128::from(n) * u128::from(n))
//!     }
//!
//!     fn encode_output(&self, square: &u128) -> Vec<u8> {
//!         square.to_be_bytes().to_vec()
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     bulwark::app!().task(Square).run()
//! }
//! ```
//!
//! The framework's crates are here under short names ([`core`], [`crypto`],
//! [`chain`], [`net`], [`node`]), with [`alloy`] and [`tokio`] at the versions
//! Bulwark is built with: `bulwark::alloy::sol!` binds an AVS's contract with no
//! other dependency.
//!
//! # Features
//! - `runtime` (default): the runtimes, the chain, and the binary entry ([`App`]).
//!   Without it a crate gets only what a task's own logic needs (the traits, BLS,
//!   alloy), e.g. a library shared by several AVS binaries.

#[cfg(feature = "runtime")]
mod app;

#[cfg(feature = "runtime")]
pub use app::{App, NoCommands, Role, main};

pub use alloy;
pub use anyhow;
pub use bulwark_core as core;
pub use bulwark_crypto as crypto;
pub use tracing;

#[cfg(feature = "runtime")]
pub use bulwark_chain as chain;
#[cfg(feature = "runtime")]
pub use bulwark_net as net;
#[cfg(feature = "runtime")]
pub use bulwark_node as node;
#[cfg(feature = "runtime")]
pub use clap;
#[cfg(feature = "runtime")]
pub use tokio;

pub use bulwark_core::{
    Aggregation, IdenticalOutputs, Observe, OperatorId, Propose, SigningContext, SlashingProof,
    Task,
};

/// What an AVS's code usually needs, in one `use bulwark::prelude::*;`.
pub mod prelude {
    pub use alloy::primitives::{Address, B256, Bytes, U256};
    pub use alloy::sol;
    pub use bulwark_core::{
        Aggregation, IdenticalOutputs, Observe, OperatorId, Proposal, Propose, ResponseDigest,
        SignedReport, SignedResponse, SigningContext, SlashingProof, Task, Threshold,
    };
    pub use bulwark_crypto::{Domain, PublicKey, SecretKey, Signature};

    #[cfg(feature = "runtime")]
    pub use crate::App;
    #[cfg(feature = "runtime")]
    pub use bulwark_node::challenger::OffenceCheck;
    #[cfg(feature = "runtime")]
    pub use bulwark_node::config::{AggregatorConfig, ChallengerConfig, OperatorConfig};
}

/// An [`App`] named after the binary being built, with its package's version and
/// description: `bulwark::app!().task(MyTask).run()` is a whole `main`.
#[cfg(feature = "runtime")]
#[macro_export]
macro_rules! app {
    () => {
        $crate::App::new(match option_env!("CARGO_BIN_NAME") {
            Some(bin) => bin,
            None => env!("CARGO_PKG_NAME"),
        })
        .version(env!("CARGO_PKG_VERSION"))
        .about(env!("CARGO_PKG_DESCRIPTION"))
    };
}
