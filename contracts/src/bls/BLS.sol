// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title BLS
/// @notice BLS12-381 over the EIP-2537 precompiles, for the "min-sig" ciphersuite Bulwark
/// uses off-chain (bulwark-crypto): signatures in G1, public keys in G2,
/// `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_`.
/// @dev Points are structs whose memory layout is exactly the EIP-2537 encoding: every
/// base-field element is two words, the first holding 16 zero bytes and the top 16 bytes
/// of the 48-byte big-endian value, the second its low 32 bytes; an Fp2 element is c0
/// then c1. A struct pointer can therefore be handed to a precompile as is.
///
/// Every precompile call forwards all remaining gas (`gas()`) and never a hard-coded
/// price: prices change by hard fork (Osaka's EIP-7883 raised MODEXP's minimum from 200
/// to 500), and a call given last fork's price fails on the next. A call that fails
/// reverts with `PrecompileFailed(precompile)`, never a silent `false`: with all gas
/// forwarded, running out of gas and refusing a point look alike, and a refusal must
/// not pass for a verdict such as "this signature is invalid".
///
/// # Security
/// A precompile that refuses its input consumes all the gas it was given (EIP-2537),
/// here 63/64 of what the caller had left. So that malformed calldata costs its sender
/// little and says what is wrong, `checkEncoding` rejects the cheap-to-spot cases
/// first (a coordinate that is not a canonical field element, `InvalidFieldElement`);
/// a point with canonical coordinates that is off the curve or outside the subgroup is
/// still refused only by the precompile (`PrecompileFailed`), at the sender's expense.
/// Only the sender pays: the revert leaves no state behind.
library BLS {
    struct G1Point {
        uint256 xHi;
        uint256 xLo;
        uint256 yHi;
        uint256 yLo;
    }

    struct G2Point {
        uint256 x0Hi;
        uint256 x0Lo;
        uint256 x1Hi;
        uint256 x1Lo;
        uint256 y0Hi;
        uint256 y0Lo;
        uint256 y1Hi;
        uint256 y1Lo;
    }

    /// A precompile failed: it refused its input (a point off the curve or outside the
    /// subgroup) or ran out of gas.
    error PrecompileFailed(uint256 precompile);
    /// A coordinate that is not a canonical base-field element: its top 16 bytes are
    /// not zero, or its value is not below p.
    error InvalidFieldElement(uint256 hi, uint256 lo);
    /// A domain separation tag longer than 255 bytes.
    error DomainTooLong(uint256 length);
    /// A point encoding of the wrong length.
    error BadEncodingLength(uint256 expected, uint256 got);

    uint256 internal constant MODEXP = 0x05;
    uint256 internal constant G1ADD = 0x0b;
    uint256 internal constant G1MSM = 0x0c;
    uint256 internal constant G2ADD = 0x0d;
    uint256 internal constant G2MSM = 0x0e;
    uint256 internal constant PAIRING = 0x0f;
    uint256 internal constant MAP_FP_TO_G1 = 0x10;
    uint256 internal constant SHA256 = 0x02;

    /// The base-field modulus p, split as the EIP-2537 words are.
    uint256 internal constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
    /// (p - 1) / 2: a y-coordinate above it is the "larger" root, flagged in compression.
    uint256 internal constant HALF_HI = 0xd0088f51cbff34d258dd3db21a5d66b;
    uint256 internal constant HALF_LO = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;

    /// Tag of ordinary signatures (IETF min-sig, proof-of-possession scheme).
    bytes internal constant SIGNATURE_DST = "BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_";
    /// Tag of proofs of possession.
    bytes internal constant POP_DST = "BLS_POP_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_";

    /// The G2 generator, negated: verification checks e(sig, -g2) * e(H(m), pk) == 1.
    function negG2Generator() internal pure returns (G2Point memory) {
        return G2Point(
            0x024aa2b2f08f0a91260805272dc51051,
            0xc6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8,
            0x13e02b6052719f607dacd3a088274f65,
            0x596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e,
            0x0d1b3cc2c7027888be51d9ef691d77bc,
            0xb679afda66c73f17f9ee3837a55024f78c71363275a75d75d86bab79f74782aa,
            0x13fa4d4a0ad8b1ce186ed5061789213d,
            0x993923066dddaf1040bc3ff59f825c78df74f2d75467e25e0f55f8a00fa030ed
        );
    }

    /// a + b in G1 (on-curve checked by the precompile, no subgroup check).
    function add(G1Point memory a, G1Point memory b) internal view returns (G1Point memory r) {
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, a, 128)
            mcopy(add(buf, 128), b, 128)
            ok := staticcall(gas(), G1ADD, buf, 256, r, 128)
        }
        if (!ok) revert PrecompileFailed(G1ADD);
    }

    /// a + b in G2 (on-curve checked by the precompile, no subgroup check).
    function add(G2Point memory a, G2Point memory b) internal view returns (G2Point memory r) {
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, a, 256)
            mcopy(add(buf, 256), b, 256)
            ok := staticcall(gas(), G2ADD, buf, 512, r, 256)
        }
        if (!ok) revert PrecompileFailed(G2ADD);
    }

    /// sum(scalars[i] * points[i]) in G1 (G1MSM). The precompile checks every point is on
    /// the curve and in the subgroup, so this also validates untrusted points.
    function msm(G1Point[] memory points, uint256[] memory scalars) internal view returns (G1Point memory r) {
        if (points.length != scalars.length || points.length == 0) revert BadEncodingLength(points.length, scalars.length);
        bytes memory input = new bytes(points.length * 160);
        for (uint256 i = 0; i < points.length; i++) {
            G1Point memory p = points[i];
            uint256 s = scalars[i];
            assembly ("memory-safe") {
                let dst := add(add(input, 32), mul(i, 160))
                mcopy(dst, p, 128)
                mstore(add(dst, 128), s)
            }
        }
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), G1MSM, add(input, 32), mload(input), r, 128)
        }
        if (!ok) revert PrecompileFailed(G1MSM);
    }

    /// sum(scalars[i] * points[i]) in G2 (G2MSM), with the same checks.
    function msm(G2Point[] memory points, uint256[] memory scalars) internal view returns (G2Point memory r) {
        if (points.length != scalars.length || points.length == 0) revert BadEncodingLength(points.length, scalars.length);
        bytes memory input = new bytes(points.length * 288);
        for (uint256 i = 0; i < points.length; i++) {
            G2Point memory p = points[i];
            uint256 s = scalars[i];
            assembly ("memory-safe") {
                let dst := add(add(input, 32), mul(i, 288))
                mcopy(dst, p, 256)
                mstore(add(dst, 256), s)
            }
        }
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), G2MSM, add(input, 32), mload(input), r, 256)
        }
        if (!ok) revert PrecompileFailed(G2MSM);
    }

    /// Whether `p` is a point of G1's prime-order subgroup (identity excluded): an MSM
    /// by 1 succeeds only for on-curve subgroup points (one G1MSM, 12,000 gas on Prague).
    /// @dev A `false` from the precompile may also mean it ran out of gas, and a refused
    /// point consumes all gas forwarded: do not call this in a loop over untrusted
    /// points, and never treat `false` as evidence against anyone.
    function isValid(G1Point memory p) internal view returns (bool ok) {
        if ((p.xHi | p.xLo | p.yHi | p.yLo) == 0 || !_isCanonical(p.xHi, p.xLo) || !_isCanonical(p.yHi, p.yLo)) {
            return false;
        }
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, p, 128)
            mstore(add(buf, 128), 1)
            ok := staticcall(gas(), G1MSM, buf, 160, buf, 128)
        }
    }

    /// Whether `p` is a point of G2's prime-order subgroup (identity excluded), by a
    /// G2MSM by 1 (22,500 gas on Prague). The same caveats as for G1.
    function isValid(G2Point memory p) internal view returns (bool ok) {
        if (isZero(p) || !_isCanonical(p)) return false;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, p, 256)
            mstore(add(buf, 256), 1)
            ok := staticcall(gas(), G2MSM, buf, 288, buf, 256)
        }
    }

    /// Reverts with `InvalidFieldElement` unless every coordinate of `p` is a canonical
    /// base-field element, the check that costs a few comparisons instead of a burnt
    /// precompile call. It does not check the curve or the subgroup.
    function checkEncoding(G1Point memory p) internal pure {
        _checkFp(p.xHi, p.xLo);
        _checkFp(p.yHi, p.yLo);
    }

    /// `checkEncoding` for a G2 point: all four coordinates.
    function checkEncoding(G2Point memory p) internal pure {
        _checkFp(p.x0Hi, p.x0Lo);
        _checkFp(p.x1Hi, p.x1Lo);
        _checkFp(p.y0Hi, p.y0Lo);
        _checkFp(p.y1Hi, p.y1Lo);
    }

    /// -a in G2: each coordinate of y becomes p - y (the identity stays the identity).
    function neg(G2Point memory a) internal pure returns (G2Point memory r) {
        r = G2Point(a.x0Hi, a.x0Lo, a.x1Hi, a.x1Lo, 0, 0, 0, 0);
        if (isZero(a)) return r;
        (r.y0Hi, r.y0Lo) = _negFp(a.y0Hi, a.y0Lo);
        (r.y1Hi, r.y1Lo) = _negFp(a.y1Hi, a.y1Lo);
    }

    /// Whether `a` is the all-zero encoding, EIP-2537's point at infinity.
    function isZero(G2Point memory a) internal pure returns (bool) {
        return (a.x0Hi | a.x0Lo | a.x1Hi | a.x1Lo | a.y0Hi | a.y0Lo | a.y1Hi | a.y1Lo) == 0;
    }

    /// e(a1, b1) * e(a2, b2) == 1. Reverts, never answers `false`, when a point is not
    /// a valid encoding (`InvalidFieldElement`), or is off the curve or outside its
    /// subgroup (`PrecompileFailed(PAIRING)`, the precompile checks both), or the
    /// precompile runs out of gas: `false` always means a pairing was computed.
    function pairing2(G1Point memory a1, G2Point memory b1, G1Point memory a2, G2Point memory b2)
        internal
        view
        returns (bool result)
    {
        checkEncoding(a1);
        checkEncoding(b1);
        checkEncoding(a2);
        checkEncoding(b2);
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, a1, 128)
            mcopy(add(buf, 128), b1, 256)
            mcopy(add(buf, 384), a2, 128)
            mcopy(add(buf, 512), b2, 256)
            ok := staticcall(gas(), PAIRING, buf, 768, buf, 32)
            result := eq(mload(buf), 1)
        }
        if (!ok) revert PrecompileFailed(PAIRING);
    }

    /// Whether `signature` is a valid signature of `message` under `dst` by `publicKey`;
    /// reverts on points that are not valid encodings (see `pairing2`).
    function verify(bytes memory message, bytes memory dst, G1Point memory signature, G2Point memory publicKey)
        internal
        view
        returns (bool)
    {
        return pairing2(signature, negG2Generator(), hashToG1(message, dst), publicKey);
    }

    /// Whether `proof` proves possession of `publicKey` for `binding`: a signature, under
    /// the POP tag, of the key's 96-byte compressed encoding followed by `binding` (as
    /// bulwark-crypto's `ProofOfPossession::message` builds it). The binding is what the
    /// proof is for (OperatorRegistry: chain, registry and operator), so a proof copied
    /// from one registration does not serve another.
    function verifyPossession(G2Point memory publicKey, G1Point memory proof, bytes memory binding)
        internal
        view
        returns (bool)
    {
        if (isZero(publicKey)) return false;
        return verify(bytes.concat(compress(publicKey), binding), POP_DST, proof, publicKey);
    }

    /// The ZCash-format compressed encoding of a G2 point: x.c1 || x.c0 with the
    /// compression flag, and the sign flag when y is the larger root.
    function compress(G2Point memory a) internal pure returns (bytes memory out) {
        bool larger = (a.y1Hi | a.y1Lo) != 0 ? _gtHalf(a.y1Hi, a.y1Lo) : _gtHalf(a.y0Hi, a.y0Lo);
        uint256 flags = larger ? 0xa0 : 0x80;
        out = abi.encodePacked(uint128(a.x1Hi), a.x1Lo, uint128(a.x0Hi), a.x0Lo);
        out[0] = bytes1(uint8(out[0]) | uint8(flags));
    }

    /// hash_to_curve for G1 as RFC 9380 and blst define it: expand_message_xmd with
    /// SHA-256 to 128 bytes, two field elements reduced mod p, each mapped with
    /// MAP_FP_TO_G1 (which clears the cofactor), then added.
    function hashToG1(bytes memory message, bytes memory dst) internal view returns (G1Point memory r) {
        uint256 messagePtr;
        assembly ("memory-safe") {
            messagePtr := add(message, 32)
        }
        hashToG1At(messagePtr, message.length, dst, r);
    }

    /// hash_to_G1 of the `messageLength` bytes at `messagePtr`, written as 128 bytes at
    /// `out`. Works in unallocated memory past the free-memory pointer and allocates
    /// nothing, which keeps the certificate check free of memory growth; `out` must be
    /// allocated memory.
    function hashToG1At(uint256 messagePtr, uint256 messageLength, bytes memory dst, G1Point memory out)
        internal
        view
    {
        if (dst.length > 255) revert DomainTooLong(dst.length);
        bytes4 failed = PrecompileFailed.selector;
        assembly ("memory-safe") {
            // Reverts with PrecompileFailed(precompile) at once: with all gas forwarded,
            // the calls after a failure would run out of gas and hide which failed.
            function fail(selector, precompile) {
                mstore(0x00, selector)
                mstore(0x04, precompile)
                revert(0x00, 0x24)
            }
            let dstLen := mload(dst)
            let buf := mload(0x40)
            // b0 = H(Z_pad(64) || msg || I2OSP(128, 2) || I2OSP(0, 1) || DST || I2OSP(len(DST), 1))
            mstore(buf, 0)
            mstore(add(buf, 32), 0)
            mcopy(add(buf, 64), messagePtr, messageLength)
            let p := add(add(buf, 64), messageLength)
            mstore8(p, 0)
            mstore8(add(p, 1), 128)
            mstore8(add(p, 2), 0)
            mcopy(add(p, 3), add(dst, 32), dstLen)
            mstore8(add(add(p, 3), dstLen), dstLen)
            let b0 := and(add(add(p, add(4, dstLen)), 31), not(31))
            if iszero(staticcall(gas(), SHA256, buf, sub(add(p, add(4, dstLen)), buf), b0, 32)) {
                fail(failed, SHA256)
            }
            // b_i = H(x || I2OSP(i, 1) || DST'), x = b0 for i = 1, else b0 xor b_(i-1)
            let q := add(b0, 32)
            mcopy(add(q, 33), add(dst, 32), dstLen)
            mstore8(add(add(q, 33), dstLen), dstLen)
            let inputLen := add(34, dstLen)
            let bs := and(add(add(q, inputLen), 31), not(31))
            mstore(q, mload(b0))
            mstore8(add(q, 32), 1)
            if iszero(staticcall(gas(), SHA256, q, inputLen, bs, 32)) { fail(failed, SHA256) }
            for { let i := 2 } lt(i, 5) { i := add(i, 1) } {
                mstore(q, xor(mload(b0), mload(add(bs, mul(sub(i, 2), 32)))))
                mstore8(add(q, 32), i)
                if iszero(staticcall(gas(), SHA256, q, inputLen, add(bs, mul(sub(i, 1), 32)), 32)) {
                    fail(failed, SHA256)
                }
            }
            // u_j = (b_(2j+1) || b_(2j+2)) mod p via MODEXP(base, 1, p), written after
            // 16 zero bytes so each is an EIP-2537 field element.
            let m := add(bs, 128)
            mstore(m, 64)
            mstore(add(m, 32), 1)
            mstore(add(m, 64), 48)
            mcopy(add(m, 96), bs, 64)
            mstore8(add(m, 160), 1)
            mstore(add(m, 161), shl(128, P_HI))
            mstore(add(m, 177), P_LO)
            let f := add(m, 224)
            mstore(f, 0)
            mstore(add(f, 64), 0)
            if iszero(staticcall(gas(), MODEXP, m, 209, add(f, 16), 48)) { fail(failed, MODEXP) }
            mcopy(add(m, 96), add(bs, 64), 64)
            if iszero(staticcall(gas(), MODEXP, m, 209, add(f, 80), 48)) { fail(failed, MODEXP) }
            // Map both and add.
            let g := add(f, 128)
            if iszero(staticcall(gas(), MAP_FP_TO_G1, f, 64, g, 128)) { fail(failed, MAP_FP_TO_G1) }
            if iszero(staticcall(gas(), MAP_FP_TO_G1, add(f, 64), 64, add(g, 128), 128)) {
                fail(failed, MAP_FP_TO_G1)
            }
            if iszero(staticcall(gas(), G1ADD, g, 256, out, 128)) { fail(failed, G1ADD) }
        }
    }

    function _negFp(uint256 hi, uint256 lo) private pure returns (uint256, uint256) {
        if ((hi | lo) == 0) return (0, 0);
        unchecked {
            uint256 borrow = lo > P_LO ? 1 : 0;
            return (P_HI - hi - borrow, P_LO - lo);
        }
    }

    /// Whether (hi, lo) encodes a value below p (which also keeps hi's top 16 bytes zero).
    function _isCanonical(uint256 hi, uint256 lo) private pure returns (bool) {
        return hi < P_HI || (hi == P_HI && lo < P_LO);
    }

    function _isCanonical(G2Point memory p) private pure returns (bool) {
        return _isCanonical(p.x0Hi, p.x0Lo) && _isCanonical(p.x1Hi, p.x1Lo) && _isCanonical(p.y0Hi, p.y0Lo)
            && _isCanonical(p.y1Hi, p.y1Lo);
    }

    function _checkFp(uint256 hi, uint256 lo) private pure {
        if (!_isCanonical(hi, lo)) revert InvalidFieldElement(hi, lo);
    }

    function _gtHalf(uint256 hi, uint256 lo) private pure returns (bool) {
        return hi > HALF_HI || (hi == HALF_HI && lo > HALF_LO);
    }

    /// Decodes a 128-byte EIP-2537 G1 encoding (no curve check: the precompiles do it).
    function g1FromBytes(bytes memory b) internal pure returns (G1Point memory p) {
        if (b.length != 128) revert BadEncodingLength(128, b.length);
        assembly ("memory-safe") {
            mcopy(p, add(b, 32), 128)
        }
    }

    /// Decodes a 256-byte EIP-2537 G2 encoding (no curve check: the precompiles do it).
    function g2FromBytes(bytes memory b) internal pure returns (G2Point memory p) {
        if (b.length != 256) revert BadEncodingLength(256, b.length);
        assembly ("memory-safe") {
            mcopy(p, add(b, 32), 256)
        }
    }

    /// keccak256 of a G2 point's encoding: how registries commit to keys cheaply.
    function hash(G2Point memory a) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(a, 256)
        }
    }
}
