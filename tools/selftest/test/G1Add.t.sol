// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {G1Add} from "../src/G1Add.sol";

/// Checks G1ADD against a value computed independently (py_ecc: 2 * G1 generator).
contract G1AddTest {
    bytes internal constant GEN =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb0000000000000000000000000000000008b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1";
    bytes internal constant TWO_GEN =
        hex"000000000000000000000000000000000572cbea904d67468808c8eb50a9450c9721db309128012543902d0ac358a62ae28f75bb8f1c7c42c39a8c5529bf0f4e00000000000000000000000000000000166a9d8cabc673a322fda673779d8e3822ba3ecb8670e461f73bb9021d5fd76a4c56d9d4cd16bd1bba86881979749d28";

    G1Add internal adder;

    function setUp() public {
        adder = new G1Add();
    }

    function test_generatorDoubled() public view {
        require(keccak256(adder.add(GEN, GEN)) == keccak256(TWO_GEN), "G + G != 2G");
    }

    function test_pointOffCurveReverts() public view {
        bytes memory bad = GEN;
        bad[127] = bytes1(uint8(bad[127]) ^ 1);
        try adder.add(bad, GEN) returns (bytes memory) {
            revert("off-curve point accepted");
        } catch (bytes memory reason) {
            require(bytes4(reason) == G1Add.PrecompileFailed.selector, "wrong revert");
        }
    }
}
