// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {NoChallenges} from "@bulwark/avs/NoChallenges.sol";

/// @title HelloAVS
/// @notice The smallest AVS with rules of its own: a task is a name, the answer is the
/// greeting `Hello, <name>!`. Certificates, stake and the registry come from
/// TaskManager; this contract only says what a valid task is and what to keep of an
/// answer. `NoChallenges`: a greeting has no offence of its own (a wrong one needs a
/// signer list the task manager does not keep); equivocation is slashable here as on
/// every AVS.
contract HelloAVS is NoChallenges {
    /// Longest name a task may carry, so a greeting stays small to store.
    uint256 public constant MAX_NAME_BYTES = 64;
    /// The word every answer starts with (the Rust task's `GREETING` is the same).
    string public constant GREETING = "Hello";

    mapping(uint256 taskId => string) public greetingOf;

    event Greeted(uint256 indexed taskId, string greeting);

    error InvalidName(uint256 length);

    constructor(Params memory p) TaskManager(p) {}

    /// The greeting every honest operator returns for `name`.
    function greeting(bytes memory name) public pure returns (bytes memory) {
        return bytes.concat(bytes(GREETING), ", ", name, "!");
    }

    function _beforeCreateTask(bytes calldata input) internal pure override {
        if (input.length == 0 || input.length > MAX_NAME_BYTES) revert InvalidName(input.length);
    }

    function _onTaskResponded(uint256 taskId, bytes calldata response) internal override {
        greetingOf[taskId] = string(response);
        emit Greeted(taskId, string(response));
    }
}
