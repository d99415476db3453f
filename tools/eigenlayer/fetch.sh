#!/usr/bin/env bash
# Usage: tools/eigenlayer/fetch.sh OUT_DIR
#
# Downloads (from crates.io, via cargo) the exact crate versions pinned in
# Cargo.toml.in, finds their sources through `cargo metadata`, and writes
# OUT_DIR/<Contract>.json forge-style artifacts ({abi, bytecode.object,
# deployedBytecode.object}) with extract.py.  Nothing is committed: the
# bytecode is BUSL-1.1 and lives only in cargo's registry cache and OUT_DIR.
#
# Environment:
#   EIGENLAYER_FETCH_DIR  scratch crate dir (default: <repo>/target/eigenlayer/fetch,
#                         or $CARGO_TARGET_DIR/eigenlayer/fetch when that is set)
#   EIGENLAYER_FORCE=1    ignore the up-to-date stamp and re-extract
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$1"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
fetch_dir="${EIGENLAYER_FETCH_DIR:-${CARGO_TARGET_DIR:-$repo/target}/eigenlayer/fetch}"

contracts=(AllocationManager DelegationManager StrategyManager AVSDirectory
    PermissionController EigenPodManager EigenPod MockERC20 PauserRegistry
    StrategyBase StrategyFactory RewardsCoordinator TransparentUpgradeableProxy
    ProxyAdmin UpgradeableBeacon EmptyContract)

# Fast path: the stamp records the inputs (manifest + extractor); if it matches
# and every artifact is there, there is nothing to do.
stamp="$(cat "$here/Cargo.toml.in" "$here/extract.py" | sha256sum | cut -d' ' -f1)"
if [ "${EIGENLAYER_FORCE:-0}" != 1 ] && [ -f "$out/.eigenlayer-stamp" ] \
    && [ "$(cat "$out/.eigenlayer-stamp")" = "$stamp" ]; then
    complete=1
    for c in "${contracts[@]}"; do
        [ -s "$out/$c.json" ] || { complete=0; break; }
    done
    if [ "$complete" = 1 ]; then
        echo "fetch.sh: $out is up to date"
        exit 0
    fi
fi

mkdir -p "$fetch_dir"
if ! cmp -s "$here/Cargo.toml.in" "$fetch_dir/Cargo.toml"; then
    cp "$here/Cargo.toml.in" "$fetch_dir/Cargo.toml"
fi
[ -f "$fetch_dir/lib.rs" ] || : > "$fetch_dir/lib.rs"

# Run cargo from inside the scratch dir so that it is its own workspace (the
# [workspace] table in Cargo.toml.in) and never touches Bulwark's Cargo.lock.
# `cargo fetch` is a no-op (no network) once the lock file and the crates exist.
(cd "$fetch_dir" && cargo fetch --manifest-path Cargo.toml --quiet)
meta="$fetch_dir/metadata.json"
(cd "$fetch_dir" && cargo metadata --format-version 1 --offline --manifest-path Cargo.toml) > "$meta.tmp"
mv "$meta.tmp" "$meta"

# Crate roots = dirname of each package's manifest_path, for the exact versions.
roots="$(python3 - "$meta" <<'PY'
import json, os, sys
pkgs = json.load(open(sys.argv[1]))["packages"]
def root(name, version):
    hits = [p for p in pkgs if p["name"] == name and p["version"] == version]
    if len(hits) != 1:
        sys.exit("fetch.sh: %s %s not found in cargo metadata" % (name, version))
    src = hits[0].get("source") or ""
    if not src.startswith("registry+"):
        sys.exit("fetch.sh: %s %s does not come from a registry (%s)" % (name, version, src))
    return os.path.dirname(hits[0]["manifest_path"])
print(root("eigen-utils", "2.0.0"))
print(root("eigenlayer-contract-deployer", "0.4.0"))
PY
)"
eu_root="$(sed -n 1p <<<"$roots")"
dep_root="$(sed -n 2p <<<"$roots")"

python3 "$here/extract.py" --eigen-utils "$eu_root" --deployer "$dep_root" "$out"
echo "$stamp" > "$out/.eigenlayer-stamp"
