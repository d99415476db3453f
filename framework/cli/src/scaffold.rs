//! `bulwark new`: a standalone AVS project from a template, named after the project.
//!
//! A template is a crate of the Bulwark workspace (`examples/hello`,
//! `templates/oracle`). The new project gets its files with the names changed (crate,
//! binary, contract and its file, test contract, artifact, README, description,
//! `bulwark.toml`), and a `Cargo.toml` that no longer inherits from the workspace:
//! every `workspace = true` is replaced by the workspace's own entry, and
//! `Cargo.lock` is the workspace's, so the project builds with exactly the versions
//! Bulwark is tested with.
//!
//! Where Bulwark lives is written once: the `bulwark` dependency (a path or a git
//! URL). The Solidity side reaches Bulwark through the links in `lib/bulwark`, which
//! `bulwark build` points wherever that dependency resolves (see [`crate::build`]);
//! the project holds no other path into a checkout, so it can be moved.

use std::path::{Path, PathBuf};

use anyhow::Context;
use toml::{Table, Value};

use crate::error::CliError;

/// A template `bulwark new` knows.
#[derive(Clone, Copy, Debug)]
pub struct Template {
    /// Its name on the command line.
    pub name: &'static str,
    /// Its folder in the checkout.
    pub folder: &'static str,
    /// Its crate name, replaced by the project's.
    pub crate_name: &'static str,
    /// Its AVS contract (file `contracts/<name>.sol`, test `test/<name>.t.sol`,
    /// artifact `artifacts/<name>.json`), replaced by the project's.
    pub contract: &'static str,
    /// Files it reads from elsewhere in the checkout, copied into the project.
    pub borrowed: &'static [Borrowed],
}

/// A file a template reads from elsewhere in the checkout (the bridge's tests deploy
/// the oracle beside it), which the project gets a copy of: a project holds no path
/// into a checkout but its `bulwark` dependency.
#[derive(Clone, Copy, Debug)]
pub struct Borrowed {
    /// Where it is, from the checkout's root.
    pub from: &'static str,
    /// Where the project keeps it, from the project's root.
    pub to: &'static str,
    /// How the template's sources name it (`include_str!` paths), and how the
    /// project's do.
    pub reference: (&'static str, &'static str),
}

/// The templates `bulwark new` knows.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "hello",
        folder: "examples/hello",
        crate_name: "hello-avs",
        contract: "HelloAVS",
        borrowed: &[],
    },
    Template {
        name: "oracle",
        folder: "templates/oracle",
        crate_name: "oracle-avs",
        contract: "OracleAVS",
        borrowed: &[],
    },
    Template {
        name: "bridge",
        folder: "templates/bridge",
        crate_name: "bridge-avs",
        contract: "BridgeHome",
        // One stake, two AVSs: its tests and demo run the oracle beside it.
        borrowed: &[Borrowed {
            from: "templates/oracle/artifacts/OracleAVS.json",
            to: "artifacts/OracleAVS.json",
            reference: (
                "../../oracle/artifacts/OracleAVS.json",
                "../artifacts/OracleAVS.json",
            ),
        }],
    },
];

/// Contract names a project's contract may not take: Bulwark's own, which its
/// contracts and tests import (a template's own names are read from its files).
const TAKEN_CONTRACTS: &[&str] = &[
    // OpenZeppelin's, compiled with every AVS.
    "Context",
    "ERC20",
    "IERC1155Errors",
    "IERC1363",
    "IERC165",
    "IERC20",
    "IERC20Errors",
    "IERC20Metadata",
    "IERC721Errors",
    "Ownable",
    "ReentrancyGuard",
    "SafeERC20",
    // Bulwark's.
    "AVSFixture",
    "BLS",
    "BasicAVS",
    "CertificateVerifier",
    "EigenLayerRestaking",
    "IRestakingCore",
    "Keys",
    "LiquidStakingToken",
    "NoChallenges",
    "OperatorRegistry",
    "OperatorSetLens",
    "OracleErrors",
    "OracleProofVerifier",
    "ProofVerifier",
    "RestakingCore",
    "RewardsDistributor",
    "SlashVeto",
    "SlashingErrors",
    "TaskManager",
    "Test",
    "TestAVS",
];

/// Where the project's `bulwark` dependency points: the one place that says where
/// Bulwark lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A checkout on this machine.
    Path(PathBuf),
    /// A git repository Cargo fetches (`https://`, `ssh://`, `file://`, `git@host:`),
    /// at a revision (commit, tag or branch) when the URL ends in `#rev`.
    Git {
        /// The repository.
        url: String,
        /// The revision, if one was given.
        rev: Option<String>,
    },
}

impl Location {
    /// A git URL (`URL` or `URL#rev`) if `text` looks like one, else a path.
    pub fn parse(text: &str) -> Self {
        if text.contains("://") || text.starts_with("git@") {
            match text.split_once('#') {
                Some((url, rev)) if !rev.is_empty() => Location::Git {
                    url: url.to_string(),
                    rev: Some(rev.to_string()),
                },
                _ => Location::Git {
                    url: text.trim_end_matches('#').to_string(),
                    rev: None,
                },
            }
        } else {
            Location::Path(PathBuf::from(text))
        }
    }
}

/// The project's contract name: its words capitalised, `avs` as `AVS`
/// (`square-avs` → `SquareAVS`).
pub fn contract_name(project: &str) -> String {
    project
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|word| {
            if word == "avs" {
                "AVS".to_string()
            } else {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        })
        .collect()
}

/// Folders and files of a template that are build output, never copied.
/// (`lib` holds the links `bulwark build` makes, if it ran in the template.)
const SKIPPED: &[&str] = &["out", "cache", "target", ".bulwark", "Cargo.lock", "lib"];

/// The Bulwark checkout this binary was built from, if it is still there.
pub fn default_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.join("framework/core")
        .exists()
        .then(|| dir.canonicalize().ok())?
}

/// Crate names are Cargo package names that are also fine as folder names.
fn check_name(name: &str) -> Result<(), CliError> {
    // Names Cargo or Rust refuse for a crate (the library is the name with `_`).
    const RESERVED: &[&str] = &[
        "test",
        "core",
        "std",
        "alloc",
        "proc_macro",
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
    ];
    if RESERVED.contains(&name.replace('-', "_").as_str()) {
        return Err(CliError::Usage(format!(
            "{name:?} is reserved by Rust or Cargo; choose another project name"
        )));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "invalid project name {name:?}: start with a-z, then a-z, 0-9, '-' or '_'"
        )))
    }
}

/// Writes a new project `name` from `template` (read from the checkout `checkout`)
/// into `dest`, which must not exist or be empty, depending on Bulwark at `location`.
/// Returns the files written.
pub fn new_project(
    name: &str,
    template: &str,
    dest: &Path,
    checkout: &Path,
    location: &Location,
) -> anyhow::Result<Vec<PathBuf>> {
    check_name(name)?;
    let tpl = *TEMPLATES
        .iter()
        .find(|t| t.name == template)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "unknown template {template:?}: choose {}",
                TEMPLATES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))
        })?;
    let contract = contract_name(name);
    if TAKEN_CONTRACTS.contains(&contract.as_str()) {
        return Err(CliError::Usage(format!(
            "the project's contract would be named {contract}, which Bulwark uses; choose another name"
        ))
        .into());
    }
    let (old_name, old_ident) = (tpl.crate_name, tpl.crate_name.replace('-', "_"));
    let source = checkout.join(tpl.folder);
    if !source.join("Cargo.toml").exists() {
        return Err(CliError::NotFound(format!(
            "template {template} is not in {} (pass --bulwark with a Bulwark checkout)",
            checkout.display()
        ))
        .into());
    }
    if let Some(missing) = tpl
        .borrowed
        .iter()
        .find(|b| !checkout.join(b.from).is_file())
    {
        return Err(CliError::NotFound(format!(
            "template {template} needs {} from the checkout {}, which has none (pass --bulwark with a complete checkout)",
            missing.from,
            checkout.display()
        ))
        .into());
    }
    check_clashes(&source, tpl, &contract)?;
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        return Err(CliError::Exists(format!(
            "{} exists and is not empty; choose another --path",
            dest.display()
        ))
        .into());
    }
    let checkout = checkout.canonicalize()?;
    let location =
        match location {
            Location::Path(path) => Location::Path(path.canonicalize().with_context(|| {
                format!("the Bulwark checkout {} does not exist", path.display())
            })?),
            git => git.clone(),
        };
    let ident = name.replace('-', "_");
    // One pass, so that no replacement is replaced again (a project named
    // `bridge_avs2` would otherwise become `bridge_avs22`).
    let mut replacements: Vec<(String, String)> = tpl
        .borrowed
        .iter()
        .map(|b| (b.reference.0.to_string(), b.reference.1.to_string()))
        .collect();
    replacements.extend([
        (old_name.to_string(), name.to_string()),
        (old_ident.clone(), ident.clone()),
        (tpl.contract.to_string(), contract.clone()),
        (
            "../../contracts".to_string(),
            format!("{}/contracts", crate::build::LINK),
        ),
        (
            "../../tools".to_string(),
            format!("{}/tools", crate::build::LINK),
        ),
    ]);
    let rewrite = |text: &str| -> String { replace_each(text, &replacements) };
    let rename = |path: &Path| -> PathBuf {
        PathBuf::from(path.to_string_lossy().replace(tpl.contract, &contract))
    };

    let mut files = Vec::new();
    copy_dir(&source, &source, dest, &rewrite, &rename, &mut files)?;
    for borrowed in tpl.borrowed {
        let target = dest.join(borrowed.to);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(checkout.join(borrowed.from), &target)
            .with_context(|| format!("copying {} from the checkout", borrowed.from))?;
        files.push(target);
    }

    // Cargo.toml, standalone; the workspace's lock file.
    let manifest = standalone_manifest(
        &std::fs::read_to_string(source.join("Cargo.toml"))?,
        &std::fs::read_to_string(checkout.join("Cargo.toml"))?,
        &location,
        old_name,
        name,
    )?;
    write(dest, "Cargo.toml", &manifest, &mut files)?;
    std::fs::copy(checkout.join("Cargo.lock"), dest.join("Cargo.lock"))
        .context("copying Cargo.lock")?;
    files.push(dest.join("Cargo.lock"));
    write(
        dest,
        "bulwark.toml",
        &project_manifest(&source, name, &rename)?,
        &mut files,
    )?;
    write(
        dest,
        "README.md",
        &readme(name, template, &contract),
        &mut files,
    )?;
    write(
        dest,
        ".gitignore",
        &format!(
            "/target\n/out\n/cache\n/.bulwark\n/{}\n",
            crate::build::LINK
        ),
        &mut files,
    )?;
    // The Solidity side's way to Bulwark, now for a checkout; a git dependency's is
    // made by `bulwark build` once Cargo has fetched it.
    if let Location::Path(root) = &location {
        crate::build::link_bulwark(dest, root)?;
    }
    Ok(files)
}

/// `text` with each `from` replaced by its `to` in one left-to-right pass: at each
/// place the first pair whose `from` starts there wins, and replaced text is never
/// looked at again.
fn replace_each(text: &str, pairs: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(c) = rest.chars().next() {
        for (from, to) in pairs {
            if !from.is_empty() && rest.starts_with(from.as_str()) {
                out.push_str(to);
                rest = &rest[from.len()..];
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The names the template's Solidity uses at file level, which the project's
/// contract must not take or create: each file's name (`TokenBridge` for
/// `contracts/TokenBridge.sol`, `Bridge` for `test/Bridge.t.sol`) and each contract,
/// library, interface, struct and enum declared; plus the borrowed files' names.
fn solidity_names(
    source: &Path,
    tpl: Template,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    const DECLARES: &[&str] = &["contract", "library", "interface", "struct", "enum"];
    let mut names = std::collections::BTreeSet::new();
    for borrowed in tpl.borrowed {
        if let Some(stem) = Path::new(borrowed.to).file_name().and_then(|n| n.to_str()) {
            names.insert(stem.split('.').next().unwrap_or(stem).to_string());
        }
    }
    for folder in ["contracts", "test"] {
        let mut dirs = vec![source.join(folder)];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry?.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if !file.ends_with(".sol") {
                    continue;
                }
                names.insert(file.split('.').next().unwrap_or(file).to_string());
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut words = text
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                    .filter(|w| !w.is_empty());
                while let Some(word) = words.next() {
                    if DECLARES.contains(&word) {
                        if let Some(declared) = words.next() {
                            names.insert(declared.to_string());
                        }
                    }
                }
            }
        }
    }
    Ok(names)
}

/// Refuses a project contract name that would clash with the template's own
/// Solidity: one of its names (the project `token-bridge` would write its
/// `TokenBridge` over the vault's file), or a name that renaming makes out of
/// another (`BridgeHomeTest` becoming `BridgeTest` for the project `bridge`, which
/// the template's lane tests already are).
fn check_clashes(source: &Path, tpl: Template, contract: &str) -> anyhow::Result<()> {
    if contract == tpl.contract {
        return Ok(());
    }
    let names = solidity_names(source, tpl)?;
    if names.contains(contract) {
        return Err(CliError::Usage(format!(
            "the project's contract would be named {contract}, as the {} template's own {contract} is; choose another name",
            tpl.name
        ))
        .into());
    }
    for name in names.iter().filter(|n| n.contains(tpl.contract)) {
        let renamed = name.replace(tpl.contract, contract);
        if names.contains(&renamed) {
            return Err(CliError::Usage(format!(
                "the project's contract would be named {contract}, which turns the {} template's {name} into {renamed}, a name it already uses; choose another name",
                tpl.name
            ))
            .into());
        }
    }
    Ok(())
}

fn readme(name: &str, template: &str, contract: &str) -> String {
    let (try_it, layout) = match template {
        "oracle" => (
            "bulwark devnet up               # anvil, contracts, price server, aggregator + keeper, operators
bulwark status                  # tasks, operators, certificates, and each feed's latest round
bulwark devnet down".to_string(),
            format!(
                "- `src/round.rs`: the two-phase task: what operators observe and report, when they
  endorse, and how the aggregator proposes (the stake-weighted median).
- `src/source.rs`, `src/median.rs`, `src/keeper.rs`: exchange formats, the median,
  when rounds start.
- `contracts/{contract}.sol`: feeds and rounds, extending Bulwark's `TaskManager`;
  `test/`: its forge tests.
- `src/main.rs`: `bulwark::app!` gives the `operator`, `aggregator` and `challenger`
  commands; `price-server`, `devnet-setup` and `status` are the oracle's own."
            ),
        ),
        "bridge" => (
            format!(
                "bulwark devnet up --operators 4  # home anvil (core, {contract}), remote anvil (the table), relayer, operators
config=.bulwark/devnet/aggregator.toml     # the chains and addresses the setup printed
bulwark devnet fund 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 --amount 10
target/debug/{name} lock --config $config --key-file .bulwark/devnet/owner.key --amount 10
bulwark status                  # tables, operators, and messages by state on both chains
target/debug/{name} burn --config $config --key-file .bulwark/devnet/owner.key --amount 4
bulwark devnet down
cargo run -- demo               # all of it on two anvils, then a forgery slashed and one stake shared with the oracle"
            ),
            format!(
                "- `contracts/{contract}.sol` (home chain): the AVS: commits each epoch's operator
  table from the registry, deploys the home outbox, and slashes the signers of a forged
  message or table; `Outbox.sol`, `Inbox.sol`, `OperatorTable.sol` (remote chain: the
  table carried across, updated only by a certificate of the one in force),
  `HomeInbox.sol`, `TokenBridge.sol` (vault and wrapped token); `test/`: forge tests.
- `src/signing.rs` (what an operator signs, once a message is deep enough),
  `src/relayer.rs` (collects signatures, delivers both ways, carries tables),
  `src/finality.rs`, `src/watch.rs`, `src/status.rs`; `tests/`: both chains on two
  anvils (round trip, replays, a reorg, a stale table, a forgery slashed, one stake
  shared with the oracle, whose contract is `artifacts/OracleAVS.json`).
- `src/main.rs`: `bulwark::app!` with the operator (duty and signature server) and
  the aggregator (the relayer); `demo`, `status`, `lock`, `burn`, `remote-chain` and
  `devnet-setup` are the bridge's own."
            ),
        ),
        _ => (
            "bulwark devnet up               # anvil, contracts, aggregator, operators; left running
bulwark task create \"Ada\"       # a task; `bulwark status` shows its certificate
bulwark devnet down
cargo run -- demo               # or all of it as processes of one command, for 30 s".to_string(),
            format!(
                "- `src/lib.rs`: the task (what operators compute and sign, and how
  `bulwark status` shows an answer).
- `contracts/{contract}.sol`: the AVS contract, extending Bulwark's `TaskManager`;
  `test/{contract}.t.sol`: its forge tests.
- `src/main.rs`: `bulwark::app!().task(...)` gives the `operator`, `aggregator` and
  `challenger` commands; `demo` is the example's own."
            ),
        ),
    };
    format!(
        r#"# {name}

An AVS on Bulwark, from the `{template}` template.

```sh
export PATH="$PWD/lib/bulwark/tools/bin:$PATH"   # Bulwark's pinned forge and anvil
bulwark build                   # contracts, artifacts/{contract}.json, the binary
cargo test                      # the logic, and the whole AVS on a local anvil
forge test                      # the contract
{try_it}
```

{layout}
- `bulwark.toml`: what `bulwark devnet up` builds and runs.
- `Cargo.toml`: the `bulwark` dependency says where Bulwark lives (a path or a git
  URL), and nothing else does: `lib/bulwark` holds links `bulwark build` keeps
  pointing there (Solidity imports `@bulwark/...` through `lib/bulwark/contracts`;
  the pinned tools are in `lib/bulwark/tools`).

`bulwark build` compiles the contracts with Bulwark's pinned forge and solc, refreshes
`artifacts/{contract}.json` (the ABI and bytecode the Rust bindings read and the devnet
deploys) and builds the binary; `bulwark devnet up` does the same first.
"#
    )
}

/// The template's `bulwark.toml` for the new project: every table kept (the devnet
/// steps, the status command), the binary and its build command the project's own.
/// The build is `cargo test`'s: the test profile, and the tests too, so features are
/// unified as `cargo test` unifies them (with the dev-dependencies) and neither
/// compiles Bulwark again after the other.
fn project_manifest(
    source: &Path,
    name: &str,
    rename: &dyn Fn(&Path) -> PathBuf,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(source.join("bulwark.toml"))
        .context("the template has no bulwark.toml")?;
    let mut table: Table = toml::from_str(&text)?;
    let avs = table
        .get_mut("avs")
        .and_then(Value::as_table_mut)
        .context("the template's bulwark.toml has no [avs]")?;
    let Some(contract) = avs.get("contract").and_then(Value::as_str) else {
        anyhow::bail!("the template's bulwark.toml names no contract");
    };
    let contract = rename(Path::new(contract)).display().to_string();
    avs.insert("contract".into(), contract.into());
    avs.insert("name".into(), name.into());
    avs.insert("binary".into(), format!("target/debug/{name}").into());
    avs.insert(
        "build".into(),
        Value::Array(
            ["cargo", "build", "--profile", "test", "--bins", "--tests"]
                .into_iter()
                .map(Value::from)
                .collect(),
        ),
    );
    Ok(format!(
        "# What `bulwark devnet up` runs for this project.\n{}",
        toml::to_string(&table)?
    ))
}

fn write(dest: &Path, file: &str, text: &str, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let path = dest.join(file);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    files.push(path);
    Ok(())
}

fn copy_dir(
    root: &Path,
    dir: &Path,
    dest: &Path,
    rewrite: &dyn Fn(&str) -> String,
    rename: &dyn Fn(&Path) -> PathBuf,
    files: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let rel = entry.path().strip_prefix(root)?.to_path_buf();
        // Links are not the template's content (and a link to a folder is no file).
        if SKIPPED.contains(&name.as_ref())
            || rel == Path::new("Cargo.toml")
            || rel == Path::new("bulwark.toml")
            || entry.file_type()?.is_symlink()
        {
            continue;
        }
        let target = dest.join(rename(&rel));
        if !entry.file_type()?.is_dir() && target.exists() {
            // check_clashes should have refused the name; never write one file over another.
            return Err(CliError::Exists(format!(
                "two of the template's files would both be {}; choose another name",
                target.display()
            ))
            .into());
        }
        if entry.file_type()?.is_dir() {
            copy_dir(root, &entry.path(), dest, rewrite, rename, files)?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            match std::fs::read_to_string(entry.path()) {
                Ok(text) => std::fs::write(&target, rewrite(&text))?,
                Err(_) => {
                    std::fs::copy(entry.path(), &target)?;
                }
            }
            files.push(target);
        }
    }
    Ok(())
}

/// The template's manifest with everything it inherited from the workspace spelled
/// out: package fields, dependencies (Bulwark's at `location`) and lints; plus an
/// empty `[workspace]` so Cargo treats the project as its own root, and Bulwark's
/// profiles. The description is the project's.
pub fn standalone_manifest(
    template: &str,
    workspace: &str,
    location: &Location,
    old_name: &str,
    name: &str,
) -> anyhow::Result<String> {
    let mut manifest: Table = toml::from_str(template).context("the template's Cargo.toml")?;
    let ws_root: Table = toml::from_str(workspace).context("the workspace Cargo.toml")?;
    let ws_profiles = sub_table(&ws_root, "profile");
    let ws = ws_root
        .get("workspace")
        .and_then(Value::as_table)
        .context("no [workspace]")?;
    let ws_package = sub_table(ws, "package");
    let ws_deps = sub_table(ws, "dependencies");

    if let Some(package) = manifest.get_mut("package").and_then(Value::as_table_mut) {
        package.insert("name".into(), Value::String(name.into()));
        for (key, value) in package.iter_mut() {
            if is_inherited(value) {
                if let Some(v) = ws_package.get(key) {
                    *value = v.clone();
                }
            }
        }
        package.remove("repository");
        package.insert(
            "description".into(),
            Value::String(format!("{name}: an AVS on Bulwark.")),
        );
    }
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = manifest.get_mut(section).and_then(Value::as_table_mut) else {
            continue;
        };
        for (dep, value) in deps.iter_mut() {
            if !is_inherited(value) {
                continue;
            }
            let base = ws_deps
                .get(dep)
                .with_context(|| format!("{dep} is not a workspace dependency"))?;
            *value = resolve_dep(base, value, location);
        }
    }
    // Binaries and tests named after the template take the new name.
    if let Some(Value::Array(bins)) = manifest.get_mut("bin") {
        for bin in bins.iter_mut().filter_map(Value::as_table_mut) {
            if bin.get("name").and_then(Value::as_str) == Some(old_name) {
                bin.insert("name".into(), Value::String(name.into()));
            }
        }
    }
    if let Some(lints) = manifest.get_mut("lints").and_then(Value::as_table_mut) {
        if lints.get("workspace").and_then(Value::as_bool) == Some(true) {
            *lints = ws
                .get("lints")
                .and_then(Value::as_table)
                .cloned()
                .unwrap_or_default();
        }
    }
    manifest.insert("workspace".into(), Value::Table(Table::new()));
    // The workspace's profiles, so `cargo test` here compiles Bulwark's dependencies
    // exactly as Bulwark's own tests do (and a shared target folder reuses them);
    // plus an optimised dev profile, as BLS and keystore KDFs are unbearably slow
    // without. It only sets `opt-level`, which the test profile sets too, so test
    // builds stay identical (a per-package override would also reach build scripts).
    let mut profiles = ws_profiles;
    if let Some(dev) = profiles
        .entry("dev")
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()
    {
        dev.entry("opt-level").or_insert(Value::Integer(2));
    }
    manifest.insert("profile".into(), Value::Table(profiles));
    Ok(format!(
        "# Generated by `bulwark new`. Where Bulwark lives is the `bulwark` dependency's\n\
         # path (or git URL): change it there and `bulwark build` follows.\n{}",
        toml::to_string_pretty(&manifest)?
    ))
}

/// `table[key]` as a table; empty when absent.
fn sub_table(table: &Table, key: &str) -> Table {
    table
        .get(key)
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default()
}

fn is_inherited(value: &Value) -> bool {
    value
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// A workspace dependency entry merged with the member's own keys (extra features,
/// optional); a path into the workspace points into Bulwark at `location` (a git
/// dependency names its package, since Cargo looks it up by name in the repository).
fn resolve_dep(base: &Value, member: &Value, location: &Location) -> Value {
    let mut table = match base {
        Value::String(version) => {
            let mut t = Table::new();
            t.insert("version".into(), Value::String(version.clone()));
            t
        }
        Value::Table(t) => t.clone(),
        other => return other.clone(),
    };
    if let Some(Value::String(path)) = table.remove("path") {
        match location {
            Location::Path(root) => {
                table.insert(
                    "path".into(),
                    Value::String(root.join(path).display().to_string()),
                );
            }
            Location::Git { url, rev } => {
                table.insert("git".into(), Value::String(url.clone()));
                if let Some(rev) = rev {
                    table.insert("rev".into(), Value::String(rev.clone()));
                }
            }
        }
    }
    if let Some(member) = member.as_table() {
        for (key, value) in member {
            match (key.as_str(), value) {
                ("workspace", _) => {}
                ("features", Value::Array(extra)) => {
                    let mut features = table
                        .get("features")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for f in extra {
                        if !features.contains(f) {
                            features.push(f.clone());
                        }
                    }
                    table.insert("features".into(), Value::Array(features));
                }
                _ => {
                    table.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Value::Table(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_lose_every_workspace_reference() {
        let workspace = r#"
[workspace]
members = ["a"]
[workspace.package]
version = "0.1.0"
edition = "2024"
[workspace.dependencies]
bulwark-core = { path = "framework/core" }
tokio = { version = "1", features = ["macros"] }
hex = "0.4"
[workspace.lints.rust]
unsafe_code = "deny"
[profile.test]
opt-level = 2
"#;
        let template = r#"
[package]
name = "hello-avs"
version.workspace = true
edition.workspace = true
[dependencies]
bulwark-core.workspace = true
tokio = { workspace = true, features = ["sync"] }
hex.workspace = true
tempfile = "3"
[lints]
workspace = true
"#;
        let out = standalone_manifest(
            template,
            workspace,
            &Location::Path(PathBuf::from("/src/bulwark")),
            "hello-avs",
            "my-avs",
        )
        .expect("manifest");
        assert!(!out.contains("workspace = true"), "{out}");
        let parsed: Table = toml::from_str(&out).expect("valid toml");
        assert_eq!(parsed["package"]["name"].as_str(), Some("my-avs"));
        assert_eq!(parsed["package"]["edition"].as_str(), Some("2024"));
        let deps = parsed["dependencies"].as_table().expect("deps");
        assert_eq!(
            deps["bulwark-core"]["path"].as_str(),
            Some("/src/bulwark/framework/core")
        );
        let features = deps["tokio"]["features"].as_array().expect("features");
        assert_eq!(features.len(), 2, "{features:?}");
        assert_eq!(deps["hex"]["version"].as_str(), Some("0.4"));
        assert_eq!(
            parsed["lints"]["rust"]["unsafe_code"].as_str(),
            Some("deny")
        );
        assert!(parsed["workspace"].as_table().is_some_and(|t| t.is_empty()));
        // Bulwark's test profile exactly (so compiled dependencies are shared), and
        // no per-package override, which would reach build scripts too.
        assert_eq!(
            parsed["profile"]["test"].as_table().map(Table::len),
            Some(1)
        );
        assert_eq!(parsed["profile"]["test"]["opt-level"].as_integer(), Some(2));
        assert_eq!(parsed["profile"]["dev"]["opt-level"].as_integer(), Some(2));
        assert!(parsed["profile"]["dev"].get("package").is_none());
        assert_eq!(
            parsed["package"]["description"].as_str(),
            Some("my-avs: an AVS on Bulwark.")
        );

        // From git: the same entries, with the URL in place of the path.
        let url = "https://example.org/bulwark.git";
        let out = standalone_manifest(
            template,
            workspace,
            &Location::parse(url),
            "hello-avs",
            "my-avs",
        )
        .expect("manifest");
        let parsed: Table = toml::from_str(&out).expect("valid toml");
        let core = parsed["dependencies"]["bulwark-core"]
            .as_table()
            .expect("table");
        assert_eq!(core["git"].as_str(), Some(url));
        assert!(core.get("path").is_none(), "{out}");
        assert!(!out.contains("/src/bulwark"), "{out}");
    }

    /// Every file of the project, except the link into Bulwark.
    fn project_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                project_files(&path, out);
            } else if !entry.file_type().expect("type").is_symlink() {
                out.push(path);
            }
        }
    }

    #[test]
    fn a_project_is_named_after_itself_and_says_once_where_bulwark_is() {
        let checkout = default_checkout().expect("inside the checkout");
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("p");
        new_project(
            "square-avs",
            "hello",
            &dest,
            &checkout,
            &Location::Path(checkout.clone()),
        )
        .expect("new project");
        let read = |f: &str| std::fs::read_to_string(dest.join(f)).expect(f);
        assert!(read("contracts/SquareAVS.sol").contains("contract SquareAVS is"));
        assert!(read("test/SquareAVS.t.sol").contains("contract SquareAVSTest is"));
        assert!(read("src/lib.rs").contains("\"artifacts/SquareAVS.json\""));
        let manifest: Table = toml::from_str(&read("bulwark.toml")).expect("toml");
        assert_eq!(
            manifest["avs"]["contract"].as_str(),
            Some("artifacts/SquareAVS.json")
        );
        assert_eq!(manifest["avs"]["name"].as_str(), Some("square-avs"));
        assert!(dest.join("artifacts/SquareAVS.json").exists());
        assert_eq!(
            std::fs::read_link(dest.join(crate::build::LINK).join("contracts")).expect("link"),
            checkout.join("contracts")
        );
        let mut files = Vec::new();
        project_files(&dest, &mut files);
        let checkout_path = checkout.display().to_string();
        let mut paths = 0;
        for file in files.iter().filter(|f| !f.ends_with("Cargo.lock")) {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            for old in ["HelloAVS", "hello-avs", "hello_avs"] {
                assert!(!text.contains(old), "{old} left in {}", file.display());
            }
            paths += text.matches(&checkout_path).count();
        }
        assert_eq!(
            paths, 1,
            "one path into the checkout: the bulwark dependency"
        );
    }

    #[test]
    fn contracts_are_named_after_the_project() {
        assert_eq!(contract_name("square-avs"), "SquareAVS");
        assert_eq!(contract_name("my_price_oracle"), "MyPriceOracle");
        assert_eq!(contract_name("gm2-avs"), "Gm2AVS");
        assert_eq!(
            Location::parse("../bulwark"),
            Location::Path("../bulwark".into())
        );
        assert_eq!(
            Location::parse("git@github.com:o/bulwark.git"),
            Location::Git {
                url: "git@github.com:o/bulwark.git".into(),
                rev: None
            }
        );
        assert_eq!(
            Location::parse("https://h/b.git#v0.2.0"),
            Location::Git {
                url: "https://h/b.git".into(),
                rev: Some("v0.2.0".into())
            }
        );
        for reserved in ["test", "self", "core", "fn"] {
            assert!(check_name(reserved).is_err(), "{reserved}");
        }
        let checkout = default_checkout().expect("inside the checkout");
        let dir = tempfile::tempdir().expect("tempdir");
        let err = new_project(
            "task-manager",
            "hello",
            &dir.path().join("p"),
            &checkout,
            &Location::Path(checkout.clone()),
        )
        .expect_err("a name Bulwark uses");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
    }

    #[test]
    fn names_are_checked_and_folders_not_overwritten() {
        for bad in ["", "My", "1x", "a/b", "a b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let Some(checkout) = default_checkout() else {
            panic!("the tests run inside the checkout");
        };
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
        let here = Location::Path(checkout.clone());
        let err = new_project("x", "hello", dir.path(), &checkout, &here).expect_err("not empty");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::EXISTS);
        let err = new_project("x", "nope", &dir.path().join("new"), &checkout, &here)
            .expect_err("template");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
    }

    #[test]
    fn replacements_are_made_once() {
        let pairs = [
            ("bridge-avs".to_string(), "bridge_avs2".to_string()),
            ("bridge_avs".to_string(), "bridge_avs2".to_string()),
            ("BridgeHome".to_string(), "Home".to_string()),
        ];
        assert_eq!(
            replace_each("bridge-avs uses bridge_avs::BridgeHome; héllo", &pairs),
            "bridge_avs2 uses bridge_avs2::Home; héllo"
        );
        assert_eq!(replace_each("", &pairs), "");
    }

    #[test]
    fn names_that_clash_with_a_templates_own_solidity_are_refused() {
        let checkout = default_checkout().expect("inside the checkout");
        let here = Location::Path(checkout.clone());
        let dir = tempfile::tempdir().expect("tempdir");
        // `bridge` makes BridgeHomeTest into BridgeTest (and test/BridgeHome.t.sol into
        // test/Bridge.t.sol), which the lane tests are; `token-bridge` and
        // `bridge-message` are files of the template; `message` is its struct.
        for name in [
            "bridge",
            "token-bridge",
            "bridge-message",
            "message",
            "inbox",
            "oracle-avs",
        ] {
            let dest = dir.path().join(name);
            let err = new_project(name, "bridge", &dest, &checkout, &here).expect_err("a clash");
            assert_eq!(
                crate::error::exit_code(&err),
                crate::error::exit::USAGE,
                "{name}"
            );
            assert!(!dest.exists(), "{name}: nothing written");
        }
        // The template's own contract name is the template itself.
        let files = new_project(
            "bridge-home",
            "bridge",
            &dir.path().join("ok"),
            &checkout,
            &here,
        )
        .expect("no clash");
        let tests = files
            .iter()
            .filter(|f| {
                f.extension().is_some_and(|e| e == "sol")
                    && f.starts_with(dir.path().join("ok/test"))
            })
            .count();
        assert_eq!(tests, 3, "every test file kept: {files:?}");
    }
}
