#!/usr/bin/env python3
"""Benchmark (by hand): the whole `wrapfix --yes --strategy comment` repair of the
1,000,000-line hosts.deny (read, plan, verify, backup, diff, atomic write, fsync, check on
disk) against one `tcpdmatch -d sshd 10.1.2.3` on the same files (issue 3: at most 2x; issue 11: at most 1.5x).

    cargo build --release && python3 tests/bench/repair_vs_tcpdmatch.py [--runs N]

Each repair runs on a fresh copy of the tree (the copy is not timed).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from check_vs_tcpdmatch import add_wrapfix_arg, make_tree, release_binary, wall  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    add_wrapfix_arg(ap)
    args = ap.parse_args()
    wrapfix = release_binary(args)
    with tempfile.TemporaryDirectory() as scratch:
        pristine = os.path.join(scratch, "pristine")
        size = make_tree(pristine, args.lines)
        t_repair, t_tcpd, codes = [], [], set()
        for i in range(args.runs):
            root = os.path.join(scratch, f"run{i}")
            shutil.copytree(pristine, root)
            t, code = wall([wrapfix, "--yes", "--strategy", "comment", "--root", root])
            t_repair.append(t)
            codes.add(code)
            t_tcpd.append(wall(["/usr/sbin/tcpdmatch", "-d", "sshd", "10.1.2.3"], os.path.join(pristine, "etc"))[0])
            with open(os.path.join(root, "etc", "hosts.deny"), "rb") as f:
                tail = f.read()[-200:]
            assert b"#ALL: ALL\n" in tail, "the repair did not comment out ALL: ALL"
            shutil.rmtree(root)
        mr, mt = statistics.median(t_repair), statistics.median(t_tcpd)
        print(f"hosts.deny: {args.lines} lines, {size} bytes; {args.runs} runs each")
        print(f"  tcpdmatch -d sshd 10.1.2.3              median {mt*1000:7.1f} ms")
        print(f"  wrapfix --yes --strategy comment        median {mr*1000:7.1f} ms  exit {sorted(codes)}")
        print(f"  ratio repair/tcpdmatch: {mr/mt:.2f}  (target <= 1.5, issue 11)")
        sys.exit(0 if mr / mt <= 1.5 and codes == {0} else 1)


if __name__ == "__main__":
    main()
