// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IRestakingCore} from "@bulwark/core/IRestakingCore.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";

/// @title HelloAVS
/// @notice The smallest AVS with rules of its own: a task is a name, the answer is the
/// greeting `Hello, <name>!`. Certificates, stake and the registry come from
/// TaskManager; this contract only says what a valid task is, what to keep of an answer,
/// and that answers cannot be challenged.
contract HelloAVS is TaskManager {
    /// Longest name a task may carry, so a greeting stays small to store.
    uint256 public constant MAX_NAME_BYTES = 64;

    mapping(uint256 taskId => string) public greetingOf;

    event Greeted(uint256 indexed taskId, string greeting);

    error InvalidName(uint256 length);

    constructor(
        IRestakingCore core_,
        address owner_,
        uint256 minimumStake_,
        uint32 referenceWindow_,
        uint32 challengeWindow_
    ) TaskManager(core_, owner_, minimumStake_, referenceWindow_, challengeWindow_) {}

    /// The greeting every honest operator returns for `name`.
    function greeting(bytes memory name) public pure returns (bytes memory) {
        return bytes.concat("Hello, ", name, "!");
    }

    function _beforeCreateTask(bytes calldata input) internal pure override {
        if (input.length == 0 || input.length > MAX_NAME_BYTES) revert InvalidName(input.length);
    }

    function _onTaskResponded(uint256 taskId, bytes calldata response) internal override {
        greetingOf[taskId] = string(response);
        emit Greeted(taskId, string(response));
    }

    /// Greetings have no offence of their own (a wrong one needs a signer list the
    /// task manager does not keep); equivocation is slashable here as on every AVS.
    function _verifyChallenge(uint256, bytes32, bytes memory) internal pure override returns (address) {
        revert ChallengesUnsupported();
    }
}
