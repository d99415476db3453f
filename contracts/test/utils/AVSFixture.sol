// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {Keys} from "./Keys.sol";
import {BLS} from "../../src/bls/BLS.sol";
import {LiquidStakingToken} from "../../src/core/LiquidStakingToken.sol";
import {RestakingCore} from "../../src/core/RestakingCore.sol";
import {IRestakingCore} from "../../src/core/IRestakingCore.sol";
import {TaskManager} from "../../src/avs/TaskManager.sol";
import {CertificateVerifier} from "../../src/avs/CertificateVerifier.sol";
import {OperatorRegistry} from "../../src/avs/OperatorRegistry.sol";

/// The smallest concrete AVS: the base contract with a challenge rule a test can arm
/// (offence `TEST_OFFENCE`, proof `abi.encode(operator)`).
contract TestAVS is TaskManager {
    bytes32 public constant TEST_OFFENCE = keccak256("test.offence");
    bytes public lastResponse;
    bool public challengesAllowed;

    constructor(IRestakingCore core_, address owner_, uint256 minimumStake_)
        TaskManager(Params(core_, owner_, minimumStake_, 100, 8))
    {}

    function allowChallenges(bool allowed) external {
        challengesAllowed = allowed;
    }

    function _onTaskResponded(uint256, bytes calldata response) internal override {
        lastResponse = response;
    }

    function _verifyChallenge(uint256, bytes32 offence, bytes memory proof) internal view override returns (address) {
        if (!challengesAllowed || offence != TEST_OFFENCE) revert ChallengesUnsupported();
        return abi.decode(proof, (address));
    }
}

/// Deploys a token, the restaking core and an AVS, and makes operators with keys.
abstract contract AVSFixture is Test {
    uint32 internal constant DELAY = 10;
    uint16 internal constant THRESHOLD = 6000;

    LiquidStakingToken internal token;
    RestakingCore internal core;
    TestAVS internal avs;

    struct Op {
        address addr;
        uint256 sk;
    }

    Op[] internal ops;

    function deployCore() internal {
        vm.roll(100);
        token = new LiquidStakingToken(address(this));
        core = new RestakingCore(token, DELAY);
        avs = new TestAVS(core, address(this), 1 ether);
    }

    /// An operator (self-delegated with `stake`, fully allocated to `target`) and its key.
    function addOperator(TaskManager target, uint256 sk, uint256 stake) internal returns (Op memory op) {
        op = Op({addr: address(uint160(uint256(keccak256(abi.encode("operator", sk))))), sk: sk});
        token.mint(op.addr, stake);
        vm.startPrank(op.addr);
        token.approve(address(core), stake);
        core.registerOperator(1000);
        core.delegate(op.addr);
        core.deposit(stake);
        core.allocate(address(target), 10_000);
        target.registerOperator(Keys.publicKey(sk), Keys.prove(sk, address(target), op.addr));
        vm.stopPrank();
        ops.push(op);
    }

    function addOperators(uint256 n, uint256 stake) internal {
        for (uint256 i = 0; i < n; i++) {
            addOperator(avs, i + 1, stake);
        }
    }

    /// A certificate over `message` at `ref` on `target`, signed by every operator in
    /// `ops` except those flagged in `absent`.
    function certify(TaskManager target, bytes32 message, uint32 ref, bool[] memory absent)
        internal
        view
        returns (CertificateVerifier.Certificate memory cert)
    {
        (, uint256 setHint) = target.setAt(ref);
        cert.referenceBlock = ref;
        cert.setHint = uint32(setHint);
        cert.aggregateKey = aggregateAt(target, ref);
        // Only operators registered at `ref` count, as signers or as non-signers.
        bool[] memory member = new bool[](ops.length);
        uint256 missing;
        for (uint256 i = 0; i < ops.length; i++) {
            member[i] = isMember(target, ops[i].addr, ref);
            if (member[i] && absent[i]) missing++;
        }
        // Non-signers sorted by address.
        address[] memory addrs = new address[](missing);
        uint256[] memory sks = new uint256[](missing);
        uint256 k;
        uint256 signerSum;
        for (uint256 i = 0; i < ops.length; i++) {
            if (!member[i]) continue;
            if (absent[i]) {
                addrs[k] = ops[i].addr;
                sks[k] = ops[i].sk;
                k++;
            } else {
                signerSum = addmod(signerSum, ops[i].sk, Keys.R);
            }
        }
        _sort(addrs, sks);
        cert.nonSigners = new CertificateVerifier.NonSigner[](missing);
        for (uint256 i = 0; i < missing; i++) {
            (, uint256 hint) = target.operatorAt(addrs[i], ref);
            cert.nonSigners[i] = CertificateVerifier.NonSigner(addrs[i], uint32(hint), Keys.publicKey(sks[i]));
        }
        cert.signature = Keys.sign(signerSum, abi.encodePacked(message), BLS.SIGNATURE_DST);
    }

    function noneAbsent() internal view returns (bool[] memory) {
        return new bool[](ops.length);
    }

    /// The aggregate key at `ref`: the sum of keys of operators registered then.
    function aggregateAt(TaskManager target, uint32 ref) internal view returns (BLS.G2Point memory apk) {
        uint256 sum;
        for (uint256 i = 0; i < ops.length; i++) {
            if (isMember(target, ops[i].addr, ref)) sum = addmod(sum, ops[i].sk, Keys.R);
        }
        return Keys.publicKey(sum);
    }

    function isMember(TaskManager target, address op, uint32 ref) internal view returns (bool) {
        try target.operatorAt(op, ref) returns (OperatorRegistry.OperatorCheckpoint memory cp, uint256) {
            return cp.keyTag != 0;
        } catch {
            return false;
        }
    }

    function _sort(address[] memory a, uint256[] memory b) private pure {
        for (uint256 i = 1; i < a.length; i++) {
            (address ka, uint256 kb) = (a[i], b[i]);
            uint256 j = i;
            while (j > 0 && a[j - 1] > ka) {
                (a[j], b[j]) = (a[j - 1], b[j - 1]);
                j--;
            }
            (a[j], b[j]) = (ka, kb);
        }
    }
}
