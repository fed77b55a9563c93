#!/usr/bin/env python3
"""Benchmark (kept in the repo, run by hand, not a timed test): planning and verifying a repair
against checking, on tables shaped like real ones (issue "Planning and verification as fast
as checking").

    python3 tests/bench/plan_vs_check.py [--runs N] [--only NAME] [--wrapfix PATH]

For each table: `--check`, `--dry-run` (allow), `--dry-run --strategy comment`, and the
`--yes` repairs (allow, comment) on a fresh copy each run, for a client without a name.
Prints median wall time and peak RSS of each, and the ratios to the check; the targets are
at most 2x the check (plus the fsync of writing, which `--yes` includes) and memory at most
2x the file + 50 MB. Exits 1 when a target is missed.

The fsync cost of a `--yes` run is measured, not guessed: each `--yes` run is timed twice,
as it is and with libeatmydata preloaded (fsync, fdatasync and sync made no-ops; Debian
package eatmydata), and judged by the second: (time without fsync) / check. Without the
library the `--yes` modes are not judged and the benchmark says so and exits 2.
"""
import argparse
import os
import random
import shutil
import statistics
import sys
import subprocess
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from check_vs_tcpdmatch import add_wrapfix_arg, peak_rss, release_binary, wall  # noqa: E402

CLIENT = "198.51.100.7"


def rnd_ip(r):
    return "%d.%d.%d.%d" % (r.randint(11, 223), r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))


def names_and_ips(r, ips, names):
    """`sshd: IP` and `sshd: hostN.badK.example.net`, one rule a line, shuffled."""
    lines = [f"sshd: {rnd_ip(r)}" for _ in range(ips)]
    lines += [f"sshd: host{n}.bad{n % 37}.example.net" for n in range(names)]
    r.shuffle(lines)
    return "\n".join(lines) + "\n"


def published_like(r, lines=15641, names=3000):
    """Shaped like the published 350 KB file: comment blocks, DenyHosts markers, addresses,
    host names, `ALL:` and `sshd:` rules."""
    out = ["# /etc/hosts.deny", "#", "# See hosts_access(5)", "#"]
    n_names = 0
    while len(out) < lines:
        k = r.random()
        if k < 0.25:
            out.append(f"# DenyHosts: Mon Oct 12 0{r.randint(0, 9)}:1{r.randint(0, 9)}:00 2026 | sshd: {rnd_ip(r)}")
        elif k < 0.25 + names / lines:
            n_names += 1
            out.append(f"sshd: {r.choice(['mail', 'host', 'static', 'dsl'])}{n_names}.{r.choice(['cn', 'ru', 'example.net', 'isp.example'])}")
        elif k < 0.95:
            out.append(f"{r.choice(['sshd', 'ALL'])}: {rnd_ip(r)}")
        else:
            out.append("")
    return "\n".join(out) + "\n"


def inline_comments(r, lines=1500):
    """A real 36 KB file: `ip  #NN` on every line (each an option error libwrap refuses on)."""
    return "".join(f"ALL: {rnd_ip(r)}  #{i % 90}\n" for i in range(lines))


def mixed(r, rules):
    """Half addresses, the rest host names, `IP.*` globs and `.domain` suffixes."""
    out = []
    for i in range(rules):
        k = i % 8
        if k < 4:
            out.append(f"sshd: {rnd_ip(r)}")
        elif k < 6:
            out.append(f"sshd: host{i}.bad{i % 37}.example.net")
        elif k == 6:
            out.append(f"sshd: {r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.*")
        else:
            out.append(f"sshd: .spam{i % 500}.example.org")
    r.shuffle(out)
    return "\n".join(out) + "\n"


def tables():
    r = random.Random(11)
    return {
        "100 ips + 300 names": names_and_ips(r, 100, 300),
        "1,000 host-name rules": names_and_ips(r, 0, 1000),
        "published-like 15,641 lines": published_like(r),
        "1,500 'ip  #NN' lines": inline_comments(r),
        "20,000 mixed rules": mixed(r, 20000),
        "10,000 names + ips 1:1": names_and_ips(r, 5000, 5000),
        "100,000 names + ips 1:1": names_and_ips(r, 50000, 50000),
    }


def eatmydata():
    """The path of libeatmydata.so, or None."""
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/lib64"):
        p = os.path.join(d, "libeatmydata.so")
        if os.path.exists(p):
            return p
    return None


def make_root(base, deny):
    etc = os.path.join(base, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "hosts.deny"), "w") as f:
        f.write(deny)
    open(os.path.join(etc, "hosts.allow"), "w").close()
    with open(os.path.join(etc, "os-release"), "w") as f:
        f.write("ID=debian\n")
    return os.path.getsize(os.path.join(etc, "hosts.deny"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default=None, help="run only tables whose name contains this")
    add_wrapfix_arg(ap)
    args = ap.parse_args()
    wrapfix = release_binary(args)
    nosync = eatmydata()
    if not nosync:
        print("NOTE: libeatmydata not found (apt-get install eatmydata): the --yes times are NOT judged")
    ok = True
    for name, deny in tables().items():
        if args.only and args.only not in name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            pristine = os.path.join(tmp, "pristine")
            size = make_root(pristine, deny)
            work = os.path.join(tmp, "work")

            def fresh():
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(pristine, work)
                # The copy's own writeback is not wrapfix's to pay: without this, a rename
                # over the just-copied table waited for its journal commit in half the runs.
                os.sync()
                return work

            modes = {
                "check": ["--check"],
                "dry-run allow": ["--dry-run"],
                "dry-run comment": ["--dry-run", "--strategy", "comment"],
                "yes allow": ["--yes"],
                "yes comment": ["--yes", "--strategy", "comment"],
            }
            times = {m: [] for m in modes}
            nosync_times = {m: [] for m in modes}  # each --yes run again, fsync a no-op
            codes = {}
            peaks = {}
            for _ in range(args.runs):
                for m, extra in modes.items():
                    root = fresh()
                    cmd = [wrapfix, "--root", root, "--client", CLIENT, "--json"] + extra
                    t, codes[m] = wall(cmd)
                    times[m].append(t)
                    if m.startswith("yes") and nosync:
                        root = fresh()
                        cmd = [wrapfix, "--root", root, "--client", CLIENT, "--json"] + extra
                        nosync_times[m].append(wall_env(cmd, dict(os.environ, LD_PRELOAD=nosync)))
            for m, extra in modes.items():
                root = fresh()
                peaks[m] = peak_rss([wrapfix, "--root", root, "--client", CLIENT, "--json"] + extra)
            check = statistics.median(times["check"])
            print(f"{name}: {size} bytes")
            for m in modes:
                med = statistics.median(times[m])
                ratio = med / check
                bound = size * 2 + 50e6
                mark = ""
                extra = ""
                judged = ratio
                if nosync_times[m]:
                    without = statistics.median(nosync_times[m])
                    judged = without / check
                    extra = f"  (fsync {(med - without)*1000:6.1f} ms: x{judged:5.2f} without)"
                elif m.startswith("yes"):
                    extra = "  (time not judged: no libeatmydata)"
                    judged = 0.0
                if m != "check" and (judged > 2.0 or peaks[m] > bound):
                    mark = "  <-- over"
                    ok = False
                print(f"  {m:16s} median {med*1000:8.1f} ms  x{ratio:5.2f}{extra}  peak {peaks[m]/1e6:7.1f} MB  exit {codes[m]}{mark}")
    if not ok:
        print("FAIL")
        sys.exit(1)
    print("PASS" if nosync else "INCOMPLETE (the --yes times were not judged)")
    sys.exit(0 if nosync else 2)


def wall_env(cmd, env):
    """[`wall`] with an environment of its own."""
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
