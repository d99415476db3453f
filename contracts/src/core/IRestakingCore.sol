// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title IRestakingCore
/// @notice What an AVS needs from the restaking layer: who is an operator, how much
/// stake an operator has allocated to it, and the power to slash and reward. Bulwark's
/// own RestakingCore implements it on the devnet; an adapter to EigenLayer or Symbiotic
/// would implement the same surface.
interface IRestakingCore {
    /// Registers the caller as an AVS.
    function registerAVS() external;

    /// Whether `operator` is a registered operator.
    function isOperator(address operator) external view returns (bool);

    /// Stake (in asset units) `operator` has allocated to `avs` now.
    function allocatedStake(address operator, address avs) external view returns (uint256);

    /// Slashes `wadFraction` (1e18 = all) of `operator`'s allocation to the calling AVS;
    /// returns the assets removed.
    function slash(address operator, uint256 wadFraction) external returns (uint256 slashed);

    /// Pays `amount` of `token` for `epoch` to `operator` and its stakers; the caller is
    /// the AVS and must have approved the core for `amount`.
    function fundRewards(address operator, address token, uint256 amount, uint64 epoch) external;
}
