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
/// - Messages are executed only on a table at most `maxAge` seconds old: stake that
///   has left the home chain's operator set stops counting here within `maxAge`.
///   Keep `maxAge` well below the home core's withdrawal delay, so whoever signs here
///   is still slashable there.
/// - A stale table may still sign its successor (else the bridge would stop for good
///   after an outage); the signers of a successor that does not match the home
///   registry are as slashable as the signers of a forged message.
contract OperatorTable {
    uint256 internal constant BPS = 10_000;

    /// The home chain and the AVS whose registry this table copies.
    uint256 public immutable homeChainId;
    address public immutable homeAVS;
    /// Share of the table's stake (basis points) a certificate needs.
    uint16 public immutable thresholdBps;
    /// Seconds a table may be used to execute messages after it was installed.
    uint64 public immutable maxAge;

    TableProofs.Table internal current;
    /// When the current table was installed (this chain's time).
    uint256 public installedAt;

    event TableUpdated(uint64 indexed epoch, uint64 homeBlock, bytes32 root, uint64 totalStakeGwei);

    error InvalidThreshold(uint256 thresholdBps);
    error EmptyTable();
    error StaleTable(uint256 installedAt, uint256 maxAge, uint256 now_);
    error EpochNotNewer(uint64 epoch, uint64 current);

    constructor(
        uint256 homeChainId_,
        address homeAVS_,
        uint16 thresholdBps_,
        uint64 maxAge_,
        TableProofs.Table memory genesis
    ) {
        if (thresholdBps_ == 0 || thresholdBps_ > BPS) revert InvalidThreshold(thresholdBps_);
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
        if (block.timestamp > installedAt + maxAge) revert StaleTable(installedAt, maxAge, block.timestamp);
        return TableProofs.verify(current, digest, cert, thresholdBps);
    }

    /// Installs `next`, certified by the current table (fresh or not, see `# Security`).
    function update(TableProofs.Table calldata next, TableProofs.Certificate calldata cert) external {
        if (next.epoch <= current.epoch) revert EpochNotNewer(next.epoch, current.epoch);
        TableProofs.verify(current, updateDigest(next), cert, thresholdBps);
        _install(next);
    }

    function _install(TableProofs.Table memory next) private {
        if (next.totalStakeGwei == 0) revert EmptyTable();
        BLS.checkEncoding(next.aggregateKey);
        current = next;
        installedAt = block.timestamp;
        emit TableUpdated(next.epoch, next.homeBlock, next.root, next.totalStakeGwei);
    }
}
