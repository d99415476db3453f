// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture, TestAVS} from "./utils/AVSFixture.sol";
import {Keys} from "./utils/Keys.sol";
import {BLS} from "../src/bls/BLS.sol";
import {CertificateVerifier} from "../src/avs/CertificateVerifier.sol";
import {OperatorRegistry} from "../src/avs/OperatorRegistry.sol";
import {TaskManager} from "../src/avs/TaskManager.sol";

/// Registry, certificate verification and the task life cycle, with every failure path.
contract CertificateTest is AVSFixture {
    bytes internal constant RESPONSE = "price=314159";

    function setUp() public {
        deployCore();
        addOperators(10, 32 ether);
        vm.roll(block.number + 1);
    }

    function newTask() internal returns (uint256 id, uint32 ref) {
        id = avs.createTask("input", THRESHOLD, 50);
        ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
    }

    function absentFirst(uint256 k) internal view returns (bool[] memory absent) {
        absent = noneAbsent();
        for (uint256 i = 0; i < k; i++) {
            absent[i] = true;
        }
    }

    function certFor(uint256 id, uint32 ref, bool[] memory absent)
        internal
        view
        returns (CertificateVerifier.Certificate memory)
    {
        return certify(avs, avs.taskResponseMessage(id, keccak256(RESPONSE)), ref, absent);
    }

    function test_fullCertificateIsAccepted() public {
        (uint256 id, uint32 ref) = newTask();
        avs.respondToTask(id, RESPONSE, certFor(id, ref, noneAbsent()));
        TaskManager.Task memory t = avs.getTask(id);
        assertEq(uint256(t.status), uint256(TaskManager.TaskStatus.Responded), "status");
        assertEq(t.signedStakeGwei, 320 gwei, "signed stake (gwei)");
        assertEq(t.totalStakeGwei, 320 gwei, "total stake (gwei)");
        assertEq(avs.lastResponse(), RESPONSE, "hook saw the response");
        assertFalse(avs.isFinal(id), "final before the challenge window");
        vm.roll(block.number + 21);
        assertTrue(avs.isFinal(id), "final after the challenge window");
    }

    function test_nonSignersAreSubtracted() public {
        (uint256 id, uint32 ref) = newTask();
        avs.respondToTask(id, RESPONSE, certFor(id, ref, absentFirst(3)));
        assertEq(avs.getTask(id).signedStakeGwei, 224 gwei, "7 of 10 signed");
    }

    function test_exactlyAtThresholdPassesOneBelowFails() public {
        (uint256 id, uint32 ref) = newTask();
        bytes32 message = avs.taskResponseMessage(id, keccak256(RESPONSE));
        // 6 of 10 equal stakes = 60.00% = THRESHOLD.
        avs.verifyCertificate(message, THRESHOLD, certify(avs, message, ref, absentFirst(4)));
        CertificateVerifier.Certificate memory five = certify(avs, message, ref, absentFirst(5));
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.ThresholdNotMet.selector, 160 gwei, 320 gwei, THRESHOLD)
        );
        avs.verifyCertificate(message, THRESHOLD, five);
        // One basis point more than 6 signers hold fails too.
        CertificateVerifier.Certificate memory six = certify(avs, message, ref, absentFirst(4));
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.ThresholdNotMet.selector, 192 gwei, 320 gwei, THRESHOLD + 1)
        );
        avs.verifyCertificate(message, THRESHOLD + 1, six);
    }

    function test_wrongSignatureIsRejected() public {
        (uint256 id, uint32 ref) = newTask();
        CertificateVerifier.Certificate memory cert = certFor(id, ref, noneAbsent());
        cert.signature = Keys.sign(12345, "something else", BLS.SIGNATURE_DST);
        vm.expectRevert(CertificateVerifier.InvalidSignature.selector);
        avs.respondToTask(id, RESPONSE, cert);
    }

    /// A signature that is no point fails with an error naming the cause, and one that is
    /// not even canonical before any precompile is called (50k gas is less than the
    /// pairing alone costs); too little gas never reads as an invalid signature.
    function test_malformedSignatureAndLowGasFailClearly() public {
        (uint256 id, uint32 ref) = newTask();
        CertificateVerifier.Certificate memory cert = certFor(id, ref, noneAbsent());
        CertificateVerifier.Certificate memory bad = certFor(id, ref, noneAbsent());
        bad.signature.yLo ^= 1; // canonical, off the curve
        vm.expectRevert(abi.encodeWithSelector(BLS.PrecompileFailed.selector, uint256(0x0f)));
        avs.respondToTask{gas: 2_000_000}(id, RESPONSE, bad);
        bad.signature.xHi = 1 << 128;
        vm.expectRevert(abi.encodeWithSelector(BLS.InvalidFieldElement.selector, uint256(1 << 128), bad.signature.xLo));
        avs.respondToTask{gas: 50_000}(id, RESPONSE, bad);
        vm.expectRevert(abi.encodeWithSelector(BLS.PrecompileFailed.selector, uint256(0x0f)));
        avs.respondToTask{gas: 100_000}(id, RESPONSE, cert);
        avs.respondToTask(id, RESPONSE, cert);
    }

    function test_unlistedNonSignerIsCaught() public {
        (uint256 id, uint32 ref) = newTask();
        // Signed by operators 1..9 but claiming all ten signed.
        CertificateVerifier.Certificate memory partialCert = certFor(id, ref, absentFirst(1));
        CertificateVerifier.Certificate memory cert = certFor(id, ref, noneAbsent());
        cert.signature = partialCert.signature;
        vm.expectRevert(CertificateVerifier.InvalidSignature.selector);
        avs.respondToTask(id, RESPONSE, cert);
    }

    function test_otherResponseDigestIsRejected() public {
        (uint256 id, uint32 ref) = newTask();
        CertificateVerifier.Certificate memory cert = certFor(id, ref, noneAbsent());
        vm.expectRevert(CertificateVerifier.InvalidSignature.selector);
        avs.respondToTask(id, "price=999999", cert);
    }

    function test_futureAndStaleReferenceBlocks() public {
        (uint256 id, uint32 ref) = newTask();
        bytes32 message = avs.taskResponseMessage(id, keccak256(RESPONSE));
        CertificateVerifier.Certificate memory cert = certify(avs, message, ref, noneAbsent());
        cert.referenceBlock = uint32(block.number);
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.FutureReferenceBlock.selector, block.number, block.number)
        );
        avs.verifyCertificate(message, THRESHOLD, cert);

        cert.referenceBlock = ref;
        vm.roll(uint256(ref) + 101);
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.StaleReferenceBlock.selector, ref, block.number - 100)
        );
        avs.verifyCertificate(message, THRESHOLD, cert);
    }

    function test_replayOnAnotherTaskFails() public {
        (uint256 id0, uint32 ref0) = newTask();
        vm.roll(block.number - 1); // same reference block for the second task
        uint256 id1 = avs.createTask("input", THRESHOLD, 50);
        vm.roll(block.number + 1);
        CertificateVerifier.Certificate memory cert = certFor(id0, ref0, noneAbsent());
        vm.expectRevert(CertificateVerifier.InvalidSignature.selector);
        avs.respondToTask(id1, RESPONSE, cert);
        avs.respondToTask(id0, RESPONSE, cert);
    }

    function test_replayOnAnotherAVSFails() public {
        TestAVS other = new TestAVS(core, address(this), 1 ether);
        for (uint256 i = 0; i < ops.length; i++) {
            vm.startPrank(ops[i].addr);
            core.allocate(address(other), 10_000);
            // The proof that registered the key at `avs` does not register it here.
            BLS.G2Point memory pk = Keys.publicKey(ops[i].sk);
            BLS.G1Point memory forAvs = Keys.prove(ops[i].sk, address(avs), ops[i].addr);
            BLS.G1Point memory forOther = Keys.prove(ops[i].sk, address(other), ops[i].addr);
            vm.expectRevert(OperatorRegistry.InvalidProofOfPossession.selector);
            other.registerOperator(pk, forAvs);
            other.registerOperator(pk, forOther);
            vm.stopPrank();
        }
        vm.roll(block.number + 1);
        uint256 id = other.createTask("input", THRESHOLD, 50);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        // Signed for `avs`, presented to `other` (same task id, same keys and stakes).
        bytes32 forAvs = avs.taskResponseMessage(id, keccak256(RESPONSE));
        CertificateVerifier.Certificate memory cert = certify(other, forAvs, ref, noneAbsent());
        vm.expectRevert(CertificateVerifier.InvalidSignature.selector);
        other.respondToTask(id, RESPONSE, cert);
        other.respondToTask(id, RESPONSE, certify(other, other.taskResponseMessage(id, keccak256(RESPONSE)), ref, noneAbsent()));
    }

    function test_replayOnAnotherChainFails() public {
        (uint256 id, uint32 ref) = newTask();
        CertificateVerifier.Certificate memory cert = certFor(id, ref, noneAbsent());
        uint256 home = block.chainid;
        vm.chainId(home + 1);
        vm.expectRevert(CertificateVerifier.InvalidSignature.selector);
        avs.respondToTask(id, RESPONSE, cert);
        vm.chainId(home);
        avs.respondToTask(id, RESPONSE, cert);
    }

    function test_forgedNonSignerDataIsRejected() public {
        (uint256 id, uint32 ref) = newTask();
        bytes32 message = avs.taskResponseMessage(id, keccak256(RESPONSE));
        CertificateVerifier.Certificate memory cert = certify(avs, message, ref, absentFirst(2));

        BLS.G2Point memory real = cert.nonSigners[0].publicKey;
        cert.nonSigners[0].publicKey = Keys.publicKey(999);
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.NonSignerKeyMismatch.selector, cert.nonSigners[0].operator)
        );
        avs.verifyCertificate(message, THRESHOLD, cert);
        cert.nonSigners[0].publicKey = real;

        cert.nonSigners[0].hint = 7;
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.BadNonSignerHint.selector, cert.nonSigners[0].operator, 7)
        );
        avs.verifyCertificate(message, THRESHOLD, cert);
        cert.nonSigners[0].hint = 0;

        // Listing a non-signer twice would subtract its key and stake twice.
        cert.nonSigners[1] = cert.nonSigners[0];
        vm.expectRevert(
            abi.encodeWithSelector(CertificateVerifier.NonSignersNotSorted.selector, cert.nonSigners[0].operator)
        );
        avs.verifyCertificate(message, THRESHOLD, cert);

        cert = certify(avs, message, ref, absentFirst(2));
        cert.setHint = 3;
        vm.expectRevert(abi.encodeWithSelector(CertificateVerifier.BadSetHint.selector, 3));
        avs.verifyCertificate(message, THRESHOLD, cert);

        cert = certify(avs, message, ref, absentFirst(2));
        cert.aggregateKey = Keys.publicKey(42);
        vm.expectRevert(CertificateVerifier.AggregateKeyMismatch.selector);
        avs.verifyCertificate(message, THRESHOLD, cert);
    }

    function test_lateAndDuplicateResponses() public {
        (uint256 id, uint32 ref) = newTask();
        CertificateVerifier.Certificate memory cert = certFor(id, ref, noneAbsent());
        avs.respondToTask(id, RESPONSE, cert);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.TaskAlreadyResponded.selector, id));
        avs.respondToTask(id, RESPONSE, cert);

        (uint256 late, uint32 lateRef) = newTask();
        CertificateVerifier.Certificate memory lateCert = certFor(late, lateRef, noneAbsent());
        uint256 deadline = avs.getTask(late).deadlineBlock;
        vm.expectRevert(abi.encodeWithSelector(TaskManager.DeadlineNotPassed.selector, late, deadline));
        avs.expireTask(late);
        vm.roll(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.DeadlinePassed.selector, late, deadline));
        avs.respondToTask(late, RESPONSE, lateCert);
        avs.expireTask(late);
        assertEq(uint256(avs.getTask(late).status), uint256(TaskManager.TaskStatus.Expired), "expired");
    }

    function test_onlyTaskCreatorsCreate() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.NotTaskCreator.selector, address(0xBEEF)));
        avs.createTask("x", THRESHOLD, 10);
    }

    function test_registrationChecks() public {
        address op = address(0xA11CE);
        token.mint(op, 1 ether);
        vm.startPrank(op);
        token.approve(address(core), 1 ether);
        core.registerOperator(0);
        core.delegate(op);
        core.deposit(0.5 ether);
        core.allocate(address(avs), 10_000);
        // Precompile calls happen before expectRevert, which would catch them instead.
        BLS.G2Point memory pk77 = Keys.publicKey(77);
        BLS.G1Point memory pop77 = Keys.prove(77, address(avs), op);
        BLS.G1Point memory pop78 = Keys.prove(78, address(avs), op);
        BLS.G2Point memory pk1 = Keys.publicKey(1);
        BLS.G1Point memory pop1 = Keys.prove(1, address(avs), op);
        // A proof of possession for another key.
        vm.expectRevert(OperatorRegistry.InvalidProofOfPossession.selector);
        avs.registerOperator(pk77, pop78);
        // A key someone else holds.
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.KeyAlreadyRegistered.selector, BLS.hash(pk1), ops[0].addr));
        avs.registerOperator(pk1, pop1);
        // Below the 1 ether minimum.
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.StakeBelowMinimum.selector, 0.5 ether, 1 ether));
        avs.registerOperator(pk77, pop77);
        core.deposit(0.5 ether);
        avs.registerOperator(pk77, pop77);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.AlreadyRegistered.selector, op));
        avs.registerOperator(pk77, pop77);
        vm.stopPrank();

        vm.prank(address(0xB0B));
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotRestakingOperator.selector, address(0xB0B)));
        avs.registerOperator(pk77, pop77);
    }

    /// Someone who copies a key and its proof from a pending registration cannot
    /// register them first: the proof names its operator, registry and chain.
    function test_copiedRegistrationRevertsForAnotherSender() public {
        address victim = address(0xA11CE);
        address thief = address(0xEE7E);
        BLS.G2Point memory pk = Keys.publicKey(77);
        BLS.G1Point memory proof = Keys.prove(77, address(avs), victim);
        BLS.G1Point memory otherChain;
        for (uint256 i = 0; i < 2; i++) {
            address who = i == 0 ? victim : thief;
            token.mint(who, 1 ether);
            vm.startPrank(who);
            token.approve(address(core), 1 ether);
            core.registerOperator(0);
            core.delegate(who);
            core.deposit(1 ether);
            core.allocate(address(avs), 10_000);
            vm.stopPrank();
        }
        // The thief replays the victim's exact call, key and proof.
        vm.prank(thief);
        vm.expectRevert(OperatorRegistry.InvalidProofOfPossession.selector);
        avs.registerOperator(pk, proof);
        assertTrue(avs.keyOwner(BLS.hash(pk)) == address(0), "the key is still free");
        // A proof for the right operator and registry on another chain fails too.
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        otherChain = Keys.prove(77, address(avs), victim);
        vm.chainId(chainId);
        vm.prank(victim);
        vm.expectRevert(OperatorRegistry.InvalidProofOfPossession.selector);
        avs.registerOperator(pk, otherChain);
        // The victim's own registration goes through.
        vm.prank(victim);
        avs.registerOperator(pk, proof);
        assertTrue(avs.keyOwner(BLS.hash(pk)) == victim, "registered to its owner");
    }

    /// The registry's binding is the documented layout, byte for byte.
    function test_possessionBindingLayout() public view {
        address operator = address(0xA11CE);
        bytes memory binding = avs.possessionBinding(operator);
        assertEq(binding.length, 104, "32 + 32 + 20 + 20 bytes");
        assertEq(
            binding,
            abi.encodePacked(bytes32("bulwark.possession.v1"), block.chainid, address(avs), operator),
            "binding"
        );
        BLS.G2Point memory pk = Keys.publicKey(77);
        assertEq(avs.possessionMessage(pk, operator), bytes.concat(BLS.compress(pk), binding), "message");
    }

    /// The registry builds the bytes bulwark-crypto signs (contracts/test/fixtures/bls.json,
    /// written by Rust): its code placed at the fixture's registry address, on the
    /// fixture's chain, returns them byte for byte.
    function test_possessionMessageMatchesRust() public {
        string memory json = vm.readFile("test/fixtures/bls.json");
        address registry = address(bytes20(vm.parseJsonBytes(json, ".possession.registry")));
        address operator = address(bytes20(vm.parseJsonBytes(json, ".possession.operator")));
        vm.etch(registry, address(avs).code);
        vm.chainId(vm.parseJsonUint(json, ".possession.chainId"));
        assertEq(
            OperatorRegistry(registry).possessionBinding(operator),
            vm.parseJsonBytes(json, ".possession.binding"),
            "binding differs from Rust"
        );
        BLS.G2Point memory pk = BLS.g2FromBytes(vm.parseJsonBytes(json, ".keys[0].publicKey"));
        assertEq(
            OperatorRegistry(registry).possessionMessage(pk, operator),
            vm.parseJsonBytes(json, ".keys[0].possessionMessage"),
            "message differs from Rust"
        );
    }

    function test_historyIsReadableAtPastBlocks() public {
        uint32 before = uint32(block.number - 1);
        BLS.G2Point memory apkBefore = avs.currentAggregateKey();
        vm.prank(ops[0].addr);
        avs.deregisterOperator();
        vm.roll(block.number + 1);
        uint32 afterBlock = uint32(block.number - 1);

        (OperatorRegistry.SetCheckpoint memory s0,) = avs.setAt(before);
        (OperatorRegistry.SetCheckpoint memory s1,) = avs.setAt(afterBlock);
        assertEq(s0.totalStakeGwei, 320 gwei, "stake before");
        assertEq(s1.totalStakeGwei, 288 gwei, "stake after");
        assertEq(bytes32(s0.apkTag), bytes32(bytes16(BLS.hash(apkBefore))), "old aggregate key tag");
        (OperatorRegistry.OperatorCheckpoint memory gone,) = avs.operatorAt(ops[0].addr, afterBlock);
        assertEq(bytes32(gone.keyTag), bytes32(0), "deregistered operator has no key then");

        // A certificate at the old block counts operator 0; one at the new block does not.
        bytes32 message = keccak256("m");
        avs.verifyCertificate(message, 10_000, certify(avs, message, before, noneAbsent()));
        (uint64 signed, uint64 total) =
            avs.verifyCertificate(message, 10_000, certify(avs, message, afterBlock, noneAbsent()));
        assertEq(signed, total, "everyone in the new set signed");
        assertEq(total, 288 gwei, "new total");
    }

    function test_challengeSlashesAndSyncsStake() public {
        (uint256 id, uint32 ref) = newTask();
        avs.respondToTask(id, RESPONSE, certFor(id, ref, noneAbsent()));
        bytes32 offence = avs.TEST_OFFENCE();
        bytes memory evidence = abi.encode(offence, abi.encode(ops[2].addr));
        avs.setSlashFraction(offence, 0.5e18);
        vm.expectRevert(TaskManager.ChallengesUnsupported.selector);
        avs.challenge(id, evidence);
        avs.allowChallenges(true);
        avs.challenge(id, evidence);
        assertEq(core.slashableStake(ops[2].addr), 16 ether, "half the operator's stake is gone");
        (OperatorRegistry.OperatorCheckpoint memory cp,) = avs.operatorAt(ops[2].addr, uint32(block.number));
        assertEq(cp.stakeGwei, 16 gwei, "registry follows the slash");
        assertEq(avs.totalStakeGwei(), 304 gwei, "total follows the slash");
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[2].addr, offence));
        avs.challenge(id, evidence);
    }

    function test_challengeWindowCloses() public {
        (uint256 id, uint32 ref) = newTask();
        avs.respondToTask(id, RESPONSE, certFor(id, ref, noneAbsent()));
        avs.allowChallenges(true);
        bytes32 offence = avs.TEST_OFFENCE();
        avs.setSlashFraction(offence, 0.5e18);
        vm.roll(block.number + 9);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.ChallengeWindowClosed.selector, id));
        avs.challenge(id, abi.encode(offence, abi.encode(ops[2].addr)));
    }
}
