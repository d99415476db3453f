//! gRPC `SubmitResponse` requests: protobuf bytes -> request -> checked submission.
//!
//! A request that decodes must be exactly the wire form of the submission it decodes
//! to (no second encoding of one signature or operator is accepted), and that wire
//! form must decode to the same submission.

#![no_main]

use bulwark_net::proto::SubmitResponseRequest;
use bulwark_net::submission;
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// The aggregator's default `max_response_bytes`.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = SubmitResponseRequest::decode(data) else {
        return;
    };
    let reencoded = SubmitResponseRequest::decode(request.encode_to_vec().as_slice())
        .expect("a re-encoded request decodes");
    assert_eq!(reencoded, request);

    let Ok(signed) = submission::decode(request.clone(), MAX_RESPONSE_BYTES) else {
        return;
    };
    assert!(signed.response.len() <= MAX_RESPONSE_BYTES);
    let wire = submission::encode(&signed);
    // A signature has two wire forms (48 compressed, 96 uncompressed bytes) and
    // no other: the request carried one of them, and the encoding is the rest of
    // the request with the uncompressed one.
    assert!(
        request.signature == signed.signature.to_bytes()
            || request.signature == signed.signature.to_uncompressed(),
        "an accepted signature is in one of its two encodings"
    );
    assert_eq!(
        wire,
        SubmitResponseRequest {
            session: Vec::new(),
            signature: signed.signature.to_uncompressed().to_vec(),
            ..request
        },
        "an accepted request is its submission's encoding"
    );
    let again = submission::decode(wire, MAX_RESPONSE_BYTES).expect("an encoding decodes");
    assert_eq!(again, signed);
});
