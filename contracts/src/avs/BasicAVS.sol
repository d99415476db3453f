// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {TaskManager} from "./TaskManager.sol";
import {NoChallenges} from "./NoChallenges.sol";

/// @title BasicAVS
/// @notice A task manager with no task-specific rules: any input, the certified response
/// stored as is, no offence of its own (equivocation is slashable, as on every AVS).
/// The devnet deploys it when an AVS brings no contract of its own, and the Rust chain
/// tests run against it.
contract BasicAVS is NoChallenges {
    mapping(uint256 taskId => bytes) public responseOf;

    constructor(Params memory p) TaskManager(p) {}

    function _onTaskResponded(uint256 taskId, bytes calldata response) internal override {
        responseOf[taskId] = response;
    }
}
