//! Revert data (an error selector and ABI-encoded arguments, as a node returns it),
//! decoded against the errors of Bulwark's contracts (`bulwark_chain::revert`).
//!
//! Whatever decodes, re-encoded, decodes to the same words.

#![no_main]

use alloy::sol_types::SolInterface;
use bulwark_chain::bindings::{BasicAVS, LiquidStakingToken, RestakingCore};
use bulwark_chain::revert;
use libfuzzer_sys::fuzz_target;

/// The ABI encoding of the error `data` decodes to, if any of the contracts knows it.
fn reencoded(data: &[u8]) -> Option<Vec<u8>> {
    if let Ok(e) = RestakingCore::RestakingCoreErrors::abi_decode(data) {
        return Some(e.abi_encode());
    }
    if let Ok(e) = BasicAVS::BasicAVSErrors::abi_decode(data) {
        return Some(e.abi_encode());
    }
    if let Ok(e) = LiquidStakingToken::LiquidStakingTokenErrors::abi_decode(data) {
        return Some(e.abi_encode());
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let words = revert::decode(data);
    assert_eq!(words.is_some(), reencoded(data).is_some());
    let Some(words) = words else {
        return;
    };
    let canonical = reencoded(data).expect("decodes");
    assert_eq!(revert::decode(&canonical).as_deref(), Some(words.as_str()));
});
