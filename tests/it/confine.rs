//! Confinement (issue 9 "Proof"): a root full of links that try to lead out of it —
//! absolute and relative, through missing components and `..`, in etc/, var/, var/backups/,
//! the backup directory and inside change sets — and wrapfix run on it in every mode under
//! `strace -f`. Every path any file system call names must be inside the root, or on a
//! short allow-list (shared libraries, /proc/self, /dev/null, the root's own ancestors for
//! `stat` while the root is made canonical). Nothing outside the root changes, and what
//! the links really lead to inside the root is what gets changed.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::hostile::sandbox;
use crate::support;
use crate::support::system::System;

/// Build every escape shape. Each link would reach `BASE/outside/…` if it were followed on
/// this machine; resolved inside the root it reaches `ROOT/…`.
fn hostile_root() -> System {
    let s = sandbox();
    let outside = s.beside("outside");
    for f in ["allow", "os-release", "list", "passwd", "manifest.json"] {
        std::fs::write(outside.join(f), "ALL: ALL\n").expect("decoy");
    }
    std::fs::create_dir_all(outside.join("log")).expect("decoy dir");
    std::fs::write(
        outside.join("log/auth.log"),
        "Nov 24 00:50:12 host sshd[1]: refused connect from 192.0.2.99 (192.0.2.99)\n",
    )
    .expect("decoy log");
    let s = s
        // etc/: relative links that climb above the root, an absolute one with `..`, one
        // through a missing component.
        .file("/etc/real-deny", "sshd: /etc/list\nALL: ALL\n")
        .link("/etc/hosts.deny", "../../../../etc/real-deny")
        .dir("/outside")
        .link("/etc/hosts.allow", "/../../outside/allow")
        .file("/outside/os-release", "ID=debian\n")
        .link("/etc/os-release", "../../../outside/os-release")
        .link("/etc/passwd", "/nonexist/../../outside/passwd")
        .file("/outside/list", "192.0.2.98\n")
        .link("/etc/list", "../../../../outside/list")
        .link("/etc/fail2ban", "/../outside/fail2ban")
        // var/ is a link, var/backups a link in it, and the logs another.
        .dir("/rootvar")
        .link("/var", "../../../rootvar")
        .dir("/outside-backups/wrapfix")
        .link("/rootvar/backups", "/../outside-backups")
        .file(
            "/outside/log/auth.log",
            "Nov 24 00:50:12 host sshd[1]: refused connect from 203.0.113.45 (203.0.113.45)\n",
        )
        .link("/rootvar/log", "/../../outside/log");
    // In the backup directory: a change set that is a link out, and one whose manifest and
    // backup are links out.
    let backups = s.at("/outside-backups/wrapfix");
    symlink(outside.join("fake-set"), backups.join("20200101T000000Z")).expect("link");
    std::fs::create_dir_all(backups.join("20200101T000001Z/etc")).expect("fake set");
    symlink(
        outside.join("manifest.json"),
        backups.join("20200101T000001Z/manifest.json"),
    )
    .expect("link");
    symlink(
        outside.join("passwd"),
        backups.join("20200101T000001Z/etc/hosts.deny"),
    )
    .expect("link");
    s.link("/usr/sbin/sshd", "/../../usr/bin/true").settle()
}

/// System calls that take file names (strace's %file class).
#[rustfmt::skip]
const NAMING: &[&str] = &[
    "open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "statx", "access",
    "faccessat", "faccessat2", "readlink", "readlinkat", "mkdir", "mkdirat", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "symlink", "symlinkat", "link",
    "linkat", "chmod", "fchmodat", "chown", "lchown", "fchownat", "utimensat", "utimes",
    "execve", "execveat", "truncate", "statfs", "getxattr", "lgetxattr", "setxattr",
    "lsetxattr", "listxattr", "llistxattr", "removexattr", "lremovexattr", "chdir",
    "inotify_add_watch", "mknod", "mknodat",
];

/// Every path in an `strace -f -y` log: the names file system calls take (relative ones
/// joined to the directory descriptor they are relative to), and the files behind every
/// descriptor any call uses (`3</path>`: reads, writes, fsync, fchown, flock …).
fn paths_in(log: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in log.lines() {
        let rest = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
        let Some(open) = rest.find('(') else { continue };
        let call = &rest[..open];
        if call.is_empty() || !call.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let args = &rest[open + 1..];
        let mut first_dir: Option<String> = None;
        let mut at = 0;
        while let Some(lt) = args[at..].find('<') {
            let lt = at + lt;
            let digits = args[..lt]
                .bytes()
                .rev()
                .take_while(u8::is_ascii_digit)
                .count();
            let Some(gt) = args[lt..].find('>') else {
                break;
            };
            let inner = &args[lt + 1..lt + gt];
            if digits > 0 && inner.starts_with('/') {
                if first_dir.is_none()
                    && args[..lt]
                        .trim_end_matches(|c: char| c.is_ascii_digit())
                        .is_empty()
                {
                    first_dir = Some(inner.to_string());
                }
                out.push((call.to_string(), inner.to_string()));
            }
            at = lt + gt;
        }
        if !NAMING.contains(&call) {
            continue;
        }
        // The names a call takes: the first quoted argument, and the second for the calls
        // that take two (later quoted arguments are data: a link's target, an attribute).
        let names = if matches!(
            call,
            "rename" | "renameat" | "renameat2" | "link" | "linkat"
        ) {
            2
        } else {
            1
        };
        let mut taken = 0;
        let mut chars = args.char_indices();
        while let Some((i, c)) = chars.next() {
            if taken == names {
                break;
            }
            if c != '"' {
                continue;
            }
            let mut end = args.len();
            let mut escaped = false;
            for (j, d) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == '"' {
                    end = j;
                    break;
                }
            }
            taken += 1;
            let s = &args[i + 1..end];
            let p = match (&first_dir, s.starts_with('/')) {
                (_, true) => s.to_string(),
                (Some(d), false) if !s.is_empty() => format!("{d}/{s}"),
                _ => continue,
            };
            out.push((call.to_string(), p));
        }
    }
    out
}

/// Whether a path a system call named is allowed: inside the root, or a few things any
/// process touches. The root's ancestors only for looking at them (making it canonical).
fn allowed(call: &str, path: &str, root: &Path, exe: &Path) -> bool {
    let p = Path::new(path);
    // `ROOT/missing/../../x` starts with ROOT as text and is outside it for the kernel.
    if p.components().any(|c| c == std::path::Component::ParentDir) {
        return false;
    }
    if p.starts_with(root) {
        return true;
    }
    const SYSTEM: [&str; 12] = [
        "/lib",
        "/lib64",
        "/usr/lib",
        "/usr/lib64",
        "/etc/ld.so.cache",
        "/etc/ld.so.preload",
        "/proc/self",
        "/dev/null",
        "/dev/tty",
        "/usr/share/locale",
        "/sys/fs/cgroup",
        "/proc/sys/kernel",
    ];
    if SYSTEM.iter().any(|s| p.starts_with(s)) || p == exe {
        return true;
    }
    // /proc/self as the kernel names it (-y shows /proc/PID/maps for std's stack guard).
    if let Some(rest) = path.strip_prefix("/proc/")
        && rest
            .split('/')
            .next()
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    {
        return true;
    }
    let looks = matches!(
        call,
        "newfstatat"
            | "stat"
            | "lstat"
            | "statx"
            | "readlink"
            | "readlinkat"
            | "statfs"
            | "access"
            | "faccessat"
            | "faccessat2"
    );
    looks && root.starts_with(p)
}

fn run_traced(s: &System, args: &[&str]) -> (Option<i32>, String, Vec<(String, String)>) {
    let log = s.beside("trace.log");
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-y",
            "-s",
            "4096",
            "-e",
            "trace=%file,%desc",
            "-o",
        ])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_wrapfix"))
        .arg("--root")
        .arg(s.path())
        .args(["--color", "never"])
        .args(args)
        .env_remove("SSH_CONNECTION")
        // cargo's library path would send the dynamic loader looking in target/.
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("strace");
    let text = std::fs::read_to_string(&log).expect("trace log");
    let _ = std::fs::remove_file(&log);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), said, paths_in(&text))
}

#[test]
fn nothing_outside_the_root_is_read_or_written_whatever_its_links_say() {
    if !support::require_tool("strace", "records every path wrapfix's system calls name") {
        return;
    }
    let s = hostile_root();
    let root = std::fs::canonicalize(s.path()).expect("canonical root");
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_wrapfix"));
    let runs: [(&[&str], i32); 8] = [
        (&["--check"], 1),
        (&["--dry-run", "--client", "198.51.100.7"], 1),
        (&["--list-backups"], 0),
        (&["--yes", "--client", "198.51.100.7"], 0),
        (&["--rollback", "--yes"], 0),
        (&["--yes", "--strategy", "comment"], 0),
        (&["--list-backups"], 0),
        (&["--rollback", "--yes"], 0),
    ];
    let mut seen = 0;
    for (args, code) in runs {
        let (got, said, paths) = run_traced(&s, args);
        assert_eq!(got, Some(code), "{args:?}: {said}");
        let escaped: Vec<_> = paths
            .iter()
            .filter(|(call, p)| !allowed(call, p, &root, &exe))
            .collect();
        assert!(
            escaped.is_empty(),
            "{args:?} named paths outside the root: {escaped:#?}\n{said}"
        );
        assert!(
            paths
                .iter()
                .any(|(_, p)| p.starts_with(root.join("outside").to_str().expect("utf8"))),
            "{args:?}: the trace shows the links being followed inside the root"
        );
        seen += paths.len();
        s.assert_outside_untouched();
        if args == ["--yes", "--client", "198.51.100.7"] {
            // Created through the link, inside.
            let allow = s.read("/outside/allow");
            assert!(String::from_utf8_lossy(&allow).contains("sshd: 198.51.100.7"));
        }
        if args == ["--yes", "--strategy", "comment"] {
            let deny = s.text("/etc/real-deny");
            assert!(deny.contains("#ALL: ALL"), "{deny}");
        }
    }
    // Rolled back twice: the tables are as they were, and the decoy sets were never used.
    assert_eq!(s.read("/etc/real-deny"), b"sshd: /etc/list\nALL: ALL\n");
    assert!(!s.exists("/outside/allow"));
    assert!(seen > 100, "the trace recorded only {seen} paths");
}
