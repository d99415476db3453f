//! The bridge as `bridge-avs status` shows it: messages by state on both chains,
//! and the operator table on each side.
//!
//! A message is *sent* (in its outbox, not yet `confirmations` deep), *deep* (deep
//! enough to be signed, not executed yet) or *executed* (its destination inbox ran
//! it). An executed message no outbox sent is shown as *forged*: exactly what
//! `BridgeHome` slashes when it came from the home outbox.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use bulwark::alloy::primitives::{Address, B256, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::alloy::rpc::types::Filter;
use bulwark::alloy::sol_types::SolEvent;
use bulwark::chain::ChainError;

use crate::contracts::{IBridgeHome, IInbox, IOperatorTable, IOutbox};
use crate::message::Message;
use crate::signing::Deployment;

/// One direction's messages by state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lane {
    /// Sent, not yet deep enough to sign.
    pub sent: Vec<Message>,
    /// Deep enough, not executed.
    pub deep: Vec<Message>,
    /// Executed on the destination.
    pub executed: Vec<Message>,
    /// Executed on the destination, never sent by the source outbox (ids).
    pub forged: Vec<B256>,
}

async fn sent_messages(
    provider: &DynProvider,
    outbox: Address,
) -> Result<Vec<(u64, Message)>, ChainError> {
    let filter = Filter::new()
        .address(outbox)
        .event_signature(IOutbox::MessageSent::SIGNATURE_HASH)
        .from_block(0);
    let mut out = Vec::new();
    for log in provider.get_logs(&filter).await? {
        let Ok(event) = IOutbox::MessageSent::decode_log(&log.inner) else {
            continue;
        };
        let m = Message::from(event.data.message);
        if m.outbox == outbox && m.id() == event.data.id {
            out.push((log.block_number.unwrap_or_default(), m));
        }
    }
    Ok(out)
}

async fn executed_ids(
    provider: &DynProvider,
    inbox: Address,
) -> Result<BTreeSet<B256>, ChainError> {
    let filter = Filter::new()
        .address(inbox)
        .event_signature(IInbox::MessageExecuted::SIGNATURE_HASH)
        .from_block(0);
    Ok(provider
        .get_logs(&filter)
        .await?
        .iter()
        .filter_map(|log| IInbox::MessageExecuted::decode_log(&log.inner).ok())
        .map(|e| e.data.id)
        .collect())
}

/// The messages from `outbox` (on `source`) to the inbox `inbox` (on `destination`).
pub async fn lane(
    source: &DynProvider,
    outbox: Address,
    destination: &DynProvider,
    inbox: Address,
    destination_chain: u64,
    confirmations: u64,
) -> Result<Lane, ChainError> {
    let head = source.get_block_number().await?;
    let executed = executed_ids(destination, inbox).await?;
    let mut lane = Lane::default();
    let mut known = BTreeSet::new();
    for (block, m) in sent_messages(source, outbox).await? {
        if m.destination_chain_id != U256::from(destination_chain) {
            continue;
        }
        let id = m.id();
        known.insert(id);
        if executed.contains(&id) {
            lane.executed.push(m);
        } else if head >= block + confirmations {
            lane.deep.push(m);
        } else {
            lane.sent.push(m);
        }
    }
    lane.forged = executed.difference(&known).copied().collect();
    Ok(lane)
}

/// The whole report, both lanes and both tables, as text.
pub async fn report(
    d: &Deployment,
    home: &DynProvider,
    remote: &DynProvider,
    confirmations: u64,
) -> Result<String, ChainError> {
    let mut out = String::new();
    let there = lane(
        home,
        d.home_outbox,
        remote,
        d.remote_inbox,
        d.remote_chain,
        confirmations,
    )
    .await?;
    let back = lane(
        remote,
        d.remote_outbox,
        home,
        d.home_inbox,
        d.home_chain,
        confirmations,
    )
    .await?;
    for (name, lane) in [
        (
            format!("home {} -> remote {}", d.home_chain, d.remote_chain),
            &there,
        ),
        (
            format!("remote {} -> home {}", d.remote_chain, d.home_chain),
            &back,
        ),
    ] {
        let _ = writeln!(
            out,
            "{name}: {} sent, {} deep, {} executed, {} forged",
            lane.sent.len(),
            lane.deep.len(),
            lane.executed.len(),
            lane.forged.len()
        );
        for (state, messages) in [
            ("sent", &lane.sent),
            ("deep", &lane.deep),
            ("executed", &lane.executed),
        ] {
            for m in messages {
                let _ = writeln!(
                    out,
                    "  {state:<8} nonce {:<4} {} -> {} ({} payload bytes) id {}",
                    m.nonce,
                    m.sender,
                    m.recipient,
                    m.payload.len(),
                    m.id()
                );
            }
        }
        for id in &lane.forged {
            let _ = writeln!(out, "  FORGED   executed without being sent: id {id}");
        }
    }
    let epochs = IBridgeHome::new(d.home_avs, home.clone())
        .epochs()
        .call()
        .await?;
    let table = IOperatorTable::new(d.remote_table, remote.clone());
    let installed = table.table().call().await?;
    let max_age = table.maxAge().call().await?;
    let now = remote
        .get_block_by_number(Default::default())
        .await?
        .map(|b| b.header.timestamp)
        .unwrap_or_default();
    let age = now.saturating_sub(installed.homeTimestamp);
    let _ = writeln!(
        out,
        "tables: {epochs} committed on home; epoch {} in force on remote, committed {age} s ago (executes for {max_age} s){}",
        installed.epoch,
        if age > max_age { ", STALE" } else { "" }
    );
    Ok(out)
}
