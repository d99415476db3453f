#!/usr/bin/env bash
# `make demo`: the oracle template on a local devnet, run the way a user runs it with
# the bulwark CLI, telling the whole restaking story:
#  1. anvil with the restaking core and OracleAVS; a price server; an aggregator with
#     the round keeper; five operators, the last one faulty (it reads the wrong pairs
#     and endorses the median anyway); a challenger following the aggregator;
#  2. two stakers deposit and delegate: Alice to the faulty operator, Bob to an
#     honest one; their exposure before anything happens;
#  3. rounds land; the faulty operator's far endorsements are proven by the
#     challenger and slashed on chain, and Alice's stake drops pro rata;
#  4. the AVS funds a rewards epoch, it is paid by the stake that signed, and each
#     staker's rewards are shown; `bulwark status` lists slashes and rewards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BULWARK=$ROOT/target/debug/bulwark
PROJECT=$ROOT/templates/oracle
STATE=$PROJECT/.bulwark/devnet.json
DIR=$PROJECT/.bulwark/devnet
seconds=${DEMO_SECONDS:-30}
operators=${DEMO_OPERATORS:-5}

down() { "$BULWARK" devnet down --project "$PROJECT" >/dev/null 2>&1 || true; }
if [ -f "$STATE" ]; then down; fi
trap down EXIT
trap 'echo; echo "interrupted: stopping the devnet"; exit 130' INT TERM

echo "== bulwark devnet up: anvil, restaking core + OracleAVS, price server, aggregator + keeper, $operators operators (1 faulty), a challenger"
"$BULWARK" devnet up --project "$PROJECT" --operators "$operators" --no-build \
  --setup-arg=--faulty-operators=1

field() { python3 -c "import json,sys; s=json.load(open('$STATE')); print($1)"; }
faulty=$(field "s['operators'][-1]['address']")
honest=$(field "s['operators'][0]['address']")
alice=$(field "s['spare_accounts'][0]['address']")
bob=$(field "s['spare_accounts'][1]['address']")
field "s['spare_accounts'][0]['private_key']" >"$DIR/alice.key"
field "s['spare_accounts'][1]['private_key']" >"$DIR/bob.key"
owner=$(field "s['owner']['address']")
stake_of() { "$BULWARK" staker exposure "$1" --state "$STATE" --json | python3 -c "import json,sys; print(int(json.load(sys.stdin)['stake'], 0) / 1e18)"; }

echo
echo "== stakers: Alice delegates 10 to the faulty operator $faulty, Bob 10 to $honest"
for who in alice bob; do
  address=${!who}
  operator=$([ "$who" = alice ] && echo "$faulty" || echo "$honest")
  "$BULWARK" devnet fund --project "$PROJECT" "$address" --amount 10 >/dev/null
  "$BULWARK" staker deposit --state "$STATE" --amount 10 --account-key-file "$DIR/$who.key"
  "$BULWARK" staker delegate --state "$STATE" --operator "$operator" --account-key-file "$DIR/$who.key"
done
echo
echo "== Alice's exposure before any round"
"$BULWARK" staker exposure "$alice" --state "$STATE"
alice_before=$(stake_of "$alice")
bob_before=$(stake_of "$bob")

end=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$end" ]; do
  sleep 5
  echo
  echo "== $(date +%T) bulwark status: slashes and feeds"
  now=$("$BULWARK" status --state "$STATE")
  grep -E '^slashes|^  0x.* lost ' <<<"$now" | head -4 || true
  sed -n '/^oracle feeds/,$p' <<<"$now"
done

echo
echo "== stakes: before the rounds and now (slashes fall pro rata on the operator's stakers)"
alice_after=$(stake_of "$alice")
bob_after=$(stake_of "$bob")
printf '  Alice (faulty operator): %8.4f -> %8.4f\n' "$alice_before" "$alice_after"
printf '  Bob   (honest operator): %8.4f -> %8.4f\n' "$bob_before" "$bob_after"

echo
head=$("$BULWARK" status --state "$STATE" | sed -n 's/^AVS .* at block \([0-9]*\)$/\1/p')
epoch=$((head / 20 - 1))
echo "== rewards: the AVS funds epoch $epoch (blocks $((epoch * 20))..$((epoch * 20 + 19)), over) with 50, split by the stake that signed"
"$BULWARK" devnet fund --project "$PROJECT" "$owner" --amount 50 >/dev/null
"$BULWARK" avs fund-rewards --state "$STATE" --epoch "$epoch" --amount 50
"$BULWARK" avs distribute-rewards --state "$STATE" --epoch "$epoch"
"$BULWARK" staker rewards "$alice" --state "$STATE"
"$BULWARK" staker rewards "$bob" --state "$STATE"
"$BULWARK" staker claim --state "$STATE" --account-key-file "$DIR/bob.key"

echo
echo "== bulwark status"
status=$("$BULWARK" status --state "$STATE")
echo "$status"

echo
echo "== bulwark devnet down"
trap - EXIT
"$BULWARK" devnet down --project "$PROJECT"
if ! grep -Eq '^  (ETH|BTC)/USD +round +[0-9]+ ' <<<"$status"; then
  echo "no round landed" >&2
  exit 1
fi
if grep -q '^slashes: 0$' <<<"$status"; then
  echo "the faulty operator was never slashed" >&2
  exit 1
fi
