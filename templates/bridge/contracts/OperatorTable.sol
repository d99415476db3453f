// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "@bulwark/bls/BLS.sol";
import {TableProofs} from "./TableProofs.sol";

/// @title OperatorTable
/// @notice The bridge AVS's operator set on a chain without a restaking core: a copy of
/// the home chain's table (each operator's stake and BLS key under one Merkle root,
/// their total stake and aggregate key), moved on only by a certificate of the current
/// table over the next one. Certificates are checked as on the home chain: one
/// pairing, the non-signers' keys subtracted from the aggregate, a stake threshold.
///
/// Leaves are `keccak256(keccak256(abi.encode(operator, stakeGwei, publicKey)))`, the
/// tree hashes sorted pairs (OpenZeppelin's `MerkleProof`), and a certificate lists
/// its non-signers by strictly ascending address, each with its proof, so none counts
/// twice.
///
/// # Security
/// Ages are counted from the table's commit on the home chain (`homeTimestamp`), not
/// from its installation here, so a table installed late lives no longer.
/// - Messages are executed only on a table at most `maxAge` seconds old: stake that
///   has left the home chain's operator set stops counting here within `maxAge`.
/// - A table too old to execute may still sign its successor, for up to
///   `maxHandoverAge` seconds (else the bridge would stop for good after a short
///   outage); past that, nothing it signs is accepted here, and the bridge needs a
///   new deployment.
/// - Whoever signs under a table must stay slashable on the home chain for as long
///   as the table acts here: choose `maxHandoverAge`, plus the time a challenge takes
///   to land, below the home AVS's challenge window (in seconds: blocks times the
///   home chain's block time), which is itself at most the core's withdrawal delay.
///   The signers of a forged message or of a successor the home chain never committed
///   are proven and slashed there (`BridgeHome`).
contract OperatorTable {
    uint256 internal constant BPS = 10_000;
    /// How far ahead of this chain's clock the home chain's may run.
    uint256 internal constant MAX_CLOCK_SKEW = 15 minutes;

    /// The home chain and the AVS whose registry this table copies.
    uint256 public immutable homeChainId;
    address public immutable homeAVS;
    /// Share of the table's stake (basis points) a certificate needs.
    uint16 public immutable thresholdBps;
    /// Seconds after its commit on the home chain a table executes messages.
    uint64 public immutable maxAge;
    /// Seconds after its commit on the home chain a table may still install its
    /// successor.
    uint64 public immutable maxHandoverAge;

    TableProofs.Table internal current;
    /// When the current table was installed (this chain's time).
    uint256 public installedAt;

    event TableUpdated(uint64 indexed epoch, uint64 homeBlock, bytes32 root, uint64 totalStakeGwei);

    error InvalidThreshold(uint256 thresholdBps);
    error EmptyTable();
    error StaleTable(uint256 homeTimestamp, uint256 maxAge, uint256 now_);
    error HandoverExpired(uint256 homeTimestamp, uint256 maxHandoverAge, uint256 now_);
    error InvalidAges(uint64 maxAge, uint64 maxHandoverAge);
    error TableFromTheFuture(uint64 homeTimestamp, uint256 now_);
    error OlderThanCurrent(uint64 homeTimestamp, uint64 current);
    error EpochNotNewer(uint64 epoch, uint64 current);

    constructor(
        uint256 homeChainId_,
        address homeAVS_,
        uint16 thresholdBps_,
        uint64 maxAge_,
        uint64 maxHandoverAge_,
        TableProofs.Table memory genesis
    ) {
        if (thresholdBps_ == 0 || thresholdBps_ > BPS) revert InvalidThreshold(thresholdBps_);
        if (maxAge_ == 0 || maxHandoverAge_ < maxAge_) revert InvalidAges(maxAge_, maxHandoverAge_);
        maxHandoverAge = maxHandoverAge_;
        homeChainId = homeChainId_;
        homeAVS = homeAVS_;
        thresholdBps = thresholdBps_;
        maxAge = maxAge_;
        _install(genesis);
    }

    /// The table certificates are checked against.
    function table() external view returns (TableProofs.Table memory) {
        return current;
    }

    /// A member's leaf in the table's tree.
    function leaf(TableProofs.Member memory m) external pure returns (bytes32) {
        return TableProofs.leaf(m);
    }

    /// What the current table's operators sign to install `next`: it names the home
    /// chain and AVS, this chain and this contract, so it serves no other table.
    function updateDigest(TableProofs.Table memory next) public view returns (bytes32) {
        return TableProofs.updateDigest(homeChainId, homeAVS, block.chainid, address(this), next);
    }

    /// Reverts unless `cert` is a certificate of the current, fresh table on `digest`;
    /// returns the stake that signed (gwei).
    function verify(bytes32 digest, TableProofs.Certificate calldata cert)
        external
        view
        returns (uint64 signedStakeGwei)
    {
        uint256 born = current.homeTimestamp;
        if (block.timestamp > born + maxAge) revert StaleTable(born, maxAge, block.timestamp);
        return TableProofs.verify(current, digest, cert, thresholdBps);
    }

    /// Installs `next`, certified by the current table (stale or not, within
    /// `maxHandoverAge`; see `# Security`).
    function update(TableProofs.Table calldata next, TableProofs.Certificate calldata cert) external {
        if (next.epoch <= current.epoch) revert EpochNotNewer(next.epoch, current.epoch);
        uint256 born = current.homeTimestamp;
        if (block.timestamp > born + maxHandoverAge) {
            revert HandoverExpired(born, maxHandoverAge, block.timestamp);
        }
        if (next.homeTimestamp < current.homeTimestamp) revert OlderThanCurrent(next.homeTimestamp, current.homeTimestamp);
        TableProofs.verify(current, updateDigest(next), cert, thresholdBps);
        _install(next);
    }

    function _install(TableProofs.Table memory next) private {
        if (next.totalStakeGwei == 0) revert EmptyTable();
        if (next.homeTimestamp > block.timestamp + MAX_CLOCK_SKEW) revert TableFromTheFuture(next.homeTimestamp, block.timestamp);
        BLS.checkEncoding(next.aggregateKey);
        current = next;
        installedAt = block.timestamp;
        emit TableUpdated(next.epoch, next.homeBlock, next.root, next.totalStakeGwei);
    }
}
