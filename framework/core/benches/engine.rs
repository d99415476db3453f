//! The aggregation engine alone: 1,000 operators sign one task; how fast do their
//! signatures become a certificate, optimistically (one aggregate check) versus
//! eagerly (each signature verified on arrival, as a naive aggregator would)?
//! Prints signatures per second for both and the ratio (goal: at least 20x).

use std::hint::black_box;
use std::time::Duration;

use bulwark_core::*;
use bulwark_crypto::{Domain, SecretKey};
use criterion::{BatchSize, Criterion};

const N: usize = 1000;
const CTX: SigningContext = SigningContext {
    chain_id: 1,
    avs: [1; 20],
};

fn setup() -> (OperatorSet, Vec<SignedResponse>) {
    let keys: Vec<SecretKey> = (0..N)
        .map(|i| {
            let mut ikm = [9u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_ikm(&ikm).expect("ikm")
        })
        .collect();
    let id = |i: usize| {
        let mut a = [0u8; 20];
        a[..8].copy_from_slice(&(i as u64).to_be_bytes());
        OperatorId(a)
    };
    let set = OperatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Operator {
                id: id(i),
                public_key: k.public_key(),
                stake: 32,
            })
            .collect(),
    )
    .expect("set");
    let response = b"benchmark response".to_vec();
    let message = CTX.message(1, &ResponseDigest::of(&response));
    let subs = keys
        .iter()
        .enumerate()
        .map(|(i, k)| SignedResponse {
            task_id: 1,
            operator: id(i),
            response: response.clone(),
            signature: k.sign(&Domain::SIGNATURE, &message),
        })
        .collect();
    (set, subs)
}

fn engine(set: &OperatorSet) -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.open(TaskConfig {
        task_id: 1,
        reference_block: 1,
        threshold: Threshold::new(10_000).expect("t"),
        deadline: 10,
        operators: set.clone(),
        context: CTX,
    })
    .expect("open");
    e
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .configure_from_args();
    let (set, subs) = setup();
    let message = CTX.message(1, &ResponseDigest::of(&subs[0].response));

    let mut group = c.benchmark_group("engine/certify/operators=1000");
    group.bench_function("optimistic", |b| {
        b.iter_batched(
            || (engine(&set), subs.clone()),
            |(mut e, subs)| {
                let mut last = None;
                for s in subs {
                    last = Some(e.submit(1, s));
                }
                assert!(matches!(last, Some(Ok(Outcome::Certified(_)))));
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("eager", |b| {
        b.iter_batched(
            || (engine(&set), subs.clone()),
            |(mut e, subs)| {
                let mut last = None;
                for s in subs {
                    let pk = set.get(&s.operator).expect("member").public_key;
                    pk.verify(&Domain::SIGNATURE, black_box(&message), &s.signature)
                        .expect("valid");
                    last = Some(e.submit(1, s));
                }
                assert!(matches!(last, Some(Ok(Outcome::Certified(_)))));
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    c.final_summary();
}
