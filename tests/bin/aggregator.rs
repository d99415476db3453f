//! An aggregator process for the end-to-end tests that kill one (`SIGKILL`): the
//! framework's own runtime (`bulwark_node::service::run_aggregator`) from a config
//! file, stopped by SIGINT or SIGTERM like an AVS's binary.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bulwark_node::telemetry::init_tracing("info");
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: e2e-aggregator <aggregator.toml>"))?;
    let config = bulwark_node::config::AggregatorConfig::load(&path)?;
    bulwark_node::service::run_aggregator(config, None, bulwark_node::service::shutdown_signal())
        .await?;
    Ok(())
}
