// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AVSFixture, TestAVS} from "./utils/AVSFixture.sol";
import {Keys} from "./utils/Keys.sol";
import {BLS} from "../src/bls/BLS.sol";
import {LiquidStakingToken} from "../src/core/LiquidStakingToken.sol";
import {IRestakingCore} from "../src/core/IRestakingCore.sol";
import {EigenLayerRestaking} from "../src/core/EigenLayerRestaking.sol";
import {
    IAllocationManager,
    IDelegationManager,
    IRewardsCoordinator,
    IStrategy,
    OperatorSet,
    AllocateParams,
    RegisterParams
} from "../src/core/eigenlayer/IEigenLayer.sol";
import {OperatorRegistry} from "../src/avs/OperatorRegistry.sol";
import {TaskManager} from "../src/avs/TaskManager.sol";
import {ProofVerifier} from "../src/avs/ProofVerifier.sol";
import {RewardsDistributor} from "../src/avs/RewardsDistributor.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

interface IProxyAdmin {
    function upgrade(address proxy, address implementation) external;
    function upgradeAndCall(address proxy, address implementation, bytes calldata data) external payable;
}

interface IStrategyFactory {
    function deployNewStrategy(address token) external returns (address);
}

interface IStrategyManager {
    function depositIntoStrategy(address strategy, address token, uint256 amount) external returns (uint256);
}

interface IDelegation {
    struct SignatureWithExpiry {
        bytes signature;
        uint256 expiry;
    }

    function registerAsOperator(address approver, uint32 allocationDelay, string calldata uri) external;
    function delegateTo(address operator, SignatureWithExpiry calldata approval, bytes32 salt) external;
    function getWithdrawableShares(address staker, address[] calldata strategies)
        external
        view
        returns (uint256[] memory withdrawable, uint256[] memory deposited);
}

/// Bulwark's AVS on EigenLayer's real core (slashing release), deployed from the
/// bytecode `tools/eigenlayer/fetch.sh` takes from crates.io at test time: the same
/// AVS contract as on the devnet core, only the restaking adapter differs.
/// Certificates are weighted by EigenLayer stake; a staker's deposit and delegation
/// change the next certificate's weights; an equivocation is slashed through
/// `AllocationManager.slashOperator` and the operator's stakers' shares drop pro
/// rata; a deallocating operator stays slashable until the delay passes.
contract EigenLayerTest is AVSFixture {
    string internal constant ART = "../target/eigenlayer/artifacts/";
    string internal constant VERSION = "v1.3.0";
    address internal constant ETH_POS = 0x00000000219ab540356cBB839Cbe05303d7705Fa;
    uint32 internal constant EL_DELAY = 10;
    bytes internal constant RESPONSE = "price=314159";
    bytes internal constant OTHER = "price=271828";
    bytes32 internal constant EQ = keccak256("bulwark.offence.equivocation.v1");
    address internal constant STAKER = address(0x57A4E5);

    IAllocationManager internal am;
    address internal dm;
    address internal sm;
    address internal strategy;
    EigenLayerRestaking internal adapter;
    address internal coordinator;

    /// `RewardsCoordinator`'s constructor argument (one struct).
    struct RewardsCoordinatorParams {
        address delegationManager;
        address strategyManager;
        address allocationManager;
        address pauserRegistry;
        address permissionController;
        uint32 calculationInterval;
        uint32 maxRewardsDuration;
        uint32 maxRetroactiveLength;
        uint32 maxFutureLength;
        uint32 genesisRewardsTimestamp;
        string version;
    }

    function dep(string memory name, bytes memory args) internal returns (address) {
        return vm.deployCode(string.concat(ART, name, ".json"), args);
    }

    function setUp() public {
        vm.roll(100);
        // EigenLayer's rewards start at its genesis timestamp (March 2024).
        vm.warp(1_800_000_000);
        token = new LiquidStakingToken(address(this));
        address admin = dep("ProxyAdmin", "");
        address[] memory pausers = new address[](1);
        pausers[0] = address(0xBA5E);
        address pauserRegistry = dep("PauserRegistry", abi.encode(pausers, address(this)));
        address empty = dep("EmptyContract", "");
        address[7] memory proxy;
        for (uint256 i = 0; i < 7; i++) {
            proxy[i] = dep("TransparentUpgradeableProxy", abi.encode(empty, admin, bytes("")));
        }
        // 0 delegation, 1 strategies, 2 allocations, 3 permissions, 4 pods, 5 strategy
        // factory, 6 rewards coordinator
        (dm, sm, am) = (proxy[0], proxy[1], IAllocationManager(proxy[2]));
        address pod = dep("EigenPod", abi.encode(ETH_POS, proxy[4], uint64(0), VERSION));
        address podBeacon = dep("UpgradeableBeacon", abi.encode(pod));
        address strategyBase = dep("StrategyBase", abi.encode(sm, pauserRegistry, VERSION));
        address strategyBeacon = dep("UpgradeableBeacon", abi.encode(strategyBase));
        IProxyAdmin pa = IProxyAdmin(admin);
        pa.upgradeAndCall(
            dm,
            dep(
                "DelegationManager",
                abi.encode(sm, proxy[4], address(am), pauserRegistry, proxy[3], EL_DELAY, VERSION)
            ),
            abi.encodeWithSignature("initialize(address,uint256)", address(this), 0)
        );
        pa.upgradeAndCall(
            sm,
            dep("StrategyManager", abi.encode(dm, pauserRegistry, VERSION)),
            abi.encodeWithSignature("initialize(address,address,uint256)", address(this), proxy[5], 0)
        );
        pa.upgradeAndCall(
            address(am),
            dep("AllocationManager", abi.encode(dm, pauserRegistry, proxy[3], EL_DELAY, uint32(1), VERSION)),
            abi.encodeWithSignature("initialize(address,uint256)", address(this), 0)
        );
        pa.upgrade(proxy[3], dep("PermissionController", abi.encode(VERSION)));
        pa.upgradeAndCall(
            proxy[4],
            dep("EigenPodManager", abi.encode(ETH_POS, podBeacon, dm, pauserRegistry, VERSION)),
            abi.encodeWithSignature("initialize(address,uint256)", address(this), 0)
        );
        pa.upgradeAndCall(
            proxy[5],
            dep("StrategyFactory", abi.encode(sm, pauserRegistry, VERSION)),
            abi.encodeWithSignature("initialize(address,uint256,address)", address(this), 0, strategyBeacon)
        );
        strategy = IStrategyFactory(proxy[5]).deployNewStrategy(address(token));
        coordinator = proxy[6];
        pa.upgradeAndCall(
            coordinator,
            dep(
                "RewardsCoordinator",
                abi.encode(
                    RewardsCoordinatorParams({
                        delegationManager: dm,
                        strategyManager: sm,
                        allocationManager: address(am),
                        pauserRegistry: pauserRegistry,
                        permissionController: proxy[3],
                        calculationInterval: 1 days,
                        maxRewardsDuration: 70 days,
                        maxRetroactiveLength: 90 days,
                        maxFutureLength: 30 days,
                        genesisRewardsTimestamp: 1_710_979_200,
                        version: VERSION
                    })
                )
            ),
            abi.encodeWithSignature(
                "initialize(address,uint256,address,uint32,uint16)", address(this), 0, address(this), 7200, 1000
            )
        );

        adapter = new EigenLayerRestaking(
            am, IDelegationManager(dm), IStrategy(strategy), IRewardsCoordinator(coordinator), "https://bulwark.invalid"
        );
        avs = new TestAVS(IRestakingCore(address(adapter)), address(this), 1 ether);
        for (uint256 i = 0; i < 4; i++) {
            onboard(i + 1, 32 ether);
        }
        vm.roll(block.number + 1);
    }

    /// An EigenLayer operator with `stake` of its own, allocating all of it to the
    /// AVS's operator set, registered there and with its BLS key on the AVS.
    function onboard(uint256 sk, uint256 stake) internal {
        address op = address(uint160(uint256(keccak256(abi.encode("el-operator", sk)))));
        deposit(op, stake);
        vm.startPrank(op);
        IDelegation(dm).registerAsOperator(address(0), 0, "https://bulwark.invalid/op");
        vm.stopPrank();
        // The allocation delay takes effect after ALLOCATION_CONFIGURATION_DELAY.
        vm.roll(block.number + 2);
        allocate(op, 1e18);
        vm.roll(block.number + 1);
        vm.startPrank(op);
        uint32[] memory ids = new uint32[](1);
        am.registerForOperatorSets(op, RegisterParams({avs: address(adapter), operatorSetIds: ids, data: ""}));
        avs.registerOperator(Keys.publicKey(sk), Keys.prove(sk, address(avs), op));
        vm.stopPrank();
        ops.push(Op({addr: op, sk: sk}));
    }

    function deposit(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(sm, amount);
        IStrategyManager(sm).depositIntoStrategy(strategy, address(token), amount);
        vm.stopPrank();
    }

    function allocate(address op, uint64 magnitude) internal {
        uint64[] memory magnitudes = new uint64[](1);
        magnitudes[0] = magnitude;
        AllocateParams[] memory params = new AllocateParams[](1);
        params[0] = AllocateParams({
            operatorSet: OperatorSet({avs: address(adapter), id: 0}),
            strategies: strategies(),
            newMagnitudes: magnitudes
        });
        vm.prank(op);
        am.modifyAllocations(op, params);
    }

    function answer(bool[] memory absent) internal returns (uint256 id) {
        id = avs.createTask("input", THRESHOLD, 5);
        uint32 ref = uint32(block.number - 1);
        vm.roll(block.number + 1);
        avs.respondToTask(id, RESPONSE, certify(avs, avs.taskResponseMessage(id, keccak256(RESPONSE)), ref, absent));
    }

    function equivocation(uint256 i, uint256 id) internal view returns (bytes memory) {
        ProofVerifier.Equivocation memory e;
        uint256 sk = ops[i].sk;
        e.chainId = block.chainid;
        e.avs = address(avs);
        e.taskId = id;
        e.operator = ops[i].addr;
        e.publicKey = Keys.publicKey(sk);
        e.digestA = keccak256(RESPONSE);
        e.signatureA = Keys.sign(sk, abi.encodePacked(avs.taskResponseMessage(id, e.digestA)), BLS.SIGNATURE_DST);
        e.digestB = keccak256(OTHER);
        e.signatureB = Keys.sign(sk, abi.encodePacked(avs.taskResponseMessage(id, e.digestB)), BLS.SIGNATURE_DST);
        return abi.encode(EQ, abi.encode(e));
    }

    function stakeGwei(address op) internal view returns (uint256) {
        (OperatorRegistry.OperatorCheckpoint memory cp,) = avs.operatorAt(op, uint32(block.number));
        return cp.stakeGwei;
    }

    function strategies() internal view returns (address[] memory s) {
        s = new address[](1);
        s[0] = strategy;
    }

    function test_certificatesAreWeightedByEigenLayerStake() public {
        assertEq(adapter.avs(), address(avs), "the AVS registered with its adapter");
        assertEq(avs.slashableBlocks(), EL_DELAY, "EigenLayer's delay bounds the challenge window");
        assertApproxEq(adapter.allocatedStake(ops[0].addr, address(avs)), 32 ether, 1e3, "allocated stake");
        uint256 id = answer(noneAbsent());
        TaskManager.Task memory t = avs.getTask(id);
        assertEq(t.totalStakeGwei, 128 gwei, "four operators of 32");
        assertEq(t.signedStakeGwei, 128 gwei, "all signed");
    }

    function test_aStakersDelegationChangesTheNextCertificate() public {
        deposit(STAKER, 16 ether);
        vm.prank(STAKER);
        IDelegation(dm).delegateTo(ops[0].addr, IDelegation.SignatureWithExpiry("", 0), bytes32(0));
        address[] memory one = new address[](1);
        one[0] = ops[0].addr;
        avs.syncStakes(one);
        vm.roll(block.number + 1);
        assertApproxEq(stakeGwei(ops[0].addr), 48 gwei, 1e3, "32 + 16 delegated");
        uint256 id = answer(noneAbsent());
        assertApproxEq(avs.getTask(id).totalStakeGwei, 144 gwei, 1e3, "the next certificate weighs it");
    }

    function test_anEquivocationIsSlashedThroughEigenLayer() public {
        deposit(STAKER, 16 ether);
        vm.prank(STAKER);
        IDelegation(dm).delegateTo(ops[1].addr, IDelegation.SignatureWithExpiry("", 0), bytes32(0));
        (uint256[] memory before,) = IDelegation(dm).getWithdrawableShares(STAKER, strategies());
        uint256 id = answer(noneAbsent());
        avs.challenge(id, equivocation(1, id));
        assertApproxEq(adapter.allocatedStake(ops[1].addr, address(avs)), 43.2 ether, 1e6, "10% of 48");
        assertApproxEq(stakeGwei(ops[1].addr), 43.2 gwei, 1e3, "the registry weighs it at once");
        (uint256[] memory after_,) = IDelegation(dm).getWithdrawableShares(STAKER, strategies());
        assertApproxEq(after_[0], before[0] * 9 / 10, 1e6, "the staker's shares drop pro rata");
        assertApproxEq(adapter.allocatedStake(ops[0].addr, address(avs)), 32 ether, 1e3, "others untouched");
        bytes memory again = equivocation(1, id);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, id, ops[1].addr, EQ));
        avs.challenge(id, again);
        // Only the AVS slashes through its adapter.
        vm.expectRevert(abi.encodeWithSelector(EigenLayerRestaking.NotAVS.selector, address(this)));
        adapter.slash(ops[0].addr, 1e18);
    }

    function test_rewardsAreSubmittedToTheRewardsCoordinator() public {
        // An epoch of the AVS's distributor, paid by the stake that signed, lands as
        // operator-directed submissions for the set.
        uint256 id = answer(noneAbsent());
        TaskManager.Task memory t = avs.getTask(id);
        uint64 epoch = uint64(t.respondedBlock / avs.rewardEpochBlocks());
        LiquidStakingToken reward = new LiquidStakingToken(address(this));
        reward.mint(address(this), 400 ether);
        reward.approve(address(avs.rewards()), 400 ether);
        avs.rewards().fund(epoch, IERC20(address(reward)), 400 ether, RewardsDistributor.Split.SignedStake);
        vm.roll((uint256(epoch) + 1) * avs.rewardEpochBlocks());
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        address[][] memory absent = new address[][](1);
        absent[0] = new address[](0);
        vm.expectEmit(address(adapter));
        emit EigenLayerRestaking.RewardsSubmitted(
            ops[0].addr, address(reward), 100 ether, epoch, uint32((block.timestamp - 1) / 1 days * 1 days - 1 days)
        );
        avs.rewards().claim(ops[0].addr, epoch, ids, absent);
        assertEq(reward.balanceOf(coordinator), 100 ether, "a quarter of the epoch, held by the coordinator");
        // Only the AVS or its distributor submit in the AVS's name.
        vm.expectRevert(abi.encodeWithSelector(EigenLayerRestaking.NotRewardsSubmitter.selector, address(avs), address(this)));
        adapter.fundRewards(address(avs), ops[0].addr, address(reward), 1, epoch);
    }

    function test_aDeallocatingOperatorStaysSlashableUntilTheDelayPasses() public {
        uint256 id = answer(noneAbsent());
        allocate(ops[2].addr, 0);
        // It counts while it stays slashable through a whole delay from now, and no
        // longer from the next block (the deallocation takes effect after the delay).
        assertApproxEq(adapter.allocatedStake(ops[2].addr, address(avs)), 32 ether, 1e3, "slashable to the end");
        vm.roll(block.number + 1);
        address[] memory one = new address[](1);
        one[0] = ops[2].addr;
        avs.syncStakes(one);
        assertEq(stakeGwei(ops[2].addr), 0, "no longer counted");
        // Still slashable for what signed: the deallocation waits EL_DELAY blocks.
        avs.challenge(id, equivocation(2, id));
        (uint256[] memory shares,) = IDelegation(dm).getWithdrawableShares(ops[2].addr, strategies());
        assertApproxEq(shares[0], 28.8 ether, 1e6, "slashed 10% during the delay");
    }
}
