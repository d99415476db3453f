//! Criterion benchmarks of bulwark-crypto, then a summary with the goals' ratios.
//!
//! Names follow `area/operation/param=value`. After criterion runs, the summary reads
//! criterion's estimates back from `target/criterion` and prints the figures the
//! crate README records: the aggregation speed-up over one-by-one verification (goal
//! at least 50x), our overhead over the same work done directly in blst (goal at most
//! 1.5x), and the min-sig / min-pk comparison behind the choice of variant.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use bulwark_crypto::batch::{self, SignedMessage};
use bulwark_crypto::{
    AggregatePublicKey, AggregateSignature, Domain, PublicKey, SecretKey, Signature,
};
use criterion::{BatchSize, Criterion};

const N: usize = 1000;
const MSG: &[u8] = b"bulwark benchmark: task 42 response digest";
const MIN_PK_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

fn ikm(i: usize) -> [u8; 32] {
    let mut ikm = [7u8; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
    ikm
}

struct Signers {
    sks: Vec<SecretKey>,
    pks: Vec<PublicKey>,
    sigs: Vec<Signature>,
}

fn signers(n: usize) -> Signers {
    let sks: Vec<SecretKey> = (0..n)
        .map(|i| SecretKey::from_ikm(&ikm(i)).expect("ikm"))
        .collect();
    let pks = sks.iter().map(SecretKey::public_key).collect();
    let sigs = sks
        .iter()
        .map(|sk| sk.sign(&Domain::SIGNATURE, MSG))
        .collect();
    Signers { sks, pks, sigs }
}

fn bench_bulwark(c: &mut Criterion, s: &Signers) {
    let d = Domain::SIGNATURE;
    let sk = &s.sks[0];
    let (pk, sig) = (s.pks[0], s.sigs[0]);

    c.bench_function("crypto/sign", |b| b.iter(|| sk.sign(&d, black_box(MSG))));
    c.bench_function("crypto/verify", |b| {
        b.iter(|| pk.verify(&d, black_box(MSG), &sig).expect("valid"))
    });
    c.bench_function("crypto/aggregate_keys/n=1000", |b| {
        b.iter(|| AggregatePublicKey::aggregate(black_box(&s.pks)).expect("keys"))
    });
    c.bench_function("crypto/aggregate_signatures/n=1000", |b| {
        b.iter(|| AggregateSignature::aggregate(black_box(&s.sigs)).expect("sigs"))
    });

    // The aggregator's path: n (key, signature) pairs on one digest, summed, one pairing.
    c.bench_function("crypto/verify_same_message/n=1000", |b| {
        b.iter(|| {
            let apk = AggregatePublicKey::aggregate(&s.pks).expect("keys");
            let asig = AggregateSignature::aggregate(&s.sigs).expect("sigs");
            asig.verify(&d, black_box(MSG), &apk).expect("valid")
        })
    });

    let mut slow = c.benchmark_group("crypto/verify_one_by_one");
    slow.sample_size(10);
    slow.bench_function("n=1000", |b| {
        b.iter(|| {
            for (pk, sig) in s.pks.iter().zip(&s.sigs) {
                pk.verify(&d, black_box(MSG), sig).expect("valid");
            }
        })
    });
    slow.finish();

    // Raw blst doing the same work, with no wrapper in between.
    let raw_pks: Vec<blst::min_sig::PublicKey> = s
        .pks
        .iter()
        .map(|pk| blst::min_sig::PublicKey::from_bytes(&pk.to_bytes()).expect("pk"))
        .collect();
    let raw_sigs: Vec<blst::min_sig::Signature> = s
        .sigs
        .iter()
        .map(|sig| blst::min_sig::Signature::from_bytes(&sig.to_bytes()).expect("sig"))
        .collect();
    c.bench_function("blst/verify_same_message/n=1000", |b| {
        let pk_refs: Vec<&blst::min_sig::PublicKey> = raw_pks.iter().collect();
        let sig_refs: Vec<&blst::min_sig::Signature> = raw_sigs.iter().collect();
        b.iter(|| {
            let apk = blst::min_sig::AggregatePublicKey::aggregate(&pk_refs, false)
                .expect("keys")
                .to_public_key();
            let asig = blst::min_sig::AggregateSignature::aggregate(&sig_refs, false)
                .expect("sigs")
                .to_signature();
            let r = asig.fast_aggregate_verify_pre_aggregated(
                false,
                black_box(MSG),
                d.as_bytes(),
                &apk,
            );
            assert_eq!(r, blst::BLST_ERROR::BLST_SUCCESS);
        })
    });

    // n distinct messages, one random-weighted multi-pairing.
    let msgs: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("task {i} response").into_bytes())
        .collect();
    let distinct: Vec<Signature> = s
        .sks
        .iter()
        .zip(&msgs)
        .map(|(sk, m)| sk.sign(&d, m))
        .collect();
    let items: Vec<SignedMessage<'_>> = (0..N)
        .map(|i| SignedMessage::new(&s.pks[i], &msgs[i], &distinct[i]))
        .collect();
    let mut group = c.benchmark_group("crypto/verify_batch");
    group.sample_size(10);
    group.bench_function("n=1000", |b| {
        b.iter(|| batch::verify_batch(&d, black_box(&items)).expect("valid"))
    });
    group.finish();

    let mut group = c.benchmark_group("crypto/find_invalid");
    group.sample_size(10);
    for bad in [1usize, 10] {
        let mut pairs: Vec<(PublicKey, Signature)> =
            s.pks.iter().copied().zip(s.sigs.iter().copied()).collect();
        for j in 0..bad {
            let i = (j * 97 + 13) % N;
            pairs[i].1 = s.sks[i].sign(&d, b"a different digest");
        }
        group.bench_function(format!("bad={bad}/n=1000"), |b| {
            b.iter_batched(
                || pairs.clone(),
                |pairs| {
                    let found = batch::find_invalid_same_message(&d, MSG, &pairs);
                    assert_eq!(found.len(), bad);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The same primitives in both variants, straight from blst, to weigh the choice.
fn bench_variants(c: &mut Criterion) {
    macro_rules! variant {
        ($name:literal, $m:ident, $dst:expr) => {{
            let sks: Vec<blst::$m::SecretKey> = (0..N)
                .map(|i| blst::$m::SecretKey::key_gen(&ikm(i), &[]).expect("ikm"))
                .collect();
            let pks: Vec<blst::$m::PublicKey> = sks.iter().map(|k| k.sk_to_pk()).collect();
            let sigs: Vec<blst::$m::Signature> =
                sks.iter().map(|k| k.sign(MSG, $dst, &[])).collect();
            let pk_refs: Vec<&blst::$m::PublicKey> = pks.iter().collect();
            let sig_refs: Vec<&blst::$m::Signature> = sigs.iter().collect();
            c.bench_function(concat!("variant/", $name, "/sign"), |b| {
                b.iter(|| sks[0].sign(black_box(MSG), $dst, &[]))
            });
            c.bench_function(concat!("variant/", $name, "/verify"), |b| {
                b.iter(|| sigs[0].verify(false, black_box(MSG), $dst, &[], &pks[0], false))
            });
            c.bench_function(concat!("variant/", $name, "/aggregate_keys/n=1000"), |b| {
                b.iter(|| blst::$m::AggregatePublicKey::aggregate(black_box(&pk_refs), false))
            });
            c.bench_function(
                concat!("variant/", $name, "/aggregate_signatures/n=1000"),
                |b| b.iter(|| blst::$m::AggregateSignature::aggregate(black_box(&sig_refs), false)),
            );
            c.bench_function(
                concat!("variant/", $name, "/decompress_check_signature"),
                |b| {
                    let bytes = sigs[0].compress();
                    b.iter(|| {
                        blst::$m::Signature::sig_validate(black_box(&bytes), true).expect("sig")
                    })
                },
            );
        }};
    }
    variant!("min-sig", min_sig, Domain::SIGNATURE.as_bytes());
    variant!("min-pk", min_pk, MIN_PK_DST);
}

/// Criterion's mean estimates (ns) by benchmark id, read back from its output folder.
fn estimates() -> std::collections::HashMap<String, f64> {
    let root: PathBuf = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("criterion");
    let mut out = std::collections::HashMap::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir()
                && path
                    .file_name()
                    .is_some_and(|n| n != "report" && n != "base")
            {
                dirs.push(path);
            }
        }
        let read = |name: &str| -> Option<serde_json::Value> {
            serde_json::from_slice(&std::fs::read(dir.join(name)).ok()?).ok()
        };
        if dir.ends_with("new") {
            if let (Some(meta), Some(est)) = (read("benchmark.json"), read("estimates.json")) {
                if let (Some(id), Some(mean)) = (
                    meta["full_id"].as_str(),
                    est["mean"]["point_estimate"].as_f64(),
                ) {
                    out.insert(id.to_string(), mean);
                }
            }
        }
    }
    out
}

fn human(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.3} s", n / 1e9),
        n if n >= 1e6 => format!("{:.3} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} us", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}

fn summary() {
    let est = estimates();
    let mean_ns = |id: &str| est.get(id).copied();
    let rows = [
        "crypto/sign",
        "crypto/verify",
        "crypto/aggregate_keys/n=1000",
        "crypto/aggregate_signatures/n=1000",
        "crypto/verify_same_message/n=1000",
        "blst/verify_same_message/n=1000",
        "crypto/verify_one_by_one/n=1000",
        "crypto/verify_batch/n=1000",
        "crypto/find_invalid/bad=1/n=1000",
        "crypto/find_invalid/bad=10/n=1000",
    ];
    println!("\n== bulwark-crypto summary (mean per iteration) ==");
    for row in rows {
        if let Some(ns) = mean_ns(row) {
            println!("{row:<40} {:>12}", human(ns));
        }
    }
    if let (Some(agg), Some(one), Some(raw)) = (
        mean_ns("crypto/verify_same_message/n=1000"),
        mean_ns("crypto/verify_one_by_one/n=1000"),
        mean_ns("blst/verify_same_message/n=1000"),
    ) {
        let speedup = one / agg;
        let overhead = agg / raw;
        println!(
            "same-message, 1000 signers: {speedup:.0}x faster than one by one (goal >= 50x: {})",
            if speedup >= 50.0 { "met" } else { "MISSED" }
        );
        println!(
            "same-message, 1000 signers: {overhead:.2}x raw blst (goal <= 1.5x: {})",
            if overhead <= 1.5 { "met" } else { "MISSED" }
        );
    }
    println!("\n== variant comparison, raw blst ==");
    println!("{:<36} {:>12} {:>12}", "operation", "min-sig", "min-pk");
    for op in [
        "sign",
        "verify",
        "aggregate_keys/n=1000",
        "aggregate_signatures/n=1000",
        "decompress_check_signature",
    ] {
        let sig = mean_ns(&format!("variant/min-sig/{op}"));
        let pk = mean_ns(&format!("variant/min-pk/{op}"));
        if let (Some(sig), Some(pk)) = (sig, pk) {
            println!("{op:<36} {:>12} {:>12}", human(sig), human(pk));
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let s = signers(N);
    bench_bulwark(&mut c, &s);
    bench_variants(&mut c);
    c.final_summary();
    summary();
}
