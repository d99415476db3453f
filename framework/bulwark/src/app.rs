//! The AVS binary's entry: subcommands, config loading, tracing, signals.
//!
//! Every AVS binary had the same `main`: a clap enum with `operator` and
//! `aggregator` (and `challenger`), each loading its TOML config, starting tracing
//! at the config's level and running a runtime until Ctrl-C or SIGTERM. [`App`] is
//! that `main`, once; an AVS adds its task and, if it has any, its own subcommands.

use std::ffi::OsString;
use std::future::Future;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bulwark_core::{Observe, Propose, Task};
use bulwark_node::challenger::OffenceCheck;
use bulwark_node::config::{AggregatorConfig, ChallengerConfig, OperatorConfig};
use bulwark_node::service;
use bulwark_node::telemetry::init_tracing;
use clap::{Arg, ArgMatches, FromArgMatches, Subcommand};

type Work = Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;
type RunRole<C> = Box<dyn FnOnce(C, Role) -> Work>;

/// What a role's runtime gets besides its config.
pub struct Role {
    /// The config file it was started with (files it names are relative to its
    /// folder).
    pub config_path: PathBuf,
    /// Resolves on Ctrl-C or SIGTERM: the runtime stops then.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Role {
    /// The folder of the config file.
    pub fn config_dir(&self) -> &Path {
        self.config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }
}

/// An AVS binary: `operator`, `aggregator` and `challenger` subcommands, and the
/// AVS's own (`E`, a clap [`Subcommand`]).
///
/// ```no_run
/// # use bulwark::prelude::*;
/// # #[derive(Clone)] struct Hello;
/// # impl Task for Hello {
/// #     type Input = String; type Output = String; type Error = std::convert::Infallible;
/// #     fn decode_input(&self, b: &[u8]) -> Option<String> { String::from_utf8(b.to_vec()).ok() }
/// #     async fn execute(&self, n: String) -> Result<String, Self::Error> { Ok(n) }
/// #     fn encode_output(&self, o: &String) -> Vec<u8> { o.as_bytes().to_vec() }
/// # }
/// #[derive(bulwark::clap::Subcommand)]
/// enum Extra {
///     /// Say hello.
///     Greet { name: String },
/// }
///
/// fn main() -> std::process::ExitCode {
///     bulwark::app!()
///         .task(Hello)
///         .commands(|extra: Extra| async move {
///             match extra {
///                 Extra::Greet { name } => println!("Hello, {name}!"),
///             }
///             Ok(())
///         })
///         .run()
/// }
/// ```
pub struct App<E = NoCommands> {
    name: String,
    version: Option<&'static str>,
    about: Option<&'static str>,
    operator: Option<RunRole<OperatorConfig>>,
    aggregator: RunRole<AggregatorConfig>,
    checks: Vec<Box<dyn OffenceCheck>>,
    describe: Option<Describe>,
    commands: Option<Box<dyn FnOnce(E) -> Work>>,
    _commands: PhantomData<fn(E)>,
}

/// How the AVS reads a certified response (see [`App::describe`]).
type Describe = Arc<DescribeFn>;
type DescribeFn = dyn Fn(&[u8]) -> Option<String> + Send + Sync;

/// The built-in subcommand `bulwark status` runs (`[avs] describe` in bulwark.toml).
pub const DESCRIBE_COMMAND: &str = "describe-responses";

/// No subcommands of the AVS's own.
#[derive(Clone, Copy, Debug)]
pub enum NoCommands {}

impl FromArgMatches for NoCommands {
    fn from_arg_matches(_: &ArgMatches) -> Result<Self, clap::Error> {
        Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
    }

    fn update_from_arg_matches(&mut self, _: &ArgMatches) -> Result<(), clap::Error> {
        match *self {}
    }
}

impl Subcommand for NoCommands {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn has_subcommand(_: &str) -> bool {
        false
    }
}

/// A single-task AVS's whole `main`, named after the running program. Prefer
/// [`crate::app!`], which also carries the package's version and description.
pub fn main<T: Task>(task: T) -> ExitCode {
    let name = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "avs".into());
    App::new(name).task(task).run()
}

impl App<NoCommands> {
    /// A binary called `name`, whose aggregator runs single-phase tasks and whose
    /// challenger proves equivocations; it has no operator until [`App::task`] (or
    /// [`App::observer`], [`App::operator`]).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: None,
            about: None,
            operator: None,
            aggregator: Box::new(|config, role| {
                Box::pin(async move {
                    service::run_aggregator(config, None, role.shutdown).await?;
                    Ok(())
                })
            }),
            checks: Vec::new(),
            describe: None,
            commands: None,
            _commands: PhantomData,
        }
    }
}

impl<E: Subcommand + 'static> App<E> {
    /// The version `--version` prints.
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    /// The description `--help` prints.
    pub fn about(mut self, about: &'static str) -> Self {
        self.about = Some(about).filter(|a| !a.is_empty());
        self
    }

    /// Operators execute `task` (single-phase: every operator signs the output);
    /// `describe-responses` shows responses with [`Task::describe_response`].
    pub fn task<T: Task>(mut self, task: T) -> Self {
        let task = Arc::new(task);
        let reader = task.clone();
        self.describe = Some(Arc::new(move |bytes| reader.describe_response(bytes)));
        self.operator = Some(Box::new(move |config, role| {
            Box::pin(async move {
                service::run_operator(config, task, role.shutdown).await?;
                Ok(())
            })
        }));
        self
    }

    /// Two-phase tasks: operators `observe` and report, the aggregator proposes with
    /// `proposer`, operators endorse what is within their tolerance.
    pub fn observer<O: Observe>(mut self, observe: O, proposer: Arc<dyn Propose>) -> Self {
        self.operator = Some(Box::new(move |config, role| {
            Box::pin(async move {
                service::run_observer(config, observe, role.shutdown).await?;
                Ok(())
            })
        }));
        self.aggregator = Box::new(move |config, role| {
            Box::pin(async move {
                service::run_two_phase_aggregator(config, proposer, None, role.shutdown).await?;
                Ok(())
            })
        });
        self
    }

    /// The operator runs `run` instead (an AVS with a runtime of its own around
    /// Bulwark's, e.g. one that reads more of its config).
    pub fn operator<F, Fut>(mut self, run: F) -> Self
    where
        F: FnOnce(OperatorConfig, Role) -> Fut + 'static,
        Fut: Future<Output = anyhow::Result<()>> + 'static,
    {
        self.operator = Some(Box::new(move |config, role| Box::pin(run(config, role))));
        self
    }

    /// The aggregator runs `run` instead (e.g. with a task keeper beside it).
    pub fn aggregator<F, Fut>(mut self, run: F) -> Self
    where
        F: FnOnce(AggregatorConfig, Role) -> Fut + 'static,
        Fut: Future<Output = anyhow::Result<()>> + 'static,
    {
        self.aggregator = Box::new(move |config, role| Box::pin(run(config, role)));
        self
    }

    /// How `describe-responses` (and so `bulwark status`) shows a certified response,
    /// for AVSs without a [`Task`] (two-phase ones); `None` leaves it as bytes.
    pub fn describe(
        mut self,
        describe: impl Fn(&[u8]) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.describe = Some(Arc::new(describe));
        self
    }

    /// The challenger also proves this AVS offence (equivocation is always proven).
    pub fn offence_check(mut self, check: impl OffenceCheck + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// The AVS's own subcommands, `C` (a clap [`Subcommand`] enum; it must not name
    /// `operator`, `aggregator` or `challenger`), run by `run`.
    pub fn commands<C, F, Fut>(self, run: F) -> App<C>
    where
        C: Subcommand + 'static,
        F: FnOnce(C) -> Fut + 'static,
        Fut: Future<Output = anyhow::Result<()>> + 'static,
    {
        App {
            name: self.name,
            version: self.version,
            about: self.about,
            operator: self.operator,
            aggregator: self.aggregator,
            checks: self.checks,
            describe: self.describe,
            commands: Some(Box::new(move |command| Box::pin(run(command)))),
            _commands: PhantomData,
        }
    }

    /// The command line this binary parses.
    pub fn command(&self) -> clap::Command {
        let config = || {
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .required(true)
                .help("The role's TOML config")
        };
        let mut cmd = clap::Command::new(self.name.clone())
            .subcommand_required(true)
            .arg_required_else_help(true);
        if let Some(version) = self.version {
            cmd = cmd.version(version);
        }
        if self.operator.is_some() {
            cmd = cmd.subcommand(
                clap::Command::new("operator")
                    .about("Serve tasks: execute, sign with the BLS key, submit to the aggregators")
                    .arg(config()),
            );
        }
        cmd = cmd
            .subcommand(
                clap::Command::new("aggregator")
                    .about("Collect signatures, build certificates and land them on the AVS")
                    .arg(config()),
            )
            .subcommand(
                clap::Command::new("challenger")
                    .about("Follow aggregators' evidence and slash with every proof that holds")
                    .arg(config()),
            )
            .subcommand(clap::Command::new(DESCRIBE_COMMAND).about(
                "Show certified responses as this AVS reads them: one 0x-hex response per \
                 stdin line in, one line out (empty when it does not decode)",
            ));
        // After the AVS's subcommands: a doc comment on their enum would otherwise
        // become the binary's description.
        cmd = E::augment_subcommands(cmd);
        match self.about {
            Some(about) => cmd.about(about),
            None => cmd,
        }
    }

    /// Parses the process's arguments and runs; the exit code to return from `main`.
    pub fn run(self) -> ExitCode {
        self.run_from(std::env::args_os())
    }

    /// [`App::run`] on `args` (the program name first).
    pub fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = match self.command().try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(err) => {
                let _ = err.print();
                return if err.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                eprintln!("error: cannot start the async runtime: {err}");
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(self.dispatch(matches)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        }
    }

    async fn dispatch(self, matches: ArgMatches) -> anyhow::Result<()> {
        let role = |m: &ArgMatches| -> anyhow::Result<Role> {
            let config_path = m
                .get_one::<PathBuf>("config")
                .cloned()
                .context("--config is required")?;
            Ok(Role {
                config_path,
                shutdown: Box::pin(service::shutdown_signal()),
            })
        };
        match matches.subcommand() {
            Some(("operator", m)) if self.operator.is_some() => {
                let role = role(m)?;
                let config = OperatorConfig::load(&role.config_path)?;
                init_tracing(&config.telemetry.log);
                let run = self.operator.context("this AVS has no operator")?;
                run(config, role).await
            }
            Some(("aggregator", m)) => {
                let role = role(m)?;
                let config = AggregatorConfig::load(&role.config_path)?;
                init_tracing(&config.telemetry.log);
                (self.aggregator)(config, role).await
            }
            Some((DESCRIBE_COMMAND, _)) => describe_lines(
                self.describe.as_deref(),
                std::io::stdin().lock(),
                std::io::stdout().lock(),
            ),
            Some(("challenger", m)) => {
                let role = role(m)?;
                let config = ChallengerConfig::load(&role.config_path)?;
                init_tracing(&config.telemetry.log);
                service::run_challenger_with(config, self.checks, role.shutdown).await?;
                Ok(())
            }
            _ => {
                let command = E::from_arg_matches(&matches)?;
                let run = self.commands.context("no such command (see --help)")?;
                run(command).await
            }
        }
    }
}

/// `describe-responses`: each input line's response as the AVS reads it, on one line
/// of printable text ([`bulwark_core::task::display_line`], at most 256 characters),
/// or an empty line.
///
/// # Security
/// Responses come from the chain, where anyone with a certificate (or a bug) put
/// them; a line that is not hex, or a description with newlines or terminal escapes,
/// must not break the one-line-per-response answer `bulwark status` reads.
fn describe_lines(
    describe: Option<&DescribeFn>,
    input: impl std::io::BufRead,
    mut output: impl std::io::Write,
) -> anyhow::Result<()> {
    const MAX_CHARS: usize = 256;
    for line in input.lines() {
        let line = line?;
        let text = line.trim();
        let bytes = crate::alloy::hex::decode(text.strip_prefix("0x").unwrap_or(text)).ok();
        let described = bytes
            .as_deref()
            .and_then(|b| describe.and_then(|d| d(b)))
            .unwrap_or_default();
        let shown = bulwark_core::task::display_line(&described, MAX_CHARS);
        writeln!(output, "{shown}")?;
    }
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Echo;

    impl Task for Echo {
        type Input = Vec<u8>;
        type Output = Vec<u8>;
        type Error = std::convert::Infallible;

        fn decode_input(&self, bytes: &[u8]) -> Option<Vec<u8>> {
            Some(bytes.to_vec())
        }

        async fn execute(&self, input: Vec<u8>) -> Result<Vec<u8>, Self::Error> {
            Ok(input)
        }

        fn encode_output(&self, output: &Vec<u8>) -> Vec<u8> {
            output.clone()
        }

        fn describe_response(&self, response: &[u8]) -> Option<String> {
            String::from_utf8(response.to_vec()).ok()
        }
    }

    /// One line out per line in, whatever the chain held: not hex, not the AVS's,
    /// newlines and escapes, a flood of characters.
    #[test]
    fn describe_responses_answers_one_printable_line_per_response() {
        let app = App::new("echo").task(Echo);
        let describe = app.describe.as_deref();
        let long = "x".repeat(10_000);
        let input = format!(
            "0x{}\nnot hex\n0x{}\n{}\n0xff\n\n0x{}\n",
            alloy::hex::encode("Ada"),
            alloy::hex::encode("two\nlines\x1b[2J\u{202e}txet"),
            alloy::hex::encode("no prefix"),
            alloy::hex::encode(&long),
        );
        let mut out = Vec::new();
        describe_lines(describe, input.as_bytes(), &mut out).expect("described");
        let out = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        assert_eq!(lines[0], "Ada");
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], "twolines[2Jtxet");
        assert_eq!(lines[3], "no prefix");
        assert_eq!(lines[4], "", "0xff is not UTF-8: Echo has no reading");
        assert_eq!(lines[5], "");
        assert_eq!(lines[6].chars().count(), 256);
        // An AVS with no reading answers empty lines, so status shows bytes.
        let mut out = Vec::new();
        describe_lines(None, "0x41\n".as_bytes(), &mut out).expect("described");
        assert_eq!(out, b"\n");
    }

    #[derive(clap::Subcommand)]
    enum Extra {
        /// Writes its argument to a file.
        Write { path: PathBuf, text: String },
    }

    fn app() -> App<Extra> {
        App::new("echo-avs")
            .version("1.2.3")
            .task(Echo)
            .commands(|extra: Extra| async move {
                match extra {
                    Extra::Write { path, text } => std::fs::write(path, text)?,
                }
                Ok(())
            })
    }

    #[test]
    fn the_roles_and_the_avs_commands_are_one_command_line() {
        let cmd = app().command();
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(
            names,
            [
                "operator",
                "aggregator",
                "challenger",
                DESCRIBE_COMMAND,
                "write"
            ]
        );
        cmd.debug_assert();
        // Without a task there is no operator to run.
        let bare = App::new("bare").command();
        assert!(bare.find_subcommand("operator").is_none());
    }

    #[test]
    fn an_avs_command_runs_and_errors_exit_nonzero() {
        let dir = std::env::temp_dir().join(format!("bulwark-app-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("out.txt");
        let code = app().run_from(["echo-avs", "write", file.to_str().expect("utf8"), "hi"]);
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(std::fs::read_to_string(&file).expect("written"), "hi");
        // A missing config is a clear error and a failure, not a panic.
        let missing = dir.join("nope.toml");
        let code = app().run_from([
            "echo-avs",
            "operator",
            "--config",
            missing.to_str().expect("utf8"),
        ]);
        assert_eq!(code, ExitCode::FAILURE);
        // Usage errors exit 2, as clap's do.
        assert_eq!(app().run_from(["echo-avs", "operator"]), ExitCode::from(2));
        assert_eq!(app().run_from(["echo-avs", "nonsense"]), ExitCode::from(2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
