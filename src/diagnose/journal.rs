//! libwrap's refusals in the systemd journal. Debian 12 and 13 install no syslog daemon by
//! default: `sshd[…]: refused connect from …` (Debian 13: `sshd-session[…]`) then exists only
//! in `ROOT/var/log/journal/MACHINE-ID/*.journal`, a binary format.
//!
//! The journal is read through this machine's `journalctl --directory=DIR` (never a program
//! of the repaired system), as `short-iso` text: `2026-11-24T00:50:12+0000 HOST TAG[PID]:
//! MESSAGE`, the syslog shape [`crate::diagnose::logs`] parses. Without journalctl, or when it fails,
//! the journal is not read and a finding says so and why.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::diagnose::detect::Severity;
use crate::diagnose::logs::Problem;
use crate::rootfs::Root;

/// Where the persistent journal lives, on the repaired system.
pub const DIR: &str = "/var/log/journal";

/// Most bytes of journalctl's error output kept for a finding.
const STDERR_KEPT: usize = 4096;

/// The journal directory on this machine, if it holds any journal file (in it or in a
/// machine-ID directory below it, as journald writes them).
pub fn find(root: &Root) -> Option<PathBuf> {
    let dir = root.resolve(DIR).ok()?;
    let is_journal = |p: &Path| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        name.is_some_and(|n| n.ends_with(".journal") || n.ends_with(".journal~"))
            && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
    };
    let entries = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let found = entries(&dir).iter().any(|p| {
        is_journal(p)
            || (std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
                && entries(p).iter().any(|q| is_journal(q)))
    });
    found.then_some(dir)
}

/// Run journalctl on `dir` and hand its text output to `read`; a problem when the journal
/// could not be read (in full).
pub fn read(dir: &Path, read: &mut dyn FnMut(&mut dyn Read) -> io::Result<()>) -> Option<Problem> {
    // `--grep` needs journalctl built with PCRE2; without it, everything is read and the
    // log parser picks the refusals.
    match run(dir, true, read) {
        Err(Failure::NoGrep) => run(dir, false, read).err().map(problem),
        other => other.err().map(problem),
    }
}

enum Failure {
    /// journalctl could not be started (not installed here).
    Missing(io::Error),
    /// This journalctl cannot filter with `--grep`.
    NoGrep,
    /// It ran and failed, or said something on stderr: its words.
    Failed(String),
    Read(io::Error),
}

fn run(
    dir: &Path,
    grep: bool,
    read: &mut dyn FnMut(&mut dyn Read) -> io::Result<()>,
) -> Result<(), Failure> {
    let mut cmd = Command::new("journalctl");
    cmd.arg(format!("--directory={}", dir.display()))
        .args(["--output=short-iso", "--utc", "--no-pager", "--quiet"])
        .env("SYSTEMD_COLORS", "0")
        .env_remove("SYSTEMD_PAGER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if grep {
        cmd.arg("--grep=refused connect from");
    }
    let mut child = cmd.spawn().map_err(Failure::Missing)?;
    // stderr is drained on its own thread: a full stderr pipe must not stall the output.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut e).take(STDERR_KEPT as u64).read_to_end(&mut kept);
            let _ = io::copy(&mut e, &mut io::sink());
            kept
        })
    });
    let result = match child.stdout.take() {
        Some(mut out) => read(&mut out),
        None => Ok(()),
    };
    let status = child.wait();
    let said = stderr
        .and_then(|t| t.join().ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    result.map_err(Failure::Read)?;
    let ok = status.as_ref().is_ok_and(|s| s.success());
    if grep && !ok && (said.contains("pattern matching") || said.contains("--grep")) {
        return Err(Failure::NoGrep);
    }
    if !ok || !said.is_empty() {
        let said = if said.is_empty() {
            match status {
                Ok(s) => format!("it exited with {s}"),
                Err(e) => e.to_string(),
            }
        } else {
            said.lines().take(3).collect::<Vec<_>>().join("; ")
        };
        return Err(Failure::Failed(said));
    }
    Ok(())
}

fn problem(f: Failure) -> Problem {
    let (read, reason) = match f {
        Failure::Missing(e) => (
            0,
            format!(
                "the systemd journal was not read: journalctl could not be run on this machine ({e}); refusals logged only in the journal are not counted (install systemd here, or run journalctl --directory on a machine that has it)"
            ),
        ),
        Failure::NoGrep => (
            0,
            "the systemd journal was not read: journalctl refused to search it".to_string(),
        ),
        Failure::Failed(said) => (
            0,
            format!(
                "journalctl could not read all of the systemd journal ({said}); refusals in what it skipped are not counted"
            ),
        ),
        Failure::Read(e) => (
            0,
            format!(
                "reading journalctl's output failed ({e}); refusals after that point are not counted"
            ),
        ),
    };
    Problem {
        file: DIR.to_string(),
        read,
        reason,
        severity: Severity::Warning,
    }
}
