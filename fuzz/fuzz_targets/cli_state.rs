//! The CLI's devnet state file (`.bulwark/devnet.json`), as `DevnetState::load` reads
//! it: JSON -> state, which serialises (as `save` writes it) to JSON that reads back
//! the same.

#![no_main]

use bulwark_cli::state::DevnetState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<DevnetState>(data) else {
        return;
    };
    let out = serde_json::to_string_pretty(&state).expect("a parsed state serialises");
    let again: DevnetState = serde_json::from_str(&out).expect("a saved state loads");
    assert_eq!(
        serde_json::to_string_pretty(&again).expect("serialises"),
        out
    );
    let _ = state.marker();
});
