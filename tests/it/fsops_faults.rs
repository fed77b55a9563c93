//! Fault injection on the write path (docs/write-protocol.md): every write-path system call of a fix
//! and of a rollback fails (EIO), or the process is killed (SIGKILL) at it, one occurrence
//! at a time, with `strace -e inject=`. Afterwards: each file holds exactly its old or its
//! new bytes; new bytes only with a complete backup; success only with the new bytes in
//! place; no panic; no temporary file left after an error. After a SIGKILL a temporary file
//! may remain: the next run (holding the lock) removes it, which the recovery run checks.
//!
//! strace needs a process to run: this test binary itself, re-invoked on the ignored test
//! `fault_driver`, which performs one change on a scratch root named in the environment.
//! Marker `stat` calls around the change let us count only its own system calls.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wrapfix::fsops;

use crate::fsops::{Scratch, find};
use crate::support;

const ENV_ROOT: &str = "WRAPFIX_FAULT_ROOT";
const ENV_SCENARIO: &str = "WRAPFIX_FAULT_SCENARIO";
const ENV_IN_PLACE: &str = "WRAPFIX_FAULT_IN_PLACE";
const ENV_BURN: &str = "WRAPFIX_FAULT_BURN";
const BEGIN: &str = "/wrapfix-fault-marker-begin";
const END: &str = "/wrapfix-fault-marker-end";
const REPORT: &str = "WRAPFIX-DRIVER";

const OLD_DENY: &[u8] = b"# hardening\nALL: ALL\nALL: 192.0.2.50\n";
const NEW_DENY: &[u8] = b"# hardening\n#ALL: ALL\nALL: 192.0.2.50\n";
const NEW_ALLOW: &[u8] = b"sshd: 192.0.2.1\n";
const XATTR: &str = "user.wrapfix-fault";
/// Owner of hosts.deny when the tests run as root (a non-root owner makes fchown necessary).
const OWNER: u32 = 1234;

/// The system calls a change makes to write, sync, rename, set metadata, clean up and lock
/// (every spelling the C library and rustix use), plus the reads that feed the plan.
const WRITE_PATH: &[&str] = &[
    "openat",
    "open",
    "read",
    "pread64",
    "write",
    "pwrite64",
    "fsync",
    "fdatasync",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "fchmod",
    "fchown",
    "fsetxattr",
    "fremovexattr",
    "close",
    "unlink",
    "unlinkat",
    "mkdir",
    "mkdirat",
    "flock",
    "ftruncate",
];

fn is_fix(scenario: &str) -> bool {
    scenario == "fix"
}

/// The fix, with a ban appended to hosts.deny while it is planned (fail2ban racing it):
/// the ban is salvaged, and the backup is rewritten to the old file's final bytes.
const SALVAGE: &str = "salvage";
const BAN: &[u8] = b"ALL: 203.0.113.9\n";

fn salvage_plan(s: &Scratch) -> impl Fn(&str, Option<&[u8]>) -> Result<Vec<u8>, String> + '_ {
    let banned = std::sync::atomic::AtomicBool::new(false);
    move |path, cur| {
        if path.ends_with("deny") && !banned.swap(true, Ordering::SeqCst) {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(s.path("etc/hosts.deny"))
                .map_err(|e| e.to_string())?;
            f.write_all(BAN).map_err(|e| e.to_string())?;
        }
        fix_plan(path, cur)
    }
}

/// The fix: comment out `ALL: ALL` in hosts.deny, create hosts.allow. Both plans are
/// idempotent, so a recovery run after a partial change completes it.
fn fix_plan(path: &str, cur: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let cur = cur.unwrap_or_default();
    if path.ends_with("allow") {
        return Ok(if find(cur, NEW_ALLOW).is_some() {
            cur.to_vec()
        } else {
            [cur, NEW_ALLOW].concat()
        });
    }
    if find(cur, b"\n#ALL: ALL\n").is_some() {
        return Ok(cur.to_vec());
    }
    let at = find(cur, b"\nALL: ALL\n").ok_or("ALL: ALL not found")?;
    Ok([&cur[..at], b"\n#ALL: ALL\n", &cur[at + 10..]].concat())
}

fn revert_plan(
    path: &str,
    cur: &[u8],
    _: Option<&[wrapfix::model::edit::EditRecord]>,
) -> Result<Vec<u8>, String> {
    if path.ends_with("allow") {
        let at = find(cur, NEW_ALLOW).ok_or("our line is gone")?;
        return Ok([&cur[..at], &cur[at + NEW_ALLOW.len()..]].concat());
    }
    let at = find(cur, b"\n#ALL: ALL\n").ok_or("our comment is gone")?;
    Ok([&cur[..at], b"\nALL: ALL\n", &cur[at + 11..]].concat())
}

const FILES: [&str; 2] = ["/etc/hosts.deny", "/etc/hosts.allow"];

fn do_fix(s: &Scratch, in_place: bool) -> Result<Option<fsops::Applied>, wrapfix::error::Error> {
    s.apply_in_place(&FILES, &fix_plan, in_place)
}

fn do_rollback(s: &Scratch) -> Result<Option<fsops::Applied>, wrapfix::error::Error> {
    s.rollback(None, false, &revert_plan)
}

/// A scratch root in the state the scenario starts from.
fn prepare(scenario: &str) -> Scratch {
    let s = Scratch::new();
    s.write("etc/hosts.deny", OLD_DENY);
    // Metadata to carry over, so that fchown, fchmod and fsetxattr are on the path too.
    let deny = s.path("etc/hosts.deny");
    std::fs::set_permissions(&deny, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    xattr::set(&deny, XATTR, b"kept").expect("user xattrs in the temp dir");
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&deny, Some(OWNER), Some(OWNER)).expect("chown");
    }
    if !is_fix(scenario) && scenario != SALVAGE {
        do_fix(&s, false).expect("setup fix").expect("a change");
    }
    s
}

/// Not a test: the process strace runs. Does nothing unless the environment names a root.
#[test]
#[ignore = "driver for fault_injection_on_every_write_syscall; run by it under strace"]
fn fault_driver() {
    let (Some(root), Some(scenario)) =
        (std::env::var_os(ENV_ROOT), std::env::var(ENV_SCENARIO).ok())
    else {
        eprintln!("fault_driver: {ENV_ROOT} not set, nothing to do");
        return;
    };
    let s = Scratch::at(PathBuf::from(root));
    let in_place = std::env::var_os(ENV_IN_PLACE).is_some();
    let burn = std::env::var(ENV_BURN)
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(BURN);
    burn_counts(&s.base, burn);
    let _ = std::fs::metadata(BEGIN);
    let result = if is_fix(&scenario) {
        do_fix(&s, in_place)
    } else if scenario == SALVAGE {
        s.apply_in_place(&FILES, &salvage_plan(&s), in_place)
    } else {
        do_rollback(&s)
    };
    let _ = std::fs::metadata(END);
    match result {
        Ok(Some(a)) => println!("{REPORT} ok {}", a.id),
        Ok(None) => println!("{REPORT} nothing"),
        Err(e) => println!("{REPORT} err {} {e}", e.exit().code()),
    }
}

/// strace numbers `when=N` per thread, and injects into the Nth call of *every* thread:
/// libtest's main thread writes the report, and the dynamic loader opens files at start-up
/// (many, with cargo's LD_LIBRARY_PATH). Making each write-path call `burn` times here,
/// before the marker, puts every call of the change beyond the counts the main thread
/// reaches; `clean_points` measures those and raises `burn` when needed.
const BURN: usize = 32;

fn burn_counts(base: &std::path::Path, burn: usize) {
    use std::io::{Read, Write};
    use std::os::unix::fs::{FileExt, PermissionsExt};
    use xattr::FileExt as _;
    let scratch = base.join("burn");
    let missing = base.join("burn-missing");
    let file = std::fs::File::create(&scratch).expect("burn file");
    let mode = std::fs::Permissions::from_mode(0o600);
    let null = std::path::Path::new("/dev/null");
    let at = nix::fcntl::AT_FDCWD;
    for _ in 0..burn {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(null)
            .expect("/dev/null");
        let _ = f.write(b"x");
        let _ = f.read(&mut [0u8; 1]);
        let _ = f.write_at(b"x", 0);
        let _ = f.read_at(&mut [0u8; 1], 0);
        drop(f);
        let _ = file.sync_all();
        let _ = file.sync_data();
        let _ = file.set_len(0);
        let _ = file.set_permissions(mode.clone());
        let _ = std::os::unix::fs::fchown(&file, None, None);
        let _ = file.set_xattr("user.burn", b"x");
        let _ = file.remove_xattr("user.burn");
        let _ = std::fs::rename(&missing, &missing);
        let _ = nix::fcntl::renameat(at, &missing, at, &missing);
        let _ = nix::fcntl::renameat2(
            at,
            &missing,
            at,
            &missing,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        );
        let _ = std::fs::hard_link(&missing, &missing);
        let _ = std::fs::remove_file(&missing);
        let _ = nix::unistd::unlinkat(at, &missing, nix::unistd::UnlinkatFlags::NoRemoveDir);
        let _ = std::fs::create_dir(base);
        let _ = nix::sys::stat::mkdirat(at, base, nix::sys::stat::Mode::S_IRWXU);
        let dup = file.try_clone().expect("dup");
        let _ = nix::fcntl::Flock::lock(dup, nix::fcntl::FlockArg::LockSharedNonblock)
            .map(|l| l.unlock());
    }
    drop(file);
    let _ = std::fs::remove_file(&scratch);
}

/// Run the driver under strace with `extra` arguments (injections, `-o`).
fn run_driver(
    s: &Scratch,
    scenario: &str,
    in_place: bool,
    burn: usize,
    extra: &[String],
) -> Output {
    // This very binary through /proc: it still runs when a concurrent `cargo test` has
    // replaced the file on disk meanwhile.
    let exe = format!("/proc/{}/exe", std::process::id());
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq"]).args(extra).arg("--").arg(exe);
    cmd.args([
        "fsops_faults::fault_driver",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.env(ENV_ROOT, &s.base)
        .env(ENV_SCENARIO, scenario)
        .env(ENV_BURN, burn.to_string())
        .env("RUST_BACKTRACE", "0");
    if in_place {
        cmd.env(ENV_IN_PLACE, "1");
    }
    cmd.output().expect("run strace")
}

/// What the driver reported: `ok ID`, `nothing`, `err CODE MESSAGE`; `None` if killed.
fn report(out: &Output) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    // libtest prints `test NAME ... ` on the same line before the driver's output.
    stdout.lines().find_map(|l| {
        l.find(REPORT)
            .map(|at| l[at + REPORT.len()..].trim().to_string())
    })
}

/// One injection point: the `nth` call of `syscall` in the driver's thread.
#[derive(Debug, Clone)]
struct Point {
    syscall: String,
    nth: usize,
    /// The call as the clean run made it, for failure messages.
    call: String,
}

/// The write-path calls made between the markers by the thread that made them, numbered as
/// strace numbers them for `when=` (per traced thread, from its first call); and the most
/// calls of one of those kinds that any other thread makes.
fn injection_points(trace: &str) -> (Vec<Point>, usize) {
    let mut tid = None;
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut points: Vec<Point> = Vec::new();
    let mut inside = false;
    for line in trace.lines() {
        let Some((pid, call)) = line.split_once(' ') else {
            continue;
        };
        let call = call.trim_start();
        if call.starts_with("<...") || call.starts_with("+++") || call.starts_with("---") {
            continue;
        }
        let Some(name) = call
            .split('(')
            .next()
            .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        else {
            continue;
        };
        if call.contains(BEGIN) {
            tid = Some(pid.to_string());
            inside = true;
        }
        if call.contains(END) && tid.as_deref() == Some(pid) {
            inside = false;
        }
        let n = counts
            .entry((pid.to_string(), name.to_string()))
            .or_default();
        *n += 1;
        if inside && tid.as_deref() == Some(pid) && WRITE_PATH.contains(&name) {
            points.push(Point {
                syscall: name.to_string(),
                nth: *n,
                call: call.to_string(),
            });
        }
    }
    let others = counts
        .iter()
        .filter(|((pid, name), _)| Some(pid) != tid.as_ref() && WRITE_PATH.contains(&name.as_str()))
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    (points, others)
}

/// The invariants after one run (docs/write-protocol.md) and a recovery run; panics with `what`.
fn check(s: &Scratch, scenario: &str, out: &Output, killed_on_purpose: bool, what: &str) {
    let said = report(out);
    let code = out.status.code();
    assert_ne!(
        code,
        Some(101),
        "{what}: the driver panicked\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if !killed_on_purpose {
        assert!(
            said.is_some(),
            "{what}: the driver said nothing (status {:?})\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let deny = s.read("etc/hosts.deny");
    let allow = s.read("etc/hosts.allow");
    let deny_meta = meta_of(&s.path("etc/hosts.deny"));
    assert_eq!(
        deny_meta,
        expected_meta(),
        "{what}: hosts.deny lost its metadata"
    );
    let deny_new = deny.as_deref() == Some(NEW_DENY);
    let allow_new = allow.as_deref() == Some(NEW_ALLOW);
    assert!(
        deny_new || deny.as_deref() == Some(OLD_DENY),
        "{what}: hosts.deny holds {deny:?}"
    );
    assert!(
        allow_new || allow.is_none(),
        "{what}: hosts.allow holds {allow:?}"
    );
    let sets = fsops::list(&s.root, &s.backup).unwrap_or_else(|e| panic!("{what}: list: {e}"));
    // What the message says of the manifest is what the manifest says (a failed sync of its
    // directory after the rename once made it say "still marks … incomplete" of a complete
    // one).
    if let Some(r) = &said
        && r.contains("still marks the change set as incomplete")
    {
        assert!(
            sets.iter().any(|i| !i.complete),
            "{what}: said the manifest is incomplete, but every change set is complete: {r}"
        );
    }
    if is_fix(scenario) {
        if said.as_deref().is_some_and(|r| r.starts_with("ok")) {
            assert!(
                deny_new && allow_new,
                "{what}: reported success without the new bytes"
            );
        }
        if deny_new || allow_new {
            let fix = sets
                .iter()
                .find(|i| i.action == "fix")
                .unwrap_or_else(|| panic!("{what}: changed without a backup"));
            let set = fsops::load(&s.root, &s.backup, Some(&fix.id))
                .unwrap_or_else(|e| panic!("{what}: backup incomplete: {e}"));
            let d = set
                .files
                .iter()
                .find(|f| f.system_path == "/etc/hosts.deny")
                .expect("deny in the manifest");
            assert_eq!(d.backup.as_deref(), Some(OLD_DENY), "{what}");
        }
    } else {
        if said.as_deref().is_some_and(|r| r.starts_with("ok")) {
            assert!(
                !deny_new && !allow_new,
                "{what}: reported success without the old bytes back"
            );
        }
        if !deny_new || !allow_new {
            let rb = sets.iter().find(|i| i.action == "rollback");
            let rb = rb.unwrap_or_else(|| panic!("{what}: rolled back without a backup"));
            fsops::load(&s.root, &s.backup, Some(&rb.id))
                .unwrap_or_else(|e| panic!("{what}: backup incomplete: {e}"));
        }
    }
    if !killed_on_purpose {
        assert_eq!(
            s.strays(),
            Vec::<String>::new(),
            "{what}: temporary file left after an error"
        );
    }
    recover(s, scenario, what);
}

fn meta_of(path: &std::path::Path) -> (u32, u32, Option<Vec<u8>>) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).expect("metadata");
    (
        m.mode() & 0o7777,
        m.uid(),
        xattr::get(path, XATTR).expect("getxattr"),
    )
}

fn expected_meta() -> (u32, u32, Option<Vec<u8>>) {
    let uid = if nix::unistd::geteuid().is_root() {
        OWNER
    } else {
        nix::unistd::geteuid().as_raw()
    };
    (0o640, uid, Some(b"kept".to_vec()))
}

/// A clean run afterwards completes the change and removes any leftover temporary file.
fn recover(s: &Scratch, scenario: &str, what: &str) {
    if is_fix(scenario) {
        do_fix(s, false).unwrap_or_else(|e| panic!("{what}: recovery fix: {e}"));
        assert_eq!(
            s.read("etc/hosts.deny").as_deref(),
            Some(NEW_DENY),
            "{what}: after recovery"
        );
        assert_eq!(
            s.read("etc/hosts.allow").as_deref(),
            Some(NEW_ALLOW),
            "{what}: after recovery"
        );
    } else {
        match do_rollback(s) {
            Ok(_) => {}
            Err(e) if e.exit().code() == 2 => {} // the driver's rollback completed: nothing left
            Err(e) => panic!("{what}: recovery rollback: {e}"),
        }
        assert_eq!(
            s.read("etc/hosts.deny").as_deref(),
            Some(OLD_DENY),
            "{what}: after recovery"
        );
        assert_eq!(s.read("etc/hosts.allow"), None, "{what}: after recovery");
    }
    assert_eq!(
        s.strays(),
        Vec::<String>::new(),
        "{what}: leftovers not cleaned by the next run"
    );
    assert_eq!(
        meta_of(&s.path("etc/hosts.deny")),
        expected_meta(),
        "{what}: after recovery"
    );
}

/// The injection points of a clean run, and the burn count that keeps them clear of every
/// other thread's calls.
fn clean_points(scenario: &str) -> (Vec<Point>, usize) {
    clean_points_with(scenario, 20)
}

fn clean_points_with(scenario: &str, at_least: usize) -> (Vec<Point>, usize) {
    let mut burn = BURN;
    loop {
        let s = prepare(scenario);
        let trace = s.base.join("trace");
        let out = run_driver(
            &s,
            scenario,
            false,
            burn,
            &["-o".into(), trace.display().to_string()],
        );
        assert_eq!(
            report(&out).as_deref().map(|r| r.split(' ').next()),
            Some(Some("ok")),
            "clean run: {out:?}"
        );
        let (points, others) = injection_points(&std::fs::read_to_string(&trace).expect("trace"));
        assert!(
            points.len() > at_least,
            "too few system calls found between the markers: {points:?}"
        );
        if others < burn {
            return (points, burn);
        }
        assert!(burn < 4096, "other threads make {others} calls of one kind");
        burn = others + 16;
    }
}

#[test]
fn fault_injection_on_every_write_syscall() {
    if !support::require_tool("strace", "fault injection on the write path") {
        return;
    }
    let start = Instant::now();
    let mut jobs = Vec::new();
    for scenario in ["fix", "rollback"] {
        let (points, burn) = clean_points(scenario);
        calibrate(scenario, burn, &points[points.len() / 2]);
        let mut per_call: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &points {
            *per_call.entry(p.syscall.as_str()).or_default() += 1;
        }
        eprintln!("{scenario}: {} injection points {per_call:?}", points.len());
        for p in points {
            for how in ["error=EIO", "signal=SIGKILL"] {
                jobs.push((scenario, burn, p.clone(), how));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while let Some((scenario, burn, p, how)) =
                    jobs.get(next.fetch_add(1, Ordering::SeqCst))
                {
                    let call: String = p.call.chars().take(140).collect();
                    let what = format!("{scenario}: {how} at {} #{} ({call})", p.syscall, p.nth);
                    let run =
                        std::panic::catch_unwind(|| one_injection(scenario, *burn, p, how, &what));
                    if let Err(e) = run {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .unwrap_or_else(|| what.clone());
                        failures.lock().unwrap().push(msg);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "fault injection: {} runs ({} points × EIO and SIGKILL) in {:.1} s",
        jobs.len(),
        jobs.len() / 2,
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} runs broke an invariant:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n")
    );
}

fn one_injection(scenario: &str, burn: usize, p: &Point, how: &str, what: &str) {
    let s = prepare(scenario);
    let inject = format!("inject={}:{how}:when={}", p.syscall, p.nth);
    let out = run_driver(
        &s,
        scenario,
        false,
        burn,
        &["-o".into(), "/dev/null".into(), "-e".into(), inject],
    );
    check(&s, scenario, &out, how.starts_with("signal"), what);
}

/// strace numbers `when=` per traced thread: check that our count hits the call we meant,
/// so that a different strace cannot silently make the whole test inject elsewhere.
fn calibrate(scenario: &str, burn: usize, p: &Point) {
    let s = prepare(scenario);
    let trace = s.base.join("trace");
    let inject = format!("inject={}:error=EIO:when={}", p.syscall, p.nth);
    run_driver(
        &s,
        scenario,
        false,
        burn,
        &[
            "-o".into(),
            trace.display().to_string(),
            "-e".into(),
            inject,
        ],
    );
    let text = std::fs::read_to_string(&trace).expect("trace");
    let hit = injection_points(&text)
        .0
        .into_iter()
        .find(|q| q.call.contains("(INJECTED)"));
    let hit = hit
        .unwrap_or_else(|| panic!("calibration: nothing injected between the markers for {p:?}"));
    assert_eq!(
        (&hit.syscall, hit.nth),
        (&p.syscall, p.nth),
        "calibration: injected {hit:?} instead of {p:?}"
    );
}

/// Errors an admin can act on: each message names the path and operation, says what to do,
/// nothing is changed and nothing is left behind; EBUSY with in-place allowed writes in place.
#[test]
fn injected_errors_give_clear_messages() {
    if !support::require_tool("strace", "error messages of the write path") {
        return;
    }
    let (points, burn) = clean_points("fix");
    // The rename of the new hosts.deny over the old one, and the write of its new bytes.
    let rename = points
        .iter()
        .find(|p| {
            p.syscall.starts_with("rename")
                && p.call.contains("etc/.wrapfix-")
                && p.call.contains("etc/hosts.deny\"")
                && !p.call.contains("/var/backups/")
        })
        .expect("the rename of hosts.deny");
    let write = points
        .iter()
        .find(|p| p.syscall == "write" && p.call.contains("#ALL: ALL"))
        .expect("the write");
    let cases: &[(&Point, &str, &[&str])] = &[
        (
            rename,
            "EROFS",
            &["cannot replace", "read-only", "mount -o remount,rw"],
        ),
        (rename, "EACCES", &["cannot replace", "run wrapfix as root"]),
        (rename, "EPERM", &["cannot replace", "chattr -i"]),
        (
            rename,
            "EBUSY",
            &["cannot replace", "mount point", "in place"],
        ),
        (rename, "EXDEV", &["cannot replace", "mount point"]),
        (write, "ENOSPC", &["cannot write", "filesystem is full"]),
    ];
    for (p, errno, words) in cases {
        let s = prepare("fix");
        let inject = format!("inject={}:error={errno}:when={}", p.syscall, p.nth);
        let out = run_driver(
            &s,
            "fix",
            false,
            burn,
            &["-o".into(), "/dev/null".into(), "-e".into(), inject],
        );
        let said = report(&out).unwrap_or_default();
        assert!(said.starts_with("err 3 "), "{errno}: {said}");
        assert!(
            said.contains(&s.path("etc/").display().to_string()),
            "{errno}: no path in {said}"
        );
        for w in words.iter().chain(&["Nothing was changed"]) {
            assert!(said.contains(w), "{errno}: {w:?} missing in {said}");
        }
        assert_eq!(
            s.read("etc/hosts.deny").as_deref(),
            Some(OLD_DENY),
            "{errno}"
        );
        assert_eq!(s.read("etc/hosts.allow"), None, "{errno}");
        assert!(s.change_sets().is_empty(), "{errno}: unused backup left");
        assert!(s.strays().is_empty(), "{errno}: temporary file left");
    }

    // A bind-mounted hosts.deny (EBUSY on its rename) with in-place writing allowed.
    let s = prepare("fix");
    let inject = format!("inject={}:error=EBUSY:when={}", rename.syscall, rename.nth);
    let out = run_driver(
        &s,
        "fix",
        true,
        burn,
        &["-o".into(), "/dev/null".into(), "-e".into(), inject],
    );
    let said = report(&out).unwrap_or_default();
    assert!(said.starts_with("ok"), "{said}");
    assert_eq!(s.read("etc/hosts.deny").as_deref(), Some(NEW_DENY));
    assert_eq!(s.read("etc/hosts.allow").as_deref(), Some(NEW_ALLOW));
    let set = fsops::load(&s.root, &s.backup, None).unwrap();
    let deny = set
        .files
        .iter()
        .find(|f| f.system_path == "/etc/hosts.deny")
        .unwrap();
    assert!(deny.in_place);
    assert_eq!(deny.backup.as_deref(), Some(OLD_DENY));
    assert!(s.strays().is_empty());
}

/// Regression (a silent exit 0 on a failed manifest update): after a salvage the backup of
/// hosts.deny is rewritten to the old file's final bytes, ban included. That rewrite's errors
/// were ignored: the run exited 0 with a backup lacking the ban (an exact rollback, as for a
/// file unchanged since, then dropped it) or a backup its manifest's SHA-256 no longer
/// matched (no rollback at all). Every call from the rename of hosts.deny to the next
/// manifest update fails in turn; whatever the driver says, the ban must survive a rollback.
#[test]
fn a_failed_backup_rewrite_after_salvage_is_not_silent() {
    if !support::require_tool("strace", "fault injection after a salvage") {
        return;
    }
    let (points, burn) = clean_points_with(SALVAGE, 0);
    let renamed = points
        .iter()
        .position(|p| {
            p.syscall.starts_with("rename")
                && p.call.contains("etc/hosts.deny\"")
                && !p.call.contains("/var/backups/")
        })
        .expect("the rename of hosts.deny");
    let recorded = renamed
        + points[renamed..]
            .iter()
            .position(|p| p.syscall.starts_with("rename") && p.call.contains("manifest.json"))
            .expect("the manifest update after it");
    let mut tried = 0;
    let mut failures = Vec::new();
    for p in &points[renamed + 1..=recorded] {
        if !["write", "fsync", "openat"].contains(&p.syscall.as_str())
            && !p.syscall.starts_with("rename")
        {
            continue;
        }
        tried += 1;
        let call: String = p.call.chars().take(140).collect();
        let what = format!("EIO at {} #{} ({call})", p.syscall, p.nth);
        let run = std::panic::catch_unwind(|| salvage_injection(p, burn, &what));
        if let Err(e) = run {
            failures.push(e.downcast_ref::<String>().cloned().unwrap_or(what));
        }
    }
    assert!(tried >= 4, "only {tried} injection points: {points:?}");
    assert!(
        failures.is_empty(),
        "{} of {tried} injections lost the ban or hid the error:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One run of [`a_failed_backup_rewrite_after_salvage_is_not_silent`], EIO at `p`.
fn salvage_injection(p: &Point, burn: usize, what: &str) {
    let old_final = [OLD_DENY, BAN].concat();
    let new_final = [NEW_DENY, BAN].concat();
    {
        let s = prepare(SALVAGE);
        let inject = format!("inject={}:error=EIO:when={}", p.syscall, p.nth);
        let out = run_driver(
            &s,
            SALVAGE,
            false,
            burn,
            &["-o".into(), "/dev/null".into(), "-e".into(), inject],
        );
        let said = report(&out).unwrap_or_else(|| panic!("{what}: the driver said nothing"));
        assert_eq!(
            s.read("etc/hosts.deny").as_deref(),
            Some(new_final.as_slice()),
            "{what}: {said}"
        );
        if said.starts_with("ok") {
            let set = fsops::load(&s.root, &s.backup, None)
                .unwrap_or_else(|e| panic!("{what}: reported success, but the change set: {e}"));
            let deny = set
                .files
                .iter()
                .find(|f| f.system_path == "/etc/hosts.deny")
                .expect("deny in the manifest");
            assert_eq!(
                deny.backup.as_deref(),
                Some(old_final.as_slice()),
                "{what}: reported success with a backup lacking the salvaged ban"
            );
        } else {
            assert!(said.starts_with("err 3 "), "{what}: {said}");
        }
        do_rollback(&s).unwrap_or_else(|e| panic!("{what}: ({said}) rollback: {e}"));
        assert_eq!(
            s.read("etc/hosts.deny").as_deref(),
            Some(old_final.as_slice()),
            "{what}: ({said}) the rollback lost the salvaged ban"
        );
        assert!(s.strays().is_empty(), "{what}: temporary file left");
    }
}
