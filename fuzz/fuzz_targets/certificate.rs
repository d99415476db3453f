//! Certificates as the contracts take them: `respondToTask` calldata and the ABI
//! `Certificate` struct, with the EIP-2537 points in them decoded as the registry
//! reader decodes keys (`bulwark_chain::points`).
//!
//! What decodes re-encodes to bytes that decode to the same value; a point that passes
//! the curve and subgroup checks encodes back to exactly its input.

#![no_main]

use alloy::sol_types::{SolCall, SolValue};
use bulwark_chain::bindings::BLS::G1Point;
use bulwark_chain::bindings::BasicAVS::respondToTaskCall;
use bulwark_chain::bindings::CertificateVerifier::Certificate;
use bulwark_chain::points;
use bulwark_crypto::Signature;
use libfuzzer_sys::fuzz_target;

/// Non-signer keys checked per certificate (each is a G2 subgroup check).
const MAX_KEYS: usize = 8;

fn g1_bytes(p: &G1Point) -> Vec<u8> {
    [p.xHi, p.xLo, p.yHi, p.yLo]
        .iter()
        .flat_map(|w| w.to_be_bytes::<32>())
        .collect()
}

fn check_points(cert: &Certificate) {
    let keys = std::iter::once(&cert.aggregateKey)
        .chain(cert.nonSigners.iter().map(|n| &n.publicKey))
        .take(MAX_KEYS + 1);
    for point in keys {
        if let Ok(key) = points::public_key(point) {
            assert_eq!(
                points::g2_bytes(&points::g2_point(&key)),
                points::g2_bytes(point)
            );
        }
    }
    let bytes = g1_bytes(&cert.signature);
    if let Ok(signature) = Signature::from_eip2537(&bytes) {
        assert_eq!(g1_bytes(&points::g1_point(&signature)), bytes);
        assert_eq!(signature.to_eip2537().to_vec(), bytes);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(call) = respondToTaskCall::abi_decode(data) {
        let canonical = call.abi_encode();
        let again = respondToTaskCall::abi_decode(&canonical).expect("an encoding decodes");
        assert_eq!(again.abi_encode(), canonical);
        check_points(&call.cert);
    }
    if let Ok(cert) = Certificate::abi_decode(data) {
        let canonical = cert.abi_encode();
        let again = Certificate::abi_decode(&canonical).expect("an encoding decodes");
        assert_eq!(again.abi_encode(), canonical);
        check_points(&cert);
    }
});
