#!/usr/bin/env bash
# `make demo`: the oracle template on a local devnet, run the way a user runs it with
# the bulwark CLI. Five operators (the last one faulty: it reads the wrong pairs), an
# aggregator with the round keeper, a local price server; prints the feeds as rounds
# land, the evidence kept against the faulty operator, then stops everything.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BULWARK=$ROOT/target/debug/bulwark
PROJECT=$ROOT/templates/oracle
STATE=$PROJECT/.bulwark/devnet.json
seconds=${DEMO_SECONDS:-30}
operators=${DEMO_OPERATORS:-5}

down() { "$BULWARK" devnet down --project "$PROJECT" >/dev/null 2>&1 || true; }
if [ -f "$STATE" ]; then down; fi
trap down EXIT
trap 'echo; echo "interrupted: stopping the devnet"; exit 130' INT TERM

echo "== bulwark devnet up: anvil, restaking core + OracleAVS, price server, aggregator + keeper, $operators operators (1 faulty)"
"$BULWARK" devnet up --project "$PROJECT" --operators "$operators" --no-build \
  --setup-arg=--faulty-operators=1

end=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$end" ]; do
  sleep 5
  echo
  echo "== $(date +%T) bulwark status: feeds"
  "$BULWARK" status --state "$STATE" | sed -n '/^oracle feeds/,$p'
done

echo
echo "== bulwark status"
status=$("$BULWARK" status --state "$STATE")
echo "$status"

evidence=$PROJECT/.bulwark/devnet/aggregator.evidence.jsonl
echo
echo "== evidence: reports left out of the median (signed, kept for slashing)"
if [ -f "$evidence" ]; then
  python3 - "$evidence" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
print(f"{len(records)} records")
for r in records[-3:]:
    print(f"  task {r['task_id']:>3}  operator {r['operator']}  {r['reason']}")
PY
else
  echo "none"
fi

echo
echo "== bulwark devnet down"
trap - EXIT
"$BULWARK" devnet down --project "$PROJECT"
if ! grep -Eq '^  (ETH|BTC)/USD +round +[0-9]+ ' <<<"$status"; then
  echo "no round landed" >&2
  exit 1
fi
