// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "@bulwark/bls/BLS.sol";
import {SlashingErrors, signedMessage, MESSAGE_TAG, REPORT_TAG} from "@bulwark/avs/ProofVerifier.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @notice The errors of the oracle's slashing proof, shared by `OracleAVS` (so they
/// are in its ABI) and the verifier that raises them.
abstract contract OracleErrors is SlashingErrors {
    error NotARoundAnswer();
    error DifferentRounds();
    error InvalidOffenceSignature();
}

/// @title OracleProofVerifier
/// @notice Checks `FAR_ENDORSEMENT` proofs for the `OracleAVS` that deployed it (the
/// caller): the report and the endorsement are round answers of one round, and both
/// carry the operator's signature. The AVS then holds the deviation to the feed's
/// tolerance and the key to the registry. Kept out of the AVS so its runtime code
/// stays under the 24 KiB limit.
contract OracleProofVerifier is OracleErrors {
    /// The proof of `FAR_ENDORSEMENT`: an operator's report and its endorsement of one
    /// task, each with its signature, and the key that signed. Report and endorsement
    /// are both `abi.encode(bytes32 feed, uint64 roundId, uint256 value, uint64
    /// observedAt)`.
    struct FarEndorsement {
        uint256 chainId;
        address avs;
        uint256 taskId;
        address operator;
        BLS.G2Point publicKey;
        bytes report;
        BLS.G1Point reportSignature;
        bytes endorsed;
        BLS.G1Point endorsementSignature;
    }

    uint256 internal constant BPS = 10_000;

    /// Checks `proof` on `taskId` of the calling AVS; returns the offender, the hash of
    /// the key that signed, the feed, and how far (bps of its report, rounded up) it
    /// endorsed from its report.
    function verify(bytes calldata proof, uint256 taskId)
        external
        view
        returns (address operator, bytes32 keyHash, bytes32 feed, uint256 deviation)
    {
        FarEndorsement memory e = abi.decode(proof, (FarEndorsement));
        if (e.chainId != block.chainid || e.avs != msg.sender || e.taskId != taskId) {
            revert WrongContext(e.chainId, e.avs, e.taskId);
        }
        (bytes32 reportFeed, uint64 round, uint256 own) = _roundAnswer(e.report);
        (bytes32 endorsedFeed, uint64 endorsedRound, uint256 value) = _roundAnswer(e.endorsed);
        if (reportFeed != endorsedFeed || round != endorsedRound) revert DifferentRounds();
        _checkSigned(signedMessage(REPORT_TAG, msg.sender, taskId, keccak256(e.report)), e.reportSignature, e.publicKey);
        _checkSigned(
            signedMessage(MESSAGE_TAG, msg.sender, taskId, keccak256(e.endorsed)), e.endorsementSignature, e.publicKey
        );
        return (e.operator, BLS.hash(e.publicKey), reportFeed, deviationBps(own, value));
    }

    /// |own − endorsed| in basis points of `own`, rounded up (as the operators'
    /// `Price::deviation_bps`, so the two sides draw the line at the same place).
    function deviationBps(uint256 own, uint256 endorsed) public pure returns (uint256) {
        uint256 diff = own > endorsed ? own - endorsed : endorsed - own;
        return Math.mulDiv(diff, BPS, own, Math.Rounding.Ceil);
    }

    /// A report or answer as operators sign them: exactly 128 bytes, `(feed, roundId,
    /// value, observedAt)` with a value in 1..2^128 (operators' prices are 128-bit;
    /// abi.decode refuses a `uint64` word with high bits set).
    function _roundAnswer(bytes memory answer) private pure returns (bytes32 feed, uint64 round, uint256 value) {
        if (answer.length != 128) revert NotARoundAnswer();
        (feed, round, value,) = abi.decode(answer, (bytes32, uint64, uint256, uint64));
        if (value == 0 || value > type(uint128).max) revert NotARoundAnswer();
    }

    function _checkSigned(bytes32 message, BLS.G1Point memory signature, BLS.G2Point memory key) private view {
        if (!BLS.verify(abi.encodePacked(message), BLS.SIGNATURE_DST, signature, key)) {
            revert InvalidOffenceSignature();
        }
    }
}
