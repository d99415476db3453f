// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {LiquidStakingToken} from "../src/core/LiquidStakingToken.sol";
import {RestakingCore} from "../src/core/RestakingCore.sol";

/// Drives the restaking core with random deposits, delegations, withdrawals and slashes
/// (it is itself the slashing AVS), keeping its own books to check the core's.
contract StakingHandler is Test {
    RestakingCore public core;
    LiquidStakingToken public token;
    address[3] public stakers = [address(0x5001), address(0x5002), address(0x5003)];
    address[2] public operators = [address(0x0901), address(0x0902)];

    struct Pending {
        uint256 id;
        address staker;
        address operator;
        uint256 shares;
        bool done;
    }

    Pending[] public pending;
    mapping(address => uint256) public deposited;
    mapping(address => uint256) public withdrawn;
    /// Deposits minus the losses slashes caused this staker.
    mapping(address => int256) public entitlement;
    uint256 public slashes;

    constructor(RestakingCore core_, LiquidStakingToken token_) {
        core = core_;
        token = token_;
        core.registerAVS();
        for (uint256 i = 0; i < operators.length; i++) {
            vm.startPrank(operators[i]);
            core.registerOperator(500);
            core.allocate(address(this), uint16(5000 + 5000 * i));
            vm.stopPrank();
        }
    }

    function deposit(uint256 who, uint256 amount) external {
        address s = stakers[who % stakers.length];
        amount = 1e9 + amount % 1e24;
        token.mint(s, amount);
        vm.startPrank(s);
        token.approve(address(core), amount);
        core.deposit(amount);
        vm.stopPrank();
        deposited[s] += amount;
        entitlement[s] += int256(amount);
    }

    function delegate(uint256 who, uint256 op) external {
        address s = stakers[who % stakers.length];
        if (core.delegatedTo(s) != address(0)) return;
        vm.prank(s);
        core.delegate(operators[op % operators.length]);
    }

    function queue(uint256 who, uint256 fraction) external {
        address s = stakers[who % stakers.length];
        uint256 shares = core.sharesOf(s) * (1 + fraction % 100) / 100;
        if (shares == 0) return;
        address op = core.delegatedTo(s);
        vm.prank(s);
        uint256 id = core.queueWithdrawal(shares);
        pending.push(Pending(id, s, op, shares, false));
    }

    function undelegate(uint256 who) external {
        address s = stakers[who % stakers.length];
        address op = core.delegatedTo(s);
        if (op == address(0)) return;
        uint256 shares = core.sharesOf(s);
        vm.prank(s);
        uint256 id = core.undelegate();
        if (shares > 0) pending.push(Pending(id, s, op, shares, false));
    }

    function complete(uint256 index, uint256 wait) external {
        if (pending.length == 0) return;
        Pending storage p = pending[index % pending.length];
        if (p.done) return;
        vm.roll(block.number + wait % (2 * core.withdrawalDelay()));
        vm.prank(p.staker);
        try core.completeWithdrawal(p.id) returns (uint256 assets) {
            p.done = true;
            withdrawn[p.staker] += assets;
        } catch {}
    }

    function slash(uint256 op, uint256 wad) external {
        address o = operators[op % operators.length];
        wad = 1 + wad % 1e18;
        uint256[3] memory before;
        for (uint256 i = 0; i < stakers.length; i++) {
            before[i] = valueIn(stakers[i], o);
        }
        core.slash(o, wad);
        slashes++;
        for (uint256 i = 0; i < stakers.length; i++) {
            entitlement[stakers[i]] -= int256(before[i] - valueIn(stakers[i], o));
        }
    }

    /// What `staker` holds in `operator`'s pool: active shares and undone withdrawals.
    function valueIn(address staker, address operator) public view returns (uint256 value) {
        (uint256 assets, uint256 shares,) = core.poolOf(operator);
        uint256 held;
        if (core.delegatedTo(staker) == operator) held = core.sharesOf(staker);
        for (uint256 i = 0; i < pending.length; i++) {
            Pending storage p = pending[i];
            if (!p.done && p.staker == staker && p.operator == operator) held += p.shares;
        }
        return held * (assets + 1) / (shares + 1e3);
    }

    function stakerCount() external pure returns (uint256) {
        return 3;
    }
}

/// Share accounting invariants: the core holds exactly the assets its pools record, is
/// always solvent to its stakers, and no staker takes out more than it put in minus
/// what slashes took.
contract RestakingInvariantsTest is Test {
    StakingHandler internal handler;
    RestakingCore internal core;
    LiquidStakingToken internal token;

    function setUp() public {
        token = new LiquidStakingToken(address(this));
        core = new RestakingCore(token, 5);
        handler = new StakingHandler(core, token);
        token.transferOwnership(address(handler));
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function poolAssets() internal view returns (uint256 total) {
        address[3] memory pools = [address(0), handler.operators(0), handler.operators(1)];
        for (uint256 i = 0; i < pools.length; i++) {
            (uint256 assets,,) = core.poolOf(pools[i]);
            total += assets;
        }
    }

    function invariant_balanceEqualsPoolAssets() public view {
        assertEq(token.balanceOf(address(core)), poolAssets(), "core balance != sum of pool assets");
    }

    function invariant_solventToStakers() public view {
        uint256 claims;
        address[3] memory pools = [address(0), handler.operators(0), handler.operators(1)];
        for (uint256 i = 0; i < 3; i++) {
            for (uint256 j = 0; j < pools.length; j++) {
                claims += handler.valueIn(handler.stakers(i), pools[j]);
            }
        }
        assertLe(claims, poolAssets(), "stakers' claims exceed the assets");
    }

    function invariant_noStakerWithdrawsMoreThanDepositedMinusSlashes() public view {
        uint256 totalWithdrawn;
        uint256 totalDeposited;
        for (uint256 i = 0; i < 3; i++) {
            address s = handler.stakers(i);
            totalWithdrawn += handler.withdrawn(s);
            totalDeposited += handler.deposited(s);
            // Every conversion rounds down, and the dust stays in the pool, where it belongs
            // to whoever still holds shares: one staker may take out a few wei more than it
            // put in, paid by the others' rounding, never by the core.
            assertLe(handler.withdrawn(s), handler.deposited(s) + 1e6, "withdrew more than deposited");
            int256 bound = handler.entitlement(s);
            // Rounding: a few wei per operation at most.
            assertTrue(int256(handler.withdrawn(s)) <= bound + 1e6, "withdrew more than deposits minus slashes");
        }
        // Taken together, stakers can never take out more than they put in: dust only moves
        // between them.
        assertLe(totalWithdrawn, totalDeposited, "stakers withdrew more than they deposited");
    }
}
