// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "@bulwark/bls/BLS.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {ForgeryVerifier} from "./ForgeryVerifier.sol";
import {Outbox} from "./Outbox.sol";
import {TableProofs} from "./TableProofs.sol";

/// @title BridgeHome
/// @notice The bridge AVS on its home chain: the operator registry and the restaking
/// core's AVS (from `TaskManager`), the outbox of messages to the remote chain, and
/// the one place where the remote chain's operator tables and what they signed are
/// held to account.
///
/// Tables. `commitTable` reads the registry as it stands (each registered operator's
/// stake and key, their total and aggregate key) into a table, epochs 1, 2, ... It
/// checks the caller's member list against the registry instead of enumerating it:
/// strictly ascending, each one registered with exactly that stake and key, the
/// stakes summing to the registry's total and the keys to its aggregate key, so the
/// list is the registered set (up to registered keys that sum to zero, which only
/// their owner can make and which carry no stake). Each table is recorded as a task the
/// contract answered itself (`_recordAnsweredTask`), so signing against it can be
/// challenged like any task, for as long as the stake behind it is slashable.
///
/// Offences (`challenge(tableTask, abi.encode(offence, proof))`, each signer once per
/// table and offence):
/// - `FORGED_DELIVERY`: a certificate of the table's members on the delivery digest of
///   a message that claims this chain's outbox as its source and that the outbox never
///   emitted (wrong contents or an unused nonce: its id has no `sentBlock`). Proof:
///   `abi.encode(Table, Message, address inbox, Certificate, Member signer, bytes32[]
///   signerProof)`; the signer must be in the table and not a non-signer.
/// - `FORGED_TABLE`: a certificate of the table's members installing, in some table
///   contract, a table this contract never committed under that epoch. Proof:
///   `abi.encode(Table, Table next, uint256 chainId, address tableContract,
///   Certificate, Member signer, bytes32[] signerProof)`.
///
/// # Security
/// - Every field of a proof is a claim: the table must hash to the task's answer, the
///   certificate must verify against it, the signer must be proven a member and not a
///   non-signer. Keys entered the registry with proofs of possession, so no one can
///   make an aggregate signature that counts an honest operator who did not sign.
/// - Honest operators sign a message, or a table update, only once it is
///   `confirmations` deep here; a reorg deeper than that could make their signature
///   look like an offence. Choose the depth as for any bridge.
/// - A table on the remote chain must expire (`maxAge`) before this contract's
///   challenge window on its task closes, or a forgery signed late under it could no
///   longer be proven.
contract BridgeHome is TaskManager {
    bytes32 public constant FORGED_DELIVERY = keccak256("bulwark.bridge.forged-delivery");
    bytes32 public constant FORGED_TABLE = keccak256("bulwark.bridge.forged-table");

    /// Messages from this chain to the remote one.
    Outbox public immutable outbox;
    /// Checks the proofs of this AVS's offences (its own contract, deployed by the
    /// constructor, so its code does not count against this one's size).
    ForgeryVerifier public immutable forgeries;
    /// The newest epoch committed (0: none yet).
    uint64 public epochs;
    /// keccak256(abi.encode(table)) of each committed epoch.
    mapping(uint64 epoch => bytes32) public tableDigest;
    /// The task each epoch was recorded as.
    mapping(uint64 epoch => uint256) public tableTask;
    /// The epoch a task records (0: not a table).
    mapping(uint256 taskId => uint64) public epochOfTask;

    event TableCommitted(uint64 indexed epoch, uint256 indexed taskId, TableProofs.Table table);

    error MembersNotSorted(address operator);
    error MemberMismatch(address operator);
    error MembersIncomplete(uint256 stakeGwei, uint256 totalStakeGwei);
    error NotATableTask(uint256 taskId);
    error MessageWasSent(bytes32 id);
    error TableWasCommitted(uint64 epoch);

    constructor(Params memory p) TaskManager(p) {
        outbox = new Outbox();
        forgeries = new ForgeryVerifier();
        slashFraction[FORGED_DELIVERY] = 0.5e18;
        slashFraction[FORGED_TABLE] = 0.5e18;
        emit SlashFractionSet(FORGED_DELIVERY, 0.5e18);
        emit SlashFractionSet(FORGED_TABLE, 0.5e18);
    }

    /// Commits the registered set, as `members` lists it (ascending by operator), as
    /// the next epoch's table; only task creators. Reverts unless `members` is exactly
    /// the registered set with its current stakes and keys.
    function commitTable(TableProofs.Member[] calldata members)
        external
        returns (uint64 epoch, TableProofs.Table memory table)
    {
        if (!isTaskCreator[msg.sender]) revert NotTaskCreator(msg.sender);
        bytes32[] memory leaves = new bytes32[](members.length);
        uint256 stake;
        BLS.G2Point memory sum;
        address previous;
        for (uint256 i = 0; i < members.length; i++) {
            TableProofs.Member memory m = members[i];
            if (i > 0 && m.operator <= previous) revert MembersNotSorted(m.operator);
            previous = m.operator;
            uint256 n = operatorHistoryLength[m.operator];
            if (n == 0) revert MemberMismatch(m.operator);
            OperatorCheckpoint storage last = operatorHistory[m.operator][n - 1];
            if (
                !isRegistered[m.operator] || last.stakeGwei != m.stakeGwei
                    || last.keyTag != bytes16(BLS.hash(m.publicKey))
            ) revert MemberMismatch(m.operator);
            stake += m.stakeGwei;
            sum = i == 0 ? m.publicKey : BLS.add(sum, m.publicKey);
            leaves[i] = TableProofs.leaf(m);
        }
        if (stake != totalStakeGwei || stake == 0 || BLS.hash(sum) != BLS.hash(aggregateKey)) {
            revert MembersIncomplete(stake, totalStakeGwei);
        }
        epoch = ++epochs;
        table = TableProofs.Table({
            epoch: epoch,
            homeBlock: uint64(block.number),
            homeTimestamp: uint64(block.timestamp),
            root: TableProofs.root(leaves),
            totalStakeGwei: uint64(stake),
            aggregateKey: sum
        });
        bytes memory encoded = abi.encode(table);
        uint256 taskId = _recordAnsweredTask(abi.encode(epoch), encoded, uint64(stake));
        tableDigest[epoch] = keccak256(encoded);
        tableTask[epoch] = taskId;
        epochOfTask[taskId] = epoch;
        emit TableCommitted(epoch, taskId, table);
    }

    /// The offences of this AVS (see the contract's notice).
    function _verifyChallenge(uint256 taskId, bytes32 offence, bytes memory proof)
        internal
        view
        override
        returns (address)
    {
        if (epochOfTask[taskId] == 0) revert NotATableTask(taskId);
        bytes32 table = tasks[taskId].responseDigest;
        if (offence == FORGED_DELIVERY) {
            (address signer, bytes32 id) = forgeries.forgedDelivery(proof, table, address(outbox));
            if (outbox.sentBlock(id) != 0) revert MessageWasSent(id);
            return signer;
        }
        if (offence == FORGED_TABLE) {
            (address signer, uint64 epoch, bytes32 digest) = forgeries.forgedTable(proof, table);
            if (tableDigest[epoch] == digest) revert TableWasCommitted(epoch);
            return signer;
        }
        revert ChallengesUnsupported();
    }

    /// The table of `epoch` as committed is in its `TableCommitted` event; this is its
    /// digest check for off-chain readers.
    function isCommitted(TableProofs.Table calldata t) external view returns (bool) {
        return t.epoch != 0 && tableDigest[t.epoch] == keccak256(abi.encode(t));
    }
}
