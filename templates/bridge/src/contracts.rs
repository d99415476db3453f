//! The bridge's contracts as Rust sees them: one `sol!` interface over every contract,
//! so the table, message and certificate types are shared between calls to the home
//! and the remote chain, and deployment from the committed artifacts
//! (`artifacts/*.json`, refreshed by `make artifacts` from `contracts/`).

use bulwark::alloy::network::TransactionBuilder;
use bulwark::alloy::primitives::{Address, Bytes, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::alloy::rpc::types::TransactionRequest;
use bulwark::chain::bindings::BLS as ChainBLS;
use bulwark::chain::{ChainError, devnet};
use bulwark::crypto::{PublicKey, Signature};

use crate::message::Message;
use crate::table::Table;

#[allow(missing_docs, clippy::too_many_arguments)]
mod sol {
    bulwark::alloy::sol! {
        #![sol(all_derives)]
        struct G1Point { uint256 xHi; uint256 xLo; uint256 yHi; uint256 yLo; }
        struct G2Point {
            uint256 x0Hi; uint256 x0Lo; uint256 x1Hi; uint256 x1Lo;
            uint256 y0Hi; uint256 y0Lo; uint256 y1Hi; uint256 y1Lo;
        }
        struct WireMessage {
            uint256 sourceChainId;
            address outbox;
            uint64 nonce;
            address sender;
            uint256 destinationChainId;
            address recipient;
            bytes payload;
        }
        struct WireTable {
            uint64 epoch;
            uint64 homeBlock;
            uint64 homeTimestamp;
            bytes32 root;
            uint64 totalStakeGwei;
            G2Point aggregateKey;
        }
        struct WireMember { address operator; uint64 stakeGwei; G2Point publicKey; }
        struct WireNonSigner { WireMember member; bytes32[] proof; }
        struct TableCertificate { WireNonSigner[] nonSigners; G1Point signature; }
        struct HomeNonSigner { address operator; uint32 hint; G2Point publicKey; }
        struct HomeCertificate {
            uint32 referenceBlock;
            uint32 setHint;
            G2Point aggregateKey;
            G1Point signature;
            HomeNonSigner[] nonSigners;
        }

        #[sol(rpc)]
        interface IBridgeHome {
            function outbox() external view returns (address);
            function epochs() external view returns (uint64);
            function tableTask(uint64 epoch) external view returns (uint256);
            function FORGED_DELIVERY() external view returns (bytes32);
            function FORGED_TABLE() external view returns (bytes32);
            function commitTable(WireMember[] calldata members) external returns (uint64 epoch, WireTable memory table);
            function challenge(uint256 taskId, bytes calldata evidence) external;
            event TableCommitted(uint64 indexed epoch, uint256 indexed taskId, WireTable table);
        }

        #[sol(rpc)]
        interface IOutbox {
            function nextNonce() external view returns (uint64);
            function sentBlock(bytes32 id) external view returns (uint256);
            function send(uint256 destinationChainId, address recipient, bytes calldata payload) external returns (bytes32 id);
            event MessageSent(bytes32 indexed id, uint64 indexed nonce, WireMessage message);
        }

        #[sol(rpc)]
        interface IOperatorTable {
            function table() external view returns (WireTable memory);
            function installedAt() external view returns (uint256);
            function maxAge() external view returns (uint64);
            function maxHandoverAge() external view returns (uint64);
            function thresholdBps() external view returns (uint16);
            function updateDigest(WireTable memory next) external view returns (bytes32);
            function update(WireTable calldata next, TableCertificate calldata cert) external;
        }

        #[sol(rpc)]
        interface IInbox {
            function executed(bytes32 id) external view returns (bool);
            function digest(WireMessage calldata m) external view returns (bytes32);
            function deliver(WireMessage calldata m, TableCertificate calldata cert) external returns (bytes32 id);
            event MessageExecuted(bytes32 indexed id, uint64 indexed nonce, address recipient, uint64 signedStakeGwei);
        }

        #[sol(rpc)]
        interface IHomeInbox {
            function executed(bytes32 id) external view returns (bool);
            function deliver(WireMessage calldata m, HomeCertificate calldata cert) external returns (bytes32 id);
        }

        #[sol(rpc)]
        interface ITokenVault {
            function token() external view returns (address);
            function setRemote(address remoteToken) external;
            function lock(uint256 amount, address to) external returns (bytes32 id);
        }

        #[sol(rpc)]
        interface IWrappedToken {
            function balanceOf(address account) external view returns (uint256);
            function burn(uint256 amount, address to) external returns (bytes32 id);
        }

        function operatorTableConstructor(uint256 homeChainId, address homeAVS, uint16 thresholdBps, uint64 maxAge, uint64 maxHandoverAge, WireTable memory genesis);
        function inboxConstructor(address operators, uint256 sourceChainId, address sourceOutbox);
        function homeInboxConstructor(address home, uint16 thresholdBps, uint256 sourceChainId, address sourceOutbox);
        function tokenVaultConstructor(address token, address outbox, address inbox, uint256 remoteChainId);
        function wrappedTokenConstructor(string name, string symbol, address outbox, address inbox, uint256 homeChainId, address vault);
        function forgedDeliveryProof(WireTable t, WireMessage m, address inbox, TableCertificate cert, WireMember signer, bytes32[] signerProof);
        function forgedTableProof(WireTable t, WireTable next, uint256 chainId, address tableContract, TableCertificate cert, WireMember signer, bytes32[] signerProof);
        function evidence(bytes32 offence, bytes proof);
    }
}

pub use sol::{
    G1Point, G2Point, HomeCertificate, HomeNonSigner, IBridgeHome, IHomeInbox, IInbox,
    IOperatorTable, IOutbox, ITokenVault, IWrappedToken, TableCertificate, WireMember, WireMessage,
    WireNonSigner, WireTable,
};

/// Creation code of the bridge's contracts, from the committed artifacts.
pub mod code {
    /// `BridgeHome`: the AVS on the home chain (constructor: the task manager's
    /// `Params`, as `DeployConfig::avs_code` expects).
    pub const BRIDGE_HOME: &str = include_str!("../artifacts/BridgeHome.json");
    /// `Outbox` (the remote chain's; the home one is deployed by `BridgeHome`).
    pub const OUTBOX: &str = include_str!("../artifacts/Outbox.json");
    /// `OperatorTable`.
    pub const OPERATOR_TABLE: &str = include_str!("../artifacts/OperatorTable.json");
    /// `Inbox` (remote).
    pub const INBOX: &str = include_str!("../artifacts/Inbox.json");
    /// `HomeInbox`.
    pub const HOME_INBOX: &str = include_str!("../artifacts/HomeInbox.json");
    /// `TokenVault`.
    pub const TOKEN_VAULT: &str = include_str!("../artifacts/TokenVault.json");
    /// `WrappedToken`.
    pub const WRAPPED_TOKEN: &str = include_str!("../artifacts/WrappedToken.json");
}

/// The creation bytecode in a forge artifact.
pub fn creation_code(artifact: &str) -> Result<Bytes, ChainError> {
    let json: serde_json::Value = serde_json::from_str(artifact)
        .map_err(|_| ChainError::OutOfRange("bridge artifact is not JSON"))?;
    let hex = json["bytecode"]["object"]
        .as_str()
        .ok_or(ChainError::OutOfRange("bridge artifact has no bytecode"))?;
    hex.parse::<Bytes>()
        .map_err(|_| ChainError::OutOfRange("bridge artifact bytecode is not hex"))
}

/// Deploys `artifact` with ABI-encoded constructor arguments `args` from `from`;
/// returns its address.
pub async fn deploy(
    provider: &DynProvider,
    from: Address,
    artifact: &str,
    args: &[u8],
) -> Result<Address, ChainError> {
    let code: Bytes = [creation_code(artifact)?.as_ref(), args].concat().into();
    let tx = TransactionRequest::default()
        .from(from)
        .with_deploy_code(code);
    let receipt = devnet::mined(provider, provider.send_transaction(tx).await?).await?;
    receipt
        .contract_address
        .ok_or(ChainError::Reverted(receipt.transaction_hash))
}

/// ABI encodings of constructor arguments and of slashing evidence.
pub mod encode {
    use super::sol;
    use bulwark::alloy::sol_types::SolCall;

    /// Strips the selector: a constructor's arguments are a call's without it.
    fn args<C: SolCall>(call: C) -> Vec<u8> {
        call.abi_encode()[4..].to_vec()
    }

    pub use sol::{
        evidenceCall as Evidence, forgedDeliveryProofCall as ForgedDeliveryProof,
        forgedTableProofCall as ForgedTableProof, homeInboxConstructorCall as HomeInboxArgs,
        inboxConstructorCall as InboxArgs, operatorTableConstructorCall as OperatorTableArgs,
        tokenVaultConstructorCall as TokenVaultArgs,
        wrappedTokenConstructorCall as WrappedTokenArgs,
    };

    /// The ABI encoding of `call`'s arguments (constructor arguments, or a proof).
    pub fn arguments<C: SolCall>(call: C) -> Vec<u8> {
        args(call)
    }
}

/// A public key as the contracts' `BLS.G2Point`.
pub fn g2(key: &PublicKey) -> G2Point {
    from_chain_g2(bulwark::chain::points::g2_point(key))
}

/// EIP-2537 G2 bytes as the contracts' `BLS.G2Point`.
pub fn g2_from_eip2537(bytes: &[u8; 256]) -> G2Point {
    from_chain_g2(bulwark::chain::points::g2_from_eip2537(bytes))
}

/// A signature as the contracts' `BLS.G1Point`.
pub fn g1(signature: &Signature) -> G1Point {
    let p = bulwark::chain::points::g1_point(signature);
    G1Point {
        xHi: p.xHi,
        xLo: p.xLo,
        yHi: p.yHi,
        yLo: p.yLo,
    }
}

/// The framework bindings' `BLS.G2Point` as this crate's.
pub fn from_chain_g2(p: ChainBLS::G2Point) -> G2Point {
    G2Point {
        x0Hi: p.x0Hi,
        x0Lo: p.x0Lo,
        x1Hi: p.x1Hi,
        x1Lo: p.x1Lo,
        y0Hi: p.y0Hi,
        y0Lo: p.y0Lo,
        y1Hi: p.y1Hi,
        y1Lo: p.y1Lo,
    }
}

impl From<&Message> for WireMessage {
    fn from(m: &Message) -> Self {
        Self {
            sourceChainId: m.source_chain_id,
            outbox: m.outbox,
            nonce: m.nonce,
            sender: m.sender,
            destinationChainId: m.destination_chain_id,
            recipient: m.recipient,
            payload: m.payload.clone(),
        }
    }
}

impl From<WireMessage> for Message {
    fn from(m: WireMessage) -> Self {
        Self {
            source_chain_id: m.sourceChainId,
            outbox: m.outbox,
            nonce: m.nonce,
            sender: m.sender,
            destination_chain_id: m.destinationChainId,
            recipient: m.recipient,
            payload: m.payload,
        }
    }
}

/// `table`'s members as `commitTable` takes them (ascending by operator).
pub fn wire_members(table: &Table) -> Vec<WireMember> {
    table
        .members()
        .iter()
        .map(|m| WireMember {
            operator: m.operator,
            stakeGwei: m.stake_gwei,
            publicKey: g2(&m.public_key),
        })
        .collect()
}

/// A chain id as the contracts take it.
pub fn chain(id: u64) -> U256 {
    U256::from(id)
}
