//! The two test vectors published in EIP-2335, and wrong-password handling.

use bulwark_crypto::SecretKey;
use bulwark_crypto::keystore::{Kdf, Keystore, KeystoreError};

/// "testpassword🔑" in Mathematical Fraktur, as the EIP writes it.
const PASSWORD: &str = "\u{1d531}\u{1d522}\u{1d530}\u{1d531}\u{1d52d}\u{1d51e}\u{1d530}\u{1d530}\u{1d534}\u{1d52c}\u{1d52f}\u{1d521}\u{1f511}";
const SECRET: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";

const SCRYPT: &str = r#"{
    "crypto": {
        "kdf": {
            "function": "scrypt",
            "params": {"dklen": 32, "n": 262144, "p": 1, "r": 8,
                       "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"},
            "message": ""
        },
        "checksum": {"function": "sha256", "params": {},
                     "message": "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484"},
        "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
                   "message": "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f"}
    },
    "description": "This is a test keystore that uses scrypt to secure the secret.",
    "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
    "path": "m/12381/60/3141592653/589793238",
    "uuid": "1d85ae20-35c5-4611-98e8-aa14a633906f",
    "version": 4
}"#;

const PBKDF2: &str = r#"{
    "crypto": {
        "kdf": {
            "function": "pbkdf2",
            "params": {"dklen": 32, "c": 262144, "prf": "hmac-sha256",
                       "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"},
            "message": ""
        },
        "checksum": {"function": "sha256", "params": {},
                     "message": "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1"},
        "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
                   "message": "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad"}
    },
    "description": "This is a test keystore that uses PBKDF2 to secure the secret.",
    "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
    "path": "m/12381/60/0/0",
    "uuid": "64625def-3331-4eea-ab6f-782f3ed16a83",
    "version": 4
}"#;

#[test]
fn eip2335_scrypt_vector_decrypts() {
    let sk = Keystore::from_json(SCRYPT)
        .expect("parse")
        .decrypt(PASSWORD)
        .expect("decrypt");
    assert_eq!(hex::encode(*sk.to_bytes()), SECRET);
}

#[test]
fn eip2335_pbkdf2_vector_decrypts_and_wrong_password_fails() {
    let ks = Keystore::from_json(PBKDF2).expect("parse");
    assert_eq!(ks.path(), "m/12381/60/0/0");
    let sk = ks.decrypt(PASSWORD).expect("decrypt");
    assert_eq!(hex::encode(*sk.to_bytes()), SECRET);
    assert!(matches!(
        ks.decrypt("testpassword"),
        Err(KeystoreError::WrongPassword)
    ));
}

#[test]
fn a_pubkey_that_is_not_the_secrets_is_refused() {
    let other = SecretKey::from_ikm(&[8u8; 32]).expect("ikm");
    let json = PBKDF2.replace(
        "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
        &hex::encode(other.public_key().to_bytes()),
    );
    let ks = Keystore::from_json(&json).expect("parse");
    assert!(matches!(
        ks.decrypt(PASSWORD),
        Err(KeystoreError::PubkeyMismatch(_))
    ));
}

#[test]
fn our_keystores_round_trip_with_both_kdfs() {
    let sk = SecretKey::random().expect("rng");
    for kdf in [
        Kdf::Scrypt {
            n: 1 << 10,
            r: 8,
            p: 1,
        },
        Kdf::Pbkdf2 { c: 1 << 10 },
    ] {
        let ks = Keystore::encrypt(&sk, "hunter2 \u{1f511}", kdf, "m/12381/3600/0/0/0")
            .expect("encrypt")
            .with_description("operator key");
        let json = ks.to_json();
        assert!(
            !json.contains(&hex::encode(*sk.to_bytes())),
            "secret must not be in the file"
        );
        let back = Keystore::from_json(&json).expect("parse");
        assert_eq!(
            back.decrypt("hunter2 \u{1f511}")
                .expect("decrypt")
                .public_key(),
            sk.public_key()
        );
        assert!(matches!(
            back.decrypt("hunter3 \u{1f511}"),
            Err(KeystoreError::WrongPassword)
        ));
        assert!(matches!(
            back.decrypt(""),
            Err(KeystoreError::WrongPassword)
        ));
    }
}

#[test]
fn malformed_files_are_clear_errors() {
    assert!(matches!(
        Keystore::from_json("{}"),
        Err(KeystoreError::Json(_))
    ));
    assert!(matches!(
        Keystore::from_json("not json"),
        Err(KeystoreError::Json(_))
    ));
    let bad_cipher = PBKDF2.replace("aes-128-ctr", "aes-256-gcm");
    assert!(matches!(
        Keystore::from_json(&bad_cipher)
            .expect("parse")
            .decrypt(PASSWORD),
        Err(KeystoreError::UnsupportedFunction {
            module: "cipher",
            ..
        })
    ));
    let short_iv = PBKDF2.replace("264daa3f303d7259501c93d997d84fe6", "264daa");
    assert!(matches!(
        Keystore::from_json(&short_iv)
            .expect("parse")
            .decrypt(PASSWORD),
        Err(KeystoreError::InvalidParameter { .. })
    ));
}
