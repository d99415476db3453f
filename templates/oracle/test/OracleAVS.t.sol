// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture} from "@bulwark-test/AVSFixture.sol";
import {CertificateVerifier} from "@bulwark/avs/CertificateVerifier.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {OracleAVS} from "../contracts/OracleAVS.sol";

/// Rounds on the framework's fixture: real operators and BLS certificates.
contract OracleAVSTest is AVSFixture {
    OracleAVS internal oracle;
    bytes32 internal constant ETH = "ETH/USD";

    function setUp() public {
        deployCore();
        oracle = new OracleAVS(TaskManager.Params(core, address(this), 1 ether, 100, 10));
        for (uint256 i = 0; i < 4; i++) {
            addOperator(oracle, i + 1, 32 ether);
        }
        oracle.configureFeed(ETH, 3600, 50, 8);
        vm.roll(block.number + 1);
        vm.warp(1_700_000_000);
    }

    function answer(uint64 roundId, uint256 value, uint64 observedAt) internal pure returns (bytes memory) {
        return abi.encode(ETH, roundId, value, observedAt);
    }

    function land(uint64 roundId, uint256 value, uint64 observedAt) internal returns (uint256 id) {
        id = oracle.createTask(oracle.nextRoundInput(ETH), 6000, 10);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        bytes memory response = answer(roundId, value, observedAt);
        CertificateVerifier.Certificate memory cert =
            certify(oracle, oracle.taskResponseMessage(id, keccak256(response)), ref, noneAbsent());
        oracle.respondToTask(id, response, cert);
    }

    function test_roundsLandAndLatestRoundReadsThem() public {
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.NoRound.selector, ETH));
        oracle.latestRound(ETH);
        assertTrue(oracle.roundDue(ETH, 3000e8), "first round is due");
        land(1, 3000e8, uint64(block.timestamp - 2));
        (uint64 roundId, uint256 value, uint64 observedAt,, uint64 stake) = oracle.latestRound(ETH);
        assertEq(roundId, 1, "round id");
        assertEq(value, 3000e8, "value");
        assertEq(observedAt, block.timestamp - 2, "observed");
        assertEq(stake, 128 gwei, "all four signed");
        land(2, 3010e8, uint64(block.timestamp));
        (roundId, value,,,) = oracle.latestRound(ETH);
        assertEq(roundId, 2, "second round");
        assertEq(value, 3010e8, "second value");
        assertEq(oracle.getRound(ETH, 1).value, 3000e8, "history kept");
    }

    function test_heartbeatAndDeviationDecideWhenARoundIsDue() public {
        land(1, 3000e8, uint64(block.timestamp));
        assertFalse(oracle.roundDue(ETH, 3000e8), "nothing moved");
        assertFalse(oracle.roundDue(ETH, 3014e8), "0.47% is below 0.5%");
        assertTrue(oracle.roundDue(ETH, 3016e8), "0.53% up is beyond 0.5%");
        assertTrue(oracle.roundDue(ETH, 2984e8), "0.53% down is beyond 0.5%");
        vm.warp(block.timestamp + 3600);
        assertTrue(oracle.roundDue(ETH, 3000e8), "heartbeat");
    }

    function test_staleRoundsAreRefusedToConsumersWhoAskForFreshness() public {
        land(1, 3000e8, uint64(block.timestamp));
        (, uint256 value) = oracle.latestFreshRound(ETH, 60);
        assertEq(value, 3000e8, "fresh");
        vm.warp(block.timestamp + 61);
        vm.expectRevert(
            abi.encodeWithSelector(OracleAVS.StaleRound.selector, ETH, uint64(block.timestamp - 61), 60)
        );
        oracle.latestFreshRound(ETH, 60);
    }

    function test_oneRoundAtATimeAndInOrder() public {
        uint256 id = oracle.createTask(oracle.nextRoundInput(ETH), 6000, 10);
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.RoundPending.selector, ETH, id));
        oracle.createTask(abi.encode(ETH, uint64(1)), 6000, 10);
        assertFalse(oracle.roundDue(ETH, 1e8), "pending");
        // Once the open round's deadline passed, the next request may replace it.
        vm.roll(block.number + 11);
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.WrongRound.selector, ETH, uint64(1), uint64(2)));
        oracle.createTask(abi.encode(ETH, uint64(2)), 6000, 10);
        oracle.createTask(abi.encode(ETH, uint64(1)), 6000, 10);
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.UnknownFeed.selector, bytes32("BTC/USD")));
        oracle.createTask(abi.encode(bytes32("BTC/USD"), uint64(1)), 6000, 10);
    }

    function test_answersMustMatchTheRoundAndNotComeFromTheFuture() public {
        uint256 id = oracle.createTask(oracle.nextRoundInput(ETH), 6000, 10);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        bytes memory wrongRound = answer(2, 3000e8, uint64(block.timestamp));
        CertificateVerifier.Certificate memory cert =
            certify(oracle, oracle.taskResponseMessage(id, keccak256(wrongRound)), ref, noneAbsent());
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.InvalidAnswer.selector, id));
        oracle.respondToTask(id, wrongRound, cert);
        bytes memory future = answer(1, 3000e8, uint64(block.timestamp + 1));
        cert = certify(oracle, oracle.taskResponseMessage(id, keccak256(future)), ref, noneAbsent());
        vm.expectRevert(abi.encodeWithSelector(OracleAVS.InvalidAnswer.selector, id));
        oracle.respondToTask(id, future, cert);
        // Values no endorsement of could be judged (zero, beyond 128 bits) are refused.
        uint256[2] memory unjudgeable = [uint256(0), uint256(type(uint128).max) + 1];
        for (uint256 i = 0; i < 2; i++) {
            bytes memory value = answer(1, unjudgeable[i], uint64(block.timestamp));
            cert = certify(oracle, oracle.taskResponseMessage(id, keccak256(value)), ref, noneAbsent());
            vm.expectRevert(abi.encodeWithSelector(OracleAVS.InvalidAnswer.selector, id));
            oracle.respondToTask(id, value, cert);
        }
    }

    function test_onlyTheOwnerConfiguresFeeds() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert();
        oracle.configureFeed("BTC/USD", 60, 50, 8);
        vm.expectRevert(OracleAVS.InvalidFeedConfig.selector);
        oracle.configureFeed("BTC/USD", 0, 50, 8);
        oracle.configureFeed("BTC/USD", 60, 100, 8);
        assertEq(oracle.allFeeds().length, 2, "two feeds");
    }
}
