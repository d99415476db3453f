//! The relayer's registration endpoint (`POST /v1/signers`) as an attacker meets it,
//! over a real socket against the registry on anvil: garbage, oversized bodies,
//! times at the edge of u64, URLs off this machine, strangers' keys, another
//! deployment's signatures, replays, older registrations, and a flood of forgeries
//! racing an honest operator. Only what the operator itself signed, newer than what
//! is in force, ever lands; the endpoint answers throughout.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use bridge_avs::runtime::{Registrations, registration, registration_router};
use common::*;

/// Serves the registration endpoint on a free loopback port; returns its URL.
async fn serve(app: axum::Router) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/signers", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Posts `body`; returns the status code and the answer.
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> Result<(u16, String)> {
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    Ok((answer.status().as_u16(), answer.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_operators_own_newer_registration_lands() -> Result {
    let bridge = Bridge::start().await?;
    let d = bridge.deployment();
    let registrations = Registrations::default();
    let url = serve(registration_router(
        registrations.clone(),
        bridge.a().clone(),
        d,
    ))
    .await?;
    let http = reqwest::Client::new();
    let (op, stranger) = (&bridge.ops[0], SecretKey::random()?);
    let honest = "http://127.0.0.1:4000";
    let t = now();
    let endpoints = || {
        registrations
            .endpoints()
            .into_iter()
            .map(|e| (e.operator, e.url))
            .collect::<Vec<_>>()
    };

    // Not JSON, JSON without the fields, and more than 2 KiB: refused, unread.
    assert_eq!(post(&http, &url, "not json").await?.0, 400);
    assert_eq!(post(&http, &url, "{}").await?.0, 400);
    assert_eq!(post(&http, &url, vec![b' '; 3000]).await?.0, 413);
    // Times at the edge of u64: refused, and the endpoint still answers.
    for issued_at in [u64::MAX, u64::MAX - 1, 0] {
        let body = registration(&op.key, &d, op.address, honest, issued_at);
        let (code, answer) = post(&http, &url, body).await?;
        assert_eq!((code, answer.as_str()), (400, "issued_at too far from now"));
    }
    // A URL off this machine, signed by the operator itself: refused.
    let body = registration(&op.key, &d, op.address, "http://10.1.2.3:80", t);
    assert_eq!(post(&http, &url, body).await?.0, 400);
    // The operator's address under a stranger's key; a stranger's own address.
    let forged = registration(&stranger, &d, op.address, "http://127.0.0.1:6666", t);
    let (code, answer) = post(&http, &url, forged).await?;
    assert_eq!((code, answer.as_str()), (400, "signature does not verify"));
    let outsider = Address::repeat_byte(0xee);
    let body = registration(&stranger, &d, outsider, "http://127.0.0.1:6666", t);
    let (code, answer) = post(&http, &url, body).await?;
    assert_eq!((code, answer.as_str()), (400, "not a registered operator"));
    // The operator's own signature for another deployment (another BridgeHome).
    let mut elsewhere = d;
    elsewhere.home_avs = Address::repeat_byte(0xaa);
    let body = registration(&op.key, &elsewhere, op.address, "http://127.0.0.1:6666", t);
    assert_eq!(post(&http, &url, body).await?.0, 400);
    assert!(endpoints().is_empty(), "nothing landed: {:?}", endpoints());

    // The operator's own registration lands; replayed or older, it changes nothing.
    let own = registration(&op.key, &d, op.address, honest, t);
    assert_eq!(
        post(&http, &url, own.clone()).await?,
        (200, "registered".into())
    );
    assert_eq!(endpoints(), [(op.address, honest.to_string())]);
    let (code, answer) = post(&http, &url, own).await?;
    assert_eq!(
        (code, answer.as_str()),
        (400, "not newer than the registration in force")
    );
    let older = registration(&op.key, &d, op.address, "http://127.0.0.1:6666", t - 1);
    assert_eq!(post(&http, &url, older).await?.0, 400);

    // A flood of forgeries in the operator's name, dated ahead of its next honest
    // registration, racing it: the honest one lands, no forgery does.
    let moved = "http://127.0.0.1:4001";
    let flood: Vec<_> = (0..64)
        .map(|i| {
            let body = registration(
                &stranger,
                &d,
                op.address,
                &format!("http://127.0.0.1:{}", 7000 + i),
                t + 2,
            );
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                post(&http, &url, body)
                    .await
                    .map(|(code, _)| code)
                    .unwrap_or(0)
            })
        })
        .collect();
    let next = registration(&op.key, &d, op.address, moved, t + 1);
    assert_eq!(post(&http, &url, next).await?.0, 200);
    for forged in flood {
        assert_eq!(forged.await?, 400);
    }
    assert_eq!(endpoints(), [(op.address, moved.to_string())]);
    // And another operator registers beside it as before.
    let other = &bridge.ops[1];
    let body = registration(&other.key, &d, other.address, honest, t);
    assert_eq!(post(&http, &url, body).await?.0, 200);
    assert_eq!(endpoints().len(), 2);
    Ok(())
}
