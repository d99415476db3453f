// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IMessageRecipient} from "./Inbox.sol";
import {Outbox} from "./Outbox.sol";

/// The payload of a token transfer between the vault and the wrapped token:
/// `abi.encode(address to, uint256 amount)`.
library TokenTransfer {
    function encode(address to, uint256 amount) internal pure returns (bytes memory) {
        return abi.encode(to, amount);
    }

    function decode(bytes calldata payload) internal pure returns (address to, uint256 amount) {
        return abi.decode(payload, (address, uint256));
    }
}

/// @title TokenVault
/// @notice The home side of a token bridge: tokens locked here are minted as
/// `WrappedToken` on the remote chain; wrapped tokens burned there are released here.
///
/// # Security
/// Releases come only from this chain's inbox, for messages whose source is the
/// remote chain and whose sender is the wrapped token contract (the inbox has proven
/// both with a certificate). So at most what was burned there is released here, and
/// wrapped tokens are minted only for what was locked (the wrapped token checks the
/// same of this vault). The amount locked is what arrived, so a token that takes a fee
/// on transfer cannot mint more than it delivered; locks and releases do not nest, so
/// a token that calls back during a transfer (ERC-777 hooks) cannot count one
/// arrival twice.
contract TokenVault is IMessageRecipient, ReentrancyGuard {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    Outbox public immutable outbox;
    address public immutable inbox;
    uint256 public immutable remoteChainId;
    address private immutable deployer;
    /// The wrapped token on the remote chain (set once: it is deployed after this).
    address public remoteToken;

    event Locked(bytes32 indexed id, address indexed from, address to, uint256 amount);
    event Released(address indexed to, uint256 amount);

    error RemoteAlreadySet();
    error RemoteNotSet();
    error NotTheInbox(address caller);
    error NotTheWrappedToken(uint256 chainId, address sender);
    error ZeroAmount();
    error ZeroRecipient();

    constructor(IERC20 token_, Outbox outbox_, address inbox_, uint256 remoteChainId_) {
        token = token_;
        outbox = outbox_;
        inbox = inbox_;
        remoteChainId = remoteChainId_;
        deployer = msg.sender;
    }

    /// Names the wrapped token on the remote chain; once, by the deployer.
    function setRemote(address remoteToken_) external {
        if (msg.sender != deployer || remoteToken != address(0)) revert RemoteAlreadySet();
        remoteToken = remoteToken_;
    }

    /// Locks `amount` of the caller's tokens and sends `to` as many wrapped tokens on
    /// the remote chain; returns the message id.
    function lock(uint256 amount, address to) external nonReentrant returns (bytes32 id) {
        if (remoteToken == address(0)) revert RemoteNotSet();
        if (to == address(0)) revert ZeroRecipient();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        id = outbox.send(remoteChainId, remoteToken, TokenTransfer.encode(to, received));
        emit Locked(id, msg.sender, to, received);
    }

    /// Releases tokens burned on the remote chain.
    function onMessage(uint256 sourceChainId, address sender, bytes calldata payload) external nonReentrant {
        if (msg.sender != inbox) revert NotTheInbox(msg.sender);
        if (sourceChainId != remoteChainId || sender != remoteToken) revert NotTheWrappedToken(sourceChainId, sender);
        (address to, uint256 amount) = TokenTransfer.decode(payload);
        token.safeTransfer(to, amount);
        emit Released(to, amount);
    }
}

/// @title WrappedToken
/// @notice The remote side of a token bridge: minted for tokens locked in the home
/// chain's `TokenVault`, burned to release them there. Mints come only from this
/// chain's inbox, for messages the vault sent.
contract WrappedToken is ERC20, IMessageRecipient {
    Outbox public immutable outbox;
    address public immutable inbox;
    uint256 public immutable homeChainId;
    address public immutable vault;

    event Burned(bytes32 indexed id, address indexed from, address to, uint256 amount);

    error NotTheInbox(address caller);
    error NotTheVault(uint256 chainId, address sender);
    error ZeroAmount();
    error ZeroRecipient();

    constructor(string memory name_, string memory symbol_, Outbox outbox_, address inbox_, uint256 homeChainId_, address vault_)
        ERC20(name_, symbol_)
    {
        outbox = outbox_;
        inbox = inbox_;
        homeChainId = homeChainId_;
        vault = vault_;
    }

    /// Mints what the vault locked.
    function onMessage(uint256 sourceChainId, address sender, bytes calldata payload) external {
        if (msg.sender != inbox) revert NotTheInbox(msg.sender);
        if (sourceChainId != homeChainId || sender != vault) revert NotTheVault(sourceChainId, sender);
        (address to, uint256 amount) = TokenTransfer.decode(payload);
        _mint(to, amount);
    }

    /// Burns `amount` of the caller's wrapped tokens and has the vault release as many
    /// to `to` on the home chain; returns the message id.
    function burn(uint256 amount, address to) external returns (bytes32 id) {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroRecipient();
        _burn(msg.sender, amount);
        id = outbox.send(homeChainId, vault, TokenTransfer.encode(to, amount));
        emit Burned(id, msg.sender, to, amount);
    }
}
