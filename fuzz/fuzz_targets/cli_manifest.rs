//! The CLI's project files: `bulwark.toml` (as `Project::load` reads it), its argument
//! placeholders (`state::expand`), and the `[avs]` settings an AVS's setup prints
//! (`devnet::AvsSettings::parse`).
//!
//! A manifest that parses serialises to TOML that parses to the same manifest;
//! expanding placeholders either fails or leaves none behind.

#![no_main]

use bulwark_cli::devnet::AvsSettings;
use bulwark_cli::state::{Project, expand};
use libfuzzer_sys::fuzz_target;

fn vars() -> Vec<(String, String)> {
    [
        ("rpc_url", "http://127.0.0.1:8545"),
        ("avs", "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        ("dir", "/tmp/devnet"),
        ("url:price-server", "http://127.0.0.1:9000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = vars();
    // Every line as one argument: placeholders show up in arguments.
    for arg in text.lines().take(16) {
        if let Ok(out) = expand(arg, &vars) {
            // No value holds a `{`, so one in the output is a placeholder left behind.
            assert!(!out.contains('{'), "{arg:?} expanded to {out:?}");
            if !arg.contains('{') {
                assert_eq!(out, arg);
            }
        }
    }
    if let Ok(project) = toml::from_str::<Project>(text) {
        let out = toml::to_string(&project).expect("a parsed manifest serialises");
        let again: Project = toml::from_str(&out).expect("a serialised manifest parses");
        assert_eq!(toml::to_string(&again).expect("serialises"), out);
        for arg in project.devnet.setup.iter().chain(&project.avs.status) {
            let _ = expand(arg, &vars);
        }
    }
    if let Ok(settings) = AvsSettings::parse(text) {
        let _ = settings.of("aggregator");
        let _ = settings.of("operator-0");
    }
});
