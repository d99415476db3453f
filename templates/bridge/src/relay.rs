//! Carrying the bridge across: operator tables read from the home registry and
//! committed there, certificates assembled from operators' signatures for the remote
//! table, the home registry, or a table update, and the evidence that slashes the
//! signers of a forgery.
//!
//! # Security
//! An operator's signature is a claim until it verifies: each is checked against
//! that operator's key in the table (or the registry) before it is aggregated, and
//! one that does not verify, or comes from someone who is not a member, is left out
//! and reported, never allowed to spoil the certificate of the others.

use std::collections::{BTreeMap, BTreeSet};

use bulwark::alloy::consensus::Transaction as _;
use bulwark::alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use bulwark::alloy::providers::DynProvider;
use bulwark::alloy::providers::Provider;
use bulwark::alloy::rpc::types::Filter;
use bulwark::alloy::sol_types::{SolCall, SolEvent, SolValue};
use bulwark::chain::registry::{OperatorSet, operator_set_at};
use bulwark::chain::{ChainError, certificate, devnet};
use bulwark::crypto::{AggregateSignature, Domain, SecretKey, Signature};

use crate::contracts::{
    self, HomeCertificate, HomeNonSigner, IBridgeHome, TableCertificate, WireMember, WireNonSigner,
    WireTable, encode,
};
use crate::message::{Message, delivery_digest};
use crate::table::{Member, Table, TableError};

/// Why a relay step failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A chain call failed or reverted.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The table could not be built.
    #[error(transparent)]
    Table(#[from] TableError),
    /// No signature verified: nothing to certify.
    #[error("no valid signature to certify {0}")]
    NoSigner(B256),
    /// The commit's receipt had no `TableCommitted`.
    #[error("commitTable emitted no TableCommitted")]
    NoCommit,
    /// The registry's set at a table's home block is not that table.
    #[error("the registry at table {0}'s home block does not give its root")]
    TableMismatch(u64),
    /// The operator is not in the table.
    #[error("{0} is not a member of the table")]
    NotAMember(Address),
}

/// One operator's signature on a digest.
#[derive(Clone, Copy, Debug)]
pub struct Signed {
    /// Who says it signed.
    pub operator: Address,
    /// What it sent.
    pub signature: Signature,
}

/// Signs `digest` as an operator signs for the bridge (the signature domain the
/// contracts check, over the 32 digest bytes).
pub fn sign(key: &SecretKey, digest: B256) -> Signature {
    key.sign(&Domain::SIGNATURE, digest.as_slice())
}

/// What operators sign to have the inbox at `inbox` on chain `chain_id` execute `m`.
pub fn delivery(chain_id: u64, inbox: Address, m: &Message) -> B256 {
    delivery_digest(U256::from(chain_id), inbox, m.id())
}

/// What a table's operators sign to install `next` in the table contract
/// `table_contract` on chain `chain_id`, copying `home_avs` on `home_chain_id`
/// (`TableProofs.updateDigest`).
pub fn update_digest(
    home_chain_id: u64,
    home_avs: Address,
    chain_id: u64,
    table_contract: Address,
    next: &WireTable,
) -> B256 {
    let mut tag = [0u8; 32];
    tag[..crate::message::TABLE_TAG.len()].copy_from_slice(crate::message::TABLE_TAG);
    keccak256(
        (
            B256::from(tag),
            U256::from(home_chain_id),
            home_avs,
            U256::from(chain_id),
            table_contract,
            next.epoch,
            next.homeBlock,
            next.homeTimestamp,
            next.root,
            next.totalStakeGwei,
            keccak256(next.aggregateKey.abi_encode()),
        )
            .abi_encode(),
    )
}

/// Keeps the signatures in `signed` that verify on `digest` under the key `key_of`
/// gives their operator (one per operator, the first that verifies); returns them
/// and the operators refused.
fn checked<'a>(
    digest: B256,
    signed: &[Signed],
    key_of: impl Fn(&Address) -> Option<&'a bulwark::crypto::PublicKey>,
) -> (BTreeMap<Address, Signature>, Vec<Address>) {
    let mut good = BTreeMap::new();
    let mut refused = Vec::new();
    for s in signed {
        if good.contains_key(&s.operator) {
            continue;
        }
        let valid = key_of(&s.operator).is_some_and(|key| {
            key.verify(&Domain::SIGNATURE, digest.as_slice(), &s.signature)
                .is_ok()
        });
        if valid {
            good.insert(s.operator, s.signature);
        } else {
            refused.push(s.operator);
        }
    }
    (good, refused)
}

fn aggregate(digest: B256, good: &BTreeMap<Address, Signature>) -> Result<Signature, RelayError> {
    AggregateSignature::aggregate(good.values())
        .and_then(|a| a.to_signature())
        .map_err(|_| RelayError::NoSigner(digest))
}

/// A certificate of `table` on `digest` from those of `signed` whose signatures
/// verify; also the operators whose signatures were refused.
pub fn table_certificate(
    table: &Table,
    digest: B256,
    signed: &[Signed],
) -> Result<(TableCertificate, Vec<Address>), RelayError> {
    let (good, refused) = checked(digest, signed, |operator| {
        table
            .members()
            .binary_search_by_key(operator, |m| m.operator)
            .ok()
            .map(|i| &table.members()[i].public_key)
    });
    let signature = aggregate(digest, &good)?;
    let mut non_signers = Vec::new();
    for m in table.members() {
        if good.contains_key(&m.operator) {
            continue;
        }
        let proof = table
            .proof(m.operator)
            .ok_or(RelayError::NotAMember(m.operator))?;
        non_signers.push(WireNonSigner {
            member: wire_member(m),
            proof,
        });
    }
    Ok((
        TableCertificate {
            nonSigners: non_signers,
            signature: contracts::g1(&signature),
        },
        refused,
    ))
}

/// A home-chain certificate (the registry's own) on `digest` at the set `set`, from
/// those of `signed` whose signatures verify; also the operators refused.
pub fn home_certificate(
    set: &OperatorSet,
    digest: B256,
    signed: &[Signed],
) -> Result<(HomeCertificate, Vec<Address>), RelayError> {
    let (good, refused) = checked(digest, signed, |operator| {
        set.get(operator).map(|e| &e.public_key)
    });
    let signature = aggregate(digest, &good)?;
    let signers: BTreeSet<Address> = good.keys().copied().collect();
    let cert = certificate::build_certificate(set, &signers, &signature)?;
    let g2 = contracts::from_chain_g2;
    Ok((
        HomeCertificate {
            referenceBlock: cert.referenceBlock,
            setHint: cert.setHint,
            aggregateKey: g2(cert.aggregateKey),
            signature: contracts::g1(&signature),
            nonSigners: cert
                .nonSigners
                .into_iter()
                .map(|n| HomeNonSigner {
                    operator: n.operator,
                    hint: n.hint,
                    publicKey: g2(n.publicKey),
                })
                .collect(),
        },
        refused,
    ))
}

fn wire_member(m: &Member) -> WireMember {
    WireMember {
        operator: m.operator,
        stakeGwei: m.stake_gwei,
        publicKey: contracts::g2(&m.public_key),
    }
}

/// The bridge AVS's registered set at the end of `block`, as a table.
pub async fn read_table(
    provider: &DynProvider,
    home: Address,
    block: u32,
) -> Result<Table, RelayError> {
    let set = operator_set_at(provider, home, block).await?;
    Ok(Table::new(
        set.operators
            .into_iter()
            .map(|e| Member {
                operator: e.address,
                stake_gwei: e.stake_gwei,
                public_key: e.public_key,
            })
            .collect(),
    )?)
}

/// A table the home chain committed.
#[derive(Clone, Debug)]
pub struct Committed {
    /// Its epoch.
    pub epoch: u64,
    /// The task it was recorded as (what its offences are challenged on).
    pub task_id: U256,
    /// The table as the contracts hold it.
    pub table: WireTable,
    /// The home block the commit was mined in.
    pub block: u64,
}

/// Commits `table` (read from the registry as it stands) as the next epoch, from
/// `from`, a task creator of the bridge AVS at `home`.
pub async fn commit_table(
    provider: &DynProvider,
    home: Address,
    from: Address,
    table: &Table,
) -> Result<Committed, RelayError> {
    let contract = IBridgeHome::new(home, provider.clone());
    let pending = contract
        .commitTable(contracts::wire_members(table))
        .from(from)
        .send()
        .await
        .map_err(ChainError::from)?;
    let receipt = devnet::mined(provider, pending).await?;
    let block = receipt.block_number.unwrap_or_default();
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == home)
        .find_map(|log| IBridgeHome::TableCommitted::decode_log(&log.inner).ok())
        .map(|event| Committed {
            epoch: event.data.epoch,
            task_id: event.data.taskId,
            table: event.data.table.clone(),
            block,
        })
        .ok_or(RelayError::NoCommit)
}

/// The evidence (`abi.encode(FORGED_DELIVERY, proof)`) that `signer` signed, in
/// `cert` under the committed table `committed` (`table` its members), the delivery
/// of `m` to the inbox `inbox`: what `BridgeHome.challenge` takes.
pub fn forged_delivery_evidence(
    offence: B256,
    committed: &WireTable,
    table: &Table,
    m: &Message,
    inbox: Address,
    cert: &TableCertificate,
    signer: Address,
) -> Result<Bytes, RelayError> {
    let index = table
        .members()
        .binary_search_by_key(&signer, |m| m.operator)
        .map_err(|_| RelayError::NotAMember(signer))?;
    let member = &table.members()[index];
    let proof = table.proof(signer).ok_or(RelayError::NotAMember(signer))?;
    let proof = encode::arguments(encode::ForgedDeliveryProof {
        t: committed.clone(),
        m: m.into(),
        inbox,
        cert: cert.clone(),
        signer: wire_member(member),
        signerProof: proof,
    });
    Ok(encode::arguments(encode::Evidence {
        offence,
        proof: proof.into(),
    })
    .into())
}

/// The evidence (`abi.encode(FORGED_TABLE, proof)`) that `signer` signed, in `cert`
/// under the committed table `committed` (`table` its members), the installation of
/// `next` in the table contract `table_contract` on chain `chain_id`.
#[allow(clippy::too_many_arguments)]
pub fn forged_table_evidence(
    offence: B256,
    committed: &WireTable,
    table: &Table,
    next: &WireTable,
    chain_id: u64,
    table_contract: Address,
    cert: &TableCertificate,
    signer: Address,
) -> Result<Bytes, RelayError> {
    let (member, proof) = signer_of(table, signer)?;
    let proof = encode::arguments(encode::ForgedTableProof {
        t: committed.clone(),
        next: next.clone(),
        chainId: U256::from(chain_id),
        tableContract: table_contract,
        cert: cert.clone(),
        signer: member,
        signerProof: proof,
    });
    Ok(encode::arguments(encode::Evidence {
        offence,
        proof: proof.into(),
    })
    .into())
}

/// `signer` as a member of `table`, with its proof.
fn signer_of(table: &Table, signer: Address) -> Result<(WireMember, Vec<B256>), RelayError> {
    let index = table
        .members()
        .binary_search_by_key(&signer, |m| m.operator)
        .map_err(|_| RelayError::NotAMember(signer))?;
    let proof = table.proof(signer).ok_or(RelayError::NotAMember(signer))?;
    Ok((wire_member(&table.members()[index]), proof))
}

/// The members of the committed table `wire`, rebuilt from the calldata of the
/// `commitTable` that committed it (its `TableCommitted` names the transaction), and
/// checked against its root; if that transaction did not call `commitTable` directly,
/// read from the registry at its home block instead (and checked the same way).
pub async fn committed_members(
    home: &DynProvider,
    home_avs: Address,
    wire: &WireTable,
) -> Result<Table, RelayError> {
    let filter = Filter::new()
        .address(home_avs)
        .event_signature(IBridgeHome::TableCommitted::SIGNATURE_HASH)
        .topic1(U256::from(wire.epoch))
        .from_block(wire.homeBlock)
        .to_block(wire.homeBlock);
    let logs = home.get_logs(&filter).await.map_err(ChainError::from)?;
    for log in logs {
        let Some(hash) = log.transaction_hash else {
            continue;
        };
        let Some(tx) = home
            .get_transaction_by_hash(hash)
            .await
            .map_err(ChainError::from)?
        else {
            continue;
        };
        let Ok(call) = IBridgeHome::commitTableCall::abi_decode(tx.inner.input()) else {
            continue;
        };
        let mut members = Vec::with_capacity(call.members.len());
        for m in call.members {
            let words = [
                m.publicKey.x0Hi,
                m.publicKey.x0Lo,
                m.publicKey.x1Hi,
                m.publicKey.x1Lo,
                m.publicKey.y0Hi,
                m.publicKey.y0Lo,
                m.publicKey.y1Hi,
                m.publicKey.y1Lo,
            ];
            let Ok(public_key) = bulwark::chain::points::public_key_from_words(&words) else {
                continue;
            };
            members.push(Member {
                operator: m.operator,
                stake_gwei: m.stakeGwei,
                public_key,
            });
        }
        let table = Table::new(members)?;
        if table.root() == wire.root {
            return Ok(table);
        }
    }
    let block =
        u32::try_from(wire.homeBlock).map_err(|_| ChainError::OutOfRange("table home block"))?;
    let table = read_table(home, home_avs, block).await?;
    if table.root() != wire.root {
        return Err(RelayError::TableMismatch(wire.epoch));
    }
    Ok(table)
}
