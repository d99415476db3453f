//! BLS12-381 point and scalar encodings (`bulwark_crypto::encoding`): compressed G1
//! signatures and proofs of possession, compressed G2 public keys, both as EIP-2537,
//! secret-key scalars, and the `0x` hex and JSON forms of each.
//!
//! Every byte string decodes to at most one point and back to itself: a decoder that
//! accepts an input encodes the result to exactly that input (no malleable encodings).

#![no_main]

use bulwark_crypto::{ProofOfPossession, PublicKey, SecretKey, Signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sig) = Signature::from_bytes(data) {
        assert_eq!(sig.to_bytes().as_slice(), data);
        assert_eq!(
            Signature::from_eip2537(&sig.to_eip2537()).expect("round trip"),
            sig
        );
    }
    if let Ok(pop) = ProofOfPossession::from_bytes(data) {
        assert_eq!(pop.to_bytes().as_slice(), data);
    }
    if let Ok(pk) = PublicKey::from_bytes(data) {
        assert_eq!(pk.to_bytes().as_slice(), data);
        assert_eq!(
            PublicKey::from_eip2537(&pk.to_eip2537()).expect("round trip"),
            pk
        );
    }
    if let Ok(sig) = Signature::from_eip2537(data) {
        assert_eq!(sig.to_eip2537().as_slice(), data);
    }
    if let Ok(pk) = PublicKey::from_eip2537(data) {
        assert_eq!(pk.to_eip2537().as_slice(), data);
    }
    if let Ok(sk) = SecretKey::from_bytes(data) {
        assert_eq!(sk.to_bytes().as_slice(), data);
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pk) = text.parse::<PublicKey>() {
        assert_eq!(pk.to_string().parse::<PublicKey>().expect("round trip"), pk);
        let json = serde_json::to_string(&pk).expect("serialises");
        assert_eq!(
            serde_json::from_str::<PublicKey>(&json).expect("round trip"),
            pk
        );
    }
    if let Ok(sig) = text.parse::<Signature>() {
        assert_eq!(
            sig.to_string().parse::<Signature>().expect("round trip"),
            sig
        );
    }
    let _ = serde_json::from_str::<PublicKey>(text);
    let _ = serde_json::from_str::<Signature>(text);
    let _ = serde_json::from_str::<ProofOfPossession>(text);
});
