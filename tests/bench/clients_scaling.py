#!/usr/bin/env python3
"""Benchmark (by hand): checking 10,000 clients at once against the 1,000,000-line ban list
must take at most 2x the time of checking one (issue 4): the tables are read once and the
clients are looked up by address, not matched one by one against every rule.

    cargo build --release && python3 tests/bench/clients_scaling.py [--runs N] [--json]
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from check_vs_tcpdmatch import add_wrapfix_arg, make_tree, release_binary, wall  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", action="store_true", help="time --json output instead of the human report")
    add_wrapfix_arg(ap)
    args = ap.parse_args()
    wrapfix = release_binary(args)
    with tempfile.TemporaryDirectory() as root:
        make_tree(root, args.lines)
        rnd = random.Random(7)
        clients = os.path.join(root, "clients.txt")
        with open(clients, "w") as f:
            for _ in range(args.clients):
                f.write("%d.%d.%d.%d=unknown\n" % (rnd.randint(11, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254)))
        extra = ["--json"] if args.json else []
        one = [wrapfix, "--check", "--root", root, "--client", "10.1.2.3=unknown"] + extra
        many = [wrapfix, "--check", "--root", root, "--clients-from", clients] + extra
        t1, tn = [], []
        for _ in range(args.runs):
            t1.append(wall(one)[0])
            tn.append(wall(many)[0])
        m1, mn = statistics.median(t1), statistics.median(tn)
        print(f"{args.lines} rules; output {'json' if args.json else 'human'}; {args.runs} runs each")
        print(f"  1 client:            median {m1*1000:7.1f} ms")
        print(f"  {args.clients} clients:     median {mn*1000:7.1f} ms")
        print(f"  ratio: {mn/m1:.2f}  (target <= 2)")
        sys.exit(0 if mn / m1 <= 2 else 1)


if __name__ == "__main__":
    main()
