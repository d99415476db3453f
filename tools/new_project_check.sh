#!/usr/bin/env bash
# What a new user does with a template, step by step as the README says, in a fresh
# folder: `bulwark new`, `cargo test`, `forge test`; for the oracle also `bulwark
# devnet up`, rounds landing in `bulwark status`, `bulwark devnet down`, and nothing
# left running. `make test-templates` runs it for every template.
set -euo pipefail

template=${1:?usage: new_project_check.sh TEMPLATE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BULWARK=$ROOT/target/debug/bulwark
work=$(mktemp -d)
project=$work/my-$template-avs

cleanup() {
  if [ -f "$project/.bulwark/devnet.json" ]; then
    (cd "$project" && "$BULWARK" devnet down >/dev/null 2>&1) || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "bulwark new my-$template-avs --template $template"
"$BULWARK" new "my-$template-avs" --template "$template" --path "$project"
cd "$project"
# Build in the workspace's target folder so the dependencies compiled for Bulwark's
# own tests are reused (a user's project simply has its own ./target).
ln -s "$ROOT/target" target

step "cargo test"
cargo test
step "forge test"
forge test --use "$ROOT/tools/solc"

if [ "$template" = oracle ]; then
  step "bulwark devnet up"
  "$BULWARK" devnet up --operators 3
  step "bulwark status (until ETH/USD and BTC/USD rounds have landed)"
  landed='^  (ETH|BTC)/USD +round +[0-9]+ '
  status=""
  for _ in $(seq 1 150); do
    status=$("$BULWARK" status)
    if [ "$(grep -Ec "$landed" <<<"$status")" -ge 2 ]; then break; fi
    sleep 1
  done
  echo "$status"
  if [ "$(grep -Ec "$landed" <<<"$status")" -lt 2 ]; then
    echo "no rounds landed on the devnet" >&2
    exit 1
  fi
  pids=$(python3 -c 'import json; print(" ".join(str(p["pid"]) for p in json.load(open(".bulwark/devnet.json"))["processes"]))')
  step "bulwark devnet down"
  "$BULWARK" devnet down
  for pid in $pids; do
    # Exited, or a zombie waiting for whichever ancestor reaps it.
    if [ -r "/proc/$pid/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"; then
      echo "process $pid outlived devnet down" >&2
      exit 1
    fi
  done
fi
step "my-$template-avs: every step passed"
