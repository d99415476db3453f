#!/usr/bin/env python3
"""Copies the ABI and bytecode of the contracts Rust deploys and calls from forge's
output to the artifacts folders where alloy's `sol!` reads them: the framework's
(contracts/out -> framework/chain/artifacts) and the examples' (examples/*/out ->
examples/*/artifacts).

The Rust build then needs no node, forge or solc; `make test` runs `--check` after a
forge build so the committed artifacts cannot drift from the Solidity source.

    export_artifacts.py --write | --check
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# (forge output folder, artifacts folder, contracts), relative to the repository.
PROJECTS = [
    ("contracts/out", "framework/chain/artifacts", ["BasicAVS", "RestakingCore", "LiquidStakingToken", "RewardsDistributor", "SlashVeto", "EigenLayerRestaking", "OperatorSetLens"]),
    ("examples/hello/out", "examples/hello/artifacts", ["HelloAVS"]),
    ("templates/oracle/out", "templates/oracle/artifacts", ["OracleAVS"]),
    ("templates/bridge/out", "templates/bridge/artifacts", ["BridgeHome", "Outbox", "OperatorTable", "Inbox", "HomeInbox", "TokenBridge:TokenVault", "TokenBridge:WrappedToken"]),
]


def artifact(out: str, name: str) -> str:
    """`name` is a contract in its own `name.sol`, or `File:Contract`."""
    source, _, name = name.rpartition(":")
    with open(os.path.join(ROOT, out, f"{source or name}.sol", f"{name}.json")) as f:
        full = json.load(f)
    slim = {
        "abi": full["abi"],
        "bytecode": {"object": full["bytecode"]["object"]},
        "deployedBytecode": {"object": full["deployedBytecode"]["object"]},
    }
    return json.dumps(slim, indent=1, sort_keys=True) + "\n"


def main(argv) -> int:
    if len(argv) != 2 or argv[1] not in ("--write", "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    stale = []
    names = []
    for out, dest, contracts in PROJECTS:
        for name in contracts:
            names.append(name)
            text = artifact(out, name)
            path = os.path.join(ROOT, dest, f"{name.rpartition(':')[2]}.json")
            if argv[1] == "--write":
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(text)
            else:
                try:
                    with open(path) as f:
                        current = f.read()
                except FileNotFoundError:
                    current = None
                if current != text:
                    stale.append(os.path.relpath(path, ROOT))
    if stale:
        print(f"stale artifacts: {', '.join(stale)}; run `make artifacts`", file=sys.stderr)
        return 1
    print(("wrote" if argv[1] == "--write" else "up to date:") + " " + ", ".join(names))
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
