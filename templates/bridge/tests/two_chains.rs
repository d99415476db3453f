//! The bridge end to end on two anvils (home chain 31337 with the restaking core and
//! the bridge AVS, remote chain 31338 with the operator table): tokens there and back
//! with finality and replays refused, a reorg before depth, a stale table refused
//! until the next epoch is carried across, and a colluding majority's forged message
//! proven on the home chain and slashed there.

mod common;

use common::*;

#[tokio::test]
async fn tokens_go_there_and_back_at_depth_once() -> Result {
    let bridge = Bridge::start().await?;
    let (a, b) = (bridge.a(), bridge.b());
    let user = bridge.funded_user(5, ether(10)).await?;
    let mut watchers = bridge.home_watchers();
    for w in &mut watchers {
        assert!(w.poll().await?.is_empty());
    }

    let started = Instant::now();
    let sent_at = bridge.lock(user, ether(10)).await?;
    // Not deep enough: nothing to sign.
    let early = bridge
        .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
        .await?;
    assert!(early.is_empty(), "signed before its depth: {early:?}");
    assert_eq!(watchers[0].pending(), 1);
    devnet::mine(a, CONFIRMATIONS).await?;
    let released = bridge
        .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
        .await?;
    assert_eq!(released.len(), 1, "one message, released at its depth");
    let (m, mut signed) = released.into_iter().next().ok_or("no message")?;
    assert_eq!(m.nonce, 0);
    assert_eq!(signed.len(), 4, "every operator signed");

    // An attacker's signature, and an operator's signature on something else, ride
    // along: refused, and the others still certify.
    let stranger = SecretKey::from_ikm(&[99; 32])?;
    signed.push(Signed {
        operator: Address::repeat_byte(0x66),
        signature: relay::sign(&stranger, relay::delivery(REMOTE, bridge.inbox_b, &m)),
    });
    signed[0].signature = relay::sign(&bridge.ops[0].key, B256::repeat_byte(7));
    let refused = bridge.deliver_remote(&m, &signed).await?;
    let executed_at = a.get_block_number().await?;
    let elapsed = started.elapsed();
    assert_eq!(
        refused.len(),
        2,
        "the stranger and the bad signature: {refused:?}"
    );
    assert_eq!(
        bridge.wrapped_balance(user).await?,
        ether(10),
        "minted on B"
    );
    println!(
        "bridge dispatch→execution: {} home blocks (confirmations {CONFIRMATIONS}), {} ms",
        executed_at - sent_at,
        elapsed.as_millis()
    );

    // The same message again, by anyone, is refused.
    let (cert, _) = relay::table_certificate(
        &bridge.table,
        relay::delivery(REMOTE, bridge.inbox_b, &m),
        &signed,
    )?;
    let again = IInbox::new(bridge.inbox_b, b.clone())
        .deliver((&m).into(), cert)
        .from(bridge.relayer_b)
        .call()
        .await
        .expect_err("a replay must fail");
    assert!(reverted_with(&again, "AlreadyExecuted(bytes32)"), "{again}");

    // Back: burn 4 on B, released on A with a certificate of the home registry.
    assert_eq!(
        bridge.remote.accounts()[5],
        user,
        "one address on both chains"
    );
    let mut back_watchers = bridge.remote_watchers();
    let wrapped = IWrappedToken::new(bridge.wrapped, b.clone());
    devnet::mined(b, wrapped.burn(ether(4), user).from(user).send().await?).await?;
    assert_eq!(bridge.wrapped_balance(user).await?, ether(6), "burned on B");
    devnet::mine(b, CONFIRMATIONS).await?;
    let released = bridge
        .sign_released(&mut back_watchers, HOME, bridge.home_inbox)
        .await?;
    let (back, signed) = released.into_iter().next().ok_or("nothing released on B")?;
    let reference = u32::try_from(a.get_block_number().await? - 1)?;
    let set = operator_set_at(a, bridge.d.avs, reference).await?;
    let (cert, refused) = relay::home_certificate(
        &set,
        relay::delivery(HOME, bridge.home_inbox, &back),
        &signed,
    )?;
    assert!(refused.is_empty());
    let home_inbox = IHomeInbox::new(bridge.home_inbox, a.clone());
    devnet::mined(
        a,
        home_inbox
            .deliver((&back).into(), cert.clone())
            .from(bridge.d.owner)
            .send()
            .await?,
    )
    .await?;
    let token = LiquidStakingToken::new(bridge.d.token, a.clone());
    assert_eq!(
        token.balanceOf(user).call().await?,
        ether(4),
        "released on A"
    );
    assert_eq!(
        token.balanceOf(bridge.vault).call().await?,
        ether(6),
        "6 stay locked"
    );
    let again = home_inbox
        .deliver((&back).into(), cert)
        .from(bridge.d.owner)
        .call()
        .await
        .expect_err("a replay on A must fail");
    assert!(reverted_with(&again, "AlreadyExecuted(bytes32)"), "{again}");
    Ok(())
}

#[tokio::test]
async fn a_reorg_before_depth_is_never_signed_and_a_re_emission_only_as_itself() -> Result {
    let bridge = Bridge::start().await?;
    let a = bridge.a();
    let user = bridge.funded_user(5, ether(30)).await?;
    let mut watchers = bridge.home_watchers();

    // 10 locked, seen one block deep, then the chain reorganises: the lock is gone and
    // the same nonce now carries 7.
    let before = snapshot(a).await?;
    bridge.lock(user, ether(10)).await?;
    devnet::mine(a, 1).await?;
    assert!(
        bridge
            .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
            .await?
            .is_empty()
    );
    assert_eq!(watchers[0].pending(), 1, "seen, not deep");
    revert_to(a, before).await?;
    bridge.lock(user, ether(7)).await?;
    devnet::mine(a, CONFIRMATIONS + 2).await?;
    let released = bridge
        .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
        .await?;
    assert_eq!(
        released.len(),
        1,
        "only the re-emitted message: {released:?}"
    );
    let (m, signed) = &released[0];
    let (to, amount) = <(Address, U256)>::abi_decode(&m.payload)?;
    assert_eq!((to, amount), (user, ether(7)), "signed as re-emitted");
    assert_eq!(signed.len(), 4);
    bridge.deliver_remote(m, signed).await?;
    assert_eq!(bridge.wrapped_balance(user).await?, ether(7));

    // A lock dropped by a reorg and never re-emitted is never signed.
    let before = snapshot(a).await?;
    bridge.lock(user, ether(5)).await?;
    assert!(
        bridge
            .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
            .await?
            .is_empty()
    );
    revert_to(a, before).await?;
    devnet::mine(a, CONFIRMATIONS + 5).await?;
    let released = bridge
        .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
        .await?;
    assert!(
        released.is_empty(),
        "a dropped message was signed: {released:?}"
    );
    for w in &watchers {
        assert_eq!(w.pending(), 0, "nothing left waiting");
    }
    Ok(())
}

#[tokio::test]
async fn a_stale_table_is_refused_until_the_next_epoch_is_carried_across() -> Result {
    let bridge = Bridge::start().await?;
    let (a, b) = (bridge.a(), bridge.b());
    let user = bridge.funded_user(5, ether(10)).await?;
    let mut watchers = bridge.home_watchers();
    bridge.lock(user, ether(10)).await?;
    devnet::mine(a, CONFIRMATIONS).await?;
    let released = bridge
        .sign_released(&mut watchers, REMOTE, bridge.inbox_b)
        .await?;
    let (m, signed) = released.into_iter().next().ok_or("nothing released")?;

    // MAX_AGE and a second later, the table is too old to execute anything.
    // (Time passes on both chains alike: tables age from their home commit.)
    for p in [a, b] {
        let _: U256 = p
            .raw_request("evm_increaseTime".into(), (U256::from(MAX_AGE + 1),))
            .await?;
        devnet::mine(p, 1).await?;
    }
    let digest = relay::delivery(REMOTE, bridge.inbox_b, &m);
    let (cert, _) = relay::table_certificate(&bridge.table, digest, &signed)?;
    let stale = IInbox::new(bridge.inbox_b, b.clone())
        .deliver((&m).into(), cert)
        .from(bridge.relayer_b)
        .call()
        .await
        .expect_err("a stale table must not execute");
    assert!(
        reverted_with(&stale, "StaleTable(uint256,uint256,uint256)"),
        "{stale}"
    );

    // The relayer commits epoch 2 from the registry; once it is deep, the current
    // table's operators sign it over, and B installs it.
    let head = a.get_block_number().await?;
    let table2 = relay::read_table(a, bridge.d.avs, u32::try_from(head)?).await?;
    let epoch2 = relay::commit_table(a, bridge.d.avs, bridge.d.owner, &table2).await?;
    assert_eq!(epoch2.epoch, 2);
    assert_eq!(epoch2.task_id, bridge.committed.task_id + U256::from(1));
    devnet::mine(a, CONFIRMATIONS).await?;
    let update = relay::update_digest(HOME, bridge.d.avs, REMOTE, bridge.table_b, &epoch2.table);
    let on_chain = IOperatorTable::new(bridge.table_b, b.clone());
    assert_eq!(
        on_chain.updateDigest(epoch2.table.clone()).call().await?,
        update,
        "the contract and the relayer agree on the update digest"
    );
    let votes: Vec<Signed> = bridge
        .ops
        .iter()
        .map(|op| Signed {
            operator: op.address,
            signature: relay::sign(&op.key, update),
        })
        .collect();
    let (cert, _) = relay::table_certificate(&bridge.table, update, &votes)?;
    devnet::mined(
        b,
        on_chain
            .update(epoch2.table.clone(), cert)
            .from(bridge.relayer_b)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(on_chain.table().call().await?.epoch, 2);
    // Certificates of the new table execute again.
    let (cert, _) = relay::table_certificate(&table2, digest, &signed)?;
    devnet::mined(
        b,
        IInbox::new(bridge.inbox_b, b.clone())
            .deliver((&m).into(), cert)
            .from(bridge.relayer_b)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(bridge.wrapped_balance(user).await?, ether(10));
    Ok(())
}

#[tokio::test]
async fn a_colluding_majority_that_forges_a_message_is_slashed_on_the_home_chain() -> Result {
    let bridge = Bridge::start().await?;
    let (a, b) = (bridge.a(), bridge.b());
    let attacker = bridge.remote.accounts()[7];
    // A mint of a million wrapped tokens the vault never locked: nonce 0 of the home
    // outbox is unused.
    let forged = Message {
        source_chain_id: U256::from(HOME),
        outbox: bridge.outbox_a,
        nonce: 0,
        sender: bridge.vault,
        destination_chain_id: U256::from(REMOTE),
        recipient: bridge.wrapped,
        payload: (attacker, ether(1_000_000)).abi_encode().into(),
    };
    let digest = relay::delivery(REMOTE, bridge.inbox_b, &forged);
    // Three of four operators (75% of the stake) sign it without any watcher.
    let colluders = &bridge.ops[..3];
    let honest = &bridge.ops[3];
    let votes: Vec<Signed> = colluders
        .iter()
        .map(|op| Signed {
            operator: op.address,
            signature: relay::sign(&op.key, digest),
        })
        .collect();
    let (cert, _) = relay::table_certificate(&bridge.table, digest, &votes)?;
    devnet::mined(
        b,
        IInbox::new(bridge.inbox_b, b.clone())
            .deliver((&forged).into(), cert.clone())
            .from(bridge.relayer_b)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        bridge.wrapped_balance(attacker).await?,
        ether(1_000_000),
        "B cannot tell a forgery from a message"
    );

    // A challenger on A, with only what is public: the certificate (B's calldata),
    // the committed table (A's event) and the registry.
    let challenger = bridge.home.accounts()[8];
    let home = IBridgeHome::new(bridge.d.avs, a.clone());
    let offence = home.FORGED_DELIVERY().call().await?;
    let core = RestakingCore::new(bridge.d.core, a.clone());
    let evidence = |signer: Address| {
        relay::forged_delivery_evidence(
            offence,
            &bridge.committed.table,
            &bridge.table,
            &forged,
            bridge.inbox_b,
            &cert,
            signer,
        )
    };
    let refused = home
        .challenge(bridge.committed.task_id, evidence(honest.address)?)
        .from(challenger)
        .call()
        .await
        .err()
        .expect("the honest operator did not sign");
    assert!(reverted_with(&refused, "NotASigner(address)"), "{refused}");
    for op in colluders {
        let before = core.allocatedStake(op.address, bridge.d.avs).call().await?;
        devnet::mined(
            a,
            home.challenge(bridge.committed.task_id, evidence(op.address)?)
                .from(challenger)
                .send()
                .await?,
        )
        .await?;
        let after = core.allocatedStake(op.address, bridge.d.avs).call().await?;
        assert_eq!(
            after,
            before / U256::from(2),
            "half of {}'s stake",
            op.address
        );
        println!("forger {} slashed: {before} -> {after} wei", op.address);
    }
    let twice = home
        .challenge(bridge.committed.task_id, evidence(colluders[0].address)?)
        .from(challenger)
        .call()
        .await
        .err()
        .expect("once per signer");
    assert!(
        reverted_with(&twice, "AlreadySlashed(uint256,address,bytes32)"),
        "{twice}"
    );
    assert_eq!(
        core.allocatedStake(honest.address, bridge.d.avs)
            .call()
            .await?,
        ether(32),
        "the honest operator keeps all of its stake"
    );
    // The next table weighs what is left: 3 x 16 + 32 ETH.
    let head = a.get_block_number().await?;
    let next = relay::read_table(a, bridge.d.avs, u32::try_from(head)?).await?;
    assert_eq!(next.total_stake_gwei(), 80_000_000_000);
    Ok(())
}

/// The oracle template's AVS contract, deployed beside the bridge on the same core.
const ORACLE_AVS: &str = include_str!("../../oracle/artifacts/OracleAVS.json");

#[tokio::test]
async fn the_oracle_and_the_bridge_share_one_stake() -> Result {
    let bridge = Bridge::start().await?;
    let a = bridge.a();
    let d = &bridge.d;
    let core = RestakingCore::new(d.core, a.clone());
    let token = LiquidStakingToken::new(d.token, a.clone());

    // The oracle on the same core; the same four operators allocate all of their
    // stake to it too and register the same keys.
    let oracle_config = DeployConfig {
        avs_code: contracts::creation_code(ORACLE_AVS)?,
        ..DeployConfig::default()
    };
    let oracle = bridge
        .home
        .deploy_avs(&oracle_config, d.core, d.owner)
        .await?;
    let oracle_registry = BasicAVS::new(oracle, a.clone());
    for op in &bridge.ops {
        devnet::mined(
            a,
            core.allocate(oracle, 10_000)
                .from(op.address)
                .send()
                .await?,
        )
        .await?;
        let registration = KeyRegistration::for_chain(a, &op.key, oracle, op.address).await?;
        devnet::mined(
            a,
            oracle_registry
                .registerOperator(registration.public_key, registration.proof)
                .from(op.address)
                .send()
                .await?,
        )
        .await?;
    }

    // A staker delegates 64 to operator 0, which then stands for 96 on both AVSs.
    let staker = bridge.home.accounts()[6];
    let op0 = &bridge.ops[0];
    devnet::mined(a, token.mint(staker, ether(64)).from(d.owner).send().await?).await?;
    devnet::mined(
        a,
        token.approve(d.core, ether(64)).from(staker).send().await?,
    )
    .await?;
    devnet::mined(a, core.delegate(op0.address).from(staker).send().await?).await?;
    devnet::mined(a, core.deposit(ether(64)).from(staker).send().await?).await?;
    let home = IBridgeHome::new(d.avs, a.clone());
    let bridge_registry = BasicAVS::new(d.avs, a.clone());
    for registry in [&bridge_registry, &oracle_registry] {
        devnet::mined(
            a,
            registry
                .syncStakes(vec![op0.address])
                .from(d.owner)
                .send()
                .await?,
        )
        .await?;
    }
    let weight = |avs: Address| {
        let a = a.clone();
        let op = op0.address;
        async move {
            let head = u32::try_from(a.get_block_number().await?)?;
            let set = operator_set_at(&a, avs, head).await?;
            Ok::<u64, Box<dyn std::error::Error>>(set.get(&op).map_or(0, |e| e.stake_gwei))
        }
    };
    assert_eq!(weight(d.avs).await?, 96_000_000_000, "96 on the bridge");
    assert_eq!(weight(oracle).await?, 96_000_000_000, "96 on the oracle");

    // Both AVSs pay this epoch's rewards by stake; the staker earns from both.
    devnet::mined(
        a,
        token.mint(d.owner, ether(200)).from(d.owner).send().await?,
    )
    .await?;
    let mut earned = Vec::new();
    for avs in [d.avs, oracle] {
        let epochs = Epochs::of(a, avs).await?;
        let epoch = epochs.epoch_of(a.get_block_number().await?);
        epochs
            .fund(epoch, d.token, ether(100), Split::Stake)
            .await?;
        devnet::mine_to(a, epochs.end_of(epoch) + 1).await?;
        epochs.distribute(epoch).await?;
        earned.push(core.pendingRewards(staker, d.token).call().await?);
    }
    println!(
        "one stake, two AVSs: the staker's rewards after the bridge's epoch {} wei, after the oracle's {} wei",
        earned[0], earned[1]
    );
    assert!(earned[0] > U256::ZERO, "rewards from the bridge");
    assert!(earned[1] > earned[0], "and from the oracle");

    // The relayer keeps tables fresh: epoch 2, read now (its task's challenge window
    // opens now; epoch 1's closed while the epochs ran).
    let head = u32::try_from(a.get_block_number().await?)?;
    let table = relay::read_table(a, d.avs, head).await?;
    let committed = relay::commit_table(a, d.avs, d.owner, &table).await?;

    // Operator 0 alone signs a forged mint: not enough for B, but provable on A.
    let forged = Message {
        source_chain_id: U256::from(HOME),
        outbox: bridge.outbox_a,
        nonce: 41,
        sender: bridge.vault,
        destination_chain_id: U256::from(REMOTE),
        recipient: bridge.wrapped,
        payload: (op0.address, ether(1)).abi_encode().into(),
    };
    let digest = relay::delivery(REMOTE, bridge.inbox_b, &forged);
    let alone = [Signed {
        operator: op0.address,
        signature: relay::sign(&op0.key, digest),
    }];
    let (cert, _) = relay::table_certificate(&table, digest, &alone)?;
    let evidence = relay::forged_delivery_evidence(
        home.FORGED_DELIVERY().call().await?,
        &committed.table,
        &table,
        &forged,
        bridge.inbox_b,
        &cert,
        op0.address,
    )?;
    let staked_before = core.stakeOf(staker).call().await?;
    devnet::mined(
        a,
        home.challenge(committed.task_id, evidence)
            .from(bridge.home.accounts()[8])
            .send()
            .await?,
    )
    .await?;
    let after_bridge = (weight(d.avs).await?, weight(oracle).await?);
    let staked_after = core.stakeOf(staker).call().await?;
    println!(
        "one stake, two AVSs: after a 50% slash on the bridge, operator 0 weighs {} gwei on the bridge and {} gwei on the oracle; the staker's 64 became {staked_after} wei",
        after_bridge.0, after_bridge.1
    );
    assert_eq!(
        after_bridge,
        (48_000_000_000, 48_000_000_000),
        "halved on both"
    );
    assert_eq!(staked_after, staked_before / U256::from(2));

    // A second offence (a forged table update) compounds on what is left.
    let next = contracts::WireTable {
        epoch: 9,
        root: B256::repeat_byte(0xEE),
        ..committed.table.clone()
    };
    let update = relay::update_digest(HOME, d.avs, REMOTE, bridge.table_b, &next);
    let (cert, _) = relay::table_certificate(
        &table,
        update,
        &[Signed {
            operator: op0.address,
            signature: relay::sign(&op0.key, update),
        }],
    )?;
    let evidence = relay::forged_table_evidence(
        home.FORGED_TABLE().call().await?,
        &committed.table,
        &table,
        &next,
        REMOTE,
        bridge.table_b,
        &cert,
        op0.address,
    )?;
    devnet::mined(
        a,
        home.challenge(committed.task_id, evidence)
            .from(bridge.home.accounts()[8])
            .send()
            .await?,
    )
    .await?;
    let compounded = (weight(d.avs).await?, weight(oracle).await?);
    println!(
        "one stake, two AVSs: after a second 50% slash, {} gwei on the bridge and {} gwei on the oracle (96 -> 48 -> 24)",
        compounded.0, compounded.1
    );
    assert_eq!(
        compounded,
        (24_000_000_000, 24_000_000_000),
        "compounded: 96 x 0.5 x 0.5"
    );
    assert_eq!(
        core.stakeOf(staker).call().await?,
        staked_before / U256::from(4)
    );
    Ok(())
}
