// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IRestakingCore} from "../core/IRestakingCore.sol";
import {CertificateVerifier} from "./CertificateVerifier.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";
import {SlashingErrors} from "./ProofVerifier.sol";
import {SlashVeto} from "./SlashVeto.sol";
import {RewardsDistributor} from "./RewardsDistributor.sol";

/// @title TaskManager
/// @notice The base every Bulwark AVS contract extends: tasks are created with an input,
/// a reference block, a threshold and a deadline; a response is accepted with a
/// certificate before the deadline; it becomes final once its challenge window passes
/// unchallenged. The contract is the AVS's identity in the restaking core: it
/// registers there, slashes through it, and funds rewards through it (its
/// `rewards` distributor pays operators by the stake that signed in each epoch).
///
/// Templates override the hooks: `_beforeCreateTask` (validate input),
/// `_onTaskResponded` (use the result), `_verifyChallenge` (check a slashing proof of
/// an offence of their own).
///
/// Slashing: `challenge(taskId, evidence)` takes `abi.encode(bytes32 offence, bytes
/// proof)`. Equivocation (`EQUIVOCATION`: two valid signatures of one operator on
/// different responses, or different reports, to one task; the proof is a
/// `ProofVerifier.Equivocation`) is checked for every AVS; other offences go to
/// `_verifyChallenge`. Each operator is slashed at most once
/// per offence and task, by the fraction the AVS set for that offence
/// (`slashFraction`); the assets go to the challenger (`bountyBps`) and to
/// `slashDestination` (burned by default). A challenge lands within `challengeWindow`
/// blocks of the response (or of the deadline, for a task never answered), and never
/// later than the reference block plus the core's withdrawal delay, while the stake
/// that signed is still slashable; the window cannot be set longer than that delay.
///
/// Veto window (optional, in `slashVeto`, which every AVS deploys): a proven offence is
/// queued for `vetoBlocks`, during which the resolver the owner names can cancel it;
/// then anyone executes it (`executeSlash`). Challenges close `vetoBlocks` earlier, so
/// every queued slash can execute while the stake that signed is still slashable.
abstract contract TaskManager is CertificateVerifier, SlashingErrors, Ownable {
    using SafeERC20 for IERC20;

    enum TaskStatus {
        None,
        Open,
        Responded,
        Expired,
        Challenged
    }

    /// @dev Laid out in four slots, the second written once more by the response:
    /// `nonSignersHash` stays zero (no write) when everyone signed.
    struct Task {
        bytes32 inputHash;
        uint32 referenceBlock;
        uint32 deadlineBlock;
        uint16 thresholdBps;
        TaskStatus status;
        uint32 respondedBlock;
        uint64 signedStakeGwei;
        uint64 totalStakeGwei;
        bytes32 responseDigest;
        /// keccak256 of the non-signers' addresses, each as a 32-byte word in the
        /// certificate's (ascending) order; zero if all signed. The addresses are in
        /// `TaskNonSigners`, so anyone can prove who signed a task (rewards).
        bytes32 nonSignersHash;
    }

    /// The offence of signing two different responses (or reports) to one task.
    bytes32 public constant EQUIVOCATION = keccak256("bulwark.offence.equivocation.v1");
    /// Where slashed assets go unless the owner names another destination: destroyed.
    address public constant BURN = 0x000000000000000000000000000000000000dEaD;
    uint256 internal constant WAD = 1e18;

    /// Blocks after a response during which it can be challenged.
    uint32 public immutable challengeWindow;
    /// The core's withdrawal delay: stake that signed at a reference block is
    /// slashable at least this many blocks after it.
    uint32 public immutable slashableBlocks;
    /// This AVS's veto window (off until the owner sets it there).
    SlashVeto public immutable slashVeto;
    /// Fraction of the allocation (1e18 = all) slashed per offence; 0: not slashable.
    mapping(bytes32 offence => uint256 wad) public slashFraction;
    /// Where slashed assets go, after the challenger's bounty.
    address public slashDestination = BURN;
    /// The challenger's share of what its challenge slashes, in basis points.
    uint16 public bountyBps;
    /// Whether an operator was slashed for an offence on a task (`offenceKey`).
    mapping(bytes32 key => bool) public slashedFor;
    uint256 public taskCount;
    mapping(uint256 taskId => Task) internal tasks;
    mapping(address account => bool) public isTaskCreator;
    /// Length of a rewards epoch in blocks; a response counts in epoch
    /// `respondedBlock / rewardEpochBlocks`. Fixed once the first task exists.
    uint32 public rewardEpochBlocks = 7200;
    /// Stake (gwei) that signed the responses of each epoch, summed over its tasks:
    /// what the epoch's signed-stake rewards are split by.
    mapping(uint64 epoch => uint256 stakeGwei) public epochSignedStakeGwei;
    /// Pays this AVS's rewards (deployed by the constructor; the core lets it fund
    /// rewards in this AVS's name).
    RewardsDistributor public immutable rewards;

    event TaskCreated(
        uint256 indexed taskId, bytes input, uint32 referenceBlock, uint16 thresholdBps, uint32 deadlineBlock
    );
    event TaskResponded(
        uint256 indexed taskId, bytes32 responseDigest, bytes response, uint64 signedStakeGwei, uint64 totalStakeGwei
    );
    event TaskNonSigners(uint256 indexed taskId, address[] nonSigners);
    event RewardEpochSet(uint32 blocks);
    event TaskExpired(uint256 indexed taskId);
    /// A task the contract answered itself (`_recordAnsweredTask`).
    event TaskAnswered(uint256 indexed taskId, bytes input, bytes32 responseDigest);
    event OperatorSlashed(
        uint256 indexed taskId,
        address indexed operator,
        bytes32 indexed offence,
        uint256 wadFraction,
        uint256 slashed,
        address challenger,
        uint256 bounty
    );
    event SlashFractionSet(bytes32 indexed offence, uint256 wadFraction);
    event SlashDestinationSet(address destination, uint16 bountyBps);
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
    error ChallengeWindowTooLong(uint32 challengeWindow, uint32 withdrawalDelay);
    error AlreadySlashed(uint256 taskId, address operator, bytes32 offence);
    error OffenceNotSlashable(bytes32 offence);
    error InvalidFraction(uint256 wadFraction);
    error InvalidDestination(address destination, uint16 bountyBps);
    error RewardEpochFixed();

    /// What an AVS's constructor passes through to the task manager, as one value: an
    /// AVS's constructor is `constructor(Params memory p) TaskManager(p) {}` plus its
    /// own setup, and a setting added here changes no AVS's signature. Its fields are
    /// all static, so the ABI encoding is the five values in order (deployers encode
    /// `(core, owner, minimumStake, referenceWindow, challengeWindow)`).
    struct Params {
        /// The restaking core (Bulwark's, or an adapter to another layer).
        IRestakingCore core;
        /// Owns the AVS: settings, task creators, slashing parameters.
        address owner;
        /// Least allocated stake (wei) an operator needs to register.
        uint256 minimumStake;
        /// How old (in blocks) a certificate's reference block may be.
        uint32 referenceWindow;
        /// Blocks after a response (or a missed deadline) during which it can be
        /// challenged; at most the core's withdrawal delay.
        uint32 challengeWindow;
    }

    constructor(Params memory p)
        OperatorRegistry(p.core, p.minimumStake)
        CertificateVerifier(p.referenceWindow)
        Ownable(p.owner)
    {
        uint32 delay = p.core.withdrawalDelay();
        if (p.challengeWindow > delay) revert ChallengeWindowTooLong(p.challengeWindow, delay);
        challengeWindow = p.challengeWindow;
        slashableBlocks = delay;
        slashVeto = new SlashVeto();
        isTaskCreator[p.owner] = true;
        slashFraction[EQUIVOCATION] = 0.1e18;
        emit SlashFractionSet(EQUIVOCATION, 0.1e18);
        p.core.registerAVS();
        rewards = new RewardsDistributor(p.core);
        p.core.setRewardsSubmitter(address(rewards));
    }

    /// Sets the length of a rewards epoch, in blocks; only before the first task.
    function setRewardEpochBlocks(uint32 blocks) external onlyOwner {
        if (taskCount != 0 || blocks == 0) revert RewardEpochFixed();
        rewardEpochBlocks = blocks;
        emit RewardEpochSet(blocks);
    }

    /// Sets the fraction of an operator's allocation slashed for `offence` (0: the
    /// offence is no longer slashed here).
    function setSlashFraction(bytes32 offence, uint256 wadFraction) external onlyOwner {
        if (wadFraction > WAD) revert InvalidFraction(wadFraction);
        slashFraction[offence] = wadFraction;
        emit SlashFractionSet(offence, wadFraction);
    }

    /// Sends slashed assets to `destination` (`BURN` to destroy them), after
    /// `bountyBps` of each slash to the challenger who proved it.
    function setSlashDestination(address destination, uint16 bountyBps_) external onlyOwner {
        if (destination == address(0) || bountyBps_ > BPS) revert InvalidDestination(destination, bountyBps_);
        slashDestination = destination;
        bountyBps = bountyBps_;
        emit SlashDestinationSet(destination, bountyBps_);
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
            signedStakeGwei: 0,
            totalStakeGwei: 0,
            responseDigest: bytes32(0),
            nonSignersHash: bytes32(0)
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
        if (cert.nonSigners.length != 0) task.nonSignersHash = _recordNonSigners(taskId, cert.nonSigners);
        epochSignedStakeGwei[uint64(block.number / rewardEpochBlocks)] += signedStake;
        _onTaskResponded(taskId, response);
        emit TaskResponded(taskId, digest, response, signedStake, totalStake);
    }

    /// Records a task this contract answers itself, at this block, with `response`: a
    /// fact it read from its own state (a bridge's operator table read from the
    /// registry), which needs no certificate. It exists so that signing what
    /// contradicts the fact is an offence with a task to be challenged on, inside the
    /// same window and the same bound on slashable stake as any task's. It is never
    /// open (no `TaskCreated`), so no operator or aggregator tries to answer it.
    function _recordAnsweredTask(bytes memory input, bytes memory response, uint64 totalStakeGwei)
        internal
        returns (uint256 taskId)
    {
        taskId = taskCount++;
        bytes32 digest = keccak256(response);
        uint32 now_ = uint32(block.number);
        tasks[taskId] = Task({
            inputHash: keccak256(input),
            referenceBlock: now_,
            deadlineBlock: now_,
            thresholdBps: 0,
            status: TaskStatus.Responded,
            respondedBlock: now_,
            signedStakeGwei: 0,
            totalStakeGwei: totalStakeGwei,
            responseDigest: digest,
            nonSignersHash: bytes32(0)
        });
        emit TaskAnswered(taskId, input, digest);
    }

    /// Closes an open task whose deadline passed without a response.
    function expireTask(uint256 taskId) external {
        Task storage task = tasks[taskId];
        if (task.status != TaskStatus.Open) revert TaskNotOpen(taskId, task.status);
        if (block.number <= task.deadlineBlock) revert DeadlineNotPassed(taskId, task.deadlineBlock);
        task.status = TaskStatus.Expired;
        emit TaskExpired(taskId);
    }

    /// Proves an offence on `taskId` and slashes its offender. `evidence` is
    /// `abi.encode(bytes32 offence, bytes proof)`: `EQUIVOCATION` with an
    /// `Equivocation`, or an offence of the template (`_verifyChallenge`). Anyone may
    /// call; the caller gets the bounty.
    function challenge(uint256 taskId, bytes calldata evidence) external {
        Task storage task = tasks[taskId];
        if (task.status == TaskStatus.None) revert UnknownTask(taskId);
        if (block.number > challengeDeadline(taskId)) revert ChallengeWindowClosed(taskId);
        (bytes32 offence, bytes memory proof) = abi.decode(evidence, (bytes32, bytes));
        uint256 wadFraction = slashFraction[offence];
        if (wadFraction == 0) revert OffenceNotSlashable(offence);
        address operator =
            offence == EQUIVOCATION ? _verifyEquivocation(taskId, task, proof) : _verifyChallenge(taskId, offence, proof);
        bytes32 key = offenceKey(taskId, operator, offence);
        if (slashedFor[key]) revert AlreadySlashed(taskId, operator, offence);
        slashedFor[key] = true;
        if (task.status == TaskStatus.Responded) task.status = TaskStatus.Challenged;
        if (!slashVeto.queue(taskId, operator, offence, wadFraction, msg.sender)) {
            _slash(taskId, operator, offence, wadFraction, msg.sender);
        }
    }

    /// Executes a slash queued behind the veto window once the window has passed;
    /// anyone may call. The bounty goes to the challenger who proved it.
    function executeSlash(uint256 slashId) external {
        SlashVeto.Slash memory s = slashVeto.take(slashId);
        _slash(s.taskId, s.operator, s.offence, s.wadFraction, s.challenger);
    }

    /// Slashes `operator` through the core and pays out what arrives.
    function _slash(uint256 taskId, address operator, bytes32 offence, uint256 wadFraction, address challenger)
        private
    {
        IERC20 asset = core.asset();
        uint256 before = asset.balanceOf(address(this));
        uint256 slashed = core.slash(operator, wadFraction);
        // What arrived, not what was announced: a token that rounds transfers down
        // (some liquid staking tokens do) must not make the slash revert.
        uint256 received = asset.balanceOf(address(this)) - before;
        uint256 bounty = received * bountyBps / BPS;
        if (bounty > 0) asset.safeTransfer(challenger, bounty);
        if (received > bounty) asset.safeTransfer(slashDestination, received - bounty);
        emit OperatorSlashed(taskId, operator, offence, wadFraction, slashed, challenger, bounty);
    }

    /// The last block a challenge on `taskId` can land: `challengeWindow` after its
    /// response (after its deadline if it has none), capped at its reference block plus
    /// the core's withdrawal delay less the veto window, beyond which the stake that
    /// signed may be gone before the slash executes.
    function challengeDeadline(uint256 taskId) public view returns (uint256) {
        Task storage task = tasks[taskId];
        if (task.status == TaskStatus.None) revert UnknownTask(taskId);
        uint256 from = task.respondedBlock != 0 ? task.respondedBlock : task.deadlineBlock;
        uint256 end = from + challengeWindow;
        uint256 slashable = uint256(task.referenceBlock) + slashableBlocks - slashVeto.vetoBlocks();
        return end < slashable ? end : slashable;
    }

    /// The key under which a slash of `operator` for `offence` on `taskId` is recorded.
    function offenceKey(uint256 taskId, address operator, bytes32 offence) public pure returns (bytes32) {
        return keccak256(abi.encode(taskId, operator, offence));
    }

    /// Checks an equivocation proof on `taskId` (in `proofVerifier`); returns the
    /// offender. Exactly what bulwark-chain's `Equivocation::verify` accepts, plus the
    /// one thing only the chain knows: that the key is the one the operator had
    /// registered at the reference block.
    function _verifyEquivocation(uint256 taskId, Task storage task, bytes memory proof)
        internal
        view
        returns (address operator)
    {
        bytes32 keyHash;
        (operator, keyHash) = proofVerifier.verifyEquivocation(proof, taskId);
        _requireKeyAt(operator, keyHash, task.referenceBlock);
    }

    /// Reverts unless `keyHash` is the key `operator` had registered at `referenceBlock`.
    function _requireKeyAt(address operator, bytes32 keyHash, uint32 referenceBlock) internal view {
        (OperatorCheckpoint memory checkpoint,) = _operatorAt(operator, referenceBlock);
        if (checkpoint.keyTag == bytes16(0) || checkpoint.keyTag != bytes16(keyHash)) {
            revert KeyNotRegisteredAt(operator, referenceBlock);
        }
    }

    /// Emits the non-signers' addresses of `taskId` and returns their hash (see
    /// `Task.nonSignersHash`).
    function _recordNonSigners(uint256 taskId, NonSigner[] calldata nonSigners) private returns (bytes32 hash) {
        uint256 n = nonSigners.length;
        address[] memory operators = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            operators[i] = nonSigners[i].operator;
        }
        assembly ("memory-safe") {
            hash := keccak256(add(operators, 32), mul(n, 32))
        }
        emit TaskNonSigners(taskId, operators);
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

    /// Checks the proof of a template's own `offence` on `taskId`; returns the operator
    /// to slash (by `slashFraction[offence]`). Revert to refuse it. Every AVS states its
    /// rule: an AVS with no offence of its own extends `NoChallenges`; equivocation
    /// never reaches here.
    function _verifyChallenge(uint256 taskId, bytes32 offence, bytes memory proof)
        internal
        virtual
        returns (address operator);
}
