//! Real programs on the other side of the tables: a running fail2ban (Debian's package, its
//! stock `hostsdeny` action) banning into hosts.deny while wrapfix repairs and rolls back,
//! and POSIX ACLs and user extended attributes as `getfacl` and `getfattr` see them before
//! and after a repair and its rollback.
//!
//! Nothing here touches this machine's /etc or its fail2ban: the tables live in scratch
//! roots, and fail2ban runs from a private configuration directory (`-c DIR`) with its own
//! socket, pid file, log and an in-memory database, in the foreground, as the test's child.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::system::System;
use crate::support::{find_tool, require_tool, skip};

/// The admin wrapfix lets in. No ban below is for this address.
const CLIENT: &str = "198.51.100.7";

const ALLOW: &str = "# /etc/hosts.allow\nsshd: 10.0.0.0/8\n";
const DENY: &str = "# hardening\nALL: ALL\n";

/// Debian installs the action here; the test copies it into its private configuration.
const HOSTSDENY_ACTION: &str = "/etc/fail2ban/action.d/hostsdeny.conf";
const JAIL: &str = "wrapfix-test";

/// How many distinct addresses fail with, and how fast their lines reach the watched log.
const BANS: usize = 300;
const LOG_INTERVAL: Duration = Duration::from_millis(20);
/// Bounds on every wait, so a stuck fail2ban fails the test instead of stalling CI.
const START_LIMIT: Duration = Duration::from_secs(15);
const LOOP_LIMIT: Duration = Duration::from_secs(25);
/// fail2ban unbans 300 addresses on stop: 2 s on an idle machine, up to 22 s seen on 2 busy cores.
const STOP_LIMIT: Duration = Duration::from_secs(90);
/// How often one step (a fix or a rollback) is tried again after an honest exit 3.
const RETRIES: usize = 5;

/// The address of the `n`-th failing client: 203.0.113.1–254, then 192.0.2.1–….
fn attacker(n: usize) -> String {
    if n < 254 {
        format!("203.0.113.{}", n + 1)
    } else {
        format!("192.0.2.{}", n - 254 + 1)
    }
}

/// A fail2ban server of the test's own, killed (by its pid) if the test ends without
/// stopping it.
struct Fail2ban {
    child: Child,
    client: PathBuf,
    dir: tempfile::TempDir,
}

impl Fail2ban {
    fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("fail2ban.log")).unwrap_or_default()
    }

    /// What the server printed and logged, for failure messages.
    fn diagnostics(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "fail2ban-server stdout:\n{}\nstderr:\n{}\nlog (last 30 lines):\n{}",
            read("server.out"),
            read("server.err"),
            tail(&self.log(), 30)
        )
    }

    fn client(&self, args: &[&str]) -> Output {
        Command::new(&self.client)
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run fail2ban-client")
    }

    /// The addresses the jail has banned, as fail2ban itself reports them.
    fn banned(&self) -> Vec<String> {
        let out = self.client(&["get", JAIL, "banip"]);
        assert!(
            out.status.success(),
            "fail2ban-client get {JAIL} banip: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.diagnostics()
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// The addresses in the order fail2ban banned them (its log, one `Ban` line each).
    fn ban_order(&self) -> Vec<String> {
        let mark = format!("[{JAIL}] Ban ");
        self.log()
            .lines()
            .filter_map(|l| l.split_once(&mark).map(|(_, ip)| ip.trim().to_string()))
            .collect()
    }
}

impl Drop for Fail2ban {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Start `fail2ban-server -f` on a private configuration: one jail watching `watched`
/// (`refused connect from <HOST>`, one failure bans, for a day) whose action is Debian's
/// `hostsdeny.conf` with `file` pointed at `deny`. Returns once the jail answers.
fn start_fail2ban(server: &Path, client: &Path, watched: &Path, deny: &Path) -> Fail2ban {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("conf");
    for sub in ["action.d", "filter.d"] {
        std::fs::create_dir_all(conf.join(sub)).expect("mkdir");
    }
    std::fs::copy(HOSTSDENY_ACTION, conf.join("action.d/hostsdeny.conf"))
        .expect("copy Debian's hostsdeny action");
    let d = dir.path().display();
    std::fs::write(
        conf.join("fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = NOTICE\nlogtarget = {d}/fail2ban.log\nsyslogsocket = auto\n\
             allowipv6 = auto\nsocket = {d}/fail2ban.sock\npidfile = {d}/fail2ban.pid\n\
             dbfile = :memory:\ndbpurgeage = 1d\ndbmaxmatches = 10\n"
        ),
    )
    .expect("fail2ban.conf");
    std::fs::write(
        conf.join("filter.d/wrapfix-test.conf"),
        "[Definition]\nfailregex = ^refused connect from <HOST>$\ndatepattern = {NONE}\n",
    )
    .expect("filter");
    std::fs::write(
        conf.join("jail.conf"),
        format!(
            "[DEFAULT]\nignoreip =\nignoreself = false\nusedns = no\n\n[{JAIL}]\nenabled = true\n\
             filter = wrapfix-test\nlogpath = {}\nbackend = polling\nmaxretry = 1\n\
             findtime = 1d\nbantime = 1d\naction = hostsdeny[file=\"{}\", daemon_list=ALL]\n",
            watched.display(),
            deny.display()
        ),
    )
    .expect("jail.conf");
    let out = std::fs::File::create(dir.path().join("server.out")).expect("server.out");
    let err = std::fs::File::create(dir.path().join("server.err")).expect("server.err");
    let child = Command::new(server)
        .args(["-f", "-x", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start fail2ban-server");
    let mut f2b = Fail2ban {
        child,
        client: client.to_path_buf(),
        dir,
    };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = f2b.child.try_wait() {
            panic!(
                "fail2ban-server exited with {status}\n{}",
                f2b.diagnostics()
            );
        }
        let ping = f2b.client(&["ping"]).status.success();
        if ping && f2b.client(&["status", JAIL]).status.success() {
            return f2b;
        }
        assert!(
            start.elapsed() < START_LIMIT,
            "fail2ban-server did not answer within {START_LIMIT:?}\n{}",
            f2b.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The ban lines (`ALL: ADDRESS`) in a hosts.deny, in file order, and every other line.
fn split_deny(text: &str) -> (Vec<String>, Vec<String>) {
    let (bans, rest): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| {
        l.strip_prefix("ALL: ")
            .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok())
    });
    let bans = bans
        .iter()
        .map(|l| l.trim_start_matches("ALL: ").to_string())
        .collect();
    (bans, rest.iter().map(|l| l.to_string()).collect())
}

/// What a step is: a fix with one strategy, or a rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Allow,
    Comment,
    Rollback,
}

struct Tables {
    allow: String,
    deny: String,
}

fn read_tables(root: &Path) -> Tables {
    let read =
        |name: &str| std::fs::read_to_string(root.join("etc").join(name)).expect("read a table");
    Tables {
        allow: read("hosts.allow"),
        deny: read("hosts.deny"),
    }
}

/// What must hold of the tables at every moment: hosts.deny is its original lines (one
/// maybe commented by wrapfix, under a marker) and ban lines, each complete, for an address
/// that failed, each once, and the bans seen before are still there, in the same order,
/// with any new ones after them.
fn check_invariants(t: &Tables, attackers: &BTreeSet<String>, before: &[String], when: &str) {
    let (bans, rest) = split_deny(&t.deny);
    let ctx = || {
        format!(
            "{when}:\nhosts.allow:\n{}\nhosts.deny:\n{}",
            t.allow, t.deny
        )
    };
    assert!(t.deny.ends_with('\n'), "last line complete, {}", ctx());
    for line in &rest {
        let ok = DENY.lines().any(|d| d == line)
            || line == "#ALL: ALL"
            || line.starts_with("# wrapfix ");
        assert!(ok, "unexpected line {line:?} in hosts.deny {}", ctx());
    }
    let unique: BTreeSet<&String> = bans.iter().collect();
    assert_eq!(unique.len(), bans.len(), "a ban line twice {}", ctx());
    for ip in &bans {
        assert!(
            attackers.contains(ip),
            "ban for {ip} nobody failed as {}",
            ctx()
        );
    }
    assert!(
        bans.starts_with(before),
        "the {} bans seen before are no longer the first, in order {}",
        before.len(),
        ctx()
    );
}

/// Counts over the whole run, for the failure messages and the closing summary.
#[derive(Default)]
struct Tally {
    exits: BTreeMap<(Step, i32), usize>,
    runs: usize,
    slowest: Duration,
    /// Ban lines that appeared in hosts.deny between the test's reads just before and just
    /// after a wrapfix run.
    bans_during_runs: usize,
    honest_busy_or_changed: Vec<String>,
}

/// Run one step (retrying after an honest exit 3) and check what it left.
fn step(
    sys: &System,
    step: Step,
    attackers: &BTreeSet<String>,
    tally: &mut Tally,
) -> Result<(), String> {
    for _ in 0..RETRIES {
        let root = sys.path();
        let before = read_tables(root);
        let (bans_before, rest_before) = split_deny(&before.deny);
        let args: &[&str] = match step {
            Step::Allow => &["--yes", "--client", CLIENT, "--strategy", "allow"],
            Step::Comment => &["--yes", "--client", CLIENT, "--strategy", "comment"],
            Step::Rollback => &["--rollback", "--yes"],
        };
        let started = Instant::now();
        let run = sys.run(args);
        tally.slowest = tally.slowest.max(started.elapsed());
        tally.runs += 1;
        let code = run.status().unwrap_or(-1);
        *tally.exits.entry((step, code)).or_default() += 1;
        let after = read_tables(root);
        let stderr = run.stderr();
        let said = format!(
            "wrapfix {step:?} exited {code}\nstdout:\n{}\nstderr:\n{stderr}",
            run.stdout()
        );
        if code == 0 {
            // Silent on stderr, but for saying that fail2ban's lines were kept.
            assert!(
                stderr
                    .lines()
                    .all(|l| l.starts_with("wrapfix: /etc/hosts.deny")
                        && l.contains(" after the plan was made")),
                "{said}"
            );
        }
        check_invariants(&after, attackers, &bans_before, &said);
        let (bans_after, rest_after) = split_deny(&after.deny);
        tally.bans_during_runs += bans_after.len() - bans_before.len();
        let allow_line = format!("sshd: {CLIENT}");
        let has_allow = after.allow.lines().any(|l| l == allow_line);
        let live_blanket = rest_after.iter().any(|l| l == "ALL: ALL");
        match (code, step) {
            (0, Step::Allow) => {
                // fail2ban only appends bans for other addresses: nothing it writes can
                // explain a missing allow entry.
                assert!(
                    has_allow,
                    "exit 0 without the allow entry: {said}\n{}",
                    after.allow
                );
                assert_eq!(rest_after, rest_before, "hosts.deny's own lines: {said}");
                return Ok(());
            }
            (0, Step::Comment) => {
                assert!(
                    !live_blanket && rest_after.iter().any(|l| l == "#ALL: ALL"),
                    "exit 0 without the blanket rule commented out: {said}\n{}",
                    after.deny
                );
                assert_eq!(after.allow, before.allow, "hosts.allow: {said}");
                return Ok(());
            }
            (0, Step::Rollback) => {
                assert_eq!(after.allow, ALLOW, "hosts.allow after a rollback: {said}");
                let original: Vec<String> = DENY.lines().map(str::to_string).collect();
                assert_eq!(rest_after, original, "hosts.deny after a rollback: {said}");
                return Ok(());
            }
            (3, _) => {
                // Honest only if it says why on stderr and really changed nothing of its own.
                let text = stderr.to_lowercase();
                assert!(
                    text.contains("changed") || text.contains("busy"),
                    "exit 3 without saying what changed or who is busy: {said}"
                );
                assert_eq!(
                    after.allow, before.allow,
                    "exit 3 changed hosts.allow: {said}"
                );
                assert_eq!(rest_after, rest_before, "exit 3 changed hosts.deny: {said}");
                let first = stderr.lines().next().unwrap_or_default().to_string();
                tally.honest_busy_or_changed.push(first);
            }
            _ => return Err(said),
        }
    }
    Err(format!(
        "{step:?} refused {RETRIES} times in a row with exit 3"
    ))
}

/// Every ban line a running fail2ban appended through its stock `hostsdeny` action, while
/// wrapfix fixed (both strategies) and rolled back over and over, is in hosts.deny exactly
/// once, whole, in the order fail2ban banned, and wrapfix's own lines are gone after the
/// last rollback; every wrapfix run exited 0 with its change really on disk, or 3 saying why.
#[test]
fn a_real_fail2ban_banning_during_repairs_loses_no_ban() {
    let (Some(server), Some(client)) = (find_tool("fail2ban-server"), find_tool("fail2ban-client"))
    else {
        skip("fail2ban-server and fail2ban-client", "package fail2ban");
        return;
    };
    if !Path::new(HOSTSDENY_ACTION).is_file() {
        skip(HOSTSDENY_ACTION, "package fail2ban");
        return;
    }
    let began = Instant::now();
    let sys = System::new()
        .allow(ALLOW)
        .deny(DENY)
        .os_release("ID=debian\n");
    let root = sys.path();
    let deny = root.join("etc/hosts.deny");
    let watched = root.join("var/log/refused.log");
    std::fs::create_dir_all(watched.parent().expect("parent")).expect("mkdir");
    std::fs::write(&watched, "").expect("watched log");
    let mut f2b = start_fail2ban(&server, &client, &watched, &deny);

    let attackers: Vec<String> = (0..BANS).map(attacker).collect();
    let attacker_set: BTreeSet<String> = attackers.iter().cloned().collect();
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let stop = Arc::clone(&stop);
        let lines: Vec<String> = attackers.clone();
        let watched = watched.clone();
        // One failure line per address at a steady rate, as a log daemon appends them.
        std::thread::spawn(move || {
            let mut written = 0;
            for ip in lines {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let appended = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&watched)
                    .and_then(|mut f| {
                        f.write_all(format!("refused connect from {ip}\n").as_bytes())
                    });
                if appended.is_err() {
                    break;
                }
                written += 1;
                std::thread::sleep(LOG_INTERVAL);
            }
            written
        })
    };

    // Fix and roll back until fail2ban has banned every address (so every ban was written
    // while wrapfix was at work), every other fix with the comment strategy: that one
    // rewrites hosts.deny, the file fail2ban appends to.
    let mut tally = Tally::default();
    let mut rounds = 0;
    let looping = Instant::now();
    let outcome = loop {
        let strategy = if rounds % 2 == 0 {
            Step::Allow
        } else {
            Step::Comment
        };
        if let Err(e) = step(&sys, strategy, &attacker_set, &mut tally)
            .and_then(|()| step(&sys, Step::Rollback, &attacker_set, &mut tally))
        {
            break Err(e);
        }
        rounds += 1;
        // fail2ban logs `Ban ADDRESS` just before its action appends the line.
        let decided = f2b.ban_order().len();
        if decided == BANS {
            break Ok(());
        }
        if looping.elapsed() > LOOP_LIMIT {
            break Err(format!(
                "fail2ban decided {decided} of {BANS} bans in {LOOP_LIMIT:?}"
            ));
        }
    };
    let loop_time = looping.elapsed();
    stop.store(true, Ordering::SeqCst);
    let logged = appender.join().expect("appender");
    if let Err(e) = outcome {
        panic!("{e}\nafter {rounds} rounds\n{}", f2b.diagnostics());
    }
    assert_eq!(logged, BANS, "failure lines written");

    // What fail2ban says it banned, against what hosts.deny holds.
    // Let the last actions finish: nothing but fail2ban writes the tables any more.
    let settling = Instant::now();
    while split_deny(&read_tables(root).deny).0.len() < BANS
        && settling.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    // What fail2ban says it banned, against what hosts.deny holds.
    let banned = f2b.banned();
    let order = f2b.ban_order();
    assert_eq!(
        banned.iter().collect::<BTreeSet<_>>(),
        attacker_set.iter().collect::<BTreeSet<_>>(),
        "fail2ban banned every address that failed\n{}",
        f2b.diagnostics()
    );
    assert_eq!(
        order.len(),
        BANS,
        "one Ban line per address in fail2ban's log"
    );
    let final_tables = read_tables(root);
    let (in_file, _) = split_deny(&final_tables.deny);
    let in_file_set: BTreeSet<&String> = in_file.iter().collect();
    let lost: Vec<&String> = order
        .iter()
        .filter(|ip| !in_file_set.contains(ip))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of the {BANS} ban lines fail2ban wrote are missing from hosts.deny: {lost:?}\n\
         ({} wrapfix runs; salvaged lines recorded: {})",
        lost.len(),
        tally.runs,
        salvaged_lines(&root.join("var/backups/wrapfix"))
    );
    assert_eq!(
        final_tables.allow, ALLOW,
        "hosts.allow is back to its bytes"
    );
    let expected_deny: String = std::iter::once(DENY.to_string())
        .chain(order.iter().map(|ip| format!("ALL: {ip}\n")))
        .collect();
    assert_eq!(
        final_tables.deny, expected_deny,
        "hosts.deny is its original bytes, then every ban once, in fail2ban's order"
    );

    // Salvaged lines: bans that reached the old file while wrapfix replaced it.
    let salvaged = salvaged_lines(&root.join("var/backups/wrapfix"));

    // fail2ban's own unban on stop (`sed -i "/^ALL: ADDRESS$/d"` for each) must find every
    // line whole: afterwards hosts.deny is exactly what it was before fail2ban started.
    let stopping = Instant::now();
    let out = f2b.client(&["stop"]);
    assert!(
        out.status.success(),
        "fail2ban-client stop: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        f2b.diagnostics()
    );
    loop {
        if f2b.child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            stopping.elapsed() < STOP_LIMIT,
            "fail2ban-server still running {STOP_LIMIT:?} after stop\n{}",
            f2b.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop_time = stopping.elapsed();
    assert_eq!(
        std::fs::read_to_string(&deny).expect("read"),
        DENY,
        "after fail2ban unbanned everything on stop\n{}",
        f2b.diagnostics()
    );

    eprintln!(
        "fail2ban banned {BANS} addresses into hosts.deny during {rounds} fix/rollback rounds \
         ({} wrapfix runs in {loop_time:.1?}, slowest {:.0?}); {} ban lines appeared across \
         a wrapfix run, {salvaged} were salvaged from a replaced file; exit codes \
         {:?}; exit 3 messages {:?}; fail2ban stopped (unbanning all) in {stop_time:.1?}; \
         total {:.1?}",
        tally.runs,
        tally.slowest,
        tally.bans_during_runs,
        tally.exits,
        tally.honest_busy_or_changed,
        began.elapsed()
    );
}

/// The lines recorded as salvaged (appended to a table by someone else while wrapfix
/// replaced it) in every manifest under `backups`.
fn salvaged_lines(backups: &Path) -> usize {
    let mut lines = 0;
    for entry in std::fs::read_dir(backups).expect("backup dir") {
        let manifest = entry.expect("entry").path().join("manifest.json");
        let Ok(text) = std::fs::read(&manifest) else {
            continue;
        };
        let doc: serde_json::Value = serde_json::from_slice(&text).expect("manifest JSON");
        for f in doc["files"].as_array().into_iter().flatten() {
            let hex = f["salvaged"].as_str().unwrap_or_default();
            lines += hex.as_bytes().chunks(2).filter(|p| p == b"0a").count();
        }
    }
    lines
}

/// A tool's stdout; panics with its stderr when it fails.
fn run(tool: &str, args: &[&str], path: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory for the scratch root whose filesystem takes POSIX ACLs and `user.*`
/// extended attributes: the system temp dir, else the target dir's, else /var/tmp.
fn acl_capable_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::temp_dir(),
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        PathBuf::from("/var/tmp"),
    ];
    candidates.into_iter().find(|dir| {
        let Ok(probe) = tempfile::tempdir_in(dir) else {
            return false;
        };
        let f = probe.path().join("probe");
        std::fs::write(&f, "").is_ok()
            && ["setfacl", "setfattr"].iter().all(|tool| {
                let args: &[&str] = if *tool == "setfacl" {
                    &["-m", "u:34:r"]
                } else {
                    &["-n", "user.wrapfix-probe", "-v", "1"]
                };
                Command::new(tool)
                    .args(args)
                    .arg(&f)
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    })
}

/// How the real tools see a table: `getfacl` (numeric ids), `getfattr` of every name
/// (the ACL's own `system.posix_acl_access` included), and mode and owner from stat.
fn seen(path: &Path) -> String {
    let m = std::fs::metadata(path).expect("stat");
    format!(
        "{}{}mode {:o} uid {} gid {}",
        run("getfacl", &["-n", "-p"], path),
        run(
            "getfattr",
            &["-d", "-m", "-", "-e", "hex", "--absolute-names"],
            path
        ),
        m.mode() & 0o7777,
        m.uid(),
        m.gid()
    )
}

/// A named-user and a named-group ACL entry with an explicit mask, and `user.*` extended
/// attributes (one binary), on both tables, under an `etc` whose default ACL differs (new
/// files there inherit it, wrapfix's temporary file included): after a fix with either
/// strategy, and after its rollback, `getfacl`, `getfattr -d -m -` and stat show exactly
/// what they showed before.
#[test]
fn acls_and_user_xattrs_survive_a_repair_and_its_rollback() {
    for tool in ["setfacl", "getfacl", "setfattr", "getfattr"] {
        if !require_tool(tool, "packages acl and attr") {
            return;
        }
    }
    let Some(base) = acl_capable_dir() else {
        skip(
            "a filesystem with POSIX ACLs and user extended attributes",
            "tried the temp dir, CARGO_TARGET_TMPDIR and /var/tmp",
        );
        return;
    };
    for strategy in ["allow", "comment"] {
        // The ACLs name users and groups the repaired system has (a rollback checks).
        let sys = System::bare_in(&base)
            .file(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nbackup:x:34:34:backup:/var/backups:/usr/sbin/nologin\n",
            )
            .file("/etc/group", "root:x:0:\nadm:x:4:\nbackup:x:34:\n")
            .os_release("ID=debian\n")
            .allow(ALLOW)
            .deny(DENY);
        let etc = sys.at("/etc");
        let allow = sys.at("/etc/hosts.allow");
        let deny = sys.at("/etc/hosts.deny");
        run(
            "setfacl",
            &["-d", "-m", "u::rw,g::r,o::-,u:0:rw,g:4:rw,m::rw"],
            &etc,
        );
        run("chown", &["0:4"], &deny);
        run("chmod", &["0640"], &deny);
        run("setfacl", &["-m", "u:34:r,g:34:r,m::r"], &deny);
        run("setfacl", &["-m", "u:34:r,m::r"], &allow);
        for (table, value) in [(&allow, "kept by hand"), (&deny, "hardening template v2")] {
            run("setfattr", &["-n", "user.comment", "-v", value], table);
            run(
                "setfattr",
                &["-n", "user.checksum", "-v", "0x00ff10"],
                table,
            );
        }
        let original = [seen(&allow), seen(&deny)];
        let inode = |p: &Path| std::fs::metadata(p).expect("stat").ino();
        let changed = if strategy == "allow" { &allow } else { &deny };
        let old_inode = inode(changed);
        assert!(
            original[1].contains("user:34:r--") && original[1].contains("user.comment"),
            "the set-up took: {}",
            original[1]
        );

        sys.run(["--yes", "--client", CLIENT, "--strategy", strategy])
            .code(0)
            .stderr_empty();
        // Replaced by rename (a new inode), so the metadata below was copied, not kept.
        assert_ne!(inode(changed), old_inode, "{strategy}: a new file");
        assert_ne!(
            std::fs::read_to_string(changed).expect("read"),
            if strategy == "allow" { ALLOW } else { DENY },
            "{strategy}: the fix changed {}",
            changed.display()
        );
        assert_eq!(
            [seen(&allow), seen(&deny)],
            original,
            "{strategy}: after the fix"
        );

        sys.run(["--rollback", "--yes"]).code(0).stderr_empty();
        assert_eq!(std::fs::read_to_string(&allow).expect("read"), ALLOW);
        assert_eq!(std::fs::read_to_string(&deny).expect("read"), DENY);
        assert_eq!(
            [seen(&allow), seen(&deny)],
            original,
            "{strategy}: after the rollback"
        );
        // No temporary file left beside the tables.
        let strays: Vec<_> = std::fs::read_dir(&etc)
            .expect("etc")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".wrapfix-") && n.ends_with(".tmp"))
            .collect();
        assert!(strays.is_empty(), "{strays:?}");
    }
}
