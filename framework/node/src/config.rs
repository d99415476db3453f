//! Runtime configuration, read from TOML.
//!
//! One file per process. Every field that has a sensible default may be left out; what
//! cannot be guessed (the RPC URL, the AVS address, keys) must be given. Secrets are
//! never in the file itself: the file names where they are (a keystore and a password
//! file or environment variable, a private-key file), so a config can be shared and
//! committed without leaking anything.
//!
//! ```toml
//! [chain]
//! rpc_url = "http://127.0.0.1:8545"
//! avs = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
//!
//! [operator]
//! address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
//! keystore = "keys/operator.json"
//! password = { file = "keys/password.txt" }
//! aggregators = ["http://127.0.0.1:50051"]
//!
//! [telemetry]
//! listen = "127.0.0.1:9101"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or missing fields.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        source: Box<toml::de::Error>,
    },
    /// A value is well-formed TOML but unusable.
    #[error("invalid config value `{field}`: {reason}")]
    Invalid {
        /// The field, as `section.name`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A secret (password, private key) could not be read.
    #[error("cannot read the secret for `{field}`: {reason}")]
    Secret {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// The chain and the AVS on it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC endpoint (HTTP).
    pub rpc_url: String,
    /// The AVS (task manager) contract.
    pub avs: Address,
    /// First block to read task events from; the current head when absent.
    #[serde(default)]
    pub from_block: Option<u64>,
    /// How often to poll the chain, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

impl ChainConfig {
    /// The poll interval.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_url("chain.rpc_url", &self.rpc_url)?;
        if self.avs == Address::ZERO {
            return Err(ConfigError::Invalid {
                field: "chain.avs",
                reason: "the zero address is not an AVS".into(),
            });
        }
        if !(10..=60_000).contains(&self.poll_ms) {
            return Err(ConfigError::Invalid {
                field: "chain.poll_ms",
                reason: format!("{} is outside 10..=60000", self.poll_ms),
            });
        }
        Ok(())
    }
}

fn default_poll_ms() -> u64 {
    500
}

/// Where a secret comes from: a file (its first line) or an environment variable.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    /// A file whose first line is the secret (relative paths: to the config file).
    File(PathBuf),
    /// An environment variable holding the secret.
    Env(String),
}

impl SecretSource {
    /// Reads the secret. Trailing newlines are not part of it.
    pub fn read(&self, field: &'static str) -> Result<String, ConfigError> {
        let value = match self {
            SecretSource::File(path) => {
                std::fs::read_to_string(path).map_err(|e| ConfigError::Secret {
                    field,
                    reason: format!("{}: {e}", path.display()),
                })?
            }
            SecretSource::Env(name) => std::env::var(name).map_err(|_| ConfigError::Secret {
                field,
                reason: format!("environment variable {name} is not set"),
            })?,
        };
        let value = value.lines().next().unwrap_or_default().to_string();
        if value.is_empty() {
            return Err(ConfigError::Secret {
                field,
                reason: "it is empty".into(),
            });
        }
        Ok(value)
    }

    /// Takes a relative file path as relative to `dir` (the config file's folder).
    pub fn rebase(&mut self, dir: &Path) {
        if let SecretSource::File(path) = self {
            *path = dir.join(&*path);
        }
    }
}

/// Logs, metrics and the health endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Where `/metrics` (Prometheus) and `/health` are served; nowhere when absent.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Log filter (`tracing` env-filter syntax); `RUST_LOG` overrides it.
    #[serde(default = "default_log")]
    pub log: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            listen: None,
            log: default_log(),
        }
    }
}

fn default_log() -> String {
    "info".into()
}

/// An operator's own settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    /// The operator's address (as registered with the restaking core and the AVS).
    pub address: Address,
    /// Its EIP-2335 BLS keystore (relative paths: to the config file).
    pub keystore: PathBuf,
    /// The keystore's password.
    pub password: SecretSource,
    /// Aggregator endpoints, `http://host:port`; every response goes to each.
    pub aggregators: Vec<String>,
    /// The slashing-protection record (a redb file: what the operator signed per
    /// task, so it never signs two answers to one, restarts included). Relative paths:
    /// to the config file. Default: beside the keystore, `<keystore>.protection.redb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slashing_protection: Option<PathBuf>,
}

impl OperatorSection {
    /// Where the slashing-protection record is kept.
    pub fn protection_path(&self) -> PathBuf {
        self.slashing_protection.clone().unwrap_or_else(|| {
            let mut name = self.keystore.clone().into_os_string();
            name.push(".protection.redb");
            PathBuf::from(name)
        })
    }
}

/// The whole operator configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Chain and AVS.
    pub chain: ChainConfig,
    /// The operator.
    pub operator: OperatorSection,
    /// Logs and metrics.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Settings of the AVS's own code (e.g. an oracle's price sources), passed to it
    /// as they are: the framework does not read them.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub avs: toml::Table,
}

impl OperatorConfig {
    /// Reads and checks an operator config; relative paths in it are taken relative to
    /// the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = load_toml(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.operator.keystore = dir.join(&config.operator.keystore);
        config.operator.password.rebase(dir);
        if let Some(path) = &mut config.operator.slashing_protection {
            *path = dir.join(&*path);
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.chain.validate()?;
        if self.operator.aggregators.is_empty() {
            return Err(ConfigError::Invalid {
                field: "operator.aggregators",
                reason: "at least one aggregator endpoint is needed".into(),
            });
        }
        for endpoint in &self.operator.aggregators {
            check_url("operator.aggregators", endpoint)?;
        }
        Ok(())
    }
}

/// A challenger's own settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengerSection {
    /// The key of the account that sends challenges (and receives the bounties).
    pub key: SecretSource,
    /// Aggregator endpoints, `http://host:port`, whose evidence to follow.
    pub aggregators: Vec<String>,
    /// The state file (redb): what was done with each offence, and where each
    /// aggregator's stream stood (relative paths: to the config file).
    pub state: PathBuf,
}

/// The whole challenger configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengerConfig {
    /// Chain and AVS.
    pub chain: ChainConfig,
    /// The challenger.
    pub challenger: ChallengerSection,
    /// Logs and metrics.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

impl ChallengerConfig {
    /// Reads and checks a challenger config; relative paths in it are taken relative
    /// to the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = load_toml(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.challenger.key.rebase(dir);
        config.challenger.state = dir.join(&config.challenger.state);
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.chain.validate()?;
        if self.challenger.aggregators.is_empty() {
            return Err(ConfigError::Invalid {
                field: "challenger.aggregators",
                reason: "at least one aggregator endpoint is needed".into(),
            });
        }
        for endpoint in &self.challenger.aggregators {
            check_url("challenger.aggregators", endpoint)?;
        }
        Ok(())
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

/// An aggregator's own settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatorSection {
    /// Where the gRPC service listens.
    pub listen: SocketAddr,
    /// The aggregator's store (a redb file): accepted signatures, reports,
    /// proposals, certificates not yet landed, evidence; read back after a restart.
    /// Kept in memory only when absent (a restart then loses accepted work).
    #[serde(default)]
    pub store: Option<PathBuf>,
    /// Replaced by `store`: an old config naming a JSONL journal is refused with a
    /// clear message instead of silently losing what the journal held.
    #[serde(default, skip_serializing)]
    pub journal: Option<PathBuf>,
    /// The private key (hex) of the account that submits certificates and pays gas.
    pub submitter_key: SecretSource,
    /// Largest response accepted, in bytes.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Two-phase tasks: how many blocks after a task's reference block the
    /// aggregator waits for every operator's report before proposing from those it
    /// has (once they hold the threshold). Blocks, not time: every aggregator on the
    /// chain closes the window at the same block.
    #[serde(default = "default_report_window_blocks")]
    pub report_window_blocks: u64,
    /// Two-phase tasks: where the signed reports of operators left out of a proposal
    /// are appended (JSON lines), as evidence; none when absent.
    #[serde(default)]
    pub evidence: Option<PathBuf>,
}

fn default_max_response_bytes() -> usize {
    64 * 1024
}

fn default_report_window_blocks() -> u64 {
    2
}

/// The whole aggregator configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatorConfig {
    /// Chain and AVS.
    pub chain: ChainConfig,
    /// The aggregator.
    pub aggregator: AggregatorSection,
    /// Logs and metrics.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Settings of the AVS's own code (e.g. an oracle's feeds and keeper), passed to
    /// it as they are: the framework does not read them.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub avs: toml::Table,
}

impl AggregatorConfig {
    /// Reads and checks an aggregator config; relative paths in it are taken relative
    /// to the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = load_toml(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(store) = &mut config.aggregator.store {
            *store = dir.join(&*store);
        }
        if let Some(evidence) = &mut config.aggregator.evidence {
            *evidence = dir.join(&*evidence);
        }
        config.aggregator.submitter_key.rebase(dir);
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.chain.validate()?;
        if let Some(journal) = &self.aggregator.journal {
            return Err(ConfigError::Invalid {
                field: "aggregator.journal",
                reason: format!(
                    "the JSONL journal is replaced by `store = \"aggregator.redb\"` (an \
                     embedded database); an aggregator of this version does not read \
                     {}: let the tasks it holds expire, then rename the key",
                    journal.display()
                ),
            });
        }
        let max = self.aggregator.max_response_bytes;
        if max == 0 || max > bulwark_net::server::MAX_MESSAGE_BYTES / 2 {
            return Err(ConfigError::Invalid {
                field: "aggregator.max_response_bytes",
                reason: format!(
                    "{max} is outside 1..={}",
                    bulwark_net::server::MAX_MESSAGE_BYTES / 2
                ),
            });
        }
        Ok(())
    }
}

impl AggregatorConfig {
    /// An aggregator on a local devnet: gRPC on `listen`, metrics and health on
    /// `telemetry`, a store and the submitter's key file beside the config.
    pub fn local(chain: ChainConfig, listen: SocketAddr, telemetry: SocketAddr) -> Self {
        Self {
            chain,
            aggregator: AggregatorSection {
                listen,
                store: Some("aggregator.redb".into()),
                journal: None,
                submitter_key: SecretSource::File("submitter.key".into()),
                max_response_bytes: default_max_response_bytes(),
                report_window_blocks: default_report_window_blocks(),
                evidence: Some("aggregator.evidence.jsonl".into()),
            },
            telemetry: TelemetryConfig {
                listen: Some(telemetry),
                log: default_log(),
            },
            avs: toml::Table::new(),
        }
    }
}

impl OperatorConfig {
    /// An operator on a local devnet, submitting to one aggregator.
    pub fn local(
        chain: ChainConfig,
        address: Address,
        keystore: PathBuf,
        password: PathBuf,
        aggregator: SocketAddr,
        telemetry: SocketAddr,
    ) -> Self {
        Self {
            chain,
            operator: OperatorSection {
                address,
                keystore,
                password: SecretSource::File(password),
                aggregators: vec![format!("http://{aggregator}")],
                slashing_protection: None,
            },
            telemetry: TelemetryConfig {
                listen: Some(telemetry),
                log: default_log(),
            },
            avs: toml::Table::new(),
        }
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

impl AggregatorConfig {
    /// The config as TOML.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

fn check_url(field: &'static str, url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::Invalid {
        field,
        reason: format!("{url:?} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ConfigError::Invalid {
            field,
            reason: format!("{url:?} must be http(s)://host:port"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    const AVS: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

    #[test]
    fn operator_config_resolves_paths_next_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "op.toml",
            &format!(
                r#"
[chain]
rpc_url = "http://127.0.0.1:8545"
avs = "{AVS}"
[operator]
address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
keystore = "keys/op.json"
password = {{ file = "pw" }}
aggregators = ["http://127.0.0.1:50051"]
"#
            ),
        );
        let config = OperatorConfig::load(&path).expect("valid");
        assert_eq!(config.operator.keystore, dir.path().join("keys/op.json"));
        assert_eq!(
            config.operator.password,
            SecretSource::File(dir.path().join("pw"))
        );
        assert_eq!(config.chain.poll_ms, 500);
        assert_eq!(config.telemetry.listen, None);
        write(dir.path(), "pw", "hunter2\n");
        assert_eq!(
            config.operator.password.read("pw").expect("read"),
            "hunter2"
        );
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = format!(
            "[chain]\nrpc_url = \"http://127.0.0.1:8545\"\navs = \"{AVS}\"\n\
             [aggregator]\nlisten = \"127.0.0.1:0\"\nsubmitter_key = {{ env = \"K\" }}\n"
        );
        let ok = write(dir.path(), "ok.toml", &base);
        AggregatorConfig::load(&ok).expect("valid");

        let cases = [
            (
                base.replace("8545\"", "8545\"\ncolour = 1"),
                "unknown field",
            ),
            (
                base.replace("http://127.0.0.1:8545", "not a url"),
                "chain.rpc_url",
            ),
            (
                base.replace("127.0.0.1:0", "localhost"),
                "invalid socket address",
            ),
            (
                base.replace(AVS, &format!("{:?}", Address::ZERO)),
                "chain.avs",
            ),
            (
                format!("{base}max_response_bytes = 0\n"),
                "max_response_bytes",
            ),
            (base.replace("submitter_key", "key"), "expected one of"),
            (base.replace(AVS, "0x1234"), "invalid"),
        ];
        for (i, (text, expected)) in cases.iter().enumerate() {
            let path = write(dir.path(), &format!("bad{i}.toml"), text);
            let err = AggregatorConfig::load(&path)
                .expect_err(expected)
                .to_string();
            assert!(err.contains(expected), "case {i}: {err}");
        }
        let missing = AggregatorConfig::load(&dir.path().join("absent.toml"))
            .expect_err("no file")
            .to_string();
        assert!(missing.contains("cannot read config"), "{missing}");
    }

    #[test]
    fn secrets_report_where_they_were_looked_for() {
        let err = SecretSource::Env("BULWARK_TEST_SURELY_UNSET".into())
            .read("aggregator.submitter_key")
            .expect_err("unset");
        assert!(err.to_string().contains("BULWARK_TEST_SURELY_UNSET"));
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = write(dir.path(), "empty", "\n");
        let err = SecretSource::File(empty).read("x").expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
    }
}
