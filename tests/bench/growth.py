#!/usr/bin/env python3
"""Benchmark (kept in the repo, run by hand): grow hosts.deny ten times at a time and report
time per rule of `--check`, `--dry-run` (allow) and `--dry-run --strategy comment`, for a
client without a name, so that growth worse than linear shows at a glance.

    python3 tests/bench/growth.py [--max N] [--runs N] [--wrapfix PATH]

The table: half `sshd: IP`, the rest host names, `IP.*` globs and `.domain` suffixes
(the "mixed" shape of plan_vs_check.py). Exits 1 if the time per rule of the largest table
is more than 3x that of the 10,000-rule table (room for cache effects, not for n^2).
"""
import argparse
import os
import random
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from check_vs_tcpdmatch import add_wrapfix_arg, release_binary, wall  # noqa: E402
from plan_vs_check import CLIENT, make_root, mixed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    add_wrapfix_arg(ap)
    args = ap.parse_args()
    wrapfix = release_binary(args)
    modes = {
        "check": ["--check"],
        "dry-run allow": ["--dry-run"],
        "dry-run comment": ["--dry-run", "--strategy", "comment"],
    }
    per_rule = {m: {} for m in modes}
    n = 100
    print(f"{'rules':>9}  " + "  ".join(f"{m:>22}" for m in modes))
    while n <= args.max:
        with tempfile.TemporaryDirectory() as root:
            make_root(root, mixed(random.Random(n), n))
            cells = []
            for m, extra in modes.items():
                cmd = [wrapfix, "--root", root, "--client", CLIENT, "--json"] + extra
                t = statistics.median(wall(cmd)[0] for _ in range(args.runs))
                per_rule[m][n] = t / n
                cells.append(f"{t*1000:9.1f} ms {t/n*1e6:7.2f} us/r")
            print(f"{n:>9}  " + "  ".join(f"{c:>22}" for c in cells))
        n *= 10
    ok = True
    for m in modes:
        sizes = sorted(per_rule[m])
        if 10_000 in per_rule[m] and sizes[-1] > 10_000:
            growth = per_rule[m][sizes[-1]] / per_rule[m][10_000]
            print(f"  {m}: time per rule at {sizes[-1]} rules = {growth:.2f}x that at 10,000")
            ok &= growth <= 3
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
