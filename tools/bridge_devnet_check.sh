#!/usr/bin/env bash
# The bridge template on `bulwark devnet up`: two chains (the home anvil bulwark
# starts, the remote one the template's service runs), four operators and a relayer
# as bulwark starts them; 10 tokens locked on home reach remote, 4 burned there come
# back, as `bridge-avs status` reads both chains; `devnet down` stops everything.
#
# Needs target/debug/bulwark and target/debug/bridge-avs (as `cargo test --workspace
# --no-run` builds them) and the tools on PATH (`make tools`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BULWARK=$ROOT/target/debug/bulwark
BRIDGE=$ROOT/target/debug/bridge-avs
export PATH=$ROOT/tools/bin:$PATH
cd "$ROOT/templates/bridge"
trap '"$BULWARK" devnet down >/dev/null 2>&1 || true' EXIT

echo "== bulwark devnet up (templates/bridge)"
"$BULWARK" devnet up --no-build --operators 4
DIR=.bulwark/devnet
state() { python3 -c "import json,sys; print(json.load(open('.bulwark/devnet.json'))[sys.argv[1]])" "$1"; }
setting() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" "$DIR/aggregator.toml" | head -1; }
HOME_RPC=$(state rpc_url)
AVS=$(state avs)
OWNER=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
status() {
  timeout 10 "$BRIDGE" status --home-rpc-url "$HOME_RPC" --remote-rpc-url "$(setting remote_rpc_url)" \
    --home-avs "$AVS" --home-inbox "$(setting home_inbox)" --remote-outbox "$(setting remote_outbox)" \
    --remote-table "$(setting remote_table)" --remote-inbox "$(setting remote_inbox)"
}
# Polls `bridge-avs status` until it prints $1, for up to 60 s.
until_status() {
  local deadline=$((SECONDS + 60)) out
  while ((SECONDS < deadline)); do
    out=$(status 2>&1 || true)
    if [[ $out == *"$1"* ]]; then return 0; fi
    sleep 0.5
  done
  status
  echo "bridge devnet: no '$1' within 60 s; logs in templates/bridge/$DIR" >&2
  return 1
}

echo "== lock 10 on home"
"$BULWARK" devnet fund "$OWNER" --amount 10
started=$(date +%s.%N)
"$BRIDGE" lock --rpc-url "$HOME_RPC" --vault "$(setting vault)" --key-file "$DIR/owner.key" --amount 10
until_status "home 31337 -> remote 31338: 0 sent, 0 deep, 1 executed, 0 forged"
echo "   executed on remote after $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$started" "$(date +%s.%N)") s (1 s blocks, 3 confirmations)"

echo "== burn 4 on remote"
"$BRIDGE" burn --remote-rpc-url "$(setting remote_rpc_url)" --wrapped "$(setting wrapped)" --key-file "$DIR/owner.key" --amount 4
until_status "remote 31338 -> home 31337: 0 sent, 0 deep, 1 executed, 0 forged"
status

echo "== bulwark devnet down"
"$BULWARK" devnet down
trap - EXIT
echo "== bridge devnet: every step passed"
