//! The bridge's processes over real sockets on 127.0.0.1: four operators each follow
//! both chains and serve their signatures over HTTP, a relayer asks them and
//! delivers. Both anvils mine a block every 150 ms. Hostile endpoints ride along: one
//! impersonates operator 0 with a stranger's signatures, one answers a megabyte, one
//! never answers. Tokens go there and back, and a new operator's arrival is carried
//! across as table epoch 2, with no call from the test but the users' own.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use bridge_avs::relayer::{Endpoint, Relayer, Report};
use bridge_avs::signing::{Duty, SignatureBook, router};
use common::*;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `app` on a free loopback port; returns its base URL.
async fn serve(app: axum::Router) -> Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, handle))
}

/// Mines a block on `p` every `every`.
fn miner(p: DynProvider, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let _ = devnet::mine(&p, 1).await;
        }
    })
}

/// Steps `relayer` until `done` holds (checked after each step), within `limit`;
/// returns what the steps reported.
async fn relay_until<F, Fut>(relayer: &mut Relayer, limit: Duration, done: F) -> Result<Vec<Report>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut reports = Vec::new();
    loop {
        reports.push(relayer.step().await?);
        if done().await? {
            return Ok(reports);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("not done within {limit:?}: {reports:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_a_relayer_carry_tokens_and_tables_over_sockets() -> Result {
    let bridge = Bridge::start().await?;
    let (a, b) = (bridge.a().clone(), bridge.b().clone());
    let d = bridge.deployment();
    let mut tasks = Vec::new();

    // Four operators: a duty and a signature server each.
    let mut endpoints = Vec::new();
    for op in &bridge.ops {
        let book = SignatureBook::new(10_000);
        let (url, server) = serve(router(book.clone())).await?;
        tasks.push(server);
        let mut duty = Duty::new(
            op.key.clone(),
            d,
            a.clone(),
            b.clone(),
            (0, 0),
            CONFIRMATIONS,
            book,
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let _ = duty.step().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
        endpoints.push(Endpoint {
            operator: op.address,
            url,
        });
    }
    // Hostile endpoints. One claims to be operator 0 and signs with a stranger's key.
    let stranger = SecretKey::from_ikm(&[0x5A; 32])?;
    let impostor_asked = Arc::new(AtomicUsize::new(0));
    let asked = impostor_asked.clone();
    let (url, server) = serve(axum::Router::new().route(
        "/v1/signatures/{digest}",
        get(
            move |axum::extract::Path(digest): axum::extract::Path<String>| {
                let stranger = stranger.clone();
                asked.fetch_add(1, Ordering::Relaxed);
                async move {
                    let digest: B256 = digest.parse().unwrap_or_default();
                    let s = relay::sign(&stranger, digest);
                    format!(
                        "0x{}",
                        bulwark::alloy::primitives::hex::encode(s.to_uncompressed())
                    )
                }
            },
        ),
    ))
    .await?;
    tasks.push(server);
    endpoints.insert(
        0,
        Endpoint {
            operator: bridge.ops[0].address,
            url,
        },
    );
    // One answers a megabyte of hex.
    let (url, server) = serve(axum::Router::new().route(
        "/v1/signatures/{digest}",
        get(|| async { "ab".repeat(1 << 19) }),
    ))
    .await?;
    tasks.push(server);
    endpoints.push(Endpoint {
        operator: bridge.ops[1].address,
        url,
    });
    // One never answers.
    let (url, server) = serve(axum::Router::new().route(
        "/v1/signatures/{digest}",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            String::new()
        }),
    ))
    .await?;
    tasks.push(server);
    endpoints.push(Endpoint {
        operator: bridge.ops[2].address,
        url,
    });

    tasks.push(miner(a.clone(), Duration::from_millis(150)));
    tasks.push(miner(b.clone(), Duration::from_millis(150)));
    let mut relayer = Relayer::new(
        d,
        a.clone(),
        b.clone(),
        (bridge.d.owner, bridge.relayer_b),
        endpoints,
        (0, 0),
        CONFIRMATIONS,
        Duration::from_millis(500),
    )
    .await?;

    // There: 10 locked on A, minted on B by the relayer.
    let user = bridge.funded_user(5, ether(10)).await?;
    let started = std::time::Instant::now();
    let sent_at = bridge.lock(user, ether(10)).await?;
    let reports = relay_until(&mut relayer, Duration::from_secs(60), || async {
        Ok(bridge.wrapped_balance(user).await? == ether(10))
    })
    .await?;
    let elapsed = started.elapsed();
    let executed_home_block = a.get_block_number().await?;
    println!(
        "relayer dispatch→execution: {} home blocks (confirmations {CONFIRMATIONS}, goal {}), {} ms",
        executed_home_block - sent_at,
        CONFIRMATIONS + 2,
        elapsed.as_millis()
    );
    // The impostor was asked (and answered at once), yet B executed: its signature
    // never entered the certificate, or the inbox would have refused it.
    assert!(
        impostor_asked.load(Ordering::Relaxed) > 0,
        "the impostor was asked"
    );
    let refused: Vec<Address> = reports.iter().flat_map(|r| r.refused.clone()).collect();
    assert!(
        refused.iter().all(|r| *r == bridge.ops[0].address),
        "only the impersonated operator's answer can be refused: {refused:?}"
    );

    // Back: 4 burned on B, released on A.
    let wrapped = IWrappedToken::new(bridge.wrapped, b.clone());
    devnet::mined(&b, wrapped.burn(ether(4), user).from(user).send().await?).await?;
    let token = LiquidStakingToken::new(bridge.d.token, a.clone());
    relay_until(&mut relayer, Duration::from_secs(60), || async {
        Ok(token.balanceOf(user).call().await? == ether(4))
    })
    .await?;

    // A fifth operator joins on A: the relayer commits epoch 2 and carries it across,
    // signed by the table in force.
    let newcomer = bridge.home.accounts()[9];
    let key = SecretKey::from_ikm(&[9; 32])?;
    bridge
        .home
        .onboard_operator(&bridge.d, newcomer, ether(32), &key)
        .await?;
    let on_b = IOperatorTable::new(bridge.table_b, b.clone());
    relay_until(&mut relayer, Duration::from_secs(60), || async {
        Ok(on_b.table().call().await?.epoch == 2)
    })
    .await?;
    assert_eq!(relayer.table().members().len(), 5, "the newcomer is in");
    // Messages still flow under epoch 2 (four of five signing: 80%).
    bridge.funded_user(5, ether(1)).await?;
    bridge.lock(user, ether(1)).await?;
    relay_until(&mut relayer, Duration::from_secs(60), || async {
        Ok(bridge.wrapped_balance(user).await? == ether(7))
    })
    .await?;

    // A second relayer races the first: whichever installs an epoch, neither stalls.
    // Time passes past half the table's life (on both chains), so both want a fresh
    // epoch though the set did not change.
    let mut second = Relayer::new(
        d,
        a.clone(),
        b.clone(),
        (bridge.home.accounts()[0], bridge.remote.accounts()[1]),
        relayer.endpoints().to_vec(),
        (0, 0),
        CONFIRMATIONS,
        Duration::from_millis(500),
    )
    .await?;
    for p in [&a, &b] {
        let _: U256 = p
            .raw_request("evm_increaseTime".into(), (U256::from(MAX_AGE / 2 + 1),))
            .await?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while on_b.table().call().await?.epoch < 3 {
        second.step().await?;
        relayer.step().await?;
        assert!(
            std::time::Instant::now() < deadline,
            "no fresh epoch within a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first relayer goes on delivering under whatever epoch is in force.
    bridge.funded_user(5, ether(1)).await?;
    bridge.lock(user, ether(1)).await?;
    relay_until(&mut relayer, Duration::from_secs(60), || async {
        Ok(bridge.wrapped_balance(user).await? == ether(8))
    })
    .await?;

    for task in tasks {
        task.abort();
    }
    Ok(())
}
