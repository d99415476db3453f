// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "../../src/bls/BLS.sol";

/// @notice BLS keys, proofs and signatures computed on-chain from small test scalars with
/// the EIP-2537 MSM precompiles, so tests can have a thousand operators without a
/// thousand-key fixture file. (Cross-implementation checks use fixtures/bls.json.)
library Keys {
    uint256 internal constant G1MSM = 0x0c;
    uint256 internal constant G2MSM = 0x0e;
    /// The order r of the BLS12-381 groups.
    uint256 internal constant R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;

    function g2Generator() internal pure returns (BLS.G2Point memory) {
        return BLS.G2Point(
            0x024aa2b2f08f0a91260805272dc51051,
            0xc6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8,
            0x13e02b6052719f607dacd3a088274f65,
            0x596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e,
            0x0ce5d527727d6e118cc9cdc6da2e351a,
            0xadfd9baa8cbdd3a76d429a695160d12c923ac9cc3baca289e193548608b82801,
            0x0606c4a02ea734cc32acd2b02bc28b99,
            0xcb3e287e85a763af267492ab572e99ab3f370d275cec1da1aaa9075ff05f79be
        );
    }

    /// sk * G2.
    function publicKey(uint256 sk) internal view returns (BLS.G2Point memory pk) {
        BLS.G2Point memory g = g2Generator();
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, g, 256)
            mstore(add(buf, 256), sk)
            ok := staticcall(gas(), G2MSM, buf, 288, pk, 256)
        }
        require(ok, "G2MSM failed");
    }

    /// sk * p in G1.
    function mul(BLS.G1Point memory p, uint256 sk) internal view returns (BLS.G1Point memory r) {
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, p, 128)
            mstore(add(buf, 128), sk)
            ok := staticcall(gas(), G1MSM, buf, 160, r, 128)
        }
        require(ok, "G1MSM failed");
    }

    function sign(uint256 sk, bytes memory message, bytes memory dst) internal view returns (BLS.G1Point memory) {
        return mul(BLS.hashToG1(message, dst), sk);
    }

    /// sk's proof of possession for `operator` registering at `registry` on this chain,
    /// with the binding written out by hand (not read from the registry) so tests check
    /// the registry's layout rather than repeat it.
    function prove(uint256 sk, address registry, address operator) internal view returns (BLS.G1Point memory) {
        bytes memory binding = abi.encodePacked(bytes32("bulwark.possession.v1"), block.chainid, registry, operator);
        return sign(sk, bytes.concat(BLS.compress(publicKey(sk)), binding), BLS.POP_DST);
    }
}
