// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// What SlashVeto reads of the AVS that deployed it.
interface IVetoedAVS {
    function owner() external view returns (address);
    function challengeWindow() external view returns (uint32);
    function slashableBlocks() external view returns (uint32);
}

/// @title SlashVeto
/// @notice An AVS's optional veto window: a proven offence waits `vetoBlocks` blocks,
/// during which the resolver the AVS's owner names can cancel it (`veto`); then anyone
/// executes it through the AVS (`TaskManager.executeSlash`). With `vetoBlocks == 0`
/// (the default) nothing is queued and slashes land with their proof.
///
/// Every AVS deploys its own from its constructor (like ProofVerifier), so the queue
/// costs the AVS's runtime code only the two calls into it. The AVS is the only one
/// that queues and takes slashes; its owner the only one that sets the veto.
///
/// # Security
/// The window and the veto together must fit in the core's withdrawal delay
/// (`setVeto` refuses more, and the AVS closes challenges `vetoBlocks` early): a slash
/// executed later could find the stake that signed already withdrawn. A vetoed proof
/// stays spent: the same offence on the same task is not queued again.
contract SlashVeto {
    enum Status {
        None,
        Pending,
        Vetoed,
        Executed
    }

    /// A proven offence waiting out the veto window.
    struct Slash {
        uint256 taskId;
        address operator;
        uint32 readyBlock;
        Status status;
        bytes32 offence;
        uint256 wadFraction;
        address challenger;
    }

    /// The AVS whose slashes wait here.
    IVetoedAVS public immutable avs;
    /// Blocks a proven offence waits before it can be executed (0: no veto).
    uint32 public vetoBlocks;
    /// Who may cancel a queued slash during its window.
    address public resolver;
    Slash[] internal slashes;

    event VetoSet(address resolver, uint32 vetoBlocks);
    event SlashQueued(
        uint256 indexed slashId,
        uint256 indexed taskId,
        address indexed operator,
        bytes32 offence,
        uint32 readyBlock,
        address challenger
    );
    event SlashVetoed(uint256 indexed slashId, address resolver);

    error NotAVS(address caller);
    error NotAVSOwner(address caller);
    error NotResolver(address caller);
    error InvalidVeto(address resolver, uint32 vetoBlocks);
    error UnknownSlash(uint256 slashId);
    error SlashNotPending(uint256 slashId, Status status);
    error VetoWindowOpen(uint256 slashId, uint256 readyBlock);
    error VetoWindowClosed(uint256 slashId, uint256 readyBlock);

    constructor() {
        avs = IVetoedAVS(msg.sender);
    }

    /// Queues every proven offence of the AVS for `blocks` blocks, in which `resolver_`
    /// may cancel it; `blocks == 0` turns the veto off. Only the AVS's owner.
    function setVeto(address resolver_, uint32 blocks) external {
        if (msg.sender != avs.owner()) revert NotAVSOwner(msg.sender);
        if ((blocks != 0 && resolver_ == address(0)) || uint256(avs.challengeWindow()) + blocks > avs.slashableBlocks())
        {
            revert InvalidVeto(resolver_, blocks);
        }
        resolver = resolver_;
        vetoBlocks = blocks;
        emit VetoSet(resolver_, blocks);
    }

    /// Queues a proven offence if a veto window is set; returns whether it did (if
    /// not, the AVS slashes at once). Only the AVS.
    function queue(uint256 taskId, address operator, bytes32 offence, uint256 wadFraction, address challenger)
        external
        returns (bool queued)
    {
        if (msg.sender != address(avs)) revert NotAVS(msg.sender);
        uint32 blocks = vetoBlocks;
        if (blocks == 0) return false;
        uint256 slashId = slashes.length;
        uint32 ready = uint32(block.number) + blocks;
        slashes.push(
            Slash({
                taskId: taskId,
                operator: operator,
                readyBlock: ready,
                status: Status.Pending,
                offence: offence,
                wadFraction: wadFraction,
                challenger: challenger
            })
        );
        emit SlashQueued(slashId, taskId, operator, offence, ready, challenger);
        return true;
    }

    /// Marks a queued slash executed once its window has passed and returns it, for
    /// the AVS to carry out. Only the AVS.
    function take(uint256 slashId) external returns (Slash memory) {
        if (msg.sender != address(avs)) revert NotAVS(msg.sender);
        Slash storage s = _pending(slashId);
        if (block.number < s.readyBlock) revert VetoWindowOpen(slashId, s.readyBlock);
        s.status = Status.Executed;
        return s;
    }

    /// Cancels a queued slash inside its window. Only the resolver.
    function veto(uint256 slashId) external {
        if (msg.sender != resolver) revert NotResolver(msg.sender);
        Slash storage s = _pending(slashId);
        if (block.number >= s.readyBlock) revert VetoWindowClosed(slashId, s.readyBlock);
        s.status = Status.Vetoed;
        emit SlashVetoed(slashId, msg.sender);
    }

    /// A queued slash.
    function slash(uint256 slashId) external view returns (Slash memory) {
        if (slashId >= slashes.length) revert UnknownSlash(slashId);
        return slashes[slashId];
    }

    /// How many slashes were ever queued (ids are 0 .. count-1).
    function slashCount() external view returns (uint256) {
        return slashes.length;
    }

    function _pending(uint256 slashId) private view returns (Slash storage s) {
        if (slashId >= slashes.length) revert UnknownSlash(slashId);
        s = slashes[slashId];
        if (s.status != Status.Pending) revert SlashNotPending(slashId, s.status);
    }
}
