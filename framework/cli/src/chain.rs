//! The commands that talk to a chain: operator registration and allocation, staking,
//! and `bulwark status`. Every one works against any RPC URL; addresses not given on
//! the command line come from the devnet state file when there is one.

use std::path::PathBuf;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use anyhow::Context;
use bulwark_chain::bindings::{BasicAVS, LiquidStakingToken, RestakingCore};
use bulwark_chain::devnet::mined;
use bulwark_chain::registration::KeyRegistration;
use bulwark_crypto::SecretKey;

use crate::error::CliError;
use crate::state::DevnetState;

/// Where to act: the chain, the restaking core and the AVS.
#[derive(Clone, Debug, clap::Args)]
pub struct Target {
    /// JSON-RPC URL [default: the devnet's, else http://127.0.0.1:8545].
    #[arg(long, env = "BULWARK_RPC_URL")]
    pub rpc_url: Option<String>,
    /// The restaking core [default: the devnet's].
    #[arg(long, env = "BULWARK_CORE")]
    pub core: Option<Address>,
    /// The AVS [default: the devnet's].
    #[arg(long, env = "BULWARK_AVS")]
    pub avs: Option<Address>,
    /// The devnet state file that fills in what is not given.
    #[arg(long, default_value = ".bulwark/devnet.json")]
    pub state: PathBuf,
}

/// Target with every field resolved.
pub struct Resolved {
    /// The RPC URL.
    pub rpc_url: String,
    /// The core, when known.
    pub core: Option<Address>,
    /// The AVS, when known.
    pub avs: Option<Address>,
    /// The devnet owner's key (it may create tasks), when on a devnet.
    pub owner_key: Option<String>,
}

impl Target {
    /// Fills what is missing from the devnet state (if the file exists).
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let state = if self.state.exists() {
            Some(DevnetState::load(&self.state)?)
        } else {
            None
        };
        Ok(Resolved {
            rpc_url: self
                .rpc_url
                .clone()
                .or_else(|| state.as_ref().map(|s| s.rpc_url.clone()))
                .unwrap_or_else(|| "http://127.0.0.1:8545".into()),
            core: self.core.or(state.as_ref().map(|s| s.core)),
            avs: self.avs.or(state.as_ref().map(|s| s.avs)),
            owner_key: state.map(|s| s.owner.private_key),
        })
    }
}

impl Resolved {
    /// The core address or a usage error saying how to give it.
    pub fn core(&self) -> Result<Address, CliError> {
        self.core.ok_or_else(|| {
            CliError::Usage("no restaking core: pass --core or start a devnet".into())
        })
    }

    /// The AVS address or a usage error saying how to give it.
    pub fn avs(&self) -> Result<Address, CliError> {
        self.avs
            .ok_or_else(|| CliError::Usage("no AVS: pass --avs or start a devnet".into()))
    }
}

/// The account that sends transactions.
#[derive(Clone, Debug, clap::Args)]
pub struct AccountArgs {
    /// File whose first line is the account's hex private key.
    #[arg(long)]
    pub account_key_file: Option<PathBuf>,
    /// Environment variable holding the account's hex private key.
    #[arg(long, default_value = "BULWARK_ACCOUNT_KEY")]
    pub account_key_env: String,
}

impl AccountArgs {
    /// The signer, from the file if given, else the environment variable.
    pub fn signer(&self) -> anyhow::Result<PrivateKeySigner> {
        self.signer_or(None)
    }

    /// Like [`AccountArgs::signer`], falling back to `fallback` (a hex key) when
    /// neither the file nor the variable gives one.
    pub fn signer_or(&self, fallback: Option<&str>) -> anyhow::Result<PrivateKeySigner> {
        let hex = match &self.account_key_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    CliError::NotFound(format!("account key file {}: {e}", path.display()))
                })?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            None => match (std::env::var(&self.account_key_env), fallback) {
                (Ok(hex), _) => hex,
                (Err(_), Some(hex)) => hex.to_string(),
                (Err(_), None) => {
                    return Err(CliError::Usage(format!(
                        "no account key: pass --account-key-file or set {}",
                        self.account_key_env
                    ))
                    .into());
                }
            },
        };
        bulwark_chain::provider::signer(&hex).map_err(|_| {
            CliError::Usage("the account key is not a hex secp256k1 key".into()).into()
        })
    }
}

/// A provider that signs as `signer`.
pub fn connect(rpc_url: &str, signer: PrivateKeySigner) -> anyhow::Result<(DynProvider, Address)> {
    let address = signer.address();
    let provider = bulwark_chain::provider::connect(rpc_url, Some(EthereumWallet::from(signer)))?;
    Ok((provider, address))
}

/// Registers `operator` with the restaking core (unless it already is) and the BLS key
/// with the AVS, with its proof of possession bound to `operator`, the AVS and the chain.
pub async fn register_operator(
    provider: &DynProvider,
    core: Address,
    avs: Address,
    operator: Address,
    key: &SecretKey,
    commission_bps: u16,
) -> anyhow::Result<()> {
    register_with_core(provider, core, operator, commission_bps).await?;
    // The proof of possession names `operator`, this AVS and this chain: a copy of it
    // seen in the mempool registers the key for no one else.
    let registration = KeyRegistration::for_chain(provider, key, avs, operator)
        .await
        .context("reading the chain id")?;
    let avs = BasicAVS::new(avs, provider.clone());
    mined(
        provider,
        avs.registerOperator(registration.public_key, registration.proof)
            .from(operator)
            .send()
            .await
            .context("registering the BLS key with the AVS")?,
    )
    .await?;
    Ok(())
}

/// Registers `operator` with the restaking core unless it already is; whether it was
/// new.
pub async fn register_with_core(
    provider: &DynProvider,
    core: Address,
    operator: Address,
    commission_bps: u16,
) -> anyhow::Result<bool> {
    let core = RestakingCore::new(core, provider.clone());
    if core.isOperator(operator).call().await? {
        return Ok(false);
    }
    mined(
        provider,
        core.registerOperator(commission_bps)
            .from(operator)
            .send()
            .await
            .context("registering with the restaking core")?,
    )
    .await?;
    Ok(true)
}

/// Sets `operator`'s allocation to `avs` in basis points of its stake.
pub async fn allocate(
    provider: &DynProvider,
    core: Address,
    avs: Address,
    operator: Address,
    bps: u16,
) -> anyhow::Result<()> {
    let core = RestakingCore::new(core, provider.clone());
    mined(
        provider,
        core.allocate(avs, bps).from(operator).send().await?,
    )
    .await?;
    Ok(())
}

/// Approves and deposits `amount` of the core's asset for `staker`.
pub async fn deposit(
    provider: &DynProvider,
    core_address: Address,
    staker: Address,
    amount: U256,
) -> anyhow::Result<U256> {
    let core = RestakingCore::new(core_address, provider.clone());
    let asset = core.asset().call().await?;
    let token = LiquidStakingToken::new(asset, provider.clone());
    let balance = token.balanceOf(staker).call().await?;
    if balance < amount {
        return Err(CliError::Usage(format!(
            "{staker} holds {balance} of the staking token, less than {amount}"
        ))
        .into());
    }
    mined(
        provider,
        token
            .approve(core_address, amount)
            .from(staker)
            .send()
            .await?,
    )
    .await?;
    mined(provider, core.deposit(amount).from(staker).send().await?).await?;
    Ok(core.stakeOf(staker).call().await?)
}

/// Delegates `staker`'s stake to `operator`.
pub async fn delegate(
    provider: &DynProvider,
    core: Address,
    staker: Address,
    operator: Address,
) -> anyhow::Result<()> {
    let core = RestakingCore::new(core, provider.clone());
    mined(provider, core.delegate(operator).from(staker).send().await?).await?;
    Ok(())
}

/// Queues a withdrawal of `shares` (all when `None`); returns its id and the block it
/// can be completed at.
pub async fn queue_withdrawal(
    provider: &DynProvider,
    core_address: Address,
    staker: Address,
    shares: Option<U256>,
) -> anyhow::Result<(U256, u64)> {
    let core = RestakingCore::new(core_address, provider.clone());
    let held = core.sharesOf(staker).call().await?;
    let shares = shares.unwrap_or(held);
    if shares.is_zero() || shares > held {
        return Err(CliError::Usage(format!(
            "cannot withdraw {shares} shares: {staker} holds {held}"
        ))
        .into());
    }
    let receipt = mined(
        provider,
        core.queueWithdrawal(shares).from(staker).send().await?,
    )
    .await?;
    let event = receipt
        .decoded_log::<RestakingCore::WithdrawalQueued>()
        .context("no WithdrawalQueued event")?;
    let delay = core.withdrawalDelay().call().await?;
    Ok((event.id, u64::from(event.startBlock) + u64::from(delay)))
}

/// Completes withdrawal `id`; returns the assets paid out.
pub async fn complete_withdrawal(
    provider: &DynProvider,
    core_address: Address,
    staker: Address,
    id: U256,
) -> anyhow::Result<U256> {
    let core = RestakingCore::new(core_address, provider.clone());
    let receipt = mined(
        provider,
        core.completeWithdrawal(id).from(staker).send().await?,
    )
    .await?;
    let event = receipt
        .decoded_log::<RestakingCore::WithdrawalCompleted>()
        .context("no WithdrawalCompleted event")?;
    Ok(event.assets)
}

/// Formats base units (18 decimals) as tokens with 4 decimals.
pub fn tokens(amount: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(14u64));
    let tenth_millis = amount / unit;
    let whole = tenth_millis / U256::from(10_000u64);
    let frac = tenth_millis % U256::from(10_000u64);
    format!("{whole}.{frac:0>4}")
}

/// Parses a token amount like `32` or `1.5` into base units (18 decimals).
pub fn parse_tokens(text: &str) -> Result<U256, CliError> {
    let bad = || CliError::Usage(format!("{text:?} is not a token amount (e.g. 32 or 1.5)"));
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 18 {
        return Err(bad());
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return Err(bad());
    }
    let whole = if whole.is_empty() {
        U256::ZERO
    } else {
        U256::from_str_radix(whole, 10).map_err(|_| bad())?
    };
    let frac_units = if frac.is_empty() {
        U256::ZERO
    } else {
        U256::from_str_radix(&format!("{frac:0<18}"), 10).map_err(|_| bad())?
    };
    whole
        .checked_mul(U256::from(10u64).pow(U256::from(18u64)))
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(bad)
}

/// Prints what an AVS looks like now: tasks, operators and their stake, recent
/// certificates, rewards and slashes.
pub async fn status(
    provider: &DynProvider,
    core: Option<Address>,
    avs: Address,
    recent: usize,
    describe: Option<&Describer>,
) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    let head = provider.get_block_number().await?;
    let contract = BasicAVS::new(avs, provider.clone());
    let count = contract
        .taskCount()
        .call()
        .await
        .with_context(|| format!("{avs} does not answer as an AVS"))?;
    writeln!(out, "AVS {avs} at block {head}")?;
    let count = u64::try_from(count).unwrap_or(u64::MAX);
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    let first = count.saturating_sub(200);
    for id in first..count {
        let task = contract.getTask(U256::from(id)).call().await?;
        *by_status.entry(task_status(task.status)).or_default() += 1;
    }
    writeln!(
        out,
        "tasks: {count} created{}",
        if by_status.is_empty() {
            String::new()
        } else {
            format!(
                " ({}{})",
                if first > 0 { "last 200: " } else { "" },
                by_status
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )?;

    let at = u32::try_from(head).unwrap_or(u32::MAX);
    match bulwark_chain::registry::operator_set_at(provider, avs, at).await {
        Ok(set) => {
            writeln!(
                out,
                "operators: {} registered, {} staked",
                set.operators.len(),
                gwei_tokens(set.total_stake_gwei)
            )?;
            for op in &set.operators {
                let share = 100.0 * op.stake_gwei as f64 / set.total_stake_gwei.max(1) as f64;
                writeln!(
                    out,
                    "  {}  stake {:>12}  {share:>5.1}%",
                    op.address,
                    gwei_tokens(op.stake_gwei)
                )?;
            }
        }
        Err(bulwark_chain::ChainError::EmptySet(_)) => writeln!(out, "operators: none registered")?,
        Err(err) => writeln!(out, "operators: cannot read the registry: {err}")?,
    }

    let responded = provider
        .get_logs(
            &Filter::new()
                .address(avs)
                .event_signature(BasicAVS::TaskResponded::SIGNATURE_HASH)
                .from_block(0)
                .to_block(head),
        )
        .await?;
    writeln!(out, "recent certificates ({} in all):", responded.len())?;
    let shown: Vec<_> = responded
        .iter()
        .rev()
        .take(recent)
        .filter_map(|log| {
            let e = log.log_decode::<BasicAVS::TaskResponded>().ok()?;
            Some((log.block_number.unwrap_or_default(), e.inner.data))
        })
        .collect();
    // The AVS's own reading of its answers, if it has one; bytes otherwise.
    let described = match describe {
        Some(d) => {
            let responses: Vec<&[u8]> = shown.iter().map(|(_, e)| e.response.as_ref()).collect();
            d.describe(&responses).await
        }
        None => Vec::new(),
    };
    for (i, (block, e)) in shown.iter().enumerate() {
        let response = described
            .get(i)
            .filter(|d| !d.is_empty())
            .cloned()
            .unwrap_or_else(|| printable(&e.response));
        writeln!(
            out,
            "  task {:>4}  block {block:>6}  signed {:>5.1}% of stake  response {response}",
            e.taskId,
            100.0 * e.signedStakeGwei as f64 / e.totalStakeGwei.max(1) as f64,
        )?;
    }

    if let Some(core) = core {
        let logs = provider
            .get_logs(&Filter::new().address(core).from_block(0).to_block(head))
            .await?;
        let mut rewards = Vec::new();
        for log in &logs {
            if let Ok(e) = log.log_decode::<RestakingCore::RewardsFunded>() {
                rewards.push(e.inner.data);
            }
        }
        writeln!(out, "rewards funded: {}", rewards.len())?;
        for r in rewards.iter().rev().take(recent) {
            writeln!(
                out,
                "  {} to {} ({})",
                tokens(r.amount),
                r.operator,
                r.token
            )?;
        }
    }
    // The AVS's own record of its slashes: the same on every restaking layer (on
    // EigenLayer the core's events are EigenLayer's).
    let slashes: Vec<_> = provider
        .get_logs(
            &Filter::new()
                .address(avs)
                .event_signature(BasicAVS::OperatorSlashed::SIGNATURE_HASH)
                .from_block(0)
                .to_block(head),
        )
        .await?
        .iter()
        .filter_map(|log| log.log_decode::<BasicAVS::OperatorSlashed>().ok())
        .map(|e| e.inner.data)
        .collect();
    writeln!(out, "slashes: {}", slashes.len())?;
    for s in slashes.iter().rev().take(recent) {
        writeln!(
            out,
            "  {} lost {} (task {})",
            s.operator,
            tokens(s.slashed),
            s.taskId
        )?;
    }
    Ok(out)
}

fn gwei_tokens(gwei: u64) -> String {
    format!(
        "{}.{:04}",
        gwei / 1_000_000_000,
        (gwei % 1_000_000_000) / 100_000
    )
}

fn task_status(status: u8) -> String {
    match status {
        0 => "none",
        1 => "open",
        2 => "responded",
        3 => "expired",
        4 => "challenged",
        _ => "unknown",
    }
    .into()
}

/// The AVS binary's `describe-responses` (`[avs] describe` in bulwark.toml): how the
/// AVS itself reads its certified responses.
#[derive(Clone, Debug)]
pub struct Describer {
    /// The AVS binary.
    pub binary: PathBuf,
    /// Its arguments (`["describe-responses"]`).
    pub args: Vec<String>,
}

impl Describer {
    /// How long the binary may take to answer.
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    /// The most characters of one description shown.
    const MAX_CHARS: usize = 256;

    /// One description per response (empty when the AVS has none for it); nothing
    /// at all if the binary cannot be run, fails, takes too long or answers with
    /// another number of lines, so `status` falls back to bytes rather than show a
    /// description beside the wrong task.
    ///
    /// # Security
    /// The responses are from the chain, and the binary's answer is only text: each
    /// line goes through [`bulwark_core::task::display_line`] (256 characters, no
    /// control or invisible formatting characters), so a response cannot rewrite
    /// or reorder the rest of the status.
    pub async fn describe(&self, responses: &[&[u8]]) -> Vec<String> {
        use tokio::io::AsyncWriteExt;
        let input: String = responses
            .iter()
            .map(|r| format!("0x{}\n", hex::encode(r)))
            .collect();
        let run = async {
            let mut child = tokio::process::Command::new(&self.binary)
                .args(&self.args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .ok()?;
            // Written beside the read: a child that answers before it has read
            // everything must not block on a full pipe while we block on its input.
            let mut stdin = child.stdin.take()?;
            let writer = tokio::spawn(async move {
                let _ = stdin.write_all(input.as_bytes()).await;
            });
            let output = child.wait_with_output().await.ok()?;
            writer.abort();
            output.status.success().then_some(output.stdout)
        };
        let Ok(Some(stdout)) = tokio::time::timeout(Self::WAIT, run).await else {
            return Vec::new();
        };
        let lines: Vec<String> = String::from_utf8_lossy(&stdout)
            .lines()
            .map(|line| bulwark_core::task::display_line(line, Self::MAX_CHARS))
            .collect();
        if lines.len() == responses.len() {
            lines
        } else {
            Vec::new()
        }
    }
}

fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().all(|c| !c.is_control()) && text.len() <= 64 => {
            format!("{text:?}")
        }
        _ => format!("0x{}", hex::encode(&bytes[..bytes.len().min(32)])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Describer {
        Describer {
            binary: "sh".into(),
            args: vec!["-c".into(), script.into()],
        }
    }

    /// The AVS binary's answer is used only when it is one printable line per
    /// response; anything else falls back to bytes.
    #[tokio::test]
    async fn descriptions_are_one_printable_line_per_response_or_none() {
        let responses: [&[u8]; 2] = [b"A", b"B"];
        let echo = shell("sed 's/^0x/hex /'");
        assert_eq!(echo.describe(&responses).await, ["hex 41", "hex 42"]);
        // An extra line would shift every description onto the wrong task.
        let extra = shell("cat >/dev/null; echo banner; echo a; echo b");
        assert!(extra.describe(&responses).await.is_empty());
        let failing = shell("cat >/dev/null; echo a; echo b; exit 3");
        assert!(failing.describe(&responses).await.is_empty());
        let missing = Describer {
            binary: "/nonexistent/avs".into(),
            args: Vec::new(),
        };
        assert!(missing.describe(&responses).await.is_empty());
        // Escapes and a right-to-left override (U+202E) are dropped; long lines cut.
        let hostile = shell(
            "cat >/dev/null; printf 'x\\033[2Jy\\342\\200\\256z\\n'; head -c 5000 /dev/zero | tr '\\0' w; echo",
        );
        let lines = hostile.describe(&responses).await;
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], "x[2Jyz");
        assert_eq!(lines[1].chars().count(), Describer::MAX_CHARS);
        // A child that never reads its input still answers (the writer runs beside).
        let big: Vec<u8> = vec![7; 100_000];
        let deaf = shell("echo a");
        assert_eq!(deaf.describe(&[big.as_slice()]).await, ["a"]);
    }

    #[test]
    fn token_amounts_round_trip() {
        assert_eq!(
            parse_tokens("32").expect("ok"),
            bulwark_chain::devnet::ether(32)
        );
        assert_eq!(
            parse_tokens("1.5").expect("ok"),
            U256::from(15u64) * U256::from(10u64).pow(U256::from(17u64))
        );
        assert_eq!(tokens(parse_tokens("0.0001").expect("ok")), "0.0001");
        assert_eq!(tokens(bulwark_chain::devnet::ether(7)), "7.0000");
        for bad in [
            "",
            ".",
            "1.2.3",
            "-1",
            "1e18",
            "0x10",
            "1.0000000000000000001",
        ] {
            assert!(parse_tokens(bad).is_err(), "{bad:?}");
        }
    }
}
