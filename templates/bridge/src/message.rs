//! Messages between the chains, named as the contracts name them
//! (`contracts/BridgeMessage.sol`): the id operators track and the digest they sign
//! to let one inbox execute one message. Both are pinned to the contracts' values by
//! a shared vector (`test_messageIdVector` in `test/Bridge.t.sol`).

use bulwark::alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use bulwark::alloy::sol_types::SolValue;

/// Version tag of message ids (`MESSAGE_ID_TAG`).
pub const MESSAGE_ID_TAG: &[u8] = b"bulwark.bridge.message.v1";
/// Version tag of delivery digests (`DELIVERY_TAG`).
pub const DELIVERY_TAG: &[u8] = b"bulwark.bridge.delivery.v1";

/// Version tag of what operators sign to move the operator table on (`TABLE_TAG`).
pub const TABLE_TAG: &[u8] = b"bulwark.bridge.table.v1";

/// A Solidity `bytes32` string literal: the text left-aligned, zero-padded.
fn tag(text: &[u8]) -> B256 {
    let mut word = [0u8; 32];
    word[..text.len()].copy_from_slice(text);
    B256::from(word)
}

/// A message as an outbox emits it (`MessageSent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The chain it leaves.
    pub source_chain_id: U256,
    /// The outbox that sent it.
    pub outbox: Address,
    /// Its place in that outbox.
    pub nonce: u64,
    /// Who sent it.
    pub sender: Address,
    /// The chain it goes to.
    pub destination_chain_id: U256,
    /// Who receives it there.
    pub recipient: Address,
    /// What it says.
    pub payload: Bytes,
}

impl Message {
    /// Its id: every field, so two messages with one id are the same message.
    pub fn id(&self) -> B256 {
        keccak256(
            (
                tag(MESSAGE_ID_TAG),
                self.source_chain_id,
                self.outbox,
                self.nonce,
                self.sender,
                self.destination_chain_id,
                self.recipient,
                keccak256(&self.payload),
            )
                .abi_encode(),
        )
    }
}

/// The 32 bytes operators sign so that the inbox `inbox` on `chain_id` executes the
/// message `id` (`deliveryDigest`).
pub fn delivery_digest(chain_id: U256, inbox: Address, id: B256) -> B256 {
    keccak256((tag(DELIVERY_TAG), chain_id, inbox, id).abi_encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_digests_match_the_contracts() {
        let m = Message {
            source_chain_id: U256::from(31337),
            outbox: low(0x1111),
            nonce: 7,
            sender: low(0x2222),
            destination_chain_id: U256::from(31338),
            recipient: low(0x3333),
            payload: Bytes::from_static(b"hi"),
        };
        let id = m.id();
        assert_eq!(
            id.to_string(),
            "0xe37d50214ab9bb218400e202fa0bb81c15e3792a5b0db4f9b97fddd0d4715ae2"
        );
        assert_eq!(
            delivery_digest(U256::from(31338), low(0x4444), id).to_string(),
            "0xd8d3195192c5bbc48206da0e0f572226a30ad9a14bd732f7d7b5c932af431b2f"
        );
        // Any field changed is another message.
        let mut other = m.clone();
        other.nonce += 1;
        assert_ne!(other.id(), id);
        let mut other = m;
        other.payload = Bytes::from_static(b"hj");
        assert_ne!(other.id(), id);
    }

    /// `address(0x…)` as Solidity reads a small literal.
    fn low(value: u16) -> Address {
        let mut bytes = [0u8; 20];
        bytes[18..].copy_from_slice(&value.to_be_bytes());
        Address::from(bytes)
    }
}
