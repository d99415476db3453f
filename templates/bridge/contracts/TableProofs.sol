// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BLS} from "@bulwark/bls/BLS.sol";
import {TABLE_TAG} from "./BridgeMessage.sol";

/// @title TableProofs
/// @notice The operator table of the bridge AVS and what is proven against it, shared
/// by the two places that check it: the remote chain's `OperatorTable` (to execute
/// messages) and the home chain's `BridgeHome` (to commit tables from its registry and
/// to prove that a table's signers signed what they must not have).
///
/// A table is a Merkle root of its members (each operator's stake and BLS key), their
/// total stake and their aggregate key. Leaves are
/// `keccak256(keccak256(abi.encode(operator, stakeGwei, publicKey)))`, the tree hashes
/// sorted pairs (OpenZeppelin's `MerkleProof`) over the leaves in ascending operator
/// order, and a node without a sibling is carried up as it is. A certificate lists its
/// non-signers by strictly ascending address, each with its proof, so none counts twice.
library TableProofs {
    uint256 internal constant BPS = 10_000;

    struct Table {
        /// Strictly increasing: an update never goes back to an older table.
        uint64 epoch;
        /// The home chain block the table was read at.
        uint64 homeBlock;
        /// The home chain's time then: a table's age is counted from here on every
        /// chain, so no one can lengthen its life by installing it late.
        uint64 homeTimestamp;
        /// Merkle root of the members.
        bytes32 root;
        uint64 totalStakeGwei;
        BLS.G2Point aggregateKey;
    }

    struct Member {
        address operator;
        uint64 stakeGwei;
        BLS.G2Point publicKey;
    }

    struct NonSigner {
        Member member;
        bytes32[] proof;
    }

    struct Certificate {
        /// Strictly ascending by operator address.
        NonSigner[] nonSigners;
        /// The signers' aggregate signature.
        BLS.G1Point signature;
    }

    error NonSignersNotSorted(address operator);
    error NotAMember(address operator);
    error ThresholdNotMet(uint256 signedStakeGwei, uint256 totalStakeGwei, uint256 thresholdBps);
    error InvalidSignature();
    error NotASigner(address operator);

    /// A member's leaf in the table's tree.
    function leaf(Member memory m) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(m.operator, m.stakeGwei, m.publicKey))));
    }

    /// The root over `leaves` (in member order): sorted-pair hashing, an odd node
    /// carried up. Overwrites `leaves`.
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) return bytes32(0);
        while (n > 1) {
            uint256 half = (n + 1) / 2;
            for (uint256 i = 0; i < half; i++) {
                uint256 l = 2 * i;
                leaves[i] = l + 1 < n ? _hashPair(leaves[l], leaves[l + 1]) : leaves[l];
            }
            n = half;
        }
        return leaves[0];
    }

    /// What a table's operators sign to install `next` in the table contract
    /// `tableContract` on chain `chainId`, copying the registry of `homeAVS` on
    /// `homeChainId`: a signature for one table contract serves no other.
    function updateDigest(
        uint256 homeChainId,
        address homeAVS,
        uint256 chainId,
        address tableContract,
        Table memory next
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                TABLE_TAG,
                homeChainId,
                homeAVS,
                chainId,
                tableContract,
                next.epoch,
                next.homeBlock,
                next.homeTimestamp,
                next.root,
                next.totalStakeGwei,
                keccak256(abi.encode(next.aggregateKey))
            )
        );
    }

    /// Reverts unless `cert` carries `thresholdBps` of `t`'s stake signing `digest`;
    /// returns the stake that signed (gwei). A threshold of 0 checks only that the
    /// signature is the signers' (what a fraud proof needs: any signer is culpable).
    function verify(Table memory t, bytes32 digest, Certificate memory cert, uint256 thresholdBps)
        internal
        view
        returns (uint64)
    {
        BLS.G2Point memory key = t.aggregateKey;
        uint256 missing;
        address previous;
        for (uint256 i = 0; i < cert.nonSigners.length; i++) {
            NonSigner memory n = cert.nonSigners[i];
            Member memory m = n.member;
            if (i > 0 && m.operator <= previous) revert NonSignersNotSorted(m.operator);
            previous = m.operator;
            if (!MerkleProof.verify(n.proof, t.root, leaf(m))) revert NotAMember(m.operator);
            missing += m.stakeGwei;
            key = BLS.add(key, BLS.neg(m.publicKey));
        }
        // A table whose leaves sum to more than its total cannot certify (this reverts).
        uint256 signed = t.totalStakeGwei - missing;
        if (signed * BPS < uint256(t.totalStakeGwei) * thresholdBps) {
            revert ThresholdNotMet(signed, t.totalStakeGwei, thresholdBps);
        }
        if (!BLS.verify(abi.encodePacked(digest), BLS.SIGNATURE_DST, cert.signature, key)) revert InvalidSignature();
        return uint64(signed);
    }

    /// Reverts unless `m` is a member of `t` (by `proof`) that `cert` does not list as a
    /// non-signer: one whose key is in the certificate's aggregate.
    function requireSigner(Table memory t, Certificate memory cert, Member memory m, bytes32[] memory proof)
        internal
        pure
    {
        if (!MerkleProof.verify(proof, t.root, leaf(m))) revert NotAMember(m.operator);
        for (uint256 i = 0; i < cert.nonSigners.length; i++) {
            if (cert.nonSigners[i].member.operator == m.operator) revert NotASigner(m.operator);
        }
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        (bytes32 lo, bytes32 hi) = a < b ? (a, b) : (b, a);
        assembly ("memory-safe") {
            mstore(0x00, lo)
            mstore(0x20, hi)
            h := keccak256(0x00, 0x40)
        }
    }
}
