//! What an AVS team writes: a [`Task`] (typed input and output, how to compute the
//! output, its canonical encoding), optionally an [`Aggregation`] policy, and, for
//! slashing, [`SlashingProof`]s.
//!
//! # Example
//! ```
//! use bulwark_core::Task;
//! /// Squares a number: the smallest honest AVS.
//! struct Square;
//! impl Task for Square {
//!     type Input = u64;
//!     type Output = u128;
//!     type Error = std::convert::Infallible;
//!     fn decode_input(&self, bytes: &[u8]) -> Option<u64> {
//!         Some(u64::from_be_bytes(bytes.try_into().ok()?))
//!     }
//!     async fn execute(&self, input: u64) -> Result<u128, Self::Error> {
//!         Ok(u128::from(input) * u128::from(input))
//!     }
//!     fn encode_output(&self, output: &u128) -> Vec<u8> {
//!         output.to_be_bytes().to_vec()
//!     }
//! }
//! ```

use std::future::Future;

/// A unit of work every operator computes and signs.
///
/// The response bytes ([`Task::encode_output`]) are what operators sign (through their
/// keccak digest) and what the contract stores, so the encoding must be canonical:
/// equal outputs, equal bytes, on every operator.
pub trait Task: Send + Sync + 'static {
    /// The task's input, decoded from the bytes the `TaskCreated` event carries.
    type Input: Send;
    /// The computed answer.
    type Output: Send;
    /// Why execution failed (the operator then does not sign).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decodes the on-chain input; `None` refuses it (the operator does not sign).
    fn decode_input(&self, bytes: &[u8]) -> Option<Self::Input>;

    /// Computes the output. May do I/O (an oracle reads prices); the framework
    /// bounds it with the task deadline.
    fn execute(
        &self,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// The canonical response bytes.
    fn encode_output(&self, output: &Self::Output) -> Vec<u8>;

    /// A certified response as people read it, for `bulwark status` (`None`: shown as
    /// bytes). The bytes come from the chain: anything may be there, so return `None`
    /// for what does not decode rather than panic.
    fn describe_response(&self, response: &[u8]) -> Option<String> {
        let _ = response;
        None
    }
}

/// `text` as one line that a terminal shows as written: control characters and
/// invisible formatting (bidirectional overrides and isolates, zero-width marks)
/// dropped, at most `max_chars` characters.
///
/// # Security
/// Descriptions of responses are made from chain data, which anyone with a
/// certificate chose: a response must not break a line, move the cursor or visually
/// reorder what `bulwark status` prints.
pub fn display_line(text: &str, max_chars: usize) -> String {
    let invisible = |c: char| {
        matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
    };
    text.chars()
        .filter(|&c| !c.is_control() && !invisible(c))
        .take(max_chars)
        .collect()
}

/// A shared task is the task: the runtime and, say, a status view can hold one each.
impl<T: Task> Task for std::sync::Arc<T> {
    type Input = T::Input;
    type Output = T::Output;
    type Error = T::Error;

    fn decode_input(&self, bytes: &[u8]) -> Option<Self::Input> {
        (**self).decode_input(bytes)
    }

    fn execute(
        &self,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send {
        (**self).execute(input)
    }

    fn encode_output(&self, output: &Self::Output) -> Vec<u8> {
        (**self).encode_output(output)
    }

    fn describe_response(&self, response: &[u8]) -> Option<String> {
        (**self).describe_response(response)
    }
}

/// How responses combine into one certified answer.
pub trait Aggregation: Send + Sync + 'static {
    /// Whether the response bytes may be certified at all (e.g. well-formed).
    fn accepts(&self, response: &[u8]) -> bool;
}

/// The default policy: operators must agree byte for byte; any well-formed response
/// is a candidate, and the one reaching the threshold wins.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdenticalOutputs;

impl Aggregation for IdenticalOutputs {
    fn accepts(&self, response: &[u8]) -> bool {
        !response.is_empty()
    }
}

/// Evidence that an operator misbehaved, which an on-chain verifier can check and
/// slash for (equivocation; template-specific invalid responses).
pub trait SlashingProof: Sized {
    /// Why evidence could not be decoded or does not hold.
    type Error: std::error::Error;

    /// The operator the evidence accuses.
    fn offender(&self) -> crate::OperatorId;

    /// The bytes the AVS contract's `challenge` takes.
    fn encode(&self) -> Vec<u8>;

    /// Decodes evidence from bytes (from a peer or a file: untrusted).
    fn decode(bytes: &[u8]) -> Result<Self, Self::Error>;

    /// Checks the evidence off-chain, as the contract will on-chain.
    fn verify(&self) -> Result<(), Self::Error>;
}
