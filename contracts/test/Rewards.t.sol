// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture} from "./utils/AVSFixture.sol";
import {LiquidStakingToken} from "../src/core/LiquidStakingToken.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TaskManager} from "../src/avs/TaskManager.sol";
import {RewardsDistributor} from "../src/avs/RewardsDistributor.sol";

/// Rewards per epoch: split by the stake that signed the epoch's certificates (or by
/// stake), proven from the certificates' recorded non-signers, paid through the core
/// to each operator and its stakers; every claim an attacker could forge is refused.
contract RewardsTest is AVSFixture {
    uint32 internal constant EPOCH = 20;
    bytes internal constant RESPONSE = "price=314159";
    address internal constant STRANGER = address(0x5778);

    LiquidStakingToken internal reward;
    RewardsDistributor internal rewards;

    // Epoch 5 (blocks 100..119): task 0 signed by all four, task 1 without operator 3.
    uint256[] internal tasks0;
    uint256[] internal tasks1;
    address[][] internal absent;

    function setUp() public {
        deployCore();
        avs.setRewardEpochBlocks(EPOCH);
        addOperators(4, 32 ether);
        rewards = avs.rewards();
        reward = new LiquidStakingToken(address(this));
        reward.mint(address(this), 1_000_000 ether);
        reward.approve(address(rewards), type(uint256).max);
        vm.roll(block.number + 1);
        answer(new bool[](4));
        bool[] memory without3 = new bool[](4);
        without3[3] = true;
        answer(without3);
    }

    function answer(bool[] memory out) internal returns (uint256 id) {
        id = avs.createTask("input", THRESHOLD, 5);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        avs.respondToTask(id, RESPONSE, certify(avs, avs.taskResponseMessage(id, keccak256(RESPONSE)), ref, out));
    }

    function nobody() internal pure returns (address[] memory) {
        return new address[](0);
    }

    function ids(uint256 a, uint256 b) internal pure returns (uint256[] memory r) {
        r = new uint256[](2);
        (r[0], r[1]) = (a, b);
    }

    function one(uint256 a) internal pure returns (uint256[] memory r) {
        r = new uint256[](1);
        r[0] = a;
    }

    function lists(address[] memory a, address[] memory b) internal pure returns (address[][] memory r) {
        r = new address[][](2);
        (r[0], r[1]) = (a, b);
    }

    function list(address[] memory a) internal pure returns (address[][] memory r) {
        r = new address[][](1);
        r[0] = a;
    }

    function just(address a) internal pure returns (address[] memory r) {
        r = new address[](1);
        r[0] = a;
    }

    function earned(uint256 i) internal view returns (uint256) {
        return core.pendingRewards(ops[i].addr, address(reward));
    }

    function test_theEpochRecordsWhoSigned() public view {
        assertEq(avs.epochSignedStakeGwei(5), 7 * 32 gwei, "4 + 3 signers of 32");
        assertEq(avs.getTask(0).nonSignersHash, bytes32(0), "all signed: nothing stored");
        assertEq(avs.getTask(1).nonSignersHash, keccak256(abi.encode(ops[3].addr)), "operator 3 absent");
    }

    function test_splitByTheStakeThatSigned() public {
        rewards.fund(5, IERC20(address(reward)), 700 ether, RewardsDistributor.Split.SignedStake);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.EpochNotOver.selector, uint64(5), 120));
        rewards.claim(ops[0].addr, 5, ids(0, 1), lists(nobody(), just(ops[3].addr)));
        vm.roll(120);
        vm.prank(STRANGER);
        rewards.claim(ops[0].addr, 5, ids(0, 1), lists(nobody(), just(ops[3].addr)));
        rewards.claim(ops[3].addr, 5, one(0), list(nobody()));
        assertApproxEq(earned(0), 200 ether, 1e9, "two of seven signatures");
        assertApproxEq(earned(3), 100 ether, 1e9, "one of seven");
        assertEq(reward.balanceOf(STRANGER), 0, "the caller gets nothing");

        // Nothing twice.
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NothingOwed.selector, ops[0].addr, uint64(5)));
        rewards.claim(ops[0].addr, 5, ids(0, 1), lists(nobody(), just(ops[3].addr)));
        // A top-up after the epoch is shared the same way.
        rewards.fund(5, IERC20(address(reward)), 70 ether, RewardsDistributor.Split.SignedStake);
        rewards.claim(ops[0].addr, 5, ids(0, 1), lists(nobody(), just(ops[3].addr)));
        assertApproxEq(earned(0), 220 ether, 1e9, "two sevenths of the top-up");
        vm.expectRevert(
            abi.encodeWithSelector(
                RewardsDistributor.PotMismatch.selector,
                uint64(5),
                address(reward),
                RewardsDistributor.Split.SignedStake
            )
        );
        rewards.fund(5, IERC20(address(reward)), 1, RewardsDistributor.Split.Stake);
    }

    function test_aPartialClaimIsToppedUpByTheFullOne() public {
        rewards.fund(5, IERC20(address(reward)), 700 ether, RewardsDistributor.Split.SignedStake);
        vm.roll(120);
        // A hostile caller claims with one task left out: the operator loses nothing.
        vm.prank(STRANGER);
        rewards.claim(ops[1].addr, 5, one(0), list(nobody()));
        assertApproxEq(earned(1), 100 ether, 1e9, "one task");
        rewards.claim(ops[1].addr, 5, ids(0, 1), lists(nobody(), just(ops[3].addr)));
        assertApproxEq(earned(1), 200 ether, 1e9, "both, once");
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NothingOwed.selector, ops[1].addr, uint64(5)));
        rewards.claim(ops[1].addr, 5, one(1), list(just(ops[3].addr)));
    }

    function test_forgedClaimsAreRefused() public {
        rewards.fund(5, IERC20(address(reward)), 700 ether, RewardsDistributor.Split.SignedStake);
        vm.roll(120);
        address op3 = ops[3].addr;
        // Operator 3 did not sign task 1: hiding it from the list is caught...
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NonSignersMismatch.selector, 1));
        rewards.claim(op3, 5, ids(0, 1), lists(nobody(), nobody()));
        // ...so is naming another non-signer, and the truth shows it did not sign.
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NonSignersMismatch.selector, 1));
        rewards.claim(op3, 5, ids(0, 1), lists(nobody(), just(ops[2].addr)));
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.DidNotSign.selector, 1, op3));
        rewards.claim(op3, 5, ids(0, 1), lists(nobody(), just(op3)));
        // A task counted twice, out of order, or of another epoch.
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TasksNotAscending.selector, 0));
        rewards.claim(ops[0].addr, 5, ids(0, 0), lists(nobody(), nobody()));
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TasksNotAscending.selector, 0));
        rewards.claim(ops[0].addr, 5, ids(1, 0), lists(just(op3), nobody()));
        vm.roll(140);
        uint256 late = answer(new bool[](4));
        rewards.fund(6, IERC20(address(reward)), 1 ether, RewardsDistributor.Split.SignedStake);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TaskNotInEpoch.selector, late, uint64(5)));
        rewards.claim(ops[0].addr, 5, one(late), list(nobody()));
        // A task never answered; a stranger who never registered; mismatched lists.
        uint256 open = avs.createTask("input", THRESHOLD, 5);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TaskNotAnswered.selector, open));
        rewards.claim(ops[0].addr, 5, one(open), list(nobody()));
        vm.expectRevert();
        rewards.claim(STRANGER, 5, one(0), list(nobody()));
        vm.expectRevert(RewardsDistributor.LengthMismatch.selector);
        rewards.claim(ops[0].addr, 5, ids(0, 1), list(nobody()));
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NotFunded.selector, uint64(4)));
        rewards.claim(ops[0].addr, 4, one(0), list(nobody()));
        // Only the AVS's owner funds.
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.NotAVSOwner.selector, STRANGER));
        rewards.fund(7, IERC20(address(reward)), 1, RewardsDistributor.Split.SignedStake);
        vm.expectRevert(RewardsDistributor.InvalidFunding.selector);
        rewards.fund(7, IERC20(address(reward)), 0, RewardsDistributor.Split.SignedStake);
    }

    function test_splitByStake() public {
        // Operator 0 holds twice the stake of each other at the epoch's last block.
        token.mint(ops[0].addr, 32 ether);
        vm.startPrank(ops[0].addr);
        token.approve(address(core), 32 ether);
        core.deposit(32 ether);
        vm.stopPrank();
        avs.syncStakes(one0());
        rewards.fund(5, IERC20(address(reward)), 500 ether, RewardsDistributor.Split.Stake);
        vm.roll(120);
        vm.expectRevert(RewardsDistributor.TasksNotUsed.selector);
        rewards.claim(ops[0].addr, 5, one(0), list(nobody()));
        for (uint256 i = 0; i < 4; i++) {
            rewards.claim(ops[i].addr, 5, new uint256[](0), new address[][](0));
        }
        assertApproxEq(earned(0), 200 ether, 1e9, "64 of 160");
        assertApproxEq(earned(3), 100 ether, 1e9, "32 of 160, signed or not");
        assertLe(rewards.epochPot(5).paid, 500 ether, "never more than funded");
    }

    function one0() internal view returns (address[] memory r) {
        r = new address[](1);
        r[0] = ops[0].addr;
    }

    function test_theEpochLengthIsFixedOnceTasksExist() public {
        vm.expectRevert(TaskManager.RewardEpochFixed.selector);
        avs.setRewardEpochBlocks(10);
    }

    /// However the signers of a few tasks are chosen, and whoever claims what, the
    /// operators together are never paid more than the epoch's funds, and each one
    /// who claims its whole record gets its exact share (rounded down).
    function testFuzz_claimsNeverExceedTheFunds(uint8 pattern0, uint8 pattern1, uint256 seed) public {
        // Within what the test holds (1e24 minted in setUp).
        uint256 amount = 1e6 + seed % (1e24 - 1e6);
        vm.roll(200); // epoch 10
        bool[][] memory outs = new bool[][](2);
        for (uint256 t = 0; t < 2; t++) {
            uint8 p = t == 0 ? pattern0 : pattern1;
            outs[t] = new bool[](4);
            // At most one absent per task (threshold 60% of four equal stakes).
            if (p % 5 < 4) outs[t][p % 5] = true;
            answer(outs[t]);
        }
        rewards.fund(10, IERC20(address(reward)), amount, RewardsDistributor.Split.SignedStake);
        vm.roll(220);
        uint256 total;
        for (uint256 i = 0; i < 4; i++) {
            (uint256[] memory mine, address[][] memory ns) = record(i, outs);
            if (mine.length == 0) continue;
            rewards.claim(ops[i].addr, 10, mine, ns);
            total += earned(i);
        }
        assertLe(total, amount, "never more than funded");
        assertGe(total + 4, amount, "all of it, less rounding");
    }

    /// Operator `i`'s signed tasks 2 and 3 (epoch 10) with their non-signers.
    function record(uint256 i, bool[][] memory outs)
        internal
        view
        returns (uint256[] memory mine, address[][] memory ns)
    {
        uint256 n;
        for (uint256 t = 0; t < 2; t++) {
            if (!outs[t][i]) n++;
        }
        mine = new uint256[](n);
        ns = new address[][](n);
        uint256 k;
        for (uint256 t = 0; t < 2; t++) {
            if (outs[t][i]) continue;
            mine[k] = 2 + t;
            address[] memory a = new address[](0);
            for (uint256 j = 0; j < 4; j++) {
                if (outs[t][j]) a = just(ops[j].addr);
            }
            ns[k] = a;
            k++;
        }
    }
}
