// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IRestakingCore, IStakeListener} from "./IRestakingCore.sol";
import {
    IAllocationManager,
    IAVSRegistrar,
    IDelegationManager,
    IRewardsCoordinator,
    IStrategy,
    OperatorSet,
    CreateSetParams,
    SlashingParams,
    StrategyAndMultiplier,
    OperatorReward,
    OperatorDirectedRewardsSubmission
} from "./eigenlayer/IEigenLayer.sol";

/// @title EigenLayerRestaking
/// @notice `IRestakingCore` on EigenLayer: one adapter per Bulwark AVS. The adapter is
/// the AVS as EigenLayer knows it (its metadata, its operator set 0 over one strategy,
/// the set's registrar); the Bulwark AVS contract deployed on it is unchanged: its
/// `OperatorRegistry` still takes BLS12-381 keys with proofs of possession (which
/// EigenLayer's KeyRegistrar does not support) and checkpoints the stake read here.
///
/// - an operator is one registered for the set (`registerForOperatorSets`);
/// - its stake for the AVS is the least it stays slashable for in the set through the
///   withdrawal delay, in the strategy's underlying token (a pending deallocation
///   stops counting at once, while it stays slashable until `DEALLOCATION_DELAY`);
/// - a slash is `AllocationManager.slashOperator` of the fraction (wads) of its
///   allocation; EigenLayer burns the slashed shares, so no assets reach the AVS (no
///   bounty on EigenLayer); the AVS is told at once (`IStakeListener`);
/// - the withdrawal delay is the shorter of EigenLayer's deallocation and withdrawal
///   delays (in blocks): an AVS's challenge window must fit in it;
/// - rewards are operator-directed submissions to the RewardsCoordinator for the set,
///   over the last whole calculation interval (EigenLayer takes only retroactive
///   ones); its own rewards updater posts the roots operators and stakers claim
///   from, the operator keeping its split.
///
/// # Security
/// Only the AVS that registered first (`registerAVS`, from its constructor) can slash
/// through the adapter, and only the AllocationManager calls the registrar hooks.
contract EigenLayerRestaking is IRestakingCore, IAVSRegistrar {
    using SafeERC20 for IERC20;

    /// The operator set every operator of the AVS registers for.
    uint32 public constant OPERATOR_SET = 0;
    /// Gas the AVS gets to hear of a stake change (as RestakingCore's listeners).
    uint256 public constant STAKE_HOOK_GAS = 250_000;

    IAllocationManager public immutable allocationManager;
    IDelegationManager public immutable delegationManager;
    IStrategy public immutable strategy;
    IRewardsCoordinator public immutable rewardsCoordinator;
    IERC20 internal immutable underlying;
    /// The Bulwark AVS this adapter serves (set once, by `registerAVS`).
    address public avs;
    /// The contract the AVS lets fund rewards in its name.
    address public rewardsSubmitter;
    string internal metadataURI;

    event OperatorJoined(address indexed operator);
    event OperatorLeft(address indexed operator);
    event StakeListenerFailed(address indexed avs, address indexed operator);
    event RewardsSubmitted(
        address indexed operator, address indexed token, uint256 amount, uint64 epoch, uint32 startTimestamp
    );

    error AVSAlreadyRegistered(address avs);
    error NotAVS(address caller);
    error NotAllocationManager(address caller);
    error NotRewardsSubmitter(address avs, address caller);
    error WrongOperatorSet();
    error ZeroRewards();
    error InsufficientGasForListener(uint256 needed, uint256 left);

    constructor(
        IAllocationManager allocationManager_,
        IDelegationManager delegationManager_,
        IStrategy strategy_,
        IRewardsCoordinator rewardsCoordinator_,
        string memory metadataURI_
    ) {
        allocationManager = allocationManager_;
        delegationManager = delegationManager_;
        strategy = strategy_;
        rewardsCoordinator = rewardsCoordinator_;
        underlying = IERC20(strategy_.underlyingToken());
        metadataURI = metadataURI_;
    }

    modifier onlyAVS() {
        if (msg.sender != avs || avs == address(0)) revert NotAVS(msg.sender);
        _;
    }

    modifier onlyAllocationManager() {
        if (msg.sender != address(allocationManager)) revert NotAllocationManager(msg.sender);
        _;
    }

    // ---------------------------------------------------------------- IRestakingCore

    /// @inheritdoc IRestakingCore
    /// @dev Makes this adapter an EigenLayer AVS with operator set 0 over `strategy`,
    /// itself the set's registrar.
    function registerAVS() external {
        if (avs != address(0)) revert AVSAlreadyRegistered(avs);
        avs = msg.sender;
        allocationManager.updateAVSMetadataURI(address(this), metadataURI);
        address[] memory strategies = new address[](1);
        strategies[0] = address(strategy);
        CreateSetParams[] memory sets = new CreateSetParams[](1);
        sets[0] = CreateSetParams({operatorSetId: OPERATOR_SET, strategies: strategies});
        allocationManager.createOperatorSets(address(this), sets);
        allocationManager.setAVSRegistrar(address(this), address(this));
    }

    /// @inheritdoc IRestakingCore
    function isOperator(address operator) external view returns (bool) {
        return allocationManager.isMemberOfOperatorSet(operator, _set());
    }

    /// @inheritdoc IRestakingCore
    function allocatedStake(address operator, address avs_) public view returns (uint256) {
        if (avs_ != avs || avs_ == address(0)) return 0;
        address[] memory operators = new address[](1);
        operators[0] = operator;
        address[] memory strategies = new address[](1);
        strategies[0] = address(strategy);
        // The least it stays slashable for through the withdrawal delay: a pending
        // deallocation stops counting at once, while what signed stays slashable.
        uint32 until = uint32(block.number) + _withdrawalDelay();
        uint256[][] memory shares = allocationManager.getMinimumSlashableStake(_set(), operators, strategies, until);
        return strategy.sharesToUnderlyingView(shares[0][0]);
    }

    /// @inheritdoc IRestakingCore
    function asset() external view returns (IERC20) {
        return underlying;
    }

    /// @inheritdoc IRestakingCore
    function withdrawalDelay() external view returns (uint32) {
        return _withdrawalDelay();
    }

    function _withdrawalDelay() internal view returns (uint32) {
        uint32 deallocation = allocationManager.DEALLOCATION_DELAY();
        uint32 withdrawal = delegationManager.minWithdrawalDelayBlocks();
        return deallocation < withdrawal ? deallocation : withdrawal;
    }

    /// @inheritdoc IRestakingCore
    /// @dev Returns the stake (underlying) the slash removed from the operator's
    /// delegated shares (a deallocating operator's too, whose weight is already gone);
    /// EigenLayer burns it, so nothing is transferred to the AVS.
    function slash(address operator, uint256 wadFraction) external onlyAVS returns (uint256 slashed) {
        uint256 before = _delegatedStake(operator);
        address[] memory strategies = new address[](1);
        strategies[0] = address(strategy);
        uint256[] memory wads = new uint256[](1);
        wads[0] = wadFraction;
        allocationManager.slashOperator(
            address(this),
            SlashingParams({
                operator: operator,
                operatorSetId: OPERATOR_SET,
                strategies: strategies,
                wadsToSlash: wads,
                description: "bulwark: offence proven on chain"
            })
        );
        uint256 left = _delegatedStake(operator);
        slashed = before > left ? before - left : 0;
        _tellAVS(operator);
    }

    /// @inheritdoc IRestakingCore
    /// @dev One operator-directed submission for the set, over the last whole
    /// calculation interval before now (EigenLayer takes only retroactive ones; the
    /// `epoch` labels the event).
    function fundRewards(address avs_, address operator, address token, uint256 amount, uint64 epoch) external {
        if (avs_ != avs || avs_ == address(0)) revert NotAVS(avs_);
        if (msg.sender != avs_ && msg.sender != rewardsSubmitter) revert NotRewardsSubmitter(avs_, msg.sender);
        if (amount == 0) revert ZeroRewards();
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        IERC20(token).forceApprove(address(rewardsCoordinator), amount);
        uint32 interval = rewardsCoordinator.CALCULATION_INTERVAL_SECONDS();
        uint32 end = uint32((block.timestamp - 1) / interval * interval);
        StrategyAndMultiplier[] memory weights = new StrategyAndMultiplier[](1);
        weights[0] = StrategyAndMultiplier({strategy: address(strategy), multiplier: 1e18});
        OperatorReward[] memory rewards = new OperatorReward[](1);
        rewards[0] = OperatorReward({operator: operator, amount: amount});
        OperatorDirectedRewardsSubmission[] memory submissions = new OperatorDirectedRewardsSubmission[](1);
        submissions[0] = OperatorDirectedRewardsSubmission({
            strategiesAndMultipliers: weights,
            token: token,
            operatorRewards: rewards,
            startTimestamp: end - interval,
            duration: interval,
            description: "bulwark: rewards for the stake that signed"
        });
        rewardsCoordinator.createOperatorDirectedOperatorSetRewardsSubmission(_set(), submissions);
        emit RewardsSubmitted(operator, token, amount, epoch, end - interval);
    }

    /// @inheritdoc IRestakingCore
    function setRewardsSubmitter(address submitter) external onlyAVS {
        rewardsSubmitter = submitter;
    }

    // ---------------------------------------------------------------- IAVSRegistrar

    /// @inheritdoc IAVSRegistrar
    function supportsAVS(address avs_) external view returns (bool) {
        return avs_ == address(this);
    }

    /// @inheritdoc IAVSRegistrar
    /// @dev Membership is all EigenLayer records; the operator registers its BLS key
    /// with the Bulwark AVS itself (with its proof of possession).
    function registerOperator(address operator, address avs_, uint32[] calldata ids, bytes calldata)
        external
        onlyAllocationManager
    {
        if (avs_ != address(this) || ids.length != 1 || ids[0] != OPERATOR_SET) revert WrongOperatorSet();
        emit OperatorJoined(operator);
    }

    /// @inheritdoc IAVSRegistrar
    /// @dev The AVS re-reads the operator's stake (none left for it).
    function deregisterOperator(address operator, address avs_, uint32[] calldata) external onlyAllocationManager {
        if (avs_ != address(this)) revert WrongOperatorSet();
        emit OperatorLeft(operator);
        _tellAVS(operator);
    }

    // ---------------------------------------------------------------- internals

    /// The underlying of the shares delegated to `operator` in the strategy.
    function _delegatedStake(address operator) internal view returns (uint256) {
        address[] memory strategies = new address[](1);
        strategies[0] = address(strategy);
        return strategy.sharesToUnderlyingView(delegationManager.getOperatorShares(operator, strategies)[0]);
    }

    function _set() internal view returns (OperatorSet memory) {
        return OperatorSet({avs: address(this), id: OPERATOR_SET});
    }

    /// Tells the AVS `operator`'s stake changed, with a fixed gas budget and a raw call
    /// (a failing listener cannot stop a slash).
    function _tellAVS(address operator) internal {
        address target = avs;
        bytes memory data = abi.encodeCall(IStakeListener.onStakeChanged, (operator));
        uint256 budget = STAKE_HOOK_GAS;
        // Enough for the whole budget (the 63/64 rule keeps 1/64 back), or a caller
        // could starve the listener on purpose and leave the AVS's weight stale.
        uint256 needed = budget * 64 / 63 + 10_000;
        if (gasleft() < needed) revert InsufficientGasForListener(needed, gasleft());
        bool ok;
        assembly ("memory-safe") {
            ok := call(budget, target, 0, add(data, 32), mload(data), 0, 0)
        }
        if (!ok) emit StakeListenerFailed(target, operator);
    }
}
