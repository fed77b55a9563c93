#!/usr/bin/env python3
"""Benchmark (kept in the repo, run by hand, not a timed test): wrapfix's log scan for
libwrap refusals (`refused-client`, issue 4) against `zgrep -c 'refused connect'` on the same
files.

    python3 tests/bench/logs_vs_zgrep.py [--mb 200] [--runs 5] [--refusals 0.01]

Writes a scratch root whose var/log holds about MB megabytes of realistic auth.log text
(sshd, PAM, sudo, CRON, systemd-logind, fail2ban-looking noise; ~1% libwrap refusals) split
over auth.log, auth.log.1, auth.log.2.gz and auth.log.3.gz. Builds the integration-test
binary in release mode and runs its ignored `logs::bench_scan` test, which calls
`wrapfix::logs::scan` on that root (the library entry point `wrapfix --check` will use).
Both sides run as separate processes, interleaved so they see the same machine load; the
files are in the page cache for both. Prints the median wall time and throughput
(uncompressed MB/s) of each side and the ratio, for all four files and for the plain and
the gzipped pair apart; exits 1 if wrapfix is below half of zgrep's throughput in any of
them, or if the counts disagree.
"""
import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET_RATIO = 0.5

USERS = ["root", "admin", "ubuntu", "deploy", "git", "oracle", "test", "pi", "postgres"]
MONTHS = ["Oct", "Nov"]


def ip(rnd):
    return "%d.%d.%d.%d" % (rnd.randint(11, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254))


def noise(rnd, stamp, host):
    """One ordinary auth.log line, in the proportions a busy internet-facing host shows."""
    pid = rnd.randint(1000, 99999)
    a = ip(rnd)
    port = rnd.randint(1024, 65535)
    user = rnd.choice(USERS)
    k = rnd.randrange(12)
    if k == 0:
        body = f"sshd[{pid}]: Accepted publickey for {user} from {a} port {port} ssh2: ED25519 SHA256:q1w2e3r4t5y6u7i8o9p0asdfghjklzxcvbnm1234567"
    elif k in (1, 2):
        body = f"sshd[{pid}]: Failed password for invalid user {user} from {a} port {port} ssh2"
    elif k == 3:
        body = f"sshd[{pid}]: Invalid user {user} from {a} port {port}"
    elif k in (4, 5):
        body = f"sshd[{pid}]: Connection closed by invalid user {user} {a} port {port} [preauth]"
    elif k == 6:
        body = f"sshd[{pid}]: Received disconnect from {a} port {port}:11: Bye Bye [preauth]"
    elif k == 7:
        body = f"sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)"
    elif k == 8:
        body = f"CRON[{pid}]: pam_unix(cron:session): session closed for user root"
    elif k == 9:
        body = f"systemd-logind[612]: New session {pid} of user {user}."
    elif k == 10:
        body = f"sudo:    {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
    else:
        body = f"sshd[{pid}]: Disconnected from authenticating user {user} {a} port {port} [preauth]"
    return f"{stamp} {host} {body}\n"


def refusal(rnd, stamp, host, clients):
    c = rnd.choice(clients)
    return f"{stamp} {host} sshd[{rnd.randint(1000, 99999)}]: refused connect from {c} ({c})\n"


def make_text(rnd, size, share, day):
    """About `size` bytes of log lines for one day; returns (text, refusal lines)."""
    clients = [ip(rnd) for _ in range(300)]
    lines = []
    total = 0
    refusals = 0
    second = 0
    month = MONTHS[day // 31]
    while total < size:
        second += 1
        hh, mm, ss = (second // 3600) % 24, (second // 60) % 60, second % 60
        stamp = "%s %2d %02d:%02d:%02d" % (month, day % 31 + 1, hh, mm, ss)
        if rnd.random() < share:
            line = refusal(rnd, stamp, "web1", clients)
            refusals += 1
        else:
            line = noise(rnd, stamp, "web1")
        lines.append(line)
        total += len(line)
    return "".join(lines).encode(), refusals


def make_root(root, mb, share, seed=4):
    """var/log with auth.log, .1 (plain) and .2.gz, .3.gz (gzip -6, as logrotate does)."""
    logdir = os.path.join(root, "var", "log")
    os.makedirs(logdir)
    rnd = random.Random(seed)
    quarter = mb * 1_000_000 // 4
    names = ["auth.log.3.gz", "auth.log.2.gz", "auth.log.1", "auth.log"]
    plain_bytes = 0
    file_bytes = 0
    refusals = 0
    for day, name in enumerate(names):
        text, n = make_text(rnd, quarter, share, day + 20)
        refusals += n
        plain_bytes += len(text)
        data = gzip.compress(text, compresslevel=6) if name.endswith(".gz") else text
        with open(os.path.join(logdir, name), "wb") as f:
            f.write(data)
        file_bytes += len(data)
    return [os.path.join(logdir, n) for n in reversed(names)], plain_bytes, file_bytes, refusals


def build_driver():
    """The release integration-test binary (holds the ignored logs::bench_scan test)."""
    out = subprocess.run(
        ["cargo", "test", "--release", "--test", "it", "--no-run", "--message-format=json"],
        cwd=REPO, stdout=subprocess.PIPE, check=True, text=True)
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == "it":
            return msg["executable"]
    sys.exit("could not find the release test binary")


def run_zgrep(files):
    t = time.perf_counter()
    r = subprocess.run(["zgrep", "-c", "refused connect"] + files, stdout=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - t
    count = sum(int(line.rsplit(":", 1)[1]) for line in r.stdout.splitlines())
    return wall, count


def run_wrapfix(driver, root):
    env = dict(os.environ, WRAPFIX_LOGS_BENCH_ROOT=root)
    t = time.perf_counter()
    r = subprocess.run([driver, "--ignored", "--exact", "logs::bench_scan", "--test-threads=1"],
                       env=env, stdout=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - t
    # libtest may print "test logs::bench_scan ... " on the same line first.
    marked = [line[line.index("BENCH "):] for line in r.stdout.splitlines() if "BENCH " in line]
    if not marked:
        sys.exit(f"no BENCH line from the driver:\n{r.stdout}")
    fields = dict(kv.split("=", 1) for kv in marked[0].split()[1:] if "=" in kv)
    return wall, int(fields["refusals"]), float(fields["seconds"])


def subset_root(base, files, name):
    """Another root holding hard links to some of the files, to time plain and gzip apart."""
    logdir = os.path.join(base, name, "var", "log")
    os.makedirs(logdir)
    for f in files:
        os.link(f, os.path.join(logdir, os.path.basename(f)))
    return os.path.join(base, name)


def compare(driver, files, root, runs):
    """Median wall times (zgrep, wrapfix, wrapfix inside its process) and the counts."""
    # Warm the page cache for both sides.
    run_zgrep(files)
    run_wrapfix(driver, root)
    zg, wf, inner = [], [], []
    counts = {}
    for _ in range(runs):
        t, counts["zgrep"] = run_zgrep(files)
        zg.append(t)
        t, counts["wrapfix"], i = run_wrapfix(driver, root)
        wf.append(t)
        inner.append(i)
    return statistics.median(zg), statistics.median(wf), statistics.median(inner), counts


def report(label, mb, z, w, inner, counts):
    print(f"{label}: {mb:.0f} MB of text")
    print(f"  zgrep -c 'refused connect'  {z:8.3f} s  {mb / z:8.1f} MB/s  (count {counts['zgrep']})")
    print(f"  wrapfix logs::scan          {w:8.3f} s  {mb / w:8.1f} MB/s  (count {counts['wrapfix']}; "
          f"{inner:.3f} s inside the process)")
    ratio = z / w
    print(f"  throughput ratio wrapfix/zgrep: {ratio:.2f} (target >= {TARGET_RATIO})")
    return ratio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="uncompressed log text, in MB")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--refusals", type=float, default=0.01, help="share of refusal lines")
    args = ap.parse_args()
    driver = build_driver()
    ok = True
    with tempfile.TemporaryDirectory(prefix="wrapfix-logs-bench-") as base:
        root = os.path.join(base, "all")
        files, plain_bytes, file_bytes, expected = make_root(root, args.mb, args.refusals)
        print(f"4 files: {plain_bytes / 1e6:.0f} MB of text, {file_bytes / 1e6:.0f} MB on disk "
              f"(2 gzipped), {expected} refusal lines; {args.runs} runs per side, interleaved, "
              "median wall time of the whole process")
        plain = [f for f in files if not f.endswith(".gz")]
        gz = [f for f in files if f.endswith(".gz")]
        sizes = {}
        for f in files:
            with (gzip.open(f) if f.endswith(".gz") else open(f, "rb")) as h:
                sizes[f] = len(h.read())
        for label, subset, sub_root in [
            ("all four files", files, root),
            ("plain only (auth.log, auth.log.1)", plain, subset_root(base, plain, "plain")),
            ("gzip only (auth.log.2.gz, auth.log.3.gz)", gz, subset_root(base, gz, "gz")),
        ]:
            z, w, inner, counts = compare(driver, subset, sub_root, args.runs)
            mb = sum(sizes[f] for f in subset) / 1e6
            ratio = report(label, mb, z, w, inner, counts)
            if counts["wrapfix"] != counts["zgrep"]:
                print("FAIL: the two sides count different numbers of refusals")
                ok = False
            if ratio < TARGET_RATIO:
                print("FAIL: wrapfix is below half of zgrep's throughput")
                ok = False
            if subset is files and counts["wrapfix"] != expected:
                print(f"FAIL: {expected} refusal lines were written")
                ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
