// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IRestakingCore} from "@bulwark/core/IRestakingCore.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";

/// @title OracleAVS
/// @notice Price feeds secured by restaked stake. Each round is a task whose input names
/// the feed and the round; operators report prices, the aggregator proposes the
/// stake-weighted median, operators endorse it when it lies within their tolerance,
/// and the endorsements land here as one certificate. Consumers read `latestRound`
/// (or `latestFreshRound`, which refuses stale data).
contract OracleAVS is TaskManager {
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

    event FeedConfigured(bytes32 indexed feed, uint32 heartbeat, uint16 deviationBps, uint8 decimals);
    event RoundRequested(bytes32 indexed feed, uint64 indexed roundId, uint256 taskId);
    event RoundUpdated(bytes32 indexed feed, uint64 indexed roundId, uint256 value, uint64 observedAt);

    error UnknownFeed(bytes32 feed);
    error RoundPending(bytes32 feed, uint256 taskId);
    error WrongRound(bytes32 feed, uint64 expected, uint64 got);
    error InvalidFeedConfig();
    error InvalidAnswer(uint256 taskId);
    error NoRound(bytes32 feed);
    error StaleRound(bytes32 feed, uint64 observedAt, uint256 maxAge);

    constructor(
        IRestakingCore core_,
        address owner_,
        uint256 minimumStake_,
        uint32 referenceWindow_,
        uint32 challengeWindow_
    ) TaskManager(core_, owner_, minimumStake_, referenceWindow_, challengeWindow_) {}

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

    /// Wrong endorsements are proven off-chain for now: the aggregator keeps each
    /// operator's signed report beside the certificate (the on-chain proof follows).
    /// Equivocation is slashable here as on every AVS.
    function _verifyChallenge(uint256, bytes32, bytes memory) internal pure override returns (address) {
        revert ChallengesUnsupported();
    }

    /// A round is pending while its task is open and before its deadline.
    function _pending(Feed storage f) internal view returns (bool) {
        if (f.pendingTaskPlusOne == 0) return false;
        Task storage t = tasks[f.pendingTaskPlusOne - 1];
        return t.status == TaskStatus.Open && block.number <= t.deadlineBlock;
    }
}
