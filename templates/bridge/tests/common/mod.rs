//! The bridge on two anvils, shared by the end-to-end tests: both chains deployed,
//! the genesis table committed and installed, and helpers to act on them.
#![allow(dead_code, unused_imports)]

pub use std::time::Instant;

pub use bridge_avs::contracts::{
    self, IBridgeHome, IHomeInbox, IInbox, IOperatorTable, ITokenVault, IWrappedToken, WireMessage,
    code, encode,
};
pub use bridge_avs::message::Message;
pub use bridge_avs::relay::{self, Committed, Signed};
pub use bridge_avs::table::Table;
pub use bridge_avs::watch::OutboxWatcher;
pub use bulwark::alloy::primitives::{Address, B256, U256, keccak256};
pub use bulwark::alloy::providers::{DynProvider, Provider};
pub use bulwark::alloy::sol_types::SolValue;
pub use bulwark::chain::bindings::{BasicAVS, LiquidStakingToken, RestakingCore};
pub use bulwark::chain::devnet::{self, DeployConfig, Deployment, DevOperator, Devnet, ether};
pub use bulwark::chain::registration::KeyRegistration;
pub use bulwark::chain::registry::operator_set_at;
pub use bulwark::chain::rewards::{Epochs, Split};
pub use bulwark::crypto::SecretKey;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

pub use bridge_avs::devnet::{Bridge, CONFIRMATIONS, HOME, MAX_AGE, REMOTE, THRESHOLD_BPS};

/// What the tests add to the library's devnet.
#[allow(async_fn_in_trait)]
pub trait BridgeExt {
    fn home_watchers(&self) -> Vec<OutboxWatcher>;
    fn remote_watchers(&self) -> Vec<OutboxWatcher>;
    async fn sign_released(
        &self,
        watchers: &mut [OutboxWatcher],
        chain: u64,
        inbox: Address,
    ) -> Result<Vec<(Message, Vec<Signed>)>>;
    async fn deliver_remote(&self, m: &Message, signed: &[Signed]) -> Result<Vec<Address>>;
}

impl BridgeExt for Bridge {
    /// A watcher of the home outbox per operator.
    fn home_watchers(&self) -> Vec<OutboxWatcher> {
        (0..self.ops.len())
            .map(|_| OutboxWatcher::new(self.a().clone(), self.outbox_a, HOME, 0, CONFIRMATIONS))
            .collect()
    }

    fn remote_watchers(&self) -> Vec<OutboxWatcher> {
        (0..self.ops.len())
            .map(|_| OutboxWatcher::new(self.b().clone(), self.outbox_b, REMOTE, 0, CONFIRMATIONS))
            .collect()
    }

    /// Every operator whose watcher released a message signs its delivery to `inbox`
    /// on `chain`: what the relayer collects.
    async fn sign_released(
        &self,
        watchers: &mut [OutboxWatcher],
        chain: u64,
        inbox: Address,
    ) -> Result<Vec<(Message, Vec<Signed>)>> {
        let mut out: Vec<(Message, Vec<Signed>)> = Vec::new();
        for (op, watcher) in self.ops.iter().zip(watchers.iter_mut()) {
            for m in watcher.poll().await? {
                let signed = Signed {
                    operator: op.address,
                    signature: relay::sign(&op.key, relay::delivery(chain, inbox, &m)),
                };
                match out.iter_mut().find(|(seen, _)| *seen == m) {
                    Some((_, all)) => all.push(signed),
                    None => out.push((m, vec![signed])),
                }
            }
        }
        Ok(out)
    }

    async fn deliver_remote(&self, m: &Message, signed: &[Signed]) -> Result<Vec<Address>> {
        let digest = relay::delivery(REMOTE, self.inbox_b, m);
        let inbox = IInbox::new(self.inbox_b, self.b().clone());
        assert_eq!(
            inbox.digest(WireMessage::from(m)).call().await?,
            digest,
            "the contract and the relayer agree on the digest"
        );
        let (cert, refused) = relay::table_certificate(&self.table, digest, signed)?;
        devnet::mined(
            self.b(),
            inbox
                .deliver(m.into(), cert)
                .from(self.relayer_b)
                .send()
                .await?,
        )
        .await?;
        Ok(refused)
    }
}

/// Whether `err` is a revert with the error `signature` (e.g. `"AlreadyExecuted(bytes32)"`).
pub fn reverted_with(err: &bulwark::alloy::contract::Error, signature: &str) -> bool {
    let selector = &keccak256(signature.as_bytes())[..4];
    err.as_revert_data()
        .is_some_and(|data| data.starts_with(selector))
}

/// anvil's `evm_snapshot`: an id to revert to.
pub async fn snapshot(p: &DynProvider) -> Result<U256> {
    Ok(p.raw_request("evm_snapshot".into(), ()).await?)
}

/// anvil's `evm_revert` to `id`: the blocks since are gone, new ones take their
/// numbers (a reorg, as the watchers see it).
pub async fn revert_to(p: &DynProvider, id: U256) -> Result {
    let ok: bool = p.raw_request("evm_revert".into(), (id,)).await?;
    assert!(ok, "evm_revert");
    Ok(())
}
