//! The files `bulwark` reads and writes in a project: `bulwark.toml` (what the AVS is)
//! and `.bulwark/devnet.json` (what `devnet up` started, for `down`, `status` and every
//! command that needs an address).

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// `bulwark.toml`: the AVS a project builds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The AVS.
    pub avs: AvsSection,
    /// What `devnet up` does beyond the runtimes.
    #[serde(default)]
    pub devnet: DevnetSection,
}

/// The `[devnet]` table: extra steps of `devnet up` for AVSs that need them (an
/// oracle's price server and feed setup). Arguments may hold placeholders:
/// `{rpc_url}`, `{avs}`, `{dir}` (the devnet folder), `{owner_key_file}`,
/// `{keeper_key_file}` (a funded account for the AVS's own transactions), and
/// `{url:<service>}` for a service started before.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetSection {
    /// Seconds between blocks once everything is set up, as on a real chain; 0 mines
    /// a block per transaction.
    #[serde(default)]
    pub block_time: u64,
    /// Processes of the AVS binary started (detached) before the runtimes and stopped
    /// by `devnet down`. Each listens on a port of its choice (0), announces it in
    /// `$BULWARK_READY_FILE` (`{"http": "127.0.0.1:PORT"}`, see
    /// `bulwark_node::listening`) and answers `GET /health` there; or, if its
    /// arguments take `{port}`, is given a free port (which another process might
    /// take first).
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Arguments of the AVS binary run once the contracts are deployed and the
    /// operators registered; it must print the `[avs]` settings (TOML) that every
    /// runtime config gets.
    #[serde(default)]
    pub setup: Vec<String>,
    /// Run a challenger too (`<binary> challenger --config`, following the
    /// aggregator's evidence and slashing on chain with what holds).
    #[serde(default)]
    pub challenger: bool,
    /// Blocks per rewards epoch of the devnet's AVS (`setRewardEpochBlocks`).
    #[serde(default = "default_reward_epoch_blocks")]
    pub reward_epoch_blocks: u32,
    /// The core's withdrawal delay in blocks (how long stake stays slashable); the
    /// devnet's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_delay: Option<u32>,
    /// The AVS's challenge window in blocks (at most the withdrawal delay); the
    /// devnet's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_window: Option<u32>,
}

fn default_reward_epoch_blocks() -> u32 {
    100
}

impl Default for DevnetSection {
    fn default() -> Self {
        Self {
            block_time: 0,
            services: Vec::new(),
            setup: Vec::new(),
            challenger: false,
            reward_epoch_blocks: default_reward_epoch_blocks(),
            withdrawal_delay: None,
            challenge_window: None,
        }
    }
}

/// A service of the devnet.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Its name (in the state file and `{url:<name>}`).
    pub name: String,
    /// Arguments of the AVS binary.
    pub args: Vec<String>,
}

/// Replaces every `{key}` of `vars` in `arg`; an unknown placeholder is an error, so
/// a typo in `bulwark.toml` does not reach the binary.
pub fn expand(arg: &str, vars: &[(String, String)]) -> Result<String, CliError> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(CliError::Usage(format!("unclosed placeholder in {arg:?}")));
        };
        let key = &rest[open + 1..open + close];
        let value = vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "unknown placeholder {{{key}}} in bulwark.toml (known: {})",
                    vars.iter()
                        .map(|(k, _)| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        out.push_str(value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The `[avs]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvsSection {
    /// A name for messages.
    pub name: String,
    /// The forge artifact (JSON with `bytecode.object`) of the AVS contract; its
    /// constructor takes the task manager's arguments.
    pub contract: PathBuf,
    /// The AVS binary: it must offer `operator --config` and `aggregator --config`.
    pub binary: PathBuf,
    /// The command that builds the binary, run by `devnet up` unless `--no-build`.
    #[serde(default)]
    pub build: Vec<String>,
    /// Arguments of the binary that print the AVS's own status (e.g. an oracle's
    /// latest rounds, a bridge's messages on both chains), appended to `bulwark
    /// status`; `{rpc_url}` and `{avs}` are filled in, and, when status reads the
    /// project's own devnet, `{aggregator_config}`: its aggregator's config (the
    /// `[avs]` settings its setup printed).
    #[serde(default)]
    pub status: Vec<String>,
    /// Arguments of the binary that read certified responses as the AVS does (one
    /// 0x-hex response per stdin line in, one line out): `["describe-responses"]`,
    /// which `bulwark::app!` gives every AVS binary. `bulwark status` shows those
    /// lines instead of bytes.
    #[serde(default)]
    pub describe: Vec<String>,
}

impl Project {
    /// Reads `dir/bulwark.toml`; paths in it become relative to `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("bulwark.toml");
        let text = std::fs::read_to_string(&path).map_err(|_| {
            CliError::NotFound(format!(
                "no bulwark.toml in {}: run this in a project made by `bulwark new`, or pass --project",
                dir.display()
            ))
        })?;
        let mut project: Project = toml::from_str(&text)
            .map_err(|e| CliError::Usage(format!("invalid {}: {e}", path.display())))?;
        project.avs.contract = dir.join(&project.avs.contract);
        project.avs.binary = dir.join(&project.avs.binary);
        Ok(project)
    }

    /// The AVS contract's creation code.
    pub fn creation_code(&self) -> anyhow::Result<alloy::primitives::Bytes> {
        let path = &self.avs.contract;
        let text = std::fs::read_to_string(path).map_err(|_| {
            CliError::NotFound(format!(
                "no contract artifact at {} (build the contracts, e.g. `make artifacts`)",
                path.display()
            ))
        })?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))?;
        let hex = json
            .pointer("/bytecode/object")
            .and_then(|v| v.as_str())
            .ok_or_else(|| CliError::Usage(format!("{} has no bytecode.object", path.display())))?;
        let bytes = alloy::hex::decode(hex)
            .map_err(|_| CliError::Usage(format!("{} holds invalid bytecode", path.display())))?;
        if bytes.is_empty() {
            return Err(CliError::Usage(format!(
                "{} holds no bytecode (an abstract contract?)",
                path.display()
            ))
            .into());
        }
        Ok(bytes.into())
    }
}

/// A process `devnet up` started.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Process {
    /// `anvil`, `aggregator`, `operator-0`, …
    pub name: String,
    /// Its pid.
    pub pid: u32,
    /// Its `/health` endpoint, for runtimes.
    pub health: Option<std::net::SocketAddr>,
    /// Its log file.
    pub log: PathBuf,
}

/// A devnet operator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevnetOperator {
    /// Its account.
    pub address: Address,
    /// Its BLS public key, `0x`-hex.
    pub public_key: String,
    /// Its keystore.
    pub keystore: PathBuf,
    /// Its runtime config.
    pub config: PathBuf,
}

/// A funded dev account (devnet only: the key is anvil's well-known test key).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevAccount {
    /// The address.
    pub address: Address,
    /// Its private key, hex.
    pub private_key: String,
}

/// `.bulwark/devnet.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevnetState {
    /// The folder holding this devnet's keys, configs and logs: also the marker that
    /// identifies its processes.
    pub dir: PathBuf,
    /// anvil's URL.
    pub rpc_url: String,
    /// The chain id.
    pub chain_id: u64,
    /// The staking token.
    pub token: Address,
    /// The restaking core.
    pub core: Address,
    /// The AVS.
    pub avs: Address,
    /// The deployer and owner (can create tasks and mint the token).
    pub owner: DevAccount,
    /// Funded accounts nobody uses yet (for stakers).
    pub spare_accounts: Vec<DevAccount>,
    /// The aggregator's gRPC endpoint.
    pub aggregator: String,
    /// The operators.
    pub operators: Vec<DevnetOperator>,
    /// Everything started, anvil first.
    pub processes: Vec<Process>,
    /// The `[avs]` settings the project's setup printed, as every runtime got them
    /// (a bridge's remote chain and contracts, an oracle's price server): the whole
    /// deployment in one file.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub settings: toml::Table,
}

impl DevnetState {
    /// Reads a state file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|_| {
            CliError::NotFound(format!(
                "no devnet state at {} (start one with `bulwark devnet up`)",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!("{} is not a devnet state: {e}", path.display())).into()
        })
    }

    /// Writes it (atomically: a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// The marker in every process's command line: the devnet folder.
    pub fn marker(&self) -> String {
        self.dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_and_typos_are_refused() {
        let vars = vec![
            ("rpc_url".to_string(), "http://127.0.0.1:1".to_string()),
            (
                "url:price-server".to_string(),
                "http://127.0.0.1:2".to_string(),
            ),
        ];
        assert_eq!(
            expand("--rpc={rpc_url}/x", &vars).expect("known"),
            "--rpc=http://127.0.0.1:1/x"
        );
        assert_eq!(
            expand("{url:price-server}", &vars).expect("known"),
            "http://127.0.0.1:2"
        );
        assert_eq!(expand("plain", &vars).expect("none"), "plain");
        let err = expand("{rpc}", &vars).expect_err("typo");
        assert!(err.to_string().contains("{rpc}"), "{err}");
        assert!(expand("{rpc_url", &vars).is_err());
    }
}
