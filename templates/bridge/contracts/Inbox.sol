// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Message, messageId, deliveryDigest, MAX_PAYLOAD_BYTES} from "./BridgeMessage.sol";
import {OperatorTable} from "./OperatorTable.sol";
import {TableProofs} from "./TableProofs.sol";

/// @notice What a bridged message is delivered to.
interface IMessageRecipient {
    function onMessage(uint256 sourceChainId, address sender, bytes calldata payload) external;
}

/// @title MessageInbox
/// @notice Executes messages from one outbox on one other chain, each once, once the
/// inbox's certificate check (the concrete inbox's `deliver`) has passed on
/// `digest(m)` (`deliveryDigest` for this chain and this inbox).
///
/// # Security
/// Everything in a delivery is a claim until the certificate proves it: the message is
/// named by its id, which binds its source chain, outbox, nonce, sender, destination
/// and payload, and the signed digest binds the id to this chain and this inbox. A
/// message for another chain, another inbox or from another outbox is refused before
/// any signature is checked; one already executed is refused at once. The recipient
/// runs after the message is marked executed, so a re-entrant delivery of the same
/// message fails; if the recipient reverts, the whole delivery reverts and the
/// message can be delivered again.
abstract contract MessageInbox {
    /// The chain and outbox whose messages this inbox executes.
    uint256 public immutable sourceChainId;
    address public immutable sourceOutbox;

    mapping(bytes32 id => bool) public executed;

    event MessageExecuted(bytes32 indexed id, uint64 indexed nonce, address recipient, uint64 signedStakeGwei);

    error WrongDestination(uint256 chainId);
    error WrongSource(uint256 chainId, address outbox);
    error AlreadyExecuted(bytes32 id);
    error PayloadTooLarge(uint256 length, uint256 max);

    constructor(uint256 sourceChainId_, address sourceOutbox_) {
        sourceChainId = sourceChainId_;
        sourceOutbox = sourceOutbox_;
    }

    /// The 32 bytes operators sign to have this inbox execute `m`.
    function digest(Message calldata m) public view returns (bytes32) {
        return deliveryDigest(block.chainid, address(this), messageId(m));
    }

    /// Checks what needs no signature (destination, source, not yet executed); returns
    /// the message's id.
    function _admit(Message calldata m) internal view returns (bytes32 id) {
        if (m.destinationChainId != block.chainid) revert WrongDestination(m.destinationChainId);
        if (m.sourceChainId != sourceChainId || m.outbox != sourceOutbox) {
            revert WrongSource(m.sourceChainId, m.outbox);
        }
        if (m.payload.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(m.payload.length, MAX_PAYLOAD_BYTES);
        id = messageId(m);
        if (executed[id]) revert AlreadyExecuted(id);
    }

    /// Marks `m` executed and runs it (after its certificate was checked).
    function _execute(Message calldata m, bytes32 id, uint64 signedStakeGwei) internal {
        executed[id] = true;
        emit MessageExecuted(id, m.nonce, m.recipient, signedStakeGwei);
        IMessageRecipient(m.recipient).onMessage(m.sourceChainId, m.sender, m.payload);
    }
}

/// @title Inbox
/// @notice The remote chain's inbox: a message executes with a certificate of the
/// current, fresh operator table (`OperatorTable`).
contract Inbox is MessageInbox {
    OperatorTable public immutable operators;

    constructor(OperatorTable operators_, uint256 sourceChainId_, address sourceOutbox_)
        MessageInbox(sourceChainId_, sourceOutbox_)
    {
        operators = operators_;
    }

    /// Executes `m` with a certificate of the current operator table.
    function deliver(Message calldata m, TableProofs.Certificate calldata cert) external returns (bytes32 id) {
        id = _admit(m);
        uint64 signed = operators.verify(deliveryDigest(block.chainid, address(this), id), cert);
        _execute(m, id, signed);
    }
}
