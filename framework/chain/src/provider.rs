//! Providers for runtimes and the devnet, all filled the same way.

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

use crate::ChainError;

/// An HTTP provider for `rpc_url` that signs with `wallet` (when given) and fills chain
/// id, gas and nonce.
///
/// Nonces are read from the node for every transaction: alloy's default cached nonce
/// manager reserves a nonce before gas estimation, so a call that reverts at estimation
/// (a refused certificate) would leave a gap no later transaction fills.
pub fn connect(rpc_url: &str, wallet: Option<EthereumWallet>) -> Result<DynProvider, ChainError> {
    let url: alloy::transports::http::reqwest::Url = rpc_url
        .parse()
        .map_err(|_| ChainError::InvalidUrl(rpc_url.to_string()))?;
    // Every request ends: a node that accepts a connection and never answers would
    // otherwise hold a runtime's chain loop forever.
    let http = alloy::transports::http::reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|_| ChainError::InvalidUrl(rpc_url.to_string()))?;
    let builder = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_simple_nonce_management()
        .with_gas_estimation()
        .filler(alloy::providers::fillers::ChainIdFiller::default());
    Ok(match wallet {
        Some(wallet) => builder.wallet(wallet).connect_reqwest(http, url).erased(),
        None => builder.connect_reqwest(http, url).erased(),
    })
}

/// The longest one RPC request may take.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest connecting to the RPC endpoint may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Parses a hex private key (with or without `0x`), for the account that sends
/// transactions.
pub fn signer(hex_key: &str) -> Result<PrivateKeySigner, ChainError> {
    hex_key
        .trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| ChainError::InvalidPrivateKey)
}
