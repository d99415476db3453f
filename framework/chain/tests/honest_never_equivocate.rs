//! Equivocation proofs against an adversary that holds every message honest operators
//! signed, on several chains, AVSs and tasks, plus messages it signed itself: whatever
//! two signatures it picks, whatever digests, task, kind, context, operator and key it
//! claims, and whether it adds signatures together, `Equivocation::verify` (the check
//! the contract makes) accepts exactly the proofs made of two real signatures of the
//! claimed key on two different answers, so never one against an honest operator.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use bulwark_chain::slashing::{Equivocation, SignedKind};
use bulwark_core::{OperatorId, ResponseDigest, SigningContext, SlashingProof};
use bulwark_crypto::{AggregateSignature, Domain, SecretKey, Signature};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Keys 0..3 are honest operators'; key 3 is the adversary's own.
const HONEST: usize = 3;
const ADVERSARY: usize = 3;

/// Two chains, two AVSs each.
fn contexts() -> [SigningContext; 4] {
    [(1, 0xa1), (1, 0xb2), (31337, 0xa1), (31337, 0xb2)].map(|(chain_id, avs)| SigningContext {
        chain_id,
        avs: [avs; 20],
    })
}

fn kind(report: bool) -> SignedKind {
    if report {
        SignedKind::Report
    } else {
        SignedKind::Response
    }
}

/// A few answers only, so different operators, tasks and kinds often sign the same one.
fn answer(i: u8) -> ResponseDigest {
    ResponseDigest::of(&[i])
}

/// One signed message and what it was signed on.
#[derive(Clone, Debug)]
struct Signed {
    signer: usize,
    context: SigningContext,
    task_id: u64,
    kind: SignedKind,
    digest: ResponseDigest,
    signature: Signature,
}

fn sign(
    keys: &[SecretKey],
    signer: usize,
    context: SigningContext,
    task_id: u64,
    kind: SignedKind,
    digest: ResponseDigest,
) -> Signed {
    let message = match kind {
        SignedKind::Response => context.message(task_id, &digest),
        SignedKind::Report => context.report_message(task_id, &digest),
    };
    Signed {
        signer,
        context,
        task_id,
        kind,
        digest,
        signature: keys[signer].sign(&Domain::SIGNATURE, &message),
    }
}

/// Where a claimed field comes from.
#[derive(Clone, Debug)]
enum Claim<T> {
    First,
    Second,
    Other(T),
}

impl<T: Clone> Claim<T> {
    fn pick(&self, first: T, second: T) -> T {
        match self {
            Claim::First => first,
            Claim::Second => second,
            Claim::Other(v) => v.clone(),
        }
    }
}

fn claim<T: Clone + std::fmt::Debug>(
    other: impl Strategy<Value = T>,
) -> impl Strategy<Value = Claim<T>> {
    prop_oneof![
        3 => Just(Claim::First),
        3 => Just(Claim::Second),
        2 => other.prop_map(Claim::Other),
    ]
}

/// One side of the proof: a signature from the pool (indices are taken modulo its
/// size), perhaps added to another, and the digest claimed for it.
#[derive(Clone, Debug)]
struct Side {
    pick: usize,
    added: Option<usize>,
    /// `None`: the digest the picked signature is on.
    digest: Option<ResponseDigest>,
}

fn side() -> impl Strategy<Value = Side> {
    let digest = prop_oneof![
        4 => Just(None),
        2 => (0u8..4).prop_map(|i| Some(answer(i))),
        1 => any::<[u8; 32]>().prop_map(|d| Some(ResponseDigest(d))),
    ];
    // Indices 0 and 1 are the adversary's own double signing.
    let pick = prop_oneof![2 => Just(0usize), 2 => Just(1usize), 2 => any::<usize>()];
    (
        pick,
        proptest::option::weighted(0.15, any::<usize>()),
        digest,
    )
        .prop_map(|(pick, added, digest)| Side {
            pick,
            added,
            digest,
        })
}

#[derive(Clone, Debug)]
struct Attack {
    /// Honest signing: at most one answer per operator, context, task and kind.
    honest: BTreeMap<(usize, usize, u64, bool), u8>,
    /// Two different answers the adversary signed with its own key (first in the
    /// pool): for one context, task and kind, or for two differing in one of them;
    /// then whatever else it signed.
    double: [(usize, u64, bool, u8); 2],
    own: Vec<(usize, u64, bool, u8)>,
    /// The picked signatures (added to others or not) with their own digests, and the
    /// first one's signer, context, task and kind claimed: the nearest misses.
    faithful: bool,
    first: Side,
    second: Side,
    context: Claim<SigningContext>,
    task_id: Claim<u64>,
    report: Claim<bool>,
    operator: usize,
    key: usize,
}

fn any_context() -> impl Strategy<Value = SigningContext> {
    prop_oneof![
        (0usize..4).prop_map(|i| contexts()[i]),
        (any::<u64>(), any::<[u8; 20]>())
            .prop_map(|(chain_id, avs)| SigningContext { chain_id, avs }),
    ]
}

fn double() -> impl Strategy<Value = [(usize, u64, bool, u8); 2]> {
    (0usize..4, 0u64..3, any::<bool>(), 0u8..4, 1u8..4, 0u8..5).prop_map(
        |(ctx, task, report, ans, d, tweak)| {
            let first = (ctx, task, report, ans);
            let mut second = (ctx, task, report, (ans + d) % 4);
            match tweak {
                0 => second.0 = (ctx + 1) % 4,
                1 => second.1 = (task + 1) % 3,
                2 => second.2 = !report,
                _ => {}
            }
            [first, second]
        },
    )
}

prop_compose! {
    fn attack()(
        honest in proptest::collection::btree_map(
            (0..HONEST, 0usize..4, 0u64..3, any::<bool>()),
            0u8..4,
            1..10,
        ),
        double in double(),
        own in proptest::collection::vec((0usize..4, 0u64..3, any::<bool>(), 0u8..4), 0..3),
        faithful in any::<bool>(),
        first in side(),
        second in side(),
        context in claim(any_context()),
        task_id in claim(prop_oneof![0u64..3, any::<u64>()]),
        report in claim(any::<bool>()),
        operator in 0..=ADVERSARY,
        key in 0..=ADVERSARY,
    ) -> Attack {
        Attack { honest, double, own, faithful, first, second, context, task_id, report, operator, key }
    }
}

#[test]
fn no_signed_messages_make_a_proof_against_an_honest_operator() {
    let keys: Vec<SecretKey> = (1..=4u8)
        .map(|i| SecretKey::from_ikm(&[i; 32]).expect("ikm"))
        .collect();
    let contexts = contexts();
    let accepted = AtomicU32::new(0);
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(&attack(), |mut a| {
            let mut pool: Vec<Signed> = a
                .double
                .iter()
                .chain(&a.own)
                .map(|&(ctx, task, report, ans)| {
                    sign(
                        &keys,
                        ADVERSARY,
                        contexts[ctx],
                        task,
                        kind(report),
                        answer(ans),
                    )
                })
                .collect();
            pool.extend(a.honest.iter().map(|(&(signer, ctx, task, report), &ans)| {
                sign(
                    &keys,
                    signer,
                    contexts[ctx],
                    task,
                    kind(report),
                    answer(ans),
                )
            }));
            let picked = |s: &Side| pool[s.pick % pool.len()].clone();
            let (first, second) = (picked(&a.first), picked(&a.second));
            if a.faithful {
                for side in [&mut a.first, &mut a.second] {
                    side.digest = None;
                }
                (a.context, a.task_id, a.report) = (Claim::First, Claim::First, Claim::First);
                (a.operator, a.key) = (first.signer, first.signer);
            }
            let claimed_kind = kind(a.report.pick(
                first.kind == SignedKind::Report,
                second.kind == SignedKind::Report,
            ));
            let e = Equivocation {
                context: a.context.pick(first.context, second.context),
                task_id: a.task_id.pick(first.task_id, second.task_id),
                kind: claimed_kind,
                operator: OperatorId([a.operator as u8; 20]),
                public_key: keys[a.key].public_key(),
                first: presented(&pool, &a.first),
                second: presented(&pool, &a.second),
            };

            // The model: a side holds when it is the claimed key's own signature on
            // the claimed message, and never when added to another (BLS signatures
            // are deterministic, and the message encodes every claimed field).
            let holds = |side: &Side, signed: &Signed, presented: &ResponseDigest| {
                side.added.is_none()
                    && signed.signer == a.key
                    && signed.context == e.context
                    && signed.task_id == e.task_id
                    && signed.kind == e.kind
                    && signed.digest == *presented
            };
            let expected = e.first.0 != e.second.0
                && holds(&a.first, &first, &e.first.0)
                && holds(&a.second, &second, &e.second.0);
            prop_assert_eq!(e.verify().is_ok(), expected, "{:?}", e);
            if a.key < HONEST {
                prop_assert!(e.verify().is_err(), "an honest operator framed: {:?}", e);
            }
            if expected {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            // The contract sees what verify saw.
            let decoded = Equivocation::decode(&e.encode()).expect("decodes");
            prop_assert_eq!(&decoded, &e);
            prop_assert_eq!(decoded.verify().is_ok(), expected);
            Ok(())
        })
        .expect("no proof against an honest operator, and the model holds");
    // Not vacuous: the adversary's own double signing was proven in some cases.
    assert!(
        accepted.load(Ordering::Relaxed) > 0,
        "no case made a proof that holds"
    );
}

/// The signature and digest a side presents.
fn presented(pool: &[Signed], side: &Side) -> (ResponseDigest, Signature) {
    let signed = &pool[side.pick % pool.len()];
    let signature = match side.added {
        None => signed.signature,
        Some(j) => {
            AggregateSignature::aggregate([&signed.signature, &pool[j % pool.len()].signature])
                .expect("aggregate")
                .to_signature()
                .expect("not the identity")
        }
    };
    (side.digest.unwrap_or(signed.digest), signature)
}
