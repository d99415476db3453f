//! Both chains of the bridge on a developer's machine: two anvils (home 31337 with
//! the restaking core and `BridgeHome`, remote 31338 with the operator table), four
//! operators onboarded, every contract deployed, the genesis table committed on the
//! home chain and installed on the remote one. The end-to-end tests and the demo
//! start from here.

use bulwark::alloy::primitives::{Address, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::chain::ChainError;
use bulwark::chain::bindings::LiquidStakingToken;
use bulwark::chain::devnet::{self as chain_devnet, DeployConfig, DevOperator, Devnet, ether};

use crate::contracts::{self, IBridgeHome, ITokenVault, IWrappedToken, code, encode};
use crate::relay::{self, Committed, RelayError};
use crate::signing::Deployment;
use crate::table::Table;

/// The home chain's id (anvil's default).
pub const HOME: u64 = 31337;
/// The remote chain's id.
pub const REMOTE: u64 = 31338;
/// Blocks a message waits on its source chain before operators sign it.
pub const CONFIRMATIONS: u64 = 3;
/// Seconds after its commit a table executes messages on the remote chain.
pub const MAX_AGE: u64 = 600;
/// Seconds after its commit a table may still hand over to its successor.
pub const MAX_HANDOVER_AGE: u64 = 1200;
/// Home blocks a table (its task) can be challenged, and the core's withdrawal delay:
/// at least `MAX_HANDOVER_AGE` seconds at one block a second (`BridgeHome`'s rule:
/// signers stay slashable for as long as their table acts).
pub const CHALLENGE_WINDOW: u32 = 1500;
/// Share of the stake (basis points) a certificate needs, on both chains.
pub const THRESHOLD_BPS: u16 = 6667;

/// Both chains with everything deployed, the genesis table committed and installed.
pub struct Bridge {
    /// The home chain (restaking core, `BridgeHome`, vault, home inbox).
    pub home: Devnet,
    /// The remote chain (operator table, inbox, outbox, wrapped token).
    pub remote: Devnet,
    /// The home deployment: token, core, `BridgeHome` (as `avs`), owner.
    pub d: chain_devnet::Deployment,
    /// The four operators (dev accounts 1-4 with their BLS keys).
    pub ops: Vec<DevOperator>,
    /// The genesis table (epoch 1), with its members.
    pub table: Table,
    /// Epoch 1 as committed on the home chain.
    pub committed: Committed,
    /// The home outbox.
    pub outbox_a: Address,
    /// The home inbox.
    pub home_inbox: Address,
    /// The token vault (home).
    pub vault: Address,
    /// The remote outbox.
    pub outbox_b: Address,
    /// The remote operator table.
    pub table_b: Address,
    /// The remote inbox.
    pub inbox_b: Address,
    /// The wrapped token (remote).
    pub wrapped: Address,
    /// The account that relays on the remote chain.
    pub relayer_b: Address,
}

impl Bridge {
    /// Starts both anvils and deploys everything.
    pub async fn start() -> Result<Self, RelayError> {
        let home = Devnet::start(10)?;
        // The same dev mnemonic on both: a user has one address and key on each chain.
        let remote = Devnet::start_chain(10, REMOTE)?;
        let config = DeployConfig {
            avs_code: contracts::creation_code(code::BRIDGE_HOME)?,
            // Tables are challenged on their task for as long as they act on the
            // remote chain, and stake stays slashable as long.
            challenge_window: CHALLENGE_WINDOW,
            withdrawal_delay: CHALLENGE_WINDOW,
            ..DeployConfig::default()
        };
        let d = home.deploy(&config).await?;
        let ops = home.onboard_operators(&d, 4, ether(32)).await?;
        let sides = deploy_sides(
            home.provider(),
            d.owner,
            remote.provider(),
            remote.accounts()[0],
            d.avs,
            d.token,
        )
        .await?;
        Ok(Self {
            relayer_b: remote.accounts()[0],
            home,
            remote,
            d,
            ops,
            table: sides.table,
            committed: sides.committed,
            outbox_a: sides.home_outbox,
            home_inbox: sides.home_inbox,
            vault: sides.vault,
            outbox_b: sides.remote_outbox,
            table_b: sides.remote_table,
            inbox_b: sides.remote_inbox,
            wrapped: sides.wrapped,
        })
    }

    /// Where everything is, as operators and relayers are configured.
    pub fn deployment(&self) -> Deployment {
        Deployment {
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

    /// The home chain's provider (signs for every dev account).
    pub fn a(&self) -> &DynProvider {
        self.home.provider()
    }

    /// The remote chain's provider.
    pub fn b(&self) -> &DynProvider {
        self.remote.provider()
    }

    /// A user on the home chain with `amount` tokens approved to the vault.
    pub async fn funded_user(&self, index: usize, amount: U256) -> Result<Address, RelayError> {
        let user = self.home.accounts()[index];
        let token = LiquidStakingToken::new(self.d.token, self.a().clone());
        chain_devnet::mined(
            self.a(),
            token
                .mint(user, amount)
                .from(self.d.owner)
                .send()
                .await
                .map_err(ChainError::from)?,
        )
        .await?;
        chain_devnet::mined(
            self.a(),
            token
                .approve(self.vault, amount)
                .from(user)
                .send()
                .await
                .map_err(ChainError::from)?,
        )
        .await?;
        Ok(user)
    }

    /// `user` locks `amount` for itself on the remote chain; returns the block.
    pub async fn lock(&self, user: Address, amount: U256) -> Result<u64, RelayError> {
        let vault = ITokenVault::new(self.vault, self.a().clone());
        let receipt = chain_devnet::mined(
            self.a(),
            vault
                .lock(amount, user)
                .from(user)
                .send()
                .await
                .map_err(ChainError::from)?,
        )
        .await?;
        Ok(receipt.block_number.unwrap_or_default())
    }

    /// `who`'s wrapped tokens on the remote chain.
    pub async fn wrapped_balance(&self, who: Address) -> Result<U256, RelayError> {
        Ok(IWrappedToken::new(self.wrapped, self.b().clone())
            .balanceOf(who)
            .call()
            .await
            .map_err(ChainError::from)?)
    }
}

/// What [`deploy_sides`] deployed.
#[derive(Clone, Debug)]
pub struct Sides {
    /// The genesis table (epoch 1), with its members.
    pub table: Table,
    /// Epoch 1 as committed on the home chain.
    pub committed: Committed,
    /// The home outbox (`BridgeHome`'s).
    pub home_outbox: Address,
    /// The home inbox.
    pub home_inbox: Address,
    /// The token vault (home).
    pub vault: Address,
    /// The remote outbox.
    pub remote_outbox: Address,
    /// The remote operator table.
    pub remote_table: Address,
    /// The remote inbox.
    pub remote_inbox: Address,
    /// The wrapped token (remote).
    pub wrapped: Address,
}

/// Deploys everything around a `BridgeHome` at `home_avs` whose operators are
/// registered: commits the registry's set as epoch 1 (from `owner_a`, a task
/// creator), deploys the remote outbox, table (epoch 1 as genesis), inbox and wrapped
/// token from `owner_b`, and the home inbox and a vault of `token` from `owner_a`.
pub async fn deploy_sides(
    a: &DynProvider,
    owner_a: Address,
    b: &DynProvider,
    owner_b: Address,
    home_avs: Address,
    token: Address,
) -> Result<Sides, RelayError> {
    let home_chain = a.get_chain_id().await.map_err(ChainError::from)?;
    let remote_chain = b.get_chain_id().await.map_err(ChainError::from)?;
    let head = a.get_block_number().await.map_err(ChainError::from)?;
    let head = u32::try_from(head).map_err(|_| ChainError::OutOfRange("home block"))?;
    let table = relay::read_table(a, home_avs, head).await?;
    let committed = relay::commit_table(a, home_avs, owner_a, &table).await?;
    let outbox_a = IBridgeHome::new(home_avs, a.clone())
        .outbox()
        .call()
        .await
        .map_err(ChainError::from)?;

    let outbox_b = contracts::deploy(b, owner_b, code::OUTBOX, &[]).await?;
    let table_b = contracts::deploy(
        b,
        owner_b,
        code::OPERATOR_TABLE,
        &encode::arguments(encode::OperatorTableArgs {
            homeChainId: U256::from(home_chain),
            homeAVS: home_avs,
            thresholdBps: THRESHOLD_BPS,
            maxAge: MAX_AGE,
            maxHandoverAge: MAX_HANDOVER_AGE,
            genesis: committed.table.clone(),
        }),
    )
    .await?;
    let inbox_b = contracts::deploy(
        b,
        owner_b,
        code::INBOX,
        &encode::arguments(encode::InboxArgs {
            operators: table_b,
            sourceChainId: U256::from(home_chain),
            sourceOutbox: outbox_a,
        }),
    )
    .await?;
    let home_inbox = contracts::deploy(
        a,
        owner_a,
        code::HOME_INBOX,
        &encode::arguments(encode::HomeInboxArgs {
            home: home_avs,
            thresholdBps: THRESHOLD_BPS,
            sourceChainId: U256::from(remote_chain),
            sourceOutbox: outbox_b,
        }),
    )
    .await?;
    let vault = contracts::deploy(
        a,
        owner_a,
        code::TOKEN_VAULT,
        &encode::arguments(encode::TokenVaultArgs {
            token,
            outbox: outbox_a,
            inbox: home_inbox,
            remoteChainId: U256::from(remote_chain),
        }),
    )
    .await?;
    let wrapped = contracts::deploy(
        b,
        owner_b,
        code::WRAPPED_TOKEN,
        &encode::arguments(encode::WrappedTokenArgs {
            name: "Wrapped LST".into(),
            symbol: "wLST".into(),
            outbox: outbox_b,
            inbox: inbox_b,
            homeChainId: U256::from(home_chain),
            vault,
        }),
    )
    .await?;
    chain_devnet::mined(
        a,
        ITokenVault::new(vault, a.clone())
            .setRemote(wrapped)
            .from(owner_a)
            .send()
            .await
            .map_err(ChainError::from)?,
    )
    .await?;
    Ok(Sides {
        table,
        committed,
        home_outbox: outbox_a,
        home_inbox,
        vault,
        remote_outbox: outbox_b,
        remote_table: table_b,
        remote_inbox: inbox_b,
        wrapped,
    })
}
