//! Operator and aggregator runtimes: follow tasks on chain, execute and sign, aggregate over gRPC and submit certificates.
//!
//! - [`follow`]: polls an AVS for `TaskCreated` events and the chain head;
//! - [`aggregator`]: opens engine tasks from chain events, serves submissions, and
//!   submits each certificate (treating "already answered" as done);
//! - [`journal`]: accepted submissions on disk, replayed after a restart;
//! - [`operator`]: executes each task with the AVS's [`bulwark_core::Task`], signs, and
//!   submits to aggregators.

pub mod aggregator;
pub mod follow;
pub mod journal;
pub mod operator;
