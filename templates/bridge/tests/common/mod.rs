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

pub const HOME: u64 = 31337;
pub const REMOTE: u64 = 31338;
pub const CONFIRMATIONS: u64 = 3;
pub const MAX_AGE: u64 = 3600;
pub const THRESHOLD_BPS: u16 = 6667;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Both chains with everything deployed, the genesis table committed and installed.
pub struct Bridge {
    pub home: Devnet,
    pub remote: Devnet,
    pub d: Deployment,
    pub ops: Vec<DevOperator>,
    pub table: Table,
    pub committed: Committed,
    pub outbox_a: Address,
    pub home_inbox: Address,
    pub vault: Address,
    pub outbox_b: Address,
    pub table_b: Address,
    pub inbox_b: Address,
    pub wrapped: Address,
    pub relayer_b: Address,
}

impl Bridge {
    pub async fn start() -> Result<Self> {
        let home = Devnet::start(10)?;
        // The same dev mnemonic on both: a user has one address and key on each chain.
        let remote = Devnet::start_chain(10, REMOTE)?;
        assert_eq!(home.chain_id().await?, HOME);
        assert_eq!(remote.chain_id().await?, REMOTE);
        let config = DeployConfig {
            avs_code: contracts::creation_code(code::BRIDGE_HOME)?,
            // As long as stake stays slashable: tables are challenged on their task.
            challenge_window: 50,
            ..DeployConfig::default()
        };
        let d = home.deploy(&config).await?;
        let ops = home.onboard_operators(&d, 4, ether(32)).await?;
        let a = home.provider();
        let head = a.get_block_number().await?;
        let table = relay::read_table(a, d.avs, u32::try_from(head)?).await?;
        let committed = relay::commit_table(a, d.avs, d.owner, &table).await?;
        let outbox_a = IBridgeHome::new(d.avs, a.clone()).outbox().call().await?;

        let b = remote.provider();
        let relayer_b = remote.accounts()[0];
        let outbox_b = contracts::deploy(b, relayer_b, code::OUTBOX, &[]).await?;
        let table_b = contracts::deploy(
            b,
            relayer_b,
            code::OPERATOR_TABLE,
            &encode::arguments(encode::OperatorTableArgs {
                homeChainId: U256::from(HOME),
                homeAVS: d.avs,
                thresholdBps: THRESHOLD_BPS,
                maxAge: MAX_AGE,
                genesis: committed.table.clone(),
            }),
        )
        .await?;
        let inbox_b = contracts::deploy(
            b,
            relayer_b,
            code::INBOX,
            &encode::arguments(encode::InboxArgs {
                operators: table_b,
                sourceChainId: U256::from(HOME),
                sourceOutbox: outbox_a,
            }),
        )
        .await?;
        let home_inbox = contracts::deploy(
            a,
            d.owner,
            code::HOME_INBOX,
            &encode::arguments(encode::HomeInboxArgs {
                home: d.avs,
                thresholdBps: THRESHOLD_BPS,
                sourceChainId: U256::from(REMOTE),
                sourceOutbox: outbox_b,
            }),
        )
        .await?;
        let vault = contracts::deploy(
            a,
            d.owner,
            code::TOKEN_VAULT,
            &encode::arguments(encode::TokenVaultArgs {
                token: d.token,
                outbox: outbox_a,
                inbox: home_inbox,
                remoteChainId: U256::from(REMOTE),
            }),
        )
        .await?;
        let wrapped = contracts::deploy(
            b,
            relayer_b,
            code::WRAPPED_TOKEN,
            &encode::arguments(encode::WrappedTokenArgs {
                name: "Wrapped LST".into(),
                symbol: "wLST".into(),
                outbox: outbox_b,
                inbox: inbox_b,
                homeChainId: U256::from(HOME),
                vault,
            }),
        )
        .await?;
        devnet::mined(
            a,
            ITokenVault::new(vault, a.clone())
                .setRemote(wrapped)
                .from(d.owner)
                .send()
                .await?,
        )
        .await?;
        Ok(Self {
            home,
            remote,
            d,
            ops,
            table,
            committed,
            outbox_a,
            home_inbox,
            vault,
            outbox_b,
            table_b,
            inbox_b,
            wrapped,
            relayer_b,
        })
    }

    /// Where everything is, as operators and relayers are configured.
    pub fn deployment(&self) -> bridge_avs::signing::Deployment {
        bridge_avs::signing::Deployment {
            home_chain: HOME,
            remote_chain: REMOTE,
            home_avs: self.d.avs,
            home_outbox: self.outbox_a,
            home_inbox: self.home_inbox,
            remote_outbox: self.outbox_b,
            remote_table: self.table_b,
            remote_inbox: self.inbox_b,
        }
    }

    pub fn a(&self) -> &DynProvider {
        self.home.provider()
    }

    pub fn b(&self) -> &DynProvider {
        self.remote.provider()
    }

    /// A user on the home chain with `amount` tokens approved to the vault.
    pub async fn funded_user(&self, index: usize, amount: U256) -> Result<Address> {
        let user = self.home.accounts()[index];
        let token = LiquidStakingToken::new(self.d.token, self.a().clone());
        devnet::mined(
            self.a(),
            token.mint(user, amount).from(self.d.owner).send().await?,
        )
        .await?;
        devnet::mined(
            self.a(),
            token.approve(self.vault, amount).from(user).send().await?,
        )
        .await?;
        Ok(user)
    }

    /// `user` locks `amount` for itself on the remote chain; returns the block.
    pub async fn lock(&self, user: Address, amount: U256) -> Result<u64> {
        let vault = ITokenVault::new(self.vault, self.a().clone());
        let receipt =
            devnet::mined(self.a(), vault.lock(amount, user).from(user).send().await?).await?;
        Ok(receipt.block_number.unwrap_or_default())
    }

    /// A watcher of the home outbox per operator.
    pub fn home_watchers(&self) -> Vec<OutboxWatcher> {
        (0..self.ops.len())
            .map(|_| OutboxWatcher::new(self.a().clone(), self.outbox_a, HOME, 0, CONFIRMATIONS))
            .collect()
    }

    pub fn remote_watchers(&self) -> Vec<OutboxWatcher> {
        (0..self.ops.len())
            .map(|_| OutboxWatcher::new(self.b().clone(), self.outbox_b, REMOTE, 0, CONFIRMATIONS))
            .collect()
    }

    /// Every operator whose watcher released a message signs its delivery to `inbox`
    /// on `chain`: what the relayer collects.
    pub async fn sign_released(
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

    pub async fn deliver_remote(&self, m: &Message, signed: &[Signed]) -> Result<Vec<Address>> {
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

    pub async fn wrapped_balance(&self, who: Address) -> Result<U256> {
        Ok(IWrappedToken::new(self.wrapped, self.b().clone())
            .balanceOf(who)
            .call()
            .await?)
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
