//! The gRPC protocol between operators and aggregators: generated tonic services, a checked server adapter and a retrying client.
//!
//! The protocol is `proto/bulwark/v1/aggregator.proto`, compiled at build time by
//! protox (no system `protoc`). [`server`] checks every request and answers with a
//! status; [`client`] retries while the aggregator is unreachable.

pub mod client;
pub mod evidence;
pub mod server;
pub mod session;
mod stream;
pub mod submission;

/// Code generated from `proto/bulwark/v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("bulwark.v1");
}
