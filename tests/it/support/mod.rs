//! Helpers shared by the integration tests: skipping (or failing) when a system tool is
//! missing, running our evaluator the way `hosts_ctl()` works, and printing bytes so a
//! failure can be reproduced by hand.

pub mod oracle;
pub mod pane;
pub mod system;

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wrapfix::eval::{Access, How, Verdict, evaluate};
use wrapfix::eval::{Env, Mode};
use wrapfix::model::accounts::FileAccounts;
use wrapfix::model::client::Client;
use wrapfix::model::flavor::Flavor;
use wrapfix::model::tables::Tables;
use wrapfix::rootfs::Root;

/// CI sets this so that a missing tool fails the run instead of silently skipping.
pub const REQUIRE_ENV: &str = "WRAPFIX_REQUIRE_SYSTEM_TESTS";

/// The running test's name (libtest names each test thread after its test).
fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => "<test>".to_string(),
    }
}

/// Say loudly that a system-dependent test cannot run; panic instead when CI requires it.
pub fn skip(what: &str, why: &str) {
    let line = format!("SKIPPED {}: {what} not found ({why})", test_name());
    if std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1") {
        panic!("{line}, and {REQUIRE_ENV}=1 requires it");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests, and a
    // skip must be seen.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Where an executable is: `PATH`, then the sbin directories (tests do not always run with
/// them in `PATH`, and tcpdmatch lives in /usr/sbin).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|p| is_executable(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True when `name` can be run; otherwise prints `SKIPPED …` (or panics under CI).
pub fn require_tool(name: &str, why: &str) -> bool {
    if find_tool(name).is_some() {
        return true;
    }
    skip(name, why);
    false
}

/// True when a shared library is installed in one of the usual directories.
pub fn require_library(file: &str, why: &str) -> bool {
    if find_library(file).is_some() {
        return true;
    }
    skip(file, why);
    false
}

pub fn find_library(file: &str) -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib",
    ]
    .iter()
    .map(|dir| Path::new(dir).join(file))
    .find(|p| p.exists())
}

/// True when the `hosts_ctl()` oracle could be built (a C compiler, tcpd.h, libwrap.so.0).
pub fn require_libwrap(why: &str) -> bool {
    match oracle::driver() {
        Ok(_) => true,
        Err(missing) => {
            skip(missing, why);
            false
        }
    }
}

/// This machine's users and groups: the oracle's `user`/`group` options look them up too.
pub fn test_accounts() -> &'static FileAccounts {
    static ACCOUNTS: OnceLock<FileAccounts> = OnceLock::new();
    ACCOUNTS.get_or_init(|| FileAccounts::load(&Root::new("/")))
}

/// The outcome of an `aclexec` command as the oracle will see it. Tests only ever write
/// `/bin/true` and `/bin/false` (possibly with arguments), which the real library runs.
pub fn aclexec_outcome(cmd: &[u8]) -> bool {
    cmd.split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())
        == Some(b"/bin/true".as_slice())
}

/// The evaluator's surroundings, built like a [`system::System`]: `Eval::daemon(flavor)` is
/// the library inside the daemon (names unknown, `aclexec` unknown), `Eval::hosts_ctl()` is
/// `hosts_ctl()` on the Debian build (strings verbatim, `/bin/true`/`/bin/false` aclexec
/// outcomes known). Both read `/file` patterns under `/` (tests name real scratch paths) and
/// look users and groups up in this machine's files, unless told otherwise.
pub struct Eval {
    flavor: Flavor,
    mode: Mode,
    root: Root,
    accounts: Option<FileAccounts>,
    aclexec: bool,
}

impl Eval {
    pub fn daemon(flavor: Flavor) -> Eval {
        Eval {
            flavor,
            mode: Mode::Daemon,
            root: Root::new("/"),
            accounts: None,
            aclexec: false,
        }
    }

    pub fn hosts_ctl() -> Eval {
        Eval {
            flavor: Flavor::Debian,
            mode: Mode::HostsCtl,
            root: Root::new("/"),
            accounts: None,
            aclexec: true,
        }
    }

    /// `/file` patterns are read under `dir`.
    pub fn root(mut self, dir: impl AsRef<Path>) -> Eval {
        self.root = Root::new(dir.as_ref());
        self
    }

    /// Only these users and groups exist.
    pub fn accounts(mut self, users: &[&str], groups: &[&str]) -> Eval {
        self.accounts = Some(FileAccounts::from_names(users, groups));
        self
    }

    /// No users or groups at all.
    pub fn no_accounts(mut self) -> Eval {
        self.accounts = Some(FileAccounts::default());
        self
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            flavor: self.flavor,
            mode: self.mode,
            root: &self.root,
            accounts: match &self.accounts {
                Some(a) => a,
                None => test_accounts(),
            },
            aclexec: if self.aclexec {
                Some(&aclexec_outcome)
            } else {
                None
            },
        }
    }

    /// The verdict for `daemon` and `client` on these tables (None: file absent).
    pub fn evaluate(
        &self,
        allow: Option<&[u8]>,
        deny: Option<&[u8]>,
        daemon: &str,
        client: &Client,
    ) -> Verdict {
        let tables = Tables::from_bytes(allow, deny);
        evaluate(&tables, daemon, client, &self.env())
    }
}

/// Our verdict for `hosts_ctl(daemon, name, addr, user)` on the Debian build.
pub fn evaluate_hosts_ctl(
    allow: Option<&[u8]>,
    deny: Option<&[u8]>,
    daemon: &str,
    client: &Client,
) -> Verdict {
    Eval::hosts_ctl().evaluate(allow, deny, daemon, client)
}

/// A verdict in the terms every side can give: ours, `hosts_ctl()`'s, tcpdmatch's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Granted,
    Denied,
    /// `twist`: the process is handed to a command (tcpdmatch: "delegated"); the library
    /// in `hosts_ctl` ends the process without a verdict. Denied for the client.
    Twist,
    /// libwrap crashed (a `/file` that includes itself). Denied for the daemon.
    Crash,
    /// Our evaluator could not decide: never right in `hosts_ctl` mode, where all is known.
    Depends,
    /// Anything else the oracle reported.
    Other(String),
}

impl Outcome {
    pub fn of_ours(v: &Verdict) -> Outcome {
        match v.access {
            Access::Granted => Outcome::Granted,
            Access::Depends => Outcome::Depends,
            Access::Denied => match v.decision().how {
                How::Twist | How::Exit => Outcome::Twist,
                How::Crash => Outcome::Crash,
                _ => Outcome::Denied,
            },
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Granted => f.write_str("granted"),
            Outcome::Denied => f.write_str("denied"),
            Outcome::Twist => f.write_str("twist/no verdict (denied)"),
            Outcome::Crash => f.write_str("crash (denied)"),
            Outcome::Depends => f.write_str("depends"),
            Outcome::Other(s) => f.write_str(s),
        }
    }
}

/// Our verdict with the rule that decided it, for failure messages.
pub fn describe_ours(v: &Verdict) -> String {
    let d = v.decision();
    let rule = match &d.rule {
        Some(r) => format!("{} line {}: {}", r.loc.role, r.loc.line, escape(&r.text)),
        None => "no rule".to_string(),
    };
    format!("{} — {:?} — {rule}", Outcome::of_ours(v), d.how)
}

/// Bytes as a double-quoted string a reader can retype: control bytes and non-ASCII are
/// escaped, and long runs of one byte (the padding of over-long lines) are abbreviated as
/// `{x×2031}` so a 2048-byte line still fits on a screen.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let run = bytes[i..].iter().take_while(|&&c| c == b).count();
        if run > 12 {
            out.push_str(&format!("{{{}×{run}}}", escape_byte(b)));
            i += run;
            continue;
        }
        out.push_str(&escape_byte(b));
        i += 1;
    }
    out.push('"');
    out
}

fn escape_byte(b: u8) -> String {
    match b {
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0 => "\\0".into(),
        b'\\' => "\\\\".into(),
        b'"' => "\\\"".into(),
        0x20..=0x7e => (b as char).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

/// A table for messages: its escaped bytes, or `(absent)`.
pub fn show_table(t: Option<&[u8]>) -> String {
    t.map_or_else(|| "(absent)".to_string(), escape)
}

#[test]
fn escape_keeps_short_text_and_abbreviates_padding() {
    assert_eq!(escape(b"a\\\n\0\r\t\"\xff"), r#""a\\\n\0\r\t\"\xff""#);
    let long = [b"sshd: ".as_slice(), &[b'x'; 20], b"\n"].concat();
    assert_eq!(escape(&long), "\"sshd: {x×20}\\n\"");
}
