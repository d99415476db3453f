// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

// The parts of EigenLayer's core (slashing release, v1.3) the adapter calls, declared
// from their published ABIs. No EigenLayer code is in this repository: tests deploy
// the real contracts from bytecode fetched at test time (tools/eigenlayer).

/// An operator set: an AVS and an id.
struct OperatorSet {
    address avs;
    uint32 id;
}

/// `IAllocationManager.CreateSetParams`.
struct CreateSetParams {
    uint32 operatorSetId;
    address[] strategies;
}

/// `IAllocationManager.SlashingParams`.
struct SlashingParams {
    address operator;
    uint32 operatorSetId;
    address[] strategies;
    uint256[] wadsToSlash;
    string description;
}

/// `IAllocationManager.AllocateParams`.
struct AllocateParams {
    OperatorSet operatorSet;
    address[] strategies;
    uint64[] newMagnitudes;
}

/// `IAllocationManager.RegisterParams`.
struct RegisterParams {
    address avs;
    uint32[] operatorSetIds;
    bytes data;
}

interface IAllocationManager {
    function updateAVSMetadataURI(address avs, string calldata metadataURI) external;
    function createOperatorSets(address avs, CreateSetParams[] calldata params) external;
    function setAVSRegistrar(address avs, address registrar) external;
    function slashOperator(address avs, SlashingParams calldata params) external;
    function isMemberOfOperatorSet(address operator, OperatorSet memory operatorSet) external view returns (bool);
    function getMinimumSlashableStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        address[] memory strategies,
        uint32 futureBlock
    ) external view returns (uint256[][] memory);
    function DEALLOCATION_DELAY() external view returns (uint32);
    function modifyAllocations(address operator, AllocateParams[] calldata params) external;
    function registerForOperatorSets(address operator, RegisterParams calldata params) external;
}

/// `IRewardsCoordinatorTypes.StrategyAndMultiplier`.
struct StrategyAndMultiplier {
    address strategy;
    uint96 multiplier;
}

/// `IRewardsCoordinatorTypes.OperatorReward`.
struct OperatorReward {
    address operator;
    uint256 amount;
}

/// `IRewardsCoordinatorTypes.OperatorDirectedRewardsSubmission`.
struct OperatorDirectedRewardsSubmission {
    StrategyAndMultiplier[] strategiesAndMultipliers;
    address token;
    OperatorReward[] operatorRewards;
    uint32 startTimestamp;
    uint32 duration;
    string description;
}

interface IRewardsCoordinator {
    function CALCULATION_INTERVAL_SECONDS() external view returns (uint32);
    function createOperatorDirectedOperatorSetRewardsSubmission(
        OperatorSet calldata operatorSet,
        OperatorDirectedRewardsSubmission[] calldata submissions
    ) external;
}

interface IDelegationManager {
    function minWithdrawalDelayBlocks() external view returns (uint32);
    function getOperatorShares(address operator, address[] memory strategies) external view returns (uint256[] memory);
}

interface IStrategy {
    function sharesToUnderlyingView(uint256 amountShares) external view returns (uint256);
    function underlyingToken() external view returns (address);
}

/// What the AllocationManager calls on an operator set's registrar.
interface IAVSRegistrar {
    function registerOperator(address operator, address avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external;
    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds) external;
    function supportsAVS(address avs) external view returns (bool);
}
