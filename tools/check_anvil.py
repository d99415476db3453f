#!/usr/bin/env python3
"""Proves the pinned anvil works as Bulwark needs it.

For each fork Bulwark runs on, Osaka (the default everywhere) and Prague (kept green
in `make test`), starts `anvil --hardfork <fork>` on a free loopback port, checks the
chain answers, calls the EIP-2537 G1ADD precompile (G + G must equal 2G, computed
independently with py_ecc), and checks anvil really runs that fork: Osaka's CLZ opcode
(EIP-7939) must work on Osaka and be refused on Prague. Stops anvil, also on failure.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ANVIL = os.path.join(HERE, "bin", "anvil")  # the native binary `make tools` links

GEN = (
    "0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
    "0000000000000000000000000000000008b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1"
)
TWO_GEN = (
    "000000000000000000000000000000000572cbea904d67468808c8eb50a9450c9721db309128012543902d0ac358a62ae28f75bb8f1c7c42c39a8c5529bf0f4e"
    "00000000000000000000000000000000166a9d8cabc673a322fda673779d8e3822ba3ecb8670e461f73bb9021d5fd76a4c56d9d4cd16bd1bba86881979749d28"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        reply = json.load(resp)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


# Init code that returns CLZ(1) = 255 as a word: PUSH1 1, CLZ, PUSH1 0, MSTORE,
# PUSH1 32, PUSH1 0, RETURN. CLZ (0x1e) exists from Osaka on.
CLZ_PROBE = "0x60011e60005260206000f3"
HARDFORKS = ("osaka", "prague")


def check(hardfork: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [ANVIL, "--hardfork", hardfork, "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                chain_id = int(rpc(url, "eth_chainId", []), 16)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"anvil exited: {proc.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    raise RuntimeError("anvil did not answer within 30 s")
                time.sleep(0.1)
        out = rpc(url, "eth_call", [{"to": "0x000000000000000000000000000000000000000b", "data": "0x" + GEN + GEN}, "latest"])
        if out[2:] != TWO_GEN:
            raise RuntimeError(f"{hardfork}: G1ADD(G, G) returned {out}, expected 2G")
        try:
            clz = int(rpc(url, "eth_call", [{"data": CLZ_PROBE}, "latest"]), 16)
        except RuntimeError:
            clz = None
        if hardfork == "osaka" and clz != 255:
            raise RuntimeError(f"osaka: CLZ(1) gave {clz}, expected 255: is this anvil on Osaka?")
        if hardfork != "osaka" and clz is not None:
            raise RuntimeError(f"{hardfork}: CLZ ran, so anvil ignored --hardfork {hardfork}")
        print(
            f"anvil ok: --hardfork {hardfork} on 127.0.0.1:{port}, chain id {chain_id}, "
            f"EIP-2537 G1ADD(G, G) = 2G, CLZ {'works' if clz is not None else 'refused'}"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    for hardfork in HARDFORKS:
        check(hardfork)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as err:  # report, never leave anvil behind (the finally above)
        print(f"anvil check failed: {err}", file=sys.stderr)
        sys.exit(1)
