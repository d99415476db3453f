//! EIP-2335 keystores: JSON -> keystore -> (with the password) secret key.
//!
//! A keystore that parses serialises to JSON that parses to the same keystore, and
//! both open alike. The decoder itself allows up to 1 GiB of scrypt memory and 2^24
//! PBKDF2 rounds; this target only decrypts keystores far below that (see
//! [`affordable`]), so a run spends its time on parsing, not on key derivation.

#![no_main]

use bulwark_crypto::keystore::Keystore;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The password the seed keystores are encrypted under (the EIP-2335 test vectors').
const PASSWORD: &str = "\u{1d531}\u{1d522}\u{1d530}\u{1d531}\u{1d52d}\u{1d51e}\u{1d530}\u{1d530}\u{1d534}\u{1d52c}\u{1d52f}\u{1d521}\u{1f511}";
/// Most scrypt memory (128 * n * r * p bytes) a decryption here may use.
const MAX_SCRYPT_MEMORY: u64 = 1 << 18;
/// Most PBKDF2 rounds a decryption here may use.
const MAX_PBKDF2_ROUNDS: u64 = 1 << 10;

/// Whether the KDF in `json` (a serialised keystore) is cheap enough to run. Parameters
/// that are missing or not integers are affordable: the decoder refuses them before
/// deriving anything.
fn affordable(json: &str) -> bool {
    let Ok(ks) = serde_json::from_str::<Value>(json) else {
        return false;
    };
    let kdf = &ks["crypto"]["kdf"];
    let param = |name: &str| kdf["params"][name].as_u64();
    match kdf["function"].as_str() {
        Some("scrypt") => match (param("n"), param("r"), param("p")) {
            (Some(n), Some(r), Some(p)) => {
                128u64.saturating_mul(n).saturating_mul(r).saturating_mul(p) <= MAX_SCRYPT_MEMORY
            }
            _ => true,
        },
        Some("pbkdf2") => param("c").is_none_or(|c| c <= MAX_PBKDF2_ROUNDS),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(keystore) = Keystore::from_json(text) else {
        return;
    };
    let json = keystore.to_json();
    let again = Keystore::from_json(&json).expect("a serialised keystore parses");
    assert_eq!(again.to_json(), json);
    assert_eq!(again.uuid(), keystore.uuid());
    assert_eq!(again.path(), keystore.path());
    assert_eq!(again.pubkey(), keystore.pubkey());

    if !affordable(&json) {
        return;
    }
    let opened = keystore.decrypt(PASSWORD).map(|sk| sk.public_key());
    let reopened = again.decrypt(PASSWORD).map(|sk| sk.public_key());
    match (&opened, &reopened) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!(
            "the keystore and its serialisation open differently: {opened:?} vs {reopened:?}"
        ),
    }
});
