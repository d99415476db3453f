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
    let url = rpc_url
        .parse()
        .map_err(|_| ChainError::InvalidUrl(rpc_url.to_string()))?;
    let builder = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_simple_nonce_management()
        .with_gas_estimation()
        .filler(alloy::providers::fillers::ChainIdFiller::default());
    Ok(match wallet {
        Some(wallet) => builder.wallet(wallet).connect_http(url).erased(),
        None => builder.connect_http(url).erased(),
    })
}

/// Parses a hex private key (with or without `0x`), for the account that sends
/// transactions.
pub fn signer(hex_key: &str) -> Result<PrivateKeySigner, ChainError> {
    hex_key
        .trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| ChainError::InvalidPrivateKey)
}
