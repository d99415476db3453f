// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// Adds two BLS12-381 G1 points with the EIP-2537 G1ADD precompile (address 0x0b).
contract G1Add {
    address internal constant G1ADD = address(0x0b);

    error PrecompileFailed();

    /// Returns a + b; each point is 128 bytes (x, y as 64-byte padded field elements).
    function add(bytes calldata a, bytes calldata b) external view returns (bytes memory sum) {
        (bool ok, bytes memory out) = G1ADD.staticcall(bytes.concat(a, b));
        if (!ok || out.length != 128) revert PrecompileFailed();
        return out;
    }
}
