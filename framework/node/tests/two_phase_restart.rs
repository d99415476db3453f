//! A two-phase aggregator restarted between reports and its proposal: operators
//! report once and then only ask for the proposal, so the reports it had accepted
//! must come back from its store, or the round could never be proposed.

use std::sync::Arc;

use alloy::primitives::Address;
use bulwark_chain::registry::{OperatorEntry, OperatorSet as ChainSet};
use bulwark_core::{
    EngineConfig, Operator, OperatorId, OperatorSet, Proposal, Propose, ReportOutcome,
    ResponseDigest, SignedReport, SigningContext, TaskConfig, Threshold, WeighedReport,
};
use bulwark_crypto::{Domain, SecretKey};
use bulwark_net::server::{ProposalState, SubmissionSink};
use bulwark_node::aggregator::store::Store;
use bulwark_node::aggregator::{Aggregator, TwoPhase};

const CTX: SigningContext = SigningContext {
    chain_id: 31337,
    avs: [9; 20],
};
const TASK: u64 = 1;

/// Proposes the highest reported value (a big-endian u64), so the proposal shows
/// whose reports the round holds.
struct Highest;

impl Propose for Highest {
    fn check_report(&self, _input: &[u8], report: &[u8]) -> bool {
        report.len() == 8
    }

    fn propose(&self, _input: &[u8], reports: &[WeighedReport<'_>]) -> Option<Proposal> {
        let highest = reports
            .iter()
            .filter_map(|r| <[u8; 8]>::try_from(r.report).ok())
            .map(u64::from_be_bytes)
            .max()?;
        Some(Proposal {
            response: highest.to_be_bytes().to_vec(),
            outliers: Vec::new(),
        })
    }
}

struct Operators {
    keys: Vec<SecretKey>,
    ids: Vec<OperatorId>,
}

impl Operators {
    fn new(n: u8) -> Self {
        let keys = (0..n)
            .map(|i| SecretKey::from_ikm(&[i + 1; 32]).expect("ikm"))
            .collect();
        let ids = (0..n).map(|i| OperatorId([i + 1; 20])).collect();
        Self { keys, ids }
    }

    fn config(&self) -> TaskConfig {
        let operators = self
            .keys
            .iter()
            .zip(&self.ids)
            .map(|(k, id)| Operator {
                id: *id,
                public_key: k.public_key(),
                stake: 10,
            })
            .collect();
        TaskConfig {
            task_id: TASK,
            reference_block: 1,
            // Two of three hold the threshold; the long report window keeps the
            // round waiting for the third.
            threshold: Threshold::new(5_000).expect("threshold"),
            deadline: u64::MAX,
            operators: OperatorSet::new(operators).expect("set"),
            context: CTX,
        }
    }

    fn chain_set(&self) -> ChainSet {
        ChainSet {
            block: 1,
            set_hint: 0,
            total_stake_gwei: 10 * self.ids.len() as u64,
            operators: self
                .keys
                .iter()
                .zip(&self.ids)
                .map(|(k, id)| OperatorEntry {
                    address: Address::from(id.0),
                    stake_gwei: 10,
                    public_key: k.public_key(),
                    hint: 0,
                })
                .collect(),
        }
    }

    fn report(&self, i: usize, value: u64) -> SignedReport {
        let report = value.to_be_bytes().to_vec();
        let message = CTX.report_message(TASK, &ResponseDigest::of(&report));
        SignedReport {
            task_id: TASK,
            operator: self.ids[i],
            report,
            signature: self.keys[i].sign(&Domain::SIGNATURE, &message),
        }
    }
}

async fn start(ops: &Operators, journal: &std::path::Path) -> Arc<Aggregator> {
    let two_phase = TwoPhase {
        proposer: Arc::new(Highest),
        report_window_blocks: u64::MAX,
        evidence: None,
    };
    let (aggregator, _certificates) = Aggregator::build(
        EngineConfig::default(),
        Some(Arc::new(Store::open(journal).expect("store"))),
        Some(two_phase),
    );
    aggregator
        .open_task(ops.config(), ops.chain_set(), b"input")
        .await
        .expect("open");
    aggregator
}

#[tokio::test]
async fn a_restarted_aggregator_proposes_from_the_reports_it_had_accepted() {
    let dir = tempfile::tempdir().expect("dir");
    let journal = dir.path().join("aggregator.redb");
    let ops = Operators::new(3);

    let first = start(&ops, &journal).await;
    for (i, value) in [(0, 100), (1, 300)] {
        assert_eq!(
            first.submit_report(ops.report(i, value)).await,
            Ok(ReportOutcome::Accepted)
        );
    }
    assert!(matches!(first.proposal(TASK).await, ProposalState::Pending));
    drop(first);

    let restarted = start(&ops, &journal).await;
    // Operator 0's report is back: sending it again is a duplicate, a different one
    // a conflict.
    assert_eq!(
        restarted.submit_report(ops.report(0, 100)).await,
        Ok(ReportOutcome::Duplicate)
    );
    assert!(restarted.submit_report(ops.report(0, 101)).await.is_err());
    // The last report completes the round, and the proposal counts operator 1's
    // replayed report (the highest).
    assert_eq!(
        restarted.submit_report(ops.report(2, 200)).await,
        Ok(ReportOutcome::Accepted)
    );
    match restarted.proposal(TASK).await {
        ProposalState::Ready(response) => assert_eq!(response, 300u64.to_be_bytes().to_vec()),
        other => panic!("expected a proposal, got {other:?}"),
    }
}

/// Two different reports of one round, both signed by the operator, are an
/// equivocation (kind `Report`): the aggregator proves it for challengers. A report
/// in the operator's name with a bad signature proves nothing, and does not stop
/// the real conflict from being proven.
#[tokio::test]
async fn conflicting_reports_become_a_report_equivocation() {
    use bulwark_chain::slashing::{Equivocation, SignedKind};
    use bulwark_core::SlashingProof;

    let dir = tempfile::tempdir().expect("dir");
    let ops = Operators::new(3);
    let aggregator = start(&ops, &dir.path().join("aggregator.redb")).await;
    assert_eq!(
        aggregator.submit_report(ops.report(0, 100)).await,
        Ok(ReportOutcome::Accepted)
    );
    assert_eq!(
        aggregator.submit_report(ops.report(1, 200)).await,
        Ok(ReportOutcome::Accepted)
    );
    // Operator 0's name on a report signed by operator 2: refused, nothing proven.
    let mut forged = ops.report(2, 201);
    forged.operator = ops.ids[0];
    assert!(aggregator.submit_report(forged).await.is_err());
    assert!(
        aggregator.evidence().since(0).is_empty(),
        "a forgery proves nothing"
    );

    // Operator 0 reports a second value: refused for the round, and proven.
    assert!(aggregator.submit_report(ops.report(0, 150)).await.is_err());
    let items = aggregator.evidence().since(0);
    assert_eq!(items.len(), 1);
    let proof = Equivocation::decode(&items[0].evidence).expect("an equivocation");
    assert_eq!(proof.kind, SignedKind::Report);
    assert_eq!(proof.operator, ops.ids[0]);
    assert_eq!(proof.task_id, TASK);
    proof.verify().expect("it holds");
    // The same conflict again adds nothing.
    assert!(aggregator.submit_report(ops.report(0, 151)).await.is_err());
    assert_eq!(aggregator.evidence().since(0).len(), 1);
}

/// Flags every endorsement of the lowest reporter whose signature holds: an AVS
/// offence that does not depend on the endorsement making the certificate.
struct FlagsLowest;

impl Propose for FlagsLowest {
    fn check_report(&self, input: &[u8], report: &[u8]) -> bool {
        Highest.check_report(input, report)
    }

    fn propose(&self, input: &[u8], reports: &[WeighedReport<'_>]) -> Option<Proposal> {
        Highest.propose(input, reports)
    }

    fn endorsement_evidence(
        &self,
        context: &SigningContext,
        key: &bulwark_crypto::PublicKey,
        report: &SignedReport,
        endorsement: &bulwark_core::SignedResponse,
    ) -> Option<Vec<u8>> {
        let message = context.message(
            endorsement.task_id,
            &ResponseDigest::of(&endorsement.response),
        );
        key.verify(&Domain::SIGNATURE, &message, &endorsement.signature)
            .ok()?;
        (report.report == 50u64.to_be_bytes()).then(|| [7u8; 40].to_vec())
    }
}

/// An endorsement arriving after the task's certificate is still an endorsement its
/// operator signed: the AVS's offence in it is proven (once), not lost because
/// honest operators were faster.
#[tokio::test]
async fn an_offence_in_an_endorsement_after_the_certificate_is_still_proven() {
    let ops = Operators::new(3);
    let two_phase = TwoPhase {
        proposer: Arc::new(FlagsLowest),
        report_window_blocks: u64::MAX,
        evidence: None,
    };
    let (aggregator, _certificates) =
        Aggregator::build(EngineConfig::default(), None, Some(two_phase));
    aggregator
        .open_task(ops.config(), ops.chain_set(), b"input")
        .await
        .expect("open");
    for (i, value) in [(0, 100), (1, 300), (2, 50)] {
        assert_eq!(
            aggregator.submit_report(ops.report(i, value)).await,
            Ok(ReportOutcome::Accepted)
        );
    }
    let ProposalState::Ready(proposal) = aggregator.proposal(TASK).await else {
        panic!("every operator reported: a proposal");
    };
    let endorse = |i: usize| {
        let message = CTX.message(TASK, &ResponseDigest::of(&proposal));
        bulwark_core::SignedResponse {
            task_id: TASK,
            operator: ops.ids[i],
            response: proposal.clone(),
            signature: ops.keys[i].sign(&Domain::SIGNATURE, &message),
        }
    };
    // Two of three hold the threshold: certified without operator 2.
    aggregator.submit(endorse(0)).await.expect("pending");
    let certified = aggregator.submit(endorse(1)).await.expect("certified");
    assert!(matches!(certified, bulwark_core::Outcome::Certified(_)));
    assert!(aggregator.evidence().since(0).is_empty());
    // Operator 2 endorses late: refused for the certificate, proven all the same.
    assert!(aggregator.submit(endorse(2)).await.is_err());
    let items = aggregator.evidence().since(0);
    assert_eq!(items.len(), 1, "the late endorsement's offence is proven");
    assert_eq!(items[0].operator, ops.ids[2].0);
    // A forged late endorsement in operator 1's name proves nothing.
    let mut forged = endorse(2);
    forged.operator = ops.ids[1];
    assert!(aggregator.submit(forged).await.is_err());
    assert_eq!(aggregator.evidence().since(0).len(), 1);
}
