//! Slashing protection end to end over real gRPC: an operator restarted with its
//! protection file, whose task now computes another answer, sends its first answer
//! again and never signs the second; an observer restarted with another observation
//! re-sends its first report and endorses nothing it could be slashed for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bulwark_chain::slashing::{Equivocation, SignedKind};
use bulwark_core::{
    OperatorId, Outcome, Rejection, ResponseDigest, SignedResponse, SigningContext, SlashingProof,
    Task,
};
use bulwark_crypto::{PublicKey, SecretKey};
use bulwark_net::server::{self, SubmissionSink};
use bulwark_node::follow::NewTask;
use bulwark_node::operator::OperatorRuntime;
use bulwark_node::protection::Protection;

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [6; 20],
};

/// A task whose answer changes every time it runs (a clock, a price).
struct Drifting(AtomicU64);

impl Task for Drifting {
    type Input = ();
    type Output = u64;
    type Error = std::convert::Infallible;

    fn decode_input(&self, _: &[u8]) -> Option<()> {
        Some(())
    }

    async fn execute(&self, _: ()) -> Result<u64, Self::Error> {
        Ok(self.0.fetch_add(1, Ordering::SeqCst))
    }

    fn encode_output(&self, output: &u64) -> Vec<u8> {
        output.to_be_bytes().to_vec()
    }
}

/// Records every submission that reaches it.
struct Recorder {
    key: PublicKey,
    seen: std::sync::Mutex<Vec<SignedResponse>>,
}

impl SubmissionSink for Recorder {
    async fn operator_key(&self, _: OperatorId) -> Option<PublicKey> {
        Some(self.key)
    }

    async fn submit(&self, submission: SignedResponse) -> Result<Outcome, Rejection> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(submission);
        Ok(Outcome::Pending)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_never_signs_a_second_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("operator.protection.redb");
    let key = SecretKey::from_ikm(&[9; 32]).expect("ikm");
    let id = OperatorId([9; 20]);
    let sink = Arc::new(Recorder {
        key: key.public_key(),
        seen: Default::default(),
    });
    let (listener, addr) = server::bind_loopback().await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = sink.clone();
    let handle = tokio::spawn(async move {
        server::serve(listener, serving, 1024, async {
            let _ = stopped.await;
        })
        .await
    });
    let endpoint = format!("http://{addr}");
    let task = NewTask {
        task_id: 4,
        input: Vec::new(),
        reference_block: 1,
        threshold_bps: 6_000,
        deadline_block: 100,
    };

    for run in 0..3u64 {
        // A new process each time: the protection file is all that carries over, and
        // the task answers differently (1000, 1001, ...).
        let protection = Arc::new(Protection::open(&path).expect("open"));
        let operator = OperatorRuntime::new(
            Drifting(AtomicU64::new(1000 + run)),
            key.clone(),
            id,
            CTX,
            vec![endpoint.clone()],
        )
        .with_protection(protection);
        operator.respond(&task).await.expect("sends");
        // Another task is answered normally.
        let next = NewTask {
            task_id: 5 + run,
            ..task.clone()
        };
        operator.respond(&next).await.expect("sends");
    }

    let seen = sink.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let on_task: Vec<_> = seen.iter().filter(|s| s.task_id == 4).collect();
    assert_eq!(on_task.len(), 3, "sent each run");
    for s in &on_task {
        assert_eq!(
            s.response,
            1000u64.to_be_bytes(),
            "the first answer, every time"
        );
        assert_eq!(s.signature, on_task[0].signature);
    }
    // Nothing the operator sent makes an equivocation.
    for a in &seen {
        for b in &seen {
            let proof = Equivocation {
                context: CTX,
                task_id: a.task_id,
                kind: SignedKind::Response,
                operator: id,
                public_key: key.public_key(),
                first: (ResponseDigest::of(&a.response), a.signature),
                second: (ResponseDigest::of(&b.response), b.signature),
            };
            assert!(proof.verify().is_err(), "{a:?} / {b:?}");
        }
    }
    let _ = stop.send(());
    handle.await.expect("join").expect("server");
}
