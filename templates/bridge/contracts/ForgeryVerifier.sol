// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Message, messageId, deliveryDigest} from "./BridgeMessage.sol";
import {TableProofs} from "./TableProofs.sol";

/// @title ForgeryVerifier
/// @notice Checks the proofs of `BridgeHome`'s offences up to the one thing only the
/// home contract knows (whether its outbox sent the message, whether it committed the
/// table). Stateless; `BridgeHome` deploys its own, so its code does not count
/// against the home contract's size.
///
/// # Security
/// Every field of a proof is a claim: the table must hash to the digest the home
/// contract recorded for the task challenged on, the certificate must verify against
/// that table on the digest of what it is said to have signed, and the signer must be
/// proven a member that the certificate does not list as a non-signer.
contract ForgeryVerifier {
    error TableMismatch(bytes32 expected, bytes32 got);
    error NotFromThisOutbox(uint256 chainId, address outbox);

    /// Checks a `FORGED_DELIVERY` proof (see `BridgeHome`) against the table with
    /// digest `table` and the home outbox `outbox`; returns the signer to slash and
    /// the id the home contract must find unsent.
    function forgedDelivery(bytes calldata proof, bytes32 table, address outbox)
        external
        view
        returns (address signer, bytes32 id)
    {
        (
            TableProofs.Table memory t,
            Message memory m,
            address inbox,
            TableProofs.Certificate memory cert,
            TableProofs.Member memory member,
            bytes32[] memory memberProof
        ) = abi.decode(
            proof, (TableProofs.Table, Message, address, TableProofs.Certificate, TableProofs.Member, bytes32[])
        );
        _requireTable(table, t);
        if (m.sourceChainId != block.chainid || m.outbox != outbox) revert NotFromThisOutbox(m.sourceChainId, m.outbox);
        id = messageId(m);
        TableProofs.verify(t, deliveryDigest(m.destinationChainId, inbox, id), cert, 0);
        TableProofs.requireSigner(t, cert, member, memberProof);
        return (member.operator, id);
    }

    /// Checks a `FORGED_TABLE` proof (see `BridgeHome`, whose address the update
    /// digest names: the caller) against the table with digest `table`; returns the
    /// signer to slash and the epoch and digest of the table it installed, which the
    /// home contract must not have committed.
    function forgedTable(bytes calldata proof, bytes32 table)
        external
        view
        returns (address signer, uint64 epoch, bytes32 digest)
    {
        (
            TableProofs.Table memory t,
            TableProofs.Table memory next,
            uint256 chainId,
            address tableContract,
            TableProofs.Certificate memory cert,
            TableProofs.Member memory member,
            bytes32[] memory memberProof
        ) = abi.decode(
            proof,
            (
                TableProofs.Table,
                TableProofs.Table,
                uint256,
                address,
                TableProofs.Certificate,
                TableProofs.Member,
                bytes32[]
            )
        );
        _requireTable(table, t);
        bytes32 update = TableProofs.updateDigest(block.chainid, msg.sender, chainId, tableContract, next);
        TableProofs.verify(t, update, cert, 0);
        TableProofs.requireSigner(t, cert, member, memberProof);
        return (member.operator, next.epoch, keccak256(abi.encode(next)));
    }

    function _requireTable(bytes32 table, TableProofs.Table memory t) private pure {
        bytes32 got = keccak256(abi.encode(t));
        if (got != table) revert TableMismatch(table, got);
    }
}
