//! `hello-avs`: the hello AVS's operator and aggregator, and a devnet demo.
//!
//! ```text
//! hello-avs operator   --config operator.toml     serve tasks as an operator
//! hello-avs aggregator --config aggregator.toml   aggregate signatures, land certificates
//! hello-avs demo                                  all of it on a local anvil
//! ```

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bulwark_node::config::{AggregatorConfig, OperatorConfig};
use bulwark_node::service::{run_aggregator, run_operator, shutdown_signal};
use bulwark_node::telemetry::init_tracing;
use clap::{Parser, Subcommand};
use hello_avs::Hello;

#[derive(Parser)]
#[command(
    name = "hello-avs",
    version,
    about = "The hello AVS on Bulwark: operator, aggregator and a devnet demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve tasks: execute, sign with the BLS key, submit to the aggregators.
    Operator {
        /// The operator's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
    /// Collect signatures, build certificates and submit them to the AVS.
    Aggregator {
        /// The aggregator's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the AVS end to end on a local anvil: 1 aggregator and N operator processes.
    Demo {
        /// Operators to start.
        #[arg(long, default_value_t = 5)]
        operators: usize,
        /// How long to create tasks, in seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Stop after this many tasks instead of after `--seconds`.
        #[arg(long)]
        tasks: Option<usize>,
        /// Milliseconds between tasks.
        #[arg(long, default_value_t = 2000)]
        interval_ms: u64,
        /// Stake share (basis points) a certificate needs.
        #[arg(long, default_value_t = 6667)]
        threshold_bps: u16,
        /// Folder for keys, configs and logs (default: a fresh temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Operator { config } => {
            let config = OperatorConfig::load(&config)?;
            init_tracing(&config.telemetry.log);
            run_operator(config, Hello, shutdown_signal()).await?;
        }
        Command::Aggregator { config } => {
            let config = AggregatorConfig::load(&config)?;
            init_tracing(&config.telemetry.log);
            run_aggregator(config, None, shutdown_signal()).await?;
        }
        Command::Demo {
            operators,
            seconds,
            tasks,
            interval_ms,
            threshold_bps,
            dir,
        } => {
            init_tracing("warn");
            let temp;
            let dir = match dir {
                Some(dir) => dir,
                None => {
                    temp = tempfile::tempdir().context("creating a temporary folder")?;
                    temp.path().to_path_buf()
                }
            };
            let summary = demo::run(
                demo::Options {
                    operators,
                    duration: Duration::from_secs(seconds),
                    tasks,
                    interval: Duration::from_millis(interval_ms),
                    threshold_bps,
                    dir,
                    binary: std::env::current_exe().context("locating this binary")?,
                },
                shutdown_signal(),
            )
            .await?;
            if summary.certified == 0 || summary.stopped_cleanly < summary.children {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
