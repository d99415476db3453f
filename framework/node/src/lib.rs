//! Operator and aggregator runtimes: follow tasks on chain, execute and sign, aggregate over gRPC and submit certificates.
//!
//! - [`follow`]: polls an AVS for `TaskCreated`/`TaskResponded` events and the chain
//!   head, in bounded block ranges;
//! - [`aggregator`]: opens engine tasks from chain events, serves submissions, lands
//!   each certificate on its own queue (treating "already answered" as done), and
//!   keeps accepted work in a redb store read back after a restart;
//! - [`challenger`]: follows aggregators' evidence and challenges on chain with what
//!   holds, remembering what it did across restarts;
//! - [`operator`]: executes each task with the AVS's [`bulwark_core::Task`], signs, and
//!   submits to aggregators;
//! - [`observer`]: the operator side of two-phase tasks (report, then endorse the
//!   aggregator's proposal within tolerance);
//! - [`protection`]: slashing protection, so an operator never signs two answers to
//!   one task, restarts included;
//! - [`config`]: the TOML files the runtimes read;
//! - [`telemetry`]: logs, Prometheus metrics and the `/health` endpoint;
//! - [`service`]: a whole runtime from its config, for an AVS binary's `main`;
//! - [`supervise`]: runtimes as child processes (demos, devnets);
//! - [`listening`]: how a runtime on port 0 tells its supervisor where it listens.

pub mod aggregator;
pub mod challenger;
pub mod config;
pub mod follow;
pub mod listening;
pub mod observer;
pub mod operator;
pub mod protection;
pub mod service;
mod store;
pub mod supervise;
pub mod telemetry;
