// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRestakingCore
/// @notice What an AVS needs from the restaking layer: who is an operator, how much
/// stake an operator has allocated to it, and the power to slash and reward. Bulwark's
/// own RestakingCore implements it on the devnet; an adapter to EigenLayer or Symbiotic
/// would implement the same surface.
interface IRestakingCore {
    /// Registers the caller as an AVS.
    function registerAVS() external;

    /// Whether `operator` is a registered operator.
    function isOperator(address operator) external view returns (bool);

    /// Stake (in asset units) `operator` has allocated to `avs` now.
    function allocatedStake(address operator, address avs) external view returns (uint256);

    /// The token stake is held (and slashed) in.
    function asset() external view returns (IERC20);

    /// Blocks stake stays slashable after it starts to leave (a queued withdrawal, a
    /// lowered allocation): an AVS's challenges must land within it.
    function withdrawalDelay() external view returns (uint32);

    /// Slashes `wadFraction` (1e18 = all) of `operator`'s allocation to the calling AVS
    /// and sends the assets removed to the caller, which decides where they go; returns
    /// them. Every AVS the operator is opted into is told (`IStakeListener`) in the same
    /// transaction, so the next certificate anywhere weighs the slashed stake.
    function slash(address operator, uint256 wadFraction) external returns (uint256 slashed);

    /// Pays `amount` of `token` for `epoch` to `operator` and its stakers in the name of
    /// `avs`: the operator keeps its commission, its active shares the rest. The caller
    /// is `avs` or the rewards submitter it named, and must have approved the core.
    function fundRewards(address avs, address operator, address token, uint256 amount, uint64 epoch) external;

    /// Names the contract that may fund rewards in the calling AVS's name (its rewards
    /// distributor), so the AVS itself needs no token code.
    function setRewardsSubmitter(address submitter) external;
}

/// @notice What an AVS implements to hear that an operator's stake changed (a slash,
/// by this AVS or any other). The core calls it with a fixed gas budget and ignores a
/// failure, so a faulty AVS cannot stop a slash.
interface IStakeListener {
    /// `operator`'s stake in the core changed; re-read it.
    function onStakeChanged(address operator) external;
}
