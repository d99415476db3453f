//! bulwark-crypto against an independent implementation: fixtures computed by py_ecc
//! (`fixtures/generate.py`, re-checked by `make test`) must match bit for bit.

use bulwark_crypto::{
    AggregatePublicKey, AggregateSignature, Domain, PossessionBinding, ProofOfPossession,
    PublicKey, SecretKey, Signature,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    ciphersuite: String,
    keys: Vec<Key>,
    signatures: Vec<Sig>,
    proofs_of_possession: Vec<Pop>,
    aggregates: Vec<Aggregate>,
}

#[derive(Deserialize)]
struct Key {
    ikm: String,
    secret_key: String,
    public_key: String,
    public_key_eip2537: String,
}

#[derive(Deserialize)]
struct Sig {
    key: usize,
    dst: String,
    message: String,
    signature: String,
    signature_eip2537: String,
}

#[derive(Deserialize)]
struct Pop {
    key: usize,
    chain_id: u64,
    registry: String,
    operator: String,
    message: String,
    proof: String,
}

impl Pop {
    fn binding(&self) -> PossessionBinding {
        let address = |s: &str| -> [u8; 20] { unhex(s).try_into().expect("20-byte address") };
        PossessionBinding {
            chain_id: self.chain_id,
            registry: address(&self.registry),
            operator: address(&self.operator),
        }
    }
}

#[derive(Deserialize)]
struct Aggregate {
    message: String,
    keys: Vec<usize>,
    signatures: Vec<String>,
    aggregate_public_key: String,
    aggregate_public_key_eip2537: String,
    aggregate_signature: String,
    valid: bool,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(include_str!("../fixtures/py_ecc.json")).expect("fixture JSON")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("fixture hex")
}

fn domain(dst: &str) -> Domain {
    if dst.as_bytes() == Domain::SIGNATURE.as_bytes() {
        Domain::SIGNATURE
    } else {
        Domain::new(dst.as_bytes().to_vec()).expect("fixture dst")
    }
}

fn secret_keys(f: &Fixtures) -> Vec<SecretKey> {
    f.keys
        .iter()
        .map(|k| SecretKey::from_ikm(&unhex(&k.ikm)).expect("ikm"))
        .collect()
}

#[test]
fn ciphersuite_is_the_one_we_sign_with() {
    assert_eq!(
        fixtures().ciphersuite.as_bytes(),
        Domain::SIGNATURE.as_bytes()
    );
}

#[test]
fn keys_from_the_same_ikm_agree() {
    let f = fixtures();
    assert!(f.keys.len() >= 5);
    for (k, sk) in f.keys.iter().zip(secret_keys(&f)) {
        assert_eq!(
            hex::encode(*sk.to_bytes()),
            k.secret_key,
            "KeyGen({})",
            k.ikm
        );
        let pk = sk.public_key();
        assert_eq!(hex::encode(pk.to_bytes()), k.public_key);
        assert_eq!(hex::encode(pk.to_eip2537()), k.public_key_eip2537);
        assert_eq!(
            PublicKey::from_eip2537(&unhex(&k.public_key_eip2537)).expect("eip"),
            pk
        );
    }
}

#[test]
fn signatures_agree_and_verify() {
    let f = fixtures();
    let sks = secret_keys(&f);
    assert!(f.signatures.len() >= 20);
    for s in &f.signatures {
        let d = domain(&s.dst);
        let msg = unhex(&s.message);
        let ours = sks[s.key].sign(&d, &msg);
        assert_eq!(
            hex::encode(ours.to_bytes()),
            s.signature,
            "key {} dst {}",
            s.key,
            s.dst
        );
        assert_eq!(hex::encode(ours.to_eip2537()), s.signature_eip2537);
        let theirs = Signature::from_bytes(&unhex(&s.signature)).expect("decode");
        let pk = sks[s.key].public_key();
        assert!(pk.verify(&d, &msg, &theirs).is_ok());
        let mut other = msg.clone();
        other.push(0);
        assert!(pk.verify(&d, &other, &theirs).is_err());
    }
}

#[test]
fn proofs_of_possession_agree() {
    let f = fixtures();
    let sks = secret_keys(&f);
    assert!(
        f.proofs_of_possession
            .iter()
            .any(|p| p.chain_id > u64::from(u32::MAX))
    );
    for p in &f.proofs_of_possession {
        let binding = p.binding();
        let pk = sks[p.key].public_key();
        // py_ecc builds the bound message from the documented layout on its own.
        assert_eq!(
            hex::encode(ProofOfPossession::message(&pk, &binding)),
            p.message
        );
        let ours = sks[p.key].prove_possession(&binding);
        assert_eq!(hex::encode(ours.to_bytes()), p.proof);
        let theirs = ProofOfPossession::from_bytes(&unhex(&p.proof)).expect("decode");
        assert!(theirs.verify(&pk, &binding).is_ok());
        let other = &sks[(p.key + 1) % sks.len()];
        assert!(theirs.verify(&other.public_key(), &binding).is_err());
        let thief = PossessionBinding {
            operator: [0xee; 20],
            ..binding
        };
        assert!(theirs.verify(&pk, &thief).is_err());
    }
}

#[test]
fn aggregates_agree_including_the_invalid_one() {
    let f = fixtures();
    let sks = secret_keys(&f);
    assert!(f.aggregates.iter().any(|a| a.valid) && f.aggregates.iter().any(|a| !a.valid));
    for a in &f.aggregates {
        let msg = unhex(&a.message);
        let pks: Vec<PublicKey> = a.keys.iter().map(|&i| sks[i].public_key()).collect();
        let sigs: Vec<Signature> = a
            .signatures
            .iter()
            .map(|s| Signature::from_bytes(&unhex(s)).expect("sig"))
            .collect();
        let apk = AggregatePublicKey::aggregate(&pks).expect("keys");
        let asig = AggregateSignature::aggregate(&sigs).expect("sigs");
        let apk_single = apk.to_public_key().expect("non-identity");
        assert_eq!(hex::encode(apk_single.to_bytes()), a.aggregate_public_key);
        assert_eq!(
            hex::encode(apk.to_eip2537()),
            a.aggregate_public_key_eip2537
        );
        let asig_single = asig.to_signature().expect("non-identity");
        assert_eq!(hex::encode(asig_single.to_bytes()), a.aggregate_signature);
        assert_eq!(
            asig.verify(&Domain::SIGNATURE, &msg, &apk).is_ok(),
            a.valid,
            "py_ecc says valid = {}",
            a.valid
        );
        assert_eq!(
            PublicKey::fast_aggregate_verify(&Domain::SIGNATURE, &msg, &pks, &asig_single).is_ok(),
            a.valid
        );
    }
}
