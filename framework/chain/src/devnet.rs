//! A local chain for tests, demos and `bulwark devnet`: anvil (`--hardfork osaka`, the
//! fork mainnet runs, with the EIP-2537 precompiles) on a free loopback port, with the restaking core,
//! the devnet token and an AVS deployed, and operators onboarded with BLS keys.
//!
//! Dropping the [`Devnet`] stops anvil, also when a test fails.

use std::path::{Path, PathBuf};

use alloy::network::TransactionBuilder;
use alloy::network::{Ethereum, EthereumWallet};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, Bytes, TxHash, U256};
use alloy::providers::{DynProvider, PendingTransactionBuilder, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolConstructor;
use bulwark_crypto::SecretKey;

use crate::ChainError;
use crate::bindings::{BasicAVS, LiquidStakingToken, RestakingCore, TaskManager};
use crate::registration::KeyRegistration;

/// The hard fork devnets run by default: Osaka (Fusaka), the one mainnet runs, so gas
/// and precompile prices are mainnet's. The contracts are also tested on Prague
/// (`make test-contracts`, `tools/check_anvil.py`).
pub const HARDFORK: &str = "osaka";

/// Where the anvil binary is: `$BULWARK_ANVIL`, else the one `make tools` links into
/// `tools/bin`, else `anvil` on the PATH.
pub fn anvil_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BULWARK_ANVIL") {
        return PathBuf::from(path);
    }
    let linked = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/anvil");
    if linked.exists() {
        return linked;
    }
    PathBuf::from("anvil")
}

/// Parameters of a devnet deployment.
#[derive(Clone, Debug)]
pub struct DeployConfig {
    /// Blocks a withdrawal or allocation decrease waits.
    pub withdrawal_delay: u32,
    /// Least allocated stake (wei) to register with the AVS.
    pub minimum_stake: U256,
    /// How old a certificate's reference block may be.
    pub reference_window: u32,
    /// Blocks a response can be challenged.
    pub challenge_window: u32,
    /// Blocks per rewards epoch (`setRewardEpochBlocks`): short on a devnet, so
    /// epochs end while one watches.
    pub reward_epoch_blocks: u32,
    /// Creation code of the AVS contract. Its constructor must take the task manager's
    /// `Params` (`core, owner, minimumStake, referenceWindow, challengeWindow`), as
    /// every AVS that extends `TaskManager` without adding any does; [`BasicAVS`] by
    /// default.
    pub avs_code: Bytes,
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            withdrawal_delay: 50,
            minimum_stake: U256::from(10u64).pow(U256::from(18u64)),
            reference_window: 300,
            challenge_window: 20,
            reward_epoch_blocks: 100,
            avs_code: BasicAVS::BYTECODE.clone(),
        }
    }
}

/// Addresses of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The devnet liquid staking token.
    pub token: Address,
    /// The restaking core.
    pub core: Address,
    /// The AVS (task manager, registry and verifier in one contract).
    pub avs: Address,
    /// The account that deployed and owns them.
    pub owner: Address,
}

/// A running anvil with a provider that can sign for every dev account.
pub struct Devnet {
    /// The anvil this devnet started (stopped on drop); `None` when attached to one
    /// started elsewhere (`bulwark devnet up` keeps it running after it returns).
    anvil: Option<AnvilInstance>,
    endpoint: String,
    keys: Vec<PrivateKeySigner>,
    accounts: Vec<Address>,
    provider: DynProvider,
}

impl Devnet {
    /// Starts anvil with `accounts` funded dev accounts on a free loopback port.
    pub fn start(accounts: u32) -> Result<Self, ChainError> {
        Self::spawn(accounts, None)
    }

    /// [`Devnet::start`] with chain id `chain_id` (anvil's default is 31337): a
    /// second chain beside the first, e.g. a bridge's remote chain.
    pub fn start_chain(accounts: u32, chain_id: u64) -> Result<Self, ChainError> {
        Self::spawn(accounts, Some(chain_id))
    }

    fn spawn(accounts: u32, chain_id: Option<u64>) -> Result<Self, ChainError> {
        let path = anvil_binary();
        let mut anvil = Anvil::at(&path)
            .arg("--hardfork")
            .arg(HARDFORK)
            .arg("--accounts")
            .arg(accounts.to_string());
        if let Some(id) = chain_id {
            anvil = anvil.chain_id(id);
        }
        let anvil = anvil.try_spawn().map_err(|source| ChainError::Anvil {
            path: path.display().to_string(),
            source,
        })?;
        let keys = anvil
            .keys()
            .iter()
            .cloned()
            .map(PrivateKeySigner::from)
            .collect();
        let endpoint = format!("http://127.0.0.1:{}", anvil.port());
        let mut devnet = Self::attach(&endpoint, keys)?;
        devnet.anvil = Some(anvil);
        Ok(devnet)
    }

    /// A devnet on a chain already running at `endpoint` whose funded accounts are
    /// `keys` (the first deploys).
    pub fn attach(endpoint: &str, keys: Vec<PrivateKeySigner>) -> Result<Self, ChainError> {
        let mut signers = keys.iter().cloned();
        let first = signers
            .next()
            .ok_or(ChainError::OutOfRange("no dev accounts"))?;
        let mut wallet = EthereumWallet::from(first);
        for signer in signers {
            wallet.register_signer(signer);
        }
        let provider = crate::provider::connect(endpoint, Some(wallet))?;
        Ok(Self {
            anvil: None,
            endpoint: endpoint.to_string(),
            accounts: keys.iter().map(|k| k.address()).collect(),
            keys,
            provider,
        })
    }

    /// The JSON-RPC URL (http://127.0.0.1:PORT).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The dev accounts; the first deploys.
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// The private key of dev account `index`, for a process that must send
    /// transactions of its own (an aggregator submitting certificates).
    pub fn signer(&self, index: usize) -> Option<PrivateKeySigner> {
        self.keys.get(index).cloned()
    }

    /// A provider that signs for any dev account (pick with `.from(..)`).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id anvil reports.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        Ok(self.provider.get_chain_id().await?)
    }

    /// Deploys the token, the restaking core and the AVS (`config.avs_code`), all owned
    /// by the first account.
    pub async fn deploy(&self, config: &DeployConfig) -> Result<Deployment, ChainError> {
        let owner = *self
            .accounts()
            .first()
            .ok_or(ChainError::OutOfRange("anvil accounts"))?;
        let p = self.provider.clone();
        let token = *LiquidStakingToken::deploy(p.clone(), owner)
            .await?
            .address();
        let core = *RestakingCore::deploy(p.clone(), token, config.withdrawal_delay)
            .await?
            .address();
        let avs = self.deploy_avs(config, core, owner).await?;
        Ok(Deployment {
            token,
            core,
            avs,
            owner,
        })
    }

    /// Deploys the AVS (`config.avs_code`) on the restaking core at `core` (Bulwark's
    /// own, or an adapter to another layer), owned by `owner`, and sets its rewards
    /// epoch.
    pub async fn deploy_avs(
        &self,
        config: &DeployConfig,
        core: Address,
        owner: Address,
    ) -> Result<Address, ChainError> {
        let p = self.provider.clone();
        let args = BasicAVS::constructorCall {
            p: TaskManager::Params {
                core,
                owner,
                minimumStake: config.minimum_stake,
                referenceWindow: config.reference_window,
                challengeWindow: config.challenge_window,
            },
        }
        .abi_encode();
        let code: Bytes = [config.avs_code.as_ref(), args.as_slice()].concat().into();
        let tx = TransactionRequest::default()
            .from(owner)
            .with_deploy_code(code);
        let receipt = mined(&self.provider, p.send_transaction(tx).await?).await?;
        let avs = receipt
            .contract_address
            .ok_or(ChainError::Reverted(receipt.transaction_hash))?;
        mined(
            &self.provider,
            BasicAVS::new(avs, p.clone())
                .setRewardEpochBlocks(config.reward_epoch_blocks)
                .from(owner)
                .send()
                .await?,
        )
        .await?;
        Ok(avs)
    }

    /// Makes `operator` a restaking operator with `stake` of its own delegated to
    /// itself, allocates all of it to the AVS, and registers `key` there with its proof
    /// of possession (bound to `operator`, the AVS and the chain).
    pub async fn onboard_operator(
        &self,
        d: &Deployment,
        operator: Address,
        stake: U256,
        key: &SecretKey,
    ) -> Result<(), ChainError> {
        self.stake_operator(d, operator, stake).await?;
        let registration = KeyRegistration::for_chain(&self.provider, key, d.avs, operator).await?;
        let avs = BasicAVS::new(d.avs, self.provider.clone());
        mined(
            &self.provider,
            avs.registerOperator(registration.public_key, registration.proof)
                .from(operator)
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }

    /// Makes `operator` a restaking operator with `stake` of its own delegated to
    /// itself and allocates all of it to the AVS, without registering a key there.
    pub async fn stake_operator(
        &self,
        d: &Deployment,
        operator: Address,
        stake: U256,
    ) -> Result<(), ChainError> {
        let p = self.provider.clone();
        let token = LiquidStakingToken::new(d.token, p.clone());
        let core = RestakingCore::new(d.core, p);
        mined(
            &self.provider,
            token.mint(operator, stake).from(d.owner).send().await?,
        )
        .await?;
        mined(
            &self.provider,
            token.approve(d.core, stake).from(operator).send().await?,
        )
        .await?;
        mined(
            &self.provider,
            core.registerOperator(1000).from(operator).send().await?,
        )
        .await?;
        mined(
            &self.provider,
            core.delegate(operator).from(operator).send().await?,
        )
        .await?;
        mined(
            &self.provider,
            core.deposit(stake).from(operator).send().await?,
        )
        .await?;
        mined(
            &self.provider,
            core.allocate(d.avs, 10_000).from(operator).send().await?,
        )
        .await?;
        Ok(())
    }
}

/// Waits for the receipt of `hash` by polling every 50 ms (up to a minute), and fails
/// if the transaction reverted.
///
/// alloy's `get_receipt` watches for *new* blocks; anvil mines each transaction at
/// once and then sits idle, so a watcher that starts a moment late waits forever.
pub async fn confirmed<P: Provider>(
    provider: &P,
    hash: &TxHash,
) -> Result<TransactionReceipt, ChainError> {
    let deadline = std::time::Instant::now() + RECEIPT_TIMEOUT;
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(*hash).await? {
            return confirm(receipt);
        }
        if std::time::Instant::now() > deadline {
            return Err(ChainError::ReceiptTimeout(*hash));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits for a sent transaction to be mined (see [`confirmed`]).
pub async fn mined<P: Provider>(
    provider: &P,
    pending: PendingTransactionBuilder<Ethereum>,
) -> Result<TransactionReceipt, ChainError> {
    confirmed(provider, pending.tx_hash()).await
}

const RECEIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Mines `blocks` empty blocks (anvil's `anvil_mine`).
pub async fn mine<P: Provider>(provider: &P, blocks: u64) -> Result<(), ChainError> {
    let _: serde_json::Value = provider
        .raw_request("anvil_mine".into(), (U256::from(blocks),))
        .await?;
    Ok(())
}

/// Mines empty blocks until the head is at least `block` (anvil).
pub async fn mine_to<P: Provider>(provider: &P, block: u64) -> Result<(), ChainError> {
    let head = provider.get_block_number().await?;
    if head < block {
        mine(provider, block - head).await?;
    }
    Ok(())
}

/// `n` whole tokens (18 decimals) in base units.
pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A devnet operator: a dev account and its BLS key.
#[derive(Clone, Debug)]
pub struct DevOperator {
    /// The operator's account.
    pub address: Address,
    /// Its BLS key: derived from the index, so devnet runs repeat (never use such
    /// keys on a real chain).
    pub key: SecretKey,
}

impl Devnet {
    /// Onboards dev accounts 1..=`count` as operators with `stake` each (see
    /// [`Devnet::onboard_operator`]); operator `i` gets the key `KeyGen([i + 1; 32])`.
    pub async fn onboard_operators(
        &self,
        d: &Deployment,
        count: usize,
        stake: U256,
    ) -> Result<Vec<DevOperator>, ChainError> {
        let accounts = self
            .accounts()
            .get(1..=count)
            .ok_or(ChainError::OutOfRange("not enough anvil accounts"))?
            .to_vec();
        let mut operators = Vec::with_capacity(count);
        for (i, address) in accounts.into_iter().enumerate() {
            let seed =
                u8::try_from(i + 1).map_err(|_| ChainError::OutOfRange("devnet operator count"))?;
            let key =
                SecretKey::from_ikm(&[seed; 32]).map_err(|source| ChainError::InvalidKey {
                    operator: address,
                    source,
                })?;
            self.onboard_operator(d, address, stake, &key).await?;
            operators.push(DevOperator { address, key });
        }
        Ok(operators)
    }
}

/// Fails on a reverted receipt.
pub fn confirm(receipt: TransactionReceipt) -> Result<TransactionReceipt, ChainError> {
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(ChainError::Reverted(receipt.transaction_hash))
    }
}
