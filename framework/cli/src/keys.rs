//! `bulwark keys`: BLS keys in EIP-2335 keystores, one file per key in a keys folder.
//!
//! Secrets never reach the terminal or the logs: passwords come from a file, an
//! environment variable or a hidden prompt, and only public keys are printed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bulwark_crypto::SecretKey;
use bulwark_crypto::keystore::{Kdf, Keystore, KeystoreError};

use crate::error::CliError;

/// Where a password comes from.
#[derive(Clone, Debug)]
pub enum PasswordSource {
    /// The first line of a file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A hidden prompt on the terminal (refused when stdin is not a terminal).
    Prompt,
}

impl PasswordSource {
    /// From the usual pair of flags: a file wins over a variable, else the prompt.
    pub fn from_flags(file: Option<PathBuf>, env: Option<String>) -> Self {
        match (file, env) {
            (Some(file), _) => PasswordSource::File(file),
            (None, Some(env)) => PasswordSource::Env(env),
            (None, None) => PasswordSource::Prompt,
        }
    }

    /// Reads the password; `confirm` asks twice at a prompt (for new keystores).
    pub fn read(&self, what: &str, confirm: bool) -> anyhow::Result<String> {
        let password = match self {
            PasswordSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CliError::NotFound(format!("password file {}: {e}", path.display()))
                })?;
                text.lines().next().unwrap_or_default().to_string()
            }
            PasswordSource::Env(name) => std::env::var(name).map_err(|_| {
                CliError::Usage(format!(
                    "environment variable {name} (the password) is not set"
                ))
            })?,
            PasswordSource::Prompt => {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    return Err(CliError::Usage(
                        "no password given and no terminal to ask on: pass --password-file or --password-env"
                            .into(),
                    )
                    .into());
                }
                let first = rpassword::prompt_password(format!("password for {what}: "))?;
                if confirm {
                    let again = rpassword::prompt_password("again: ")?;
                    if again != first {
                        return Err(CliError::Usage("the passwords differ".into()).into());
                    }
                }
                first
            }
        };
        if password.is_empty() {
            return Err(CliError::Usage(format!("the password for {what} is empty")).into());
        }
        Ok(password)
    }
}

/// The keys folder: `--keys-dir`, else `$BULWARK_HOME/keys`, else `~/.bulwark/keys`.
pub fn default_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("BULWARK_HOME") {
        return PathBuf::from(home).join("keys");
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".bulwark")
        .join("keys")
}

/// Key names become file names: letters, digits, `-` and `_` only, so no name can
/// point outside the folder.
fn check_name(name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "invalid key name {name:?}: use 1-64 letters, digits, '-' or '_'"
        )))
    }
}

/// The keystore file of `name` in `dir`.
pub fn path_of(dir: &Path, name: &str) -> Result<PathBuf, CliError> {
    check_name(name)?;
    Ok(dir.join(format!("{name}.json")))
}

/// A key as listed: name, public key (hex) and file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    /// The key's name (its file stem).
    pub name: String,
    /// The BLS public key (G2, compressed), `0x`-hex.
    pub public_key: String,
    /// The keystore file.
    pub path: PathBuf,
}

/// The key derivation for new keystores.
pub fn kdf(name: &str) -> Result<Kdf, CliError> {
    match name {
        "scrypt" => Ok(Kdf::default()),
        "pbkdf2" => Ok(Kdf::Pbkdf2 { c: 262_144 }),
        other => Err(CliError::Usage(format!(
            "unknown kdf {other:?}: use scrypt (default) or pbkdf2"
        ))),
    }
}

/// Encrypts `key` as `name` in `dir`; refuses to overwrite an existing keystore.
pub fn store(
    dir: &Path,
    name: &str,
    key: &SecretKey,
    password: &str,
    kdf: Kdf,
) -> anyhow::Result<KeyInfo> {
    let path = path_of(dir, name)?;
    if path.exists() {
        return Err(CliError::Exists(format!(
            "a key named {name} already exists ({}); pick another name or remove it",
            path.display()
        ))
        .into());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let keystore = Keystore::encrypt(key, password, kdf, "")?
        .with_description(format!("bulwark operator key {name}"));
    write_private(&path, &keystore.to_json())?;
    Ok(KeyInfo {
        name: name.into(),
        public_key: format!("0x{}", hex::encode(key.public_key().to_bytes())),
        path,
    })
}

/// Creates the file readable by its owner only (where the platform allows).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Reads and parses the keystore of `name`.
pub fn load(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, Keystore)> {
    let path = path_of(dir, name)?;
    let json = std::fs::read_to_string(&path).map_err(|_| {
        CliError::NotFound(format!(
            "no key named {name} in {} (see `bulwark keys list`)",
            dir.display()
        ))
    })?;
    let keystore =
        Keystore::from_json(&json).with_context(|| format!("reading {}", path.display()))?;
    Ok((path, keystore))
}

/// Opens a keystore file with `password`, mapping a wrong password to its exit code.
pub fn open(path: &Path, keystore: &Keystore, password: &str) -> anyhow::Result<SecretKey> {
    keystore.decrypt(password).map_err(|e| match e {
        KeystoreError::WrongPassword => CliError::WrongPassword(path.display().to_string()).into(),
        other => anyhow::Error::new(other).context(format!("opening {}", path.display())),
    })
}

/// Every keystore in `dir`, sorted by name; files that are not keystores are skipped.
pub fn list(dir: &Path) -> anyhow::Result<Vec<KeyInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if check_name(name).is_err() {
            continue;
        }
        let Ok(keystore) = std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|j| Keystore::from_json(&j).map_err(Into::into))
        else {
            continue;
        };
        keys.push(KeyInfo {
            name: name.to_string(),
            public_key: keystore
                .pubkey()
                .map(|p| format!("0x{p}"))
                .unwrap_or_else(|| "(not recorded)".into()),
            path,
        });
    }
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

/// Reads a raw secret key: 32 bytes of hex (with or without `0x`) on the first line.
pub fn secret_from_hex_file(path: &Path) -> anyhow::Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::NotFound(format!("secret key file {}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or_default().trim();
    let bytes = hex::decode(line.strip_prefix("0x").unwrap_or(line)).map_err(|_| {
        CliError::Usage(format!("{} does not hold a hex secret key", path.display()))
    })?;
    SecretKey::from_bytes(&bytes).map_err(|e| {
        CliError::Usage(format!("{} is not a BLS secret key: {e}", path.display())).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_folder() {
        for bad in ["", "../x", "a/b", "a b", ".hidden", &"x".repeat(65)] {
            assert!(path_of(Path::new("/k"), bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            path_of(Path::new("/k"), "op-1_a").expect("valid"),
            Path::new("/k/op-1_a.json")
        );
    }

    #[test]
    fn store_list_open_and_refuse_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SecretKey::from_ikm(&[5; 32]).expect("key");
        let fast = Kdf::Pbkdf2 { c: 16 };
        let info = store(dir.path(), "op1", &key, "pw", fast).expect("store");
        let err = store(dir.path(), "op1", &key, "pw", fast).expect_err("exists");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::EXISTS);
        std::fs::write(dir.path().join("notes.json"), "{}").expect("write");
        let listed = list(dir.path()).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].public_key, info.public_key);
        let (path, ks) = load(dir.path(), "op1").expect("load");
        let opened = open(&path, &ks, "pw").expect("open");
        assert_eq!(opened.public_key(), key.public_key());
        let err = open(&path, &ks, "nope").expect_err("wrong");
        assert_eq!(
            crate::error::exit_code(&err),
            crate::error::exit::WRONG_PASSWORD
        );
        let err = load(dir.path(), "op2").expect_err("missing");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::NOT_FOUND);
    }
}
