// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "../bls/BLS.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";
import {signedMessage} from "./ProofVerifier.sol";

/// @title CertificateVerifier
/// @notice Checks a stake-weighted BLS certificate: the signers held at least a
/// threshold of the registered stake at the reference block, and the aggregate
/// signature is valid for the set's aggregate key minus the non-signers' keys — one
/// pairing check however many signed.
///
/// @dev The signed message of a task response is
/// `keccak256(abi.encode(MESSAGE_TAG, block.chainid, address(avs), taskId, responseDigest))`
/// (five 32-byte words; bulwark-core builds the same bytes), hashed to G1 under the
/// `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_` tag. Chain id and AVS address stop a
/// certificate from being replayed on another chain or AVS, the task id on another task.
abstract contract CertificateVerifier is OperatorRegistry {
    /// Version tag that starts every signed task response.
    bytes32 public constant MESSAGE_TAG = "bulwark.task-response.v1";
    /// Version tag that starts every signed report (phase one of a two-phase task).
    bytes32 public constant REPORT_TAG = "bulwark.task-report.v1";
    uint256 internal constant BPS = 10_000;

    struct NonSigner {
        address operator;
        uint32 hint; // index of the operator's checkpoint at the reference block
        BLS.G2Point publicKey;
    }

    struct Certificate {
        uint32 referenceBlock;
        uint32 setHint; // index of the set checkpoint at the reference block
        BLS.G2Point aggregateKey; // the whole set's key at the reference block
        BLS.G1Point signature; // aggregate of the signers' signatures
        NonSigner[] nonSigners; // sorted by operator address, strictly ascending
    }

    /// BLS constants the assembly below needs as literals (same values as in BLS).
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// How far back (in blocks) a reference block may lie.
    uint32 public immutable referenceWindow;

    error FutureReferenceBlock(uint256 referenceBlock, uint256 currentBlock);
    error StaleReferenceBlock(uint256 referenceBlock, uint256 oldestAllowed);
    error BadSetHint(uint256 hint);
    error AggregateKeyMismatch();
    error NonSignersNotSorted(address operator);
    error BadNonSignerHint(address operator, uint256 hint);
    error NonSignerKeyMismatch(address operator);
    error InvalidThreshold(uint256 thresholdBps);
    error ThresholdNotMet(uint256 signedStake, uint256 totalStake, uint256 thresholdBps);
    error InvalidSignature();

    constructor(uint32 referenceWindow_) {
        referenceWindow = referenceWindow_;
    }

    /// The 32 bytes operators sign for `responseDigest` as the answer to `taskId`.
    function taskResponseMessage(uint256 taskId, bytes32 responseDigest) public view returns (bytes32) {
        return signedMessage(MESSAGE_TAG, address(this), taskId, responseDigest);
    }

    /// The 32 bytes operators sign for a report with keccak digest `reportDigest` on
    /// `taskId` (the layout of `taskResponseMessage` under `REPORT_TAG`).
    function taskReportMessage(uint256 taskId, bytes32 reportDigest) public view returns (bytes32) {
        return signedMessage(REPORT_TAG, address(this), taskId, reportDigest);
    }

    /// Reverts unless `cert` is a valid certificate on `message` from signers holding at
    /// least `thresholdBps` of the stake at its reference block; returns the stakes (gwei).
    ///
    /// @dev Gas matters here (every task pays it), so the points never become memory
    /// structs: one 1,280-byte buffer holds the pairing input
    /// `[signature | -g2 | H(message) | signers' key]` followed by the non-signer sum and
    /// the next non-signer key, and calldata is copied straight into it.
    ///
    /// Precompiles get all remaining gas, never a price fixed in the code (see BLS), and a
    /// failing one reverts with `BLS.PrecompileFailed`, so an out-of-gas pairing can never
    /// read as `InvalidSignature`. Of the points, only the signature is unchecked
    /// calldata (the keys must match the registry's tags): its coordinates are checked
    /// before anything else costs gas (`BLS.InvalidFieldElement`); a canonical one off
    /// the curve or outside G1 makes the pairing fail, at the submitter's expense.
    function verifyCertificate(bytes32 message, uint16 thresholdBps, Certificate calldata cert)
        public
        view
        returns (uint64 signedStake, uint64 totalStake)
    {
        if (thresholdBps == 0 || thresholdBps > BPS) revert InvalidThreshold(thresholdBps);
        uint32 ref = cert.referenceBlock;
        if (ref >= block.number) revert FutureReferenceBlock(ref, block.number);
        if (block.number - ref > referenceWindow) revert StaleReferenceBlock(ref, block.number - referenceWindow);

        SetCheckpoint memory set = setHistory[cert.setHint];
        if (set.fromBlock == 0 || !_covers(set.fromBlock, set.untilBlock, ref)) revert BadSetHint(cert.setHint);

        uint256 buf;
        BLS.G1Point calldata signature = cert.signature;
        BLS.G2Point calldata aggregate = cert.aggregateKey;
        bytes32 apkHash;
        assembly ("memory-safe") {
            buf := mload(0x40)
            mstore(0x40, add(buf, 1280))
            calldatacopy(buf, signature, 128)
            calldatacopy(add(buf, 512), aggregate, 256)
            apkHash := keccak256(add(buf, 512), 256)
        }
        BLS.G1Point memory signatureCopy;
        assembly ("memory-safe") {
            signatureCopy := buf
        }
        BLS.checkEncoding(signatureCopy);
        if (bytes16(apkHash) != set.apkTag) revert AggregateKeyMismatch();
        totalStake = set.totalStakeGwei;

        uint64 missing;
        if (cert.nonSigners.length > 0) {
            missing = _sumNonSigners(cert.nonSigners, ref, buf + 768);
            // signers' key = aggregate + (-sum of non-signers)
            bool ok;
            assembly ("memory-safe") {
                let acc := add(buf, 768)
                for { let y := add(acc, 128) } lt(y, add(acc, 256)) { y := add(y, 64) } {
                    let hi := mload(y)
                    let lo := mload(add(y, 32))
                    if or(hi, lo) {
                        mstore(add(y, 32), sub(P_LO, lo))
                        mstore(y, sub(sub(P_HI, hi), gt(lo, P_LO)))
                    }
                }
                ok := staticcall(gas(), 0x0d, add(buf, 512), 512, add(buf, 512), 256)
            }
            if (!ok) revert BLS.PrecompileFailed(0x0d);
        }
        signedStake = totalStake - missing;
        if (signedStake == 0 || uint256(signedStake) * BPS < uint256(thresholdBps) * totalStake) {
            revert ThresholdNotMet(signedStake, totalStake, thresholdBps);
        }

        BLS.G2Point memory negG2 = BLS.negG2Generator();
        BLS.G1Point memory hashed;
        assembly ("memory-safe") {
            mcopy(add(buf, 128), negG2, 256)
            mstore(0x00, message)
            hashed := add(buf, 384)
        }
        BLS.hashToG1At(0x00, 32, BLS.SIGNATURE_DST, hashed);
        bool computed;
        bool valid;
        assembly ("memory-safe") {
            computed := staticcall(gas(), 0x0f, buf, 768, 0x00, 32)
            valid := eq(mload(0x00), 1)
        }
        if (!computed) revert BLS.PrecompileFailed(0x0f);
        if (!valid) revert InvalidSignature();
    }

    /// Sums the non-signers' keys into the 256 bytes at `acc` (the next 256 bytes are
    /// scratch) and their stakes, checking each against its checkpoint.
    function _sumNonSigners(NonSigner[] calldata nonSigners, uint32 ref, uint256 acc)
        private
        view
        returns (uint64 stake)
    {
        address previous = address(0);
        for (uint256 i = 0; i < nonSigners.length; i++) {
            NonSigner calldata ns = nonSigners[i];
            address operator = ns.operator;
            if (operator <= previous) revert NonSignersNotSorted(operator);
            previous = operator;
            // One SLOAD, unpacked by hand: a memory copy of the struct would grow memory
            // on every iteration.
            OperatorCheckpoint storage entry = operatorHistory[operator][ns.hint];
            uint256 word;
            assembly ("memory-safe") {
                word := sload(entry.slot)
            }
            uint32 fromBlock = uint32(word);
            // fromBlock is 0 only for an entry that does not exist (no registration at genesis).
            if (fromBlock == 0 || !_covers(fromBlock, uint32(word >> 32), ref)) {
                revert BadNonSignerHint(operator, ns.hint);
            }
            bytes16 keyTag = bytes16(uint128(word >> 128));
            BLS.G2Point calldata pk = ns.publicKey;
            bytes32 keyHash;
            bool ok = true;
            assembly ("memory-safe") {
                let slot := add(acc, mul(iszero(iszero(i)), 256))
                calldatacopy(slot, pk, 256)
                keyHash := keccak256(slot, 256)
                if i { ok := staticcall(gas(), 0x0d, acc, 512, acc, 256) }
            }
            if (keyTag == 0 || bytes16(keyHash) != keyTag) revert NonSignerKeyMismatch(operator);
            if (!ok) revert BLS.PrecompileFailed(0x0d);
            stake += uint64(word >> 64);
        }
    }

    function _covers(uint32 fromBlock, uint32 untilBlock, uint32 ref) private pure returns (bool) {
        return fromBlock <= ref && (untilBlock == 0 || ref < untilBlock);
    }
}
