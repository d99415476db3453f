// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {TaskManager} from "./TaskManager.sol";

/// @title NoChallenges
/// @notice For an AVS with no offence of its own: every challenge other than
/// equivocation (which the task manager checks for every AVS) is refused with
/// `ChallengesUnsupported`. Extend it instead of `TaskManager` and skip
/// `_verifyChallenge`:
///
///     contract MyAVS is NoChallenges {
///         constructor(Params memory p) TaskManager(p) {}
///     }
abstract contract NoChallenges is TaskManager {
    function _verifyChallenge(uint256, bytes32, bytes memory) internal pure override returns (address) {
        revert ChallengesUnsupported();
    }
}
