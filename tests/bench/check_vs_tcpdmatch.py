#!/usr/bin/env python3
"""Benchmark (kept in the repo, run by hand, not a timed test): `wrapfix --check` against
libwrap's own `tcpdmatch` on the same 1,000,000-line DenyHosts-style hosts.deny.

    python3 tests/bench/check_vs_tcpdmatch.py [--lines N] [--runs N] [--wrapfix PATH]

Builds nothing: pass the release binary (default target/release/wrapfix, build it with
`cargo build --release`). Prints median and best wall time of each side, the ratio, and
wrapfix's peak memory against the file size; exits 1 if wrapfix is not within the targets
of issue 2 (at most 0.2x tcpdmatch's time, peak memory at most 2x the file size).
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def make_tree(root, lines, seed=1, denyhosts=False):
    """A DenyHosts-style ban list: `sshd: IP` / `ALL: IP`, `ALL: ALL` last; with `denyhosts`,
    every fourth line is the `# DenyHosts: DATE | sshd: IP` comment DenyHosts writes."""
    etc = os.path.join(root, "etc")
    os.makedirs(etc, exist_ok=True)
    rnd = random.Random(seed)
    with open(os.path.join(etc, "hosts.deny"), "w") as f:
        for i in range(lines - 1):
            ip = "%d.%d.%d.%d" % (rnd.randint(11, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254))
            if denyhosts and i % 4 == 0:
                f.write(f"# DenyHosts: Sat Nov 21 03:12:{i % 60:02d} 2026 | sshd: {ip}\n")
                continue
            f.write(("sshd: " if i % 2 else "ALL: ") + ip + "\n")
        f.write("ALL: ALL\n")
    open(os.path.join(etc, "hosts.allow"), "w").close()
    with open(os.path.join(etc, "os-release"), "w") as f:
        f.write("ID=debian\nVERSION_ID=\"12\"\n")
    return os.path.getsize(os.path.join(etc, "hosts.deny"))


def wall(cmd, cwd=None):
    """Wall time of one run: the whole process, started directly (no wrapper)."""
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, r.returncode


def peak_rss(cmd, cwd=None):
    """Peak RSS in bytes, as GNU time reports it (a separate run: the wrapper's own fork and
    wait would blur the wall time)."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1]) * 1024


def add_wrapfix_arg(ap):
    """The `--wrapfix PATH` option every benchmark takes (default: the release build)."""
    ap.add_argument("--wrapfix", default=os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "wrapfix"))


def release_binary(args):
    """The wrapfix binary `args` names, absolute; exits saying how to build it when missing."""
    wrapfix = os.path.abspath(args.wrapfix)
    if not os.access(wrapfix, os.X_OK):
        sys.exit(f"no wrapfix binary at {wrapfix}: run cargo build --release first")
    return wrapfix


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--denyhosts", action="store_true", help="every fourth line a '# DenyHosts:' comment")
    add_wrapfix_arg(ap)
    args = ap.parse_args()
    wrapfix = release_binary(args)
    with tempfile.TemporaryDirectory() as root:
        size = make_tree(root, args.lines, denyhosts=args.denyhosts)
        etc = os.path.join(root, "etc")
        sides = {
            "tcpdmatch -d sshd 10.1.2.3": (["/usr/sbin/tcpdmatch", "-d", "sshd", "10.1.2.3"], etc),
            "wrapfix --check --client 10.1.2.3=unknown": (
                [wrapfix, "--check", "--root", root, "--client", "10.1.2.3=unknown"], None),
            "grep -c sshd (the floor)": (["grep", "-c", "sshd", os.path.join(etc, "hosts.deny")], None),
        }
        times = {name: [] for name in sides}
        codes = {}
        # Interleave the two sides so both see the same machine load.
        for _ in range(args.runs):
            for name, (cmd, cwd) in sides.items():
                t, codes[name] = wall(cmd, cwd)
                times[name].append(t)
        peaks = {name: peak_rss(cmd, cwd) for name, (cmd, cwd) in sides.items()}
        print(f"hosts.deny: {args.lines} lines, {size} bytes; {args.runs} runs each, interleaved")
        med = {}
        for name, ts in times.items():
            med[name] = statistics.median(ts)
            print(f"  {name:45s} median {med[name]*1000:7.1f} ms  best {min(ts)*1000:7.1f} ms  "
                  f"peak RSS {peaks[name]/1e6:6.1f} MB  exit {codes[name]}")
        names = list(sides)
        ratio = med[names[1]] / med[names[0]]
        peak = peaks[names[1]]
        print(f"  ratio wrapfix/grep -c (medians):   {med[names[1]] / med[names[2]]:.2f}")
        print(f"  ratio wrapfix/tcpdmatch (medians): {ratio:.3f}  (target <= 0.2)")
        print(f"  wrapfix peak memory / file size:  {peak/size:.2f}  (target <= 2)")
        ok = ratio <= 0.2 and peak <= 2 * size
        print("PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
