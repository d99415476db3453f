//! `bulwark keys` as scripts use it: exit codes, password sources, and no secret on
//! any output.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

fn bulwark(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .stdin(Stdio::null())
        .output()
        .expect("run bulwark")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn generate_list_show_and_the_exit_codes_of_mistakes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct horse\n").expect("write");
    let pw = pw.to_str().expect("utf-8");

    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "generate",
            "op1",
            "--kdf",
            "pbkdf2",
            "--password-file",
            pw,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let public_key = line
        .split_whitespace()
        .nth(1)
        .expect("public key")
        .to_string();
    assert!(
        public_key.starts_with("0x") && public_key.len() == 2 + 192,
        "{line}"
    );
    assert!(!text(&out).contains("correct horse"));

    // The same name again would overwrite: refused with 5.
    let again = bulwark(
        dir.path(),
        &[
            "keys",
            "generate",
            "op1",
            "--kdf",
            "pbkdf2",
            "--password-file",
            pw,
        ],
    );
    assert_eq!(again.status.code(), Some(5), "{}", text(&again));

    let list = bulwark(dir.path(), &["keys", "list", "--json"]);
    assert_eq!(list.status.code(), Some(0));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(listed[0]["name"], "op1");
    assert_eq!(listed[0]["public_key"], public_key.as_str());

    let show = bulwark(
        dir.path(),
        &["keys", "show", "op1", "--check", "--password-file", pw],
    );
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    assert!(text(&show).contains("opens it"));

    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "battery staple\n").expect("write");
    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "show",
            "op1",
            "--check",
            "--password-file",
            wrong.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("wrong password"));

    let out = bulwark(dir.path(), &["keys", "show", "op9"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("bulwark keys list"), "says what to do");

    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "show",
            "op1",
            "--check",
            "--password-file",
            "/nonexistent/pw",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    // No password source and no terminal: a usage error, not a hang.
    let out = bulwark(dir.path(), &["keys", "generate", "op2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--password-file"));

    let out = bulwark(
        dir.path(),
        &["keys", "generate", "../escape", "--password-file", pw],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn import_from_a_secret_file_and_from_another_keystore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret.hex");
    let key = bulwark_crypto::SecretKey::from_ikm(&[42; 32]).expect("key");
    std::fs::write(&secret, format!("0x{}\n", hex::encode(*key.to_bytes()))).expect("write");
    let expected = format!("0x{}", hex::encode(key.public_key().to_bytes()));
    std::fs::write(dir.path().join("pw"), "pw-one").expect("write");
    std::fs::write(dir.path().join("pw2"), "pw-two").expect("write");
    let pw = dir.path().join("pw");
    let pw2 = dir.path().join("pw2");

    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "import",
            "imported",
            "--kdf",
            "pbkdf2",
            "--secret-file",
            secret.to_str().expect("utf-8"),
            "--password-file",
            pw.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&expected));
    assert!(
        !text(&out).contains(&hex::encode(*key.to_bytes())),
        "secret printed"
    );

    // Re-encrypt that keystore under another name and password.
    let source = dir.path().join("keys/imported.json");
    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "import",
            "copy",
            "--kdf",
            "pbkdf2",
            "--keystore",
            source.to_str().expect("utf-8"),
            "--source-password-file",
            pw.to_str().expect("utf-8"),
            "--password-file",
            pw2.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&expected));

    // The wrong source password is exit 3.
    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "import",
            "copy2",
            "--kdf",
            "pbkdf2",
            "--keystore",
            source.to_str().expect("utf-8"),
            "--source-password-file",
            pw2.to_str().expect("utf-8"),
            "--password-file",
            pw2.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "not hex").expect("write");
    let out = bulwark(
        dir.path(),
        &[
            "keys",
            "import",
            "bad",
            "--secret-file",
            garbage.to_str().expect("utf-8"),
            "--password-file",
            pw.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
