//! `hello-avs`: the hello AVS's operator, aggregator and challenger, and a devnet demo.
//!
//! ```text
//! hello-avs operator   --config operator.toml     serve tasks as an operator
//! hello-avs aggregator --config aggregator.toml   aggregate signatures, land certificates
//! hello-avs challenger --config challenger.toml   prove equivocations on chain
//! hello-avs demo                                  all of it on a local anvil
//! ```

mod demo;

use std::path::PathBuf;
use std::time::Duration;

use bulwark::anyhow::{self, Context};
use bulwark::clap;

/// The hello AVS's own subcommand, beside the roles `bulwark::app!` gives it.
#[derive(clap::Subcommand)]
enum Command {
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

fn main() -> std::process::ExitCode {
    bulwark::app!().task(hello_avs::Hello).commands(run).run()
}

async fn run(command: Command) -> anyhow::Result<()> {
    let Command::Demo {
        operators,
        seconds,
        tasks,
        interval_ms,
        threshold_bps,
        dir,
    } = command;
    bulwark::node::telemetry::init_tracing("warn");
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
        bulwark::node::service::shutdown_signal(),
    )
    .await?;
    if summary.certified == 0 {
        anyhow::bail!("the demo landed no certificate");
    }
    if summary.stopped_cleanly < summary.children {
        anyhow::bail!(
            "{} of {} processes did not stop cleanly",
            summary.children - summary.stopped_cleanly,
            summary.children
        );
    }
    Ok(())
}
