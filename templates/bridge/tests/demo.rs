//! `make demo-bridge` keeps working: the binary's demo runs to its end and tells what
//! it promised (the round trip, the forgery executed on remote, three forgers slashed
//! on both AVSs, the honest operator whole).

use std::process::Command;

#[test]
fn the_demo_runs_to_its_end() {
    let output = Command::new(env!("CARGO_BIN_EXE_bridge-avs"))
        .args(["demo", "--block-ms", "100"])
        .output()
        .expect("the demo binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "10 wLST minted on remote",
        "4 LST released on home",
        "the attacker holds 1000000 wLST",
        "bridge weight 32.0 -> 16.0 LST, oracle weight 32.0 -> 16.0 LST",
        "keeps 32.0 LST on both",
        "home 31337 -> remote 31338: 0 sent, 0 deep, 1 executed, 1 forged",
        "remote 31338 -> home 31337: 0 sent, 0 deep, 1 executed, 0 forged",
        "FORGED   executed without being sent",
        "epoch 1 in force on remote",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert_eq!(
        stdout.matches("slashed 50%").count(),
        3,
        "three forgers:\n{stdout}"
    );
}
