//! `bulwark build`: a project's contracts with Bulwark's pinned forge and solc, the
//! artifact its Rust bindings read and `devnet up` deploys, then its binary.
//!
//! Where Bulwark lives is said once, by the project's `bulwark` dependency in
//! `Cargo.toml` (a path or a git URL). Everything else is found from it through
//! `cargo metadata`: the Solidity sources, reached by the stable import path
//! `lib/bulwark/contracts`, and the pinned forge, solc and OpenZeppelin in
//! `lib/bulwark/tools` (links this module keeps pointing at the checkout, and at
//! installed tools: that checkout's, or the one's this binary was built from). So a
//! project can be moved, and pointing it at another Bulwark is one edit.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;

use crate::error::CliError;
use crate::state::Project;

/// The package every Bulwark AVS depends on (library `bulwark`).
const FACADE_PACKAGE: &str = "bulwark-avs";
/// Where a project's Solidity reaches Bulwark's contracts and tools
/// (`@bulwark/=lib/bulwark/contracts/src/`).
pub const LINK: &str = "lib/bulwark";
/// A file every Bulwark checkout has, to tell one from any other folder.
const MARKER: &str = "contracts/src/avs/TaskManager.sol";

/// What `build` did.
#[derive(Clone, Debug)]
pub struct Built {
    /// The Bulwark checkout the project's contracts build against (none without
    /// contracts).
    pub bulwark: Option<PathBuf>,
    /// The artifact refreshed from forge's output, if the project has contracts.
    pub artifact: Option<PathBuf>,
    /// Whether the artifact's content changed.
    pub artifact_changed: bool,
    /// The project's other artifacts forge built (a bridge's outbox, inbox and
    /// table beside its AVS), each with whether it changed.
    pub others: Vec<(PathBuf, bool)>,
}

/// What to build and how to show it.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    /// Keep the tools' output, shown only on failure (`devnet up`'s progress bar).
    pub quiet: bool,
    /// Contracts and artifact only, not the `[avs] build` command.
    pub contracts_only: bool,
}

/// Builds the project in `dir`: contracts (if it has a `foundry.toml`), the artifact
/// named by `bulwark.toml`'s `[avs] contract`, and the `[avs] build` command.
pub async fn build(dir: &Path, project: &Project, options: BuildOptions) -> anyhow::Result<Built> {
    let quiet = options.quiet;
    let mut built = Built {
        bulwark: None,
        artifact: None,
        artifact_changed: false,
        others: Vec::new(),
    };
    let foundry = dir.join("foundry.toml");
    if foundry.exists() {
        // A project made by `bulwark new` reaches Bulwark through lib/bulwark and must
        // say where Bulwark is; Bulwark's own templates reach it by relative paths, and
        // only need its tools.
        let uses_link = std::fs::read_to_string(&foundry)
            .with_context(|| format!("reading {}", foundry.display()))?
            .contains(LINK);
        let bulwark = if uses_link {
            let bulwark = locate_bulwark(dir).await?;
            link_bulwark(dir, &bulwark)?;
            bulwark
        } else {
            match locate_bulwark(dir).await {
                Ok(bulwark) => bulwark,
                Err(err) => crate::scaffold::default_checkout().ok_or(err)?,
            }
        };
        let tools = PinnedTools::find(&bulwark)?;
        if !quiet && !tools.forge.starts_with(&bulwark) {
            eprintln!(
                "note: Bulwark at {} has no pinned tools installed; using {} (same pins only if both checkouts agree)",
                bulwark.display(),
                tools.forge.display()
            );
        }
        built.bulwark = Some(bulwark);
        let mut forge = tokio::process::Command::new(&tools.forge);
        forge
            .arg("build")
            .arg("--use")
            .arg(&tools.solc)
            .current_dir(dir);
        run(forge, "forge build", quiet).await?;
        let name = project
            .avs
            .contract
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "[avs] contract {} is not a <Contract>.json path",
                    project.avs.contract.display()
                ))
            })?;
        let layout = ForgeLayout::read(dir)?;
        let target = &project.avs.contract;
        let mut wanted = other_artifacts(target);
        wanted.insert(name.to_string());
        let built_from = layout.built_from_sources(&wanted)?;
        let forge_out = built_from.get(name).ok_or_else(|| {
            CliError::NotFound(format!(
                "forge built no contract {name} from the project's {}/ (is the AVS contract there, named {name}?)",
                layout.src
            ))
        })?;
        built.artifact_changed = refresh_artifact(forge_out, target)?;
        built.artifact = Some(target.clone());
        built.others = refresh_others(target, &wanted, &built_from)?;
    }
    if options.contracts_only {
        return Ok(built);
    }
    if let Some((program, args)) = project.avs.build.split_first() {
        let mut command = tokio::process::Command::new(program);
        command.args(args).current_dir(dir);
        run(command, "the [avs] build command", quiet).await?;
    }
    Ok(built)
}

/// Writes the slim form of forge's artifact at `forge_out` to `target` if it
/// differs; returns whether it did.
fn refresh_artifact(forge_out: &Path, target: &Path) -> anyhow::Result<bool> {
    let full = std::fs::read_to_string(forge_out)
        .with_context(|| format!("reading {}", forge_out.display()))?;
    let slim =
        slim_artifact(&full).with_context(|| format!("reading forge's {}", forge_out.display()))?;
    let changed = std::fs::read_to_string(target).ok().as_deref() != Some(slim.as_str());
    if changed {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, &slim).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(changed)
}

/// The names of the artifacts beside the AVS's (`artifacts/Outbox.json` →
/// `Outbox`); links are not the project's own and are never written through.
fn other_artifacts(avs_artifact: &Path) -> std::collections::BTreeSet<String> {
    let Some(entries) = avs_artifact
        .parent()
        .and_then(|folder| std::fs::read_dir(folder).ok())
    else {
        return Default::default();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.as_path() != avs_artifact && p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect()
}

/// Refreshes every artifact beside the AVS's (`avs_artifact`) that forge built from
/// the project's own sources (`built_from`), so an AVS of several contracts (a
/// bridge's outbox, inbox and table) never deploys bytecode older than its sources.
/// An artifact that no source of the project declares (another AVS's contract a
/// test deploys beside it) is the project's to keep and is left alone.
fn refresh_others(
    avs_artifact: &Path,
    names: &std::collections::BTreeSet<String>,
    built_from: &std::collections::BTreeMap<String, PathBuf>,
) -> anyhow::Result<Vec<(PathBuf, bool)>> {
    let Some(folder) = avs_artifact.parent() else {
        return Ok(Vec::new());
    };
    let mut refreshed = Vec::new();
    for name in names {
        let target = folder.join(format!("{name}.json"));
        let Some(forge_out) = built_from.get(name).filter(|_| target != avs_artifact) else {
            continue;
        };
        let changed = refresh_artifact(forge_out, &target)?;
        refreshed.push((target, changed));
    }
    Ok(refreshed)
}

/// Where forge reads the project's sources and writes its artifacts: `src` and `out`
/// of `foundry.toml`'s default profile (forge's defaults: `src`, `out`).
#[derive(Clone, Debug)]
struct ForgeLayout {
    /// The sources, relative to the project (`contracts`).
    src: String,
    /// The artifacts folder.
    out: PathBuf,
}

impl ForgeLayout {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("foundry.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let config: toml::Table = toml::from_str(&text)
            .map_err(|e| CliError::Usage(format!("invalid {}: {e}", path.display())))?;
        let profile = config
            .get("profile")
            .and_then(|p| p.get("default"))
            .and_then(toml::Value::as_table);
        let setting = |key: &str, default: &str| {
            profile
                .and_then(|p| p.get(key))
                .and_then(toml::Value::as_str)
                .unwrap_or(default)
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string()
        };
        Ok(Self {
            src: setting("src", "src"),
            out: dir.join(setting("out", "out")),
        })
    }

    /// Forge's artifact of each of `names` compiled from a file under `src`, found by
    /// the compilation target forge records in each artifact's metadata, not by where
    /// forge put it: forge nests an artifact in folders when two sources share a
    /// file name (a library's `Inbox.sol` beside the project's), and a library may
    /// declare a contract of the same name. Two of the project's own files declaring
    /// one name is an error, as either could be meant.
    fn built_from_sources(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> anyhow::Result<std::collections::BTreeMap<String, PathBuf>> {
        let prefix = format!("{}/", self.src);
        let mut found: std::collections::BTreeMap<String, (PathBuf, String)> = Default::default();
        let mut dirs = vec![self.out.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    if entry.file_name() != "build-info" {
                        dirs.push(path);
                    }
                    continue;
                }
                let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if !kind.is_file() || !names.contains(name) {
                    continue;
                }
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let Some(source) = compilation_target(&text, name) else {
                    continue;
                };
                if !source.starts_with(&prefix) {
                    continue;
                }
                if let Some((_, first)) = found.get(name) {
                    if *first != source {
                        return Err(CliError::Usage(format!(
                            "two of the project's files declare {name} ({first}, {source}); rename one"
                        ))
                        .into());
                    }
                }
                found.insert(name.to_string(), (path, source));
            }
        }
        Ok(found
            .into_iter()
            .map(|(name, (path, _))| (name, path))
            .collect())
    }
}

/// The source file forge compiled `name` from, as its artifact's metadata records
/// it (`{"contracts/Outbox.sol": "Outbox"}`).
fn compilation_target(artifact: &str, name: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(artifact).ok()?;
    json.pointer("/metadata/settings/compilationTarget")?
        .as_object()?
        .iter()
        .find(|(_, contract)| contract.as_str() == Some(name))
        .map(|(source, _)| source.clone())
}

/// Runs `command`, streaming its output unless `quiet`; a failure carries the output.
async fn run(mut command: tokio::process::Command, what: &str, quiet: bool) -> anyhow::Result<()> {
    if quiet {
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {what}"))?;
        if !output.status.success() {
            anyhow::bail!(
                "{what} failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    } else {
        let status = command
            .stdin(Stdio::null())
            .status()
            .await
            .with_context(|| format!("running {what}"))?;
        if !status.success() {
            anyhow::bail!("{what} failed ({status})");
        }
    }
    Ok(())
}

/// The Bulwark checkout the project in `dir` depends on: the source folder Cargo
/// resolved for the `bulwark-avs` package (a path dependency's folder, or Cargo's
/// checkout of a git dependency).
pub async fn locate_bulwark(dir: &Path) -> anyhow::Result<PathBuf> {
    let output = tokio::process::Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .stdin(Stdio::null())
        .output()
        .await
        .context("running cargo metadata")?;
    if !output.status.success() {
        anyhow::bail!(
            "cargo metadata failed in {}:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let manifest = facade_manifest(&output.stdout)?;
    bulwark_root(&manifest)
}

/// `$CARGO` when run by Cargo, else `cargo`.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The manifest path of `bulwark-avs` in `cargo metadata` output.
fn facade_manifest(metadata: &[u8]) -> anyhow::Result<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        packages: Vec<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        manifest_path: PathBuf,
    }
    let metadata: Metadata =
        serde_json::from_slice(metadata).context("cargo metadata printed no package list")?;
    metadata
        .packages
        .into_iter()
        .find(|p| p.name == FACADE_PACKAGE)
        .map(|p| p.manifest_path)
        .ok_or_else(|| {
            CliError::NotFound(format!(
                "this project does not depend on Bulwark: add `bulwark = {{ package = \"{FACADE_PACKAGE}\", path = \"<checkout>/framework/bulwark\" }}` (or `git = \"<url>\"`) to Cargo.toml"
            ))
            .into()
        })
}

/// The checkout holding the facade crate's manifest (`<root>/framework/bulwark/Cargo.toml`).
fn bulwark_root(manifest: &Path) -> anyhow::Result<PathBuf> {
    let root = manifest
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .filter(|root| root.join(MARKER).exists())
        .ok_or_else(|| {
            CliError::NotFound(format!(
                "{} is not inside a Bulwark checkout (no {MARKER} two folders up); a Bulwark from crates.io carries no contracts yet, depend on a checkout or a git URL",
                manifest.display()
            ))
        })?;
    Ok(root.to_path_buf())
}

/// Makes `dir/lib/bulwark` Bulwark's place in the project: `contracts` links to the
/// checkout's contracts (`root`), `tools` to installed pinned tools (the checkout's,
/// or those of the checkout this binary was built from: Cargo's copy of a git
/// repository has no `node_modules`, so no OpenZeppelin and no solc). Links that
/// point elsewhere are replaced; anything else there is the user's and is left
/// alone (an error).
pub fn link_bulwark(dir: &Path, root: &Path) -> anyhow::Result<()> {
    let base = dir.join(LINK);
    match std::fs::symlink_metadata(&base) {
        // An older layout: the whole folder as one link.
        Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(&base)
            .with_context(|| format!("replacing the link {}", base.display()))?,
        Ok(meta) if !meta.is_dir() => {
            return Err(CliError::Exists(format!(
                "{} exists and is not a folder; move it away so `{LINK}` can hold Bulwark's links",
                base.display()
            ))
            .into());
        }
        _ => {}
    }
    std::fs::create_dir_all(&base)?;
    let tools = PinnedTools::root(root)
        .map(|r| r.join("tools"))
        .unwrap_or_else(|| root.join("tools"));
    for (name, target) in [("contracts", root.join("contracts")), ("tools", tools)] {
        let link = base.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if std::fs::read_link(&link)? == target {
                    continue;
                }
                std::fs::remove_file(&link)
                    .with_context(|| format!("replacing the link {}", link.display()))?;
            }
            Ok(_) => {
                return Err(CliError::Exists(format!(
                    "{} exists and is not a link; move it away so it can point at Bulwark",
                    link.display()
                ))
                .into());
            }
            Err(_) => {}
        }
        symlink_dir(&target, &link).with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn symlink_dir(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink_dir(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

/// Bulwark's pinned forge and solc (`tools/package.json`, installed by `make tools`).
#[derive(Clone, Debug)]
pub struct PinnedTools {
    /// The forge binary.
    pub forge: PathBuf,
    /// The solc front forge drives (`forge --use`).
    pub solc: PathBuf,
}

impl PinnedTools {
    /// `$BULWARK_FORGE` / `$BULWARK_SOLC` if set; else the tools of the checkout the
    /// project builds against, else of the one this binary was built from (a git
    /// dependency's checkout has none installed).
    pub fn find(bulwark: &Path) -> anyhow::Result<Self> {
        let found = Self::root(bulwark).map(|root| Self {
            forge: root.join("tools/bin/forge"),
            solc: root.join("tools/solc"),
        });
        let forge = std::env::var_os("BULWARK_FORGE").map(PathBuf::from);
        let solc = std::env::var_os("BULWARK_SOLC").map(PathBuf::from);
        match (forge, solc, found) {
            (Some(forge), Some(solc), _) => Ok(Self { forge, solc }),
            (forge, solc, Some(tools)) => Ok(Self {
                forge: forge.unwrap_or(tools.forge),
                solc: solc.unwrap_or(tools.solc),
            }),
            _ => Err(CliError::NotFound(format!(
                "Bulwark's pinned forge and solc are not installed: run `make tools` in {} (or set BULWARK_FORGE and BULWARK_SOLC)",
                bulwark.display()
            ))
            .into()),
        }
    }

    /// The checkout whose pinned tools are installed: `bulwark`, else the one this
    /// binary was built from.
    pub fn root(bulwark: &Path) -> Option<PathBuf> {
        let installed = |root: &Path| {
            root.join("tools/bin/forge").exists()
                && root
                    .join("tools/node_modules/@openzeppelin/contracts")
                    .exists()
                && root.join("tools/node_modules/solc").exists()
        };
        std::iter::once(bulwark.to_path_buf())
            .chain(crate::scaffold::default_checkout())
            .find(|root| installed(root))
    }
}

/// What the Rust side binds to and deploys, from forge's full artifact: the ABI and
/// the creation and runtime bytecode, in the layout `contracts/script/export_artifacts.py`
/// writes (keys sorted, one-space indents), so either tool leaves the same file.
pub fn slim_artifact(full: &str) -> anyhow::Result<String> {
    use serde_json::{Value, json};
    let full: Value = serde_json::from_str(full).context("not JSON")?;
    let field = |pointer: &str| {
        full.pointer(pointer)
            .cloned()
            .with_context(|| format!("no {pointer}"))
    };
    let slim = json!({
        "abi": field("/abi")?,
        "bytecode": { "object": field("/bytecode/object")? },
        "deployedBytecode": { "object": field("/deployedBytecode/object")? },
    });
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b" "),
    );
    serde::Serialize::serialize(&sorted(slim), &mut serializer)?;
    out.push(b'\n');
    Ok(String::from_utf8(out)?)
}

/// `value` with every object's keys in order (whatever map serde_json was built with).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facade_is_found_in_cargo_metadata() {
        let metadata = br#"{"packages":[
            {"name":"tokio","manifest_path":"/r/tokio/Cargo.toml"},
            {"name":"bulwark-avs","manifest_path":"/src/b/framework/bulwark/Cargo.toml"}]}"#;
        assert_eq!(
            facade_manifest(metadata).expect("found"),
            Path::new("/src/b/framework/bulwark/Cargo.toml")
        );
        let err = facade_manifest(br#"{"packages":[]}"#).expect_err("absent");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::NOT_FOUND);
        assert!(facade_manifest(b"not json").is_err());
    }

    #[test]
    fn a_root_must_be_a_checkout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = dir.path().join("framework/bulwark/Cargo.toml");
        assert!(bulwark_root(&manifest).is_err());
        std::fs::create_dir_all(dir.path().join("contracts/src/avs")).expect("mkdir");
        std::fs::write(dir.path().join(MARKER), "").expect("write");
        assert_eq!(bulwark_root(&manifest).expect("root"), dir.path());
    }

    #[test]
    fn the_links_follow_the_checkout_and_spare_the_users_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let project = dir.path().join("p");
        for d in [&a, &b, &project] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let contracts = project.join(LINK).join("contracts");
        let tools = project.join(LINK).join("tools");
        // Neither a nor b has tools installed: this checkout's are linked.
        let own_tools = PinnedTools::root(&a)
            .expect("`make tools` installs this checkout's pinned tools")
            .join("tools");
        link_bulwark(&project, &a).expect("link");
        assert_eq!(
            std::fs::read_link(&contracts).expect("link"),
            a.join("contracts")
        );
        assert_eq!(std::fs::read_link(&tools).expect("link"), own_tools);
        link_bulwark(&project, &a).expect("unchanged");
        link_bulwark(&project, &b).expect("moved");
        assert_eq!(
            std::fs::read_link(&contracts).expect("link"),
            b.join("contracts")
        );
        assert_eq!(std::fs::read_link(&tools).expect("link"), own_tools);
        // The older layout (one link for the folder) is replaced.
        let old = dir.path().join("old");
        std::fs::create_dir_all(old.join("lib")).expect("mkdir");
        symlink_dir(&a, &old.join(LINK)).expect("old link");
        link_bulwark(&old, &b).expect("relinked");
        assert_eq!(
            std::fs::read_link(old.join(LINK).join("contracts")).expect("link"),
            b.join("contracts")
        );
        // A file of the user's where a link goes is kept.
        let other = dir.path().join("q");
        std::fs::create_dir_all(other.join(LINK).join("contracts")).expect("a real folder");
        let err = link_bulwark(&other, &a).expect_err("a folder is kept");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::EXISTS);
        assert!(other.join(LINK).join("contracts").is_dir());
    }

    /// Forge's full artifact for contract `name` of `source` with `code` as its
    /// bytecode.
    fn forge_artifact(source: &str, name: &str, code: &str) -> String {
        serde_json::json!({
            "abi": [],
            "bytecode": { "object": code, "sourceMap": "1:2:3" },
            "deployedBytecode": { "object": code },
            "metadata": { "settings": { "compilationTarget": { source: name } } },
        })
        .to_string()
    }

    fn put(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Runs the artifact step of `build` on the project at `root`.
    fn refresh(root: &Path, avs: &Path) -> anyhow::Result<Vec<(String, bool)>> {
        let layout = ForgeLayout::read(root)?;
        let names = other_artifacts(avs);
        let built = layout.built_from_sources(&names)?;
        Ok(refresh_others(avs, &names, &built)?
            .into_iter()
            .map(|(p, changed)| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                (name.to_string(), changed)
            })
            .collect())
    }

    #[test]
    fn every_artifact_of_the_projects_own_contracts_is_refreshed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(
            &root.join("foundry.toml"),
            "[profile.default]\nsrc = \"contracts\"\nout = \"build/\"\n",
        );
        let avs = root.join("artifacts/Home.json");
        put(&avs, "the AVS's, refreshed by build itself");
        let out = root.join("build");
        // Outbox in its own file; Vault declared in Tokens.sol; Table in a sub-folder
        // of contracts/ and nested by forge, as a library has a Table.sol too, whose
        // Table forge put where the project's would be.
        for (file, source, name, code) in [
            (
                "Outbox.sol/Outbox.json",
                "contracts/Outbox.sol",
                "Outbox",
                "0x01",
            ),
            (
                "Tokens.sol/Vault.json",
                "contracts/Tokens.sol",
                "Vault",
                "0x02",
            ),
            (
                "sub/Table.sol/Table.json",
                "contracts/sub/Table.sol",
                "Table",
                "0x03",
            ),
            ("Table.sol/Table.json", "lib/x/Table.sol", "Table", "0x66"),
        ] {
            put(&out.join(file), &forge_artifact(source, name, code));
        }
        let fresh_table =
            slim_artifact(&forge_artifact("contracts/sub/Table.sol", "Table", "0x03"))
                .expect("slim");
        put(&root.join("artifacts/Outbox.json"), "stale");
        put(&root.join("artifacts/Vault.json"), "stale");
        put(&root.join("artifacts/Table.json"), &fresh_table);
        // Another AVS's artifact the project keeps, though a library builds a
        // contract of that name.
        put(
            &out.join("Oracle.sol/Oracle.json"),
            &forge_artifact("lib/o/Oracle.sol", "Oracle", "0x04"),
        );
        put(&root.join("artifacts/Oracle.json"), "kept");
        put(&root.join("artifacts/notes.txt"), "not an artifact");
        // An artifact that links elsewhere is not the project's: never written through.
        let elsewhere = root.join("elsewhere.json");
        put(&elsewhere, "not the project's");
        put(
            &out.join("Linked.sol/Linked.json"),
            &forge_artifact("contracts/Linked.sol", "Linked", "0x07"),
        );
        #[cfg(unix)]
        std::os::unix::fs::symlink(&elsewhere, root.join("artifacts/Linked.json")).expect("link");

        assert_eq!(
            refresh(root, &avs).expect("refreshed"),
            [
                ("Outbox.json".to_string(), true),
                ("Table.json".to_string(), false),
                ("Vault.json".to_string(), true)
            ]
        );
        let read = |name: &str| std::fs::read_to_string(root.join("artifacts").join(name));
        assert_eq!(
            read("Outbox.json").expect("outbox"),
            slim_artifact(&forge_artifact("contracts/Outbox.sol", "Outbox", "0x01")).expect("slim")
        );
        assert_eq!(read("Table.json").expect("table"), fresh_table);
        assert_eq!(read("Oracle.json").expect("oracle"), "kept");
        assert_eq!(
            read("Home.json").expect("avs"),
            "the AVS's, refreshed by build itself"
        );
        assert_eq!(
            std::fs::read_to_string(&elsewhere).expect("link target"),
            "not the project's"
        );

        // Two of the project's files declaring one name: which is meant is unknown.
        put(
            &out.join("v2/Outbox.sol/Outbox.json"),
            &forge_artifact("contracts/v2/Outbox.sol", "Outbox", "0x05"),
        );
        let err = refresh(root, &avs).expect_err("ambiguous");
        assert!(
            err.to_string()
                .contains("two of the project's files declare Outbox"),
            "{err}"
        );
    }

    #[test]
    fn slim_artifacts_match_the_committed_ones() {
        // Forge's full artifact is not committed; rebuild its three fields around the
        // committed slim one and check that the slim form comes back byte for byte.
        let checkout = crate::scaffold::default_checkout().expect("inside the checkout");
        let committed =
            std::fs::read_to_string(checkout.join("examples/hello/artifacts/HelloAVS.json"))
                .expect("committed artifact");
        let mut full: serde_json::Value = serde_json::from_str(&committed).expect("json");
        full["metadata"] = serde_json::json!({"compiler": {"version": "0.8.30"}});
        full["bytecode"]["sourceMap"] = "1:2:3".into();
        let full = serde_json::to_string(&full).expect("json");
        assert_eq!(slim_artifact(&full).expect("slim"), committed);
        assert!(slim_artifact(r#"{"abi":[]}"#).is_err());
    }
}
