#!/usr/bin/env python3
"""Copies the ABI and bytecode of the contracts Rust deploys and calls from forge's
output (contracts/out) to framework/chain/artifacts, where alloy's `sol!` reads them.

The Rust build then needs no node, forge or solc; `make test` runs `--check` after a
forge build so the committed artifacts cannot drift from the Solidity source.

    export_artifacts.py --write | --check
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "contracts", "out")
DEST = os.path.join(ROOT, "framework", "chain", "artifacts")
CONTRACTS = ["BasicAVS", "RestakingCore", "LiquidStakingToken"]


def artifact(name: str) -> str:
    with open(os.path.join(OUT, f"{name}.sol", f"{name}.json")) as f:
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
    for name in CONTRACTS:
        text = artifact(name)
        path = os.path.join(DEST, f"{name}.json")
        if argv[1] == "--write":
            with open(path, "w") as f:
                f.write(text)
        else:
            try:
                with open(path) as f:
                    current = f.read()
            except FileNotFoundError:
                current = None
            if current != text:
                stale.append(name)
    if stale:
        print(f"stale artifacts in framework/chain/artifacts: {', '.join(stale)}; run `make artifacts`", file=sys.stderr)
        return 1
    print(("wrote" if argv[1] == "--write" else "up to date:") + " " + ", ".join(CONTRACTS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
