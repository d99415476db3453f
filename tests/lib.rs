//! End-to-end tests: anvil, the contracts, an aggregator and operators over real gRPC.
//! The tests are under `tests/tests/`; this library only holds the task they run.

use bulwark_core::Task;

/// Squares a big-endian u64: a task every operator computes identically.
pub struct Square;

impl Task for Square {
    type Input = u64;
    type Output = u128;
    type Error = std::convert::Infallible;

    fn decode_input(&self, bytes: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    async fn execute(&self, input: u64) -> Result<u128, Self::Error> {
        Ok(u128::from(input) * u128::from(input))
    }

    fn encode_output(&self, output: &u128) -> Vec<u8> {
        output.to_be_bytes().to_vec()
    }
}
