// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture, TestAVS} from "./utils/AVSFixture.sol";
import {Keys} from "./utils/Keys.sol";
import {BLS} from "../src/bls/BLS.sol";
import {CertificateVerifier} from "../src/avs/CertificateVerifier.sol";
import {OperatorRegistry} from "../src/avs/OperatorRegistry.sol";
import {NoChallenges} from "../src/avs/NoChallenges.sol";
import {TaskManager} from "../src/avs/TaskManager.sol";
import {ProofVerifier, SlashingErrors} from "../src/avs/ProofVerifier.sol";
import {RestakingCore} from "../src/core/RestakingCore.sol";
import {BasicAVS} from "../src/avs/BasicAVS.sol";
import {SlashVeto} from "../src/avs/SlashVeto.sol";
import {IRestakingCore} from "../src/core/IRestakingCore.sol";

/// An "AVS" whose stake listener misbehaves in every way it can: reverts, burns all
/// its gas, or returns a huge buffer. Slashes elsewhere must stand regardless.
contract HostileListener {
    uint256 public mode;

    constructor(IRestakingCore core) {
        core.registerAVS();
    }

    function setMode(uint256 mode_) external {
        mode = mode_;
    }

    function onStakeChanged(address) external view {
        if (mode == 0) revert("no");
        if (mode == 1) {
            while (true) {}
        }
        assembly {
            return(0, 10000000)
        }
    }
}

/// Slashing: equivocation proofs, each refusal, windows, fractions, destinations, and
/// a slash on one AVS reaching every other AVS's registry in the same transaction.
contract SlashingTest is AVSFixture {
    bytes internal constant RESPONSE = "price=314159";
    bytes internal constant OTHER = "price=271828";
    address internal constant TREASURY = address(0x7EA5);
    address internal constant CHALLENGER = address(0xC4A1);
    address internal constant RESOLVER = address(0x4E50);

    bytes32 internal constant EQ = keccak256("bulwark.offence.equivocation.v1");
    bytes32 internal constant TEST = keccak256("test.offence");

    TestAVS internal avs2;

    function setUp() public {
        deployCore();
        addOperators(4, 32 ether);
        vm.roll(block.number + 1);
    }

    function newTask(uint32 responseBlocks) internal returns (uint256 id, uint32 ref) {
        id = avs.createTask("input", THRESHOLD, responseBlocks);
        ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
    }

    function message(TaskManager target, uint8 kind, uint256 id, bytes32 digest) internal view returns (bytes32) {
        return kind == 0 ? target.taskResponseMessage(id, digest) : target.taskReportMessage(id, digest);
    }

    /// Operator `i` signing `a` and `b` (kind: response or report) for task `id`.
    function equivocation(TaskManager target, uint256 i, uint8 kind, uint256 id, bytes memory a, bytes memory b)
        internal
        view
        returns (ProofVerifier.Equivocation memory e)
    {
        uint256 sk = ops[i].sk;
        e.chainId = block.chainid;
        e.avs = address(target);
        e.taskId = id;
        e.kind = kind;
        e.operator = ops[i].addr;
        e.publicKey = Keys.publicKey(sk);
        e.digestA = keccak256(a);
        e.signatureA = Keys.sign(sk, abi.encodePacked(message(target, kind, id, e.digestA)), BLS.SIGNATURE_DST);
        e.digestB = keccak256(b);
        e.signatureB = Keys.sign(sk, abi.encodePacked(message(target, kind, id, e.digestB)), BLS.SIGNATURE_DST);
    }

    function evidence(ProofVerifier.Equivocation memory e) internal view returns (bytes memory) {
        return abi.encode(EQ, abi.encode(e));
    }

    function stakeGwei(TaskManager target, address op) internal view returns (uint256) {
        (OperatorRegistry.OperatorCheckpoint memory cp,) = target.operatorAt(op, uint32(block.number));
        return cp.stakeGwei;
    }

    function test_anAVSFitsTheCodeSizeLimit() public {
        BasicAVS basic = new BasicAVS(TaskManager.Params(core, address(this), 1 ether, 100, 8));
        assertLe(address(basic).code.length, 24_576, "EIP-170: deployable on mainnet");
        assertLe(address(basic.proofVerifier()).code.length, 24_576, "and its verifier");
    }

    function test_equivocationIsSlashedOncePerOffence() public {
        bytes memory ev;
        (uint256 id, uint32 ref) = newTask(5);
        avs.respondToTask(id, RESPONSE, certify(avs, avs.taskResponseMessage(id, keccak256(RESPONSE)), ref, noneAbsent()));
        ProofVerifier.Equivocation memory e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        bytes memory proof = evidence(e);
        vm.prank(CHALLENGER);
        avs.challenge(id, proof);
        assertApproxEq(core.slashableStake(ops[1].addr), 28.8 ether, 1, "the default 10% is gone");
        assertEq(stakeGwei(avs, ops[1].addr), 28.8 gwei, "the registry weighs what is left");
        assertTrue(avs.slashedFor(avs.offenceKey(id, ops[1].addr, EQ)), "recorded");
        assertApproxEq(token.balanceOf(avs.BURN()), 3.2 ether, 1, "burned by default");
        assertEq(uint256(avs.getTask(id).status), uint256(TaskManager.TaskStatus.Challenged), "status");

        // The same offence again, the proof reordered, or with other digests: once only.
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[1].addr, EQ));
        avs.challenge(id, ev);
        ProofVerifier.Equivocation memory swapped = equivocation(avs, 1, 0, id, OTHER, RESPONSE);
        ev = evidence(swapped);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[1].addr, EQ));
        avs.challenge(id, ev);
        ProofVerifier.Equivocation memory reports = equivocation(avs, 1, 1, id, "a", "b");
        ev = evidence(reports);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[1].addr, EQ));
        avs.challenge(id, ev);

        // Another offender on the same task is slashed too.
        avs.challenge(id, evidence(equivocation(avs, 2, 1, id, "report one", "report two")));
        assertApproxEq(core.slashableStake(ops[2].addr), 28.8 ether, 1, "second offender slashed");
        assertApproxEq(core.slashableStake(ops[0].addr), 32 ether, 1, "honest operator untouched");
    }

    function test_equivocationOnAnUnansweredTask() public {
        (uint256 id,) = newTask(5);
        avs.challenge(id, evidence(equivocation(avs, 0, 0, id, RESPONSE, OTHER)));
        assertApproxEq(core.slashableStake(ops[0].addr), 28.8 ether, 1, "slashed");
        assertEq(uint256(avs.getTask(id).status), uint256(TaskManager.TaskStatus.Open), "still answerable");
    }

    function test_forgedEquivocationsAreRefused() public {
        bytes memory ev;
        (uint256 id, uint32 ref) = newTask(5);
        ProofVerifier.Equivocation memory good = equivocation(avs, 1, 0, id, RESPONSE, OTHER);

        ProofVerifier.Equivocation memory e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        e.digestB = e.digestA;
        e.signatureB = e.signatureA;
        ev = evidence(e);
        vm.expectRevert(SlashingErrors.NotAnEquivocation.selector);
        avs.challenge(id, ev);

        // Operator 1 framed with operator 2's signature on the other response.
        e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        e.signatureB = equivocation(avs, 2, 0, id, RESPONSE, OTHER).signatureB;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.InvalidEquivocationSignature.selector, e.digestB));
        avs.challenge(id, ev);

        // Operator 2's whole equivocation, presented as operator 1's.
        e = equivocation(avs, 2, 0, id, RESPONSE, OTHER);
        e.operator = ops[1].addr;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.KeyNotRegisteredAt.selector, ops[1].addr, ref));
        avs.challenge(id, ev);

        // A key nobody registered, signing both in operator 1's name.
        e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        e.publicKey = Keys.publicKey(999);
        e.signatureA = Keys.sign(999, abi.encodePacked(avs.taskResponseMessage(id, e.digestA)), BLS.SIGNATURE_DST);
        e.signatureB = Keys.sign(999, abi.encodePacked(avs.taskResponseMessage(id, e.digestB)), BLS.SIGNATURE_DST);
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.KeyNotRegisteredAt.selector, ops[1].addr, ref));
        avs.challenge(id, ev);

        // A response signature and a report signature are not two answers of one kind.
        e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        e.kind = 1;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.InvalidEquivocationSignature.selector, e.digestA));
        avs.challenge(id, ev);
        e.kind = 2;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.UnknownKind.selector, uint8(2)));
        avs.challenge(id, ev);

        avs.challenge(id, evidence(good));
    }

    function test_equivocationsOutOfContextAreRefused() public {
        bytes memory ev;
        (uint256 id,) = newTask(5);
        ProofVerifier.Equivocation memory good = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        ProofVerifier.Equivocation memory e;
        // Another task, AVS or chain named, or signatures made for another task.
        e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        e.taskId = id + 1;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.WrongContext.selector, block.chainid, address(avs), id + 1));
        avs.challenge(id, ev);
        e = equivocation(avs, 1, 0, id, RESPONSE, OTHER);
        e.chainId = 1;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.WrongContext.selector, 1, address(avs), id));
        avs.challenge(id, ev);
        (uint256 next,) = newTask(5);
        ev = evidence(good);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.WrongContext.selector, block.chainid, address(avs), id));
        avs.challenge(next, ev);
        e = equivocation(avs, 1, 0, next, RESPONSE, OTHER);
        e.taskId = id;
        ev = evidence(e);
        vm.expectRevert(abi.encodeWithSelector(SlashingErrors.InvalidEquivocationSignature.selector, e.digestA));
        avs.challenge(id, ev);

        // Garbage, an unknown task, an offence this AVS does not slash.
        vm.expectRevert();
        avs.challenge(id, hex"0badc0de");
        ev = evidence(good);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.UnknownTask.selector, 77));
        avs.challenge(77, ev);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.OffenceNotSlashable.selector, bytes32("nope")));
        avs.challenge(id, abi.encode(bytes32("nope"), abi.encode(ops[1].addr)));

        for (uint256 i = 0; i < ops.length; i++) {
            assertApproxEq(core.slashableStake(ops[i].addr), 32 ether, 1, "nobody slashed by a refused proof");
        }
        avs.challenge(id, evidence(good));
    }

    function test_anOperatorRegisteredAfterTheReferenceBlockIsNotSlashedForIt() public {
        bytes memory ev;
        (uint256 id,) = newTask(5);
        Op memory late = addOperator(avs, 42, 32 ether);
        ProofVerifier.Equivocation memory e = equivocation(avs, ops.length - 1, 0, id, RESPONSE, OTHER);
        ev = evidence(e);
        uint32 ref = avs.getTask(id).referenceBlock;
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NoCheckpointAt.selector, ref));
        avs.challenge(id, ev);
        assertApproxEq(core.slashableStake(late.addr), 32 ether, 1, "untouched");
    }

    function test_challengeWindows() public {
        bytes memory ev;
        // Answered: challengeWindow (8) blocks after the response.
        (uint256 id, uint32 ref) = newTask(5);
        avs.respondToTask(id, RESPONSE, certify(avs, avs.taskResponseMessage(id, keccak256(RESPONSE)), ref, noneAbsent()));
        assertEq(avs.challengeDeadline(id), block.number + 8, "answered");
        vm.roll(block.number + 9);
        ev = evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.ChallengeWindowClosed.selector, id));
        avs.challenge(id, ev);

        // Unanswered: after the deadline, capped by the withdrawal delay (10) from the
        // reference block, past which the stake that signed may have left.
        (id, ref) = newTask(5);
        assertEq(avs.challengeDeadline(id), uint256(ref) + 10, "capped at the withdrawal delay");
        vm.roll(uint256(ref) + 10);
        avs.challenge(id, evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER)));
        (id, ref) = newTask(5);
        vm.roll(uint256(ref) + 11);
        ev = evidence(equivocation(avs, 2, 0, id, RESPONSE, OTHER));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.ChallengeWindowClosed.selector, id));
        avs.challenge(id, ev);
    }

    function test_windowLongerThanTheWithdrawalDelayCannotDeploy() public {
        vm.expectRevert(abi.encodeWithSelector(TaskManager.ChallengeWindowTooLong.selector, uint32(11), uint32(10)));
        new WindowAVS(core, 11);
        new WindowAVS(core, 10);
    }

    function test_fractionDestinationAndBounty() public {
        bytes memory ev;
        avs.setSlashFraction(EQ, 0.5e18);
        avs.setSlashDestination(TREASURY, 1000);
        vm.prank(CHALLENGER);
        vm.expectRevert();
        avs.setSlashFraction(EQ, 1e18);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.InvalidFraction.selector, 1e18 + 1));
        avs.setSlashFraction(EQ, 1e18 + 1);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.InvalidDestination.selector, address(0), uint16(0)));
        avs.setSlashDestination(address(0), 0);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.InvalidDestination.selector, TREASURY, uint16(10_001)));
        avs.setSlashDestination(TREASURY, 10_001);

        (uint256 id,) = newTask(5);
        bytes memory proof = evidence(equivocation(avs, 3, 0, id, RESPONSE, OTHER));
        vm.prank(CHALLENGER);
        avs.challenge(id, proof);
        assertApproxEq(core.slashableStake(ops[3].addr), 16 ether, 1, "half");
        assertApproxEq(token.balanceOf(CHALLENGER), 1.6 ether, 1, "10% bounty");
        assertApproxEq(token.balanceOf(TREASURY), 14.4 ether, 1, "the rest to the treasury");
        assertEq(token.balanceOf(address(avs)), 0, "the AVS keeps nothing");

        // Turned off: refused.
        avs.setSlashFraction(EQ, 0);
        ev = evidence(equivocation(avs, 2, 0, id, RESPONSE, OTHER));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.OffenceNotSlashable.selector, EQ));
        avs.challenge(id, ev);
    }

    function test_templateOffenceGoesThroughTheHook() public {
        (uint256 id,) = newTask(5);
        bytes memory ev = abi.encode(TEST, abi.encode(ops[0].addr));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.OffenceNotSlashable.selector, TEST));
        avs.challenge(id, ev);
        avs.setSlashFraction(TEST, 0.25e18);
        vm.expectRevert(TaskManager.ChallengesUnsupported.selector);
        avs.challenge(id, ev);
        avs.allowChallenges(true);
        avs.challenge(id, ev);
        assertApproxEq(core.slashableStake(ops[0].addr), 24 ether, 1, "a quarter");
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[0].addr, TEST));
        avs.challenge(id, ev);
        // Equivocation is a separate offence on the same task.
        avs.challenge(id, evidence(equivocation(avs, 0, 0, id, RESPONSE, OTHER)));
    }

    function test_vetoSettings() public {
        SlashVeto veto = avs.slashVeto();
        assertEq(veto.vetoBlocks(), 0, "off by default");
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.NotAVSOwner.selector, CHALLENGER));
        veto.setVeto(RESOLVER, 2);
        // Window (8) + veto must fit in the withdrawal delay (10).
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.InvalidVeto.selector, RESOLVER, uint32(3)));
        veto.setVeto(RESOLVER, 3);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.InvalidVeto.selector, address(0), uint32(2)));
        veto.setVeto(address(0), 2);
        veto.setVeto(RESOLVER, 2);
        // Only the AVS queues and takes.
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.NotAVS.selector, address(this)));
        veto.queue(0, ops[0].addr, EQ, 1e18, address(this));
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.NotAVS.selector, address(this)));
        veto.take(0);
    }

    function test_aVetoedSlashNeverLands() public {
        SlashVeto veto = avs.slashVeto();
        veto.setVeto(RESOLVER, 2);
        (uint256 id, uint32 ref) = newTask(5);
        // Challenges close two blocks earlier: the slash must still execute in time.
        assertEq(avs.challengeDeadline(id), uint256(ref) + 10 - 2, "deadline less the veto");
        bytes memory proof = evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER));
        vm.prank(CHALLENGER);
        avs.challenge(id, proof);
        assertApproxEq(core.slashableStake(ops[1].addr), 32 ether, 1, "queued, not slashed");
        SlashVeto.Slash memory queued = veto.slash(0);
        assertEq(queued.operator, ops[1].addr, "operator");
        assertEq(queued.challenger, CHALLENGER, "challenger");
        assertEq(queued.readyBlock, block.number + 2, "ready after the veto");

        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.NotResolver.selector, CHALLENGER));
        veto.veto(0);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.VetoWindowOpen.selector, 0, block.number + 2));
        avs.executeSlash(0);
        vm.prank(RESOLVER);
        veto.veto(0);
        vm.roll(block.number + 5);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.SlashNotPending.selector, 0, SlashVeto.Status.Vetoed));
        avs.executeSlash(0);
        assertApproxEq(core.slashableStake(ops[1].addr), 32 ether, 1, "never slashed");
        // The proof stays spent.
        bytes memory ev = evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[1].addr, EQ));
        avs.challenge(id, ev);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.UnknownSlash.selector, 1));
        avs.executeSlash(1);
    }

    function test_anUnvetoedSlashIsExecutedByAnyone() public {
        SlashVeto veto = avs.slashVeto();
        veto.setVeto(RESOLVER, 2);
        avs.setSlashDestination(TREASURY, 1000);
        (uint256 id,) = newTask(5);
        bytes memory proof = evidence(equivocation(avs, 2, 0, id, RESPONSE, OTHER));
        vm.prank(CHALLENGER);
        avs.challenge(id, proof);
        vm.roll(block.number + 2);
        vm.prank(RESOLVER);
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.VetoWindowClosed.selector, 0, block.number));
        veto.veto(0);
        vm.prank(address(0xE8EC));
        avs.executeSlash(0);
        assertApproxEq(core.slashableStake(ops[2].addr), 28.8 ether, 1, "slashed");
        assertApproxEq(token.balanceOf(CHALLENGER), 0.32 ether, 1, "the bounty goes to the challenger");
        assertEq(token.balanceOf(address(0xE8EC)), 0, "not to whoever executes");
        assertApproxEq(token.balanceOf(TREASURY), 2.88 ether, 1, "the rest to the destination");
        vm.expectRevert(abi.encodeWithSelector(SlashVeto.SlashNotPending.selector, 0, SlashVeto.Status.Executed));
        avs.executeSlash(0);
        // Turned off again: the next slash lands with its proof.
        veto.setVeto(address(0), 0);
        avs.challenge(id, evidence(equivocation(avs, 3, 0, id, RESPONSE, OTHER)));
        assertApproxEq(core.slashableStake(ops[3].addr), 28.8 ether, 1, "at once");
        assertEq(veto.slashCount(), 1, "nothing queued");
    }

    function test_aSlashOnOneAVSReweighsTheOperatorOnEveryOther() public {
        avs2 = new TestAVS(core, address(this), 1 ether);
        for (uint256 i = 0; i < ops.length; i++) {
            vm.startPrank(ops[i].addr);
            core.allocate(address(avs2), 10_000);
            avs2.registerOperator(Keys.publicKey(ops[i].sk), Keys.prove(ops[i].sk, address(avs2), ops[i].addr));
            vm.stopPrank();
        }
        vm.roll(block.number + 1);
        assertEq(stakeGwei(avs2, ops[1].addr), 32 gwei, "before");
        (uint256 id,) = newTask(5);
        avs.challenge(id, evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER)));
        assertEq(stakeGwei(avs2, ops[1].addr), 28.8 gwei, "avs2 follows the slash on avs, same block");
        assertEq(avs2.totalStakeGwei(), 124.8 gwei, "and its total");

        // avs2's next certificate weighs the slashed stake: operator 1 alone no longer
        // holds what it did.
        vm.roll(block.number + 1);
        uint256 task2 = avs2.createTask("x", 10_000, 5);
        uint32 ref2 = uint32(block.number - 1);
        vm.roll(block.number + 1);
        bytes32 m = avs2.taskResponseMessage(task2, keccak256(RESPONSE));
        (uint64 signed, uint64 total) = avs2.verifyCertificate(m, 10_000, certify(avs2, m, ref2, noneAbsent()));
        assertEq(signed, 124.8 gwei, "signed stake after the slash");
        assertEq(total, 124.8 gwei, "total after the slash");
    }

    function test_aHostileListenerCannotStopASlash() public {
        HostileListener hostile = new HostileListener(core);
        address eoaAvs = address(0xE0A);
        vm.prank(eoaAvs);
        core.registerAVS();
        vm.startPrank(ops[1].addr);
        core.allocate(address(hostile), 10_000);
        core.allocate(eoaAvs, 10_000);
        vm.stopPrank();
        for (uint256 mode = 0; mode < 3; mode++) {
            hostile.setMode(mode);
            (uint256 id,) = newTask(5);
            avs.challenge(id, evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER)));
        }
        assertApproxEq(core.slashableStake(ops[1].addr), 23.328 ether, 10, "three slashes of 10% stood");
        assertEq(stakeGwei(avs, ops[1].addr), 23.328 gwei, "and the registry followed");
    }

    function test_listenersCannotBeStarvedOfGas() public {
        (uint256 id,) = newTask(5);
        bytes memory ev = evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER));
        // Enough for the proof and the slash, not for the listeners' budgets: refused,
        // never a slash that leaves other registries behind.
        (bool ok, bytes memory ret) =
            address(avs).call{gas: 600_000}(abi.encodeCall(TaskManager.challenge, (id, ev)));
        assertFalse(ok, "starved challenge refused");
        assertEq(bytes4(ret), RestakingCore.InsufficientGasForListeners.selector, "with a clear error");
        avs.challenge(id, ev);
    }

    /// Stake that starts to leave stops counting at once, and stays slashable until it
    /// has left: a decrease queued before a task cannot carry its old weight into it.
    function test_leavingStakeStopsCountingAtOnceAndStaysSlashable() public {
        // Operator 1 lowers its allocation to half: weighed at half from this block.
        vm.prank(ops[1].addr);
        core.allocate(address(avs), 5000);
        assertEq(stakeGwei(avs, ops[1].addr), 16 gwei, "the registry weighs half at once");
        vm.roll(block.number + DELAY - 2);
        (uint256 id,) = newTask(5);
        // The decrease takes effect; the task's weight (half) is still slashable.
        vm.roll(block.number + 2);
        avs.challenge(id, evidence(equivocation(avs, 1, 0, id, RESPONSE, OTHER)));
        assertApproxEq(core.slashableStake(ops[1].addr), 30.4 ether, 1, "10% of the half allocation");

        // A staker of operator 2 queues its whole stake: the weight is gone at once,
        // the stake stays slashable until the withdrawal completes.
        uint256 half = core.sharesOf(ops[2].addr) / 2;
        vm.prank(ops[2].addr);
        core.queueWithdrawal(half);
        assertEq(stakeGwei(avs, ops[2].addr), 16 gwei, "half queued: half the weight");
        (id,) = newTask(5);
        avs.challenge(id, evidence(equivocation(avs, 2, 0, id, RESPONSE, OTHER)));
        assertApproxEq(core.slashableStake(ops[2].addr), 28.8 ether, 1, "10% of all, queued included");
    }

    function test_onlyTheCoreTellsRegistriesOfStakeChanges() public {
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotCore.selector, address(this)));
        avs.onStakeChanged(ops[0].addr);
    }

    function test_anOperatorOptsIntoBoundedAVSs() public {
        uint256 max = core.MAX_AVS_PER_OPERATOR();
        vm.startPrank(ops[0].addr);
        // Already opted into `avs`.
        for (uint256 i = 1; i < max; i++) {
            address a = address(uint160(0xA000 + i));
            vm.stopPrank();
            vm.prank(a);
            core.registerAVS();
            vm.startPrank(ops[0].addr);
            core.allocate(a, 100);
        }
        vm.stopPrank();
        address extra = address(0xAFFF);
        vm.prank(extra);
        core.registerAVS();
        vm.prank(ops[0].addr);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.TooManyAVSs.selector, ops[0].addr));
        core.allocate(extra, 100);
        assertEq(core.avsesOfOperator(ops[0].addr).length, max, "bounded");
        // Changing an existing allocation is not a new opt-in.
        vm.prank(ops[0].addr);
        core.allocate(address(avs), 5000);
        // A slash with the full set of listeners still lands.
        (uint256 id,) = newTask(5);
        avs.challenge(id, evidence(equivocation(avs, 0, 0, id, RESPONSE, OTHER)));
    }
}

/// A task manager with a chosen challenge window, to test the deploy-time bound.
contract WindowAVS is NoChallenges {
    constructor(IRestakingCore core_, uint32 window) TaskManager(Params(core_, msg.sender, 1 ether, 100, window)) {}
}
