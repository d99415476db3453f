// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "../bls/BLS.sol";

// Version tags of the two messages operators sign for a task (see CertificateVerifier).
bytes32 constant MESSAGE_TAG = "bulwark.task-response.v1";
bytes32 constant REPORT_TAG = "bulwark.task-report.v1";

/// The 32 bytes operators sign for `digest` on `taskId` of `avs` under `tag`:
/// `keccak256(abi.encode(tag, block.chainid, avs, taskId, digest))`.
function signedMessage(bytes32 tag, address avs, uint256 taskId, bytes32 digest) view returns (bytes32) {
    return keccak256(abi.encode(tag, block.chainid, avs, taskId, digest));
}

/// @notice The errors of slashing proofs, shared by the AVS (so they are in its ABI)
/// and by the verifiers that raise them.
abstract contract SlashingErrors {
    error WrongContext(uint256 chainId, address avs, uint256 taskId);
    error NotAnEquivocation();
    error UnknownKind(uint8 kind);
    error InvalidEquivocationSignature(bytes32 digest);
    error KeyNotRegisteredAt(address operator, uint32 referenceBlock);
}

/// @title ProofVerifier
/// @notice The BLS checks an AVS needs rarely, kept out of its runtime code: proofs of
/// possession (registration) and equivocation proofs (slashing). Every AVS deploys its
/// own from its constructor, so the code counts against the initcode limit (48 KiB),
/// not the runtime limit (24 KiB) that the certificate path and the template's own
/// logic share. Stateless and permissionless: the AVS that calls is `msg.sender`, and
/// the messages it checks are that AVS's.
contract ProofVerifier is SlashingErrors {
    /// The proof of an equivocation: two valid signatures of one operator on different
    /// responses (kind 0) or reports (kind 1) to one task. Self-contained: it names the
    /// chain, the AVS and the task, and carries the operator's key.
    struct Equivocation {
        uint256 chainId;
        address avs;
        uint256 taskId;
        uint8 kind;
        address operator;
        BLS.G2Point publicKey;
        bytes32 digestA;
        BLS.G1Point signatureA;
        bytes32 digestB;
        BLS.G1Point signatureB;
    }

    /// Whether `proof` proves possession of `publicKey` for `binding` (see BLS).
    function verifyPossession(BLS.G2Point calldata publicKey, BLS.G1Point calldata proof, bytes calldata binding)
        external
        view
        returns (bool)
    {
        return BLS.verifyPossession(publicKey, proof, binding);
    }

    /// The message a proof of possession of `publicKey` for `binding` signs.
    function possessionMessage(BLS.G2Point calldata publicKey, bytes calldata binding)
        external
        pure
        returns (bytes memory)
    {
        return bytes.concat(BLS.compress(publicKey), binding);
    }

    /// Checks an equivocation proof on `taskId` of the calling AVS; returns the
    /// offender and the hash of the key that signed (the AVS checks it is the key the
    /// operator had registered at the task's reference block). Reverts on anything
    /// else, with the reason.
    function verifyEquivocation(bytes calldata proof, uint256 taskId)
        external
        view
        returns (address operator, bytes32 keyHash)
    {
        Equivocation memory e = abi.decode(proof, (Equivocation));
        if (e.chainId != block.chainid || e.avs != msg.sender || e.taskId != taskId) {
            revert WrongContext(e.chainId, e.avs, e.taskId);
        }
        if (e.kind > 1) revert UnknownKind(e.kind);
        if (e.digestA == e.digestB) revert NotAnEquivocation();
        bytes32 tag = e.kind == 0 ? MESSAGE_TAG : REPORT_TAG;
        _checkSigned(signedMessage(tag, msg.sender, taskId, e.digestA), e.digestA, e.signatureA, e.publicKey);
        _checkSigned(signedMessage(tag, msg.sender, taskId, e.digestB), e.digestB, e.signatureB, e.publicKey);
        return (e.operator, BLS.hash(e.publicKey));
    }

    /// Whether `signature` is `publicKey`'s on the 32-byte `message` (the standard
    /// signature tag), for templates' own offences.
    function verifySignature(bytes32 message, BLS.G1Point calldata signature, BLS.G2Point calldata publicKey)
        external
        view
        returns (bool)
    {
        return BLS.verify(abi.encodePacked(message), BLS.SIGNATURE_DST, signature, publicKey);
    }

    function _checkSigned(bytes32 message, bytes32 digest, BLS.G1Point memory signature, BLS.G2Point memory key)
        private
        view
    {
        if (!BLS.verify(abi.encodePacked(message), BLS.SIGNATURE_DST, signature, key)) {
            revert InvalidEquivocationSignature(digest);
        }
    }
}
