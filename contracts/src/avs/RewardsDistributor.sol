// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IRestakingCore} from "../core/IRestakingCore.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";
import {TaskManager} from "./TaskManager.sol";

/// @title RewardsDistributor
/// @notice Pays an AVS's rewards per epoch. The AVS's owner funds an epoch with an
/// ERC20 and picks how it is split among operators:
/// - `SignedStake`: by the stake that signed the AVS's certificates in the epoch. An
///   operator's weight is its stake at each task's reference block, summed over the
///   epoch's tasks it signed; the total is `TaskManager.epochSignedStakeGwei`, the sum
///   of every certificate's signed stake, so the weights of all operators add up to
///   exactly the total.
/// - `Stake`: by the stake registered at the epoch's last block (allocation times
///   delegated stake), whether it signed or not.
/// Each operator's share goes through the core (`IRestakingCore.fundRewards`), where
/// the operator keeps its commission and its stakers' shares earn the rest.
///
/// Every AVS deploys its own from its constructor and names it in the core as its
/// rewards submitter.
///
/// # Security
/// Anyone may claim for an operator (the payment goes to the operator and its stakers,
/// never to the caller). Every claim is a claim, not a fact, until checked here: the
/// tasks must be distinct, answered in the epoch, and the non-signers given must hash
/// to what the certificate recorded, without the operator; its stake is read from the
/// registry's checkpoint at the task's reference block. A claim pays what the weight
/// proven now is owed minus what was paid before, so a claim with tasks left out (by a
/// careless or hostile caller) pays less and the full one later pays the rest; nothing
/// is paid twice, and the sum paid never exceeds the epoch's funds.
contract RewardsDistributor {
    using SafeERC20 for IERC20;

    enum Split {
        None,
        SignedStake,
        Stake
    }

    /// The funds of one epoch.
    struct Pot {
        IERC20 token;
        Split split;
        uint256 amount;
        uint256 paid;
    }

    TaskManager public immutable avs;
    IRestakingCore public immutable core;
    mapping(uint64 epoch => Pot) internal pots;
    /// What each operator has been paid for each epoch.
    mapping(uint64 epoch => mapping(address operator => uint256)) public paidTo;

    event EpochFunded(uint64 indexed epoch, address indexed token, Split split, uint256 amount, uint256 total);
    event RewardsPaid(
        uint64 indexed epoch, address indexed operator, uint256 weight, uint256 totalWeight, uint256 amount
    );

    error NotAVSOwner(address caller);
    error InvalidFunding();
    error PotMismatch(uint64 epoch, address token, Split split);
    error NotFunded(uint64 epoch);
    error EpochNotOver(uint64 epoch, uint256 endBlock);
    error LengthMismatch();
    error TasksNotAscending(uint256 taskId);
    error TaskNotAnswered(uint256 taskId);
    error TaskNotInEpoch(uint256 taskId, uint64 epoch);
    error NonSignersMismatch(uint256 taskId);
    error DidNotSign(uint256 taskId, address operator);
    error NotRegisteredAt(address operator, uint32 blockNumber);
    error TasksNotUsed();
    error NothingOwed(address operator, uint64 epoch);

    constructor(IRestakingCore core_) {
        avs = TaskManager(msg.sender);
        core = core_;
    }

    /// Adds `amount` of `token` to `epoch`'s rewards, split by `split`; only the AVS's
    /// owner, from its own balance (approve this contract first). An epoch has one
    /// token and one split; it can be topped up before or after it ends.
    function fund(uint64 epoch, IERC20 token, uint256 amount, Split split) external {
        if (msg.sender != avs.owner()) revert NotAVSOwner(msg.sender);
        if (split == Split.None || amount == 0 || address(token) == address(0)) revert InvalidFunding();
        Pot storage pot = pots[epoch];
        if (pot.split == Split.None) {
            (pot.token, pot.split) = (token, split);
        } else if (pot.token != token || pot.split != split) {
            revert PotMismatch(epoch, address(pot.token), pot.split);
        }
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        pot.amount += received;
        emit EpochFunded(epoch, address(token), split, received, pot.amount);
    }

    /// Pays `operator` (and, through the core, its stakers) what it is owed for
    /// `epoch` and has not been paid yet. For a `SignedStake` epoch, `taskIds` are the
    /// epoch's tasks it signed (ascending) and `nonSigners[i]` the non-signers of
    /// `taskIds[i]` (from `TaskNonSigners`; empty if all signed); for `Stake`, both
    /// are empty. Anyone may call, once the epoch is over.
    function claim(address operator, uint64 epoch, uint256[] calldata taskIds, address[][] calldata nonSigners)
        external
        returns (uint256 paid)
    {
        if (pots[epoch].split == Split.None) revert NotFunded(epoch);
        uint256 end = epochEnd(epoch);
        if (block.number < end) revert EpochNotOver(epoch, end);
        (uint256 weight, uint256 total) = weightOf(operator, epoch, taskIds, nonSigners);
        return _pay(operator, epoch, weight, total);
    }

    /// Pays `operator` the part of `epoch`'s funds its weight is owed, less what it
    /// was paid before.
    function _pay(address operator, uint64 epoch, uint256 weight, uint256 total) private returns (uint256 paid) {
        Pot storage pot = pots[epoch];
        uint256 owed = total == 0 ? 0 : pot.amount * weight / total;
        uint256 before = paidTo[epoch][operator];
        if (owed <= before) revert NothingOwed(operator, epoch);
        paid = owed - before;
        // Never more than the epoch's own funds, whatever the weights claim: one
        // epoch's claims cannot reach another's.
        if (paid > pot.amount - pot.paid) paid = pot.amount - pot.paid;
        if (paid == 0) revert NothingOwed(operator, epoch);
        paidTo[epoch][operator] = owed;
        pot.paid += paid;
        pot.token.forceApprove(address(core), paid);
        core.fundRewards(address(avs), operator, address(pot.token), paid, epoch);
        emit RewardsPaid(epoch, operator, weight, total, paid);
    }

    /// `operator`'s weight in `epoch` proven by the tasks given (see `claim`), and the
    /// epoch's total weight. Reverts on any claim it cannot prove.
    function weightOf(address operator, uint64 epoch, uint256[] calldata taskIds, address[][] calldata nonSigners)
        public
        view
        returns (uint256 weight, uint256 total)
    {
        if (taskIds.length != nonSigners.length) revert LengthMismatch();
        if (pots[epoch].split == Split.Stake) {
            if (taskIds.length != 0) revert TasksNotUsed();
            uint32 last = uint32(epochEnd(epoch) - 1);
            (OperatorRegistry.OperatorCheckpoint memory cp,) = avs.operatorAt(operator, last);
            if (cp.keyTag == bytes16(0)) revert NotRegisteredAt(operator, last);
            (OperatorRegistry.SetCheckpoint memory set,) = avs.setAt(last);
            return (cp.stakeGwei, set.totalStakeGwei);
        }
        uint32 blocks = avs.rewardEpochBlocks();
        for (uint256 i = 0; i < taskIds.length; i++) {
            if (i > 0 && taskIds[i] <= taskIds[i - 1]) revert TasksNotAscending(taskIds[i]);
            weight += _signedStake(operator, epoch, blocks, taskIds[i], nonSigners[i]);
        }
        total = avs.epochSignedStakeGwei(epoch);
    }

    /// `operator`'s stake in the certificate of task `id`, which must have been
    /// answered in `epoch` without `operator` among its non-signers `absent`.
    function _signedStake(address operator, uint64 epoch, uint32 blocks, uint256 id, address[] calldata absent)
        private
        view
        returns (uint256)
    {
        TaskManager.Task memory task = avs.getTask(id);
        if (task.respondedBlock == 0) revert TaskNotAnswered(id);
        // A task the contract answered itself (`_recordAnsweredTask`, threshold 0) was
        // signed by no one, and its stake is not in the epoch's total.
        if (task.thresholdBps == 0) revert TaskNotAnswered(id);
        if (task.respondedBlock / blocks != epoch) revert TaskNotInEpoch(id, epoch);
        bytes32 hash = absent.length == 0 ? bytes32(0) : keccak256(abi.encodePacked(absent));
        if (hash != task.nonSignersHash) revert NonSignersMismatch(id);
        for (uint256 j = 0; j < absent.length; j++) {
            if (absent[j] == operator) revert DidNotSign(id, operator);
        }
        (OperatorRegistry.OperatorCheckpoint memory cp,) = avs.operatorAt(operator, task.referenceBlock);
        if (cp.keyTag == bytes16(0)) revert NotRegisteredAt(operator, task.referenceBlock);
        return cp.stakeGwei;
    }

    /// The first block after `epoch`.
    function epochEnd(uint64 epoch) public view returns (uint256) {
        return (uint256(epoch) + 1) * avs.rewardEpochBlocks();
    }

    /// The epoch a block belongs to.
    function epochOf(uint256 blockNumber) external view returns (uint64) {
        return uint64(blockNumber / avs.rewardEpochBlocks());
    }

    /// `epoch`'s funds: token, split, amount funded and amount paid so far.
    function epochPot(uint64 epoch) external view returns (Pot memory) {
        return pots[epoch];
    }
}
