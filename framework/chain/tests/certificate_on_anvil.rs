//! A certificate signed in Rust is accepted on-chain: anvil with the EIP-2537
//! precompiles, the restaking core and an AVS deployed, four operators with BLS keys,
//! a task, and a certificate from three of them. A tampered certificate is refused.
//! And a registration copied from its operator is refused to anyone else.

use std::collections::BTreeSet;

use alloy::primitives::{U256, keccak256};
use alloy::providers::Provider;
use bulwark_chain::bindings::BasicAVS::{self, BasicAVSErrors};
use bulwark_chain::certificate::{Submission, build_certificate, submit_response};
use bulwark_chain::devnet::{DeployConfig, Devnet, ether, mined};
use bulwark_chain::message::task_response_message;
use bulwark_chain::registration::{KeyRegistration, possession_binding};
use bulwark_chain::registry::operator_set_at;
use bulwark_chain::tasks::create_task;
use bulwark_crypto::{AggregateSignature, Domain, ProofOfPossession, SecretKey};

const OPERATORS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn rust_certificate_is_accepted_and_tampering_is_refused() {
    let devnet = Devnet::start(OPERATORS as u32 + 1).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let ops = devnet
        .onboard_operators(&d, OPERATORS, ether(32))
        .await
        .expect("onboard");
    let keys: Vec<SecretKey> = ops.iter().map(|o| o.key.clone()).collect();
    let operators: Vec<_> = ops.iter().map(|o| o.address).collect();

    let provider = devnet.provider().clone();
    let avs = BasicAVS::new(d.avs, provider.clone());
    let created = create_task(&provider, d.avs, b"what is 6 * 7?", 6000, 100)
        .await
        .expect("createTask");
    let (task_id, reference_block) = (U256::from(created.task_id), created.reference_block);

    let set = operator_set_at(&provider, d.avs, reference_block)
        .await
        .expect("set");
    assert_eq!(set.operators.len(), OPERATORS);
    assert_eq!(set.total_stake_gwei, 4 * 32_000_000_000);

    let response = b"42".to_vec();
    let chain_id = devnet.chain_id().await.expect("chain id");
    let message = task_response_message(chain_id, d.avs, task_id.to::<u64>(), keccak256(&response));
    // On-chain and Rust agree on the signed bytes.
    let on_chain = avs
        .taskResponseMessage(task_id, keccak256(&response))
        .call()
        .await
        .expect("message");
    assert_eq!(on_chain, message);

    // Operators 0..3 sign; operator 3 does not.
    let signers: BTreeSet<_> = operators[..3].iter().copied().collect();
    let signatures: Vec<_> = keys[..3]
        .iter()
        .map(|k| k.sign(&Domain::SIGNATURE, message.as_slice()))
        .collect();
    let aggregate = AggregateSignature::aggregate(&signatures)
        .expect("sigs")
        .to_signature()
        .expect("non-identity");
    let cert = build_certificate(&set, &signers, &aggregate).expect("certificate");
    assert_eq!(cert.nonSigners.len(), 1);

    // Tampered: one bit of the message flipped before signing.
    let mut wrong = message;
    wrong.0[31] ^= 1;
    let bad_sig = AggregateSignature::aggregate(
        &keys[..3]
            .iter()
            .map(|k| k.sign(&Domain::SIGNATURE, wrong.as_slice()))
            .collect::<Vec<_>>(),
    )
    .expect("sigs")
    .to_signature()
    .expect("non-identity");
    let bad = build_certificate(&set, &signers, &bad_sig).expect("certificate");
    let err = submit_response(&provider, d.avs, task_id, &response, bad)
        .await
        .expect_err("a tampered certificate must be refused");
    match err {
        bulwark_chain::ChainError::Contract(e) => assert!(matches!(
            e.as_decoded_interface_error::<BasicAVSErrors>(),
            Some(BasicAVSErrors::InvalidSignature(_))
        )),
        other => panic!("unexpected error {other}"),
    }

    let outcome = submit_response(&provider, d.avs, task_id, &response, cert.clone())
        .await
        .expect("accepted");
    assert!(matches!(outcome, Submission::Accepted(_)));
    let task = avs.getTask(task_id).call().await.expect("task");
    assert_eq!(task.signedStakeGwei, 3 * 32_000_000_000);
    assert_eq!(task.totalStakeGwei, 4 * 32_000_000_000);
    assert_eq!(
        avs.responseOf(task_id)
            .call()
            .await
            .expect("response")
            .to_vec(),
        response
    );

    // Submitting again is reported as already answered, not as a failure.
    let again = submit_response(&provider, d.avs, task_id, &response, cert)
        .await
        .expect("idempotent");
    assert_eq!(again, Submission::AlreadyResponded);
    assert!(provider.get_block_number().await.expect("block") > u64::from(reference_block));
}

/// Someone who copies a key and its proof of possession from a pending registration
/// (here: replays the exact call from another operator account) is refused, and the
/// key stays free for its owner. The registry builds the bytes Rust signs.
#[tokio::test(flavor = "multi_thread")]
async fn copied_registration_is_refused_to_another_operator() {
    let devnet = Devnet::start(3).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let (victim, thief) = (devnet.accounts()[1], devnet.accounts()[2]);
    for operator in [victim, thief] {
        devnet
            .stake_operator(&d, operator, ether(32))
            .await
            .expect("stake");
    }
    let provider = devnet.provider().clone();
    let avs = BasicAVS::new(d.avs, provider.clone());
    let key = SecretKey::from_ikm(&[7u8; 32]).expect("ikm");
    let registration = KeyRegistration::for_chain(&provider, &key, d.avs, victim)
        .await
        .expect("chain id");

    let chain_id = devnet.chain_id().await.expect("chain id");
    let ours = ProofOfPossession::message(
        &key.public_key(),
        &possession_binding(chain_id, d.avs, victim),
    );
    let on_chain = avs
        .possessionMessage(registration.public_key.clone(), victim)
        .call()
        .await
        .expect("possessionMessage");
    assert_eq!(on_chain.as_ref(), ours.as_slice());

    let err = avs
        .registerOperator(registration.public_key.clone(), registration.proof.clone())
        .from(thief)
        .send()
        .await
        .expect_err("a copied proof must not register the key for the thief");
    assert!(
        matches!(
            err.as_decoded_interface_error::<BasicAVSErrors>(),
            Some(BasicAVSErrors::InvalidProofOfPossession(_))
        ),
        "unexpected error {err}"
    );

    mined(
        &provider,
        avs.registerOperator(registration.public_key, registration.proof)
            .from(victim)
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect("the owner registers its key");
    assert!(avs.isRegistered(victim).call().await.expect("isRegistered"));
    assert!(!avs.isRegistered(thief).call().await.expect("isRegistered"));
}
