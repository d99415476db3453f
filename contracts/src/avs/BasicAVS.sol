// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IRestakingCore} from "../core/IRestakingCore.sol";
import {TaskManager} from "./TaskManager.sol";

/// @title BasicAVS
/// @notice A task manager with no task-specific rules: any input, the certified response
/// stored as is, no offence of its own (equivocation is slashable, as on every AVS). The devnet deploys it when an AVS brings no contract of
/// its own, and the Rust chain tests run against it.
contract BasicAVS is TaskManager {
    mapping(uint256 taskId => bytes) public responseOf;

    constructor(
        IRestakingCore core_,
        address owner_,
        uint256 minimumStake_,
        uint32 referenceWindow_,
        uint32 challengeWindow_
    ) TaskManager(core_, owner_, minimumStake_, referenceWindow_, challengeWindow_) {}

    function _onTaskResponded(uint256 taskId, bytes calldata response) internal override {
        responseOf[taskId] = response;
    }

    function _verifyChallenge(uint256, bytes32, bytes memory) internal pure override returns (address) {
        revert ChallengesUnsupported();
    }
}
