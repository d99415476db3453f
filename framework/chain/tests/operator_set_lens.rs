//! The operator set at a past block, read in pages through the lens (one `eth_call`
//! per page, nothing deployed): the same set whatever the page size, operators
//! deregistered before the block or registered after it left out, and a block
//! before any set an `EmptySet`.

use alloy::primitives::Address;
use alloy::providers::Provider;
use bulwark_chain::ChainError;
use bulwark_chain::bindings::BasicAVS;
use bulwark_chain::devnet::{DeployConfig, Devnet, ether, mined};
use bulwark_chain::registry::{OperatorSet, PAGE, operator_set_paged};
use bulwark_crypto::SecretKey;

fn members(set: &OperatorSet) -> Vec<(Address, u64, u32)> {
    set.operators
        .iter()
        .map(|e| (e.address, e.stake_gwei, e.hint))
        .collect()
}

async fn block(devnet: &Devnet) -> u32 {
    u32::try_from(devnet.provider().get_block_number().await.expect("head")).expect("u32")
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_read_the_set_at_a_block_whatever_their_size() {
    let devnet = Devnet::start(7).expect("anvil must start: run `make tools`");
    let d = devnet
        .deploy(&DeployConfig::default())
        .await
        .expect("deploy");
    let before = block(&devnet).await;
    let ops = devnet
        .onboard_operators(&d, 5, ether(32))
        .await
        .expect("onboard");
    let five = block(&devnet).await;

    // Operator 2 leaves, then a sixth joins.
    let avs = BasicAVS::new(d.avs, devnet.provider().clone());
    mined(
        devnet.provider(),
        avs.deregisterOperator()
            .from(ops[2].address)
            .send()
            .await
            .expect("deregister"),
    )
    .await
    .expect("mined");
    let four = block(&devnet).await;
    let sixth = devnet.accounts()[6];
    let key = SecretKey::from_ikm(&[6; 32]).expect("ikm");
    devnet
        .onboard_operator(&d, sixth, ether(16), &key)
        .await
        .expect("onboard the sixth");
    let later = block(&devnet).await;

    let provider = devnet.provider();
    for (at, expected) in [(five, 5), (four, 4), (later, 5)] {
        let whole = operator_set_paged(provider, d.avs, at, PAGE)
            .await
            .expect("one page");
        assert_eq!(whole.operators.len(), expected, "members at block {at}");
        for page in [1, 2, 4] {
            let paged = operator_set_paged(provider, d.avs, at, page)
                .await
                .expect("pages");
            assert_eq!(members(&paged), members(&whole), "page size {page}");
            assert_eq!(paged.set_hint, whole.set_hint);
            assert_eq!(paged.total_stake_gwei, whole.total_stake_gwei);
        }
    }
    let at_four = operator_set_paged(provider, d.avs, four, 2)
        .await
        .expect("set");
    assert!(
        at_four.get(&ops[2].address).is_none(),
        "deregistered before the block"
    );
    assert!(at_four.get(&sixth).is_none(), "registered after the block");
    assert_eq!(at_four.total_stake_gwei, 4 * 32_000_000_000);
    let at_later = operator_set_paged(provider, d.avs, later, 2)
        .await
        .expect("set");
    assert_eq!(
        at_later.get(&sixth).map(|e| e.stake_gwei),
        Some(16_000_000_000)
    );

    assert!(matches!(
        operator_set_paged(provider, d.avs, before, PAGE).await,
        Err(ChainError::EmptySet(b)) if b == before
    ));
}
