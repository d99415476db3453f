//! The oracle's own offence, `FAR_ENDORSEMENT`: an operator endorsed, for a round, a
//! value farther from the value of its own signed report of that round than the
//! feed's tolerance on chain. Both messages are signed by the operator, so no one
//! else's data can make an honest operator slashable; and honest operators never
//! endorse beyond the tolerance they read on chain ([`crate::round::Oracle`]).
//!
//! # Security
//! Evidence comes from peers and files: decoded with the same strictness as the
//! contract (exactly 128-byte answers in their one encoding, subgroup points) and
//! trusted only after [`SlashingProof::verify`] (`OracleProofVerifier` on chain). `verify` takes the tolerance the proof
//! carries; the contract holds the proof to its own (`toleranceFor`), and a challenger
//! reads that before paying for a transaction ([`tolerance_for`]).

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use bulwark::chain::points;
use bulwark::chain::slashing::{EvidenceError, decode_evidence, encode_evidence};
use bulwark::core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark::crypto::{Domain, PublicKey, Signature};

use crate::round::RoundAnswer;

/// `keccak256("bulwark.offence.oracle.far-endorsement.v1")` (`OracleAVS.FAR_ENDORSEMENT`).
pub fn far_endorsement_offence() -> B256 {
    keccak256("bulwark.offence.oracle.far-endorsement.v1")
}

alloy::sol! {
    /// `OracleProofVerifier.FarEndorsement` (points as `uint256[4]` and `uint256[8]`,
    /// whose ABI is that of `BLS.G1Point` and `BLS.G2Point`).
    struct FarEndorsementAbi {
        uint256 chainId;
        address avs;
        uint256 taskId;
        address operator;
        uint256[8] publicKey;
        bytes report;
        uint256[4] reportSignature;
        bytes endorsed;
        uint256[4] endorsementSignature;
    }
}

/// An operator's report and its endorsement of one round, too far apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarEndorsement {
    /// The chain and AVS both were signed for.
    pub context: SigningContext,
    /// The round's task.
    pub task_id: u64,
    /// The offender.
    pub operator: OperatorId,
    /// Its key (the one registered at the task's reference block).
    pub public_key: PublicKey,
    /// Its report and the signature on it (report message).
    pub report: (RoundAnswer, Signature),
    /// What it endorsed and the signature on it (response message).
    pub endorsed: (RoundAnswer, Signature),
    /// The feed's tolerance for the task, in basis points (`OracleAVS.toleranceFor`).
    pub tolerance_bps: u16,
}

/// Why oracle evidence does not decode or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleProofError {
    /// Not `abi.encode(bytes32, bytes)` of a far endorsement.
    #[error("evidence does not decode: {0}")]
    Decode(String),
    /// The evidence names another offence.
    #[error("evidence is for offence {0}, not a far endorsement")]
    OtherOffence(B256),
    /// A chain id or task id over 64 bits.
    #[error("{0} out of range")]
    OutOfRange(&'static str),
    /// A report or endorsement is not a round answer in its one encoding.
    #[error("{0} is not a round answer")]
    NotAnAnswer(&'static str),
    /// A point is not a valid encoding of a subgroup point.
    #[error("{0}: {1}")]
    Point(&'static str, bulwark::crypto::Error),
    /// Report and endorsement are of different feeds or rounds.
    #[error("report and endorsement are of different rounds")]
    DifferentRounds,
    /// The feed has no tolerance: endorsements are not checked.
    #[error("no tolerance set")]
    NoTolerance,
    /// The endorsement is within the tolerance: no offence.
    #[error("endorsement is {deviation_bps} bps from the report, within {tolerance_bps} bps")]
    WithinTolerance {
        /// How far it is.
        deviation_bps: u128,
        /// The tolerance.
        tolerance_bps: u16,
    },
    /// A signature is not the key's on its message.
    #[error("the {0} signature is not the operator's")]
    InvalidSignature(&'static str),
}

impl From<EvidenceError> for OracleProofError {
    fn from(err: EvidenceError) -> Self {
        match err {
            EvidenceError::Decode(reason) => Self::Decode(reason),
            EvidenceError::OtherOffence(offence) => Self::OtherOffence(offence),
            EvidenceError::NotCanonical => Self::Decode(err.to_string()),
        }
    }
}

fn signature(words: &[U256; 4], what: &'static str) -> Result<Signature, OracleProofError> {
    points::signature_from_words(words).map_err(|e| OracleProofError::Point(what, e))
}

impl FarEndorsement {
    fn abi(&self) -> FarEndorsementAbi {
        FarEndorsementAbi {
            chainId: U256::from(self.context.chain_id),
            avs: Address::from(self.context.avs),
            taskId: U256::from(self.task_id),
            operator: Address::from(self.operator.0),
            publicKey: points::g2_words(&self.public_key),
            report: self.report.0.encode().into(),
            reportSignature: points::g1_words(&self.report.1),
            endorsed: self.endorsed.0.encode().into(),
            endorsementSignature: points::g1_words(&self.endorsed.1),
        }
    }

    /// Decodes evidence, with the tolerance the chain holds the task to (the
    /// evidence does not carry it: the contract reads its own).
    pub fn decode_with(bytes: &[u8], tolerance_bps: u16) -> Result<Self, OracleProofError> {
        decode_evidence(bytes, far_endorsement_offence(), |e| {
            Self::from_abi(e, tolerance_bps)
        })
    }

    /// The proof an ABI struct holds, its answers and points checked.
    fn from_abi(e: FarEndorsementAbi, tolerance_bps: u16) -> Result<Self, OracleProofError> {
        let public_key = points::public_key_from_words(&e.publicKey)
            .map_err(|err| OracleProofError::Point("public key", err))?;
        Ok(Self {
            context: SigningContext {
                chain_id: e
                    .chainId
                    .try_into()
                    .map_err(|_| OracleProofError::OutOfRange("chain id"))?,
                avs: e.avs.into_array(),
            },
            task_id: e
                .taskId
                .try_into()
                .map_err(|_| OracleProofError::OutOfRange("task id"))?,
            operator: OperatorId(e.operator.into_array()),
            public_key,
            report: (
                RoundAnswer::decode(&e.report).ok_or(OracleProofError::NotAnAnswer("report"))?,
                signature(&e.reportSignature, "report signature")?,
            ),
            endorsed: (
                RoundAnswer::decode(&e.endorsed)
                    .ok_or(OracleProofError::NotAnAnswer("endorsement"))?,
                signature(&e.endorsementSignature, "endorsement signature")?,
            ),
            tolerance_bps,
        })
    }
}

impl SlashingProof for FarEndorsement {
    type Error = OracleProofError;

    fn offender(&self) -> OperatorId {
        self.operator
    }

    fn encode(&self) -> Vec<u8> {
        encode_evidence(far_endorsement_offence(), &self.abi())
    }

    /// Decodes with no tolerance: [`SlashingProof::verify`] then refuses it until the
    /// caller sets the chain's (see [`FarEndorsement::decode_with`]).
    fn decode(bytes: &[u8]) -> Result<Self, OracleProofError> {
        Self::decode_with(bytes, 0)
    }

    fn verify(&self) -> Result<(), OracleProofError> {
        let (report, endorsed) = (&self.report.0, &self.endorsed.0);
        if report.feed != endorsed.feed || report.round != endorsed.round {
            return Err(OracleProofError::DifferentRounds);
        }
        if self.tolerance_bps == 0 {
            return Err(OracleProofError::NoTolerance);
        }
        if report.price.0 == 0 {
            return Err(OracleProofError::NotAnAnswer("report"));
        }
        if endorsed.price.0 == 0 {
            return Err(OracleProofError::NotAnAnswer("endorsement"));
        }
        // Exact, rounded up, as `OracleProofVerifier.deviationBps`.
        let deviation_bps = report.price.deviation_bps(endorsed.price);
        if deviation_bps <= u128::from(self.tolerance_bps) {
            return Err(OracleProofError::WithinTolerance {
                deviation_bps,
                tolerance_bps: self.tolerance_bps,
            });
        }
        let report_message = self
            .context
            .report_message(self.task_id, &ResponseDigest::of(&report.encode()));
        self.public_key
            .verify(&Domain::SIGNATURE, &report_message, &self.report.1)
            .map_err(|_| OracleProofError::InvalidSignature("report"))?;
        let endorsement = self
            .context
            .message(self.task_id, &ResponseDigest::of(&endorsed.encode()));
        self.public_key
            .verify(&Domain::SIGNATURE, &endorsement, &self.endorsed.1)
            .map_err(|_| OracleProofError::InvalidSignature("endorsement"))?;
        Ok(())
    }
}

/// The tolerance `OracleAVS` at `avs` holds `feed`'s endorsements to for a task with
/// reference block `reference_block` (0: not checked), as the chain stands at `at`:
/// a challenger reads it at the latest block (what its challenge will meet), an
/// operator at the reference block itself.
pub async fn tolerance_for<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    feed: B256,
    reference_block: u32,
    at: alloy::eips::BlockId,
) -> Result<u16, alloy::contract::Error> {
    crate::bindings::OracleAVS::new(avs, provider.clone())
        .toleranceFor(feed, reference_block)
        .block(at)
        .call()
        .await
}

/// The challenger's check of `FAR_ENDORSEMENT` evidence: decoded, held to the
/// tolerance the contract will read (`toleranceFor` at the task's reference block),
/// and verified, before a challenger pays for a transaction.
#[derive(Clone, Copy, Debug, Default)]
pub struct FarEndorsementCheck;

impl bulwark::node::challenger::OffenceCheck for FarEndorsementCheck {
    fn offence(&self) -> B256 {
        far_endorsement_offence()
    }

    fn offender(&self, evidence: &[u8]) -> Result<Address, String> {
        FarEndorsement::decode(evidence)
            .map(|p| Address::from(p.operator.0))
            .map_err(|e| e.to_string())
    }

    fn check<'a>(
        &'a self,
        task: bulwark::node::challenger::TaskContext<'a>,
        evidence: &'a [u8],
    ) -> bulwark::node::challenger::CheckFuture<'a> {
        use bulwark::node::challenger::{CheckError, Checked};
        Box::pin(async move {
            let invalid = |e: OracleProofError| CheckError::Invalid(e.to_string());
            let feed = FarEndorsement::decode(evidence)
                .map_err(invalid)?
                .report
                .0
                .feed;
            let latest = alloy::eips::BlockId::latest();
            let tolerance =
                tolerance_for(task.provider, task.avs, feed, task.reference_block, latest)
                    .await
                    .map_err(|e| CheckError::Failed(e.to_string()))?;
            let proof = FarEndorsement::decode_with(evidence, tolerance).map_err(invalid)?;
            if proof.context != task.context || proof.task_id != task.task_id {
                return Err(CheckError::Invalid("for another chain, AVS or task".into()));
            }
            proof.verify().map_err(invalid)?;
            Ok(Checked {
                operator: Address::from(proof.operator.0),
                public_key: proof.public_key,
            })
        })
    }
}
