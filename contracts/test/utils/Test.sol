// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice The forge cheatcodes Bulwark's tests use, declared by hand: forge-std is not
/// published on npm, the only registry the build machines reach.
interface Vm {
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    function lastCallGas() external view returns (Gas memory);
    function roll(uint256 blockNumber) external;
    function warp(uint256 timestamp) external;
    function chainId(uint256 newChainId) external;
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    function cool(address target) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert() external;
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonBytesArray(string calldata json, string calldata key) external pure returns (bytes[] memory);
    function toString(uint256 value) external pure returns (string memory);
    function addr(uint256 privateKey) external pure returns (address);
    function assume(bool condition) external pure;
    function deployCode(string calldata artifactPath, bytes calldata constructorArgs) external returns (address);
    function expectEmit(address emitter) external;
}

/// @notice Base for tests: the cheatcode handle and assertions with readable failures.
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    event log_named_uint(string key, uint256 val);
    event log_string(string val);

    error AssertionFailed(string what, uint256 left, uint256 right);
    error AssertionFailedBytes(string what, bytes32 left, bytes32 right);
    error AssertionFailedBool(string what);

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert AssertionFailed(what, a, b);
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert AssertionFailedBytes(what, a, b);
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert AssertionFailed(what, uint160(a), uint160(b));
    }

    function assertEq(bytes memory a, bytes memory b, string memory what) internal pure {
        if (keccak256(a) != keccak256(b)) revert AssertionFailedBytes(what, keccak256(a), keccak256(b));
    }

    function assertTrue(bool c, string memory what) internal pure {
        if (!c) revert AssertionFailedBool(what);
    }

    function assertFalse(bool c, string memory what) internal pure {
        if (c) revert AssertionFailedBool(what);
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert AssertionFailed(what, a, b);
    }

    function assertGe(uint256 a, uint256 b, string memory what) internal pure {
        if (a < b) revert AssertionFailed(what, a, b);
    }

    /// |a - b| <= tolerance, for share arithmetic that rounds.
    function assertApproxEq(uint256 a, uint256 b, uint256 tolerance, string memory what) internal pure {
        uint256 d = a > b ? a - b : b - a;
        if (d > tolerance) revert AssertionFailed(what, a, b);
    }
}
