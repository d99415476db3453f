//! Far-endorsement proofs against an adversary that holds every report and
//! endorsement honest operators signed (two AVSs, several rounds, tolerances set or
//! not) and whatever it signed itself: however it pairs a report with an
//! endorsement, which answers, task, context, operator and key it claims, and whether
//! it adds signatures together, `FarEndorsement::verify` held to the chain's
//! tolerance for the claimed task accepts exactly the proofs made of the claimed
//! key's own report and endorsement too far apart, so never one against an honest
//! operator, who endorses only within the smaller of its own and the chain's
//! tolerance of what it reported.

use std::sync::atomic::{AtomicU32, Ordering};

use alloy::primitives::B256;
use bulwark::core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark::crypto::{AggregateSignature, Domain, SecretKey, Signature};
use oracle_avs::median;
use oracle_avs::price::Price;
use oracle_avs::round::RoundAnswer;
use oracle_avs::slashing::FarEndorsement;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const HONEST: usize = 3;
const ADVERSARY: usize = 3;
const TASKS: u64 = 3;

fn context(i: usize) -> SigningContext {
    SigningContext {
        chain_id: 31337,
        avs: [0xa0 + i as u8; 20],
    }
}

/// Task `task`'s round: two feeds, one round each task.
fn answer(task: u64, price: u128) -> RoundAnswer {
    RoundAnswer {
        feed: B256::repeat_byte(if task % 2 == 0 { 0xee } else { 0xbb }),
        round: task + 1,
        price: Price(price),
        observed_at: 1_700_000_000,
    }
}

/// A price `bps` basis points from 3,000.00000000.
fn price(bps: i32) -> u128 {
    (300_000_000_000i128 * (10_000 + i128::from(bps)) / 10_000) as u128
}

#[derive(Clone, Debug)]
struct Signed {
    signer: usize,
    context: SigningContext,
    task_id: u64,
    report: bool,
    answer: RoundAnswer,
    signature: Signature,
}

fn sign(
    key: &SecretKey,
    signer: usize,
    ctx: usize,
    task_id: u64,
    report: bool,
    answer: RoundAnswer,
) -> Signed {
    let context = context(ctx);
    let digest = ResponseDigest::of(&answer.encode());
    let message = if report {
        context.report_message(task_id, &digest)
    } else {
        context.message(task_id, &digest)
    };
    Signed {
        signer,
        context,
        task_id,
        report,
        answer,
        signature: key.sign(&Domain::SIGNATURE, &message),
    }
}

/// One honest operator's round: what it observed, its local tolerance, and the
/// proposal it was shown (an aggregator may show each operator another).
#[derive(Clone, Debug)]
struct Round {
    operator: usize,
    ctx: usize,
    task: u64,
    observed_bps: i32,
    local_bps: u16,
    proposal_bps: i32,
}

/// A signature from the pool (modulo its size), perhaps added to another, and
/// perhaps presented with its answer at another price (the gap exaggerated).
#[derive(Clone, Debug)]
struct Side {
    pick: usize,
    added: Option<usize>,
    repriced: Option<i32>,
}

#[derive(Clone, Debug)]
struct Attack {
    /// What the chain holds each context's tasks to (0: not checked).
    tolerances: [[u16; TASKS as usize]; 2],
    rounds: Vec<Round>,
    /// The adversary's own report and endorsement, first in the pool: of one task and
    /// round, or differing in context, task, kind, round or feed.
    own: (usize, u64, i32, i32, u8),
    /// The report's signer, context and task claimed: the nearest misses.
    faithful: bool,
    report: Side,
    endorsed: Side,
    /// Claimed context and task: `None` for the report's; else any.
    claimed: Option<(usize, u64)>,
    operator: usize,
    key: usize,
}

/// A side whose signature is most often the adversary's own at `aim` (0: its
/// report, 1: its endorsement).
fn side(aim: usize) -> impl Strategy<Value = Side> {
    (
        prop_oneof![3 => Just(aim), 1 => Just(1 - aim), 3 => any::<usize>()],
        proptest::option::weighted(0.15, any::<usize>()),
        proptest::option::weighted(0.2, -1000i32..1000),
    )
        .prop_map(|(pick, added, repriced)| Side {
            pick,
            added,
            repriced,
        })
}

prop_compose! {
    fn round()(
        operator in 0..HONEST,
        ctx in 0usize..2,
        task in 0..TASKS,
        observed_bps in -300i32..300,
        local_bps in 1u16..300,
        proposal_bps in -400i32..400,
    ) -> Round {
        Round { operator, ctx, task, observed_bps, local_bps, proposal_bps }
    }
}

prop_compose! {
    fn attack()(
        tolerances in proptest::array::uniform2(proptest::array::uniform3(
            prop_oneof![1 => Just(0u16), 3 => 1u16..300],
        )),
        rounds in proptest::collection::vec(round(), 1..10),
        own in (0usize..2, 0..TASKS, -300i32..300, -1000i32..1000, 0u8..8),
        faithful in any::<bool>(),
        report in side(0),
        endorsed in side(1),
        claimed in proptest::option::weighted(0.3, (0usize..2, 0..TASKS)),
        operator in 0..=ADVERSARY,
        key in 0..=ADVERSARY,
    ) -> Attack {
        Attack { tolerances, rounds, own, faithful, report, endorsed, claimed, operator, key }
    }
}

#[test]
fn no_report_and_endorsement_make_a_proof_against_an_honest_operator() {
    let keys: Vec<SecretKey> = (1..=4u8)
        .map(|i| SecretKey::from_ikm(&[i; 32]).expect("ikm"))
        .collect();
    let accepted = AtomicU32::new(0);
    let mut runner = TestRunner::new(Config::with_cases(384));
    runner
        .run(&attack(), |mut a| {
            // The adversary reports and endorses far apart, perhaps with a tweak.
            let (ctx, task, report_bps, endorsed_bps, tweak) = a.own;
            let adv = &keys[ADVERSARY];
            let (mut e_ctx, mut e_task, mut e_report) = (ctx, task, false);
            match tweak {
                0 => e_ctx = 1 - ctx,
                1 => e_task = (task + 1) % TASKS,
                2 => e_report = true,
                _ => {}
            }
            let mut endorsed = answer(task, price(endorsed_bps));
            match tweak {
                3 => endorsed.round += 2,
                4 => endorsed.feed = answer(task + 1, 1).feed,
                _ => {}
            }
            let mut pool = vec![
                sign(
                    adv,
                    ADVERSARY,
                    ctx,
                    task,
                    true,
                    answer(task, price(report_bps)),
                ),
                sign(adv, ADVERSARY, e_ctx, e_task, e_report, endorsed),
            ];
            // Honest operators: one report and at most one endorsement per task, within
            // the smaller of their own and the chain's tolerance.
            let mut seen = std::collections::BTreeSet::new();
            for r in &a.rounds {
                if !seen.insert((r.operator, r.ctx, r.task)) {
                    continue;
                }
                let k = &keys[r.operator];
                let own = answer(r.task, price(r.observed_bps));
                pool.push(sign(k, r.operator, r.ctx, r.task, true, own));
                let chain = a.tolerances[r.ctx][r.task as usize];
                let limit = match chain {
                    0 => u128::from(r.local_bps),
                    t => u128::from(r.local_bps.min(t)),
                };
                let proposal = answer(r.task, price(r.proposal_bps));
                if median::endorses(own.price, proposal.price, limit) {
                    pool.push(sign(k, r.operator, r.ctx, r.task, false, proposal));
                }
            }
            let at = |i: usize| pool[i % pool.len()].clone();
            let (report, endorsed) = (at(a.report.pick), at(a.endorsed.pick));
            if a.faithful {
                a.claimed = None;
                (a.operator, a.key) = (report.signer, report.signer);
            }
            let (claimed_ctx, task_id) = a.claimed.unwrap_or_else(|| {
                let ctx = usize::from(report.context != context(0));
                (ctx, report.task_id)
            });
            let presented = |side: &Side, signed: &Signed| {
                let mut answer = signed.answer;
                if let Some(bps) = side.repriced {
                    answer.price = Price(price(bps));
                }
                let signature = match side.added {
                    None => signed.signature,
                    Some(j) => AggregateSignature::aggregate([&signed.signature, &at(j).signature])
                        .expect("aggregate")
                        .to_signature()
                        .expect("not the identity"),
                };
                (answer, signature)
            };
            let proof = FarEndorsement {
                context: context(claimed_ctx),
                task_id,
                operator: OperatorId([a.operator as u8; 20]),
                public_key: keys[a.key].public_key(),
                report: presented(&a.report, &report),
                endorsed: presented(&a.endorsed, &endorsed),
                // What the contract holds the claimed task to.
                tolerance_bps: a.tolerances[claimed_ctx][task_id as usize],
            };

            // The model: each side is the claimed key's own signature, of its kind,
            // on the claimed task and answer; and the answers are one round's, too far
            // apart for a tolerance that is set.
            let holds = |side: &Side, signed: &Signed, report: bool, answer: &RoundAnswer| {
                side.added.is_none()
                    && signed.signer == a.key
                    && signed.report == report
                    && signed.context == proof.context
                    && signed.task_id == proof.task_id
                    && signed.answer == *answer
            };
            let (r, e) = (&proof.report.0, &proof.endorsed.0);
            let expected = r.feed == e.feed
                && r.round == e.round
                && proof.tolerance_bps > 0
                && r.price.deviation_bps(e.price) > u128::from(proof.tolerance_bps)
                && holds(&a.report, &report, true, r)
                && holds(&a.endorsed, &endorsed, false, e);
            prop_assert_eq!(proof.verify().is_ok(), expected, "{:?}", proof);
            if a.key < HONEST {
                prop_assert!(
                    proof.verify().is_err(),
                    "an honest operator framed: {:?}",
                    proof
                );
            }
            if expected {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            let decoded =
                FarEndorsement::decode_with(&proof.encode(), proof.tolerance_bps).expect("decodes");
            prop_assert_eq!(&decoded, &proof);
            Ok(())
        })
        .expect("no proof against an honest operator, and the model holds");
    assert!(
        accepted.load(Ordering::Relaxed) > 0,
        "no case made a proof that holds"
    );
}
