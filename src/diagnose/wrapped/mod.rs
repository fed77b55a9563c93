//! Is the daemon linked with libwrap at all? (`not-wrapped` findings, docs/json.md)
//!
//! hosts.allow and hosts.deny only matter to a program that calls libwrap. Upstream OpenSSH
//! dropped libwrap in 6.7, and Fedora ≥ 28 and RHEL ≥ 8 build sshd without it, so an admin
//! can spend the night editing files that change nothing. The answer comes from the program
//! file's ELF dynamic section, read by hand from its bytes: `ldd` would run the foreign
//! system's loader (or this machine's, with this machine's libraries), which is wrong on a
//! disk mounted under `--root` and unsafe on a damaged one.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use memchr::memmem;

use crate::diagnose::detect::{Finding, Kind, Severity};
use crate::model::syntax::escape;
use crate::rootfs::Root;

/// Directories a daemon's program is looked for in, on the repaired system.
const DIRS: [&str; 6] = [
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/local/sbin",
    "/usr/libexec",
];

/// OpenSSH ≥ 9.8 splits sshd: the listener execs `sshd-session` for each connection, and
/// that is the process that calls libwrap (Debian 13). Where distributions put it.
const SSHD_SESSION: [&str; 6] = [
    "/usr/lib/openssh/sshd-session",
    "/usr/libexec/openssh/sshd-session",
    "/usr/libexec/sshd-session",
    "/usr/lib/ssh/sshd-session",
    "/usr/local/libexec/sshd-session",
    "/usr/local/libexec/openssh/sshd-session",
];

/// A program larger than this is not read (no sshd is near it; a huge file is not a daemon).
const MAX_PROGRAM: u64 = 256 << 20;

/// Strings only a program with libwrap inside is likely to hold: libwrap's own log message
/// and entry point, and OpenSSH's message after libwrap's `refuse()`.
const LIBWRAP_STRINGS: [&[u8]; 3] = [
    b"refused connect from",
    b"hosts_access",
    b"libwrap refuse returns",
];

/// What the bytes of one program file say about its shared libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binary {
    /// A dynamically linked ELF program; `needed` are its DT_NEEDED entries, in order.
    Dynamic { needed: Vec<String> },
    /// An ELF program without shared libraries (static or static-pie): libwrap could be
    /// linked in. `libwrap_strings` is a heuristic: libwrap's strings occur in its bytes.
    Static { libwrap_strings: bool },
    /// Not ELF at all: a script (`interpreter` from its `#!` line) or something else.
    NotElf { interpreter: Option<String> },
    /// ELF, but it cannot be read as a program (truncated, corrupt): the reason.
    Malformed(String),
}

impl Binary {
    /// The DT_NEEDED entry that is libwrap, if any.
    pub fn libwrap(&self) -> Option<&str> {
        match self {
            Binary::Dynamic { needed } => needed
                .iter()
                .find(|n| n.starts_with("libwrap.so"))
                .map(String::as_str),
            _ => None,
        }
    }
}

/// Why a program was found but its use of libwrap cannot be told from its libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unknown {
    Static { libwrap_strings: bool },
    Script { interpreter: Option<String> },
    Malformed(String),
    Unreadable(String),
}

/// The answer for one daemon, over every program file that may be it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linkage {
    /// `path` (on the repaired system) names `via` (e.g. `libwrap.so.0`) as a library.
    Wrapped { path: String, via: String },
    /// Every program found is dynamically linked without libwrap.
    NotWrapped { paths: Vec<String> },
    /// A program was found whose libraries cannot be known from its bytes.
    Unknown { path: String, why: Unknown },
    /// No program file under any usual path; `tried` lists them.
    Missing { tried: Vec<String> },
}

/// Read the ELF dynamic section of `bytes`. Never panics, whatever the bytes.
pub fn inspect(bytes: &[u8]) -> Binary {
    if !bytes.starts_with(b"\x7fELF") {
        return Binary::NotElf {
            interpreter: shebang(bytes),
        };
    }
    match elf::needed(bytes) {
        Ok(needed) if !needed.is_empty() => Binary::Dynamic { needed },
        Ok(_) => Binary::Static {
            libwrap_strings: LIBWRAP_STRINGS
                .iter()
                .any(|s| memmem::find(bytes, s).is_some()),
        },
        Err(why) => Binary::Malformed(why),
    }
}

/// The program a `#!` line names, if the file starts with one.
fn shebang(bytes: &[u8]) -> Option<String> {
    let rest = bytes.strip_prefix(b"#!")?;
    let line = &rest[..rest.len().min(256)];
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let program = line
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())?;
    Some(escape(program))
}

/// The files (on the repaired system) that may be `daemon`'s program, in the order tried.
pub fn candidates(daemon: &str) -> Vec<String> {
    let mut out: Vec<String> = DIRS.iter().map(|d| format!("{d}/{daemon}")).collect();
    if daemon == "sshd" {
        out.push("/usr/libexec/openssh/sshd".into());
        out.extend(SSHD_SESSION.iter().map(|s| s.to_string()));
    }
    out
}

/// A daemon name that can be a file name; anything else is not looked up.
fn plausible(daemon: &str) -> bool {
    !daemon.is_empty() && daemon != "." && daemon != ".." && !daemon.contains(['/', '\0'])
}

/// One candidate file: `None` if it does not exist (or is a directory).
fn examine(root: &Root, path: &str, seen: &mut HashSet<PathBuf>) -> Option<Result<Binary, String>> {
    let host = match root.resolve(path) {
        Ok(h) => h,
        // A directory on the way is missing (no /usr/local): no program there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(e.to_string())),
    };
    // /sbin → usr/sbin on merged-/usr systems: the same file is looked at once.
    if !seen.insert(host.clone()) {
        return None;
    }
    match read_program(&host) {
        Ok(Some(bytes)) => Some(Ok(inspect(&bytes))),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

/// The bytes of a regular file; `None` if there is none at `host`.
fn read_program(host: &Path) -> Result<Option<Vec<u8>>, String> {
    let meta = match std::fs::metadata(host) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if meta.is_dir() {
        return Ok(None);
    }
    // A FIFO or device would block or never end; a program is a regular file.
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_PROGRAM {
        return Err(format!("it is larger than {} MiB", MAX_PROGRAM >> 20));
    }
    // Opened without blocking and checked again: the file may have been swapped meanwhile.
    crate::rootfs::read_regular(host, MAX_PROGRAM)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Whether `daemon` uses libwrap, from every program file that may be it under `root`.
/// One program with libwrap is enough (sshd-session beside a libwrap-less sshd; a second
/// build in /usr/local): saying "not wrapped" wrongly would send the admin away from the
/// real cause, so anything unclear wins over "not wrapped".
pub fn linkage(root: &Root, daemon: &str) -> Linkage {
    let tried = if plausible(daemon) {
        candidates(daemon)
    } else {
        Vec::new()
    };
    let mut seen = HashSet::new();
    let mut unknown = None;
    let mut plain = Vec::new();
    for path in &tried {
        match examine(root, path, &mut seen).map(classify) {
            None => {}
            Some(Ok(Some(via))) => {
                return Linkage::Wrapped {
                    path: path.clone(),
                    via,
                };
            }
            Some(Ok(None)) => plain.push(path.clone()),
            Some(Err(why)) => {
                unknown.get_or_insert((path.clone(), why));
            }
        }
    }
    match (unknown, plain.is_empty()) {
        (Some((path, why)), _) => Linkage::Unknown { path, why },
        (None, false) => Linkage::NotWrapped { paths: plain },
        (None, true) => Linkage::Missing { tried },
    }
}

/// One program: `Ok(Some(libwrap))`, `Ok(None)` (dynamic, no libwrap), or why it is unclear.
fn classify(found: Result<Binary, String>) -> Result<Option<String>, Unknown> {
    match found {
        Ok(binary @ Binary::Dynamic { .. }) => Ok(binary.libwrap().map(|v| escape(v.as_bytes()))),
        Ok(Binary::Static { libwrap_strings }) => Err(Unknown::Static { libwrap_strings }),
        Ok(Binary::NotElf { interpreter }) => Err(Unknown::Script { interpreter }),
        Ok(Binary::Malformed(why)) => Err(Unknown::Malformed(why)),
        Err(e) => Err(Unknown::Unreadable(e)),
    }
}

/// `not-wrapped` findings for each daemon (nothing for a daemon that uses libwrap).
pub fn findings(root: &Root, daemons: &[String]) -> Vec<Finding> {
    let mut done = HashSet::new();
    daemons
        .iter()
        .filter(|d| done.insert(d.as_str()) && plausible(d))
        .filter_map(|d| finding(root, d, &linkage(root, d)))
        .collect()
}

fn finding(root: &Root, daemon: &str, linkage: &Linkage) -> Option<Finding> {
    let (severity, path, message) = match linkage {
        Linkage::Wrapped { .. } => return None,
        Linkage::NotWrapped { paths } => not_wrapped(root, daemon, paths),
        Linkage::Unknown { path, why } => unknown(daemon, path, why),
        Linkage::Missing { tried } => missing(daemon, tried),
    };
    Some(Finding {
        kind: Kind::NotWrapped,
        severity,
        role: None,
        path,
        line: None,
        text: None,
        message,
    })
}

fn not_wrapped(root: &Root, daemon: &str, paths: &[String]) -> (Severity, Option<String>, String) {
    let first = paths.first().cloned();
    let files = join_and(paths);
    let verb = if paths.len() > 1 { "are" } else { "is" };
    if let Some((conf, how)) = superserver(root, daemon) {
        let message = format!(
            "{files} {verb} not linked with libwrap, but {conf} starts {daemon} {how}, which applies hosts.allow and hosts.deny for it."
        );
        return (Severity::Info, Some(conf), message);
    }
    let elsewhere = if daemon == "sshd" {
        "sshd_config AllowUsers/DenyUsers/AllowGroups, the firewall, fail2ban's iptables or nftables actions"
    } else {
        "the daemon's own access settings, the firewall"
    };
    let message = format!(
        "{files} {verb} not linked with libwrap: hosts.allow and hosts.deny do not affect {daemon}; look elsewhere ({elsewhere})."
    );
    (Severity::Warning, first, message)
}

fn unknown(daemon: &str, path: &str, why: &Unknown) -> (Severity, Option<String>, String) {
    let (severity, message) = match why {
        Unknown::Static {
            libwrap_strings: true,
        } => (
            Severity::Info,
            format!(
                "{path} is statically linked, so its libraries do not show whether it uses libwrap; it contains libwrap's strings, so it probably does (a heuristic)."
            ),
        ),
        Unknown::Static {
            libwrap_strings: false,
        } => (
            Severity::Warning,
            format!(
                "{path} is statically linked and contains none of libwrap's strings, so hosts.allow and hosts.deny probably do not affect {daemon} (a heuristic); check the firewall and the daemon's own settings too."
            ),
        ),
        Unknown::Script { interpreter } => (
            Severity::Info,
            format!(
                "{path} is a script{}, not a program, so wrapfix cannot tell whether the {daemon} it starts uses libwrap; read the script to find the real program.",
                interpreter
                    .as_deref()
                    .map(|i| format!(" run by {i}"))
                    .unwrap_or_default()
            ),
        ),
        Unknown::Malformed(why) => (
            Severity::Warning,
            format!(
                "{path} is not a readable ELF program ({why}): if the file is damaged {daemon} will not start at all; reinstall the package that provides it."
            ),
        ),
        Unknown::Unreadable(e) => (
            Severity::Info,
            format!(
                "{path} could not be read ({e}), so wrapfix cannot tell whether {daemon} uses libwrap; run wrapfix as root."
            ),
        ),
    };
    (severity, Some(path.to_string()), message)
}

fn missing(daemon: &str, tried: &[String]) -> (Severity, Option<String>, String) {
    let first = tried.first().cloned();
    let more = match tried.len() {
        0 | 1 => String::new(),
        n => format!(" and {} more places", n - 1),
    };
    let message = format!(
        "No {daemon} program was found under the root (looked in {}{more}), so wrapfix cannot tell whether it uses libwrap; if this is a mounted disk, check that its /usr is mounted too.",
        first.as_deref().unwrap_or(daemon)
    );
    (Severity::Info, first, message)
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A super-server that wraps `daemon` itself: inetd through tcpd, or xinetd (which calls
/// libwrap with the service name when built with it). Returns the config file and how.
fn superserver(root: &Root, daemon: &str) -> Option<(String, &'static str)> {
    if let Ok(Some(bytes)) = root.read_optional("/etc/inetd.conf")
        && config_lines(&bytes).any(|l| inetd_wraps(l, daemon))
    {
        return Some(("/etc/inetd.conf".into(), "through tcpd"));
    }
    let mut files = vec!["/etc/xinetd.conf".to_string()];
    files.extend(dir_files(root, "/etc/xinetd.d"));
    files.into_iter().find_map(|f| {
        let bytes = root.read_optional(&f).ok()??;
        config_lines(&bytes)
            .any(|l| xinetd_server(l, daemon))
            .then_some((f, "from xinetd"))
    })
}

/// Non-blank lines that are not `#` comments.
fn config_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
}

/// Is this `path` or a path ending in `/name`?
fn names(word: &[u8], name: &str) -> bool {
    word == name.as_bytes()
        || word
            .strip_suffix(name.as_bytes())
            .is_some_and(|p| p.ends_with(b"/"))
}

/// An inetd.conf line whose server is tcpd and whose arguments name the daemon.
fn inetd_wraps(line: &[u8], daemon: &str) -> bool {
    let words: Vec<&[u8]> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().any(|w| names(w, "tcpd")) && words.iter().skip(6).any(|w| names(w, daemon))
}

/// An xinetd `server = /usr/sbin/daemon` line.
fn xinetd_server(line: &[u8], daemon: &str) -> bool {
    let Some(eq) = line.iter().position(|&b| b == b'=') else {
        return false;
    };
    line[..eq].trim_ascii() == b"server" && names(line[eq + 1..].trim_ascii(), daemon)
}

/// The names (on the repaired system) of the entries directly in `dir`, sorted by bytes as
/// a glob would sort them, dot files left out; none if the directory cannot be read.
pub(crate) fn dir_files(root: &Root, dir: &str) -> Vec<String> {
    let Ok(host) = root.resolve(dir) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(host) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

/// The ELF reader: just enough of the format to list DT_NEEDED (System V gABI, "Dynamic
/// Section"). Every offset from the file is checked, so any bytes give an answer.
mod elf;

#[cfg(test)]
mod tests;
