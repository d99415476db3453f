//! Slashing evidence (`TaskManager.challenge`'s bytes) -> `Equivocation::decode`.
//!
//! Evidence comes from peers and files. What decodes must encode to exactly its input
//! (one encoding per proof, so the contract and the challenger see the same proof),
//! and checking it must never panic.

#![no_main]

use bulwark_chain::slashing::Equivocation;
use bulwark_core::SlashingProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = Equivocation::decode(data) else {
        return;
    };
    assert_eq!(proof.encode(), data, "a decoded proof encodes to its input");
    let _ = proof.verify();
});
