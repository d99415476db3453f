//! Writes the committed seed corpus (`fuzz/corpus/<target>/`): a few small valid inputs
//! per target, made with the encoders the runtimes use, so every run starts past the
//! outermost parser. `make fuzz-corpus` runs it; the keystores' salts and IVs are
//! random, so a rerun changes those files and nothing else.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolError, SolValue};
use bulwark_chain::bindings::BasicAVS;
use bulwark_chain::bindings::CertificateVerifier::{Certificate, NonSigner};
use bulwark_chain::bindings::{LiquidStakingToken, RestakingCore};
use bulwark_chain::points;
use bulwark_cli::state::{DevAccount, DevnetOperator, DevnetState, Process};
use bulwark_core::{OperatorId, ResponseDigest, SignedReport, SignedResponse, SigningContext};
use bulwark_crypto::keystore::{Kdf, Keystore};
use bulwark_crypto::{AggregateSignature, Domain, SecretKey};
use bulwark_node::config::{AggregatorConfig, ChainConfig, OperatorConfig};
use oracle_avs::price::Price;
use oracle_avs::round::{RoundAnswer, RoundInput, feed_id};
use prost::Message;

/// The keystore target's password (the EIP-2335 test vectors').
const PASSWORD: &str = "\u{1d531}\u{1d522}\u{1d530}\u{1d531}\u{1d52d}\u{1d51e}\u{1d530}\u{1d530}\u{1d534}\u{1d52c}\u{1d52f}\u{1d521}\u{1f511}";
const AVS: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Corpus(PathBuf);

impl Corpus {
    fn write(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) -> Result {
        let dir = self.0.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        Ok(())
    }
}

fn key(i: u8) -> Result<SecretKey> {
    Ok(SecretKey::from_ikm(&[i; 32])?)
}

fn context() -> SigningContext {
    SigningContext {
        chain_id: 31337,
        avs: [0x5f; 20],
    }
}

fn response(task_id: u64, operator: u8, bytes: &[u8]) -> Result<SignedResponse> {
    let digest = ResponseDigest::of(bytes);
    Ok(SignedResponse {
        task_id,
        operator: OperatorId([operator; 20]),
        response: bytes.to_vec(),
        signature: key(operator)?.sign(&Domain::SIGNATURE, &context().message(task_id, &digest)),
    })
}

fn report(task_id: u64, operator: u8, bytes: &[u8]) -> Result<SignedReport> {
    let digest = ResponseDigest::of(bytes);
    Ok(SignedReport {
        task_id,
        operator: OperatorId([operator; 20]),
        report: bytes.to_vec(),
        signature: key(operator)?.sign(
            &Domain::SIGNATURE,
            &context().report_message(task_id, &digest),
        ),
    })
}

fn answer(round: u64, price: &str) -> Result<RoundAnswer> {
    Ok(RoundAnswer {
        feed: feed_id("ETH/USD").ok_or("feed id")?,
        round,
        price: Price::parse(price)?,
        observed_at: 1_795_996_800,
    })
}

fn grpc(corpus: &Corpus) -> Result {
    let hello = response(1, 1, b"Hello, Ada!")?;
    corpus.write(
        "submission",
        "hello",
        bulwark_net::submission::encode(&hello).encode_to_vec(),
    )?;
    let oracle = response(7, 2, &answer(3, "3021.45")?.encode())?;
    corpus.write(
        "submission",
        "oracle-answer",
        bulwark_net::submission::encode(&oracle).encode_to_vec(),
    )?;
    let mut bad_digest = bulwark_net::submission::encode(&hello);
    bad_digest.digest[0] ^= 1;
    corpus.write("submission", "bad-digest", bad_digest.encode_to_vec())?;

    let ours = report(7, 2, &answer(3, "3021.45")?.encode())?;
    corpus.write(
        "report",
        "oracle-report",
        bulwark_net::submission::encode_report(&ours).encode_to_vec(),
    )?;
    let far = report(7, 3, &answer(3, "2990.00000001")?.encode())?;
    corpus.write(
        "report",
        "oracle-report-far",
        bulwark_net::submission::encode_report(&far).encode_to_vec(),
    )?;
    let short = report(1, 4, b"x")?;
    corpus.write(
        "report",
        "one-byte",
        bulwark_net::submission::encode_report(&short).encode_to_vec(),
    )?;
    // Session openings: a signed one on a challenge of another server (the shape a
    // real one has), and one with a short challenge.
    let sessions = bulwark_net::session::Sessions::new(std::time::Duration::from_secs(60))?;
    let opening = bulwark_net::client::session_request(
        OperatorId([2; 20]),
        &key(2)?,
        sessions.challenge()?.to_vec(),
    );
    corpus.write("session", "opening", opening.encode_to_vec())?;
    let short = bulwark_net::proto::OpenSessionRequest {
        challenge: vec![7; 12],
        ..opening
    };
    corpus.write("session", "short-challenge", short.encode_to_vec())?;
    // Slashing evidence: an equivocation of responses, and one of reports.
    for (name, kind) in [
        ("responses", bulwark_chain::slashing::SignedKind::Response),
        ("reports", bulwark_chain::slashing::SignedKind::Report),
    ] {
        let k = key(3)?;
        let sign = |answer: &[u8]| {
            let digest = ResponseDigest::of(answer);
            let message = match kind {
                bulwark_chain::slashing::SignedKind::Response => context().message(7, &digest),
                bulwark_chain::slashing::SignedKind::Report => context().report_message(7, &digest),
            };
            (digest, k.sign(&Domain::SIGNATURE, &message))
        };
        let proof = bulwark_chain::slashing::Equivocation {
            context: context(),
            task_id: 7,
            kind,
            operator: OperatorId([3; 20]),
            public_key: k.public_key(),
            first: sign(b"42"),
            second: sign(b"43"),
        };
        corpus.write(
            "equivocation",
            name,
            bulwark_core::SlashingProof::encode(&proof),
        )?;
    }
    Ok(())
}

fn store_records(corpus: &Corpus) -> Result {
    use bulwark_node::aggregator::store::encode_record;
    let hello = response(4, 1, b"Hello, Ada!")?;
    corpus.write(
        "store_record",
        "response",
        encode_record(hello.operator, &hello.signature, &hello.response),
    )?;
    let oracle = report(4, 2, &answer(1, "3021.45")?.encode())?;
    corpus.write(
        "store_record",
        "report",
        encode_record(oracle.operator, &oracle.signature, &oracle.report),
    )?;
    Ok(())
}

fn keystores(corpus: &Corpus) -> Result {
    let sk = key(9)?;
    let scrypt = Keystore::encrypt(
        &sk,
        PASSWORD,
        Kdf::Scrypt { n: 16, r: 8, p: 1 },
        "m/12381/60/0/0",
    )?;
    corpus.write("keystore", "scrypt-cheap", scrypt.to_json())?;
    let pbkdf2 = Keystore::encrypt(&sk, PASSWORD, Kdf::Pbkdf2 { c: 16 }, "m/12381/60/1/0")?
        .with_description("a cheap PBKDF2 keystore for the fuzzer");
    corpus.write("keystore", "pbkdf2-cheap", pbkdf2.to_json())?;
    let wrong = Keystore::encrypt(
        &sk,
        "not the password",
        Kdf::Pbkdf2 { c: 2 },
        "m/12381/60/2/0",
    )?;
    corpus.write("keystore", "other-password", wrong.to_json())?;
    Ok(())
}

fn configs(corpus: &Corpus) -> Result {
    let chain = ChainConfig {
        rpc_url: "http://127.0.0.1:8545".into(),
        avs: AVS.parse()?,
        from_block: Some(1),
        poll_ms: 500,
    };
    let aggregator = AggregatorConfig::local(
        chain.clone(),
        "127.0.0.1:50051".parse()?,
        "127.0.0.1:9100".parse()?,
    );
    corpus.write("node_config", "aggregator", aggregator.to_toml()?)?;
    let mut operator = OperatorConfig::local(
        chain,
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse()?,
        "keys/operator.json".into(),
        "keys/password.txt".into(),
        "127.0.0.1:50051".parse()?,
        "127.0.0.1:9101".parse()?,
    );
    corpus.write("node_config", "operator", operator.to_toml()?)?;
    // An oracle operator: the [avs] table the oracle template reads.
    operator.avs = toml::from_str(
        r#"
tolerance_bps = 100
max_quote_age_s = 30
[[feeds]]
name = "ETH/USD"
sources = [
  { exchange = "coinbase", base_url = "http://127.0.0.1:9000", pair = "ETH-USD" },
  { exchange = "kraken", base_url = "http://127.0.0.1:9000", pair = "XETHZUSD" },
  { exchange = "binance", base_url = "http://127.0.0.1:9000", pair = "ETHUSDT" },
]
[keeper]
interval_ms = 500
"#,
    )?;
    corpus.write("node_config", "oracle-operator", operator.to_toml()?)?;
    Ok(())
}

fn cli(corpus: &Corpus, root: &Path) -> Result {
    for (name, path) in [
        ("hello", "examples/hello/bulwark.toml"),
        ("oracle", "templates/oracle/bulwark.toml"),
    ] {
        corpus.write("cli_manifest", name, std::fs::read(root.join(path))?)?;
    }
    corpus.write(
        "cli_manifest",
        "setup-output",
        "tolerance_bps = 100\n[[feeds]]\nname = \"ETH/USD\"\n\
         [process.operator-2]\ntolerance_bps = 50\n",
    )?;

    let account = |address: &str, key: &str| -> Result<DevAccount> {
        Ok(DevAccount {
            address: address.parse()?,
            private_key: key.into(),
        })
    };
    let dir = PathBuf::from("/home/ada/my-oracle/.bulwark/devnet");
    let state = DevnetState {
        dir: dir.clone(),
        rpc_url: "http://127.0.0.1:8545".into(),
        chain_id: 31337,
        token: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512".parse()?,
        core: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0".parse()?,
        avs: AVS.parse()?,
        owner: account(
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )?,
        spare_accounts: vec![account(
            "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
            "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
        )?],
        aggregator: "http://127.0.0.1:50051".into(),
        operators: vec![DevnetOperator {
            address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse()?,
            public_key: key(1)?.public_key().to_string(),
            keystore: dir.join("keys/operator-0.json"),
            config: dir.join("operator-0.toml"),
        }],
        processes: vec![
            Process {
                name: "anvil".into(),
                pid: 4242,
                health: None,
                log: dir.join("anvil.log"),
            },
            Process {
                name: "aggregator".into(),
                pid: 4243,
                health: Some("127.0.0.1:9100".parse()?),
                log: dir.join("aggregator.log"),
            },
        ],
        settings: toml::from_str(
            "remote_rpc_url = \"http://127.0.0.1:8546\"\nconfirmations = 3\n\
             [[feeds]]\nname = \"ETH/USD\"\n",
        )?,
    };
    corpus.write("cli_state", "devnet", serde_json::to_string_pretty(&state)?)?;
    let mut empty = state;
    empty.operators.clear();
    empty.processes.clear();
    empty.spare_accounts.clear();
    corpus.write("cli_state", "no-operators", serde_json::to_string(&empty)?)?;
    Ok(())
}

fn prices(corpus: &Corpus) -> Result {
    // The oracle's source tests' bodies, as the exchanges send them.
    let bodies = [
        (
            "coinbase",
            r#"{"ask":"3021.46","bid":"3021.44","volume":"91234.5","trade_id":612345678,"price":"3021.45","size":"0.0412","time":"2026-11-25T08:00:00.123456Z"}"#,
        ),
        (
            "kraken",
            r#"{"error":[],"result":{"XETHZUSD":{"a":["3021.46000","12","12.000"],"b":["3021.44000","3","3.000"],"c":["3021.45000","0.04120000"],"v":["1000.1","20000.2"],"p":["3010.1","3001.2"],"t":[1000,20000],"l":["2990.00","2950.00"],"h":["3030.00","3050.00"],"o":"3000.00"}}}"#,
        ),
        (
            "binance",
            r#"{"symbol":"ETHUSDT","priceChange":"21.45","priceChangePercent":"0.715","lastPrice":"3021.45000000","openTime":1795939200000,"closeTime":1795996800000,"count":123456}"#,
        ),
        ("kraken-error", r#"{"error":["EQuery:Unknown asset pair"]}"#),
        ("binance-error", r#"{"code":-1121,"msg":"Invalid symbol."}"#),
    ];
    for (name, body) in bodies {
        corpus.write("price_body", name, body)?;
    }
    Ok(())
}

fn reverts(corpus: &Corpus) -> Result {
    corpus.write(
        "revert",
        "withdrawal-delay",
        RestakingCore::WithdrawalDelayNotElapsed {
            id: U256::from(0),
            readyAtBlock: U256::from(41),
        }
        .abi_encode(),
    )?;
    corpus.write(
        "revert",
        "not-rewards-submitter",
        RestakingCore::NotRewardsSubmitter {
            avs: AVS.parse()?,
            caller: Address::repeat_byte(7),
        }
        .abi_encode(),
    )?;
    corpus.write(
        "revert",
        "task-already-responded",
        BasicAVS::TaskAlreadyResponded {
            taskId: U256::from(9),
        }
        .abi_encode(),
    )?;
    corpus.write(
        "revert",
        "stale-reference-block",
        BasicAVS::StaleReferenceBlock {
            referenceBlock: U256::from(10),
            oldestAllowed: U256::from(20),
        }
        .abi_encode(),
    )?;
    corpus.write(
        "revert",
        "token-insufficient-balance",
        LiquidStakingToken::ERC20InsufficientBalance {
            sender: Address::repeat_byte(1),
            balance: U256::from(5),
            needed: U256::from(6),
        }
        .abi_encode(),
    )?;
    Ok(())
}

fn certificates(corpus: &Corpus) -> Result {
    let keys = [key(1)?, key(2)?, key(3)?];
    let response = answer(3, "3021.45")?.encode();
    let message = context().message(7, &ResponseDigest::of(&response));
    let signatures: Vec<_> = keys[..2]
        .iter()
        .map(|k| k.sign(&Domain::SIGNATURE, &message))
        .collect();
    let signature = AggregateSignature::aggregate(&signatures)?.to_signature()?;
    let all: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    let aggregate = bulwark_crypto::AggregatePublicKey::aggregate(&all)?;
    let cert = Certificate {
        referenceBlock: 41,
        setHint: 2,
        aggregateKey: points::g2_from_eip2537(&aggregate.to_eip2537()),
        signature: points::g1_point(&signature),
        nonSigners: vec![NonSigner {
            operator: Address::repeat_byte(3),
            hint: 1,
            publicKey: points::g2_point(&keys[2].public_key()),
        }],
    };
    corpus.write("certificate", "struct-one-non-signer", cert.abi_encode())?;
    let call = BasicAVS::respondToTaskCall {
        taskId: U256::from(7),
        response: Bytes::from(response),
        cert: Certificate {
            nonSigners: vec![],
            ..cert
        },
    };
    corpus.write("certificate", "respond-to-task", call.abi_encode())?;
    Ok(())
}

fn points_and_rounds(corpus: &Corpus) -> Result {
    let sk = key(1)?;
    let pk = sk.public_key();
    let sig = sk.sign(&Domain::SIGNATURE, b"message");
    corpus.write("bls_points", "signature", sig.to_bytes())?;
    corpus.write("bls_points", "signature-eip2537", sig.to_eip2537())?;
    corpus.write("bls_points", "public-key", pk.to_bytes())?;
    corpus.write("bls_points", "public-key-eip2537", pk.to_eip2537())?;
    // A proof of possession is a G1 point like a signature: the same decoder.
    let other = key(2)?.sign(&Domain::SIGNATURE, b"another message");
    corpus.write("bls_points", "other-signature", other.to_bytes())?;
    corpus.write("bls_points", "secret-key", *sk.to_bytes())?;
    corpus.write("bls_points", "public-key-hex", pk.to_string())?;
    corpus.write("bls_points", "signature-json", serde_json::to_string(&sig)?)?;

    let input = RoundInput {
        feed: feed_id("BTC/USD").ok_or("feed id")?,
        round: 2,
    };
    corpus.write("oracle_round", "input", input.encode())?;
    corpus.write("oracle_round", "answer", answer(3, "3021.45")?.encode())?;
    let unnamed = RoundAnswer {
        feed: B256::repeat_byte(0xee),
        ..answer(u64::MAX, "0.00000001")?
    };
    corpus.write("oracle_round", "answer-unnamed-feed", unnamed.encode())?;
    Ok(())
}

fn main() -> Result {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz.parent().ok_or("fuzz/ has a parent")?.to_path_buf();
    let corpus = Corpus(fuzz.join("corpus"));
    grpc(&corpus)?;
    store_records(&corpus)?;
    keystores(&corpus)?;
    configs(&corpus)?;
    cli(&corpus, &root)?;
    prices(&corpus)?;
    reverts(&corpus)?;
    certificates(&corpus)?;
    points_and_rounds(&corpus)?;
    println!("seed corpus written to {}", corpus.0.display());
    Ok(())
}
