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
use crate::fsops::rootfs::Root;
use crate::model::syntax::escape;

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
    crate::fsops::rootfs::read_regular(host, MAX_PROGRAM)
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
mod elf {
    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const DT_NULL: u64 = 0;
    const DT_NEEDED: u64 = 1;
    const DT_STRTAB: u64 = 5;
    const DT_STRSZ: u64 = 10;
    /// `e_phnum` value meaning "the count is in section header 0's sh_info".
    const PN_XNUM: u16 = 0xffff;
    /// At most this many DT_NEEDED entries are kept (real programs have a few dozen).
    const MAX_NEEDED: usize = 4096;

    type Result<T> = std::result::Result<T, String>;

    #[derive(Clone, Copy)]
    struct Reader<'a> {
        bytes: &'a [u8],
        big: bool,
        wide: bool,
    }

    #[derive(Clone, Copy)]
    struct Segment {
        kind: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
    }

    impl<'a> Reader<'a> {
        fn field<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
            let start = usize::try_from(at).ok()?;
            let end = start.checked_add(N)?;
            self.bytes.get(start..end)?.try_into().ok()
        }

        fn u16(&self, at: u64) -> Option<u16> {
            let b = self.field::<2>(at)?;
            Some(if self.big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            })
        }

        fn u32(&self, at: u64) -> Option<u32> {
            let b = self.field::<4>(at)?;
            Some(if self.big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        }

        fn u64(&self, at: u64) -> Option<u64> {
            let b = self.field::<8>(at)?;
            Some(if self.big {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            })
        }

        /// An address- or offset-sized field: 8 bytes in ELF64, 4 in ELF32.
        fn word(&self, at: u64) -> Option<u64> {
            if self.wide {
                self.u64(at)
            } else {
                self.u32(at).map(u64::from)
            }
        }

        fn len(&self) -> u64 {
            self.bytes.len() as u64
        }
    }

    fn truncated(what: &str) -> String {
        format!("truncated: the file ends inside its {what}")
    }

    /// The DT_NEEDED names; empty when the program has no dynamic section or no libraries.
    pub(super) fn needed(bytes: &[u8]) -> Result<Vec<String>> {
        let r = header(bytes)?;
        let segments = segments(&r)?;
        let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) else {
            return Ok(Vec::new());
        };
        let entries = dynamic_entries(&r, dynamic)?;
        let offsets: Vec<u64> = entries
            .iter()
            .filter(|e| e.0 == DT_NEEDED)
            .map(|e| e.1)
            .take(MAX_NEEDED)
            .collect();
        if offsets.is_empty() {
            return Ok(Vec::new());
        }
        let strtab = entries
            .iter()
            .find(|e| e.0 == DT_STRTAB)
            .ok_or("its dynamic section has libraries but no string table")?
            .1;
        let strsz = entries.iter().find(|e| e.0 == DT_STRSZ).map(|e| e.1);
        let table = string_table(&r, &segments, strtab, strsz)?;
        offsets.iter().map(|&o| name_at(table, o)).collect()
    }

    /// Check the identification bytes; a reader for the file's class and byte order.
    fn header(bytes: &[u8]) -> Result<Reader<'_>> {
        let (Some(&class), Some(&data)) = (bytes.get(4), bytes.get(5)) else {
            return Err(truncated("ELF header"));
        };
        let wide = match class {
            1 => false,
            2 => true,
            c => return Err(format!("unknown ELF class {c}")),
        };
        let big = match data {
            1 => false,
            2 => true,
            d => return Err(format!("unknown ELF byte order {d}")),
        };
        let r = Reader { bytes, big, wide };
        let size: u64 = if wide { 64 } else { 52 };
        if r.len() < size {
            return Err(truncated("ELF header"));
        }
        match r.u16(16) {
            Some(2 | 3) => Ok(r),
            Some(t) => Err(format!("not an executable or shared object (ELF type {t})")),
            None => Err(truncated("ELF header")),
        }
    }

    /// The program headers (segments).
    fn segments(r: &Reader<'_>) -> Result<Vec<Segment>> {
        let (phoff, entsize_at, num_at, min) = if r.wide {
            (r.word(0x20), 0x36, 0x38, 56)
        } else {
            (r.word(0x1c), 0x2a, 0x2c, 32)
        };
        let bad = || truncated("ELF header");
        let phoff = phoff.ok_or_else(bad)?;
        let entsize = u64::from(r.u16(entsize_at).ok_or_else(bad)?);
        let mut count = u64::from(r.u16(num_at).ok_or_else(bad)?);
        if count == u64::from(PN_XNUM) {
            count = extended_count(r)?;
        }
        if count == 0 {
            return Err("it has no program headers, so it cannot be run".into());
        }
        if entsize < min {
            return Err(format!(
                "program header entries of {entsize} bytes are too small"
            ));
        }
        let end = count
            .checked_mul(entsize)
            .and_then(|n| n.checked_add(phoff))
            .ok_or("its program header table is out of range")?;
        if end > r.len() {
            return Err(truncated("program header table"));
        }
        (0..count)
            .map(|i| segment(r, phoff + i * entsize).ok_or_else(|| truncated("program headers")))
            .collect()
    }

    /// PN_XNUM: the real program header count is `sh_info` of section header 0.
    fn extended_count(r: &Reader<'_>) -> Result<u64> {
        let (shoff, info_at) = if r.wide {
            (r.word(0x28), 0x2c)
        } else {
            (r.word(0x20), 0x1c)
        };
        shoff
            .and_then(|o| o.checked_add(info_at))
            .and_then(|at| r.u32(at))
            .map(u64::from)
            .ok_or_else(|| truncated("section header 0 (which holds its program header count)"))
    }

    fn segment(r: &Reader<'_>, at: u64) -> Option<Segment> {
        let kind = r.u32(at)?;
        Some(if r.wide {
            Segment {
                kind,
                offset: r.u64(at + 8)?,
                vaddr: r.u64(at + 16)?,
                filesz: r.u64(at + 32)?,
            }
        } else {
            Segment {
                kind,
                offset: u64::from(r.u32(at + 4)?),
                vaddr: u64::from(r.u32(at + 8)?),
                filesz: u64::from(r.u32(at + 16)?),
            }
        })
    }

    /// (d_tag, d_val) pairs up to DT_NULL.
    fn dynamic_entries(r: &Reader<'_>, dynamic: &Segment) -> Result<Vec<(u64, u64)>> {
        let end = dynamic
            .offset
            .checked_add(dynamic.filesz)
            .ok_or("its dynamic section is out of range")?;
        if end > r.len() {
            return Err(truncated("dynamic section"));
        }
        let size: u64 = if r.wide { 16 } else { 8 };
        let half = size / 2;
        let mut out = Vec::new();
        for i in 0..dynamic.filesz / size {
            let at = dynamic.offset + i * size;
            let (Some(tag), Some(val)) = (r.word(at), r.word(at + half)) else {
                return Err(truncated("dynamic section"));
            };
            if tag == DT_NULL {
                break;
            }
            out.push((tag, val));
        }
        Ok(out)
    }

    /// The string table's bytes: its address mapped to a file offset through the PT_LOAD
    /// segment that holds it, bounded by DT_STRSZ and the end of that segment's file bytes.
    fn string_table<'a>(
        r: &Reader<'a>,
        segments: &[Segment],
        addr: u64,
        size: Option<u64>,
    ) -> Result<&'a [u8]> {
        let load = segments
            .iter()
            .filter(|s| s.kind == PT_LOAD)
            .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)
            .ok_or("its string table address is in no loaded segment")?;
        let start = load.offset.checked_add(addr - load.vaddr);
        let seg_end = load.offset.checked_add(load.filesz);
        let (Some(start), Some(seg_end)) = (start, seg_end) else {
            return Err("its string table is out of range".into());
        };
        let end = size
            .and_then(|n| start.checked_add(n))
            .map_or(seg_end, |e| e.min(seg_end))
            .min(r.len());
        let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
            return Err("its string table is out of range".into());
        };
        r.bytes
            .get(start..end)
            .ok_or_else(|| truncated("string table"))
    }

    /// The NUL-terminated name at `offset` in the string table.
    fn name_at(table: &[u8], offset: u64) -> Result<String> {
        let tail = usize::try_from(offset)
            .ok()
            .and_then(|o| table.get(o..))
            .ok_or("a library name lies outside its string table")?;
        let end = memchr::memchr(0, tail).ok_or("a library name runs past its string table")?;
        Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_their_interpreter() {
        assert_eq!(
            inspect(b"#!/bin/sh -e\nexec /usr/sbin/sshd.real \"$@\"\n"),
            Binary::NotElf {
                interpreter: Some("/bin/sh".into())
            }
        );
        assert_eq!(inspect(b"#!"), Binary::NotElf { interpreter: None });
        assert_eq!(inspect(b""), Binary::NotElf { interpreter: None });
    }

    #[test]
    fn short_and_odd_headers_are_malformed() {
        for bytes in [
            &b"\x7fELF"[..],
            b"\x7fELF\x02",
            b"\x7fELF\x03\x01",
            b"\x7fELF\x02\x03",
            b"\x7fELF\x02\x01\x01\x00\x00",
        ] {
            assert!(matches!(inspect(bytes), Binary::Malformed(_)), "{bytes:?}");
        }
    }

    #[test]
    fn libwrap_is_any_needed_entry_starting_with_libwrap_so() {
        let b = Binary::Dynamic {
            needed: vec!["libc.so.6".into(), "libwrap.so.0".into()],
        };
        assert_eq!(b.libwrap(), Some("libwrap.so.0"));
        let b = Binary::Dynamic {
            needed: vec!["libwrapper.so.1".into(), "libc.so.6".into()],
        };
        assert_eq!(b.libwrap(), None);
    }

    #[test]
    fn candidates_include_sshd_session_only_for_sshd() {
        let sshd = candidates("sshd");
        assert!(sshd.contains(&"/usr/lib/openssh/sshd-session".to_string()));
        assert!(sshd.contains(&"/usr/libexec/openssh/sshd".to_string()));
        assert!(!candidates("vsftpd").iter().any(|c| c.contains("session")));
        assert_eq!(candidates("vsftpd")[0], "/usr/sbin/vsftpd");
    }

    #[test]
    fn implausible_daemon_names_are_not_looked_up() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        assert_eq!(
            linkage(&root, "../etc/passwd"),
            Linkage::Missing { tried: vec![] }
        );
        assert!(findings(&root, &["..".into(), "".into(), "a/b".into()]).is_empty());
    }

    #[test]
    fn inetd_and_xinetd_lines() {
        assert!(inetd_wraps(
            b"telnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.telnetd",
            "in.telnetd"
        ));
        assert!(inetd_wraps(
            b"telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd",
            "in.telnetd"
        ));
        assert!(!inetd_wraps(
            b"telnet stream tcp nowait root /usr/sbin/in.telnetd in.telnetd",
            "in.telnetd"
        ));
        assert!(xinetd_server(
            b"server      = /usr/sbin/in.tftpd",
            "in.tftpd"
        ));
        assert!(!xinetd_server(
            b"server_args = -s /usr/sbin/in.tftpd",
            "in.tftpd"
        ));
    }

    #[test]
    fn join_and_reads_naturally() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_and(&s(&["a"])), "a");
        assert_eq!(join_and(&s(&["a", "b"])), "a and b");
        assert_eq!(join_and(&s(&["a", "b", "c"])), "a, b and c");
    }
}
