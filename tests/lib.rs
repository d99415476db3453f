//! End-to-end tests: anvil, the contracts, an aggregator and operators over real gRPC.
//! The tests are under `tests/tests/`; this library only holds the task they run.

use bulwark_core::Task;

/// Squares a big-endian u64: a task every operator computes identically.
pub struct Square;

impl Task for Square {
    type Input = u64;
    type Output = u128;
    type Error = std::convert::Infallible;

    fn decode_input(&self, bytes: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    async fn execute(&self, input: u64) -> Result<u128, Self::Error> {
        Ok(u128::from(input) * u128::from(input))
    }

    fn encode_output(&self, output: &u128) -> Vec<u8> {
        output.to_be_bytes().to_vec()
    }
}

use std::sync::Arc;
use std::time::Duration;

use alloy::providers::DynProvider;
use bulwark_core::{EngineConfig, SigningContext};
use bulwark_node::aggregator::store::Store;
use bulwark_node::aggregator::{Aggregator, TaskOutcome};
use bulwark_node::follow::ChainSource;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// An aggregator running in-process: gRPC on a free loopback port and its chain loop.
pub struct RunningAggregator {
    /// The aggregator, for its counters.
    pub aggregator: Arc<Aggregator>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Task outcomes, in order.
    pub outcomes: mpsc::UnboundedReceiver<TaskOutcome>,
    stop: watch::Sender<bool>,
    server: JoinHandle<Result<(), tonic_error::Error>>,
    chain_loop: JoinHandle<()>,
}

mod tonic_error {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
}

impl RunningAggregator {
    /// Starts an aggregator following `context`'s AVS from `from_block`.
    pub async fn start(
        provider: DynProvider,
        context: SigningContext,
        from_block: u64,
        store: Option<&std::path::Path>,
    ) -> Self {
        Self::start_with(
            provider,
            context,
            from_block,
            store,
            EngineConfig::default(),
        )
        .await
    }

    /// [`RunningAggregator::start`] with an engine configuration of its own.
    pub async fn start_with(
        provider: DynProvider,
        context: SigningContext,
        from_block: u64,
        store: Option<&std::path::Path>,
        engine: EngineConfig,
    ) -> Self {
        Self::start_full(provider, None, context, from_block, store, engine).await
    }

    /// [`RunningAggregator::start`] sending certificates from `submitter` (the
    /// provider's signer), whose nonces and fees its lander then sets itself.
    pub async fn start_as(
        provider: DynProvider,
        submitter: alloy::primitives::Address,
        context: SigningContext,
        from_block: u64,
    ) -> Self {
        Self::start_full(
            provider,
            Some(submitter),
            context,
            from_block,
            None,
            EngineConfig::default(),
        )
        .await
    }

    async fn start_full(
        provider: DynProvider,
        submitter: Option<alloy::primitives::Address>,
        context: SigningContext,
        from_block: u64,
        store: Option<&std::path::Path>,
        engine: EngineConfig,
    ) -> Self {
        let store = store.map(|path| Arc::new(Store::open(path).expect("open the store")));
        let (aggregator, certs) = Aggregator::with_store(engine, store);
        let (listener, addr) = bulwark_net::server::bind_loopback().await.expect("bind");
        let (stop, stop_rx) = watch::channel(false);
        let server = {
            let agg = aggregator.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                bulwark_net::server::serve(listener, agg, 64 * 1024, async move {
                    let _ = stop.changed().await;
                })
                .await
                .map_err(|e| Box::new(e) as tonic_error::Error)
            })
        };
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let chain_loop = {
            let agg = aggregator.clone();
            let mut stop = stop_rx;
            tokio::spawn(async move {
                let chain = ChainSource {
                    provider,
                    context,
                    from_block,
                    poll: Duration::from_millis(100),
                    submitter,
                };
                agg.run(chain, certs, outcomes_tx, async move {
                    let _ = stop.changed().await;
                })
                .await
            })
        };
        Self {
            aggregator,
            endpoint: format!("http://{addr}"),
            outcomes,
            stop,
            server,
            chain_loop,
        }
    }

    /// The next task outcome, within `secs` seconds.
    pub async fn next_outcome(&mut self, secs: u64) -> TaskOutcome {
        tokio::time::timeout(Duration::from_secs(secs), self.outcomes.recv())
            .await
            .expect("a task outcome in time")
            .expect("aggregator running")
    }

    /// Ends the server and the chain loop where they are, with no stop signal: an
    /// aggregator that dies (its open connections drop, its lander stops mid-way).
    pub async fn kill(self) {
        self.chain_loop.abort();
        self.server.abort();
        let _ = self.chain_loop.await;
        let _ = self.server.await;
    }

    /// Stops the server and the chain loop and waits for both.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.chain_loop.await.expect("chain loop stops");
        self.server
            .await
            .expect("join")
            .expect("server stops cleanly");
    }
}

/// A devnet with the contracts deployed and operators onboarded (32 tokens each).
pub struct Network {
    /// The running anvil (stopped on drop).
    pub devnet: bulwark_chain::devnet::Devnet,
    /// The AVS contract.
    pub avs: alloy::primitives::Address,
    /// The operators, in account order.
    pub operators: Vec<bulwark_chain::devnet::DevOperator>,
    /// A provider signing for every dev account.
    pub provider: DynProvider,
    /// Chain id and AVS, as operators sign them.
    pub context: SigningContext,
    /// The block after onboarding, to follow events from.
    pub start: u64,
}

impl Network {
    /// Starts anvil, deploys, and onboards `operators` operators.
    pub async fn start(operators: usize) -> Self {
        use alloy::providers::Provider;
        use bulwark_chain::devnet::{DeployConfig, Devnet, ether};
        let devnet =
            Devnet::start(operators as u32 + 1).expect("anvil must start: run `make tools`");
        let d = devnet
            .deploy(&DeployConfig::default())
            .await
            .expect("deploy");
        let ops = devnet
            .onboard_operators(&d, operators, ether(32))
            .await
            .expect("onboard");
        let provider = devnet.provider().clone();
        let context = SigningContext {
            chain_id: devnet.chain_id().await.expect("chain id"),
            avs: d.avs.into_array(),
        };
        let start = provider.get_block_number().await.expect("block");
        Self {
            devnet,
            avs: d.avs,
            operators: ops,
            provider,
            context,
            start,
        }
    }

    /// Operator `i`'s runtime signing with `key` (its own, or an impostor's) and
    /// submitting to `endpoint`.
    pub fn operator(
        &self,
        i: usize,
        key: bulwark_crypto::SecretKey,
        endpoint: &str,
    ) -> bulwark_node::operator::OperatorRuntime<Square> {
        bulwark_node::operator::OperatorRuntime::new(
            Square,
            key,
            bulwark_core::OperatorId(self.operators[i].address.into_array()),
            self.context,
            vec![endpoint.to_string()],
        )
    }

    /// Creates a task and waits for its `TaskCreated` event.
    pub async fn create_task(
        &self,
        input: u64,
        threshold_bps: u16,
        response_blocks: u32,
    ) -> bulwark_node::follow::NewTask {
        self.create_task_on(self.avs, input, threshold_bps, response_blocks)
            .await
    }

    /// [`Network::create_task`] on `avs`, another AVS on this chain (one sharing the
    /// restaking core, say).
    pub async fn create_task_on(
        &self,
        avs: alloy::primitives::Address,
        input: u64,
        threshold_bps: u16,
        response_blocks: u32,
    ) -> bulwark_node::follow::NewTask {
        let created = bulwark_chain::tasks::create_task(
            &self.provider,
            avs,
            &input.to_be_bytes(),
            threshold_bps,
            response_blocks,
        )
        .await
        .expect("createTask");
        let mut follower =
            bulwark_node::follow::TaskFollower::new(self.provider.clone(), avs, self.start);
        for _ in 0..100 {
            let tasks = follower.poll().await.expect("poll").tasks;
            if let Some(task) = tasks.into_iter().find(|t| t.task_id == created.task_id) {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no TaskCreated event for task {}", created.task_id);
    }
}

/// Has `operator` respond to `task` and expects its aggregator to accept.
pub async fn respond_accepted(
    operator: &bulwark_node::operator::OperatorRuntime<Square>,
    task: &bulwark_node::follow::NewTask,
) {
    let statuses = operator.respond(task).await.expect("signs");
    assert!(
        matches!(
            statuses.first(),
            Some(Ok(bulwark_net::proto::SubmissionStatus::Accepted))
        ),
        "{statuses:?}"
    );
}

impl Network {
    /// A fresh account holding 100 ETH (anvil's `anvil_setBalance`): a submitter of
    /// its own, whose nonces no other sender in the test touches.
    pub async fn funded_account(&self) -> alloy::signers::local::PrivateKeySigner {
        use alloy::providers::Provider;
        let signer = alloy::signers::local::PrivateKeySigner::random();
        let _: serde_json::Value = self
            .provider
            .raw_request(
                "anvil_setBalance".into(),
                (signer.address(), bulwark_chain::devnet::ether(100)),
            )
            .await
            .expect("anvil_setBalance");
        signer
    }

    /// A provider for `rpc_url` (anvil's, or a proxy's in front of it) signing as
    /// `signer`.
    pub fn provider_for(
        &self,
        rpc_url: &str,
        signer: alloy::signers::local::PrivateKeySigner,
    ) -> DynProvider {
        bulwark_chain::provider::connect(
            rpc_url,
            Some(alloy::network::EthereumWallet::from(signer)),
        )
        .expect("provider")
    }
}

/// A TCP proxy on 127.0.0.1 in front of an RPC endpoint that a test can cut (open
/// connections closed, new ones closed at once) and restore: an RPC provider going
/// away for a while.
pub struct Proxy {
    addr: std::net::SocketAddr,
    up: Arc<watch::Sender<bool>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Proxies to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream: std::net::SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream host:port");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(watch::Sender::new(true));
        let accept = {
            let up = up.clone();
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !*up.borrow() {
                        continue; // dropped: closed at once
                    }
                    let mut cut = up.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.wait_for(|up| !*up) => {}
                        }
                    });
                }
            })
        };
        Self { addr, up, accept }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The endpoint goes away: every open connection is closed, new ones too.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// The endpoint comes back.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
