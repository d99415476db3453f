// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {BLS} from "../src/bls/BLS.sol";

/// The Solidity BLS library against vectors made by bulwark-crypto (blst), whose
/// hash-to-curve is in turn checked against py_ecc.
contract BLSTest is Test {
    string internal json;

    function setUp() public {
        json = vm.readFile("test/fixtures/bls.json");
    }

    function key(uint256 i, string memory field) internal view returns (bytes memory) {
        return vm.parseJsonBytes(json, string.concat(".keys[", vm.toString(i), "].", field));
    }

    function test_hashToG1MatchesBlst() public view {
        for (uint256 i = 0; i < 3; i++) {
            string memory base = string.concat(".hashToG1[", vm.toString(i), "]");
            bytes memory message = vm.parseJsonBytes(json, string.concat(base, ".message"));
            bytes memory expected = vm.parseJsonBytes(json, string.concat(base, ".point"));
            BLS.G1Point memory h = BLS.hashToG1(message, BLS.SIGNATURE_DST);
            assertEq(abi.encode(h), expected, "hash_to_G1 differs from blst");
        }
    }

    function test_compressMatchesBlst() public view {
        for (uint256 i = 0; i < 4; i++) {
            BLS.G2Point memory pk = BLS.g2FromBytes(key(i, "publicKey"));
            assertEq(BLS.compress(pk), key(i, "compressed"), "compressed encoding differs");
        }
    }

    function test_rustSignaturesVerify() public view {
        bytes memory message = vm.parseJsonBytes(json, ".message");
        for (uint256 i = 0; i < 4; i++) {
            BLS.G2Point memory pk = BLS.g2FromBytes(key(i, "publicKey"));
            BLS.G1Point memory sig = BLS.g1FromBytes(key(i, "signature"));
            assertTrue(BLS.verify(message, BLS.SIGNATURE_DST, sig, pk), "signature rejected");
            BLS.G2Point memory other = BLS.g2FromBytes(key((i + 1) % 4, "publicKey"));
            assertFalse(BLS.verify(message, BLS.SIGNATURE_DST, sig, other), "accepted for another key");
            assertFalse(BLS.verify(message, BLS.POP_DST, sig, pk), "accepted under another tag");
        }
    }

    /// A flipped bit yields a point that is not canonical, off the curve, outside G1 or
    /// merely wrong: each must fail, by a revert for the first three (a precompile never
    /// answers `false` for them) and by `false` for the last. Each try gets 2M gas: a
    /// refused point burns all gas forwarded to the pairing.
    function test_everyFlippedSignatureBitFails() public {
        bytes memory message = vm.parseJsonBytes(json, ".message");
        bytes memory pk = key(0, "publicKey");
        bytes memory sig = key(0, "signature");
        BLSCaller caller = new BLSCaller();
        // Every bit of the 48-byte x and y values (the padding words are zero by format).
        for (uint256 byteIndex = 16; byteIndex < 128; byteIndex++) {
            if (byteIndex >= 64 && byteIndex < 80) continue;
            for (uint256 bit = 0; bit < 8; bit += 3) {
                bytes memory bad = bytes.concat(sig);
                bad[byteIndex] = bytes1(uint8(bad[byteIndex]) ^ uint8(1 << bit));
                try caller.verify{gas: 2_000_000}(message, bad, pk) returns (bool valid) {
                    assertFalse(valid, "flipped bit accepted");
                } catch (bytes memory reason) {
                    bytes4 selector = bytes4(reason);
                    assertTrue(
                        selector == BLS.InvalidFieldElement.selector
                            || keccak256(reason) == keccak256(abi.encodeWithSelector(BLS.PrecompileFailed.selector, 0x0f)),
                        "flipped bit: unexpected revert"
                    );
                }
            }
        }
    }

    function test_nonCanonicalSignatureRevertsBeforeAnyPrecompile() public {
        bytes memory message = vm.parseJsonBytes(json, ".message");
        BLS.G1Point memory sig = BLS.g1FromBytes(key(0, "signature"));
        BLSCaller caller = new BLSCaller();
        // A set top byte (a 64-byte word where EIP-2537 wants 16 zero bytes first).
        sig.xHi |= 1 << 200;
        bytes memory encoded = abi.encode(sig);
        vm.expectRevert(abi.encodeWithSelector(BLS.InvalidFieldElement.selector, sig.xHi, sig.xLo));
        // 50k gas: less than the pairing alone costs, so nothing was burnt.
        caller.verify{gas: 50_000}(message, encoded, key(0, "publicKey"));
        // A y of exactly p.
        sig = BLS.g1FromBytes(key(0, "signature"));
        (sig.yHi, sig.yLo) = (BLS.P_HI, BLS.P_LO);
        vm.expectRevert(abi.encodeWithSelector(BLS.InvalidFieldElement.selector, BLS.P_HI, BLS.P_LO));
        caller.verify{gas: 50_000}(message, abi.encode(sig), key(0, "publicKey"));
    }

    function test_offCurveSignatureRevertsInsteadOfFalse() public {
        bytes memory message = vm.parseJsonBytes(json, ".message");
        bytes memory sig = key(0, "signature");
        sig[127] = bytes1(uint8(sig[127]) ^ 1);
        BLSCaller caller = new BLSCaller();
        vm.expectRevert(abi.encodeWithSelector(BLS.PrecompileFailed.selector, uint256(0x0f)));
        caller.verify{gas: 2_000_000}(message, sig, key(0, "publicKey"));
    }

    /// Too little gas for the pairing is a revert naming it, never "invalid signature".
    function test_outOfGasPairingRevertsInsteadOfFalse() public {
        bytes memory message = vm.parseJsonBytes(json, ".message");
        BLSCaller caller = new BLSCaller();
        assertTrue(caller.verify(message, key(0, "signature"), key(0, "publicKey")), "valid signature");
        vm.expectRevert(abi.encodeWithSelector(BLS.PrecompileFailed.selector, uint256(0x0f)));
        caller.verify{gas: 90_000}(message, key(0, "signature"), key(0, "publicKey"));
    }

    function test_everyFlippedMessageBitFails() public view {
        bytes memory message = vm.parseJsonBytes(json, ".message");
        BLS.G2Point memory pk = BLS.g2FromBytes(key(1, "publicKey"));
        BLS.G1Point memory sig = BLS.g1FromBytes(key(1, "signature"));
        for (uint256 i = 0; i < message.length * 8; i++) {
            bytes memory bad = bytes.concat(message);
            bad[i / 8] = bytes1(uint8(bad[i / 8]) ^ uint8(1 << (i % 8)));
            assertFalse(BLS.verify(bad, BLS.SIGNATURE_DST, sig, pk), "flipped message bit accepted");
        }
    }

    /// Proofs made by bulwark-crypto for the fixture's binding (chain, registry,
    /// operator) verify here over the same bytes, and for no other binding.
    function test_proofsOfPossession() public view {
        bytes memory binding = vm.parseJsonBytes(json, ".possession.binding");
        bytes memory otherOperator = bytes.concat(binding);
        otherOperator[otherOperator.length - 1] ^= 0x01;
        for (uint256 i = 0; i < 4; i++) {
            BLS.G2Point memory pk = BLS.g2FromBytes(key(i, "publicKey"));
            BLS.G1Point memory pop = BLS.g1FromBytes(key(i, "proofOfPossession"));
            assertEq(bytes.concat(BLS.compress(pk), binding), key(i, "possessionMessage"), "message differs from Rust");
            assertTrue(BLS.verifyPossession(pk, pop, binding), "valid proof rejected");
            assertFalse(BLS.verifyPossession(pk, pop, otherOperator), "proof accepted for another operator");
            assertFalse(BLS.verifyPossession(pk, pop, ""), "bound proof accepted as an unbound one");
            BLS.G1Point memory otherPop = BLS.g1FromBytes(key((i + 1) % 4, "proofOfPossession"));
            assertFalse(BLS.verifyPossession(pk, otherPop, binding), "another key's proof accepted");
            // A plain signature is not a proof of possession.
            assertFalse(BLS.verifyPossession(pk, BLS.g1FromBytes(key(i, "signature")), binding), "signature as proof");
        }
        BLS.G2Point memory zero;
        assertFalse(
            BLS.verifyPossession(zero, BLS.g1FromBytes(key(0, "proofOfPossession")), binding), "identity key"
        );
    }

    function test_aggregateMatchesAndVerifies() public view {
        BLS.G2Point memory apk = BLS.g2FromBytes(key(0, "publicKey"));
        BLS.G1Point memory asig = BLS.g1FromBytes(key(0, "signature"));
        for (uint256 i = 1; i < 4; i++) {
            apk = BLS.add(apk, BLS.g2FromBytes(key(i, "publicKey")));
            asig = BLS.add(asig, BLS.g1FromBytes(key(i, "signature")));
        }
        assertEq(abi.encode(apk), vm.parseJsonBytes(json, ".aggregatePublicKey"), "aggregate key");
        assertEq(abi.encode(asig), vm.parseJsonBytes(json, ".aggregateSignature"), "aggregate signature");
        bytes memory message = vm.parseJsonBytes(json, ".message");
        assertTrue(BLS.verify(message, BLS.SIGNATURE_DST, asig, apk), "aggregate rejected");
        // Subtracting a signer's key no longer matches the full aggregate signature.
        BLS.G2Point memory three = BLS.add(apk, BLS.neg(BLS.g2FromBytes(key(3, "publicKey"))));
        assertFalse(BLS.verify(message, BLS.SIGNATURE_DST, asig, three), "aggregate minus a key accepted");
    }

    function test_msmMatchesRepeatedAddition() public view {
        BLS.G1Point[] memory sigs = new BLS.G1Point[](3);
        BLS.G2Point[] memory pks = new BLS.G2Point[](3);
        uint256[] memory ones = new uint256[](3);
        for (uint256 i = 0; i < 3; i++) {
            sigs[i] = BLS.g1FromBytes(key(i, "signature"));
            pks[i] = BLS.g2FromBytes(key(i, "publicKey"));
            ones[i] = 1;
        }
        BLS.G1Point memory sum = BLS.add(BLS.add(sigs[0], sigs[1]), sigs[2]);
        assertEq(abi.encode(BLS.msm(sigs, ones)), abi.encode(sum), "G1 MSM by ones = sum");
        BLS.G2Point memory pkSum = BLS.add(BLS.add(pks[0], pks[1]), pks[2]);
        assertEq(abi.encode(BLS.msm(pks, ones)), abi.encode(pkSum), "G2 MSM by ones = sum");
        uint256[] memory twoZeroZero = new uint256[](3);
        twoZeroZero[0] = 2;
        assertEq(
            abi.encode(BLS.msm(sigs, twoZeroZero)), abi.encode(BLS.add(sigs[0], sigs[0])), "2P = P + P"
        );
    }

    function test_validationRejectsOffCurveAndIdentity() public view {
        BLS.G1Point memory sig = BLS.g1FromBytes(key(0, "signature"));
        BLS.G2Point memory pk = BLS.g2FromBytes(key(0, "publicKey"));
        assertTrue(BLS.isValid(sig), "valid G1 point");
        assertTrue(BLS.isValid(pk), "valid G2 point");
        sig.yLo ^= 1;
        pk.y1Lo ^= 1;
        assertFalse(BLS.isValid(sig), "off-curve G1 point");
        assertFalse(BLS.isValid(pk), "off-curve G2 point");
        // (4, sqrt(4^3 + 4)) is on the curve but, the cofactor being ~2^126, not in G1.
        BLS.G1Point memory outside = BLS.G1Point(
            0, 4, 0xa989badd40d6212b33cffc3f3763e9b, 0xc760f988c9926b26da9dd85e928483446346b8ed00e1de5d5ea93e354abe706c
        );
        BLS.G1Point memory doubled = BLS.add(outside, outside); // on the curve: G1ADD accepts it
        assertTrue(doubled.xLo != 0, "G1ADD accepted an on-curve point");
        assertFalse(BLS.isValid(outside), "on-curve point outside the subgroup");
        BLS.G1Point memory zero1;
        BLS.G2Point memory zero2;
        assertFalse(BLS.isValid(zero1), "G1 identity");
        assertFalse(BLS.isValid(zero2), "G2 identity");
    }

    function test_negationCancels() public view {
        BLS.G2Point memory pk = BLS.g2FromBytes(key(2, "publicKey"));
        BLS.G2Point memory sum = BLS.add(pk, BLS.neg(pk));
        assertTrue(BLS.isZero(sum), "pk + (-pk) is not the identity");
        assertTrue(BLS.isZero(BLS.neg(sum)), "-0 is not 0");
    }

    function test_offCurveG1AddReverts() public {
        bytes memory sig = key(0, "signature");
        sig[127] = bytes1(uint8(sig[127]) ^ 1);
        BLSCaller caller = new BLSCaller();
        vm.expectRevert(abi.encodeWithSelector(BLS.PrecompileFailed.selector, uint256(0x0b)));
        caller.addG1{gas: 1_000_000}(sig, key(1, "signature"));
    }

    function test_longDomainReverts() public {
        BLSCaller caller = new BLSCaller();
        vm.expectRevert(abi.encodeWithSelector(BLS.DomainTooLong.selector, uint256(256)));
        caller.hash("", new bytes(256));
    }
}

/// External entry points so reverts can be expected.
contract BLSCaller {
    function verify(bytes memory message, bytes memory signature, bytes memory publicKey)
        external
        view
        returns (bool)
    {
        return BLS.verify(message, BLS.SIGNATURE_DST, BLS.g1FromBytes(signature), BLS.g2FromBytes(publicKey));
    }

    function addG1(bytes memory a, bytes memory b) external view returns (BLS.G1Point memory) {
        return BLS.add(BLS.g1FromBytes(a), BLS.g1FromBytes(b));
    }

    function hash(bytes memory m, bytes memory dst) external view returns (BLS.G1Point memory) {
        return BLS.hashToG1(m, dst);
    }
}
