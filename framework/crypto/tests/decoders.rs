//! No input bytes can panic a decoder: random and truncated bytes go to every one.

use bulwark_crypto::keystore::Keystore;
use bulwark_crypto::{
    Domain, PossessionBinding, ProofOfPossession, PublicKey, SecretKey, Signature,
};
use proptest::prelude::*;

/// Feeds `bytes` to every byte decoder; each must return, never panic.
fn decode_all(bytes: &[u8]) {
    let _ = PublicKey::from_bytes(bytes);
    let _ = PublicKey::from_eip2537(bytes);
    let _ = Signature::from_bytes(bytes);
    let _ = Signature::from_eip2537(bytes);
    let _ = ProofOfPossession::from_bytes(bytes);
    let _ = SecretKey::from_bytes(bytes);
    let _ = SecretKey::from_ikm(bytes);
    let _ = Domain::new(bytes.to_vec());
    let text = String::from_utf8_lossy(bytes);
    let _ = text.parse::<PublicKey>();
    let _ = text.parse::<Signature>();
    let _ = text.parse::<ProofOfPossession>();
    let _ = serde_json::from_slice::<PublicKey>(bytes);
    let _ = serde_json::from_slice::<Signature>(bytes);
    let _ = Keystore::from_json(&text);
}

fn valid_encodings() -> Vec<Vec<u8>> {
    let sk = SecretKey::from_ikm(&[42u8; 32]).expect("ikm");
    let pk = sk.public_key();
    let sig = sk.sign(&Domain::SIGNATURE, b"m");
    vec![
        pk.to_bytes().to_vec(),
        pk.to_eip2537().to_vec(),
        sig.to_bytes().to_vec(),
        sig.to_eip2537().to_vec(),
        sk.prove_possession(&PossessionBinding {
            chain_id: 1,
            registry: [1; 20],
            operator: [2; 20],
        })
        .to_bytes()
        .to_vec(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_all(&bytes);
    }

    #[test]
    fn truncated_and_corrupted_valid_encodings_never_panic_or_pass_as_others(
        which in 0usize..5, cut in 0usize..256, flip in any::<(usize, u8)>()
    ) {
        let encodings = valid_encodings();
        let valid = &encodings[which];
        let truncated = &valid[..cut.min(valid.len())];
        decode_all(truncated);
        if truncated.len() < valid.len() {
            prop_assert!(PublicKey::from_bytes(truncated).is_err());
            prop_assert!(Signature::from_bytes(truncated).is_err());
            prop_assert!(PublicKey::from_eip2537(truncated).is_err());
            prop_assert!(Signature::from_eip2537(truncated).is_err());
        }
        let mut corrupted = valid.clone();
        let i = flip.0 % corrupted.len();
        corrupted[i] ^= flip.1 | 1;
        decode_all(&corrupted);
    }

    #[test]
    fn hex_keystore_like_json_never_panics(s in "\\PC{0,400}") {
        let _ = Keystore::from_json(&s);
        let _ = s.parse::<PublicKey>();
    }
}

#[test]
fn keystore_json_with_hostile_fields_errors() {
    let cases = [
        r#"{"crypto":{"kdf":{"function":"scrypt","params":{},"message":""},"checksum":{"function":"sha256","params":{},"message":""},"cipher":{"function":"aes-128-ctr","params":{},"message":""}},"path":"","uuid":"1d85ae20-35c5-4611-98e8-aa14a633906f","version":4}"#,
        r#"{"crypto":{"kdf":{"function":"pbkdf2","params":{"dklen":32,"c":4294967295,"prf":"hmac-sha256","salt":""},"message":""},"checksum":{"function":"sha256","params":{},"message":"00"},"cipher":{"function":"aes-128-ctr","params":{"iv":"00000000000000000000000000000000"},"message":"00"}},"path":"","uuid":"1d85ae20-35c5-4611-98e8-aa14a633906f","version":4}"#,
    ];
    for json in cases {
        let ks = Keystore::from_json(json).expect("shape is fine");
        assert!(ks.decrypt("pw").is_err());
    }
}
