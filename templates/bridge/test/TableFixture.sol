// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "@bulwark-test/Test.sol";
import {Keys} from "@bulwark-test/Keys.sol";
import {BLS} from "@bulwark/bls/BLS.sol";
import {TableProofs} from "../contracts/TableProofs.sol";

/// Operators with keys, the tables they form, and their certificates.
abstract contract TableFixture is Test {
    struct Op {
        address addr;
        uint256 sk;
        uint64 stake;
    }

    /// Sorted by address.
    Op[] internal ops;

    /// The account of the operator with secret key `sk`.
    function operatorAddress(uint256 sk) internal pure virtual returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("op", sk)))));
    }

    function setOperators(uint256 firstSk, uint256 n) internal {
        delete ops;
        for (uint256 i = 0; i < n; i++) {
            uint256 sk = firstSk + i;
            ops.push(Op(operatorAddress(sk), sk, 32 gwei));
        }
        for (uint256 i = 1; i < ops.length; i++) {
            Op memory key = ops[i];
            uint256 j = i;
            while (j > 0 && ops[j - 1].addr > key.addr) {
                ops[j] = ops[j - 1];
                j--;
            }
            ops[j] = key;
        }
    }

    function member(uint256 i) internal view returns (TableProofs.Member memory) {
        return TableProofs.Member(ops[i].addr, ops[i].stake, Keys.publicKey(ops[i].sk));
    }

    function leaves() internal view returns (bytes32[] memory l) {
        l = new bytes32[](ops.length);
        for (uint256 i = 0; i < ops.length; i++) {
            l[i] = TableProofs.leaf(member(i));
        }
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// The root of `l` (sorted-pair hashing, an odd node carried up) and the proof of
    /// leaf `index`.
    function merkle(bytes32[] memory l, uint256 index) internal pure returns (bytes32 root, bytes32[] memory proof) {
        bytes32[] memory path = new bytes32[](64);
        uint256 depth;
        bytes32[] memory layer = l;
        while (layer.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < layer.length) path[depth++] = layer[sibling];
            bytes32[] memory next = new bytes32[]((layer.length + 1) / 2);
            for (uint256 i = 0; i < next.length; i++) {
                next[i] = 2 * i + 1 < layer.length ? hashPair(layer[2 * i], layer[2 * i + 1]) : layer[2 * i];
            }
            layer = next;
            index /= 2;
        }
        proof = new bytes32[](depth);
        for (uint256 i = 0; i < depth; i++) {
            proof[i] = path[i];
        }
        root = layer[0];
    }

    function tableOf(uint64 epoch) internal view returns (TableProofs.Table memory table) {
        uint256 sum;
        uint64 total;
        for (uint256 i = 0; i < ops.length; i++) {
            sum = addmod(sum, ops[i].sk, Keys.R);
            total += ops[i].stake;
        }
        (bytes32 root,) = merkle(leaves(), 0);
        table = TableProofs.Table(epoch, uint64(block.number), uint64(block.timestamp), root, total, Keys.publicKey(sum));
    }

    /// A certificate on `digest` by every operator not flagged in `absent`.
    function certify(bytes32 digest, bool[] memory absent)
        internal
        view
        returns (TableProofs.Certificate memory cert)
    {
        uint256 missing;
        for (uint256 i = 0; i < ops.length; i++) {
            if (absent[i]) missing++;
        }
        cert.nonSigners = new TableProofs.NonSigner[](missing);
        bytes32[] memory l = leaves();
        uint256 k;
        uint256 signers;
        for (uint256 i = 0; i < ops.length; i++) {
            if (absent[i]) {
                (, bytes32[] memory proof) = merkle(l, i);
                cert.nonSigners[k++] = TableProofs.NonSigner(member(i), proof);
            } else {
                signers = addmod(signers, ops[i].sk, Keys.R);
            }
        }
        cert.signature = Keys.sign(signers, abi.encodePacked(digest), BLS.SIGNATURE_DST);
    }

    function none() internal view returns (bool[] memory) {
        return new bool[](ops.length);
    }
}

