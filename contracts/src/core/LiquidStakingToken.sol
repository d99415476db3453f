// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title LiquidStakingToken
/// @notice The devnet's stand-in for a liquid staking token (stETH, rETH, ...): an ERC20
/// its owner mints to stakers, so restaking can be exercised without a beacon chain.
contract LiquidStakingToken is ERC20, Ownable {
    constructor(address owner) ERC20("Bulwark Staked Ether", "bsETH") Ownable(owner) {}

    /// Mints `amount` to `to`; only the devnet deployer.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
