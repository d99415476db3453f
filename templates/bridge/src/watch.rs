//! An operator's view of one outbox: the messages it emitted, released for signing
//! only at their depth and only from canonical blocks ([`Finality`]).
//!
//! # Security
//! The chain a watcher reads is its operator's own node; what it reports is taken as
//! the chain's word, as for any operator duty. Logs are matched to the outbox address
//! and decoded strictly: a log that is not a well-formed `MessageSent` of this outbox
//! is skipped, never signed. Each poll re-reads the last `confirmations` blocks, so a
//! block replaced by a reorg is seen again with its new hash and contents.

use std::collections::BTreeMap;

use bulwark::alloy::primitives::{Address, B256, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::alloy::rpc::types::Filter;
use bulwark::alloy::sol_types::SolEvent;
use bulwark::chain::ChainError;

use crate::contracts::IOutbox::MessageSent;
use crate::finality::Finality;
use crate::message::Message;

/// Blocks per `eth_getLogs` request (providers cap the range).
pub const LOG_SPAN: u64 = 5_000;

/// Follows one outbox on one chain.
pub struct OutboxWatcher {
    provider: DynProvider,
    outbox: Address,
    chain_id: U256,
    confirmations: u64,
    finality: Finality,
    /// The highest block read so far (`None`: nothing yet; start at `from`).
    scanned: Option<u64>,
    from: u64,
}

impl OutboxWatcher {
    /// A watcher of `outbox` on the chain `provider` reads (chain id `chain_id`),
    /// from block `from` on, releasing messages `confirmations` deep.
    pub fn new(
        provider: DynProvider,
        outbox: Address,
        chain_id: u64,
        from: u64,
        confirmations: u64,
    ) -> Self {
        Self {
            provider,
            outbox,
            chain_id: U256::from(chain_id),
            confirmations,
            finality: Finality::new(confirmations),
            scanned: None,
            from,
        }
    }

    /// Reads the chain up to its head and returns the messages released since the
    /// last poll.
    pub async fn poll(&mut self) -> Result<Vec<Message>, ChainError> {
        let head = self.provider.get_block_number().await?;
        let start = match self.scanned {
            Some(scanned) => scanned.saturating_sub(self.confirmations).max(self.from),
            None => self.from,
        };
        if start <= head {
            let mut by_block: BTreeMap<(u64, B256), Vec<Message>> = BTreeMap::new();
            // In spans a provider's log-range cap allows.
            let mut from = start;
            while from <= head {
                let to = head.min(from.saturating_add(LOG_SPAN - 1));
                let filter = Filter::new()
                    .address(self.outbox)
                    .event_signature(MessageSent::SIGNATURE_HASH)
                    .from_block(from)
                    .to_block(to);
                for log in self.provider.get_logs(&filter).await? {
                    let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                        continue;
                    };
                    // The node's filter is not trusted to have filtered.
                    if log.address() != self.outbox {
                        continue;
                    }
                    let Ok(event) = MessageSent::decode_log(&log.inner) else {
                        continue;
                    };
                    let message = Message::from(event.data.message);
                    // Only what this outbox, on this chain, says of itself, under its id.
                    if message.outbox != self.outbox
                        || message.source_chain_id != self.chain_id
                        || message.id() != event.data.id
                    {
                        continue;
                    }
                    by_block.entry((number, hash)).or_default().push(message);
                }
                from = to + 1;
            }
            for ((number, hash), messages) in by_block {
                self.finality.observe(number, hash, messages);
            }
            self.scanned = Some(head);
        }
        let mut canonical = BTreeMap::new();
        for number in self.finality.due(head) {
            if let Some(block) = self.provider.get_block_by_number(number.into()).await? {
                canonical.insert(number, block.header.hash);
            }
        }
        Ok(self
            .finality
            .release(head, |number| canonical.get(&number).copied()))
    }

    /// How many seen messages wait for their depth.
    pub fn pending(&self) -> usize {
        self.finality.pending()
    }
}
