// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IRestakingCore, IStakeListener} from "./IRestakingCore.sol";

/// @title RestakingCore
/// @notice The restaking layer of Bulwark's devnet and tests: stakers deposit a liquid
/// staking token for shares and delegate them to an operator; operators allocate a share
/// of their delegated stake to each of several AVSs; an AVS can slash what is allocated
/// to it and pay rewards that the operator and its stakers share.
///
/// @dev Accounting is per operator pool: every operator has a pool of assets and shares
/// (address(0) is the pool of undelegated stake, never slashable). Slashing removes
/// assets from a pool without touching shares, so the loss falls pro rata on every
/// share in it, queued withdrawals included. Allocations are basis points of the pool,
/// each up to 100%: the same stake secures several AVSs at once, which is what makes
/// slashes from several AVSs compound. Allocation decreases and withdrawals take
/// `withdrawalDelay` blocks, during which the stake stays slashable.
contract RestakingCore is IRestakingCore, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// Virtual shares and assets in every pool: they make the first depositor unable to
    /// inflate the share price against later ones, and keep a fully slashed pool usable.
    uint256 internal constant VIRTUAL_SHARES = 1e3;
    uint256 internal constant VIRTUAL_ASSETS = 1;
    uint256 internal constant ACC_PRECISION = 1e27;
    /// Bounds the per-token loop every share change runs.
    uint256 public constant MAX_REWARD_TOKENS = 8;
    /// Bounds the AVSs one operator opts into, so a slash tells each at a bounded cost.
    uint256 public constant MAX_AVS_PER_OPERATOR = 16;
    /// Gas each AVS gets to hear of a slash (`IStakeListener.onStakeChanged`): enough
    /// for a registry to re-read the stake and write its checkpoints.
    uint256 public constant STAKE_HOOK_GAS = 250_000;

    IERC20 public immutable asset;
    uint32 public immutable withdrawalDelay;

    struct Pool {
        uint256 assets;
        uint256 shares;
        uint256 queuedShares;
    }

    struct OperatorInfo {
        bool registered;
        uint16 commissionBps;
    }

    struct Allocation {
        bool optedIn;
        uint16 bps;
        uint16 pendingBps;
        uint32 effectiveBlock;
    }

    struct Withdrawal {
        address staker;
        address operator;
        uint32 startBlock;
        bool completed;
        uint256 shares;
    }

    mapping(address operator => Pool) internal pools;
    mapping(address operator => OperatorInfo) public operatorInfo;
    mapping(address avs => bool) public isAVS;
    mapping(address staker => address operator) public delegatedTo;
    mapping(address staker => uint256) public sharesOf;
    mapping(address operator => mapping(address avs => Allocation)) internal allocations;
    Withdrawal[] internal withdrawals;

    mapping(address operator => address[]) internal rewardTokens;
    mapping(address operator => mapping(address token => uint256)) public rewardPerShare;
    mapping(address staker => mapping(address operator => mapping(address token => uint256))) internal rewardDebt;
    mapping(address account => mapping(address token => uint256)) public claimableRewards;
    /// The contract each AVS lets fund rewards in its name (see `setRewardsSubmitter`).
    mapping(address avs => address submitter) public rewardsSubmitter;
    /// Every AVS each operator has opted into, in opt-in order: told of its slashes.
    mapping(address operator => address[]) internal avsesOf;

    event OperatorRegistered(address indexed operator, uint16 commissionBps);
    event CommissionSet(address indexed operator, uint16 commissionBps);
    event AVSRegistered(address indexed avs);
    event Deposited(address indexed staker, address indexed operator, uint256 assets, uint256 shares);
    event Delegated(address indexed staker, address indexed operator, uint256 shares);
    event Undelegated(address indexed staker, address indexed operator);
    event WithdrawalQueued(
        uint256 indexed id, address indexed staker, address indexed operator, uint256 shares, uint32 startBlock
    );
    event WithdrawalCompleted(uint256 indexed id, address indexed staker, uint256 assets);
    event AllocationSet(address indexed operator, address indexed avs, uint16 bps, uint32 effectiveBlock);
    event OperatorSlashed(
        address indexed operator, address indexed avs, uint256 wadFraction, uint256 slashed, uint256 remainingAssets
    );
    event RewardsFunded(
        address indexed avs, address indexed operator, address indexed token, uint64 epoch, uint256 amount, uint256 commission
    );
    event RewardsClaimed(address indexed account, address indexed token, uint256 amount);
    /// An AVS failed to take a stake change (it reverted or ran out of its gas); the
    /// slash stands, and anyone can bring that AVS's registry up to date.
    event RewardsSubmitterSet(address indexed avs, address submitter);
    event StakeListenerFailed(address indexed avs, address indexed operator);

    error NotOperator(address account);
    error AlreadyOperator(address account);
    error NotAVS(address account);
    error AlreadyAVS(address account);
    error AlreadyDelegated(address staker, address operator);
    error InvalidBps(uint256 bps);
    error ZeroAmount();
    error InsufficientShares(uint256 requested, uint256 available);
    error NotWithdrawalOwner(uint256 id);
    error WithdrawalAlreadyCompleted(uint256 id);
    error WithdrawalDelayNotElapsed(uint256 id, uint256 readyAtBlock);
    error UnknownWithdrawal(uint256 id);
    error SlashExceedsAllocation(uint256 wadFraction);
    error NothingAllocated(address operator, address avs);
    error NotRewardsSubmitter(address avs, address caller);
    error TooManyRewardTokens(address operator);
    error TooManyAVSs(address operator);
    /// Not enough gas was left to tell every AVS of a slash (see `slash`).
    error InsufficientGasForListeners(uint256 needed, uint256 left);

    constructor(IERC20 asset_, uint32 withdrawalDelay_) {
        asset = asset_;
        withdrawalDelay = withdrawalDelay_;
    }

    // ---------------------------------------------------------------- registration

    /// Registers the caller as an operator taking `commissionBps` of rewards.
    function registerOperator(uint16 commissionBps) external {
        if (operatorInfo[msg.sender].registered) revert AlreadyOperator(msg.sender);
        if (commissionBps > BPS) revert InvalidBps(commissionBps);
        operatorInfo[msg.sender] = OperatorInfo({registered: true, commissionBps: commissionBps});
        emit OperatorRegistered(msg.sender, commissionBps);
    }

    /// Changes the caller's commission for rewards funded from now on.
    function setCommission(uint16 commissionBps) external {
        if (!operatorInfo[msg.sender].registered) revert NotOperator(msg.sender);
        if (commissionBps > BPS) revert InvalidBps(commissionBps);
        operatorInfo[msg.sender].commissionBps = commissionBps;
        emit CommissionSet(msg.sender, commissionBps);
    }

    /// @inheritdoc IRestakingCore
    function registerAVS() external {
        if (isAVS[msg.sender]) revert AlreadyAVS(msg.sender);
        isAVS[msg.sender] = true;
        emit AVSRegistered(msg.sender);
    }

    /// @inheritdoc IRestakingCore
    function isOperator(address operator) external view returns (bool) {
        return operatorInfo[operator].registered;
    }

    // ---------------------------------------------------------------- stakers

    /// Deposits `amount` of the asset into the caller's pool (its operator's, or the
    /// undelegated pool) for shares.
    function deposit(uint256 amount) external nonReentrant returns (uint256 shares) {
        if (amount == 0) revert ZeroAmount();
        address operator = delegatedTo[msg.sender];
        _settleRewards(msg.sender, operator);
        Pool storage pool = pools[operator];
        shares = _toShares(pool, amount);
        if (shares == 0) revert ZeroAmount();
        pool.assets += amount;
        pool.shares += shares;
        sharesOf[msg.sender] += shares;
        _resetRewardDebt(msg.sender, operator);
        asset.safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(msg.sender, operator, amount, shares);
    }

    /// Delegates all of the caller's (undelegated) stake to `operator`.
    function delegate(address operator) external nonReentrant {
        if (!operatorInfo[operator].registered) revert NotOperator(operator);
        address current = delegatedTo[msg.sender];
        if (current != address(0)) revert AlreadyDelegated(msg.sender, current);
        uint256 oldShares = sharesOf[msg.sender];
        uint256 newShares;
        if (oldShares > 0) {
            Pool storage from = pools[address(0)];
            uint256 assets = _toAssets(from, oldShares);
            from.assets -= assets;
            from.shares -= oldShares;
            Pool storage to = pools[operator];
            newShares = _toShares(to, assets);
            to.assets += assets;
            to.shares += newShares;
        }
        delegatedTo[msg.sender] = operator;
        sharesOf[msg.sender] = newShares;
        _resetRewardDebt(msg.sender, operator);
        emit Delegated(msg.sender, operator, newShares);
    }

    /// Queues `shares` of the caller's stake for withdrawal; they stay in the pool, and
    /// slashable, for `withdrawalDelay` blocks.
    function queueWithdrawal(uint256 shares) external nonReentrant returns (uint256 id) {
        return _queueWithdrawal(msg.sender, shares);
    }

    /// Queues all of the caller's shares for withdrawal and leaves its operator.
    function undelegate() external nonReentrant returns (uint256 id) {
        address operator = delegatedTo[msg.sender];
        if (operator == address(0)) revert NotOperator(address(0));
        id = type(uint256).max;
        uint256 shares = sharesOf[msg.sender];
        if (shares > 0) id = _queueWithdrawal(msg.sender, shares);
        delegatedTo[msg.sender] = address(0);
        emit Undelegated(msg.sender, operator);
    }

    /// Pays out a queued withdrawal once its delay has passed, at the pool's share price
    /// then: any slash during the delay is borne.
    function completeWithdrawal(uint256 id) external nonReentrant returns (uint256 assets) {
        if (id >= withdrawals.length) revert UnknownWithdrawal(id);
        Withdrawal storage w = withdrawals[id];
        if (w.staker != msg.sender) revert NotWithdrawalOwner(id);
        if (w.completed) revert WithdrawalAlreadyCompleted(id);
        uint256 readyAt = uint256(w.startBlock) + withdrawalDelay;
        if (block.number < readyAt) revert WithdrawalDelayNotElapsed(id, readyAt);
        Pool storage pool = pools[w.operator];
        assets = _toAssets(pool, w.shares);
        pool.assets -= assets;
        pool.shares -= w.shares;
        pool.queuedShares -= w.shares;
        w.completed = true;
        asset.safeTransfer(msg.sender, assets);
        emit WithdrawalCompleted(id, msg.sender, assets);
    }

    // ---------------------------------------------------------------- operators and AVSs

    /// Sets the share of the caller's delegated stake allocated to `avs`. Increases take
    /// effect at once; decreases after `withdrawalDelay` blocks, so stake cannot leave
    /// ahead of a slash.
    function allocate(address avs, uint16 bps) external {
        if (!operatorInfo[msg.sender].registered) revert NotOperator(msg.sender);
        if (!isAVS[avs]) revert NotAVS(avs);
        if (bps > BPS) revert InvalidBps(bps);
        Allocation storage a = allocations[msg.sender][avs];
        uint16 current = _effectiveBps(a);
        if (!a.optedIn) {
            if (avsesOf[msg.sender].length >= MAX_AVS_PER_OPERATOR) revert TooManyAVSs(msg.sender);
            avsesOf[msg.sender].push(avs);
        }
        a.optedIn = true;
        if (bps >= current) {
            a.bps = bps;
            a.pendingBps = 0;
            a.effectiveBlock = 0;
            emit AllocationSet(msg.sender, avs, bps, uint32(block.number));
        } else {
            a.bps = current;
            a.pendingBps = bps;
            a.effectiveBlock = uint32(block.number) + withdrawalDelay;
            emit AllocationSet(msg.sender, avs, bps, a.effectiveBlock);
            // The AVS weighs the lower allocation from now on (`allocatedStake`), while
            // the higher one stays slashable until it takes effect: tell it now.
            _tellListeners(msg.sender);
        }
    }

    /// @inheritdoc IRestakingCore
    function slash(address operator, uint256 wadFraction) external nonReentrant returns (uint256 slashed) {
        if (!isAVS[msg.sender]) revert NotAVS(msg.sender);
        if (wadFraction == 0 || wadFraction > WAD) revert SlashExceedsAllocation(wadFraction);
        uint256 bps = _effectiveBps(allocations[operator][msg.sender]);
        if (bps == 0) revert NothingAllocated(operator, msg.sender);
        Pool storage pool = pools[operator];
        slashed = pool.assets * bps * wadFraction / (BPS * WAD);
        pool.assets -= slashed;
        if (slashed > 0) asset.safeTransfer(msg.sender, slashed);
        emit OperatorSlashed(operator, msg.sender, wadFraction, slashed, pool.assets);
        _tellListeners(operator);
    }

    /// Tells every AVS `operator` is opted into that its stake changed.
    ///
    /// @dev Each gets `STAKE_HOOK_GAS` through a raw call that copies no return data: a
    /// listener that reverts, loops or returns a huge buffer costs at most its budget,
    /// and one with no code (anyone can register as an AVS) is a call that succeeds. The
    /// caller must leave enough gas for every budget, or the slash reverts: otherwise a
    /// challenger could starve the listeners on purpose and leave the operator's weight
    /// unchanged elsewhere (the 63/64 rule keeps 1/64 back, hence the margin).
    function _tellListeners(address operator) internal {
        address[] storage avses = avsesOf[operator];
        uint256 n = avses.length;
        uint256 needed = n * STAKE_HOOK_GAS * 64 / 63 + 10_000;
        if (gasleft() < needed) revert InsufficientGasForListeners(needed, gasleft());
        bytes memory data = abi.encodeCall(IStakeListener.onStakeChanged, (operator));
        for (uint256 i = 0; i < n; i++) {
            address avs = avses[i];
            uint256 budget = STAKE_HOOK_GAS;
            bool ok;
            assembly ("memory-safe") {
                ok := call(budget, avs, 0, add(data, 32), mload(data), 0, 0)
            }
            if (!ok) emit StakeListenerFailed(avs, operator);
        }
    }

    // ---------------------------------------------------------------- rewards

    /// @inheritdoc IRestakingCore
    /// @dev The core keeps no per-epoch ledger: how much each operator earns in an
    /// epoch, and that it is paid once, is the AVS's distributor's to decide (it may
    /// top up an epoch). `epoch` labels the payment for indexers.
    function fundRewards(address avs, address operator, address token, uint256 amount, uint64 epoch)
        external
        nonReentrant
    {
        if (!isAVS[avs]) revert NotAVS(avs);
        if (msg.sender != avs && msg.sender != rewardsSubmitter[avs]) revert NotRewardsSubmitter(avs, msg.sender);
        if (!operatorInfo[operator].registered) revert NotOperator(operator);
        if (amount == 0) revert ZeroAmount();
        _trackRewardToken(operator, token);

        Pool storage pool = pools[operator];
        uint256 activeShares = pool.shares - pool.queuedShares;
        uint256 commission = amount * operatorInfo[operator].commissionBps / BPS;
        uint256 toStakers = amount - commission;
        if (activeShares == 0) {
            commission = amount;
            toStakers = 0;
        }
        claimableRewards[operator][token] += commission;
        if (toStakers > 0) rewardPerShare[operator][token] += toStakers * ACC_PRECISION / activeShares;
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit RewardsFunded(avs, operator, token, epoch, amount, commission);
    }

    /// @inheritdoc IRestakingCore
    function setRewardsSubmitter(address submitter) external {
        if (!isAVS[msg.sender]) revert NotAVS(msg.sender);
        rewardsSubmitter[msg.sender] = submitter;
        emit RewardsSubmitterSet(msg.sender, submitter);
    }

    /// Pays the caller everything it has earned in `token`, as staker and as operator.
    function claimRewards(address token) external nonReentrant returns (uint256 amount) {
        address operator = delegatedTo[msg.sender];
        _settleRewards(msg.sender, operator);
        _resetRewardDebt(msg.sender, operator);
        amount = claimableRewards[msg.sender][token];
        claimableRewards[msg.sender][token] = 0;
        if (amount > 0) IERC20(token).safeTransfer(msg.sender, amount);
        emit RewardsClaimed(msg.sender, token, amount);
    }

    /// Rewards `account` could claim in `token` now.
    function pendingRewards(address account, address token) external view returns (uint256) {
        address operator = delegatedTo[account];
        uint256 pending = claimableRewards[account][token];
        if (operator != address(0)) {
            pending += sharesOf[account] * rewardPerShare[operator][token] / ACC_PRECISION
                - rewardDebt[account][operator][token];
        }
        return pending;
    }

    // ---------------------------------------------------------------- views

    /// Every AVS `operator` has opted into (each is told of its slashes).
    function avsesOfOperator(address operator) external view returns (address[] memory) {
        return avsesOf[operator];
    }

    /// @inheritdoc IRestakingCore
    /// @dev The weight an AVS may count: active stake (queued withdrawals excluded)
    /// times the allocation, a pending decrease counted at once. What is slashable
    /// (`slash`) is never less until the stake has left: queued withdrawals stay in the
    /// pool and a decrease takes effect `withdrawalDelay` blocks later, so every
    /// certificate's weight stays slashable for a withdrawal delay after its
    /// reference block.
    function allocatedStake(address operator, address avs) external view returns (uint256) {
        Allocation storage a = allocations[operator][avs];
        uint16 weightBps = a.effectiveBlock != 0 ? a.pendingBps : a.bps;
        return activeStake(operator) * weightBps / BPS;
    }

    /// Assets of `operator`'s pool that are not queued for withdrawal: what it offers AVSs.
    function activeStake(address operator) public view returns (uint256) {
        Pool storage pool = pools[operator];
        return _toAssets(pool, pool.shares - pool.queuedShares);
    }

    /// All assets in `operator`'s pool, queued withdrawals included: what can be slashed.
    function slashableStake(address operator) external view returns (uint256) {
        return pools[operator].assets;
    }

    /// The pool of `operator` (address(0): undelegated stake).
    function poolOf(address operator) external view returns (uint256 assets, uint256 shares, uint256 queuedShares) {
        Pool storage p = pools[operator];
        return (p.assets, p.shares, p.queuedShares);
    }

    /// The allocation of `operator` to `avs` in force now, and a pending decrease.
    function allocation(address operator, address avs)
        external
        view
        returns (uint16 bps, uint16 pendingBps, uint32 effectiveBlock)
    {
        Allocation storage a = allocations[operator][avs];
        bps = _effectiveBps(a);
        if (a.effectiveBlock > block.number) (pendingBps, effectiveBlock) = (a.pendingBps, a.effectiveBlock);
    }

    /// Assets `staker`'s active shares are worth now.
    function stakeOf(address staker) external view returns (uint256) {
        return _toAssets(pools[delegatedTo[staker]], sharesOf[staker]);
    }

    /// A queued withdrawal.
    function withdrawal(uint256 id) external view returns (Withdrawal memory) {
        if (id >= withdrawals.length) revert UnknownWithdrawal(id);
        return withdrawals[id];
    }

    /// How many withdrawals were ever queued (ids are 0 .. count-1).
    function withdrawalCount() external view returns (uint256) {
        return withdrawals.length;
    }

    // ---------------------------------------------------------------- internals

    function _queueWithdrawal(address staker, uint256 shares) internal returns (uint256 id) {
        uint256 available = sharesOf[staker];
        if (shares == 0) revert ZeroAmount();
        if (shares > available) revert InsufficientShares(shares, available);
        address operator = delegatedTo[staker];
        _settleRewards(staker, operator);
        sharesOf[staker] = available - shares;
        pools[operator].queuedShares += shares;
        _resetRewardDebt(staker, operator);
        id = withdrawals.length;
        withdrawals.push(
            Withdrawal({
                staker: staker, operator: operator, startBlock: uint32(block.number), completed: false, shares: shares
            })
        );
        emit WithdrawalQueued(id, staker, operator, shares, uint32(block.number));
        // The operator's weight drops now (queued shares are not active stake), while
        // they stay slashable until completed: tell its AVSs now.
        if (operator != address(0)) _tellListeners(operator);
    }

    function _effectiveBps(Allocation storage a) internal view returns (uint16) {
        if (a.effectiveBlock != 0 && block.number >= a.effectiveBlock) return a.pendingBps;
        return a.bps;
    }

    function _toShares(Pool storage p, uint256 assets) internal view returns (uint256) {
        return assets * (p.shares + VIRTUAL_SHARES) / (p.assets + VIRTUAL_ASSETS);
    }

    function _toAssets(Pool storage p, uint256 shares) internal view returns (uint256) {
        return shares * (p.assets + VIRTUAL_ASSETS) / (p.shares + VIRTUAL_SHARES);
    }

    function _trackRewardToken(address operator, address token) internal {
        address[] storage tokens = rewardTokens[operator];
        for (uint256 i = 0; i < tokens.length; i++) {
            if (tokens[i] == token) return;
        }
        if (tokens.length == MAX_REWARD_TOKENS) revert TooManyRewardTokens(operator);
        tokens.push(token);
    }

    /// Credits what `staker` earned on its current shares since its debt was last set.
    function _settleRewards(address staker, address operator) internal {
        if (operator == address(0)) return;
        address[] storage tokens = rewardTokens[operator];
        uint256 shares = sharesOf[staker];
        for (uint256 i = 0; i < tokens.length; i++) {
            address token = tokens[i];
            uint256 accrued = shares * rewardPerShare[operator][token] / ACC_PRECISION;
            claimableRewards[staker][token] += accrued - rewardDebt[staker][operator][token];
        }
    }

    function _resetRewardDebt(address staker, address operator) internal {
        if (operator == address(0)) return;
        address[] storage tokens = rewardTokens[operator];
        uint256 shares = sharesOf[staker];
        for (uint256 i = 0; i < tokens.length; i++) {
            address token = tokens[i];
            rewardDebt[staker][operator][token] = shares * rewardPerShare[operator][token] / ACC_PRECISION;
        }
    }
}
