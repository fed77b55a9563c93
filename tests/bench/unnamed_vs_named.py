#!/usr/bin/env python3
"""Benchmark (kept in the repo, run by hand, not a timed test): `wrapfix --check` of a client
given without a name (every host name explored) against the same check with the name given,
on a hosts.deny of name patterns mixed with addresses.

    python3 tests/bench/unnamed_vs_named.py [--lines N] [--runs N] [--wrapfix PATH]

The file: globs (`113.98.N.*`, `*.badK.example.net`), `.domain` suffixes, `hostN.` prefixes,
literal names, KNOWN/PARANOID lines and addresses, shuffled, no final `ALL: ALL` (so the
unnamed verdict depends and every rule is a possible outcome). Prints median wall times, the
ratio and peak memory; exits 1 outside the targets of issue 8 (unnamed at most 1.5x the
named check, peak memory at most 2x the file size).
"""
import argparse
import os
import random
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from plan_vs_check import make_root  # noqa: E402
from check_vs_tcpdmatch import add_wrapfix_arg, peak_rss, release_binary, wall  # noqa: E402


def make_tree(root, lines, seed=8):
    rnd = random.Random(seed)
    rules = []
    for i in range(lines):
        k = i % 8
        if k == 0:
            rules.append(f"sshd: 113.98.{rnd.randint(0, 255)}.*")
        elif k == 1:
            rules.append(f"sshd: *.bad{i % 37}.example.net")
        elif k == 2:
            rules.append(f"ALL: .spam{i}.example.org")
        elif k == 3:
            rules.append(f"sshd: host{i}.")
        elif k == 4:
            rules.append(f"sshd: host{i}.bad{i % 37}.example.net")
        elif k == 5 and i % 1000 == 5:
            rules.append(rnd.choice(["sshd: PARANOID", "in.telnetd: KNOWN"]))
        else:
            rules.append("sshd: %d.%d.%d.%d" % (rnd.randint(11, 223), rnd.randint(0, 255),
                                                 rnd.randint(0, 255), rnd.randint(1, 254)))
    rnd.shuffle(rules)
    return make_root(root, "\n".join(rules) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=11)
    add_wrapfix_arg(ap)
    args = ap.parse_args()
    wrapfix = release_binary(args)
    with tempfile.TemporaryDirectory() as root:
        size = make_tree(root, args.lines)
        base = [wrapfix, "--check", "--root", root, "--json", "--client"]
        sides = {
            "named   --client 10.1.2.3=client.example.com": base + ["10.1.2.3=client.example.com"],
            "unnamed --client 10.1.2.3": base + ["10.1.2.3"],
        }
        times = {name: [] for name in sides}
        codes = {}
        for _ in range(args.runs):
            for name, cmd in sides.items():
                t, codes[name] = wall(cmd)
                times[name].append(t)
        peaks = {name: peak_rss(cmd) for name, cmd in sides.items()}
        print(f"hosts.deny: {args.lines} lines, {size} bytes; {args.runs} runs each, interleaved")
        med = {}
        for name, ts in times.items():
            med[name] = statistics.median(ts)
            print(f"  {name:48s} median {med[name]*1000:7.1f} ms  best {min(ts)*1000:7.1f} ms  "
                  f"peak RSS {peaks[name]/1e6:6.1f} MB  exit {codes[name]}")
        named, unnamed = list(sides)
        ratio = med[unnamed] / med[named]
        print(f"  ratio unnamed/named (medians): {ratio:.2f}  (target <= 1.5)")
        print(f"  unnamed peak memory / file size: {peaks[unnamed]/size:.2f}  (target <= 2)")
        ok = ratio <= 1.5 and peaks[unnamed] <= 2 * size
        print("PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
