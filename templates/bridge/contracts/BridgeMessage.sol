// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice A message between two chains, and the bytes that name it.
///
/// The id binds everything a message is: where it comes from (chain and outbox), its
/// place there (the outbox's nonce), who sent it, and where it goes (chain and
/// recipient) with what. Two messages with one id are the same message, so an inbox
/// that executes each id once executes each message once.
struct Message {
    uint256 sourceChainId;
    address outbox;
    uint64 nonce;
    address sender;
    uint256 destinationChainId;
    address recipient;
    bytes payload;
}

// Largest payload a message carries: every message, and so every fraud proof that
// must repeat one, stays small enough for any chain's blocks.
uint256 constant MAX_PAYLOAD_BYTES = 16 * 1024;

// Version tag of message ids.
bytes32 constant MESSAGE_ID_TAG = "bulwark.bridge.message.v1";
// Version tag of what operators sign to let an inbox execute a message.
bytes32 constant DELIVERY_TAG = "bulwark.bridge.delivery.v1";
// Version tag of what operators sign to move the operator table on.
bytes32 constant TABLE_TAG = "bulwark.bridge.table.v1";

function messageId(Message memory m) pure returns (bytes32) {
    return keccak256(
        abi.encode(
            MESSAGE_ID_TAG,
            m.sourceChainId,
            m.outbox,
            m.nonce,
            m.sender,
            m.destinationChainId,
            m.recipient,
            keccak256(m.payload)
        )
    );
}

/// The 32 bytes operators sign so that the inbox at `inbox` on `chainId` executes the
/// message `id`: a certificate for one inbox serves no other.
function deliveryDigest(uint256 chainId, address inbox, bytes32 id) pure returns (bytes32) {
    return keccak256(abi.encode(DELIVERY_TAG, chainId, inbox, id));
}
