#!/usr/bin/env python3
"""Smoke test for the artifacts fetch.sh writes: deploy EigenLayer's core on anvil.

Usage: smoke.py ARTIFACT_DIR [--anvil PATH]

Starts anvil (Osaka) on a free loopback port, then, from anvil's default
accounts and with raw JSON-RPC only (python3 stdlib):

  1. ProxyAdmin, PauserRegistry, EmptyContract, and one
     TransparentUpgradeableProxy(EmptyContract, ProxyAdmin, "") per core contract;
  2. the implementations, wired to the proxy addresses (EigenPod + its
     UpgradeableBeacon first, StrategyBase + its beacon for StrategyFactory);
  3. ProxyAdmin.upgradeAndCall(proxy, impl, initialize(...)) for each
     (PermissionController has no initializer: plain upgrade);
  4. StrategyFactory.deployNewStrategy(MockERC20) -> a whitelisted strategy,
     a staker deposits into it;
  5. an AVS: createOperatorSets before updateAVSMetadataURI must revert with
     NonexistentAVSMetadata; after it, it succeeds; setAVSRegistrar;
  6. an operator registerAsOperator + registerForOperatorSets, and
     isMemberOfOperatorSet is true.

Keccak is asked of anvil (web3_sha3), so no third-party module is needed.
Stops anvil on exit, also on failure.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
# The native binary `make tools` links, else the npm package's launcher.
DEFAULT_ANVIL = next((p for p in (os.path.join(HERE, "..", "bin", "anvil"),
                                  os.path.join(HERE, "..", "node_modules", ".bin", "anvil"))
                      if os.path.exists(p)), "anvil")


class Rpc:
    def __init__(self, url):
        self.url = url

    def __call__(self, method, params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            reply = json.load(resp)
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]


class RpcError(Exception):
    def __init__(self, method, err):
        super().__init__("%s: %s" % (method, err))
        self.err = err

    def revert_data(self):
        d = self.err.get("data")
        if isinstance(d, dict):
            d = d.get("data")
        return d if isinstance(d, str) and d.startswith("0x") else None


# ---------------------------------------------------------------- ABI encoding

def _is_dynamic(t, comps):
    if t in ("string", "bytes"):
        return True
    if t.endswith("[]"):
        return True
    if t.endswith("]"):
        return _is_dynamic(t[:t.rindex("[")], comps)
    if t == "tuple":
        return any(_is_dynamic(c["type"], c.get("components")) for c in comps)
    return False


def _enc_static_word(t, v):
    if t == "address":
        return bytes(12) + bytes.fromhex(v[2:].rjust(40, "0"))
    if t == "bool":
        return (1 if v else 0).to_bytes(32, "big")
    if t.startswith("uint"):
        return int(v).to_bytes(32, "big")
    if t.startswith("int"):
        return int(v).to_bytes(32, "big", signed=True)
    if t.startswith("bytes"):
        b = bytes.fromhex(v[2:]) if isinstance(v, str) else v
        return b.ljust(32, b"\0")
    raise ValueError("unsupported type " + t)


def encode_one(t, comps, v):
    if t == "tuple":
        vals = [v[c["name"]] for c in comps] if isinstance(v, dict) else v
        return encode_seq([(c["type"], c.get("components")) for c in comps], vals)
    if t.endswith("[]"):
        inner = t[:-2]
        return len(v).to_bytes(32, "big") + encode_seq([(inner, comps)] * len(v), v)
    if t in ("string", "bytes"):
        b = v.encode() if isinstance(v, str) and t == "string" else (
            bytes.fromhex(v[2:]) if isinstance(v, str) else v)
        pad = (32 - len(b) % 32) % 32
        return len(b).to_bytes(32, "big") + b + bytes(pad)
    return _enc_static_word(t, v)


def encode_seq(types, vals):
    heads, tails = [], []
    head_len = 0
    for t, comps in types:
        head_len += 32 if _is_dynamic(t, comps) else 32 * _static_words(t, comps)
    for (t, comps), v in zip(types, vals):
        enc = encode_one(t, comps, v)
        if _is_dynamic(t, comps):
            heads.append((head_len + sum(len(x) for x in tails)).to_bytes(32, "big"))
            tails.append(enc)
        else:
            heads.append(enc)
    return b"".join(heads) + b"".join(tails)


def _static_words(t, comps):
    """Head size in words of a static type (only tuples span several words here)."""
    if t == "tuple":
        return sum(_static_words(c["type"], c.get("components")) for c in comps)
    if t.endswith("]"):  # static fixed-size array T[k]
        return int(t[t.rindex("[") + 1:-1]) * _static_words(t[:t.rindex("[")], comps)
    return 1


def canonical(p):
    t = p["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(canonical(c) for c in p["components"]) + ")" + t[5:]
    return t


# ---------------------------------------------------------------- contracts

class Chain:
    def __init__(self, rpc, art_dir):
        self.rpc = rpc
        self.art_dir = art_dir
        self.arts = {}
        self.accounts = rpc("eth_accounts", [])
        self._sel = {}

    def art(self, name):
        if name not in self.arts:
            with open(os.path.join(self.art_dir, name + ".json"), encoding="utf-8") as f:
                self.arts[name] = json.load(f)
        return self.arts[name]

    def keccak(self, data):
        return self.rpc("web3_sha3", ["0x" + data.hex()])

    def selector(self, sig):
        if sig not in self._sel:
            self._sel[sig] = self.keccak(sig.encode())[:10]
        return self._sel[sig]

    def decode_error(self, data):
        if not data or len(data) < 10:
            return data
        for art in self.arts.values():
            for it in art["abi"]:
                if it["type"] == "error":
                    sig = "%s(%s)" % (it["name"], ",".join(canonical(p) for p in it["inputs"]))
                    if self.selector(sig) == data[:10]:
                        return sig
        return data

    def _send(self, frm, to, data, what):
        tx = {"from": frm, "data": "0x" + data.hex(), "gas": hex(16_000_000)}
        if to:
            tx["to"] = to
        try:
            # eth_call first so a revert shows its reason instead of a bare status 0
            self.rpc("eth_call", [tx, "latest"])
        except RpcError as e:
            raise SystemExit("FAIL %s reverted: %s" % (what, self.decode_error(e.revert_data()) or e))
        h = self.rpc("eth_sendTransaction", [tx])
        rcpt = None
        for _ in range(200):  # automine is quick but not synchronous with the reply
            rcpt = self.rpc("eth_getTransactionReceipt", [h])
            if rcpt is not None:
                break
            time.sleep(0.05)
        if rcpt is None or rcpt["status"] != "0x1":
            raise SystemExit("FAIL %s: receipt %s" % (what, rcpt))
        return rcpt

    def deploy(self, name, *args, frm=None, code=None, label=None):
        art = self.art(name)
        ctor = [i for i in art["abi"] if i["type"] == "constructor"]
        inputs = ctor[0]["inputs"] if ctor else []
        data = bytes.fromhex((code or art["bytecode"]["object"])[2:]) + encode_seq(
            [(p["type"], p.get("components")) for p in inputs], list(args))
        rcpt = self._send(frm or self.accounts[0], None, data, "deploy " + name)
        addr = rcpt["contractAddress"]
        code = self.rpc("eth_getCode", [addr, "latest"])
        if len(code) <= 2:
            raise SystemExit("FAIL %s deployed no code" % name)
        print("  %-28s %s  (%d bytes runtime)" % (label or name, addr, (len(code) - 2) // 2))
        return addr

    def calldata(self, name, fn, *args):
        items = [i for i in self.art(name)["abi"] if i["type"] == "function" and i["name"] == fn
                 and len(i["inputs"]) == len(args)]
        if len(items) != 1:
            raise SystemExit("FAIL %s.%s/%d: %d matches in ABI" % (name, fn, len(args), len(items)))
        it = items[0]
        sig = "%s(%s)" % (fn, ",".join(canonical(p) for p in it["inputs"]))
        return bytes.fromhex(self.selector(sig)[2:]) + encode_seq(
            [(p["type"], p.get("components")) for p in it["inputs"]], list(args))

    def send(self, name, addr, fn, *args, frm=None):
        return self._send(frm or self.accounts[0], addr, self.calldata(name, fn, *args),
                          "%s.%s" % (name, fn))

    def expect_revert(self, name, addr, fn, *args, frm=None):
        tx = {"from": frm or self.accounts[0], "to": addr,
              "data": "0x" + self.calldata(name, fn, *args).hex()}
        try:
            self.rpc("eth_call", [tx, "latest"])
        except RpcError as e:
            return self.decode_error(e.revert_data())
        raise SystemExit("FAIL %s.%s did not revert" % (name, fn))

    def call_word(self, name, addr, fn, *args):
        out = self.rpc("eth_call", [{"to": addr, "data": "0x" + self.calldata(name, fn, *args).hex()},
                                    "latest"])
        return int(out[2:66] or "0", 16)


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL " + what)
    print("  ok: " + what)


def run(ch):
    owner, pauser, avs, operator, staker = ch.accounts[:5]
    VERSION = "v1.3.0"
    ZERO = "0x" + "00" * 20
    ETH_POS = "0x00000000219ab540356cBB839Cbe05303d7705Fa"  # only stored by EigenPod(Manager)

    print("proxies and shared contracts:")
    proxy_admin = ch.deploy("ProxyAdmin")
    pauser_reg = ch.deploy("PauserRegistry", [pauser], owner)
    empty = ch.deploy("EmptyContract")
    core = ["DelegationManager", "StrategyManager", "AVSDirectory", "AllocationManager",
            "PermissionController", "EigenPodManager", "RewardsCoordinator", "StrategyFactory"]
    proxy = {}
    for c in core:
        proxy[c] = ch.deploy("TransparentUpgradeableProxy", empty, proxy_admin, b"")

    print("implementations (constructors take the proxy addresses):")
    impl = {}
    eigen_pod = ch.deploy("EigenPod", ETH_POS, proxy["EigenPodManager"], 0, VERSION)
    pod_beacon = ch.deploy("UpgradeableBeacon", eigen_pod)
    impl["DelegationManager"] = ch.deploy(
        "DelegationManager", proxy["StrategyManager"], proxy["EigenPodManager"],
        proxy["AllocationManager"], pauser_reg, proxy["PermissionController"], 10, VERSION)
    impl["StrategyManager"] = ch.deploy("StrategyManager", proxy["DelegationManager"], pauser_reg, VERSION)
    impl["AVSDirectory"] = ch.deploy("AVSDirectory", proxy["DelegationManager"], pauser_reg, VERSION)
    impl["AllocationManager"] = ch.deploy(
        "AllocationManager", proxy["DelegationManager"], pauser_reg, proxy["PermissionController"],
        10, 1, VERSION)
    impl["PermissionController"] = ch.deploy("PermissionController", VERSION)
    impl["EigenPodManager"] = ch.deploy(
        "EigenPodManager", ETH_POS, pod_beacon, proxy["DelegationManager"], pauser_reg, VERSION)
    impl["RewardsCoordinator"] = ch.deploy("RewardsCoordinator", {
        "delegationManager": proxy["DelegationManager"], "strategyManager": proxy["StrategyManager"],
        "allocationManager": proxy["AllocationManager"], "pauserRegistry": pauser_reg,
        "permissionController": proxy["PermissionController"],
        "CALCULATION_INTERVAL_SECONDS": 86400, "MAX_REWARDS_DURATION": 6048000,
        "MAX_RETROACTIVE_LENGTH": 7776000, "MAX_FUTURE_LENGTH": 2592000,
        "GENESIS_REWARDS_TIMESTAMP": 1710979200, "version": VERSION})
    impl["StrategyFactory"] = ch.deploy("StrategyFactory", proxy["StrategyManager"], pauser_reg, VERSION)
    strategy_base = ch.deploy("StrategyBase", proxy["StrategyManager"], pauser_reg, VERSION)
    strategy_beacon = ch.deploy("UpgradeableBeacon", strategy_base)

    print("upgrade proxies and initialize:")
    inits = {
        "DelegationManager": ch.calldata("DelegationManager", "initialize", owner, 0),
        "StrategyManager": ch.calldata("StrategyManager", "initialize", owner, proxy["StrategyFactory"], 0),
        "AVSDirectory": ch.calldata("AVSDirectory", "initialize", owner, 0),
        "AllocationManager": ch.calldata("AllocationManager", "initialize", owner, 0),
        "EigenPodManager": ch.calldata("EigenPodManager", "initialize", owner, 0),
        "RewardsCoordinator": ch.calldata("RewardsCoordinator", "initialize", owner, 0, owner, 7200, 1000),
        "StrategyFactory": ch.calldata("StrategyFactory", "initialize", owner, 0, strategy_beacon),
    }
    for c in core:
        if c in inits:
            ch.send("ProxyAdmin", proxy_admin, "upgradeAndCall", proxy[c], impl[c], inits[c])
        else:  # PermissionController: no initializer
            ch.send("ProxyAdmin", proxy_admin, "upgrade", proxy[c], impl[c])
        print("  %-28s -> %s" % (c, impl[c]))
    for c in inits:
        o = ch.call_word(c, proxy[c], "owner")
        check(o == int(owner, 16), "%s.owner() through its proxy is the owner" % c)

    print("strategies and deposits:")
    token = ch.deploy("MockERC20")
    ch.send("StrategyFactory", proxy["StrategyFactory"], "deployNewStrategy", token)
    strategy = "0x%040x" % ch.call_word("StrategyFactory", proxy["StrategyFactory"], "deployedStrategies", token)
    check(int(strategy, 16) != 0, "StrategyFactory deployed a strategy %s" % strategy)
    check(ch.call_word("StrategyManager", proxy["StrategyManager"], "strategyIsWhitelistedForDeposit",
                       strategy) == 1, "the strategy is whitelisted in StrategyManager")
    amount = 10 ** 21
    ch.send("MockERC20", token, "mint", staker, amount)
    ch.send("MockERC20", token, "approve", proxy["StrategyManager"], amount, frm=staker)
    ch.send("StrategyManager", proxy["StrategyManager"], "depositIntoStrategy", strategy, token, amount,
            frm=staker)
    check(ch.call_word("StrategyManager", proxy["StrategyManager"], "stakerDepositShares", staker, strategy)
          == amount, "staker holds deposit shares")

    print("AVS and operator sets:")
    am = proxy["AllocationManager"]
    err = ch.expect_revert("AllocationManager", am, "createOperatorSets", avs, [(0, [strategy])], frm=avs)
    check(err == "NonexistentAVSMetadata()", "createOperatorSets before updateAVSMetadataURI reverts (%s)" % err)
    ch.send("AllocationManager", am, "updateAVSMetadataURI", avs, "https://bulwark.invalid/avs.json", frm=avs)
    ch.send("AllocationManager", am, "createOperatorSets", avs, [(0, [strategy])], frm=avs)
    check(ch.call_word("AllocationManager", am, "getOperatorSetCount", avs) == 1, "operator set 0 exists")
    # A registrar that answers 32 bytes of 1 to everything: supportsAVS() -> true,
    # registerOperator() -> succeeds.
    registrar_code = "0x69600160005260206000f3600052600a6016f3"
    registrar = ch.deploy("EmptyContract", code=registrar_code, label="(stub AVSRegistrar)")
    ch.send("AllocationManager", am, "setAVSRegistrar", avs, registrar, frm=avs)
    ch.send("DelegationManager", proxy["DelegationManager"], "registerAsOperator", ZERO, 0,
            "https://bulwark.invalid/op.json", frm=operator)
    check(ch.call_word("DelegationManager", proxy["DelegationManager"], "isOperator", operator) == 1,
          "registerAsOperator")
    ch.send("AllocationManager", am, "registerForOperatorSets", operator, (avs, [0], b""), frm=operator)
    check(ch.call_word("AllocationManager", am, "isMemberOfOperatorSet", operator, (avs, 0)) == 1,
          "operator is a member of operator set (avs, 0)")
    print("smoke: PASS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    art_dir = argv[0]
    anvil = argv[argv.index("--anvil") + 1] if "--anvil" in argv else DEFAULT_ANVIL
    port = free_port()
    proc = subprocess.Popen([anvil, "--hardfork", "osaka", "--host", "127.0.0.1", "--port", str(port),
                             "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # own process group: the npm launcher forks
    try:
        rpc = Rpc("http://127.0.0.1:%d" % port)
        for _ in range(100):
            try:
                rpc("eth_chainId", [])
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit("FAIL anvil exited: %s" % proc.stderr.read().decode())
                time.sleep(0.1)
        else:
            raise SystemExit("FAIL anvil did not answer")
        run(Chain(rpc, art_dir))
    finally:
        # Stop anvil (and a launcher's child) by the process group this script created.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
