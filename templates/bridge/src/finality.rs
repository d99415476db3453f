//! When operators may sign a message: once it is `confirmations` blocks deep on its
//! source chain, as that chain is at the time.
//!
//! # Security
//! A message counts only for the block it was seen in (number and hash). When the
//! source chain reorganises, what was seen in blocks that are no longer canonical is
//! dropped when its depth is reached, never released; what the new blocks emit is
//! tracked on its own. So a message a reorg dropped before its depth is never
//! signed, and one re-emitted with other contents is signed only as re-emitted (it
//! is another message, with another id). A reorg deeper than `confirmations` cannot
//! be undone here: choose `confirmations` beyond the source chain's finality.

use std::collections::{BTreeMap, HashSet};

use bulwark::alloy::primitives::B256;

use crate::message::Message;

/// Messages waiting for their depth, by block.
#[derive(Debug)]
pub struct Finality {
    confirmations: u64,
    /// Block number → (block hash, message) as observed.
    pending: BTreeMap<u64, Vec<(B256, Message)>>,
    /// Ids released, so a message observed twice is released once.
    released: HashSet<B256>,
}

impl Finality {
    /// Released once `confirmations` blocks are built on the message's block.
    pub fn new(confirmations: u64) -> Self {
        Self {
            confirmations,
            pending: BTreeMap::new(),
            released: HashSet::new(),
        }
    }

    /// Records `messages` seen in block `number` whose hash is `hash` (the logs of
    /// that block, with the block hash the node gave them).
    pub fn observe(
        &mut self,
        number: u64,
        hash: B256,
        messages: impl IntoIterator<Item = Message>,
    ) {
        let seen = self.pending.entry(number).or_default();
        for message in messages {
            if !seen.iter().any(|(h, m)| *h == hash && m == &message) {
                seen.push((hash, message));
            }
        }
    }

    /// The messages now deep enough on the chain whose head is `head` and whose
    /// canonical block hashes `canonical` answers, in block order. Messages of
    /// blocks no longer canonical are dropped; a block whose canonical hash is not
    /// known yet (`None`) waits, and so does everything after it.
    pub fn release(&mut self, head: u64, canonical: impl Fn(u64) -> Option<B256>) -> Vec<Message> {
        let Some(deepest) = head.checked_sub(self.confirmations) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            let number = *entry.key();
            if number > deepest {
                break;
            }
            let Some(hash) = canonical(number) else {
                break;
            };
            for (seen_in, message) in entry.remove() {
                if seen_in == hash && self.released.insert(message.id()) {
                    out.push(message);
                }
            }
        }
        out
    }

    /// The blocks with messages that are `confirmations` deep at `head`: those whose
    /// canonical hash [`Finality::release`] asks for.
    pub fn due(&self, head: u64) -> Vec<u64> {
        match head.checked_sub(self.confirmations) {
            Some(deepest) => self.pending.range(..=deepest).map(|(n, _)| *n).collect(),
            None => Vec::new(),
        }
    }

    /// How many observed messages wait (for depth, or for a canonical hash).
    pub fn pending(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark::alloy::primitives::{Address, Bytes, U256};

    fn message(nonce: u64, payload: &'static [u8]) -> Message {
        Message {
            source_chain_id: U256::from(1),
            outbox: Address::repeat_byte(1),
            nonce,
            sender: Address::repeat_byte(2),
            destination_chain_id: U256::from(2),
            recipient: Address::repeat_byte(3),
            payload: Bytes::from_static(payload),
        }
    }

    fn hash(tag: u8) -> B256 {
        B256::repeat_byte(tag)
    }

    #[test]
    fn a_message_is_released_at_its_depth_and_once() {
        let mut f = Finality::new(3);
        let m = message(0, b"a");
        f.observe(10, hash(0xa), [m.clone()]);
        // Seen again (a re-read of the same block): still one message.
        f.observe(10, hash(0xa), [m.clone()]);
        let chain = |n: u64| (n == 10).then(|| hash(0xa));
        assert!(f.release(12, chain).is_empty(), "2 blocks on top");
        assert_eq!(
            f.release(13, chain),
            std::slice::from_ref(&m),
            "3 blocks on top"
        );
        assert!(f.release(20, chain).is_empty(), "released once");
        // Observed again after release (a late log query): not released twice.
        f.observe(10, hash(0xa), [m]);
        assert!(f.release(20, chain).is_empty());
    }

    #[test]
    fn a_message_a_reorg_dropped_is_never_released() {
        let mut f = Finality::new(2);
        f.observe(10, hash(0xa), [message(0, b"pay alice")]);
        // The chain reorganises before depth: block 10 is now 0xb, without it.
        let chain = |n: u64| (n == 10).then(|| hash(0xb));
        assert!(f.release(15, chain).is_empty());
        assert_eq!(f.pending(), 0, "dropped, not kept waiting");
    }

    #[test]
    fn a_message_re_emitted_with_other_contents_is_released_only_as_re_emitted() {
        let mut f = Finality::new(2);
        let before = message(0, b"pay alice 10");
        let after = message(0, b"pay mallory 10");
        f.observe(10, hash(0xa), [before.clone()]);
        // After the reorg the same nonce carries other contents, in block 10 (0xb).
        f.observe(10, hash(0xb), [after.clone()]);
        let chain = |n: u64| (n == 10).then(|| hash(0xb));
        let released = f.release(12, chain);
        assert_eq!(released, std::slice::from_ref(&after));
        assert_ne!(before.id(), after.id());
        // And if the chain goes back to 0xa before depth, only the first is released.
        let mut f = Finality::new(2);
        f.observe(10, hash(0xa), [before.clone()]);
        f.observe(10, hash(0xb), [after]);
        assert_eq!(f.release(12, |n| (n == 10).then(|| hash(0xa))), [before]);
    }

    #[test]
    fn an_unknown_canonical_hash_holds_back_that_block_and_later_ones() {
        let mut f = Finality::new(1);
        f.observe(5, hash(5), [message(0, b"x")]);
        f.observe(6, hash(6), [message(1, b"y")]);
        assert!(f.release(10, |_| None).is_empty());
        assert_eq!(f.pending(), 2);
        let all = f.release(10, |n| Some(hash(n as u8)));
        assert_eq!(all.iter().map(|m| m.nonce).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn zero_confirmations_release_at_once_and_heads_below_depth_release_nothing() {
        let mut f = Finality::new(0);
        f.observe(0, hash(0), [message(0, b"x")]);
        assert_eq!(f.release(0, |_| Some(hash(0))).len(), 1);
        let mut f = Finality::new(5);
        f.observe(0, hash(0), [message(0, b"x")]);
        assert!(f.release(3, |_| Some(hash(0))).is_empty());
    }
}
