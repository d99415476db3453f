//! Bulwark on EigenLayer's own core: deploying it on a devnet from the bytecode
//! `tools/eigenlayer/fetch.sh` takes from crates.io at build or test time (BUSL-1.1,
//! never committed; read here at run time), an AVS on it through the
//! `EigenLayerRestaking` adapter, operators onboarded the EigenLayer way, and the
//! [`Restaking`] trait over it. The AVS contract and binaries are the ones that run on
//! Bulwark's devnet core; only the deployment differs.
//!
//! The bindings to EigenLayer are declared here from its published ABIs (the calls
//! Bulwark makes); no EigenLayer crate is a dependency.

use std::path::{Path, PathBuf};

use alloy::eips::BlockId;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolValue;

use crate::ChainError;
use crate::bindings::EigenLayerRestaking;
use crate::devnet::{mine, mined};
use crate::restaking::{Allocation, Delegation, Restaking};

alloy::sol! {
    /// `OperatorSet`.
    struct ElOperatorSet { address avs; uint32 id; }
    /// `IAllocationManager.AllocateParams`.
    struct ElAllocateParams { ElOperatorSet operatorSet; address[] strategies; uint64[] newMagnitudes; }
    /// `IAllocationManager.RegisterParams`.
    struct ElRegisterParams { address avs; uint32[] operatorSetIds; bytes data; }
    /// `IAllocationManager.Allocation`.
    struct ElAllocation { uint64 currentMagnitude; int128 pendingDiff; uint32 effectBlock; }
    /// `ISignatureUtils.SignatureWithExpiry`.
    struct ElSignatureWithExpiry { bytes signature; uint256 expiry; }
    /// `RewardsCoordinator`'s constructor argument.
    struct ElRewardsCoordinatorParams {
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

    #[sol(rpc)]
    interface ElAllocationManager {
        function getAllocatedSets(address operator) external view returns (ElOperatorSet[] memory);
        function getAllocation(address operator, ElOperatorSet memory operatorSet, address strategy)
            external view returns (ElAllocation memory);
        function modifyAllocations(address operator, ElAllocateParams[] calldata params) external;
        function registerForOperatorSets(address operator, ElRegisterParams calldata params) external;
    }

    #[sol(rpc)]
    interface ElDelegationManager {
        function registerAsOperator(address approver, uint32 allocationDelay, string calldata uri) external;
        function delegateTo(address operator, ElSignatureWithExpiry calldata approval, bytes32 salt) external;
        function delegatedTo(address staker) external view returns (address);
        function getWithdrawableShares(address staker, address[] calldata strategies)
            external view returns (uint256[] memory withdrawable, uint256[] memory deposited);
        function getOperatorShares(address operator, address[] calldata strategies)
            external view returns (uint256[] memory);
    }

    #[sol(rpc)]
    interface ElStrategyManager {
        function depositIntoStrategy(address strategy, address token, uint256 amount) external returns (uint256);
    }

    #[sol(rpc)]
    interface ElStrategyFactory {
        function deployNewStrategy(address token) external returns (address);
        function deployedStrategies(address token) external view returns (address);
    }

    #[sol(rpc)]
    interface ElStrategy {
        function sharesToUnderlyingView(uint256 shares) external view returns (uint256);
    }

    #[sol(rpc)]
    interface ElProxyAdmin {
        function upgrade(address proxy, address implementation) external;
        function upgradeAndCall(address proxy, address implementation, bytes calldata data) external payable;
    }

    interface ElInitializers {
        function initialize(address owner, uint256 paused) external;
    }
}

/// Magnitudes are parts of 1e18 (`WAD`) in EigenLayer.
const WAD: u64 = 1_000_000_000_000_000_000;
const VERSION: &str = "v1.3.0";
/// Only stored by EigenPod(Manager): the beacon deposit contract on mainnet.
const ETH_POS: Address = alloy::primitives::address!("00000000219ab540356cBB839Cbe05303d7705Fa");

/// Where `make eigenlayer` writes the fetched artifacts: `$BULWARK_EIGENLAYER_ARTIFACTS`,
/// else `target/eigenlayer/artifacts` of this checkout.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("BULWARK_EIGENLAYER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/eigenlayer/artifacts")
        })
}

/// The creation bytecode of `name` among the fetched artifacts.
fn creation_code(dir: &Path, name: &str) -> Result<Vec<u8>, ChainError> {
    let path = dir.join(format!("{name}.json"));
    let failed = |why: String| ChainError::Artifact(path.display().to_string(), why);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| failed(format!("{e} (run `make eigenlayer`)")))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
    let hex = json["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| failed("no bytecode.object".into()))?;
    alloy::hex::decode(hex).map_err(|e| failed(e.to_string()))
}

/// EigenLayer's core as deployed on a devnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EigenLayerCore {
    /// `AllocationManager` (proxy).
    pub allocation_manager: Address,
    /// `DelegationManager` (proxy).
    pub delegation_manager: Address,
    /// `StrategyManager` (proxy).
    pub strategy_manager: Address,
    /// `StrategyFactory` (proxy).
    pub strategy_factory: Address,
    /// `RewardsCoordinator` (proxy).
    pub rewards_coordinator: Address,
    /// Blocks a deallocation and a withdrawal wait.
    pub delay_blocks: u32,
}

/// Deploys `name` from the fetched artifacts with ABI-encoded `args`.
async fn deploy(
    provider: &DynProvider,
    from: Address,
    dir: &Path,
    name: &str,
    args: &[u8],
) -> Result<Address, ChainError> {
    let mut code = creation_code(dir, name)?;
    code.extend_from_slice(args);
    let tx = TransactionRequest::default()
        .from(from)
        .with_deploy_code(Bytes::from(code));
    let receipt = mined(provider, provider.send_transaction(tx).await?).await?;
    receipt
        .contract_address
        .ok_or(ChainError::Reverted(receipt.transaction_hash))
}

/// Deploys EigenLayer's core (slashing release) from the artifacts in `dir`, owned by
/// `owner`, with deallocations and withdrawals waiting `delay_blocks`: proxies first
/// (every address known), implementations wired to them, each proxy upgraded and
/// initialized (`tools/eigenlayer/README.md` gives the order).
pub async fn deploy_core(
    provider: &DynProvider,
    owner: Address,
    dir: &Path,
    delay_blocks: u32,
) -> Result<EigenLayerCore, ChainError> {
    let admin = deploy(provider, owner, dir, "ProxyAdmin", &[]).await?;
    let pausers = deploy(
        provider,
        owner,
        dir,
        "PauserRegistry",
        &(vec![owner], owner).abi_encode_params(),
    )
    .await?;
    let empty = deploy(provider, owner, dir, "EmptyContract", &[]).await?;
    let mut proxy = [Address::ZERO; 7];
    for p in &mut proxy {
        *p = deploy(
            provider,
            owner,
            dir,
            "TransparentUpgradeableProxy",
            &(empty, admin, Bytes::new()).abi_encode_params(),
        )
        .await?;
    }
    let [dm, sm, am, permissions, pods, factory, rewards] = proxy;
    let version = VERSION.to_string();
    let pod = deploy(
        provider,
        owner,
        dir,
        "EigenPod",
        &(ETH_POS, pods, 0u64, version.clone()).abi_encode_params(),
    )
    .await?;
    let pod_beacon = deploy(
        provider,
        owner,
        dir,
        "UpgradeableBeacon",
        &(pod,).abi_encode_params(),
    )
    .await?;
    let base = deploy(
        provider,
        owner,
        dir,
        "StrategyBase",
        &(sm, pausers, version.clone()).abi_encode_params(),
    )
    .await?;
    let strategy_beacon = deploy(
        provider,
        owner,
        dir,
        "UpgradeableBeacon",
        &(base,).abi_encode_params(),
    )
    .await?;
    let initialize = || {
        alloy::sol_types::SolCall::abi_encode(&ElInitializers::initializeCall {
            owner,
            paused: U256::ZERO,
        })
    };
    // (proxy, implementation, its constructor arguments, the proxy's initializer)
    let implementations: [(Address, &str, Vec<u8>, Vec<u8>); 7] = [
        (
            dm,
            "DelegationManager",
            (
                sm,
                pods,
                am,
                pausers,
                permissions,
                delay_blocks,
                version.clone(),
            )
                .abi_encode_params(),
            initialize(),
        ),
        (
            sm,
            "StrategyManager",
            (dm, pausers, version.clone()).abi_encode_params(),
            // The factory whitelists the strategies it makes.
            calldata(
                "initialize(address,address,uint256)",
                &(owner, factory, U256::ZERO).abi_encode_params(),
            ),
        ),
        (
            am,
            "AllocationManager",
            (
                dm,
                pausers,
                permissions,
                delay_blocks,
                1u32,
                version.clone(),
            )
                .abi_encode_params(),
            initialize(),
        ),
        (
            permissions,
            "PermissionController",
            (version.clone(),).abi_encode_params(),
            Vec::new(),
        ),
        (
            pods,
            "EigenPodManager",
            (ETH_POS, pod_beacon, dm, pausers, version.clone()).abi_encode_params(),
            initialize(),
        ),
        (
            factory,
            "StrategyFactory",
            (sm, pausers, version.clone()).abi_encode_params(),
            calldata(
                "initialize(address,uint256,address)",
                &(owner, U256::ZERO, strategy_beacon).abi_encode_params(),
            ),
        ),
        (
            rewards,
            "RewardsCoordinator",
            (ElRewardsCoordinatorParams {
                delegationManager: dm,
                strategyManager: sm,
                allocationManager: am,
                pauserRegistry: pausers,
                permissionController: permissions,
                calculationInterval: 86_400,
                maxRewardsDuration: 70 * 86_400,
                maxRetroactiveLength: 90 * 86_400,
                maxFutureLength: 30 * 86_400,
                genesisRewardsTimestamp: 1_710_979_200,
                version: version.clone(),
            },)
                .abi_encode_params(),
            calldata(
                "initialize(address,uint256,address,uint32,uint16)",
                &(owner, U256::ZERO, owner, 7_200u32, 1_000u16).abi_encode_params(),
            ),
        ),
    ];
    let admin = ElProxyAdmin::new(admin, provider.clone());
    for (proxy, name, args, init) in implementations {
        let implementation = deploy(provider, owner, dir, name, &args).await?;
        let pending = if init.is_empty() {
            admin
                .upgrade(proxy, implementation)
                .from(owner)
                .send()
                .await?
        } else {
            admin
                .upgradeAndCall(proxy, implementation, init.into())
                .from(owner)
                .send()
                .await?
        };
        mined(provider, pending).await?;
    }
    Ok(EigenLayerCore {
        allocation_manager: am,
        delegation_manager: dm,
        strategy_manager: sm,
        strategy_factory: factory,
        rewards_coordinator: rewards,
        delay_blocks,
    })
}

/// Calldata of `signature` with `args` (ABI-encoded parameters).
fn calldata(signature: &str, args: &[u8]) -> Vec<u8> {
    let mut data = alloy::primitives::keccak256(signature.as_bytes())[..4].to_vec();
    data.extend_from_slice(args);
    data
}

impl EigenLayerCore {
    /// A strategy over `token` (made by the factory, whitelisted for deposits).
    pub async fn strategy_for(
        &self,
        provider: &DynProvider,
        from: Address,
        token: Address,
    ) -> Result<Address, ChainError> {
        let factory = ElStrategyFactory::new(self.strategy_factory, provider.clone());
        mined(
            provider,
            factory.deployNewStrategy(token).from(from).send().await?,
        )
        .await?;
        Ok(factory.deployedStrategies(token).call().await?)
    }

    /// Deploys an `EigenLayerRestaking` adapter for one AVS over `strategy` (give its
    /// address to the AVS's constructor as the core).
    pub async fn adapter(
        &self,
        provider: &DynProvider,
        from: Address,
        strategy: Address,
    ) -> Result<Address, ChainError> {
        let adapter = EigenLayerRestaking::deploy_builder(
            provider.clone(),
            self.allocation_manager,
            self.delegation_manager,
            strategy,
            self.rewards_coordinator,
            "https://bulwark.invalid/avs".to_string(),
        )
        .from(from)
        .deploy()
        .await?;
        Ok(adapter)
    }

    /// Deposits `amount` of `token` (already held and approved by nobody) for
    /// `staker` into `strategy`.
    pub async fn deposit(
        &self,
        provider: &DynProvider,
        staker: Address,
        token: Address,
        strategy: Address,
        amount: U256,
    ) -> Result<(), ChainError> {
        let erc20 = crate::bindings::LiquidStakingToken::new(token, provider.clone());
        mined(
            provider,
            erc20
                .approve(self.strategy_manager, amount)
                .from(staker)
                .send()
                .await?,
        )
        .await?;
        let sm = ElStrategyManager::new(self.strategy_manager, provider.clone());
        mined(
            provider,
            sm.depositIntoStrategy(strategy, token, amount)
                .from(staker)
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }

    /// Makes `operator` an EigenLayer operator (its own deposit delegated to itself),
    /// allocates `bps` of it to `adapter`'s operator set and registers it there.
    pub async fn join(
        &self,
        provider: &DynProvider,
        operator: Address,
        adapter: Address,
        strategy: Address,
        bps: u16,
    ) -> Result<(), ChainError> {
        let dm = ElDelegationManager::new(self.delegation_manager, provider.clone());
        mined(
            provider,
            dm.registerAsOperator(Address::ZERO, 0, "https://bulwark.invalid/op".into())
                .from(operator)
                .send()
                .await?,
        )
        .await?;
        // The allocation delay takes effect after ALLOCATION_CONFIGURATION_DELAY (1).
        mine(provider, 2).await?;
        self.allocate(provider, operator, adapter, strategy, bps)
            .await?;
        mine(provider, 1).await?;
        let am = ElAllocationManager::new(self.allocation_manager, provider.clone());
        mined(
            provider,
            am.registerForOperatorSets(
                operator,
                ElRegisterParams {
                    avs: adapter,
                    operatorSetIds: vec![0],
                    data: Bytes::new(),
                },
            )
            .from(operator)
            .send()
            .await?,
        )
        .await?;
        Ok(())
    }

    /// Sets `operator`'s allocation to `adapter`'s set to `bps` of its stake.
    pub async fn allocate(
        &self,
        provider: &DynProvider,
        operator: Address,
        adapter: Address,
        strategy: Address,
        bps: u16,
    ) -> Result<(), ChainError> {
        let am = ElAllocationManager::new(self.allocation_manager, provider.clone());
        let magnitude = WAD / 10_000 * u64::from(bps);
        mined(
            provider,
            am.modifyAllocations(
                operator,
                vec![ElAllocateParams {
                    operatorSet: ElOperatorSet {
                        avs: adapter,
                        id: 0,
                    },
                    strategies: vec![strategy],
                    newMagnitudes: vec![magnitude],
                }],
            )
            .from(operator)
            .send()
            .await?,
        )
        .await?;
        Ok(())
    }

    /// Delegates `staker`'s deposits to `operator`.
    pub async fn delegate(
        &self,
        provider: &DynProvider,
        staker: Address,
        operator: Address,
    ) -> Result<(), ChainError> {
        let dm = ElDelegationManager::new(self.delegation_manager, provider.clone());
        mined(
            provider,
            dm.delegateTo(
                operator,
                ElSignatureWithExpiry {
                    signature: Bytes::new(),
                    expiry: U256::ZERO,
                },
                Default::default(),
            )
            .from(staker)
            .send()
            .await?,
        )
        .await?;
        Ok(())
    }
}

/// The [`Restaking`] trait over EigenLayer, for one AVS's adapter.
#[derive(Clone, Debug)]
pub struct EigenLayerRestakingLayer {
    provider: DynProvider,
    core: EigenLayerCore,
    adapter: EigenLayerRestaking::EigenLayerRestakingInstance<DynProvider>,
    strategy: Address,
    /// The operator transactions are sent for (`opt_in`).
    sender: Option<Address>,
}

impl EigenLayerRestakingLayer {
    /// The layer as the AVS behind `adapter` sees it.
    pub async fn new(
        provider: DynProvider,
        core: EigenLayerCore,
        adapter: Address,
    ) -> Result<Self, ChainError> {
        let adapter = EigenLayerRestaking::new(adapter, provider.clone());
        let strategy = adapter.strategy().call().await?;
        Ok(Self {
            provider,
            core,
            adapter,
            strategy,
            sender: None,
        })
    }

    /// The same layer, sending `opt_in` as `operator` (the provider must sign for it).
    pub fn acting_as(mut self, operator: Address) -> Self {
        self.sender = Some(operator);
        self
    }

    async fn underlying(&self, shares: U256, at: BlockId) -> Result<U256, ChainError> {
        Ok(ElStrategy::new(self.strategy, self.provider.clone())
            .sharesToUnderlyingView(shares)
            .block(at)
            .call()
            .await?)
    }
}

impl Restaking for EigenLayerRestakingLayer {
    async fn asset(&self) -> Result<Address, ChainError> {
        Ok(self.adapter.asset().call().await?)
    }

    async fn withdrawal_delay(&self) -> Result<u32, ChainError> {
        Ok(self.adapter.withdrawalDelay().call().await?)
    }

    /// Queued withdrawals are not read here (EigenLayer keeps them in the
    /// DelegationManager's queue): `queued_stake` is 0.
    async fn delegation(&self, staker: Address, at: BlockId) -> Result<Delegation, ChainError> {
        let dm = ElDelegationManager::new(self.core.delegation_manager, self.provider.clone());
        let operator = dm.delegatedTo(staker).block(at).call().await?;
        let shares = dm
            .getWithdrawableShares(staker, vec![self.strategy])
            .block(at)
            .call()
            .await?
            .withdrawable
            .first()
            .copied()
            .unwrap_or_default();
        Ok(Delegation {
            operator: (!operator.is_zero()).then_some(operator),
            shares,
            stake: self.underlying(shares, at).await?,
            queued_stake: U256::ZERO,
        })
    }

    async fn allocations(
        &self,
        operator: Address,
        at: BlockId,
    ) -> Result<Vec<Allocation>, ChainError> {
        let am = ElAllocationManager::new(self.core.allocation_manager, self.provider.clone());
        let mut out = Vec::new();
        for set in am.getAllocatedSets(operator).block(at).call().await? {
            let a = am
                .getAllocation(operator, set.clone(), self.strategy)
                .block(at)
                .call()
                .await?;
            let to_bps = |magnitude: i128| {
                u16::try_from(magnitude.max(0) * 10_000 / i128::from(WAD)).unwrap_or(u16::MAX)
            };
            let current = i128::from(a.currentMagnitude);
            // A Bulwark AVS's set belongs to its adapter; name the AVS behind it.
            let avs = match EigenLayerRestaking::new(set.avs, self.provider.clone())
                .avs()
                .call()
                .await
            {
                Ok(avs) if !avs.is_zero() => avs,
                _ => set.avs,
            };
            out.push(Allocation {
                avs,
                bps: to_bps(current),
                pending: (a.pendingDiff != 0)
                    .then(|| (to_bps(current + a.pendingDiff), u64::from(a.effectBlock))),
            });
        }
        Ok(out)
    }

    async fn allocated_stake(
        &self,
        operator: Address,
        avs: Address,
        at: BlockId,
    ) -> Result<U256, ChainError> {
        Ok(self
            .adapter
            .allocatedStake(operator, avs)
            .block(at)
            .call()
            .await?)
    }

    async fn slashable_stake(&self, operator: Address, at: BlockId) -> Result<U256, ChainError> {
        let dm = ElDelegationManager::new(self.core.delegation_manager, self.provider.clone());
        let shares = dm
            .getOperatorShares(operator, vec![self.strategy])
            .block(at)
            .call()
            .await?
            .first()
            .copied()
            .unwrap_or_default();
        self.underlying(shares, at).await
    }

    /// EigenLayer pays through its RewardsCoordinator's posted roots, claimed with a
    /// Merkle proof from its rewards updater: not read here.
    async fn pending_rewards(
        &self,
        _: Address,
        _: Address,
        _: BlockId,
    ) -> Result<U256, ChainError> {
        Err(ChainError::Unsupported(
            "pending rewards (EigenLayer's RewardsCoordinator roots)",
        ))
    }

    async fn claim_rewards(&self, _: Address) -> Result<U256, ChainError> {
        Err(ChainError::Unsupported(
            "claiming rewards (EigenLayer's RewardsCoordinator roots)",
        ))
    }

    async fn opt_in(&self, avs: Address, bps: u16) -> Result<(), ChainError> {
        if self.adapter.avs().call().await? != avs {
            return Err(ChainError::Unsupported(
                "opting into an AVS behind another adapter",
            ));
        }
        let Some(operator) = self.sender else {
            return Err(ChainError::Unsupported(
                "opting in without an operator (acting_as)",
            ));
        };
        self.core
            .allocate(
                &self.provider,
                operator,
                *self.adapter.address(),
                self.strategy,
                bps,
            )
            .await
    }
}

/// An AVS on EigenLayer on a devnet: the core, the strategy over the devnet token,
/// and the deployment (its `core` is the AVS's adapter).
#[derive(Clone, Copy, Debug)]
pub struct EigenLayerDevnet {
    /// Token, adapter (as `core`), AVS and owner.
    pub deployment: crate::devnet::Deployment,
    /// EigenLayer's core.
    pub core: EigenLayerCore,
    /// The strategy over the devnet token.
    pub strategy: Address,
}

impl crate::devnet::Devnet {
    /// Deploys EigenLayer's core from the artifacts in `dir`, a strategy over a new
    /// devnet token, an adapter, and the AVS (`config.avs_code`, the same contract as
    /// on Bulwark's core) on it; `config.withdrawal_delay` is EigenLayer's
    /// deallocation and withdrawal delay.
    pub async fn deploy_on_eigenlayer(
        &self,
        config: &crate::devnet::DeployConfig,
        dir: &Path,
    ) -> Result<EigenLayerDevnet, ChainError> {
        let owner = *self
            .accounts()
            .first()
            .ok_or(ChainError::OutOfRange("anvil accounts"))?;
        let provider = self.provider().clone();
        let core = deploy_core(&provider, owner, dir, config.withdrawal_delay).await?;
        let token = *crate::bindings::LiquidStakingToken::deploy(provider.clone(), owner)
            .await?
            .address();
        let strategy = core.strategy_for(&provider, owner, token).await?;
        let adapter = core.adapter(&provider, owner, strategy).await?;
        let avs = self.deploy_avs(config, adapter, owner).await?;
        Ok(EigenLayerDevnet {
            deployment: crate::devnet::Deployment {
                token,
                core: adapter,
                avs,
                owner,
            },
            core,
            strategy,
        })
    }

    /// Onboards dev accounts 1..=`count` as EigenLayer operators with `stake` each
    /// (see [`crate::devnet::Devnet::onboard_eigenlayer_operator`]); operator `i` gets
    /// the key `KeyGen([i + 1; 32])`, as on Bulwark's core.
    pub async fn onboard_eigenlayer_operators(
        &self,
        el: &EigenLayerDevnet,
        count: usize,
        stake: U256,
    ) -> Result<Vec<crate::devnet::DevOperator>, ChainError> {
        let mut operators = Vec::with_capacity(count);
        for i in 0..count {
            let address = *self
                .accounts()
                .get(i + 1)
                .ok_or(ChainError::OutOfRange("not enough anvil accounts"))?;
            let seed =
                u8::try_from(i + 1).map_err(|_| ChainError::OutOfRange("devnet operator count"))?;
            let key = bulwark_crypto::SecretKey::from_ikm(&[seed; 32]).map_err(|source| {
                ChainError::InvalidKey {
                    operator: address,
                    source,
                }
            })?;
            self.onboard_eigenlayer_operator(el, address, stake, &key)
                .await?;
            operators.push(crate::devnet::DevOperator { address, key });
        }
        Ok(operators)
    }

    /// Makes `operator` an EigenLayer operator with `stake` of devnet tokens of its
    /// own, all allocated to the AVS's operator set, registered there, and registers
    /// `key` with the AVS with its proof of possession.
    pub async fn onboard_eigenlayer_operator(
        &self,
        el: &EigenLayerDevnet,
        operator: Address,
        stake: U256,
        key: &bulwark_crypto::SecretKey,
    ) -> Result<(), ChainError> {
        let provider = self.provider().clone();
        let d = &el.deployment;
        let token = crate::bindings::LiquidStakingToken::new(d.token, provider.clone());
        mined(
            &provider,
            token.mint(operator, stake).from(d.owner).send().await?,
        )
        .await?;
        el.core
            .deposit(&provider, operator, d.token, el.strategy, stake)
            .await?;
        el.core
            .join(&provider, operator, d.core, el.strategy, 10_000)
            .await?;
        let registration =
            crate::registration::KeyRegistration::for_chain(&provider, key, d.avs, operator)
                .await?;
        let avs = crate::bindings::BasicAVS::new(d.avs, provider.clone());
        mined(
            &provider,
            avs.registerOperator(registration.public_key, registration.proof)
                .from(operator)
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }
}
