//! `bulwark new` from the command line: what it writes and what it refuses. (The
//! scaffolded project is built and tested by `make test-templates`.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

/// `bulwark new NAME --template TEMPLATE` into `dir/NAME`, which must succeed.
fn scaffold(dir: &std::path::Path, name: &str, template: &str) -> std::path::PathBuf {
    let dest = dir.join(name);
    let out = Command::new(BIN)
        .args(["new", name, "--template", template, "--path"])
        .arg(&dest)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dest
}

#[test]
fn new_writes_a_standalone_project_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = scaffold(dir.path(), "my-avs", "hello");
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
        "contracts/MyAVS.sol",
        "test/MyAVS.t.sol",
        "artifacts/MyAVS.json",
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
        .args(["new", "x", "--template", "ferry"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_bridge_is_scaffolded_with_its_helpers_and_the_oracle_it_runs_beside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = scaffold(dir.path(), "my-bridge", "bridge");
    // The AVS contract takes the project's name; the other contracts keep theirs.
    for file in [
        "contracts/MyBridge.sol",
        "test/MyBridge.t.sol",
        "artifacts/MyBridge.json",
        "contracts/OperatorTable.sol",
        "artifacts/OperatorTable.json",
        "artifacts/Inbox.json",
    ] {
        assert!(dest.join(file).exists(), "{file}");
    }
    let avs = std::fs::read_to_string(dest.join("contracts/MyBridge.sol")).expect("contract");
    assert!(avs.contains("contract MyBridge is TaskManager"), "{avs}");
    // The oracle's contract, which the tests and demo deploy on the same stake, is the
    // project's own copy, byte for byte, and read from there.
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert_eq!(
        std::fs::read(dest.join("artifacts/OracleAVS.json")).expect("copied"),
        std::fs::read(checkout.join("templates/oracle/artifacts/OracleAVS.json"))
            .expect("oracle artifact")
    );
    for file in ["src/main.rs", "tests/two_chains.rs"] {
        let text = std::fs::read_to_string(dest.join(file)).expect(file);
        assert!(
            text.contains("include_str!(\"../artifacts/OracleAVS.json\")")
                && !text.contains("../../"),
            "{file}"
        );
    }
    let main = std::fs::read_to_string(dest.join("src/main.rs")).expect("main");
    assert!(main.contains("my_bridge::contracts") && !main.contains("bridge_avs"));
    let project = std::fs::read_to_string(dest.join("bulwark.toml")).expect("bulwark.toml");
    assert!(
        project.contains("{aggregator_config}") && project.contains("remote-chain"),
        "{project}"
    );

    // A project named after one of the bridge's helper contracts would clash with it.
    let clash = Command::new(BIN)
        .args(["new", "inbox", "--template", "bridge", "--path"])
        .arg(dir.path().join("inbox"))
        .output()
        .expect("run");
    assert_eq!(clash.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&clash.stderr).contains("Inbox"));
    assert!(!dir.path().join("inbox").exists());
}

/// This checkout's working tree (tracked files and new ones not ignored) committed
/// into a fresh git repository: what a `file://` URL then serves is the code under
/// test, whatever the checkout's own history (uncommitted changes, a shallow clone).
fn snapshot_repository(root: &std::path::Path) -> tempfile::TempDir {
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=bulwark-test",
                "-c",
                "user.email=test@localhost",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let files = git(
        root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    let repo = tempfile::tempdir().expect("tempdir");
    for file in files.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let rel = std::str::from_utf8(file).expect("utf-8 path");
        let from = root.join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = repo.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&from, &to).expect("copy");
    }
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "snapshot"]);
    repo
}

/// Where Bulwark lives is one setting, and a git URL is one: the project's `bulwark`
/// dependency names the repository (no path into a checkout anywhere), and
/// `bulwark build` finds Bulwark's contracts through what Cargo fetched, links
/// `lib/bulwark/contracts` there, and compiles the contract with the pinned tools (of
/// the checkout this binary was built from: Cargo's copy has none installed).
#[test]
fn a_git_url_is_the_one_setting_and_build_follows_it() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("checkout");
    assert!(
        root.join(".git").exists(),
        "this test snapshots the checkout with git ls-files; run it in a git clone ({})",
        root.display()
    );
    let repo = snapshot_repository(&root);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("git-avs");
    let url = format!("file://{}", repo.path().display());
    let out = Command::new(BIN)
        .args([
            "new",
            "git-avs",
            "--template",
            "hello",
            "--bulwark",
            &url,
            "--path",
        ])
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
    assert!(manifest.contains(&format!("git = \"{url}\"")), "{manifest}");
    // The URL, once; no path into this checkout anywhere.
    let root_text = root.display().to_string();
    for file in ["Cargo.toml", "foundry.toml", "bulwark.toml", "README.md"] {
        let text = std::fs::read_to_string(dest.join(file)).expect(file);
        assert_eq!(text.matches(&root_text).count(), 0, "{file}: {text}");
        assert_eq!(
            text.matches(&url).count(),
            usize::from(file == "Cargo.toml"),
            "{file}: {text}"
        );
    }
    // The links are made once Cargo has the repository.
    assert!(std::fs::symlink_metadata(dest.join("lib/bulwark/contracts")).is_err());

    let out = Command::new(BIN)
        .args(["build", "--contracts-only"])
        .current_dir(&dest)
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let link = std::fs::read_link(dest.join("lib/bulwark/contracts")).expect("lib/bulwark");
    assert!(
        !link.starts_with(&root) && !link.starts_with(repo.path()),
        "Cargo's checkout of the repository, not a folder on this machine: {}",
        link.display()
    );
    assert!(
        link.join("src/avs/NoChallenges.sol").exists(),
        "{}",
        link.display()
    );
    // Its tools are this checkout's (Cargo's copy has none installed).
    assert_eq!(
        std::fs::read_link(dest.join("lib/bulwark/tools")).expect("tools"),
        root.join("tools")
    );
    assert!(text.contains("artifacts/GitAVS.json"), "{text}");
    assert!(dest.join("out/GitAVS.sol/GitAVS.json").exists(), "{text}");
}
