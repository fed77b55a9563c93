//! libwrap's `refused connect from` lines in the system's logs (`refused-client` findings, docs/json.md).
//!
//! When libwrap turns a client away, the daemon calls `refuse()`, which logs
//! `refused connect from CLIENT` — with Debian's IPv6 patch `refused connect from CLIENT (ADDR)`
//! — where CLIENT is `eval_client()`: `[user@]host`, host being the verified name if one was
//! looked up, else the address, else `unknown` (refuse.c, eval.c). The syslog facility is
//! the daemon's: sshd's `SyslogFacility` (AUTH → auth.log on Debian, AUTHPRIV → secure on
//! RHEL), tcpd's compiled-in one (authpriv on RHEL; daemon on Debian, which Debian writes to
//! syslog and daemon.log — not read here), and whatever other wrapped daemons choose (RHEL
//! writes auth and daemon to messages). So we read `ROOT/var/log/{secure,auth.log,messages}`
//! and every rotated copy logrotate leaves (`X.1`, `X.2.gz`, `X-20261115`, `X-20261115.gz`).
//!
//! Where no syslog daemon writes those files (Debian 12 and 13 by default), the refusals
//! are only in the systemd journal, read through journalctl ([`crate::diagnose::journal`]).
//!
//! Speed matters (issue 4: at least half of `zgrep -c` on the same files): each file is read
//! in large chunks (gzip decompressed as a stream), candidate lines are found with one
//! `memmem` search over the chunk, and only those lines are parsed. Line numbers come from a
//! vectorised newline count of the bytes between hits.

use std::io::{self, Read};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use memchr::memmem;
use rustc_hash::FxHashMap;

use crate::diagnose::detect::{Finding, Kind, Severity};
use crate::model::syntax::escape;
use crate::rootfs::Root;

mod files;
mod line;
mod read;
mod tally;

use files::*;
use line::*;
use read::*;
use tally::*;

/// The directory the logs live in, on the repaired system.
const LOG_DIR: &str = "/var/log";

/// The log files (issue 4) libwrap's refusals reach with the distributions' default syslog
/// rules: authpriv → `secure` (RHEL), auth → `auth.log` (Debian), auth and daemon →
/// `messages` (RHEL). Debian's `syslog` and `daemon.log` would both hold a daemon-facility
/// refusal, so adding them needs de-duplication first.
const FAMILIES: [&str; 3] = ["secure", "auth.log", "messages"];

/// The text `refuse()` logs, with the space before the client.
const NEEDLE: &[u8] = b"refused connect from ";

/// Bytes read (or decompressed) at a time: big enough that the per-read and per-search
/// overhead vanishes, small enough to keep memory flat on multi-gigabyte logs.
const CHUNK: usize = 1 << 20;

/// Where in the recency order a line sits: the file's rank (oldest file 0) above this many
/// bits, its byte offset below.
const SEQ_OFFSET_BITS: u32 = 40;

/// One client (address and daemon) that libwrap refused, summed over all the log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The client address as libwrap printed it: the parenthesised address when the line
    /// has one (Debian), else the host field (upstream/RHEL: an address, or a verified
    /// name), else `unknown`. IPv4-mapped addresses are kept as logged (`::ffff:a.b.c.d`).
    pub addr: String,
    /// The plain IPv4 address when `addr` is IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so a rule
    /// can be written for either form.
    pub ipv4: Option<String>,
    /// The verified host name libwrap printed for the newest refusal, when it printed one
    /// that differs from `addr`.
    pub name: Option<String>,
    /// The client user (ident) libwrap printed for the newest refusal (`user@host`).
    pub user: Option<String>,
    /// The program that logged it (the syslog tag without `[pid]`), e.g. `sshd`.
    pub daemon: String,
    /// How many refusals of this client by this daemon the logs hold.
    pub count: u64,
    /// The newest refusal's timestamp, as logged (`Nov 24 00:50:12` or RFC 3339).
    pub last: Option<String>,
    /// Recency of the newest refusal; larger is newer. Files are ranked by rotation (the
    /// current file newest, then `.1`, `.2.gz`, … or newest date suffix first), then by
    /// position in the file; values only compare within one scan.
    pub last_seq: u64,
    /// The newest file it was seen in, as a path on the repaired system.
    pub file: String,
    /// The 1-based line of the newest refusal in `file` (saturates at `u32::MAX`).
    pub line: u32,
    /// The newest refusal's whole log line, as bytes.
    pub text: Vec<u8>,
}

/// A log file that could not be read in full: refusals in the unread part are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as a path on the repaired system.
    pub file: String,
    /// Bytes of (decompressed) text read before the problem.
    pub read: u64,
    /// What went wrong, for people.
    pub reason: String,
    /// Warning when refusals may be missing from the report; info when the file is simply
    /// in a format we do not read.
    pub severity: Severity,
}

/// Everything one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogScan {
    /// Most recent first.
    pub refusals: Vec<Refused>,
    pub problems: Vec<Problem>,
}

impl LogScan {
    /// The refusal findings (see [`findings`]) followed by one per unreadable log.
    pub fn findings(&self, limit: usize) -> Vec<Finding> {
        let mut out = findings(&self.refusals, limit);
        out.extend(self.problems.iter().map(problem_finding));
        out
    }
}

/// The libwrap refusals in `ROOT/var/log`, most recent first. Files that cannot be read in
/// full are skipped or cut short; [`scan_logs`] says which.
pub fn scan(root: &Root) -> io::Result<Vec<Refused>> {
    Ok(scan_logs(root)?.refusals)
}

/// The libwrap refusals in `ROOT/var/log` and the log files that could not be read in full.
/// A missing log directory is an empty result; an unlistable one is an error.
pub fn scan_logs(root: &Root) -> io::Result<LogScan> {
    let mut problems = Vec::new();
    let mut files = list_logs(root, &mut problems)?;
    let mut tally = Tally::default();
    for (rank, file) in files.iter().enumerate() {
        if let Some(problem) = scan_file(file, rank, &mut tally) {
            problems.push(problem);
        }
    }
    // The journal, newest of all, when no syslog daemon writes the files above: where one
    // does (a current auth.log, secure or messages), it got the same lines from journald,
    // and counting both would count every refusal twice.
    let syslog = files.iter().any(|f| f.age == Age::Current);
    if let Some(dir) = crate::diagnose::journal::find(root).filter(|_| !syslog) {
        let rank = files.len();
        let mut lines = Lines::new(rank, &mut tally);
        if let Some(problem) = crate::diagnose::journal::read(&dir, &mut |out| lines.read_all(out))
        {
            problems.push(problem);
        }
        files.push(LogFile {
            system: crate::diagnose::journal::DIR.to_string(),
            host: dir,
            compression: Compression::Plain,
            family: 0,
            age: Age::Current,
        });
    }
    Ok(LogScan {
        refusals: tally.into_refusals(&files),
        problems,
    })
}

/// One `refused-client` finding (warning) per client and daemon, the `limit` most recent;
/// one info finding counts the rest.
pub fn findings(refusals: &[Refused], limit: usize) -> Vec<Finding> {
    let mut out: Vec<Finding> = refusals.iter().take(limit).map(refusal_finding).collect();
    let rest = refusals.len().saturating_sub(limit);
    if rest > 0 {
        out.push(Finding {
            kind: Kind::RefusedClient,
            severity: Severity::Info,
            role: None,
            path: None,
            line: None,
            text: None,
            message: format!(
                "{rest} more {} refused by libwrap in older log lines; only the {limit} most recent are listed",
                plural(rest as u64, "client was", "clients were")
            ),
        });
    }
    out
}

/// The client as an admin reads it: the address, plus its IPv4 form or name.
fn who(r: &Refused) -> String {
    match r.addr.as_str() {
        "unknown" => return "a client whose address libwrap could not tell".into(),
        "paranoid" => return "a client whose name and address did not match".into(),
        _ => {}
    }
    let addr = escape(r.addr.as_bytes());
    match (&r.ipv4, &r.name) {
        (Some(v4), _) => format!("{addr} (IPv4 {})", escape(v4.as_bytes())),
        (None, Some(name)) => format!("{addr} ({})", escape(name.as_bytes())),
        (None, None) => addr,
    }
}

fn refusal_finding(r: &Refused) -> Finding {
    let who = who(r);
    let when = r
        .last
        .as_ref()
        .map(|t| format!(", last at {}", escape(t.as_bytes())))
        .unwrap_or_default();
    // A line of journalctl's output is no place in the journal's files.
    let line = (r.file != crate::diagnose::journal::DIR).then_some(r.line);
    Finding {
        kind: Kind::RefusedClient,
        severity: Severity::Warning,
        role: None,
        path: Some(r.file.clone()),
        line,
        text: Some(r.text.clone()),
        message: format!(
            "{} refused {who} {} {}{when} (in {}): libwrap's rules turned this client away",
            escape(r.daemon.as_bytes()),
            r.count,
            plural(r.count, "time", "times"),
            escape(r.file.as_bytes()),
        ),
    }
}

fn problem_finding(p: &Problem) -> Finding {
    Finding {
        kind: Kind::RefusedClient,
        severity: p.severity,
        role: None,
        path: Some(p.file.clone()),
        line: None,
        text: None,
        message: format!("{}: {}", escape(p.file.as_bytes()), p.reason),
    }
}

fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests;
