// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture, TestAVS} from "./utils/AVSFixture.sol";
import {LiquidStakingToken} from "../src/core/LiquidStakingToken.sol";
import {RestakingCore} from "../src/core/RestakingCore.sol";

/// Staking, delegation, withdrawals, allocations, slashing and rewards.
contract RestakingCoreTest is AVSFixture {
    address internal constant OPERATOR = address(0x0911);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    TestAVS internal avs2;
    LiquidStakingToken internal rewardToken;

    function setUp() public {
        deployCore();
        avs2 = new TestAVS(core, address(this), 1 ether);
        rewardToken = new LiquidStakingToken(address(this));
        vm.prank(OPERATOR);
        core.registerOperator(1000); // 10% commission
        stake(ALICE, 30 ether);
        stake(BOB, 10 ether);
    }

    function stake(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(core), amount);
        core.delegate(OPERATOR);
        core.deposit(amount);
        vm.stopPrank();
    }

    function allocate(TestAVS target, uint16 bps) internal {
        vm.prank(OPERATOR);
        core.allocate(address(target), bps);
    }

    function test_depositDelegateAndStake() public view {
        assertApproxEq(core.activeStake(OPERATOR), 40 ether, 1, "operator stake");
        assertApproxEq(core.stakeOf(ALICE), 30 ether, 1, "alice");
        assertApproxEq(core.stakeOf(BOB), 10 ether, 1, "bob");
        assertEq(token.balanceOf(address(core)), 40 ether, "core holds the deposits");
    }

    function test_undelegatedStakeMovesOnDelegation() public {
        address carol = address(0xCA401);
        token.mint(carol, 5 ether);
        vm.startPrank(carol);
        token.approve(address(core), 5 ether);
        core.deposit(5 ether);
        assertApproxEq(core.stakeOf(carol), 5 ether, 1, "undelegated stake");
        core.delegate(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.AlreadyDelegated.selector, carol, OPERATOR));
        core.delegate(OPERATOR);
        vm.stopPrank();
        assertApproxEq(core.stakeOf(carol), 5 ether, 2, "moved with the staker");
        assertApproxEq(core.activeStake(OPERATOR), 45 ether, 2, "operator gained it");
    }

    function test_slashingFallsProRataOnStakers() public {
        allocate(avs, 5000);
        vm.prank(address(avs));
        uint256 slashed = core.slash(OPERATOR, 0.5e18); // half of a 50% allocation
        assertApproxEq(slashed, 10 ether, 1, "25% of the pool");
        assertApproxEq(core.stakeOf(ALICE), 22.5 ether, 2, "alice lost 25%");
        assertApproxEq(core.stakeOf(BOB), 7.5 ether, 2, "bob lost 25%");
        assertEq(token.balanceOf(address(avs)), slashed, "slashed assets go to the AVS, which routes them");
    }

    function test_slashingBeyondAllocationIsRefused() public {
        allocate(avs, 5000);
        vm.prank(address(avs));
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.SlashExceedsAllocation.selector, 1e18 + 1));
        core.slash(OPERATOR, 1e18 + 1);
        vm.prank(address(avs2));
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NothingAllocated.selector, OPERATOR, address(avs2)));
        core.slash(OPERATOR, 0.1e18);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotAVS.selector, ALICE));
        core.slash(OPERATOR, 0.1e18);
        // The whole allocation is the most one AVS can take.
        vm.prank(address(avs));
        core.slash(OPERATOR, 1e18);
        assertApproxEq(core.slashableStake(OPERATOR), 20 ether, 1, "half left");
    }

    function test_slashesFromTwoAVSsCompound() public {
        allocate(avs, 10_000);
        allocate(avs2, 10_000);
        vm.prank(address(avs));
        core.slash(OPERATOR, 0.5e18);
        assertApproxEq(core.allocatedStake(OPERATOR, address(avs2)), 20 ether, 1, "avs2's allocation shrank");
        vm.prank(address(avs2));
        core.slash(OPERATOR, 0.5e18);
        assertApproxEq(core.slashableStake(OPERATOR), 10 ether, 1, "0.5 * 0.5 of 40");
        assertApproxEq(core.allocatedStake(OPERATOR, address(avs)), 10 ether, 1, "avs's allocation shrank");
        assertApproxEq(core.stakeOf(ALICE), 7.5 ether, 2, "alice bears both");
    }

    function test_withdrawalDuringDelayIsStillSlashed() public {
        allocate(avs, 10_000);
        vm.prank(ALICE);
        uint256 id = core.undelegate();
        assertApproxEq(core.activeStake(OPERATOR), 10 ether, 1, "queued stake no longer active");
        assertEq(core.slashableStake(OPERATOR), 40 ether, "but still slashable");

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.WithdrawalDelayNotElapsed.selector, id, block.number + DELAY));
        core.completeWithdrawal(id);

        vm.prank(address(avs));
        core.slash(OPERATOR, 0.5e18);
        vm.roll(block.number + DELAY);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotWithdrawalOwner.selector, id));
        core.completeWithdrawal(id);
        vm.prank(ALICE);
        uint256 paid = core.completeWithdrawal(id);
        assertApproxEq(paid, 15 ether, 2, "alice bore the slash");
        assertEq(token.balanceOf(ALICE), paid, "paid out");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.WithdrawalAlreadyCompleted.selector, id));
        core.completeWithdrawal(id);
    }

    function test_allocationDecreaseWaitsForTheDelay() public {
        allocate(avs, 10_000);
        allocate(avs, 1000);
        (uint16 bps, uint16 pending, uint32 effective) = core.allocation(OPERATOR, address(avs));
        assertEq(bps, 10_000, "old allocation still in force");
        assertEq(pending, 1000, "decrease pending");
        assertEq(effective, block.number + DELAY, "until the delay");
        vm.prank(address(avs));
        core.slash(OPERATOR, 0.5e18);
        assertApproxEq(core.slashableStake(OPERATOR), 20 ether, 1, "slashed at the old allocation");
        vm.roll(block.number + DELAY);
        (bps,,) = core.allocation(OPERATOR, address(avs));
        assertEq(bps, 1000, "decrease in force");
    }

    /// Funds rewards as this test contract, registered as an AVS of its own.
    function fund(uint256 amount, uint64 epoch) internal {
        rewardToken.mint(address(this), amount);
        rewardToken.approve(address(core), amount);
        core.fundRewards(address(this), OPERATOR, address(rewardToken), amount, epoch);
    }

    function test_onlyAnAVSOrItsSubmitterFundsInItsName() public {
        core.registerAVS();
        rewardToken.mint(ALICE, 1 ether);
        vm.startPrank(ALICE);
        rewardToken.approve(address(core), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotRewardsSubmitter.selector, address(this), ALICE));
        core.fundRewards(address(this), OPERATOR, address(rewardToken), 1 ether, 1);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotAVS.selector, ALICE));
        core.setRewardsSubmitter(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotAVS.selector, ALICE));
        core.fundRewards(ALICE, OPERATOR, address(rewardToken), 1 ether, 1);
        vm.stopPrank();
        core.setRewardsSubmitter(ALICE);
        vm.prank(ALICE);
        core.fundRewards(address(this), OPERATOR, address(rewardToken), 1 ether, 1);
        assertEq(core.rewardsSubmitter(address(avs)), address(avs.rewards()), "every AVS names its distributor");
    }

    function test_rewardsSplitIntoCommissionAndShares() public {
        core.registerAVS();
        fund(1000 ether, 1);
        assertEq(core.pendingRewards(OPERATOR, address(rewardToken)), 100 ether, "10% commission");
        assertApproxEq(core.pendingRewards(ALICE, address(rewardToken)), 675 ether, 1e6, "3/4 of the rest");
        assertApproxEq(core.pendingRewards(BOB, address(rewardToken)), 225 ether, 1e6, "1/4 of the rest");

        vm.prank(ALICE);
        uint256 got = core.claimRewards(address(rewardToken));
        assertEq(rewardToken.balanceOf(ALICE), got, "alice claimed");
        vm.prank(OPERATOR);
        core.claimRewards(address(rewardToken));
        assertEq(rewardToken.balanceOf(OPERATOR), 100 ether, "operator claimed its commission");

        // A staker who leaves earns nothing from later epochs; one who stays does.
        vm.prank(BOB);
        core.undelegate();
        fund(100 ether, 2);
        vm.prank(BOB);
        uint256 bobGot = core.claimRewards(address(rewardToken));
        assertApproxEq(bobGot, 225 ether, 1e6, "bob keeps epoch 1 only");
        vm.prank(ALICE);
        uint256 aliceGot = core.claimRewards(address(rewardToken));
        assertApproxEq(aliceGot, 90 ether, 1e6, "alice takes all of epoch 2's staker share");
        vm.prank(ALICE);
        assertEq(core.claimRewards(address(rewardToken)), 0, "nothing twice");
        assertLe(
            rewardToken.balanceOf(ALICE) + rewardToken.balanceOf(BOB) + rewardToken.balanceOf(OPERATOR)
                + core.pendingRewards(OPERATOR, address(rewardToken)),
            1100 ether,
            "never more than funded"
        );
    }

    function test_onlyRegisteredPartiesAct() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotOperator.selector, ALICE));
        core.allocate(address(avs), 100);
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.NotAVS.selector, ALICE));
        core.allocate(ALICE, 100);
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.InvalidBps.selector, 10_001));
        core.allocate(address(avs), 10_001);
        vm.prank(address(avs));
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.AlreadyAVS.selector, address(avs)));
        core.registerAVS();
        uint256 aliceShares = core.sharesOf(ALICE);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(RestakingCore.InsufficientShares.selector, 1e40, aliceShares));
        core.queueWithdrawal(1e40);
    }
}
