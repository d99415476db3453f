//! `bulwark new`: a standalone AVS project from a template.
//!
//! A template is a crate of the Bulwark workspace (`examples/hello`,
//! `templates/oracle`). The new project gets its files with the names changed, and a
//! `Cargo.toml` that no longer inherits from the workspace: every `workspace = true`
//! is replaced by the workspace's own entry, Bulwark's crates become path
//! dependencies on the checkout, and `Cargo.lock` is the workspace's, so the project
//! builds with exactly the versions Bulwark is tested with. Paths into the checkout
//! (the framework's contracts and tools) become absolute.

use std::path::{Path, PathBuf};

use anyhow::Context;
use toml::{Table, Value};

use crate::error::CliError;

/// The templates `bulwark new` knows, with their folder in the checkout and the names
/// (crate name, Rust identifier) to replace.
pub const TEMPLATES: &[(&str, &str, &str, &str)] = &[
    ("hello", "examples/hello", "hello-avs", "hello_avs"),
    ("oracle", "templates/oracle", "oracle-avs", "oracle_avs"),
];

/// Folders and files of a template that are build output, never copied.
const SKIPPED: &[&str] = &["out", "cache", "target", ".bulwark", "Cargo.lock"];

/// The Bulwark checkout this binary was built from, if it is still there.
pub fn default_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.join("framework/core")
        .exists()
        .then(|| dir.canonicalize().ok())?
}

/// Crate names are Cargo package names that are also fine as folder names.
fn check_name(name: &str) -> Result<(), CliError> {
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

/// Writes a new project `name` from `template` into `dest`, which must not exist or
/// be empty. Returns the files written.
pub fn new_project(
    name: &str,
    template: &str,
    dest: &Path,
    checkout: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    check_name(name)?;
    let &(_, folder, old_name, old_ident) =
        TEMPLATES.iter().find(|t| t.0 == template).ok_or_else(|| {
            CliError::Usage(format!(
                "unknown template {template:?}: choose {}",
                TEMPLATES
                    .iter()
                    .map(|t| t.0)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))
        })?;
    let source = checkout.join(folder);
    if !source.join("Cargo.toml").exists() {
        return Err(CliError::NotFound(format!(
            "template {template} is not in {} (pass --bulwark with a Bulwark checkout)",
            checkout.display()
        ))
        .into());
    }
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        return Err(CliError::Exists(format!(
            "{} exists and is not empty; choose another --path",
            dest.display()
        ))
        .into());
    }
    let checkout = checkout.canonicalize()?;
    let ident = name.replace('-', "_");
    let rewrite = |text: &str| -> String {
        text.replace(old_name, name)
            .replace(old_ident, &ident)
            .replace(
                "../../contracts",
                &format!("{}/contracts", checkout.display()),
            )
            .replace("../../tools", &format!("{}/tools", checkout.display()))
    };

    let mut files = Vec::new();
    copy_dir(&source, &source, dest, &rewrite, &mut files)?;

    // Cargo.toml, standalone; the workspace's lock file.
    let manifest = standalone_manifest(
        &std::fs::read_to_string(source.join("Cargo.toml"))?,
        &std::fs::read_to_string(checkout.join("Cargo.toml"))?,
        &checkout,
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
        &project_manifest(&source, name)?,
        &mut files,
    )?;
    write(dest, "README.md", &readme(name, template), &mut files)?;
    write(
        dest,
        ".gitignore",
        "/target\n/out\n/cache\n/.bulwark\n",
        &mut files,
    )?;
    Ok(files)
}

fn readme(name: &str, template: &str) -> String {
    let (try_it, layout) = match template {
        "oracle" => (
            "bulwark devnet up               # anvil, contracts, price server, aggregator + keeper, operators
bulwark status                  # tasks, operators, certificates, and each feed's latest round
bulwark devnet down",
            "- `src/round.rs`: the two-phase task: what operators observe and report, when they
  endorse, and how the aggregator proposes (the stake-weighted median).
- `src/source.rs`, `src/median.rs`, `src/keeper.rs`: exchange formats, the median,
  when rounds start.
- `contracts/OracleAVS.sol`: feeds and rounds, extending Bulwark's `TaskManager`.
- `src/main.rs`: `bulwark::app!` gives the `operator`, `aggregator` and `challenger`
  commands; `price-server`, `devnet-setup` and `status` are the oracle's own.",
        ),
        _ => (
            "cargo run -- demo               # aggregator and operators as processes, tasks for 30 s
bulwark devnet up               # or leave it running: anvil, contracts, runtimes
bulwark task create \"Ada\"       # a task; `bulwark status` shows its certificate
bulwark devnet down",
            "- `src/lib.rs`: the task (what operators compute and sign).
- `contracts/`: the AVS contract, extending Bulwark's `TaskManager`.
- `src/main.rs`: `bulwark::app!().task(...)` gives the `operator`, `aggregator` and
  `challenger` commands; `demo` is the example's own.",
        ),
    };
    format!(
        r#"# {name}

An AVS on Bulwark, from the `{template}` template.

```sh
cargo test                      # the logic, and the whole AVS on a local anvil
forge test --use <bulwark>/tools/solc   # the contract (uses Bulwark's pinned solc)
{try_it}
```

{layout}
- `bulwark.toml`: what `bulwark devnet up` builds and runs.

After changing the contract, rebuild its artifact (the ABI and bytecode Rust deploys):
`forge build --use <bulwark>/tools/solc` and copy `out/<Contract>.sol/<Contract>.json`
to `artifacts/`.
"#
    )
}

/// The template's `bulwark.toml` for the new project: every table kept (the devnet
/// steps, the status command), the binary and its build command the project's own.
/// The build uses the test profile, which `cargo test` already compiled.
fn project_manifest(source: &Path, name: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(source.join("bulwark.toml"))
        .context("the template has no bulwark.toml")?;
    let mut table: Table = toml::from_str(&text)?;
    let avs = table
        .get_mut("avs")
        .and_then(Value::as_table_mut)
        .context("the template's bulwark.toml has no [avs]")?;
    if avs.get("contract").and_then(Value::as_str).is_none() {
        anyhow::bail!("the template's bulwark.toml names no contract");
    }
    avs.insert("name".into(), name.into());
    avs.insert("binary".into(), format!("target/debug/{name}").into());
    avs.insert(
        "build".into(),
        Value::Array(
            ["cargo", "build", "--profile", "test", "--bin", name]
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
    files: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let rel = entry.path().strip_prefix(root)?.to_path_buf();
        if SKIPPED.contains(&name.as_ref())
            || rel == Path::new("Cargo.toml")
            || rel == Path::new("bulwark.toml")
        {
            continue;
        }
        let target = dest.join(&rel);
        if entry.file_type()?.is_dir() {
            copy_dir(root, &entry.path(), dest, rewrite, files)?;
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
/// out: package fields, dependencies (Bulwark's as absolute paths) and lints; plus an
/// empty `[workspace]` so Cargo treats the project as its own root, and Bulwark's
/// profiles.
pub fn standalone_manifest(
    template: &str,
    workspace: &str,
    checkout: &Path,
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
            *value = resolve_dep(base, value, checkout);
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
        "# Generated by `bulwark new`; Bulwark's crates come from {}.\n{}",
        checkout.display(),
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
/// optional), with relative paths made absolute.
fn resolve_dep(base: &Value, member: &Value, checkout: &Path) -> Value {
    let mut table = match base {
        Value::String(version) => {
            let mut t = Table::new();
            t.insert("version".into(), Value::String(version.clone()));
            t
        }
        Value::Table(t) => t.clone(),
        other => return other.clone(),
    };
    if let Some(Value::String(path)) = table.get("path").cloned() {
        table.insert(
            "path".into(),
            Value::String(checkout.join(path).display().to_string()),
        );
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
            Path::new("/src/bulwark"),
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
        let err = new_project("x", "hello", dir.path(), &checkout).expect_err("not empty");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::EXISTS);
        let err =
            new_project("x", "nope", &dir.path().join("new"), &checkout).expect_err("template");
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
    }
}
