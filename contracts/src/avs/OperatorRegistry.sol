// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "../bls/BLS.sol";
import {IRestakingCore, IStakeListener} from "../core/IRestakingCore.sol";
import {ProofVerifier} from "./ProofVerifier.sol";

/// @title OperatorRegistry
/// @notice An AVS's operator set: each operator's BLS public key (registered once, with a
/// proof of possession checked on-chain), its stake allocated to this AVS, and the
/// aggregate public key of the set, all checkpointed by block so the set, keys and
/// stakes at any past block can be read and certificates checked against them.
///
/// @dev Checkpoints are single storage slots `(fromBlock, untilBlock, stake, tag)` kept in
/// index-addressed mappings, not OpenZeppelin's Checkpoints: a certificate names the index
/// (a "hint") of each entry it relies on, so the verifier pays one cold SLOAD per entry
/// instead of a binary search, which is what keeps a non-signer under 5k gas. `tag` is
/// the first 16 bytes of keccak256 of a G2 point's EIP-2537 encoding: the verifier takes
/// points from calldata and checks them against it (a 128-bit second preimage is out of
/// reach). Stakes are kept in gwei (uint64: up to 1.8e10 ETH) to fit the slot.
///
/// # Security
/// A key's proof of possession signs, under the POP tag, the key followed by
/// `possessionBinding(operator)`:
///
/// ```
/// compressed public key   96 bytes  (ZCash format, as BLS.compress)
/// POSSESSION_TAG          32 bytes  "bulwark.possession.v1", right-padded
/// chain id                32 bytes  block.chainid, big-endian
/// registry                20 bytes  address(this)
/// operator                20 bytes  the registering account (msg.sender)
/// ```
///
/// bulwark-crypto's `PossessionBinding` builds the same bytes. Without the binding a
/// proof is public once it has been in a mempool: anyone could register the key with
/// the copied proof first and, keys being registered once, lock its owner out for good.
/// Bound to the sender, a copied proof fails for anyone else (`InvalidProofOfPossession`);
/// bound to the registry and chain, it cannot be replayed on another AVS or chain
/// either. The key itself is still public: the binding stops theft of a registration,
/// not knowledge of the key. The proof also keeps its first job, stopping rogue keys
/// (`pk_evil - pk_victim`) from entering the aggregate.
abstract contract OperatorRegistry is IStakeListener {
    struct OperatorCheckpoint {
        uint32 fromBlock;
        uint32 untilBlock; // 0: still in force
        uint64 stakeGwei;
        bytes16 keyTag; // 0: not registered from fromBlock on
    }

    struct SetCheckpoint {
        uint32 fromBlock;
        uint32 untilBlock;
        uint64 totalStakeGwei;
        bytes16 apkTag;
    }

    /// Version tag that starts the binding of every proof of possession.
    bytes32 public constant POSSESSION_TAG = "bulwark.possession.v1";

    IRestakingCore public immutable core;
    /// This AVS's own verifier of proofs of possession and slashing proofs (deployed
    /// by the constructor, so its code does not count against this contract's size).
    ProofVerifier public immutable proofVerifier;
    /// Least allocated stake (in asset units) an operator needs to register.
    uint256 public minimumStake;

    mapping(address operator => mapping(uint256 index => OperatorCheckpoint)) internal operatorHistory;
    mapping(address operator => uint256) public operatorHistoryLength;
    mapping(uint256 index => SetCheckpoint) internal setHistory;
    uint256 public setHistoryLength;

    mapping(address operator => BLS.G2Point) internal operatorKeys;
    mapping(bytes32 keyHash => address operator) public keyOwner;
    mapping(address operator => bool) public isRegistered;
    /// Every operator that ever registered, so past sets can be enumerated.
    address[] internal everRegistered;
    BLS.G2Point internal aggregateKey;
    uint64 public totalStakeGwei;

    event OperatorRegistered(address indexed operator, bytes32 indexed keyHash, BLS.G2Point publicKey, uint64 stakeGwei);
    event OperatorDeregistered(address indexed operator);
    event OperatorStakeUpdated(address indexed operator, uint64 stakeGwei);
    event OperatorSetUpdated(uint32 indexed blockNumber, uint64 totalStakeGwei, bytes32 aggregateKeyHash);

    error NotRestakingOperator(address account);
    error AlreadyRegistered(address operator);
    error NotRegistered(address operator);
    error KeyAlreadyRegistered(bytes32 keyHash, address owner);
    error KeyMismatch(address operator);
    error InvalidProofOfPossession();
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    error StakeTooLarge(uint256 stake);
    error NoCheckpointAt(uint256 blockNumber);
    error NotCore(address caller);

    constructor(IRestakingCore core_, uint256 minimumStake_) {
        core = core_;
        minimumStake = minimumStake_;
        proofVerifier = new ProofVerifier();
    }

    /// Registers the caller, a restaking operator with enough stake allocated to this
    /// AVS, with its BLS key. `proof` must be the key's proof of possession bound to the
    /// caller, this registry and this chain (`possessionBinding`). An operator's key is
    /// fixed: re-registering after leaving takes the same key.
    function registerOperator(BLS.G2Point calldata publicKey, BLS.G1Point calldata proof) external {
        if (!core.isOperator(msg.sender)) revert NotRestakingOperator(msg.sender);
        if (isRegistered[msg.sender]) revert AlreadyRegistered(msg.sender);
        BLS.G2Point memory pk = publicKey;
        bytes32 keyHash = BLS.hash(pk);
        address owner = keyOwner[keyHash];
        if (owner != address(0) && owner != msg.sender) revert KeyAlreadyRegistered(keyHash, owner);
        if (owner == address(0)) {
            if (!BLS.isZero(operatorKeys[msg.sender])) revert KeyMismatch(msg.sender);
            if (!proofVerifier.verifyPossession(publicKey, proof, possessionBinding(msg.sender))) {
                revert InvalidProofOfPossession();
            }
            keyOwner[keyHash] = msg.sender;
            operatorKeys[msg.sender] = pk;
            everRegistered.push(msg.sender);
        }
        uint64 stake = _currentStake(msg.sender);
        if (uint256(stake) * 1 gwei < minimumStake) revert StakeBelowMinimum(uint256(stake) * 1 gwei, minimumStake);

        isRegistered[msg.sender] = true;
        aggregateKey = BLS.isZero(aggregateKey) ? pk : BLS.add(aggregateKey, pk);
        totalStakeGwei += stake;
        _pushOperator(msg.sender, stake, bytes16(keyHash));
        _pushSet();
        emit OperatorRegistered(msg.sender, keyHash, pk, stake);
    }

    /// Removes the caller from the set (its key stays reserved to it).
    function deregisterOperator() external {
        _deregister(msg.sender);
    }

    /// The core's call after `operator`'s stake changed (a slash here or on any other
    /// AVS): re-reads its stake, so the next certificate weighs what is left. Only the
    /// core may call; an operator not registered here is ignored.
    function onStakeChanged(address operator) external {
        if (msg.sender != address(core)) revert NotCore(msg.sender);
        if (isRegistered[operator]) _syncStake(operator);
    }

    /// Re-reads the stake each operator allocates to this AVS from the restaking core.
    /// Permissionless: anyone may bring the registry up to date after stake moves.
    function syncStakes(address[] calldata operators) external {
        for (uint256 i = 0; i < operators.length; i++) {
            _syncStake(operators[i]);
        }
    }

    // ---------------------------------------------------------------- readers

    /// What a proof of possession registering a key for `operator` here must bind:
    /// `POSSESSION_TAG || chainid || address(this) || operator` (see the contract docs).
    function possessionBinding(address operator) public view returns (bytes memory) {
        return abi.encodePacked(POSSESSION_TAG, block.chainid, address(this), operator);
    }

    /// The whole message `operator`'s proof of possession for `publicKey` signs: the
    /// compressed key, then `possessionBinding(operator)`. For off-chain cross-checks.
    function possessionMessage(BLS.G2Point calldata publicKey, address operator) external view returns (bytes memory) {
        return proofVerifier.possessionMessage(publicKey, possessionBinding(operator));
    }

    /// The key `operator` registered (all zero if never).
    function publicKeyOf(address operator) external view returns (BLS.G2Point memory) {
        return operatorKeys[operator];
    }

    /// The current aggregate public key of the set.
    function currentAggregateKey() external view returns (BLS.G2Point memory) {
        return aggregateKey;
    }

    /// Every operator that ever registered, in registration order.
    function allOperators() external view returns (address[] memory) {
        return everRegistered;
    }

    /// The set's checkpoint in force at `blockNumber`, and its index (the certificate's hint).
    function setAt(uint32 blockNumber) external view returns (SetCheckpoint memory checkpoint, uint256 index) {
        uint256 n = setHistoryLength;
        (bool found, uint256 i) = _search(n, blockNumber, true, address(0));
        if (!found) revert NoCheckpointAt(blockNumber);
        return (setHistory[i], i);
    }

    /// `operator`'s checkpoint in force at `blockNumber` and its index; a zero `keyTag`
    /// means it was not registered then. Reverts if it had not registered by then.
    function operatorAt(address operator, uint32 blockNumber)
        external
        view
        returns (OperatorCheckpoint memory checkpoint, uint256 index)
    {
        return _operatorAt(operator, blockNumber);
    }

    function _operatorAt(address operator, uint32 blockNumber)
        internal
        view
        returns (OperatorCheckpoint memory checkpoint, uint256 index)
    {
        (bool found, uint256 i) = _search(operatorHistoryLength[operator], blockNumber, false, operator);
        if (!found) revert NoCheckpointAt(blockNumber);
        return (operatorHistory[operator][i], i);
    }

    // ---------------------------------------------------------------- internals

    function _deregister(address operator) internal {
        if (!isRegistered[operator]) revert NotRegistered(operator);
        isRegistered[operator] = false;
        OperatorCheckpoint storage last = operatorHistory[operator][operatorHistoryLength[operator] - 1];
        totalStakeGwei -= last.stakeGwei;
        aggregateKey = BLS.add(aggregateKey, BLS.neg(operatorKeys[operator]));
        _pushOperator(operator, 0, bytes16(0));
        _pushSet();
        emit OperatorDeregistered(operator);
    }

    function _syncStake(address operator) internal {
        if (!isRegistered[operator]) revert NotRegistered(operator);
        uint256 n = operatorHistoryLength[operator];
        OperatorCheckpoint storage last = operatorHistory[operator][n - 1];
        uint64 stake = _currentStake(operator);
        if (stake == last.stakeGwei) return;
        totalStakeGwei = totalStakeGwei - last.stakeGwei + stake;
        _pushOperator(operator, stake, last.keyTag);
        _pushSet();
        emit OperatorStakeUpdated(operator, stake);
    }

    function _currentStake(address operator) internal view returns (uint64) {
        uint256 stakeGwei = core.allocatedStake(operator, address(this)) / 1 gwei;
        if (stakeGwei > type(uint64).max) revert StakeTooLarge(stakeGwei);
        return uint64(stakeGwei);
    }

    function _pushOperator(address operator, uint64 stake, bytes16 tag) internal {
        uint256 n = operatorHistoryLength[operator];
        uint32 blockNumber = uint32(block.number);
        if (n > 0) {
            OperatorCheckpoint storage last = operatorHistory[operator][n - 1];
            if (last.fromBlock == blockNumber) {
                (last.stakeGwei, last.keyTag) = (stake, tag);
                return;
            }
            last.untilBlock = blockNumber;
        }
        operatorHistory[operator][n] = OperatorCheckpoint(blockNumber, 0, stake, tag);
        operatorHistoryLength[operator] = n + 1;
    }

    function _pushSet() internal {
        bytes32 apkHash = BLS.isZero(aggregateKey) ? bytes32(0) : BLS.hash(aggregateKey);
        uint256 n = setHistoryLength;
        uint32 blockNumber = uint32(block.number);
        emit OperatorSetUpdated(blockNumber, totalStakeGwei, apkHash);
        if (n > 0) {
            SetCheckpoint storage last = setHistory[n - 1];
            if (last.fromBlock == blockNumber) {
                (last.totalStakeGwei, last.apkTag) = (totalStakeGwei, bytes16(apkHash));
                return;
            }
            last.untilBlock = blockNumber;
        }
        setHistory[n] = SetCheckpoint(blockNumber, 0, totalStakeGwei, bytes16(apkHash));
        setHistoryLength = n + 1;
    }

    /// Binary search for the last checkpoint with fromBlock <= blockNumber.
    function _search(uint256 n, uint32 blockNumber, bool isSet, address operator)
        private
        view
        returns (bool found, uint256 index)
    {
        uint256 lo = 0;
        uint256 hi = n;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            uint32 from = isSet ? setHistory[mid].fromBlock : operatorHistory[operator][mid].fromBlock;
            if (from <= blockNumber) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return (false, 0);
        return (true, lo - 1);
    }
}
