//! The aggregation engine against real BLS signatures: thresholds, duplicates,
//! conflicting responses, outsiders, bad signatures, expiry, and a property test over
//! random operator sets and behaviours.

use bulwark_core::Offer;
use bulwark_core::engine::Event;
use bulwark_core::*;
use bulwark_crypto::{Domain, PublicKey, SecretKey};
use proptest::prelude::*;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [0xAB; 20],
};

struct Fixture {
    keys: Vec<SecretKey>,
    ids: Vec<OperatorId>,
    stakes: Vec<u64>,
}

fn fixture(stakes: &[u64]) -> Fixture {
    let keys: Vec<SecretKey> = (0..stakes.len())
        .map(|i| {
            let mut ikm = [3u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_ikm(&ikm).expect("ikm")
        })
        .collect();
    // Addresses in reverse so set order differs from creation order.
    let ids = (0..stakes.len())
        .map(|i| OperatorId([(250 - i) as u8; 20]))
        .collect();
    Fixture {
        keys,
        ids,
        stakes: stakes.to_vec(),
    }
}

impl Fixture {
    fn set(&self) -> OperatorSet {
        OperatorSet::new(
            (0..self.keys.len())
                .map(|i| Operator {
                    id: self.ids[i],
                    public_key: self.keys[i].public_key(),
                    stake: self.stakes[i],
                })
                .collect(),
        )
        .expect("set")
    }

    fn engine(&self, task_id: u64, bps: u16) -> Engine {
        self.engine_with(task_id, bps, Verification::Optimistic)
    }

    fn engine_with(&self, task_id: u64, bps: u16, verification: Verification) -> Engine {
        let mut engine = Engine::new(EngineConfig {
            verification,
            ..EngineConfig::default()
        });
        engine
            .open(TaskConfig {
                task_id,
                reference_block: 10,
                threshold: Threshold::new(bps).expect("threshold"),
                deadline: 100,
                operators: self.set(),
                context: CTX,
            })
            .expect("open");
        engine
    }

    fn signed(&self, i: usize, task_id: u64, response: &[u8]) -> SignedResponse {
        let message = CTX.message(task_id, &ResponseDigest::of(response));
        SignedResponse {
            task_id,
            operator: self.ids[i],
            response: response.to_vec(),
            signature: self.keys[i].sign(&Domain::SIGNATURE, &message),
        }
    }

    /// A submission whose signature is over the wrong message.
    fn forged(&self, i: usize, task_id: u64, response: &[u8]) -> SignedResponse {
        let mut s = self.signed(i, task_id, response);
        s.signature = self.keys[i].sign(&Domain::SIGNATURE, b"not the task message");
        s
    }
}

fn check(cert: &Certificate, f: &Fixture) {
    let keys: Vec<PublicKey> = cert
        .signers
        .iter()
        .map(|id| {
            let i = f
                .ids
                .iter()
                .position(|x| x == id)
                .expect("signer is a member");
            f.keys[i].public_key()
        })
        .collect();
    let message = CTX.message(cert.task_id, &cert.digest);
    PublicKey::fast_aggregate_verify(&Domain::SIGNATURE, &message, &keys, &cert.signature)
        .expect("certificate signature verifies");
    let stake: u64 = cert
        .signers
        .iter()
        .map(|id| f.stakes[f.ids.iter().position(|x| x == id).expect("member")])
        .sum();
    assert_eq!(stake, cert.signed_stake);
    assert_eq!(cert.signers.len() + cert.non_signers.len(), f.ids.len());
    assert!(
        cert.signers.windows(2).all(|w| w[0] < w[1]),
        "signers sorted"
    );
    assert!(
        cert.non_signers.windows(2).all(|w| w[0] < w[1]),
        "non-signers sorted"
    );
}

#[test]
fn certifies_exactly_at_the_threshold_not_one_below() {
    // Stakes 3, 3, 4: threshold 60% of 10 = 6.
    let f = fixture(&[3, 3, 4]);
    let mut e = f.engine(1, 6000);
    assert_eq!(e.submit(1, f.signed(0, 1, b"ok")), Ok(Outcome::Pending));
    match e.submit(1, f.signed(1, 1, b"ok")) {
        Ok(Outcome::Certified(cert)) => {
            assert_eq!(cert.signed_stake, 6);
            check(&cert, &f);
        }
        other => panic!("expected a certificate, got {other:?}"),
    }
    // 6001 bps of 10 needs 6.001: two 3s are one unit short.
    let mut e = f.engine(2, 6001);
    assert_eq!(e.submit(1, f.signed(0, 2, b"ok")), Ok(Outcome::Pending));
    assert_eq!(e.submit(1, f.signed(1, 2, b"ok")), Ok(Outcome::Pending));
    assert!(matches!(
        e.submit(1, f.signed(2, 2, b"ok")),
        Ok(Outcome::Certified(_))
    ));
    assert_eq!(
        e.submit(1, f.signed(2, 2, b"ok")),
        Err(Rejection::AlreadyCertified(2))
    );
}

#[test]
fn duplicates_are_idempotent_and_conflicts_are_evidence() {
    let f = fixture(&[1, 1, 1, 1]);
    // Eager: the first signature is verified (and binds the operator) at once.
    let mut e = f.engine_with(1, 10_000, Verification::Eager);
    assert_eq!(e.submit(1, f.signed(0, 1, b"a")), Ok(Outcome::Pending));
    assert_eq!(e.submit(1, f.signed(0, 1, b"a")), Ok(Outcome::Duplicate));
    let conflict = e.submit(1, f.signed(0, 1, b"b"));
    assert_eq!(
        conflict,
        Err(Rejection::Conflicting {
            operator: f.ids[0],
            first: ResponseDigest::of(b"a"),
        })
    );
    let events = e.drain_events();
    assert!(
        events
            .iter()
            .any(|ev| matches!(ev, Event::Equivocation(ev) if ev.operator == f.ids[0])),
        "{events:?}"
    );
    // Another signature on the credited response cannot be valid (BLS signatures are
    // unique): refused with no check, and the operator stays credited.
    assert_eq!(
        e.submit(1, f.forged(0, 1, b"a")),
        Err(Rejection::BadSignature(f.ids[0]))
    );
    assert_eq!(e.submit(1, f.signed(0, 1, b"a")), Ok(Outcome::Duplicate));
}

#[test]
fn two_unverified_responses_of_one_operator_are_equivocation_once_checked() {
    let f = fixture(&[1, 1, 1, 1]);
    let mut e = f.engine(1, 10_000);
    assert_eq!(e.submit(1, f.signed(0, 1, b"a")), Ok(Outcome::Pending));
    assert_eq!(e.submit(1, f.signed(0, 1, b"a")), Ok(Outcome::Duplicate));
    // Unverified, the first binds nothing: the second is another candidate.
    assert_eq!(e.submit(1, f.signed(0, 1, b"b")), Ok(Outcome::Pending));
    let reports = e.expire(101);
    assert_eq!(reports.len(), 1);
    let events = e.drain_events();
    assert!(
        events
            .iter()
            .any(|ev| matches!(ev, Event::Equivocation(ev) if ev.operator == f.ids[0])),
        "{events:?}"
    );
    // The operator counts for its first response only.
    let stake: u64 = reports[0].responses.iter().map(|r| r.2).sum();
    assert_eq!(stake, 1);
}

#[test]
fn outsiders_late_unknown_and_malformed_are_refused() {
    let f = fixture(&[1, 1]);
    let mut e = f.engine(1, 5000);
    let mut outsider = f.signed(0, 1, b"x");
    outsider.operator = OperatorId([1; 20]);
    assert_eq!(
        e.submit(1, outsider),
        Err(Rejection::UnknownOperator(OperatorId([1; 20])))
    );
    assert_eq!(
        e.submit(1, f.signed(0, 9, b"x")),
        Err(Rejection::UnknownTask(9))
    );
    assert_eq!(
        e.submit(101, f.signed(0, 1, b"x")),
        Err(Rejection::TooLate {
            task_id: 1,
            deadline: 100
        })
    );
    assert_eq!(
        e.submit(1, f.signed(0, 1, b"")),
        Err(Rejection::Malformed("empty response"))
    );
    let big = vec![0u8; EngineConfig::default().max_response_bytes + 1];
    assert_eq!(
        e.submit(1, f.signed(0, 1, &big)),
        Err(Rejection::Malformed("response too large"))
    );
}

#[test]
fn bad_signatures_are_dropped_and_the_certificate_still_lands() {
    let f = fixture(&[1; 10]);
    let mut e = f.engine(7, 6000);
    // Submissions in the names of operators 0 and 1 with bad signatures arrive
    // first; they are candidates until checked.
    assert_eq!(e.submit(1, f.forged(0, 7, b"r")), Ok(Outcome::Pending));
    assert_eq!(e.submit(1, f.forged(1, 7, b"r")), Ok(Outcome::Pending));
    for i in 2..5 {
        assert_eq!(e.submit(1, f.signed(i, 7, b"r")), Ok(Outcome::Pending));
    }
    // Claimed stake reaches 6: the check finds the two bad ones; 4 valid remain.
    assert_eq!(e.submit(1, f.signed(5, 7, b"r")), Ok(Outcome::Pending));
    let rejected: Vec<_> = e
        .drain_events()
        .into_iter()
        .filter_map(|ev| match ev {
            Event::SignatureRejected { operator, .. } => Some(operator),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.contains(&f.ids[0]) && rejected.contains(&f.ids[1]));
    // The same bad bytes again: refused from memory, no check.
    assert_eq!(
        e.submit(1, f.forged(0, 7, b"r")),
        Err(Rejection::BadSignature(f.ids[0]))
    );
    // The operators named by the forgeries still count with their own signatures.
    assert_eq!(e.submit(1, f.signed(0, 7, b"r")), Ok(Outcome::Pending));
    match e.submit(1, f.signed(1, 7, b"r")) {
        Ok(Outcome::Certified(cert)) => {
            check(&cert, &f);
            assert_eq!(cert.signed_stake, 6);
            assert!(cert.signers.contains(&f.ids[0]) && cert.signers.contains(&f.ids[1]));
        }
        other => panic!("expected a certificate, got {other:?}"),
    }
}

#[test]
fn a_forgery_first_does_not_bind_the_operator() {
    let f = fixture(&[1; 4]);
    let mut e = f.engine(2, 10_000);
    // The forger's candidate is held, then the operator's own signature arrives: the
    // two cannot both be valid, so the newcomer is checked alone and credited.
    assert_eq!(e.submit(1, f.forged(0, 2, b"r")), Ok(Outcome::Pending));
    assert_eq!(e.submit(1, f.signed(0, 2, b"r")), Ok(Outcome::Pending));
    let events = e.drain_events();
    assert!(
        events
            .iter()
            .any(|ev| matches!(ev, Event::Credited { operator, .. } if *operator == f.ids[0])),
        "{events:?}"
    );
    // The forgery was dropped without a check; resent, it is refused.
    assert_eq!(
        e.submit(1, f.forged(0, 2, b"r")),
        Err(Rejection::BadSignature(f.ids[0]))
    );
    // A forgery on another response: a candidate for the operator's name that fails
    // its check, never a conflict for the operator.
    for i in 1..4 {
        let mut forged = f.forged(i, 2, b"other");
        forged.signature = f.keys[0].sign(&bulwark_crypto::Domain::SIGNATURE, b"x");
        let _ = e.submit(1, forged);
    }
    for i in 1..3 {
        assert_eq!(e.submit(1, f.signed(i, 2, b"r")), Ok(Outcome::Pending));
    }
    match e.submit(1, f.signed(3, 2, b"r")) {
        Ok(Outcome::Certified(cert)) => {
            check(&cert, &f);
            assert_eq!(cert.signed_stake, 4);
        }
        other => panic!("expected a certificate, got {other:?}"),
    }
}

#[test]
fn eager_verification_refuses_bad_signatures_on_arrival() {
    let f = fixture(&[1; 4]);
    let mut e = f.engine_with(3, 7500, Verification::Eager);
    assert_eq!(
        e.submit(1, f.forged(0, 3, b"r")),
        Err(Rejection::BadSignature(f.ids[0]))
    );
    assert!(matches!(
        e.drain_events().as_slice(),
        [Event::SignatureRejected { operator, .. }] if *operator == f.ids[0]
    ));
    assert_eq!(
        e.submit(1, f.signed(0, 3, b"r")),
        Ok(Outcome::Pending),
        "a forgery in its name does not refuse the operator"
    );
    assert_eq!(e.submit(1, f.signed(1, 3, b"r")), Ok(Outcome::Pending));
    match e.submit(1, f.signed(2, 3, b"r")) {
        Ok(Outcome::Certified(cert)) => {
            check(&cert, &f);
            assert_eq!(cert.signed_stake, 3);
        }
        other => panic!("expected a certificate, got {other:?}"),
    }
}

#[test]
fn the_submitter_learns_its_own_signature_was_bad() {
    let f = fixture(&[1, 1]);
    let mut e = f.engine(1, 5000);
    assert_eq!(
        e.submit(1, f.forged(0, 1, b"r")),
        Err(Rejection::BadSignature(f.ids[0]))
    );
    assert!(e.is_open(1));
    assert!(matches!(
        e.submit(1, f.signed(0, 1, b"r")),
        Ok(Outcome::Certified(_))
    ));
}

#[test]
fn expiry_reports_valid_signers_per_response() {
    let f = fixture(&[1, 1, 1, 1, 1]);
    let mut e = f.engine(3, 8000);
    e.submit(1, f.signed(0, 3, b"a")).expect("a");
    e.submit(1, f.signed(1, 3, b"a")).expect("a");
    e.submit(1, f.signed(2, 3, b"b")).expect("b");
    e.submit(1, f.forged(3, 3, b"b"))
        .expect("b (unchecked yet)");
    assert!(e.expire(100).is_empty(), "not due before the deadline");
    let reports = e.expire(101);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.total_stake, 5);
    assert_eq!(r.responses[0].0, ResponseDigest::of(b"a"));
    assert_eq!(r.responses[0].2, 2);
    assert_eq!(
        r.responses[1].1,
        vec![f.ids[2]],
        "the forged signer is not reported"
    );
    assert!(!e.is_open(3));
    assert_eq!(
        e.submit(1, f.signed(4, 3, b"a")),
        Err(Rejection::UnknownTask(3))
    );
}

#[test]
fn open_refuses_duplicates_and_bounds() {
    let f = fixture(&[1]);
    let mut e = Engine::new(EngineConfig {
        max_open_tasks: 1,
        ..EngineConfig::default()
    });
    let task = |id| TaskConfig {
        task_id: id,
        reference_block: 1,
        threshold: Threshold::new(1).expect("t"),
        deadline: 5,
        operators: f.set(),
        context: CTX,
    };
    e.open(task(1)).expect("first");
    assert_eq!(e.open(task(1)), Err(EngineError::TaskExists(1)));
    assert_eq!(e.open(task(2)), Err(EngineError::TooManyTasks(1)));
}

#[test]
fn unverified_responses_per_task_are_bounded_without_crowding_anyone_out() {
    let f = fixture(&[1; 20]);
    let mut e = f.engine(1, 10_000);
    let max = EngineConfig::default().max_responses_per_task;
    for i in 0..max {
        assert_eq!(
            e.submit(1, f.forged(i, 1, format!("r{i}").as_bytes())),
            Ok(Outcome::Pending),
            "held unverified"
        );
    }
    // Past the bound a new response is checked on arrival: a forgery is refused,
    // an operator's own signature is credited.
    assert_eq!(
        e.submit(1, f.forged(max, 1, b"one more")),
        Err(Rejection::BadSignature(f.ids[max]))
    );
    assert_eq!(
        e.submit(1, f.signed(max, 1, b"one more")),
        Ok(Outcome::Pending)
    );
    // An existing response still takes candidates.
    assert_eq!(
        e.submit(1, f.signed(max + 1, 1, b"r0")),
        Ok(Outcome::Pending)
    );
}

#[test]
fn candidates_per_operator_are_bounded_and_the_operator_still_counts() {
    let f = fixture(&[1; 3]);
    let mut e = f.engine(1, 10_000);
    let per_operator = EngineConfig::default().max_candidates_per_operator;
    for k in 0..per_operator {
        assert_eq!(
            e.submit(1, f.forged(0, 1, format!("junk {k}").as_bytes())),
            Ok(Outcome::Pending)
        );
    }
    assert_eq!(
        e.submit(1, f.forged(0, 1, b"junk past the bound")),
        Err(Rejection::BadSignature(f.ids[0]))
    );
    assert_eq!(e.submit(1, f.signed(0, 1, b"r")), Ok(Outcome::Pending));
    assert_eq!(e.submit(1, f.signed(1, 1, b"r")), Ok(Outcome::Pending));
    assert!(matches!(
        e.submit(1, f.signed(2, 1, b"r")),
        Ok(Outcome::Certified(c)) if c.signed_stake == 3
    ));
}

#[test]
fn a_task_answered_elsewhere_refuses_later_submissions_as_certified() {
    let f = fixture(&[1; 4]);
    let mut e = f.engine(5, 10_000);
    assert!(matches!(
        e.submit(1, f.signed(0, 5, b"r")),
        Ok(Outcome::Pending)
    ));
    assert!(e.close(5), "it was open");
    assert!(!e.is_open(5));
    // An operator told "unknown task" would keep waiting for it to open.
    assert_eq!(
        e.submit(1, f.signed(1, 5, b"r")),
        Err(Rejection::AlreadyCertified(5))
    );
    assert!(!e.close(5), "closed once");
}

#[test]
fn deferred_checks_settle_outside_the_engine() {
    let f = fixture(&[1; 4]);
    let mut e = f.engine(5, 7500);
    for i in 0..2 {
        assert!(matches!(
            e.offer(1, f.signed(i, 5, b"r")),
            Offer::Decided(Ok(Outcome::Pending))
        ));
    }
    let Offer::Check(check) = e.offer(1, f.forged(2, 5, b"r")) else {
        panic!("the threshold is claimed: a check is due");
    };
    assert_eq!(check.len(), 3);
    // While it runs, more candidates arrive; they wait for the settlement.
    assert!(matches!(
        e.offer(1, f.signed(3, 5, b"r")),
        Offer::Decided(Ok(Outcome::Pending))
    ));
    let settled = e.settle(check.run());
    assert_eq!(settled.verdict, Err(Rejection::BadSignature(f.ids[2])));
    let next = settled
        .next
        .expect("the candidate that arrived meanwhile is checked next");
    assert_eq!(next.len(), 1);
    let settled = e.settle(next.run());
    assert!(matches!(settled.verdict, Ok(Outcome::Certified(c)) if c.signed_stake == 3));
    // A check settled after its task finished changes nothing.
    let mut e2 = f.engine(6, 2500);
    let Offer::Check(late) = e2.offer(1, f.signed(0, 6, b"r")) else {
        panic!("one operator claims 25%");
    };
    assert!(e2.expire(101).len() == 1);
    assert_eq!(
        e2.settle(late.run()).verdict,
        Err(Rejection::UnknownTask(6))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the stakes and behaviours, a certificate appears iff the honest signers
    /// of the common response hold the threshold, and it only ever counts them.
    #[test]
    fn certificate_iff_honest_stake_meets_threshold(
        stakes in proptest::collection::vec(1u64..1_000, 1..12),
        behaviour in proptest::collection::vec(0u8..4, 12),
        bps in 1u16..=10_000,
        eager in any::<bool>(),
    ) {
        let f = fixture(&stakes);
        let mode = if eager { Verification::Eager } else { Verification::Optimistic };
        let mut e = f.engine_with(1, bps, mode);
        let total: u64 = stakes.iter().sum();
        let threshold = Threshold::new(bps).expect("t");
        let mut honest = 0u64;
        let mut certified = None;
        for i in 0..stakes.len() {
            let outcome = match behaviour[i] {
                0 => { honest += stakes[i]; e.submit(1, f.signed(i, 1, b"same")) }
                1 => e.submit(1, f.forged(i, 1, b"same")),
                2 => e.submit(1, f.signed(i, 1, b"different")),
                _ => continue, // silent
            };
            if let Ok(Outcome::Certified(cert)) = outcome {
                certified = Some(cert);
                break;
            }
        }
        let other: u64 = (0..stakes.len()).filter(|&i| behaviour[i] == 2).map(|i| stakes[i]).sum();
        match certified {
            Some(cert) => {
                check(&cert, &f);
                prop_assert!(threshold.is_met(cert.signed_stake, total));
                for id in &cert.signers {
                    let i = f.ids.iter().position(|x| x == id).expect("member");
                    prop_assert!(behaviour[i] == 0 || behaviour[i] == 2, "only honest signers");
                }
            }
            None => {
                prop_assert!(!threshold.is_met(honest, total), "honest stake met the threshold but no certificate");
                prop_assert!(!threshold.is_met(other, total), "the other response met the threshold but no certificate");
            }
        }
    }

    /// Forgeries in honest operators' names, in any order relative to the honest
    /// submissions (first included), change nothing: the certificate counts exactly
    /// the honest stake it would count without them.
    #[test]
    fn forgeries_never_change_the_certified_stake(
        stakes in proptest::collection::vec(1u64..1_000, 1..10),
        forged_before in proptest::collection::vec(0usize..3, 10),
        forged_after in proptest::collection::vec(0usize..2, 10),
        order in proptest::collection::vec(any::<u16>(), 10),
        honest in proptest::collection::vec(any::<bool>(), 10),
        bps in 1u16..=10_000,
        eager in any::<bool>(),
    ) {
        let f = fixture(&stakes);
        let n = stakes.len();
        let total: u64 = stakes.iter().sum();
        let threshold = Threshold::new(bps).expect("t");
        let mode = if eager { Verification::Eager } else { Verification::Optimistic };
        // The reference run: honest submissions only, in the same order.
        let mut slots: Vec<usize> = (0..n).collect();
        slots.sort_by_key(|&i| order[i]);
        let honest_stake: u64 = (0..n).filter(|&i| honest[i]).map(|i| stakes[i]).sum();
        // The attacked run: each operator's turn brings forgeries in its name
        // before (and after) its own submission.
        let mut e = f.engine_with(1, bps, mode);
        let mut certified: Option<Box<Certificate>> = None;
        'run: for &i in &slots {
            for k in 0..forged_before[i] {
                let response: &[u8] = if k == 0 { b"same" } else { b"forged response" };
                match e.submit(1, f.forged(i, 1, response)) {
                    Ok(Outcome::Certified(c)) => { certified = Some(c); break 'run; }
                    Ok(_) | Err(Rejection::BadSignature(_)) => {}
                    Err(other) => prop_assert!(false, "forgery answered {other:?}"),
                }
            }
            if honest[i] {
                match e.submit(1, f.signed(i, 1, b"same")) {
                    Ok(Outcome::Certified(c)) => { certified = Some(c); break 'run; }
                    Ok(Outcome::Pending) => {}
                    other => prop_assert!(false, "honest operator answered {other:?}"),
                }
            }
            for _ in 0..forged_after[i] {
                match e.submit(1, f.forged(i, 1, b"same")) {
                    Ok(Outcome::Certified(c)) => { certified = Some(c); break 'run; }
                    Ok(_) | Err(Rejection::BadSignature(_)) => {}
                    Err(other) => prop_assert!(false, "forgery answered {other:?}"),
                }
            }
        }
        let met = threshold.is_met(honest_stake, total);
        match certified {
            Some(cert) => {
                check(&cert, &f);
                prop_assert!(met, "certified without the honest stake");
                for id in &cert.signers {
                    let i = f.ids.iter().position(|x| x == id).expect("member");
                    prop_assert!(honest[i], "a forgery was counted");
                }
            }
            None => prop_assert!(!met, "honest stake met the threshold but no certificate"),
        }
        for event in e.drain_events() {
            prop_assert!(!matches!(event, Event::Equivocation(_)), "forgeries made evidence");
        }
    }
}
