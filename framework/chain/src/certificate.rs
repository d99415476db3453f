//! Builds the certificate a task manager checks, and submits it.

use std::collections::BTreeSet;

use alloy::primitives::{Address, Bytes, TxHash, U256};
use alloy::providers::Provider;
use bulwark_crypto::Signature;

use crate::bindings::BasicAVS::{self, BasicAVSErrors};
use crate::bindings::CertificateVerifier::{Certificate, NonSigner};
use crate::registry::OperatorSet;
use crate::{ChainError, points};

/// A certificate for `set` where exactly the members in `signers` signed and
/// `signature` is the aggregate of their signatures. Non-signers are every other
/// member, in address order, with their checkpoint hints and keys.
pub fn build_certificate(
    set: &OperatorSet,
    signers: &BTreeSet<Address>,
    signature: &Signature,
) -> Result<Certificate, ChainError> {
    let aggregate = set.aggregate_key()?;
    let non_signers = set
        .operators
        .iter()
        .filter(|e| !signers.contains(&e.address))
        .map(|e| NonSigner {
            operator: e.address,
            hint: e.hint,
            publicKey: points::g2_point(&e.public_key),
        })
        .collect();
    Ok(Certificate {
        referenceBlock: set.block,
        setHint: set.set_hint,
        aggregateKey: points::g2_from_eip2537(&aggregate.to_eip2537()),
        signature: points::g1_point(signature),
        nonSigners: non_signers,
    })
}

/// How a submission ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    /// The response was accepted in this transaction.
    Accepted(TxHash),
    /// Someone (another aggregator, or an earlier try of ours) answered first: the
    /// task is done, which is what the caller wanted.
    AlreadyResponded,
}

/// Submits `response` with `certificate` to task `task_id` of the AVS at `avs`.
pub async fn submit_response<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    task_id: U256,
    response: &[u8],
    certificate: Certificate,
) -> Result<Submission, ChainError> {
    let contract = BasicAVS::new(avs, provider.clone());
    let call = contract.respondToTask(task_id, Bytes::copy_from_slice(response), certificate);
    let pending = match call.send().await {
        Ok(p) => p,
        Err(e) if already_responded(&e) => return Ok(Submission::AlreadyResponded),
        Err(e) => return Err(e.into()),
    };
    let receipt = crate::devnet::mined(provider, pending).await?;
    Ok(Submission::Accepted(receipt.transaction_hash))
}

fn already_responded(e: &alloy::contract::Error) -> bool {
    matches!(
        e.as_decoded_interface_error::<BasicAVSErrors>(),
        Some(BasicAVSErrors::TaskAlreadyResponded(_))
    )
}
