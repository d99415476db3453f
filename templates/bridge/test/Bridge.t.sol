// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {TableFixture} from "./TableFixture.sol";
import {Keys} from "@bulwark-test/Keys.sol";
import {BLS} from "@bulwark/bls/BLS.sol";
import {Message, messageId, deliveryDigest} from "../contracts/BridgeMessage.sol";
import {Outbox} from "../contracts/Outbox.sol";
import {OperatorTable} from "../contracts/OperatorTable.sol";
import {TableProofs} from "../contracts/TableProofs.sol";
import {Inbox, MessageInbox, IMessageRecipient} from "../contracts/Inbox.sol";

/// Records what it was delivered.
contract Recorder is IMessageRecipient {
    bytes public last;
    address public lastSender;
    uint256 public count;

    function onMessage(uint256, address sender, bytes calldata payload) external {
        last = payload;
        lastSender = sender;
        count++;
    }
}

contract BridgeTest is TableFixture {
    uint256 internal constant HOME = 31337;
    uint256 internal constant REMOTE = 31338;
    uint64 internal constant MAX_AGE = 1 hours;
    uint64 internal constant HANDOVER = 2 hours;
    address internal constant HOME_AVS = address(0xA5);

    Outbox internal outbox;
    OperatorTable internal table;
    Inbox internal inbox;
    Recorder internal recipient;

    function setUp() public {
        vm.chainId(HOME);
        outbox = new Outbox();
        vm.chainId(REMOTE);
        setOperators(1, 4);
        table = new OperatorTable(HOME, HOME_AVS, 6667, MAX_AGE, HANDOVER, tableOf(1));
        inbox = new Inbox(table, HOME, address(outbox));
        recipient = new Recorder();
    }

    /// Sends `payload` on the home chain and returns the message as the outbox made it.
    function sendHome(bytes memory payload) internal returns (Message memory m) {
        vm.chainId(HOME);
        uint64 nonce = outbox.nextNonce();
        bytes32 id = outbox.send(REMOTE, address(recipient), payload);
        m = Message(HOME, address(outbox), nonce, address(this), REMOTE, address(recipient), payload);
        assertEq(messageId(m), id, "the outbox's id is the message's");
        vm.chainId(REMOTE);
    }

    function test_aMessageIsExecutedOnceWithACertificate() public {
        Message memory m = sendHome("hello B");
        bool[] memory absent = none();
        absent[0] = true; // 3 of 4 sign: 75%
        TableProofs.Certificate memory cert = certify(inbox.digest(m), absent);
        inbox.deliver(m, cert);
        assertEq(recipient.last(), bytes("hello B"), "delivered");
        assertEq(recipient.lastSender(), address(this), "sender");
        assertTrue(inbox.executed(messageId(m)), "marked");
        vm.expectRevert(abi.encodeWithSelector(MessageInbox.AlreadyExecuted.selector, messageId(m)));
        inbox.deliver(m, cert);
        assertEq(recipient.count(), 1, "once");
    }

    function copy(Message memory m) internal pure returns (Message memory) {
        return Message(m.sourceChainId, m.outbox, m.nonce, m.sender, m.destinationChainId, m.recipient, m.payload);
    }

    function test_messagesForAnotherChainInboxOrSourceAreRefused() public {
        Message memory m = sendHome("x");
        TableProofs.Certificate memory cert = certify(inbox.digest(m), none());
        // Another destination chain.
        Message memory other = copy(m);
        other.destinationChainId = 1;
        vm.expectRevert(abi.encodeWithSelector(MessageInbox.WrongDestination.selector, 1));
        inbox.deliver(other, cert);
        // Another outbox on the home chain.
        other = copy(m);
        other.outbox = address(0xBAD);
        vm.expectRevert(abi.encodeWithSelector(MessageInbox.WrongSource.selector, HOME, address(0xBAD)));
        inbox.deliver(other, cert);
        // A certificate made for another inbox on this chain serves only there.
        Inbox second = new Inbox(table, HOME, address(outbox));
        TableProofs.Certificate memory forSecond = certify(second.digest(m), none());
        vm.expectRevert(TableProofs.InvalidSignature.selector);
        inbox.deliver(m, forSecond);
        second.deliver(m, forSecond);
        // Changed contents are another message: the certificate does not cover it.
        other = copy(m);
        other.payload = "y";
        vm.expectRevert(TableProofs.InvalidSignature.selector);
        inbox.deliver(other, cert);
    }

    function test_forgedAndUnderweightCertificatesAreRefused() public {
        Message memory m = sendHome("x");
        bytes32 digest = inbox.digest(m);
        // Half the stake is not two thirds.
        bool[] memory absent = none();
        absent[0] = true;
        absent[1] = true;
        TableProofs.Certificate memory cert = certify(digest, absent);
        vm.expectRevert(abi.encodeWithSelector(TableProofs.ThresholdNotMet.selector, 64 gwei, 128 gwei, 6667));
        inbox.deliver(m, cert);
        // A signature by keys that are not the signers'.
        cert = certify(digest, none());
        cert.signature = Keys.sign(99, abi.encodePacked(digest), BLS.SIGNATURE_DST);
        vm.expectRevert(TableProofs.InvalidSignature.selector);
        inbox.deliver(m, cert);
        // A non-signer that is not in the table (a key to subtract of the forger's choice).
        absent = none();
        absent[2] = true;
        cert = certify(digest, absent);
        BLS.G2Point memory stranger = Keys.publicKey(1234);
        cert.nonSigners[0].member.publicKey = stranger;
        vm.expectRevert(abi.encodeWithSelector(TableProofs.NotAMember.selector, ops[2].addr));
        inbox.deliver(m, cert);
        // A member's stake understated (more weight left to the signers).
        cert = certify(digest, absent);
        cert.nonSigners[0].member.stakeGwei = 1;
        vm.expectRevert(abi.encodeWithSelector(TableProofs.NotAMember.selector, ops[2].addr));
        inbox.deliver(m, cert);
        // The same non-signer twice (its stake counted twice would lower the bar... or
        // its key subtracted twice): refused as unsorted.
        cert = certify(digest, absent);
        TableProofs.NonSigner[] memory twice = new TableProofs.NonSigner[](2);
        twice[0] = cert.nonSigners[0];
        twice[1] = cert.nonSigners[0];
        cert.nonSigners = twice;
        vm.expectRevert(abi.encodeWithSelector(TableProofs.NonSignersNotSorted.selector, ops[2].addr));
        inbox.deliver(m, cert);
        // None of it executed anything.
        assertEq(recipient.count(), 0, "nothing delivered");
    }

    function test_theTableMovesOnlyByACertificateOfTheCurrentOne() public {
        TableProofs.Table memory first = table.table();
        // The next table: operator sks 3..7 (two leave, three join).
        TableFixture.Op[] memory before = ops;
        setOperators(3, 5);
        TableProofs.Table memory next = tableOf(2);
        // Signed by the next table's operators: refused (the current ones sign).
        TableProofs.Certificate memory cert = certify(table.updateDigest(next), none());
        vm.expectRevert(TableProofs.InvalidSignature.selector);
        table.update(next, cert);
        // Signed by the current table.
        restore(before);
        table.update(next, certify(table.updateDigest(next), none()));
        assertEq(table.table().root, next.root, "installed");
        // Older or equal epochs never come back, even correctly signed.
        first.epoch = 2;
        cert = certify(table.updateDigest(first), none());
        vm.expectRevert(abi.encodeWithSelector(OperatorTable.EpochNotNewer.selector, 2, 2));
        table.update(first, cert);
        // Messages now need the new operators.
        Message memory m = sendHome("after");
        cert = certify(inbox.digest(m), none());
        vm.expectRevert(TableProofs.InvalidSignature.selector);
        inbox.deliver(m, cert);
        setOperators(3, 5);
        inbox.deliver(m, certify(inbox.digest(m), none()));
        assertEq(recipient.last(), bytes("after"), "delivered by the new table");
    }

    function test_aStaleTableExecutesNothingButCanHandOver() public {
        Message memory m = sendHome("late");
        TableProofs.Certificate memory cert = certify(inbox.digest(m), none());
        uint64 born = table.table().homeTimestamp;
        vm.warp(born + MAX_AGE + 1);
        vm.expectRevert(abi.encodeWithSelector(OperatorTable.StaleTable.selector, born, MAX_AGE, block.timestamp));
        inbox.deliver(m, cert);
        TableProofs.Table memory next = tableOf(2);
        table.update(next, certify(table.updateDigest(next), none()));
        inbox.deliver(m, cert);
        assertEq(recipient.count(), 1, "delivered once the table is fresh");
    }

    /// A table's age counts from its commit on the home chain: installed late, it
    /// lives no longer; past `maxHandoverAge` it cannot even hand over, and a
    /// successor older than it, or dated in the future, is refused.
    function test_agesCountFromTheHomeCommit() public {
        // A successor committed at the genesis time but installed an hour and a bit
        // later is already stale.
        TableProofs.Table memory next = tableOf(2);
        uint64 born = next.homeTimestamp;
        vm.warp(born + MAX_AGE + 1);
        table.update(next, certify(table.updateDigest(next), none()));
        Message memory m = sendHome("x");
        TableProofs.Certificate memory cert = certify(inbox.digest(m), none());
        vm.expectRevert(abi.encodeWithSelector(OperatorTable.StaleTable.selector, born, MAX_AGE, block.timestamp));
        inbox.deliver(m, cert);
        // Past the hand-over age, not even a successor.
        vm.warp(born + HANDOVER + 1);
        TableProofs.Table memory third = tableOf(3);
        TableProofs.Certificate memory up = certify(table.updateDigest(third), none());
        vm.expectRevert(
            abi.encodeWithSelector(OperatorTable.HandoverExpired.selector, born, HANDOVER, block.timestamp)
        );
        table.update(third, up);
        // (Fresh again from a later clock, for the last two checks.)
        vm.warp(born + 10);
        third.homeTimestamp = born - 1;
        up = certify(table.updateDigest(third), none());
        vm.expectRevert(abi.encodeWithSelector(OperatorTable.OlderThanCurrent.selector, born - 1, born));
        table.update(third, up);
        third.homeTimestamp = uint64(block.timestamp + 1 days);
        up = certify(table.updateDigest(third), none());
        vm.expectRevert(
            abi.encodeWithSelector(OperatorTable.TableFromTheFuture.selector, third.homeTimestamp, block.timestamp)
        );
        table.update(third, up);
    }

    /// Payloads are bounded on both ends: a fraud proof repeating one always fits.
    function test_oversizedPayloadsAreRefused() public {
        bytes memory big = new bytes(16 * 1024 + 1);
        vm.chainId(HOME);
        vm.expectRevert(abi.encodeWithSelector(Outbox.PayloadTooLarge.selector, big.length, 16 * 1024));
        outbox.send(REMOTE, address(recipient), big);
        vm.chainId(REMOTE);
        Message memory m = Message(HOME, address(outbox), 0, address(this), REMOTE, address(recipient), big);
        TableProofs.Certificate memory cert = certify(inbox.digest(m), none());
        vm.expectRevert(abi.encodeWithSelector(MessageInbox.PayloadTooLarge.selector, big.length, 16 * 1024));
        inbox.deliver(m, cert);
    }

    /// The table of secret keys 1..4 (32 gwei each) has the root the Rust side
    /// computes (`bridge_avs::table`, test `the_root_matches_the_contracts`): leaves,
    /// pair hashing and the odd node carried up are one construction on both sides.
    function test_tableRootVector() public {
        setOperators(1, 4);
        TableProofs.Table memory t = tableOf(1);
        assertEq(t.root, 0xe9a1fc1d37179cb0089be62c5d1f8df77ae06f1f543e01b47adbe4242af2fb7d, "4 members");
        setOperators(1, 5);
        t = tableOf(1);
        assertEq(t.root, 0x1d13629488999f657e03c583de2686cffc792547232dc8fe42be8b3c4551b72b, "5: one carried up");
    }

    /// A message id and delivery digest the Rust side computes too
    /// (`bridge_avs::message`, test `ids_and_digests_match_the_contracts`).
    function test_messageIdVector() public pure {
        Message memory m = Message(31337, address(0x1111), 7, address(0x2222), 31338, address(0x3333), "hi");
        bytes32 id = messageId(m);
        assertEq(id, 0xe37d50214ab9bb218400e202fa0bb81c15e3792a5b0db4f9b97fddd0d4715ae2, "id");
        assertEq(
            deliveryDigest(31338, address(0x4444), id),
            0xd8d3195192c5bbc48206da0e0f572226a30ad9a14bd732f7d7b5c932af431b2f,
            "delivery digest"
        );
    }

    function restore(TableFixture.Op[] memory saved) internal {
        delete ops;
        for (uint256 i = 0; i < saved.length; i++) {
            ops.push(saved[i]);
        }
    }

    /// Gas of a delivery and of a table update, by table size (one non-signer).
    function test_gas_deliveryAndUpdate() public {
        uint256[2] memory sizes = [uint256(10), 100];
        for (uint256 s = 0; s < sizes.length; s++) {
            uint256 n = sizes[s];
            setOperators(1000, n);
            OperatorTable t = new OperatorTable(HOME, HOME_AVS, 6667, MAX_AGE, HANDOVER, tableOf(1));
            Inbox box = new Inbox(t, HOME, address(outbox));
            // A fresh recipient each time, so each delivery writes the same slots.
            recipient = new Recorder();
            Message memory m = sendHome("gas");
            bool[] memory absent = none();
            absent[n / 2] = true;
            TableProofs.Certificate memory cert = certify(box.digest(m), absent);
            box.deliver(m, cert);
            uint256 delivery = vm.lastCallGas().gasTotalUsed;
            TableProofs.Table memory next = tableOf(2);
            TableProofs.Certificate memory up = certify(t.updateDigest(next), absent);
            t.update(next, up);
            uint256 update = vm.lastCallGas().gasTotalUsed;
            emit log_string(
                string.concat(
                    "bridge-gas operators=",
                    vm.toString(n),
                    " delivery=",
                    vm.toString(delivery),
                    " table-update=",
                    vm.toString(update)
                )
            );
            assertTrue(delivery > 0 && update > 0, "measured");
        }
    }
}
