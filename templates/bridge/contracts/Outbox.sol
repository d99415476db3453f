// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Message, messageId, MAX_PAYLOAD_BYTES} from "./BridgeMessage.sol";

/// @title Outbox
/// @notice Where messages leave a chain. Each gets the next nonce and an id
/// (`messageId`); operators sign a message for the other chain's inbox only once its
/// `MessageSent` is deep enough here, and `sentBlock` is what a fraud proof reads: an
/// id this outbox never emitted has none.
contract Outbox {
    /// The next message's nonce.
    uint64 public nextNonce;
    /// The block a message id was sent in (0: never sent here).
    mapping(bytes32 id => uint256) public sentBlock;

    event MessageSent(bytes32 indexed id, uint64 indexed nonce, Message message);

    error SameChain(uint256 chainId);
    error PayloadTooLarge(uint256 length, uint256 max);

    /// Sends `payload` to `recipient` on `destinationChainId`; returns the message id.
    function send(uint256 destinationChainId, address recipient, bytes calldata payload)
        external
        returns (bytes32 id)
    {
        if (destinationChainId == block.chainid) revert SameChain(destinationChainId);
        if (payload.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(payload.length, MAX_PAYLOAD_BYTES);
        Message memory m = Message({
            sourceChainId: block.chainid,
            outbox: address(this),
            nonce: nextNonce++,
            sender: msg.sender,
            destinationChainId: destinationChainId,
            recipient: recipient,
            payload: payload
        });
        id = messageId(m);
        sentBlock[id] = block.number;
        emit MessageSent(id, m.nonce, m);
    }
}
