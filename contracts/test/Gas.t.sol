// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture} from "./utils/AVSFixture.sol";
import {CertificateVerifier} from "../src/avs/CertificateVerifier.sol";

/// Gas of one certificate check, by operator-set size and share of non-signers: the
/// table in contracts/README.md (`make gas` prints it). The figure is the gas the
/// verifier itself executes (`vm.lastCallGas`), with the AVS's storage cold, as when
/// `respondToTask` runs it in a fresh transaction; the transaction's calldata and the
/// caller's cost of encoding it are not counted.
contract GasTest is AVSFixture {
    /// Ceilings the issue sets: 130k with no non-signer, 5k more per non-signer.
    uint256 internal constant BASE_BUDGET = 130_000;
    uint256 internal constant PER_NON_SIGNER_BUDGET = 5_000;

    function table(uint256 n) internal {
        deployCore();
        addOperators(n, 32 ether);
        vm.roll(block.number + 1);
        uint32 ref = uint32(block.number - 1);
        bytes32 message = keccak256("gas table");
        uint256 base;
        uint256[4] memory percents = [uint256(0), 1, 10, 33];
        for (uint256 p = 0; p < percents.length; p++) {
            uint256 k = n * percents[p] / 100;
            bool[] memory absent = noneAbsent();
            for (uint256 i = 0; i < k; i++) {
                absent[i] = true;
            }
            CertificateVerifier.Certificate memory cert = certify(avs, message, ref, absent);
            vm.cool(address(avs));
            avs.verifyCertificate(message, THRESHOLD, cert);
            uint256 used = vm.lastCallGas().gasTotalUsed;
            emit log_string(
                string.concat(
                    "gas-table operators=",
                    vm.toString(n),
                    " non-signers=",
                    vm.toString(k),
                    " (",
                    vm.toString(percents[p]),
                    "%) gas=",
                    vm.toString(used),
                    k == 0 ? "" : string.concat(" per-non-signer=", vm.toString((used - base) / k))
                )
            );
            if (k == 0) {
                base = used;
                assertLe(used, BASE_BUDGET, "certificate check over 130k gas");
            } else {
                assertLe((used - base) / k, PER_NON_SIGNER_BUDGET, "over 5k gas per non-signer");
            }
        }
    }

    function test_gas_10_operators() public {
        table(10);
    }

    function test_gas_100_operators() public {
        table(100);
    }

    function test_gas_1000_operators() public {
        table(1000);
    }
}
