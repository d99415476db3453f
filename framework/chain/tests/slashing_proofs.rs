//! Equivocation proofs off-chain: the encoding round-trips, every forgery is refused,
//! and no choice among an honest operator's signed messages makes a proof that holds.

use bulwark_chain::slashing::{Equivocation, ProofError, SignedKind, equivocation_offence};
use bulwark_core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark_crypto::{Domain, SecretKey, Signature};
use proptest::prelude::*;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [9; 20],
};

fn key(i: u8) -> SecretKey {
    SecretKey::from_ikm(&[i; 32]).expect("ikm")
}

fn sign(
    key: &SecretKey,
    ctx: &SigningContext,
    kind: SignedKind,
    task: u64,
    answer: &[u8],
) -> (ResponseDigest, Signature) {
    let digest = ResponseDigest::of(answer);
    let message = match kind {
        SignedKind::Response => ctx.message(task, &digest),
        SignedKind::Report => ctx.report_message(task, &digest),
    };
    (digest, key.sign(&Domain::SIGNATURE, &message))
}

fn equivocation(i: u8, kind: SignedKind, task: u64, a: &[u8], b: &[u8]) -> Equivocation {
    let k = key(i);
    Equivocation {
        context: CTX,
        task_id: task,
        kind,
        operator: OperatorId([i; 20]),
        public_key: k.public_key(),
        first: sign(&k, &CTX, kind, task, a),
        second: sign(&k, &CTX, kind, task, b),
    }
}

#[test]
fn a_real_equivocation_verifies_and_round_trips() {
    for kind in [SignedKind::Response, SignedKind::Report] {
        let e = equivocation(1, kind, 7, b"42", b"43");
        e.verify().expect("holds");
        assert_eq!(e.offender(), OperatorId([1; 20]));
        let bytes = e.encode();
        assert_eq!(&bytes[..32], equivocation_offence().as_slice());
        let back = Equivocation::decode(&bytes).expect("decodes");
        assert_eq!(back, e);
        back.verify().expect("still holds");
    }
}

#[test]
fn forgeries_are_refused() {
    let good = equivocation(1, SignedKind::Response, 7, b"42", b"43");

    let mut same = good.clone();
    same.second = same.first;
    assert_eq!(same.verify(), Err(ProofError::NotAnEquivocation));

    // Another operator's signature on the second answer.
    let mut framed = good.clone();
    framed.second = sign(&key(2), &CTX, SignedKind::Response, 7, b"43");
    assert!(matches!(
        framed.verify(),
        Err(ProofError::InvalidSignature(_))
    ));

    // The whole thing presented under another key.
    let mut other_key = good.clone();
    other_key.public_key = key(2).public_key();
    assert!(other_key.verify().is_err());

    // Responses presented as reports, another task, AVS or chain.
    let mut kind = good.clone();
    kind.kind = SignedKind::Report;
    assert!(kind.verify().is_err());
    let mut task = good.clone();
    task.task_id = 8;
    assert!(task.verify().is_err());
    let mut avs = good.clone();
    avs.context.avs = [8; 20];
    assert!(avs.verify().is_err());
    let mut chain = good.clone();
    chain.context.chain_id = 1;
    assert!(chain.verify().is_err());

    // Answers from two tasks are not two answers to one.
    let k = key(1);
    let mut two_tasks = good.clone();
    two_tasks.second = sign(&k, &CTX, SignedKind::Response, 8, b"43");
    assert!(two_tasks.verify().is_err());
}

#[test]
fn malformed_evidence_is_refused_with_a_reason() {
    let good = equivocation(1, SignedKind::Response, 7, b"42", b"43").encode();
    assert!(matches!(
        Equivocation::decode(&[]),
        Err(ProofError::Decode(_))
    ));
    assert!(matches!(
        Equivocation::decode(&good[..good.len() - 1]),
        Err(ProofError::Decode(_))
    ));
    let mut other = good.clone();
    other[0] ^= 1;
    assert!(matches!(
        Equivocation::decode(&other),
        Err(ProofError::OtherOffence(_))
    ));
    // Layout: offence, offset, length, then the struct's words: chain id, avs, task,
    // kind, operator, 8 key words, digest A, 4 signature words, digest B, 4 words.
    let word = |i: usize| 96 + 32 * i;
    let mut kind = good.clone();
    kind[word(3) + 31] = 2;
    assert_eq!(Equivocation::decode(&kind), Err(ProofError::UnknownKind(2)));
    let mut task = good.clone();
    task[word(2)] = 1;
    assert_eq!(
        Equivocation::decode(&task),
        Err(ProofError::OutOfRange("task id"))
    );
    // Dirty high bytes of the operator's address word: Solidity's abi.decode refuses
    // them, so must we (one encoding per proof).
    let mut dirty = good.clone();
    dirty[word(4)] = 1;
    assert!(matches!(
        Equivocation::decode(&dirty),
        Err(ProofError::Decode(_))
    ));
    let mut key_point = good.clone();
    key_point[word(5) + 31] ^= 1;
    assert!(matches!(
        Equivocation::decode(&key_point),
        Err(ProofError::Point("public key", _))
    ));
    let mut sig = good.clone();
    sig[word(15) + 31] ^= 1;
    assert!(matches!(
        Equivocation::decode(&sig),
        Err(ProofError::Point("first signature", _))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Honest operators sign one response and one report per task. Whatever two of
    /// those signed messages an adversary picks, whoever it names, whatever task, kind
    /// and context it claims, the proof does not hold.
    #[test]
    fn no_honest_operator_can_be_proven_to_equivocate(
        picks in proptest::collection::vec((0usize..3, 0u64..3, any::<bool>()), 2),
        claimed_op in 0usize..3,
        claimed_task in 0u64..3,
        claimed_report in any::<bool>(),
        claimed_other_avs in any::<bool>(),
    ) {
        let keys: Vec<SecretKey> = (1..=3).map(key).collect();
        // Operator i's answer to task t: the same for its response and its report.
        let answer = |i: usize, t: u64| format!("operator {i} task {t}").into_bytes();
        let signed = |(i, t, report): (usize, u64, bool)| {
            let kind = if report { SignedKind::Report } else { SignedKind::Response };
            sign(&keys[i], &CTX, kind, t, &answer(i, t))
        };
        let kind = if claimed_report { SignedKind::Report } else { SignedKind::Response };
        let mut context = CTX;
        if claimed_other_avs {
            context.avs = [1; 20];
        }
        let e = Equivocation {
            context,
            task_id: claimed_task,
            kind,
            operator: OperatorId([claimed_op as u8 + 1; 20]),
            public_key: keys[claimed_op].public_key(),
            first: signed(picks[0]),
            second: signed(picks[1]),
        };
        prop_assert!(e.verify().is_err(), "{e:?}");
        // And it survives the wire unchanged, so the contract sees what verify saw.
        prop_assert_eq!(Equivocation::decode(&e.encode()).expect("decodes"), e);
    }
}
