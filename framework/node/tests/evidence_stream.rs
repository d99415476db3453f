//! The aggregator turns an equivocation it sees into a proof `TaskManager.challenge`
//! takes, and serves it over gRPC (`StreamEvidence`): to a challenger that connects
//! after the fact, and live to one already listening; a resumed stream repeats
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use bulwark_chain::registry::{OperatorEntry, OperatorSet as ChainSet};
use bulwark_chain::slashing::{Equivocation, equivocation_offence};
use bulwark_core::{
    EngineConfig, Operator, OperatorId, OperatorSet, ResponseDigest, SignedResponse,
    SigningContext, SlashingProof, TaskConfig, Threshold, Verification,
};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::client::{Backoff, Connection};
use bulwark_net::proto::SubmissionStatus;
use bulwark_node::aggregator::Aggregator;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [8; 20],
};

fn signed(key: &SecretKey, id: OperatorId, task_id: u64, response: &[u8]) -> SignedResponse {
    SignedResponse {
        task_id,
        operator: id,
        response: response.to_vec(),
        signature: key.sign(
            &Domain::SIGNATURE,
            &CTX.message(task_id, &ResponseDigest::of(response)),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equivocations_reach_challengers_as_proofs() {
    let keys: Vec<SecretKey> = (1..=3u8)
        .map(|i| SecretKey::from_ikm(&[i; 32]).expect("ikm"))
        .collect();
    let ids: Vec<OperatorId> = (1..=3u8).map(|i| OperatorId([i; 20])).collect();
    let (aggregator, _certificates) = Aggregator::new(EngineConfig {
        verification: Verification::Eager,
        ..EngineConfig::default()
    });
    let set = OperatorSet::new(
        keys.iter()
            .zip(&ids)
            .map(|(k, id)| Operator {
                id: *id,
                public_key: k.public_key(),
                stake: 10,
            })
            .collect(),
    )
    .expect("set");
    let chain_set = ChainSet {
        block: 1,
        set_hint: 0,
        total_stake_gwei: 30,
        operators: keys
            .iter()
            .zip(&ids)
            .map(|(k, id)| OperatorEntry {
                address: Address::from(id.0),
                stake_gwei: 10,
                public_key: k.public_key(),
                hint: 0,
            })
            .collect(),
    };
    aggregator
        .open_task(
            TaskConfig {
                task_id: 3,
                reference_block: 1,
                threshold: Threshold::new(10_000).expect("threshold"),
                deadline: u64::MAX,
                operators: set,
                context: CTX,
            },
            chain_set,
            &[],
        )
        .await
        .expect("open");
    let (listener, addr) = bulwark_net::server::bind_loopback().await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = aggregator.clone();
    let server = tokio::spawn(async move {
        bulwark_net::server::serve(listener, serving, 1024, async {
            let _ = stopped.await;
        })
        .await
    });
    let endpoint = format!("http://{addr}");
    let backoff = Backoff::default();

    // Operator 0 signs two answers to task 3.
    let op0 = Connection::for_operator(&endpoint, ids[0], keys[0].clone());
    let (status, _) = op0
        .submit(&signed(&keys[0], ids[0], 3, b"yes"), &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Accepted);
    let (status, _) = op0
        .submit(&signed(&keys[0], ids[0], 3, b"no"), &backoff)
        .await
        .expect("answered");
    assert_eq!(status, SubmissionStatus::Conflicting);

    // A challenger connecting afterwards gets the proof.
    let challenger = Connection::new(&endpoint);
    let mut stream = challenger.evidence(0, &backoff).await.expect("stream");
    let first = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("in time")
        .expect("ok")
        .expect("an item");
    assert_eq!(first.sequence, 1);
    assert_eq!(first.task_id, 3);
    assert_eq!(first.offence, equivocation_offence().to_vec());
    assert_eq!(first.operator, ids[0].0.to_vec());
    assert_eq!(first.run.len(), 16);
    let proof = Equivocation::decode(&first.evidence).expect("a proof");
    proof.verify().expect("that holds");
    assert_eq!(proof.offender(), ids[0]);
    assert_eq!(proof.public_key, keys[0].public_key());

    // Operator 1 equivocates while the challenger listens: it arrives live.
    let op1 = Connection::for_operator(&endpoint, ids[1], keys[1].clone());
    op1.submit(&signed(&keys[1], ids[1], 3, b"yes"), &backoff)
        .await
        .expect("answered");
    op1.submit(&signed(&keys[1], ids[1], 3, b"maybe"), &backoff)
        .await
        .expect("answered");
    let live = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("in time")
        .expect("ok")
        .expect("an item");
    assert_eq!(live.sequence, 2);
    assert_eq!(live.run, first.run);
    Equivocation::decode(&live.evidence)
        .expect("a proof")
        .verify()
        .expect("holds");

    // A forged "second answer" (someone else's signature) is no evidence.
    let mut forged = signed(&keys[2], ids[2], 3, b"maybe");
    forged.signature = keys[1].sign(&Domain::SIGNATURE, b"anything");
    let op2 = Connection::for_operator(&endpoint, ids[2], keys[2].clone());
    op2.submit(&signed(&keys[2], ids[2], 3, b"yes"), &backoff)
        .await
        .expect("answered");
    op2.submit(&forged, &backoff).await.expect("answered");

    // Resumed after the last item: nothing old again, nothing new from the forgery.
    let mut resumed = challenger.evidence(2, &backoff).await.expect("stream");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), resumed.message())
            .await
            .is_err(),
        "nothing after 2"
    );
    drop((stream, resumed));
    let _ = stop.send(());
    server.await.expect("join").expect("server");
    assert!(Arc::strong_count(&aggregator) >= 1);
}
