#!/usr/bin/env python3
"""Extract EigenLayer contract artifacts from the alloy bindings shipped in
crates.io packages (eigen-utils, eigenlayer-contract-deployer).

The bindings are `forge bind --alloy` output: one Rust file per contract whose
leading doc comment holds the contract's JSON ABI (a ```json fenced block) and
whose `pub mod <Contract>` holds

    /// The creation / init bytecode of the contract.
    /// ```text
    ///0x6080...
    /// ```
    pub static BYTECODE: ... = ...::from_static(b"...");

(and the same for DEPLOYED_BYTECODE).  We take the hex from the doc comment and
cross-check it against the decoded Rust byte-string literal that is actually
compiled into the crate, so a doc/code mismatch fails loudly.

Output: OUT_DIR/<Contract>.json shaped like a forge artifact, readable by
alloy's `sol!(#[sol(rpc)] Contract, "Contract.json")`:

    {"abi": [...], "bytecode": {"object": "0x..."},
     "deployedBytecode": {"object": "0x..."}}

Usage:
    extract.py --eigen-utils DIR --deployer DIR OUT_DIR     # write artifacts
    extract.py --describe OUT_DIR                           # print ctor/init sigs

Python 3 standard library only.  No bytecode or ABI lives in this repository:
everything is read from the crate sources that `cargo fetch` downloaded.
"""

import argparse
import json
import os
import re
import sys

# Contract -> (crate key, path inside the crate).  The slashing-release core
# comes from eigen-utils (Layr-Labs' own SDK); what it lacks comes from
# eigenlayer-contract-deployer.
CONTRACTS = {
    # eigen-utils 2.0.0, src/slashing/...
    "AllocationManager": ("eigen-utils", "src/slashing/core/allocation_manager.rs"),
    "DelegationManager": ("eigen-utils", "src/slashing/core/delegation_manager.rs"),
    "StrategyManager": ("eigen-utils", "src/slashing/core/strategy_manager.rs"),
    "AVSDirectory": ("eigen-utils", "src/slashing/core/avs_directory.rs"),
    "PermissionController": ("eigen-utils", "src/slashing/core/permission_controller.rs"),
    "EigenPodManager": ("eigen-utils", "src/slashing/core/eigen_pod_manager.rs"),
    "EigenPod": ("eigen-utils", "src/slashing/core/eigen_pod.rs"),
    "MockERC20": ("eigen-utils", "src/slashing/sdk/mock_erc20.rs"),
    # eigenlayer-contract-deployer 0.4.0, src/bindings/core/...
    "PauserRegistry": ("deployer", "src/bindings/core/pauser_registry.rs"),
    "StrategyBase": ("deployer", "src/bindings/core/strategy_base.rs"),
    "StrategyFactory": ("deployer", "src/bindings/core/strategy_factory.rs"),
    "RewardsCoordinator": ("deployer", "src/bindings/core/rewards_coordinator.rs"),
    "TransparentUpgradeableProxy": ("deployer", "src/bindings/core/transparent_upgradeable_proxy.rs"),
    "ProxyAdmin": ("deployer", "src/bindings/core/proxy_admin.rs"),
    "UpgradeableBeacon": ("deployer", "src/bindings/core/upgradeable_beacon.rs"),
    "EmptyContract": ("deployer", "src/bindings/core/empty_contract.rs"),
}

# Core contracts that both crates ship; used only for a consistency report.
DEPLOYER_TWINS = {
    "AllocationManager": "src/bindings/core/allocation_manager.rs",
    "DelegationManager": "src/bindings/core/delegation_manager.rs",
    "StrategyManager": "src/bindings/core/strategy_manager.rs",
    "AVSDirectory": "src/bindings/core/avs_directory.rs",
    "PermissionController": "src/bindings/core/permission_controller.rs",
    "EigenPodManager": "src/bindings/core/eigen_pod_manager.rs",
    "EigenPod": "src/bindings/core/eigen_pod.rs",
}


class ExtractError(Exception):
    pass


_SIMPLE_ESCAPES = {"n": 0x0A, "r": 0x0D, "t": 0x09, "\\": 0x5C, "0": 0x00, "'": 0x27, '"': 0x22}


def decode_rust_byte_string(body):
    """Decode the contents of a Rust b"..." literal (without the quotes)."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            if ord(c) > 0x7F:
                raise ExtractError("non-ASCII character in byte string")
            if c == "\r":  # CRLF inside the literal is normalised to LF
                i += 1
                continue
            out.append(ord(c))
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "\r\n":  # line continuation: skip the newline and leading whitespace
            i += 1
            while i < n and body[i] in " \t\r\n":
                i += 1
        else:
            raise ExtractError("unknown escape \\%s in byte string" % e)
    return bytes(out)


def _find_static(text, name):
    """Return (doc_hex, literal_bytes) of `pub static NAME` in the module."""
    m = re.search(r"pub static %s\s*:[^=]*=\s*[\w:]*from_static\(\s*b\"" % name, text)
    if not m:
        raise ExtractError("no `pub static %s` found" % name)
    start = m.end()
    # Find the closing quote: a '"' not preceded by an odd number of backslashes.
    j = start
    while True:
        j = text.index('"', j)
        k = j - 1
        bs = 0
        while text[k] == "\\":
            bs += 1
            k -= 1
        if bs % 2 == 0:
            break
        j += 1
    literal = decode_rust_byte_string(text[start:j])
    # The doc comment right above: ```text / ///0x... / ```
    head = text[:m.start()]
    docs = re.findall(r"///\s*(0x[0-9a-fA-F]*)\s*\n", head[-(len(literal) * 2 + 2000):])
    doc_hex = docs[-1].lower() if docs else None
    return doc_hex, literal


def parse_binding(path, contract):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # The ABI: first ```json fenced block of the file's leading doc comment.
    m = re.search(r"which was generated by the following JSON ABI:\s*```json\s*\n(.*?)\n```", text, re.S)
    if not m:
        raise ExtractError("%s: no JSON ABI block" % path)
    abi = json.loads(m.group(1))
    if not isinstance(abi, list):
        raise ExtractError("%s: ABI is not a list" % path)
    mod = re.search(r"^pub mod %s \{" % re.escape(contract), text, re.M)
    if not mod:
        raise ExtractError("%s: no `pub mod %s`" % (path, contract))
    body = text[mod.start():]
    result = {"abi": abi}
    for static, key in (("BYTECODE", "bytecode"), ("DEPLOYED_BYTECODE", "deployedBytecode")):
        doc_hex, literal = _find_static(body, static)
        lit_hex = "0x" + literal.hex()
        if doc_hex is not None and doc_hex != lit_hex:
            raise ExtractError("%s: %s doc comment and byte literal differ" % (path, static))
        if len(literal) == 0:
            raise ExtractError("%s: %s is empty (interface or abstract contract?)" % (path, static))
        if "__$" in lit_hex:
            raise ExtractError("%s: %s has unlinked library placeholders" % (path, static))
        result[key] = {"object": lit_hex}
    return result


def write_if_changed(path, data):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def extract(roots, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    written = 0
    artifacts = {}
    for contract, (crate, rel) in sorted(CONTRACTS.items()):
        path = os.path.join(roots[crate], rel)
        art = parse_binding(path, contract)
        artifacts[contract] = art
        data = json.dumps(art, indent=1) + "\n"
        if write_if_changed(os.path.join(out_dir, contract + ".json"), data):
            written += 1
    # Report whether the deployer crate ships the very same core bytecode.
    differ, abi_differ = [], []
    for contract, rel in sorted(DEPLOYER_TWINS.items()):
        twin = parse_binding(os.path.join(roots["deployer"], rel), contract)
        if twin["bytecode"] != artifacts[contract]["bytecode"]:
            differ.append(contract)
        if twin["abi"] != artifacts[contract]["abi"]:
            abi_differ.append(contract)
    print("extract.py: %d artifacts in %s (%d rewritten)" % (len(CONTRACTS), out_dir, written))
    if differ:
        print("extract.py: note: eigenlayer-contract-deployer ships different creation bytecode for: "
              + ", ".join(differ) + " (eigen-utils' is used; the ABIs are "
              + ("identical" if not abi_differ else "different for " + ", ".join(abi_differ)) + ")")
    return artifacts


def _type(p):
    t = p["type"]
    if t.startswith("tuple"):
        inner = ", ".join(_type(c) + " " + c.get("name", "") for c in p["components"])
        t = "(" + inner + ")" + t[len("tuple"):]
    return t


def signature(item, name=None):
    args = ", ".join((_type(p) + " " + p.get("name", "")).strip() for p in item.get("inputs", []))
    return "%s(%s)" % (name or item.get("name", item["type"]), args)


def describe(out_dir):
    for contract in sorted(CONTRACTS):
        with open(os.path.join(out_dir, contract + ".json"), encoding="utf-8") as f:
            art = json.load(f)
        ctor = [i for i in art["abi"] if i["type"] == "constructor"]
        inits = [i for i in art["abi"] if i["type"] == "function" and i["name"] == "initialize"]
        print("%s (%s; %d bytes creation code)" % (
            contract, "/".join(CONTRACTS[contract]), (len(art["bytecode"]["object"]) - 2) // 2))
        print("  constructor: " + (signature(ctor[0], "constructor") if ctor else "constructor()"))
        for i in inits:
            print("  " + signature(i))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eigen-utils", help="root of the eigen-utils crate source")
    ap.add_argument("--deployer", help="root of the eigenlayer-contract-deployer crate source")
    ap.add_argument("--describe", action="store_true", help="print constructor/initialize signatures")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    try:
        if a.describe:
            describe(a.out_dir)
            return 0
        if not (a.eigen_utils and a.deployer):
            ap.error("--eigen-utils and --deployer are required")
        extract({"eigen-utils": a.eigen_utils, "deployer": a.deployer}, a.out_dir)
    except (ExtractError, OSError, ValueError, KeyError) as e:
        print("extract.py: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
