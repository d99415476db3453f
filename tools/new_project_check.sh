#!/usr/bin/env bash
# What a new user does with a template, step by step as the README says, in a fresh
# folder: `bulwark new`, then checks that the project is named after itself (crate,
# binary, contract, test contract, artifact, description: no trace of the template's
# names) and holds one path into Bulwark (its `bulwark` dependency); then moves the
# folder and runs `bulwark build`, `cargo test`, `forge test`, `bulwark devnet up`,
# the AVS's answers in `bulwark status` (a bridge's: tokens locked on the home chain
# minted on the remote one, burned there and released, each lane read by `bulwark
# status`), `bulwark devnet down`, and nothing left running. `make test-templates`
# runs it for every template.
set -euo pipefail

template=${1:?usage: new_project_check.sh TEMPLATE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BULWARK=$ROOT/target/debug/bulwark
work=$(mktemp -d)
name=acme-avs
contract=AcmeAVS
project=$work/$name

cleanup() {
  if [ -f "$project/.bulwark/devnet.json" ]; then
    (cd "$project" && "$BULWARK" devnet down >/dev/null 2>&1) || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "$*" >&2; exit 1; }

step "bulwark new $name --template $template"
"$BULWARK" new "$name" --template "$template" --path "$project"
cd "$project"

step "the project is named after itself"
for file in "contracts/$contract.sol" "test/$contract.t.sol" "artifacts/$contract.json"; do
  [ -f "$file" ] || fail "no $file"
done
grep -q "^contract $contract is" "contracts/$contract.sol" || fail "contracts/$contract.sol declares no contract $contract"
grep -q "^contract ${contract}Test is" "test/$contract.t.sol" || fail "no test contract ${contract}Test"
grep -q "contract = \"artifacts/$contract.json\"" bulwark.toml || fail "bulwark.toml does not deploy $contract"
grep -q "^name = \"$name\"" bulwark.toml || fail "bulwark.toml is not named $name"
grep -q "^description = \"$name: " Cargo.toml || fail "Cargo.toml's description is the template's"
grep -q "^# $name" README.md || fail "README.md is not about $name"
# No template's names, but where a project names a file it borrows (the bridge's
# tests deploy the oracle's contract beside it, from artifacts/OracleAVS.json).
names='HelloAVS|hello[-_]avs|OracleAVS|oracle[-_]avs|BridgeHome|bridge[-_]avs'
left=$(grep -rInE -e "$names" . --exclude=Cargo.lock --exclude-dir=lib || true)
if [ "$template" = bridge ]; then
  left=$(grep -vF -e 'artifacts/OracleAVS.json' <<<"$left" || true)
fi
[ -z "$left" ] || fail "the template's names are left in: $left"
# One path into Bulwark, the `bulwark` dependency; Solidity reaches it through lib/bulwark.
paths=$(grep -rInF "$ROOT" . --exclude=Cargo.lock --exclude-dir=lib || true)
[ "$(grep -c . <<<"$paths")" -eq 1 ] && grep -q '^./Cargo.toml:.*bulwark' <<<"$paths" \
  || fail "paths into the checkout other than the bulwark dependency: $paths"
[ "$(readlink lib/bulwark/contracts)" = "$ROOT/contracts" ] || fail "lib/bulwark/contracts does not point at $ROOT/contracts"

step "mv $name elsewhere"
mkdir "$work/moved"
mv "$project" "$work/moved/$name"
project=$work/moved/$name
cd "$project"
# Build in the workspace's target folder so the dependencies compiled for Bulwark's
# own tests are reused (a user's project simply has its own ./target).
ln -s "$ROOT/target" target

step "bulwark build"
built=$("$BULWARK" build)
echo "$built"
# The renamed contract compiles to the artifact the template shipped (names are not
# in the bytecode), so the project ran right away, before any build.
grep -q "up to date: .*artifacts/$contract.json" <<<"$built" || fail "bulwark build changed the scaffolded artifact"
if grep -q "^refreshed" <<<"$built"; then fail "bulwark build changed a scaffolded artifact"; fi
step "cargo test"
cargo test
step "forge test"
forge test

# Polls `bulwark status` until it prints $1, for up to $2 s; prints the last one.
status_until() {
  local deadline=$((SECONDS + $2))
  status=""
  while ((SECONDS < deadline)); do
    status=$(timeout 20 "$BULWARK" status 2>&1 || true)
    if grep -Eq "$1" <<<"$status"; then echo "$status"; return 0; fi
    sleep 1
  done
  echo "$status"
  fail "bulwark status showed no '$1' within $2 s; logs in .bulwark/devnet"
}

step "bulwark devnet up"
if [ "$template" = bridge ]; then
  # Two chains, four operators (a table needs 2/3 of the stake), a relayer.
  "$BULWARK" devnet up --operators 4
  config=.bulwark/devnet/aggregator.toml
  owner=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
  # Both chains in the state file: the remote one's URL and contracts beside the home's.
  python3 - <<'PY' || fail "the state file does not hold the remote chain"
import json
settings = json.load(open(".bulwark/devnet.json"))["settings"]
for key in ("remote_rpc_url", "remote_outbox", "remote_table", "remote_inbox", "wrapped", "vault"):
    assert settings.get(key), key
PY
  step "lock 10 on home; bulwark status until they are minted on remote"
  "$BULWARK" devnet fund "$owner" --amount 10
  started=$(date +%s.%N)
  "./target/debug/$name" lock --config "$config" --key-file .bulwark/devnet/owner.key --amount 10
  status_until "home 31337 -> remote 31338: 0 sent, 0 deep, 1 executed, 0 forged" 90
  echo "   executed on remote $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$started" "$(date +%s.%N)") s after the lock (1 s blocks, 3 confirmations; status polled each second)"
  step "burn 4 on remote; bulwark status until the vault released them on home"
  "./target/debug/$name" burn --config "$config" --key-file .bulwark/devnet/owner.key --amount 4
  status_until "remote 31338 -> home 31337: 0 sent, 0 deep, 1 executed, 0 forged" 90
  grep -Eq "tables: [0-9]+ committed on home; epoch [0-9]+ in force on remote" <<<"$status" \
    || fail "bulwark status shows no operator table on the remote chain"
  grep -Eq "^operators: 4 registered" <<<"$status" || fail "bulwark status shows not the four operators"
elif [ "$template" = oracle ]; then
  "$BULWARK" devnet up --operators 3
  step "bulwark status (until ETH/USD and BTC/USD rounds have landed)"
  landed='^  (ETH|BTC)/USD +round +[0-9]+ '
  needed=2
  # Certificates as the oracle reads them (its describe-responses), not hex.
  described='response (ETH|BTC)/USD round [0-9]+: [0-9.]+ observed at'
else
  "$BULWARK" devnet up --operators 3
  step "bulwark task create Ada; bulwark status (until its certificate has landed)"
  "$BULWARK" task create Ada
  landed='response "Hello, Ada!" \(greets Ada\)'
  needed=1
  described=$landed
fi
if [ "$template" != bridge ]; then
status=""
for _ in $(seq 1 150); do
  status=$("$BULWARK" status)
  if [ "$(grep -Ec "$landed" <<<"$status")" -ge "$needed" ]; then break; fi
  sleep 1
done
echo "$status"
[ "$(grep -Ec "$landed" <<<"$status")" -ge "$needed" ] || fail "no answer landed on the devnet"
grep -Eq "$described" <<<"$status" || fail "bulwark status did not show the answers as the AVS reads them"
fi
pids=$(python3 -c 'import json; print(" ".join(str(p["pid"]) for p in json.load(open(".bulwark/devnet.json"))["processes"]))')
step "bulwark devnet down"
"$BULWARK" devnet down
for pid in $pids; do
  # Exited, or a zombie waiting for whichever ancestor reaps it.
  if [ -r "/proc/$pid/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"; then
    fail "process $pid outlived devnet down"
  fi
done
step "$name from $template: every step passed"
