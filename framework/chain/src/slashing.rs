//! Slashing proofs and challenges: the evidence `TaskManager.challenge` takes, checked
//! off-chain exactly as the contract checks it, and submitted.
//!
//! Evidence is `abi.encode(bytes32 offence, bytes proof)`. Every AVS slashes
//! [`equivocation_offence`], whose proof is an [`Equivocation`]: two valid signatures of one
//! operator on different responses (or different reports) to one task.
//!
//! # Security
//! Evidence comes from peers and files: it is decoded with length and point checks
//! (a signature must be a G1 subgroup point, a key a G2 one) and never trusted
//! before [`SlashingProof::verify`]. What `verify` cannot see is whether the key is the
//! one the operator had registered at the task's reference block: the contract checks
//! that (`KeyNotRegisteredAt`), and [`registered_key_at`] lets a challenger check it
//! before paying for a transaction. An honest operator signs one response and one
//! report per task, restarts included (its slashing-protection record,
//! `bulwark_node::protection`), so no choice of its signed messages makes a proof that
//! verifies (`tests/slashing_proofs.rs`).

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::sol_types::SolValue;
use bulwark_core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark_crypto::{Domain, PublicKey, Signature};

use crate::ChainError;
use crate::bindings::{BasicAVS, SlashVeto};
use crate::devnet::mined;
use crate::points;

/// Why bytes are not evidence of the offence a decoder expects, in its one encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// Not `abi.encode(bytes32, bytes)` of the expected proof.
    #[error("evidence does not decode: {0}")]
    Decode(String),
    /// The evidence names another offence.
    #[error("evidence is for offence {0}")]
    OtherOffence(B256),
    /// The proof decodes, but these are not the bytes it encodes to.
    #[error("not the canonical encoding")]
    NotCanonical,
}

/// The evidence `TaskManager.challenge` takes: `abi.encode(offence, abi.encode(proof))`.
pub fn encode_evidence<A: SolValue>(offence: B256, proof: &A) -> Vec<u8> {
    (offence, Bytes::from(proof.abi_encode())).abi_encode_params()
}

/// Decodes evidence of `offence` whose proof is the ABI struct `A`, read into `P` by
/// `from_abi`; what every [`SlashingProof::decode`] does around its own fields.
///
/// The result is held to one encoding: `bytes` must be exactly what
/// [`SlashingProof::encode`] gives for it. Solidity's `abi.decode` refuses dirty high
/// bits in a `uint8` or `address` word, which alloy's decoder ignores, so without
/// this check two byte strings could be one proof here and only one on chain.
pub fn decode_evidence<A, P>(
    bytes: &[u8],
    offence: B256,
    from_abi: impl FnOnce(A) -> Result<P, P::Error>,
) -> Result<P, P::Error>
where
    A: SolValue + From<<A::SolType as alloy::sol_types::SolType>::RustType>,
    P: SlashingProof,
    P::Error: From<EvidenceError>,
{
    let (found, proof) = <(B256, Bytes)>::abi_decode_params(bytes)
        .map_err(|e| EvidenceError::Decode(e.to_string()))?;
    if found != offence {
        return Err(EvidenceError::OtherOffence(found).into());
    }
    let abi = A::abi_decode(&proof).map_err(|e| EvidenceError::Decode(e.to_string()))?;
    let decoded = from_abi(abi)?;
    if decoded.encode() != bytes {
        return Err(EvidenceError::NotCanonical.into());
    }
    Ok(decoded)
}

/// `keccak256("bulwark.offence.equivocation.v1")`: the offence of signing two
/// different answers to one task (`TaskManager.EQUIVOCATION`).
pub fn equivocation_offence() -> B256 {
    keccak256("bulwark.offence.equivocation.v1")
}

alloy::sol! {
    /// The ABI of `ProofVerifier.Equivocation` (a `BLS.G1Point` is four words, a
    /// `BLS.G2Point` eight: their ABI is that of `uint256[4]` and `uint256[8]`).
    struct EquivocationAbi {
        uint256 chainId;
        address avs;
        uint256 taskId;
        uint8 kind;
        address operator;
        uint256[8] publicKey;
        bytes32 digestA;
        uint256[4] signatureA;
        bytes32 digestB;
        uint256[4] signatureB;
    }
}

/// What an operator signed twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedKind {
    /// Task responses (`MESSAGE_TAG`), endorsements of two-phase tasks included.
    Response,
    /// Reports, phase one of a two-phase task (`REPORT_TAG`).
    Report,
}

impl SignedKind {
    fn code(self) -> u8 {
        match self {
            Self::Response => 0,
            Self::Report => 1,
        }
    }
}

/// Two valid signatures of one operator on different responses (or reports) to one
/// task: the proof of `TaskManager.EQUIVOCATION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The chain and AVS the signatures were made for.
    pub context: SigningContext,
    /// The task.
    pub task_id: u64,
    /// Responses or reports.
    pub kind: SignedKind,
    /// The offender.
    pub operator: OperatorId,
    /// Its key (the one it had registered at the task's reference block).
    pub public_key: PublicKey,
    /// One answer and its signature.
    pub first: (ResponseDigest, Signature),
    /// Another answer and its signature.
    pub second: (ResponseDigest, Signature),
}

/// Why evidence does not decode or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Not `abi.encode(bytes32, bytes)` of an equivocation.
    #[error("evidence does not decode: {0}")]
    Decode(String),
    /// The evidence names another offence.
    #[error("evidence is for offence {0}, not equivocation")]
    OtherOffence(B256),
    /// A field does not fit its Rust type (a chain id or task id over 64 bits).
    #[error("{0} out of range")]
    OutOfRange(&'static str),
    /// Neither a response nor a report.
    #[error("unknown kind {0}")]
    UnknownKind(u8),
    /// A point is not a valid encoding of a subgroup point.
    #[error("{0}: {1}")]
    Point(&'static str, bulwark_crypto::Error),
    /// Both answers are the same: signing one answer twice is no offence.
    #[error("both signatures are on the same answer")]
    NotAnEquivocation,
    /// A signature is not the key's on its answer.
    #[error("the signature on {0:?} is not the operator's")]
    InvalidSignature(ResponseDigest),
}

impl From<EvidenceError> for ProofError {
    fn from(err: EvidenceError) -> Self {
        match err {
            EvidenceError::Decode(reason) => Self::Decode(reason),
            EvidenceError::OtherOffence(offence) => Self::OtherOffence(offence),
            EvidenceError::NotCanonical => Self::Decode(err.to_string()),
        }
    }
}

impl Equivocation {
    /// `key`, operator `operator`'s, signing both `a` and `b` as its response to
    /// `task_id`: the proof a double-signing operator hands anyone who saw both.
    pub fn sign_responses(
        context: SigningContext,
        key: &bulwark_crypto::SecretKey,
        operator: Address,
        task_id: u64,
        a: &[u8],
        b: &[u8],
    ) -> Self {
        let sign = |answer: &[u8]| {
            let digest = ResponseDigest::of(answer);
            (
                digest,
                key.sign(&Domain::SIGNATURE, &context.message(task_id, &digest)),
            )
        };
        Self {
            context,
            task_id,
            kind: SignedKind::Response,
            operator: OperatorId(operator.into_array()),
            public_key: key.public_key(),
            first: sign(a),
            second: sign(b),
        }
    }

    fn message(&self, digest: &ResponseDigest) -> [u8; 32] {
        match self.kind {
            SignedKind::Response => self.context.message(self.task_id, digest),
            SignedKind::Report => self.context.report_message(self.task_id, digest),
        }
    }

    fn abi(&self) -> EquivocationAbi {
        EquivocationAbi {
            chainId: U256::from(self.context.chain_id),
            avs: Address::from(self.context.avs),
            taskId: U256::from(self.task_id),
            kind: self.kind.code(),
            operator: Address::from(self.operator.0),
            publicKey: points::g2_words(&self.public_key),
            digestA: B256::from(self.first.0.0),
            signatureA: points::g1_words(&self.first.1),
            digestB: B256::from(self.second.0.0),
            signatureB: points::g1_words(&self.second.1),
        }
    }

    /// The proof an ABI struct holds, its points checked.
    fn from_abi(e: EquivocationAbi) -> Result<Self, ProofError> {
        let kind = match e.kind {
            0 => SignedKind::Response,
            1 => SignedKind::Report,
            other => return Err(ProofError::UnknownKind(other)),
        };
        let public_key = points::public_key_from_words(&e.publicKey)
            .map_err(|err| ProofError::Point("public key", err))?;
        let g1 = |words: &[U256; 4], what| {
            points::signature_from_words(words).map_err(|err| ProofError::Point(what, err))
        };
        Ok(Self {
            context: SigningContext {
                chain_id: e
                    .chainId
                    .try_into()
                    .map_err(|_| ProofError::OutOfRange("chain id"))?,
                avs: e.avs.into_array(),
            },
            task_id: e
                .taskId
                .try_into()
                .map_err(|_| ProofError::OutOfRange("task id"))?,
            kind,
            operator: OperatorId(e.operator.into_array()),
            public_key,
            first: (
                ResponseDigest(e.digestA.0),
                g1(&e.signatureA, "first signature")?,
            ),
            second: (
                ResponseDigest(e.digestB.0),
                g1(&e.signatureB, "second signature")?,
            ),
        })
    }
}

impl SlashingProof for Equivocation {
    type Error = ProofError;

    fn offender(&self) -> OperatorId {
        self.operator
    }

    fn encode(&self) -> Vec<u8> {
        encode_evidence(equivocation_offence(), &self.abi())
    }

    fn decode(bytes: &[u8]) -> Result<Self, ProofError> {
        decode_evidence(bytes, equivocation_offence(), Self::from_abi)
    }

    fn verify(&self) -> Result<(), ProofError> {
        if self.first.0 == self.second.0 {
            return Err(ProofError::NotAnEquivocation);
        }
        for (digest, signature) in [&self.first, &self.second] {
            self.public_key
                .verify(&Domain::SIGNATURE, &self.message(digest), signature)
                .map_err(|_| ProofError::InvalidSignature(*digest))?;
        }
        Ok(())
    }
}

/// The key `operator` had registered with `avs` at `block`, or `None` if it was not
/// registered then: what the contract holds an equivocation's key against.
pub async fn registered_key_at<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    operator: Address,
    block: u32,
) -> Result<Option<PublicKey>, ChainError> {
    let contract = BasicAVS::new(avs, provider.clone());
    let checkpoint = match contract.operatorAt(operator, block).call().await {
        Ok(found) => found.checkpoint,
        Err(err) if crate::revert::reason(&err).is_some() => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    if checkpoint.keyTag.is_zero() {
        return Ok(None);
    }
    let key = contract.publicKeyOf(operator).call().await?;
    points::public_key(&key)
        .map(Some)
        .map_err(|source| ChainError::InvalidKey { operator, source })
}

/// A slash that landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slashed {
    /// The task.
    pub task_id: u64,
    /// The offender.
    pub operator: Address,
    /// The offence.
    pub offence: B256,
    /// The fraction of its allocation slashed (1e18 = all).
    pub wad_fraction: U256,
    /// The assets removed.
    pub amount: U256,
    /// The challenger's share of them.
    pub bounty: U256,
}

/// A slash waiting out the AVS's veto window (`SlashVeto`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedSlash {
    /// Its id in the AVS's `SlashVeto`.
    pub slash_id: u64,
    /// The task.
    pub task_id: u64,
    /// The offender.
    pub operator: Address,
    /// The offence.
    pub offence: B256,
    /// The first block [`execute_slash`] can land in, unless vetoed before.
    pub ready_block: u64,
}

/// What a challenge that landed did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenged {
    /// The operator was slashed.
    Slashed(Slashed),
    /// The AVS has a veto window: the slash is queued (execute it with
    /// [`execute_slash`] once ready).
    Queued(QueuedSlash),
}

impl Challenged {
    /// The slash, if it landed at once.
    pub fn slashed(self) -> Option<Slashed> {
        match self {
            Challenged::Slashed(s) => Some(s),
            Challenged::Queued(_) => None,
        }
    }
}

/// Submits `evidence` against `task_id` on `avs` and waits for it to land; a refusal
/// comes back as [`ChainError::Contract`] with the contract's reason
/// (`AlreadySlashed`, `ChallengeWindowClosed`, ...).
pub async fn challenge<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    task_id: u64,
    evidence: &[u8],
) -> Result<Challenged, ChainError> {
    let contract = BasicAVS::new(avs, provider.clone());
    let call = contract.challenge(U256::from(task_id), Bytes::copy_from_slice(evidence));
    let gas = with_margin(call.estimate_gas().await?);
    let pending = call.gas(gas).send().await?;
    let receipt = mined(provider, pending).await?;
    if let Some(queued) = receipt.decoded_log::<SlashVeto::SlashQueued>() {
        return Ok(Challenged::Queued(QueuedSlash {
            slash_id: u64::try_from(queued.slashId).unwrap_or(u64::MAX),
            task_id,
            operator: queued.operator,
            offence: queued.offence,
            ready_block: u64::from(queued.readyBlock),
        }));
    }
    slashed_in(&receipt).map(Challenged::Slashed)
}

/// Executes slash `slash_id` queued on `avs` once its veto window has passed; a
/// refusal comes back as [`ChainError::Contract`] (`VetoWindowOpen`,
/// `SlashNotPending` once vetoed or executed).
pub async fn execute_slash<P: Provider + Clone>(
    provider: &P,
    avs: Address,
    slash_id: u64,
) -> Result<Slashed, ChainError> {
    let contract = BasicAVS::new(avs, provider.clone());
    let call = contract.executeSlash(U256::from(slash_id));
    let gas = with_margin(call.estimate_gas().await?);
    slashed_in(&mined(provider, call.gas(gas).send().await?).await?)
}

/// A slash's gas estimate plus a quarter. The estimate is made against the chain
/// before the transaction lands, and the task's state can change in between (its
/// certificate landing in the same block writes storage the slash then updates, and
/// the stake listeners' budget must be there in full or the slash reverts): an exact
/// estimate then runs out of gas, and the challenge is sent twice.
fn with_margin(estimate: u64) -> u64 {
    estimate.saturating_add(estimate / 4)
}

/// The slash a receipt of `challenge` or `executeSlash` records.
fn slashed_in(receipt: &alloy::rpc::types::TransactionReceipt) -> Result<Slashed, ChainError> {
    receipt
        .decoded_log::<BasicAVS::OperatorSlashed>()
        .map(|log| Slashed {
            task_id: u64::try_from(log.taskId).unwrap_or(u64::MAX),
            operator: log.operator,
            offence: log.offence,
            wad_fraction: log.wadFraction,
            amount: log.slashed,
            bounty: log.bounty,
        })
        .ok_or(ChainError::MissingEvent(
            receipt.transaction_hash,
            "OperatorSlashed",
        ))
}
