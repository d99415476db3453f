// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IRestakingCore} from "../core/IRestakingCore.sol";
import {CertificateVerifier} from "./CertificateVerifier.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";

/// @title TaskManager
/// @notice The base every Bulwark AVS contract extends: tasks are created with an input,
/// a reference block, a threshold and a deadline; a response is accepted with a
/// certificate before the deadline; it becomes final once its challenge window passes
/// unchallenged. The contract is the AVS's identity in the restaking core: it
/// registers there, slashes through it, and funds rewards through it.
///
/// Templates override the hooks: `_beforeCreateTask` (validate input),
/// `_onTaskResponded` (use the result), `_verifyChallenge` (check a slashing proof).
abstract contract TaskManager is CertificateVerifier, Ownable {
    using SafeERC20 for IERC20;

    enum TaskStatus {
        None,
        Open,
        Responded,
        Expired,
        Challenged
    }

    struct Task {
        bytes32 inputHash;
        uint32 referenceBlock;
        uint32 deadlineBlock;
        uint16 thresholdBps;
        TaskStatus status;
        uint32 respondedBlock;
        bytes32 responseDigest;
        uint64 signedStakeGwei;
        uint64 totalStakeGwei;
    }

    /// Blocks after a response during which it can be challenged.
    uint32 public immutable challengeWindow;
    uint256 public taskCount;
    mapping(uint256 taskId => Task) internal tasks;
    mapping(address account => bool) public isTaskCreator;

    event TaskCreated(
        uint256 indexed taskId, bytes input, uint32 referenceBlock, uint16 thresholdBps, uint32 deadlineBlock
    );
    event TaskResponded(
        uint256 indexed taskId, bytes32 responseDigest, bytes response, uint64 signedStakeGwei, uint64 totalStakeGwei
    );
    event TaskExpired(uint256 indexed taskId);
    event TaskChallenged(uint256 indexed taskId, address indexed operator, uint256 wadFraction, uint256 slashed);
    event TaskCreatorSet(address indexed account, bool allowed);

    error NotTaskCreator(address account);
    error UnknownTask(uint256 taskId);
    error TaskAlreadyResponded(uint256 taskId);
    error TaskNotOpen(uint256 taskId, TaskStatus status);
    error DeadlinePassed(uint256 taskId, uint256 deadlineBlock);
    error DeadlineNotPassed(uint256 taskId, uint256 deadlineBlock);
    error ReferenceBlockMismatch(uint256 expected, uint256 got);
    error NotChallengeable(uint256 taskId);
    error ChallengeWindowClosed(uint256 taskId);
    error ChallengesUnsupported();

    constructor(
        IRestakingCore core_,
        address owner_,
        uint256 minimumStake_,
        uint32 referenceWindow_,
        uint32 challengeWindow_
    ) OperatorRegistry(core_, minimumStake_) CertificateVerifier(referenceWindow_) Ownable(owner_) {
        challengeWindow = challengeWindow_;
        isTaskCreator[owner_] = true;
        core_.registerAVS();
    }

    /// Allows or revokes `account` to create tasks.
    function setTaskCreator(address account, bool allowed) external onlyOwner {
        isTaskCreator[account] = allowed;
        emit TaskCreatorSet(account, allowed);
    }

    /// Opens a task on `input`, to be answered within `responseBlocks` blocks by signers
    /// holding `thresholdBps` of the stake registered at the previous block.
    function createTask(bytes calldata input, uint16 thresholdBps, uint32 responseBlocks)
        external
        returns (uint256 taskId)
    {
        if (!isTaskCreator[msg.sender]) revert NotTaskCreator(msg.sender);
        if (thresholdBps == 0 || thresholdBps > BPS) revert InvalidThreshold(thresholdBps);
        _beforeCreateTask(input);
        taskId = taskCount++;
        uint32 referenceBlock = uint32(block.number - 1);
        uint32 deadline = uint32(block.number) + responseBlocks;
        tasks[taskId] = Task({
            inputHash: keccak256(input),
            referenceBlock: referenceBlock,
            deadlineBlock: deadline,
            thresholdBps: thresholdBps,
            status: TaskStatus.Open,
            respondedBlock: 0,
            responseDigest: bytes32(0),
            signedStakeGwei: 0,
            totalStakeGwei: 0
        });
        emit TaskCreated(taskId, input, referenceBlock, thresholdBps, deadline);
    }

    /// Accepts `response` to `taskId` with a certificate over its keccak256 digest.
    function respondToTask(uint256 taskId, bytes calldata response, Certificate calldata cert) external {
        Task storage task = tasks[taskId];
        if (task.status == TaskStatus.Responded || task.status == TaskStatus.Challenged) {
            revert TaskAlreadyResponded(taskId);
        }
        if (task.status != TaskStatus.Open) revert TaskNotOpen(taskId, task.status);
        if (block.number > task.deadlineBlock) revert DeadlinePassed(taskId, task.deadlineBlock);
        if (cert.referenceBlock != task.referenceBlock) revert ReferenceBlockMismatch(task.referenceBlock, cert.referenceBlock);
        bytes32 digest = keccak256(response);
        (uint64 signedStake, uint64 totalStake) =
            verifyCertificate(taskResponseMessage(taskId, digest), task.thresholdBps, cert);
        task.status = TaskStatus.Responded;
        task.respondedBlock = uint32(block.number);
        task.responseDigest = digest;
        task.signedStakeGwei = signedStake;
        task.totalStakeGwei = totalStake;
        _onTaskResponded(taskId, response);
        emit TaskResponded(taskId, digest, response, signedStake, totalStake);
    }

    /// Closes an open task whose deadline passed without a response.
    function expireTask(uint256 taskId) external {
        Task storage task = tasks[taskId];
        if (task.status != TaskStatus.Open) revert TaskNotOpen(taskId, task.status);
        if (block.number <= task.deadlineBlock) revert DeadlineNotPassed(taskId, task.deadlineBlock);
        task.status = TaskStatus.Expired;
        emit TaskExpired(taskId);
    }

    /// Challenges a response within its window with `evidence`; if the template's
    /// `_verifyChallenge` accepts it, the operator it names is slashed.
    function challenge(uint256 taskId, bytes calldata evidence) external {
        Task storage task = tasks[taskId];
        if (task.status != TaskStatus.Responded) revert NotChallengeable(taskId);
        if (block.number > uint256(task.respondedBlock) + challengeWindow) revert ChallengeWindowClosed(taskId);
        (address operator, uint256 wadFraction) = _verifyChallenge(taskId, evidence);
        task.status = TaskStatus.Challenged;
        uint256 slashed = _slash(operator, wadFraction);
        emit TaskChallenged(taskId, operator, wadFraction, slashed);
    }

    /// Pays `amount` of `token` from the owner as `operator`'s rewards for `epoch`.
    function fundRewards(address operator, address token, uint256 amount, uint64 epoch) external onlyOwner {
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        IERC20(token).forceApprove(address(core), amount);
        core.fundRewards(operator, token, amount, epoch);
    }

    /// Removes `operator` from the set (e.g. stake fell below the minimum).
    function ejectOperator(address operator) external onlyOwner {
        _deregister(operator);
    }

    /// A task's record.
    function getTask(uint256 taskId) external view returns (Task memory) {
        if (tasks[taskId].status == TaskStatus.None) revert UnknownTask(taskId);
        return tasks[taskId];
    }

    /// Whether a response stands for good: answered and past its challenge window.
    function isFinal(uint256 taskId) external view returns (bool) {
        Task storage task = tasks[taskId];
        return task.status == TaskStatus.Responded && block.number > uint256(task.respondedBlock) + challengeWindow;
    }

    // ---------------------------------------------------------------- hooks

    /// Validates a task input; revert to refuse it.
    function _beforeCreateTask(bytes calldata input) internal virtual {}

    /// Acts on an accepted response (store a price, release a message, ...).
    function _onTaskResponded(uint256 taskId, bytes calldata response) internal virtual {}

    /// Checks a slashing proof against a response; returns whom to slash and by how much
    /// (1e18 = the whole allocation). Revert to refuse it. Every AVS states its rule,
    /// even if that is `revert ChallengesUnsupported()`.
    function _verifyChallenge(uint256 taskId, bytes calldata evidence)
        internal
        virtual
        returns (address operator, uint256 wadFraction);

    /// Slashes through the restaking core and brings the operator's stake here up to date.
    function _slash(address operator, uint256 wadFraction) internal returns (uint256 slashed) {
        slashed = core.slash(operator, wadFraction);
        if (isRegistered[operator]) _syncStake(operator);
    }
}
