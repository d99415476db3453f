//! `bulwark new` from the command line: what it writes and what it refuses. (The
//! scaffolded project is built and tested by `make test-templates`.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

#[test]
fn new_writes_a_standalone_project_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("my-avs");
    let out = Command::new(BIN)
        .args(["new", "my-avs", "--template", "hello", "--path"])
        .arg(&dest)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dest.join("Cargo.toml")).expect("Cargo.toml");
    assert!(!manifest.contains("workspace = true") && manifest.contains("name = \"my-avs\""));
    assert!(manifest.contains("[workspace]"), "a root of its own");
    let tests = std::fs::read_to_string(dest.join("tests/binary.rs")).expect("tests");
    assert!(tests.contains("CARGO_BIN_EXE_my-avs") && !tests.contains("hello-avs"));
    let main = std::fs::read_to_string(dest.join("src/main.rs")).expect("main");
    assert!(main.contains("my_avs::Hello") && !main.contains("hello_avs"));
    // One Bulwark dependency (the facade), not its crates one by one.
    assert!(
        manifest.contains("package = \"bulwark-avs\"") && !manifest.contains("bulwark-node"),
        "{manifest}"
    );
    let foundry = std::fs::read_to_string(dest.join("foundry.toml")).expect("foundry.toml");
    assert!(!foundry.contains("../.."), "{foundry}");
    let project = std::fs::read_to_string(dest.join("bulwark.toml")).expect("bulwark.toml");
    assert!(project.contains("target/debug/my-avs"), "{project}");
    for file in [
        "Cargo.lock",
        "contracts/HelloAVS.sol",
        "artifacts/HelloAVS.json",
        "README.md",
    ] {
        assert!(dest.join(file).exists(), "{file}");
    }
    assert!(!dest.join("out").exists() && !dest.join(".bulwark").exists());

    // Again into the same (now non-empty) folder: refused with 5, nothing changed.
    let again = Command::new(BIN)
        .args(["new", "other", "--template", "hello", "--path"])
        .arg(&dest)
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(dest.join("Cargo.toml")).expect("Cargo.toml"),
        manifest
    );

    let bad = Command::new(BIN)
        .args(["new", "x", "--template", "bridge"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}
