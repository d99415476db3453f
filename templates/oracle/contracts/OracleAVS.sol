// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {OracleErrors, OracleProofVerifier} from "./OracleProofVerifier.sol";

/// @title OracleAVS
/// @notice Price feeds secured by restaked stake. Each round is a task whose input names
/// the feed and the round; operators report prices, the aggregator proposes the
/// stake-weighted median, operators endorse it when it lies within their tolerance,
/// and the endorsements land here as one certificate. Consumers read `latestRound`
/// (or `latestFreshRound`, which refuses stale data).
///
/// Slashing: besides equivocation (every AVS), `FAR_ENDORSEMENT`: an operator
/// endorsed, for a round, a value farther from the value of its own signed report of
/// that round than the feed's `endorsementToleranceBps` (both messages signed by it,
/// so nobody else's data can make an honest operator slashable). Operators read the
/// tolerance here and never endorse beyond it.
contract OracleAVS is TaskManager, OracleErrors {
    /// The offence of endorsing a value beyond the tolerance from one's own report.
    bytes32 public constant FAR_ENDORSEMENT = keccak256("bulwark.offence.oracle.far-endorsement.v1");

    struct Feed {
        /// Seconds after which a new round is due even if the price did not move.
        uint32 heartbeat;
        /// Move (basis points) of the observed price that makes a new round due.
        uint16 deviationBps;
        /// Decimals of every value of the feed.
        uint8 decimals;
        /// Configured (feeds are never removed, only reconfigured).
        bool exists;
        /// The last round that landed (0: none yet).
        uint64 latestRound;
        /// The task of the round being answered, if any (+1, so 0 means none).
        uint256 pendingTaskPlusOne;
    }

    struct Round {
        /// The certified value.
        uint256 value;
        /// When operators observed it (median of their reports' times), unix seconds.
        uint64 observedAt;
        /// When it landed on chain.
        uint64 updatedAt;
        /// Stake (gwei) that endorsed it, and the total at the reference block.
        uint64 signedStakeGwei;
        uint64 totalStakeGwei;
    }

    mapping(bytes32 feed => Feed) public feeds;
    mapping(bytes32 feed => mapping(uint64 roundId => Round)) internal rounds;
    bytes32[] public feedIds;
    /// How far an operator may endorse from its own report, per feed.
    struct Tolerance {
        /// Basis points of the reported value, rounded up; 0: not checked.
        uint16 current;
        /// The value before the last change, which still holds for tasks created
        /// before it (their operators may have read it).
        uint16 previous;
        /// Block of the last change.
        uint32 changedAt;
    }

    mapping(bytes32 feed => Tolerance) public endorsementTolerance;
    /// Decodes and checks `FAR_ENDORSEMENT` proofs (deployed by the constructor, so
    /// its code does not count against this contract's size).
    OracleProofVerifier public immutable oracleProofVerifier;

    event FeedConfigured(bytes32 indexed feed, uint32 heartbeat, uint16 deviationBps, uint8 decimals);
    event RoundRequested(bytes32 indexed feed, uint64 indexed roundId, uint256 taskId);
    event RoundUpdated(bytes32 indexed feed, uint64 indexed roundId, uint256 value, uint64 observedAt);
    event EndorsementToleranceSet(bytes32 indexed feed, uint16 toleranceBps);

    error UnknownFeed(bytes32 feed);
    error RoundPending(bytes32 feed, uint256 taskId);
    error WrongRound(bytes32 feed, uint64 expected, uint64 got);
    error InvalidFeedConfig();
    error InvalidAnswer(uint256 taskId);
    error NoRound(bytes32 feed);
    error StaleRound(bytes32 feed, uint64 observedAt, uint256 maxAge);
    error InvalidTolerance(uint16 toleranceBps);
    error ToleranceChangedRecently(bytes32 feed, uint256 nextChangeBlock);
    error ToleranceNotSet(bytes32 feed);
    error WithinTolerance(uint256 deviationBps, uint16 toleranceBps);

    constructor(Params memory p) TaskManager(p) {
        oracleProofVerifier = new OracleProofVerifier();
        slashFraction[FAR_ENDORSEMENT] = 0.05e18;
        emit SlashFractionSet(FAR_ENDORSEMENT, 0.05e18);
    }

    /// Sets how far from its own report an operator may endorse for `feed` (0: not
    /// checked). Operators read it when they observe a round. A task created before
    /// the change is held to the looser of the two values, and a change may follow
    /// the last only after `slashableBlocks`, so no round's operators can be caught
    /// between two changes they never saw.
    function setEndorsementTolerance(bytes32 feed, uint16 toleranceBps) external onlyOwner {
        if (!feeds[feed].exists) revert UnknownFeed(feed);
        if (toleranceBps > BPS) revert InvalidTolerance(toleranceBps);
        Tolerance storage t = endorsementTolerance[feed];
        if (t.changedAt != 0 && block.number < uint256(t.changedAt) + slashableBlocks) {
            revert ToleranceChangedRecently(feed, uint256(t.changedAt) + slashableBlocks);
        }
        (t.previous, t.current, t.changedAt) = (t.current, toleranceBps, uint32(block.number));
        emit EndorsementToleranceSet(feed, toleranceBps);
    }

    /// The tolerance `feed`'s endorsements are held to in a task with reference block
    /// `referenceBlock` (see `setEndorsementTolerance`).
    function toleranceFor(bytes32 feed, uint32 referenceBlock) public view returns (uint16) {
        Tolerance storage t = endorsementTolerance[feed];
        if (referenceBlock >= t.changedAt) return t.current;
        if (t.current == 0 || t.previous == 0) return 0;
        return t.current > t.previous ? t.current : t.previous;
    }

    /// Adds or reconfigures a feed.
    function configureFeed(bytes32 feed, uint32 heartbeat, uint16 deviationBps, uint8 decimals) external onlyOwner {
        if (heartbeat == 0 || deviationBps == 0 || deviationBps > BPS || decimals > 36) revert InvalidFeedConfig();
        Feed storage f = feeds[feed];
        if (!f.exists) feedIds.push(feed);
        f.heartbeat = heartbeat;
        f.deviationBps = deviationBps;
        f.decimals = decimals;
        f.exists = true;
        emit FeedConfigured(feed, heartbeat, deviationBps, decimals);
    }

    /// The input of the next round of `feed`, for `createTask`.
    function nextRoundInput(bytes32 feed) external view returns (bytes memory) {
        Feed storage f = feeds[feed];
        if (!f.exists) revert UnknownFeed(feed);
        return abi.encode(feed, f.latestRound + 1);
    }

    /// Whether a new round of `feed` is due given the price `observed` now: no round
    /// yet, the heartbeat elapsed, or the price moved beyond the deviation threshold.
    /// Keepers call it before creating a round.
    function roundDue(bytes32 feed, uint256 observed) external view returns (bool) {
        Feed storage f = feeds[feed];
        if (!f.exists) revert UnknownFeed(feed);
        if (_pending(f)) return false;
        if (f.latestRound == 0) return true;
        Round storage r = rounds[feed][f.latestRound];
        if (block.timestamp >= uint256(r.observedAt) + f.heartbeat) return true;
        uint256 diff = observed > r.value ? observed - r.value : r.value - observed;
        return diff * BPS > uint256(f.deviationBps) * r.value;
    }

    /// The latest round: id, value, when observed and landed, and the endorsing stake.
    function latestRound(bytes32 feed)
        public
        view
        returns (uint64 roundId, uint256 value, uint64 observedAt, uint64 updatedAt, uint64 signedStakeGwei)
    {
        Feed storage f = feeds[feed];
        if (!f.exists) revert UnknownFeed(feed);
        roundId = f.latestRound;
        if (roundId == 0) revert NoRound(feed);
        Round storage r = rounds[feed][roundId];
        return (roundId, r.value, r.observedAt, r.updatedAt, r.signedStakeGwei);
    }

    /// Like `latestRound`, but reverts when the value was observed more than `maxAge`
    /// seconds ago: consumers state how fresh a price they accept.
    function latestFreshRound(bytes32 feed, uint256 maxAge) external view returns (uint64 roundId, uint256 value) {
        uint64 observedAt;
        (roundId, value, observedAt,,) = latestRound(feed);
        if (block.timestamp > uint256(observedAt) + maxAge) revert StaleRound(feed, observedAt, maxAge);
    }

    /// Round `roundId` of `feed`.
    function getRound(bytes32 feed, uint64 roundId) external view returns (Round memory) {
        return rounds[feed][roundId];
    }

    /// Every configured feed.
    function allFeeds() external view returns (bytes32[] memory) {
        return feedIds;
    }

    /// A round's input is `abi.encode(feed, roundId)`: a configured feed, the next
    /// round, and no other round of that feed still open.
    function _beforeCreateTask(bytes calldata input) internal override {
        if (input.length != 64) revert InvalidAnswer(taskCount);
        (bytes32 feed, uint64 roundId) = abi.decode(input, (bytes32, uint64));
        Feed storage f = feeds[feed];
        if (!f.exists) revert UnknownFeed(feed);
        if (_pending(f)) revert RoundPending(feed, f.pendingTaskPlusOne - 1);
        if (roundId != f.latestRound + 1) revert WrongRound(feed, f.latestRound + 1, roundId);
        // createTask assigns `taskCount` as this task's id.
        f.pendingTaskPlusOne = taskCount + 1;
        emit RoundRequested(feed, roundId, taskCount);
    }

    /// The certified answer is `abi.encode(feed, roundId, value, observedAt)`.
    function _onTaskResponded(uint256 taskId, bytes calldata response) internal override {
        if (response.length != 128) revert InvalidAnswer(taskId);
        (bytes32 feed, uint64 roundId, uint256 value, uint64 observedAt) =
            abi.decode(response, (bytes32, uint64, uint256, uint64));
        Feed storage f = feeds[feed];
        if (f.pendingTaskPlusOne != taskId + 1 || roundId != f.latestRound + 1) revert InvalidAnswer(taskId);
        if (observedAt > block.timestamp) revert InvalidAnswer(taskId);
        // Only values an operator's endorsement of can be judged (FAR_ENDORSEMENT):
        // no zero, nothing beyond 128 bits.
        if (value == 0 || value > type(uint128).max) revert InvalidAnswer(taskId);
        Task storage task = tasks[taskId];
        rounds[feed][roundId] = Round({
            value: value,
            observedAt: observedAt,
            updatedAt: uint64(block.timestamp),
            signedStakeGwei: task.signedStakeGwei,
            totalStakeGwei: task.totalStakeGwei
        });
        f.latestRound = roundId;
        f.pendingTaskPlusOne = 0;
        emit RoundUpdated(feed, roundId, value, observedAt);
    }

    /// `FAR_ENDORSEMENT`: the proof checked by `oracleProofVerifier` (exactly what
    /// oracle-avs's `FarEndorsement::verify` accepts), held to the tolerance of the
    /// round's feed and to the key the operator had registered at the reference block.
    function _verifyChallenge(uint256 taskId, bytes32 offence, bytes memory proof)
        internal
        view
        override
        returns (address operator)
    {
        if (offence != FAR_ENDORSEMENT) revert ChallengesUnsupported();
        bytes32 keyHash;
        bytes32 feed;
        uint256 deviation;
        (operator, keyHash, feed, deviation) = oracleProofVerifier.verify(proof, taskId);
        uint32 referenceBlock = tasks[taskId].referenceBlock;
        uint16 tolerance = toleranceFor(feed, referenceBlock);
        if (tolerance == 0) revert ToleranceNotSet(feed);
        if (deviation <= tolerance) revert WithinTolerance(deviation, tolerance);
        _requireKeyAt(operator, keyHash, referenceBlock);
    }

    /// A round is pending while its task is open and before its deadline.
    function _pending(Feed storage f) internal view returns (bool) {
        if (f.pendingTaskPlusOne == 0) return false;
        Task storage t = tasks[f.pendingTaskPlusOne - 1];
        return t.status == TaskStatus.Open && block.number <= t.deadlineBlock;
    }
}
