//! The oracle's offence off-chain: a far endorsement verifies and round-trips, what
//! falls short of the offence is refused, and an honest operator, endorsing within
//! the smaller of its own and the chain's tolerance, is never provably at fault.

use alloy::primitives::B256;
use bulwark::core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark::crypto::{Domain, SecretKey};
use oracle_avs::median;
use oracle_avs::price::Price;
use oracle_avs::round::RoundAnswer;
use oracle_avs::slashing::{FarEndorsement, OracleProofError, far_endorsement_offence};
use proptest::prelude::*;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [4; 20],
};

fn key() -> SecretKey {
    SecretKey::from_ikm(&[5; 32]).expect("ikm")
}

fn answer(round: u64, price: u128) -> RoundAnswer {
    RoundAnswer {
        feed: B256::repeat_byte(0xee),
        round,
        price: Price(price),
        observed_at: 1_700_000_000,
    }
}

/// Operator 5 reported `report` and endorsed `endorsed` on task 3.
fn proof(report: RoundAnswer, endorsed: RoundAnswer, tolerance_bps: u16) -> FarEndorsement {
    let k = key();
    let report_message = CTX.report_message(3, &ResponseDigest::of(&report.encode()));
    let endorsement = CTX.message(3, &ResponseDigest::of(&endorsed.encode()));
    FarEndorsement {
        context: CTX,
        task_id: 3,
        operator: OperatorId([5; 20]),
        public_key: k.public_key(),
        report: (report, k.sign(&Domain::SIGNATURE, &report_message)),
        endorsed: (endorsed, k.sign(&Domain::SIGNATURE, &endorsement)),
        tolerance_bps,
    }
}

#[test]
fn a_far_endorsement_verifies_and_round_trips() {
    let p = proof(answer(1, 300_000_000_000), answer(1, 303_000_000_001), 100);
    p.verify().expect("101 bps > 100");
    let bytes = p.encode();
    assert_eq!(&bytes[..32], far_endorsement_offence().as_slice());
    assert_eq!(
        FarEndorsement::decode_with(&bytes, 100).expect("decodes"),
        p
    );
    // Decoded without the chain's tolerance, it does not hold.
    assert_eq!(
        FarEndorsement::decode(&bytes).expect("decodes").verify(),
        Err(OracleProofError::NoTolerance)
    );
}

#[test]
fn what_falls_short_is_refused() {
    let at_limit = proof(answer(1, 300_000_000_000), answer(1, 303_000_000_000), 100);
    assert!(matches!(
        at_limit.verify(),
        Err(OracleProofError::WithinTolerance {
            deviation_bps: 100,
            tolerance_bps: 100
        })
    ));
    let rounds = proof(answer(1, 300_000_000_000), answer(2, 400_000_000_000), 100);
    assert_eq!(rounds.verify(), Err(OracleProofError::DifferentRounds));
    let mut forged = proof(answer(1, 300_000_000_000), answer(1, 400_000_000_000), 100);
    forged.report.1 = SecretKey::from_ikm(&[6; 32])
        .expect("ikm")
        .sign(&Domain::SIGNATURE, b"anything");
    assert_eq!(
        forged.verify(),
        Err(OracleProofError::InvalidSignature("report"))
    );
    // The signatures swapped: a report signature is no endorsement.
    let mut swapped = proof(answer(1, 300_000_000_000), answer(1, 400_000_000_000), 100);
    std::mem::swap(&mut swapped.report.1, &mut swapped.endorsed.1);
    assert!(swapped.verify().is_err());
    // Other task or AVS than signed for.
    let mut task = proof(answer(1, 300_000_000_000), answer(1, 400_000_000_000), 100);
    task.task_id = 4;
    assert!(task.verify().is_err());
    assert!(matches!(
        FarEndorsement::decode(&[1, 2, 3]),
        Err(OracleProofError::Decode(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever its observation and the proposal (from an aggregator that may lie),
    /// and however its local tolerance compares with the chain's, an honest operator's
    /// report and endorsement never make a proof that holds.
    #[test]
    fn an_honest_operator_is_never_provably_at_fault(
        own in prop_oneof![1u128..100_000_000_000_000, any::<u128>().prop_map(|v| v.max(1))],
        proposal in prop_oneof![1u128..100_000_000_000_000, any::<u128>().prop_map(|v| v.max(1))],
        local in 1u128..=10_000,
        chain in 0u16..=10_000,
    ) {
        let limit = if chain > 0 { local.min(u128::from(chain)) } else { local };
        prop_assume!(median::endorses(Price(own), Price(proposal), limit));
        let p = proof(answer(1, own), answer(1, proposal), chain);
        prop_assert!(p.verify().is_err(), "honest endorsement provable: {p:?}");
    }

    /// And the line is drawn in one place: just beyond the tolerance is provable.
    #[test]
    fn beyond_the_chains_tolerance_is_provable(
        own in 100_000_000u128..100_000_000_000_000,
        chain in 1u16..=5_000,
    ) {
        // The smallest proposal above `own` that is beyond `chain` bps.
        let mut proposal = own + own * u128::from(chain) / 10_000;
        while Price(own).deviation_bps(Price(proposal)) <= u128::from(chain) {
            proposal += 1;
        }
        proof(answer(1, own), answer(1, proposal), chain).verify().expect("provable");
        prop_assert!(!median::endorses(Price(own), Price(proposal), u128::from(chain)));
    }
}
