// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture} from "@bulwark-test/AVSFixture.sol";
import {Keys} from "@bulwark-test/Keys.sol";
import {BLS} from "@bulwark/bls/BLS.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {SlashingErrors} from "@bulwark/avs/ProofVerifier.sol";
import {OracleAVS} from "../contracts/OracleAVS.sol";
import {OracleErrors, OracleProofVerifier} from "../contracts/OracleProofVerifier.sol";

/// `FAR_ENDORSEMENT`: an operator's endorsement beyond the feed's tolerance from its
/// own signed report is slashed; everything short of that is refused.
contract OracleSlashingTest is AVSFixture {
    OracleAVS internal oracle;
    bytes32 internal constant ETH = "ETH/USD";
    bytes32 internal constant FAR = keccak256("bulwark.offence.oracle.far-endorsement.v1");

    function setUp() public {
        deployCore();
        oracle = new OracleAVS(TaskManager.Params(core, address(this), 1 ether, 100, 10));
        for (uint256 i = 0; i < 4; i++) {
            addOperator(oracle, i + 1, 32 ether);
        }
        oracle.configureFeed(ETH, 3600, 50, 8);
        oracle.setEndorsementTolerance(ETH, 100);
        vm.roll(block.number + 1);
        vm.warp(1_700_000_000);
    }

    function answer(uint64 roundId, uint256 value) internal pure returns (bytes memory) {
        return abi.encode(ETH, roundId, value, uint64(1_699_999_990));
    }

    function round() internal returns (uint256 id) {
        id = oracle.createTask(oracle.nextRoundInput(ETH), 6000, 5);
        vm.roll(block.number + 1);
    }

    /// Operator `i` reported `report` and endorsed `endorsed` for task `id`.
    function proof(uint256 i, uint256 id, bytes memory report, bytes memory endorsed)
        internal
        view
        returns (OracleProofVerifier.FarEndorsement memory e)
    {
        uint256 sk = ops[i].sk;
        e.chainId = block.chainid;
        e.avs = address(oracle);
        e.taskId = id;
        e.operator = ops[i].addr;
        e.publicKey = Keys.publicKey(sk);
        e.report = report;
        e.reportSignature =
            Keys.sign(sk, abi.encodePacked(oracle.taskReportMessage(id, keccak256(report))), BLS.SIGNATURE_DST);
        e.endorsed = endorsed;
        e.endorsementSignature =
            Keys.sign(sk, abi.encodePacked(oracle.taskResponseMessage(id, keccak256(endorsed))), BLS.SIGNATURE_DST);
    }

    function evidence(OracleProofVerifier.FarEndorsement memory e) internal pure returns (bytes memory) {
        return abi.encode(FAR, abi.encode(e));
    }

    function test_theOracleFitsTheCodeSizeLimit() public view {
        assertLe(address(oracle).code.length, 24_576, "EIP-170: deployable on mainnet");
    }

    function test_anEndorsementBeyondTheToleranceIsSlashed() public {
        uint256 id = round();
        // 3030.00000001 is 101 bps (rounded up) from 3000: beyond 100.
        bytes memory ev = evidence(proof(1, id, answer(1, 3000e8), answer(1, 3030e8 + 1)));
        oracle.challenge(id, ev);
        assertApproxEq(core.slashableStake(ops[1].addr), 30.4 ether, 1, "the default 5%");
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[1].addr, FAR));
        oracle.challenge(id, ev);
        assertEq(oracle.oracleProofVerifier().deviationBps(3000e8, 3030e8 + 1), 101, "rounded up, as operators round");
    }

    function test_everythingShortOfTheOffenceIsRefused() public {
        uint256 id = round();
        bytes memory ev;
        // Exactly at the tolerance: an honest endorsement.
        ev = evidence(proof(1, id, answer(1, 3000e8), answer(1, 3030e8)));
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.WithinTolerance.selector, 100, 100));
        oracle.challenge(id, ev);
        // Another round, another feed.
        ev = evidence(proof(1, id, answer(1, 3000e8), answer(2, 3500e8)));
        vm.expectRevert(OracleErrors.DifferentRounds.selector);
        oracle.challenge(id, ev);
        // Not a round answer: short, zero, or a value no operator could sign.
        ev = evidence(proof(1, id, hex"00", answer(1, 3500e8)));
        vm.expectRevert(OracleErrors.NotARoundAnswer.selector);
        oracle.challenge(id, ev);
        ev = evidence(proof(1, id, answer(1, 0), answer(1, 3500e8)));
        vm.expectRevert(OracleErrors.NotARoundAnswer.selector);
        oracle.challenge(id, ev);
        ev = evidence(proof(1, id, answer(1, uint256(type(uint128).max) + 1), answer(1, 3500e8)));
        vm.expectRevert(OracleErrors.NotARoundAnswer.selector);
        oracle.challenge(id, ev);
        // Someone else's report presented as operator 1's.
        OracleProofVerifier.FarEndorsement memory e = proof(1, id, answer(1, 3000e8), answer(1, 3500e8));
        e.reportSignature = proof(2, id, answer(1, 3000e8), answer(1, 3500e8)).reportSignature;
        ev = evidence(e);
        vm.expectRevert(OracleErrors.InvalidOffenceSignature.selector);
        oracle.challenge(id, ev);
        // Operator 2's messages presented under operator 1's name.
        e = proof(2, id, answer(1, 3000e8), answer(1, 3500e8));
        e.operator = ops[1].addr;
        ev = evidence(e);
        vm.expectRevert(
            abi.encodeWithSelector(SlashingErrors.KeyNotRegisteredAt.selector, ops[1].addr, oracle.getTask(id).referenceBlock)
        );
        oracle.challenge(id, ev);
        // A report signed as a response (or the other way round) proves nothing.
        e = proof(1, id, answer(1, 3000e8), answer(1, 3500e8));
        (e.reportSignature, e.endorsementSignature) = (e.endorsementSignature, e.reportSignature);
        ev = evidence(e);
        vm.expectRevert(OracleErrors.InvalidOffenceSignature.selector);
        oracle.challenge(id, ev);
        for (uint256 i = 0; i < ops.length; i++) {
            assertApproxEq(core.slashableStake(ops[i].addr), 32 ether, 1, "nobody slashed");
        }
    }

    function test_noToleranceNoOffence() public {
        oracle.configureFeed("BTC/USD", 3600, 50, 8);
        uint256 id = oracle.createTask(oracle.nextRoundInput("BTC/USD"), 6000, 5);
        vm.roll(block.number + 1);
        bytes memory report = abi.encode(bytes32("BTC/USD"), uint64(1), uint256(60_000e8), uint64(1));
        bytes memory endorsed = abi.encode(bytes32("BTC/USD"), uint64(1), uint256(90_000e8), uint64(1));
        bytes memory ev = evidence(proof(1, id, report, endorsed));
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.ToleranceNotSet.selector, bytes32("BTC/USD")));
        oracle.challenge(id, ev);
    }

    function test_aToleranceChangeNeverCatchesARoundInFlight() public {
        uint256 before = round();
        uint32 ref = oracle.getTask(before).referenceBlock;
        // Too soon after the last change.
        vm.expectRevert();
        oracle.setEndorsementTolerance(ETH, 50);
        vm.roll(block.number + oracle.slashableBlocks());
        oracle.setEndorsementTolerance(ETH, 50);
        assertEq(oracle.toleranceFor(ETH, ref), 100, "a task created before the change keeps the looser value");
        assertEq(oracle.toleranceFor(ETH, uint32(block.number)), 50, "later tasks get the new one");
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.InvalidTolerance.selector, uint16(10_001)));
        oracle.setEndorsementTolerance(ETH, 10_001);
        vm.prank(ops[0].addr);
        vm.expectRevert();
        oracle.setEndorsementTolerance(ETH, 10);
    }
}
