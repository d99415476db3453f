//! gRPC `SubmitReport` requests (phase one of a two-phase task): protobuf bytes ->
//! request -> checked report, with the same properties as the `submission` target.

#![no_main]

use bulwark_net::proto::SubmitReportRequest;
use bulwark_net::submission;
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// The aggregator's default `max_response_bytes`, which bounds reports too.
const MAX_REPORT_BYTES: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = SubmitReportRequest::decode(data) else {
        return;
    };
    let reencoded = SubmitReportRequest::decode(request.encode_to_vec().as_slice())
        .expect("a re-encoded request decodes");
    assert_eq!(reencoded, request);

    let Ok(report) = submission::decode_report(request.clone(), MAX_REPORT_BYTES) else {
        return;
    };
    assert!(report.report.len() <= MAX_REPORT_BYTES);
    let wire = submission::encode_report(&report);
    // A signature has two wire forms (48 compressed, 96 uncompressed bytes) and
    // no other: the request carried one of them, and the encoding is the rest of
    // the request with the uncompressed one.
    assert!(
        request.signature == report.signature.to_bytes()
            || request.signature == report.signature.to_uncompressed(),
        "an accepted signature is in one of its two encodings"
    );
    assert_eq!(
        wire,
        SubmitReportRequest {
            session: Vec::new(),
            signature: report.signature.to_uncompressed().to_vec(),
            ..request
        },
        "an accepted request is its report's encoding"
    );
    let again = submission::decode_report(wire, MAX_REPORT_BYTES).expect("an encoding decodes");
    assert_eq!(again, report);
});
