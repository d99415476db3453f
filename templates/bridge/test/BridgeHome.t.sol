// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {TableFixture} from "./TableFixture.sol";
import {Keys} from "@bulwark-test/Keys.sol";
import {BLS} from "@bulwark/bls/BLS.sol";
import {LiquidStakingToken} from "@bulwark/core/LiquidStakingToken.sol";
import {RestakingCore} from "@bulwark/core/RestakingCore.sol";
import {TaskManager} from "@bulwark/avs/TaskManager.sol";
import {CertificateVerifier} from "@bulwark/avs/CertificateVerifier.sol";
import {RewardsDistributor} from "@bulwark/avs/RewardsDistributor.sol";
import {Message, messageId} from "../contracts/BridgeMessage.sol";
import {Outbox} from "../contracts/Outbox.sol";
import {OperatorTable} from "../contracts/OperatorTable.sol";
import {TableProofs} from "../contracts/TableProofs.sol";
import {Inbox, MessageInbox} from "../contracts/Inbox.sol";
import {HomeInbox} from "../contracts/HomeInbox.sol";
import {BridgeHome} from "../contracts/BridgeHome.sol";
import {ForgeryVerifier} from "../contracts/ForgeryVerifier.sol";
import {TokenVault, WrappedToken} from "../contracts/TokenBridge.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// A token that calls back into the vault while it is being locked (an ERC-777 hook).
contract HookToken is ERC20 {
    TokenVault internal vault;

    constructor() ERC20("Hook", "HOOK") {
        _mint(msg.sender, 100 ether);
    }

    function arm(TokenVault vault_) external {
        vault = vault_;
    }

    function transferFrom(address from, address to, uint256 amount) public override returns (bool) {
        if (address(vault) != address(0)) {
            TokenVault v = vault;
            vault = TokenVault(address(0));
            v.lock(1, from);
        }
        return super.transferFrom(from, to, amount);
    }
}

/// Both sides of the bridge on one forge EVM (the chain id switched between them):
/// the home chain with a real restaking core and the bridge AVS's registry, the remote
/// chain with its operator table. Tables committed from the registry, a token round
/// trip, and a colluding majority's forged message and forged table proven on the
/// home chain and slashed there.
contract BridgeHomeTest is TableFixture {
    uint256 internal constant HOME = 31337;
    uint256 internal constant REMOTE = 31338;
    uint32 internal constant DELAY = 50;
    uint64 internal constant MAX_AGE = 1 hours;
    uint64 internal constant HANDOVER = 2 hours;
    uint256 internal constant STAKE = 32 ether;
    address internal constant USER = address(0x05E5);
    address internal constant ATTACKER = address(0xBAD);

    LiquidStakingToken internal token;
    RestakingCore internal core;
    BridgeHome internal home;
    HomeInbox internal homeInbox;
    TokenVault internal vault;
    OperatorTable internal remoteTable;
    Outbox internal remoteOutbox;
    Inbox internal remoteInbox;
    WrappedToken internal wrapped;

    function operatorAddress(uint256 sk) internal pure override returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("operator", sk)))));
    }

    function setUp() public {
        vm.chainId(HOME);
        vm.roll(100);
        token = new LiquidStakingToken(address(this));
        core = new RestakingCore(token, DELAY);
        home = new BridgeHome(TaskManager.Params(core, address(this), 1 ether, 100, DELAY));
        setOperators(1, 4);
        for (uint256 i = 0; i < ops.length; i++) {
            join(ops[i]);
            ops[i].stake = uint64(STAKE / 1 gwei);
        }
        vm.roll(101);
    }

    /// Self-delegated `STAKE`, all of it allocated to the bridge, the key registered.
    function join(Op memory op) internal {
        token.mint(op.addr, STAKE);
        vm.startPrank(op.addr);
        token.approve(address(core), STAKE);
        core.registerOperator(1000);
        core.delegate(op.addr);
        core.deposit(STAKE);
        core.allocate(address(home), 10_000);
        home.registerOperator(Keys.publicKey(op.sk), Keys.prove(op.sk, address(home), op.addr));
        vm.stopPrank();
    }

    function members() internal view returns (TableProofs.Member[] memory m) {
        m = new TableProofs.Member[](ops.length);
        for (uint256 i = 0; i < ops.length; i++) {
            m[i] = member(i);
        }
    }

    /// Re-reads each operator's stake from the core (after slashes).
    function refreshStakes() internal {
        for (uint256 i = 0; i < ops.length; i++) {
            ops[i].stake = uint64(core.allocatedStake(ops[i].addr, address(home)) / 1 gwei);
        }
    }

    function commit() internal returns (TableProofs.Table memory t) {
        (, t) = home.commitTable(members());
    }

    /// The remote side, its genesis table `genesis`, and the token bridge on both.
    function deployRemote(TableProofs.Table memory genesis) internal {
        vm.chainId(REMOTE);
        remoteTable = new OperatorTable(HOME, address(home), 6667, MAX_AGE, HANDOVER, genesis);
        remoteOutbox = new Outbox();
        remoteInbox = new Inbox(remoteTable, HOME, address(home.outbox()));
        vm.chainId(HOME);
        homeInbox = new HomeInbox(home, 6667, REMOTE, address(remoteOutbox));
        vault = new TokenVault(token, home.outbox(), address(homeInbox), REMOTE);
        vm.chainId(REMOTE);
        wrapped = new WrappedToken("Wrapped LST", "wLST", remoteOutbox, address(remoteInbox), HOME, address(vault));
        vm.chainId(HOME);
        vault.setRemote(address(wrapped));
    }

    /// A home-chain certificate on `digest` by every operator, at the previous block.
    function homeCertificate(bytes32 digest) internal view returns (CertificateVerifier.Certificate memory cert) {
        uint32 ref = uint32(block.number - 1);
        (, uint256 hint) = home.setAt(ref);
        uint256 sum;
        for (uint256 i = 0; i < ops.length; i++) {
            sum = addmod(sum, ops[i].sk, Keys.R);
        }
        cert.referenceBlock = ref;
        cert.setHint = uint32(hint);
        cert.aggregateKey = Keys.publicKey(sum);
        cert.signature = Keys.sign(sum, abi.encodePacked(digest), BLS.SIGNATURE_DST);
    }

    function test_aCommittedTableIsTheRegistrysSet() public {
        TableProofs.Table memory t = commit();
        TableProofs.Table memory expected = tableOf(1);
        assertEq(t.root, expected.root, "root");
        assertEq(t.totalStakeGwei, 4 * STAKE / 1 gwei, "total");
        assertEq(BLS.hash(t.aggregateKey), BLS.hash(expected.aggregateKey), "aggregate key");
        assertEq(t.homeBlock, block.number, "read now");
        assertTrue(home.isCommitted(t), "committed");
        assertEq(home.epochOfTask(home.tableTask(1)), 1, "recorded as a task");
        TaskManager.Task memory task = home.getTask(home.tableTask(1));
        assertEq(task.responseDigest, keccak256(abi.encode(t)), "the task's answer is the table");

        // Lists that are not the registered set are refused.
        TableProofs.Member[] memory m = members();
        (m[0], m[1]) = (m[1], m[0]);
        vm.expectRevert(abi.encodeWithSelector(BridgeHome.MembersNotSorted.selector, m[1].operator));
        home.commitTable(m);
        m = members();
        m[2].stakeGwei += 1;
        vm.expectRevert(abi.encodeWithSelector(BridgeHome.MemberMismatch.selector, m[2].operator));
        home.commitTable(m);
        m = members();
        m[1].publicKey = Keys.publicKey(77);
        vm.expectRevert(abi.encodeWithSelector(BridgeHome.MemberMismatch.selector, m[1].operator));
        home.commitTable(m);
        TableProofs.Member[] memory three = new TableProofs.Member[](3);
        m = members();
        for (uint256 i = 0; i < 3; i++) {
            three[i] = m[i];
        }
        vm.expectRevert(
            abi.encodeWithSelector(BridgeHome.MembersIncomplete.selector, 3 * STAKE / 1 gwei, 4 * STAKE / 1 gwei)
        );
        home.commitTable(three);
        m = members();
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(TaskManager.NotTaskCreator.selector, ATTACKER));
        home.commitTable(m);
    }

    function test_tokensGoThereAndBackOnce() public {
        TableProofs.Table memory t = commit();
        deployRemote(t);
        token.mint(USER, 10 ether);
        vm.startPrank(USER);
        token.approve(address(vault), 10 ether);
        uint64 nonce = home.outbox().nextNonce();
        vault.lock(10 ether, USER);
        vm.stopPrank();
        Message memory there = Message(
            HOME, address(home.outbox()), nonce, address(vault), REMOTE, address(wrapped), abi.encode(USER, 10 ether)
        );
        assertTrue(home.outbox().sentBlock(messageId(there)) != 0, "sent");

        vm.chainId(REMOTE);
        TableProofs.Certificate memory cert = certify(remoteInbox.digest(there), none());
        remoteInbox.deliver(there, cert);
        assertEq(wrapped.balanceOf(USER), 10 ether, "minted on B");
        vm.expectRevert(abi.encodeWithSelector(MessageInbox.AlreadyExecuted.selector, messageId(there)));
        remoteInbox.deliver(there, cert);

        vm.prank(USER);
        wrapped.burn(4 ether, USER);
        assertEq(wrapped.balanceOf(USER), 6 ether, "burned on B");
        Message memory back =
            Message(REMOTE, address(remoteOutbox), 0, address(wrapped), HOME, address(vault), abi.encode(USER, 4 ether));

        vm.chainId(HOME);
        vm.roll(block.number + 1);
        CertificateVerifier.Certificate memory homeCert = homeCertificate(homeInbox.digest(back));
        homeInbox.deliver(back, homeCert);
        assertEq(token.balanceOf(USER), 4 ether, "released on A");
        assertEq(token.balanceOf(address(vault)), 6 ether, "the rest stays locked");
        vm.expectRevert(abi.encodeWithSelector(MessageInbox.AlreadyExecuted.selector, messageId(back)));
        homeInbox.deliver(back, homeCert);

        // An honest delivery is no offence: the outbox sent it.
        bytes memory evidence = abi.encode(home.FORGED_DELIVERY(), deliveryProofAt(there, cert, 0, t.homeBlock));
        uint256 taskId = home.tableTask(1);
        vm.expectRevert(abi.encodeWithSelector(BridgeHome.MessageWasSent.selector, messageId(there)));
        home.challenge(taskId, evidence);
    }

    function test_aColludingMajorityThatForgesAMessageIsSlashed() public {
        TableProofs.Table memory t = commit();
        uint64 homeBlock = t.homeBlock;
        deployRemote(t);
        // Three of four operators mint a million wrapped tokens the vault never locked
        // (the vault's next nonce, never used).
        Message memory forged = Message(
            HOME, address(home.outbox()), 0, address(vault), REMOTE, address(wrapped), abi.encode(ATTACKER, 1e24)
        );
        bool[] memory absent = none();
        absent[3] = true;
        vm.chainId(REMOTE);
        TableProofs.Certificate memory cert = certify(remoteInbox.digest(forged), absent);
        remoteInbox.deliver(forged, cert);
        assertEq(wrapped.balanceOf(ATTACKER), 1e24, "B cannot tell a forgery from a message");

        vm.chainId(HOME);
        vm.roll(block.number + 5);
        refuseFalseCharges(t, forged, cert);
        uint256 taskId = home.tableTask(1);
        bytes32 offence = home.FORGED_DELIVERY();
        // Each signer is slashed, once.
        for (uint256 i = 0; i < 3; i++) {
            uint256 before = core.allocatedStake(ops[i].addr, address(home));
            home.challenge(taskId, abi.encode(offence, deliveryProofAt(forged, cert, i, homeBlock)));
            assertEq(core.allocatedStake(ops[i].addr, address(home)), before / 2, "half the signer's stake");
        }
        bytes memory again = abi.encode(offence, deliveryProofAt(forged, cert, 0, homeBlock));
        vm.expectRevert(abi.encodeWithSelector(TaskManager.AlreadySlashed.selector, taskId, ops[0].addr, offence));
        home.challenge(taskId, again);
        assertEq(core.allocatedStake(ops[3].addr, address(home)), STAKE, "the honest operator keeps it all");

        // The next table weighs what is left: 3 x 16 + 32 = 80 (in ETH).
        refreshStakes();
        vm.roll(block.number + 1);
        TableProofs.Table memory next = commit();
        assertEq(next.totalStakeGwei, 80 ether / 1 gwei, "the forgers weigh half");
        assertEq(next.epoch, 2, "epoch 2");
    }

    /// Charges that must fail against the forgery `forged` certified by `cert` under
    /// the committed table `t`: the honest non-signer, and a doctored table.
    function refuseFalseCharges(TableProofs.Table memory t, Message memory forged, TableProofs.Certificate memory cert)
        internal
    {
        uint256 taskId = home.tableTask(1);
        bytes32 offence = home.FORGED_DELIVERY();
        // The honest operator did not sign: it cannot be charged.
        bytes memory honest = abi.encode(offence, deliveryProofAt(forged, cert, 3, t.homeBlock));
        vm.expectRevert(abi.encodeWithSelector(TableProofs.NotASigner.selector, ops[3].addr));
        home.challenge(taskId, honest);
        // A doctored table (more stake than committed) is not the task's answer.
        TableProofs.Table memory doctored = tableOf(1);
        doctored.homeBlock = t.homeBlock;
        doctored.totalStakeGwei += 1;
        (, bytes32[] memory p0) = merkle(leaves(), 0);
        bytes memory wrongTable =
            abi.encode(offence, abi.encode(doctored, forged, address(remoteInbox), cert, member(0), p0));
        vm.expectRevert(
            abi.encodeWithSelector(
                ForgeryVerifier.TableMismatch.selector, keccak256(abi.encode(t)), keccak256(abi.encode(doctored))
            )
        );
        home.challenge(taskId, wrongTable);
    }

    /// What a challenger submits against signer `i` of `cert` on `m`, under the
    /// current `ops` table as committed (epoch 1) at `homeBlock`.
    function deliveryProofAt(Message memory m, TableProofs.Certificate memory cert, uint256 i, uint64 homeBlock)
        internal
        view
        returns (bytes memory)
    {
        TableProofs.Table memory t = tableOf(1);
        t.homeBlock = homeBlock;
        (, bytes32[] memory proof) = merkle(leaves(), i);
        return abi.encode(t, m, address(remoteInbox), cert, member(i), proof);
    }

    function test_signersOfATableNeverCommittedAreSlashed() public {
        TableProofs.Table memory t1 = commit();
        deployRemote(t1);
        uint256 taskId = home.tableTask(1);
        bytes32 offence = home.FORGED_TABLE();
        (, bytes32[] memory p0) = merkle(leaves(), 0);

        // Installing the table the home chain committed is no offence.
        vm.roll(block.number + 1);
        TableProofs.Table memory t2 = commit();
        vm.chainId(REMOTE);
        TableProofs.Certificate memory cert = certify(remoteTable.updateDigest(t2), none());
        remoteTable.update(t2, cert);
        vm.chainId(HOME);
        bytes memory evidence =
            abi.encode(offence, abi.encode(t1, t2, REMOTE, address(remoteTable), cert, member(0), p0));
        vm.expectRevert(abi.encodeWithSelector(BridgeHome.TableWasCommitted.selector, 2));
        home.challenge(taskId, evidence);

        // A table of the attacker's keys, signed by three of four under epoch 2's table.
        // (A new struct: assigning `t2` would alias it.)
        TableProofs.Table memory evil = TableProofs.Table(
            3, t2.homeBlock, t2.homeTimestamp, keccak256("the attacker's members"), t2.totalStakeGwei, Keys.publicKey(666)
        );
        bool[] memory absent = none();
        absent[3] = true;
        vm.chainId(REMOTE);
        cert = certify(remoteTable.updateDigest(evil), absent);
        remoteTable.update(evil, cert);
        assertEq(remoteTable.table().root, evil.root, "B installed it");
        vm.chainId(HOME);
        uint256 task2 = home.tableTask(2);
        for (uint256 i = 0; i < 3; i++) {
            (, bytes32[] memory p) = merkle(leaves(), i);
            evidence = abi.encode(offence, abi.encode(t2, evil, REMOTE, address(remoteTable), cert, member(i), p));
            uint256 before = core.allocatedStake(ops[i].addr, address(home));
            home.challenge(task2, evidence);
            assertEq(core.allocatedStake(ops[i].addr, address(home)), before / 2, "slashed");
        }
        // Charged under a table that did not sign it: the signature does not verify.
        (, bytes32[] memory p1) = merkle(leaves(), 1);
        evidence = abi.encode(offence, abi.encode(t2, evil, REMOTE, address(remoteTable), cert, member(1), p1));
        vm.expectRevert(
            abi.encodeWithSelector(
                ForgeryVerifier.TableMismatch.selector, keccak256(abi.encode(t1)), keccak256(abi.encode(t2))
            )
        );
        home.challenge(taskId, evidence);
    }

    /// A table task was signed by no one: claiming rewards for it is refused, and an
    /// epoch's payouts never exceed its funds.
    function test_tableTasksEarnNoRewards() public {
        commit();
        uint256 taskId = home.tableTask(1);
        RewardsDistributor rewards = home.rewards();
        uint64 epoch = uint64(block.number / home.rewardEpochBlocks());
        token.mint(address(this), 10 ether);
        token.approve(address(rewards), 10 ether);
        rewards.fund(epoch, token, 10 ether, RewardsDistributor.Split.SignedStake);
        vm.roll(rewards.epochEnd(epoch));
        uint256[] memory ids = new uint256[](1);
        ids[0] = taskId;
        address[][] memory nonSigners = new address[][](1);
        vm.expectRevert(abi.encodeWithSelector(RewardsDistributor.TaskNotAnswered.selector, taskId));
        rewards.claim(ops[0].addr, epoch, ids, nonSigners);
    }

    /// A lock cannot nest inside another: a token calling back during its transfer
    /// cannot have one arrival counted twice.
    function test_aLockCannotReenter() public {
        deployRemote(commit());
        HookToken hook = new HookToken();
        TokenVault hooked = new TokenVault(hook, home.outbox(), address(homeInbox), REMOTE);
        hooked.setRemote(address(wrapped));
        hook.approve(address(hooked), 10 ether);
        hook.arm(hooked);
        vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
        hooked.lock(10 ether, USER);
    }

    /// Gas of committing a table (reading and checking the registry's set), at 10 and
    /// 100 operators.
    function test_gas_commitTable() public {
        uint256[2] memory sizes = [uint256(10), 100];
        for (uint256 s = 0; s < sizes.length; s++) {
            home = new BridgeHome(TaskManager.Params(core, address(this), 1 ether, 100, DELAY));
            setOperators(1000 * (s + 1), sizes[s]);
            for (uint256 i = 0; i < ops.length; i++) {
                join(ops[i]);
                ops[i].stake = uint64(STAKE / 1 gwei);
            }
            vm.roll(block.number + 1);
            TableProofs.Member[] memory m = members();
            home.commitTable(m);
            uint256 used = vm.lastCallGas().gasTotalUsed;
            emit log_string(
                string.concat("bridge-gas operators=", vm.toString(sizes[s]), " commit-table=", vm.toString(used))
            );
            assertTrue(home.isCommitted(tableOf(1)), "committed");
        }
    }
}
