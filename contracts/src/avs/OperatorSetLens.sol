// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {BLS} from "../bls/BLS.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";

/// Reads a page of an AVS's operator set at a past block in one `eth_call`, never
/// deployed: its creation code runs in the call (no `to`) and its constructor
/// returns the page, so any node at any block answers it without a contract of ours
/// on chain and without growing the AVS past EIP-170. An aggregator reads a set of
/// `n` members in `ceil(n / pageSize)` calls instead of `2n + 2`.
///
/// The walk goes over every operator that ever registered (the registry keeps no
/// other list as of a past block); operators not registered at the block are
/// skipped in the EVM, never sent. The caller checks what it gets against the set's
/// `apkTag` (see `bulwark_chain::registry`), so a node lying here is caught there.
contract OperatorSetLens {
    /// One member at the block.
    struct Member {
        address operator;
        uint64 stakeGwei;
        /// Index of its checkpoint in force at the block (the certificate's hint).
        uint256 index;
        BLS.G2Point publicKey;
    }

    /// Operators `start..start+count` of the registry's list, as of the block.
    struct Page {
        OperatorRegistry.SetCheckpoint set;
        /// Index of the set checkpoint in force at the block.
        uint256 setIndex;
        /// How many operators ever registered: where the pages end.
        uint256 everRegistered;
        Member[] members;
    }

    constructor(OperatorRegistry avs, uint32 blockNumber, uint256 start, uint256 count) {
        bytes memory page = abi.encode(read(avs, blockNumber, start, count));
        assembly {
            return(add(page, 32), mload(page))
        }
    }

    /// The page (also callable on a deployed lens, for tests).
    function read(OperatorRegistry avs, uint32 blockNumber, uint256 start, uint256 count)
        public
        view
        returns (Page memory page)
    {
        // Reverts with the registry's own NoCheckpointAt when no set existed yet.
        (page.set, page.setIndex) = avs.setAt(blockNumber);
        address[] memory all = avs.allOperators();
        page.everRegistered = all.length;
        uint256 end = start + count < all.length ? start + count : all.length;
        Member[] memory found = new Member[](end > start ? end - start : 0);
        uint256 n;
        for (uint256 i = start; i < end; i++) {
            try avs.operatorAt(all[i], blockNumber) returns (
                OperatorRegistry.OperatorCheckpoint memory checkpoint, uint256 index
            ) {
                if (checkpoint.keyTag == bytes16(0)) continue;
                found[n++] = Member(all[i], checkpoint.stakeGwei, index, avs.publicKeyOf(all[i]));
            } catch {
                // Registered only after the block.
            }
        }
        assembly {
            mstore(found, n)
        }
        page.members = found;
    }
}
