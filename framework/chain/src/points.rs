//! Conversions between bulwark-crypto points and the contracts' EIP-2537 structs.

use alloy::primitives::U256;
use bulwark_crypto::{PublicKey, Signature};

use crate::bindings::BLS;

fn words<const N: usize>(bytes: &[u8]) -> [U256; N] {
    let mut out = [U256::ZERO; N];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(32)) {
        *word = U256::from_be_slice(chunk);
    }
    out
}

fn bytes_of(words: &[U256]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect()
}

/// The contract struct for a G2 public key.
pub fn g2_point(key: &PublicKey) -> BLS::G2Point {
    g2_from_eip2537(&key.to_eip2537())
}

/// The contract struct for 256 EIP-2537 bytes of a G2 point.
pub fn g2_from_eip2537(bytes: &[u8; 256]) -> BLS::G2Point {
    let [a, b, c, d, e, f, g, h] = words::<8>(bytes);
    BLS::G2Point {
        x0Hi: a,
        x0Lo: b,
        x1Hi: c,
        x1Lo: d,
        y0Hi: e,
        y0Lo: f,
        y1Hi: g,
        y1Lo: h,
    }
}

/// The contract struct for a G1 signature (or proof of possession).
pub fn g1_point(signature: &Signature) -> BLS::G1Point {
    let [a, b, c, d] = words::<4>(&signature.to_eip2537());
    BLS::G1Point {
        xHi: a,
        xLo: b,
        yHi: c,
        yLo: d,
    }
}

/// A signature as the four words of its EIP-2537 encoding: the ABI of `BLS.G1Point`,
/// and of `uint256[4]`, which slashing proofs use.
pub fn g1_words(signature: &Signature) -> [U256; 4] {
    words::<4>(&signature.to_eip2537())
}

/// A key as the eight words of its EIP-2537 encoding (`BLS.G2Point`, `uint256[8]`).
pub fn g2_words(key: &PublicKey) -> [U256; 8] {
    words::<8>(&key.to_eip2537())
}

/// Decodes and validates (subgroup included) a signature from its four words.
pub fn signature_from_words(words: &[U256; 4]) -> Result<Signature, bulwark_crypto::Error> {
    Signature::from_eip2537(&bytes_of(words))
}

/// Decodes and validates (subgroup included) a key from its eight words.
pub fn public_key_from_words(words: &[U256; 8]) -> Result<PublicKey, bulwark_crypto::Error> {
    PublicKey::from_eip2537(&bytes_of(words))
}

/// The EIP-2537 bytes of a contract G2 struct.
pub fn g2_bytes(p: &BLS::G2Point) -> Vec<u8> {
    bytes_of(&[
        p.x0Hi, p.x0Lo, p.x1Hi, p.x1Lo, p.y0Hi, p.y0Lo, p.y1Hi, p.y1Lo,
    ])
}

/// Decodes and validates a key read from a contract.
pub fn public_key(p: &BLS::G2Point) -> Result<PublicKey, bulwark_crypto::Error> {
    PublicKey::from_eip2537(&g2_bytes(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_crypto::SecretKey;

    #[test]
    fn keys_round_trip_through_the_struct() {
        let pk = SecretKey::from_ikm(&[1u8; 32]).expect("ikm").public_key();
        let p = g2_point(&pk);
        assert_eq!(public_key(&p).expect("valid"), pk);
        assert_eq!(g2_bytes(&p), pk.to_eip2537().to_vec());
    }
}
