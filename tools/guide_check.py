#!/usr/bin/env python3
"""Runs a guide in docs/ as a reader would, so it cannot drift from what works.

    guide_check.py docs/first-avs.md

In a fresh temporary folder, in document order:
- every ```sh block runs in bash (-euo pipefail); the folder it ends in and the
  variables it exports carry over to the next block;
- every ```diff file=PATH block is applied to PATH: its '-' and ' ' lines must occur
  exactly once, and become its '+' and ' ' lines;
- HTML comments steer the run without showing in the rendered guide:
  `<!-- guide: skip -->` (the next block is shown, not run: setup done here already),
  `<!-- guide: hidden CMD -->` (a command the test needs, e.g. sharing the checkout's
  target folder so dependencies compile once),
  `<!-- guide: start-clock -->` (the clock for the figure below starts at the next
  block), `<!-- guide: until "REGEX" [first-certificate] -->` (the next block runs
  again every second, up to 180 s, until its output matches REGEX; with
  first-certificate, the time from the clock's start is printed).

The reader's shell is reproduced: PATH is this checkout's target/debug (for `bulwark`,
as the guide's setup puts it there) before the system's, without the Makefile's
tools/bin, so the guide's own PATH line for forge is what makes forge found. Two
things differ from a reader's machine: keys go to a temporary folder
(BULWARK_KEYS_DIR), and the project builds in this checkout's target folder, so
Bulwark's dependencies are compiled already and the time printed is the one after
`make cli`. Each block has 20 minutes; a devnet left running by a failed step is
stopped.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRECTIVE = re.compile(r"<!--\s*guide:\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\S*)\s*(.*)$")
UNTIL_SECONDS = 180
STEP_SECONDS = 20 * 60


def parse(text):
    """The guide's steps: (kind, info, body, directives) in order."""
    steps, pending = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        d = DIRECTIVE.fullmatch(line.strip())
        if d:
            words = d.group(1)
            if words.startswith("hidden "):
                steps.append(("sh", "", words[len("hidden "):], ["hidden"]))
            else:
                pending.append(words)
            i += 1
            continue
        fence = FENCE.match(line)
        if fence and fence.group(1):
            lang, info = fence.group(1), fence.group(2)
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            steps.append((lang, info, "\n".join(body), pending))
            pending = []
        i += 1
    return steps


def apply_diff(cwd, info, body):
    m = re.fullmatch(r"file=(\S+)", info.strip())
    if not m:
        raise SystemExit(f"a diff block needs file=PATH, not {info!r}")
    path = os.path.join(cwd, m.group(1))
    old = "\n".join(l[1:] for l in body.splitlines() if l[:1] in ("-", " "))
    new = "\n".join(l[1:] for l in body.splitlines() if l[:1] in ("+", " "))
    with open(path) as f:
        text = f.read()
    if text.count(old) != 1:
        raise SystemExit(f"{m.group(1)}: the guide's text to replace occurs {text.count(old)} times:\n{old}")
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    print(f"$ (edit {m.group(1)})\n{body}")


def run_sh(body, state, cwd, echo=True):
    """Runs body in bash from cwd with the exported state; returns (ok, output, cwd)."""
    with tempfile.NamedTemporaryFile("r", delete=False) as env_out, \
         tempfile.NamedTemporaryFile("r", delete=False) as cwd_out:
        script = (
            f"{state}\nset -euo pipefail\ncd {shlex.quote(cwd)}\n{body}\n"
            f"export -p > {shlex.quote(env_out.name)}\npwd > {shlex.quote(cwd_out.name)}\n"
        )
        if echo:
            print("\n".join("$ " + l for l in body.splitlines() if l.strip()), flush=True)
        try:
            proc = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=STEP_SECONDS)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            return False, out + f"\n(timed out after {STEP_SECONDS} s)\n", state, cwd
        new_state = open(env_out.name).read() or state
        new_cwd = open(cwd_out.name).read().strip() or cwd
    os.unlink(env_out.name)
    os.unlink(cwd_out.name)
    return proc.returncode == 0, proc.stdout, new_state, new_cwd


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        steps = parse(f.read())
    work = tempfile.mkdtemp(prefix="bulwark-guide-")
    tools_bin = os.path.join(ROOT, "tools", "bin")
    system_path = ":".join(p for p in os.environ.get("PATH", "").split(":")
                           if p and os.path.realpath(p) != os.path.realpath(tools_bin))
    env_setup = "\n".join([
        f"export PATH={shlex.quote(os.path.join(ROOT, 'target', 'debug') + ':' + system_path)}",
        f"export BULWARK_KEYS_DIR={shlex.quote(os.path.join(work, 'keys'))}",
        f"export BULWARK_TARGET={shlex.quote(os.path.join(ROOT, 'target'))}",
    ])
    state, cwd = env_setup, work
    clock = None
    try:
        for lang, info, body, directives in steps:
            if "skip" in directives:
                continue
            if lang == "diff":
                apply_diff(cwd, info, body)
                continue
            if lang != "sh":
                continue
            if "start-clock" in directives:
                clock = time.monotonic()
            until = next((d for d in directives if d.startswith("until ")), None)
            if until is None:
                ok, out, state, cwd = run_sh(body, state, cwd, echo="hidden" not in directives)
                print(out, end="", flush=True)
                if not ok:
                    print(f"guide step failed:\n{body}", file=sys.stderr)
                    return 1
                continue
            m = re.fullmatch(r'until\s+"((?:[^"\\]|\\.)*)"\s*(first-certificate)?', until)
            if not m:
                raise SystemExit(f"bad directive {until!r}")
            pattern = re.compile(m.group(1).replace('\\"', '"'))
            deadline = time.monotonic() + UNTIL_SECONDS
            echo = True
            while True:
                ok, out, state, cwd = run_sh(body, state, cwd, echo=echo)
                echo = False
                if ok and pattern.search(out):
                    print(out, end="", flush=True)
                    break
                if time.monotonic() > deadline:
                    print(out, file=sys.stderr)
                    print(f"no output matched {pattern.pattern!r} within {UNTIL_SECONDS} s", file=sys.stderr)
                    return 1
                time.sleep(1)
            if m.group(2) and clock is not None:
                print(f"guide: from `bulwark new` to the first certificate: {time.monotonic() - clock:.0f} s", flush=True)
        print(f"guide {argv[1]}: every step ran")
        return 0
    finally:
        # A devnet the guide left running (a failed step) is stopped.
        for dirpath, dirnames, filenames in os.walk(work):
            dirnames[:] = [d for d in dirnames if d not in ("target", "lib", "node_modules")]
            if os.path.basename(dirpath) == ".bulwark" and "devnet.json" in filenames:
                subprocess.run([os.path.join(ROOT, "target", "debug", "bulwark"), "devnet", "down"],
                               cwd=os.path.dirname(dirpath), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
