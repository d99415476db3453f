// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture} from "@bulwark-test/AVSFixture.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {HelloAVS} from "../contracts/HelloAVS.sol";

/// The hello AVS on the framework's test fixture: real operators, real BLS certificates.
contract HelloAVSTest is AVSFixture {
    HelloAVS internal hello;

    function setUp() public {
        deployCore();
        hello = new HelloAVS(TaskManager.Params(core, address(this), 1 ether, 100, 10));
        for (uint256 i = 0; i < 4; i++) {
            addOperator(hello, i + 1, 32 ether);
        }
        vm.roll(block.number + 1);
    }

    function test_certifiedGreetingIsStored() public {
        uint256 id = hello.createTask("Ada", 6000, 10);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        bytes memory answer = hello.greeting("Ada");
        assertEq(answer, bytes(string.concat(hello.GREETING(), ", Ada!")), "greeting format");
        bool[] memory absent = noneAbsent();
        absent[0] = true;
        hello.respondToTask(id, answer, certify(hello, hello.taskResponseMessage(id, keccak256(answer)), ref, absent));
        assertEq(bytes(hello.greetingOf(id)), answer, "stored");
        assertEq(hello.getTask(id).signedStakeGwei, 96 gwei, "3 of 4 signed");
    }

    function test_emptyAndLongNamesAreRefused() public {
        vm.expectRevert(abi.encodeWithSelector(HelloAVS.InvalidName.selector, 0));
        hello.createTask("", 6000, 10);
        bytes memory long = new bytes(65);
        vm.expectRevert(abi.encodeWithSelector(HelloAVS.InvalidName.selector, 65));
        hello.createTask(long, 6000, 10);
        hello.createTask(new bytes(64), 6000, 10);
    }

    function test_helloFitsTheCodeSizeLimit() public view {
        assertLe(address(hello).code.length, 24_576, "EIP-170: deployable on mainnet");
    }

    function test_challengesAreRefused() public {
        uint256 id = hello.createTask("Ada", 6000, 10);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        bytes memory answer = "Hi, Ada";
        hello.respondToTask(id, answer, certify(hello, hello.taskResponseMessage(id, keccak256(answer)), ref, noneAbsent()));
        bytes32 offence = "wrong greeting";
        bytes memory evidence = abi.encode(offence, abi.encode(address(this)));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.OffenceNotSlashable.selector, offence));
        hello.challenge(id, evidence);
        hello.setSlashFraction(offence, 0.5e18);
        vm.expectRevert(TaskManager.ChallengesUnsupported.selector);
        hello.challenge(id, evidence);
    }
}
