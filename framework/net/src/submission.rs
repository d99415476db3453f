//! Turning wire requests into checked [`SignedResponse`]s, and engine verdicts into
//! wire statuses.
//!
//! # Security
//! Requests come from anyone who can reach the port. Every field is length-checked
//! before use, the digest must be keccak256 of the response, and the signature must
//! decode to a subgroup point; anything else is `MALFORMED` with a reason, never a
//! panic or a dropped connection.

use bulwark_core::{
    OperatorId, Outcome, Rejection, ReportOutcome, ReportRejection, ResponseDigest, SignedReport,
    SignedResponse,
};
use bulwark_crypto::Signature;

use crate::proto::{
    SubmissionStatus, SubmitReportRequest, SubmitResponseReply, SubmitResponseRequest,
};

/// Why a request could not be turned into a submission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// The operator field is not 20 bytes.
    #[error("operator must be 20 bytes, got {0}")]
    Operator(usize),
    /// The digest field is not 32 bytes.
    #[error("digest must be 32 bytes, got {0}")]
    DigestLength(usize),
    /// The digest is not keccak256 of the response.
    #[error("digest is not keccak256(response)")]
    DigestMismatch,
    /// The signature does not decode.
    #[error("signature: {0}")]
    Signature(bulwark_crypto::Error),
    /// The response is larger than allowed.
    #[error("response of {0} bytes exceeds the limit of {1}")]
    ResponseTooLarge(usize, usize),
}

/// Checks and decodes a request.
pub fn decode(
    req: SubmitResponseRequest,
    max_response_bytes: usize,
) -> Result<SignedResponse, Malformed> {
    let operator: [u8; 20] = req
        .operator
        .as_slice()
        .try_into()
        .map_err(|_| Malformed::Operator(req.operator.len()))?;
    if req.response.len() > max_response_bytes {
        return Err(Malformed::ResponseTooLarge(
            req.response.len(),
            max_response_bytes,
        ));
    }
    let digest: [u8; 32] = req
        .digest
        .as_slice()
        .try_into()
        .map_err(|_| Malformed::DigestLength(req.digest.len()))?;
    if ResponseDigest::of(&req.response) != ResponseDigest(digest) {
        return Err(Malformed::DigestMismatch);
    }
    let signature = Signature::from_wire(&req.signature).map_err(Malformed::Signature)?;
    Ok(SignedResponse {
        task_id: req.task_id,
        operator: OperatorId(operator),
        response: req.response,
        signature,
    })
}

/// Checks and decodes a report (phase one of a two-phase task).
pub fn decode_report(
    req: SubmitReportRequest,
    max_report_bytes: usize,
) -> Result<SignedReport, Malformed> {
    let operator: [u8; 20] = req
        .operator
        .as_slice()
        .try_into()
        .map_err(|_| Malformed::Operator(req.operator.len()))?;
    if req.report.len() > max_report_bytes {
        return Err(Malformed::ResponseTooLarge(
            req.report.len(),
            max_report_bytes,
        ));
    }
    let signature = Signature::from_wire(&req.signature).map_err(Malformed::Signature)?;
    Ok(SignedReport {
        task_id: req.task_id,
        operator: OperatorId(operator),
        report: req.report,
        signature,
    })
}

/// Encodes a report for the wire, without a session (the client adds its own).
pub fn encode_report(report: &SignedReport) -> SubmitReportRequest {
    SubmitReportRequest {
        task_id: report.task_id,
        operator: report.operator.0.to_vec(),
        report: report.report.clone(),
        signature: report.signature.to_uncompressed().to_vec(),
        session: Vec::new(),
    }
}

/// The reply for a report's verdict.
pub fn report_reply(verdict: &Result<ReportOutcome, ReportRejection>) -> SubmitResponseReply {
    let (status, detail) = match verdict {
        Ok(ReportOutcome::Accepted) => (SubmissionStatus::Accepted, "report accepted".into()),
        Ok(ReportOutcome::Duplicate) => (SubmissionStatus::Duplicate, "already received".into()),
        Err(r) => (
            match r {
                ReportRejection::UnknownTask(_) => SubmissionStatus::UnknownTask,
                ReportRejection::Closed(_) | ReportRejection::TooLate { .. } => {
                    SubmissionStatus::TooLate
                }
                ReportRejection::UnknownOperator(_) => SubmissionStatus::UnknownOperator,
                ReportRejection::Conflicting(_) => SubmissionStatus::Conflicting,
                ReportRejection::BadSignature(_) => SubmissionStatus::BadSignature,
                ReportRejection::Malformed(_) => SubmissionStatus::Malformed,
            },
            r.to_string(),
        ),
    };
    SubmitResponseReply {
        status: status as i32,
        detail,
    }
}

/// Encodes a submission for the wire, without a session (the client adds its own).
/// The signature goes uncompressed: 48 more bytes spare the aggregator a square root.
pub fn encode(sub: &SignedResponse) -> SubmitResponseRequest {
    SubmitResponseRequest {
        task_id: sub.task_id,
        operator: sub.operator.0.to_vec(),
        response: sub.response.clone(),
        digest: ResponseDigest::of(&sub.response).0.to_vec(),
        signature: sub.signature.to_uncompressed().to_vec(),
        session: Vec::new(),
    }
}

/// The reply for an engine verdict.
pub fn reply(verdict: &Result<Outcome, Rejection>) -> SubmitResponseReply {
    let (status, detail) = match verdict {
        Ok(Outcome::Pending) => (SubmissionStatus::Accepted, "accepted".to_string()),
        Ok(Outcome::Certified(c)) => (
            SubmissionStatus::Accepted,
            format!("accepted; certificate for task {} complete", c.task_id),
        ),
        Ok(Outcome::Duplicate) => (SubmissionStatus::Duplicate, "already received".to_string()),
        Err(r) => (
            match r {
                Rejection::UnknownTask(_) => SubmissionStatus::UnknownTask,
                Rejection::AlreadyCertified(_) => SubmissionStatus::AlreadyCertified,
                Rejection::TooLate { .. } => SubmissionStatus::TooLate,
                Rejection::UnknownOperator(_) => SubmissionStatus::UnknownOperator,
                Rejection::Conflicting { .. } => SubmissionStatus::Conflicting,
                Rejection::BadSignature(_) => SubmissionStatus::BadSignature,
                Rejection::Malformed(_) => SubmissionStatus::Malformed,
            },
            r.to_string(),
        ),
    };
    SubmitResponseReply {
        status: status as i32,
        detail,
    }
}

/// The reply for a request that did not decode.
pub fn malformed(err: &Malformed) -> SubmitResponseReply {
    SubmitResponseReply {
        status: SubmissionStatus::Malformed as i32,
        detail: err.to_string(),
    }
}

/// A short lowercase name for `status` (`accepted`, `bad_signature`, …), for metric
/// labels and logs.
pub fn label(status: SubmissionStatus) -> &'static str {
    match status {
        SubmissionStatus::Unspecified => "unspecified",
        SubmissionStatus::Accepted => "accepted",
        SubmissionStatus::Duplicate => "duplicate",
        SubmissionStatus::UnknownTask => "unknown_task",
        SubmissionStatus::UnknownOperator => "unknown_operator",
        SubmissionStatus::BadSignature => "bad_signature",
        SubmissionStatus::TooLate => "too_late",
        SubmissionStatus::Malformed => "malformed",
        SubmissionStatus::AlreadyCertified => "already_certified",
        SubmissionStatus::Conflicting => "conflicting",
        SubmissionStatus::Unavailable => "unavailable",
        SubmissionStatus::Unauthenticated => "unauthenticated",
    }
}
