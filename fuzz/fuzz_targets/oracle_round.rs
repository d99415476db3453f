//! The oracle's wire values: a round's input (from the `TaskCreated` event) and an
//! operator's report or the certified answer (from gRPC and the chain), as
//! `RoundInput::decode` and `RoundAnswer::decode` read them.
//!
//! A value that decodes re-encodes to exactly its input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oracle_avs::round::{RoundAnswer, RoundInput, feed_name};

fuzz_target!(|data: &[u8]| {
    if let Some(input) = RoundInput::decode(data) {
        assert_eq!(input.encode(), data);
        let _ = feed_name(&input.feed);
    }
    if let Some(answer) = RoundAnswer::decode(data) {
        assert_eq!(answer.encode(), data);
        assert!(answer.answers(&RoundInput {
            feed: answer.feed,
            round: answer.round,
        }));
        let _ = feed_name(&answer.feed);
    }
});
