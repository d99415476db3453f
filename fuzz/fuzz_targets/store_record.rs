//! The aggregator store's records: arbitrary bytes -> a stored submission or report.
//!
//! Decoding never panics, and what decodes, encoded again, is the same bytes: a
//! damaged record is skipped, never misread as another operator's answer.

#![no_main]

use bulwark_node::aggregator::store::{decode_record, encode_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((operator, signature, payload)) = decode_record(data) {
        assert_eq!(encode_record(operator, &signature, &payload), data);
    }
});
