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
use crate::fsops::rootfs::Root;
use crate::model::syntax::escape;

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
pub struct Refusal {
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
pub struct Scan {
    /// Most recent first.
    pub refusals: Vec<Refusal>,
    pub problems: Vec<Problem>,
}

impl Scan {
    /// The refusal findings (see [`findings`]) followed by one per unreadable log.
    pub fn findings(&self, limit: usize) -> Vec<Finding> {
        let mut out = findings(&self.refusals, limit);
        out.extend(self.problems.iter().map(problem_finding));
        out
    }
}

/// The libwrap refusals in `ROOT/var/log`, most recent first. Files that cannot be read in
/// full are skipped or cut short; [`scan_logs`] says which.
pub fn scan(root: &Root) -> io::Result<Vec<Refusal>> {
    Ok(scan_logs(root)?.refusals)
}

/// The libwrap refusals in `ROOT/var/log` and the log files that could not be read in full.
/// A missing log directory is an empty result; an unlistable one is an error.
pub fn scan_logs(root: &Root) -> io::Result<Scan> {
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
    Ok(Scan {
        refusals: tally.into_refusals(&files),
        problems,
    })
}

/// One `refused-client` finding (warning) per client and daemon, the `limit` most recent;
/// one info finding counts the rest.
pub fn findings(refusals: &[Refusal], limit: usize) -> Vec<Finding> {
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
fn who(r: &Refusal) -> String {
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

fn refusal_finding(r: &Refusal) -> Finding {
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

// ---------------------------------------------------------------------------------------
// Finding the files

/// How a log file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Compression {
    Plain,
    Gzip,
    /// Another compressor logrotate can be set to use (`compresscmd`); not read.
    Other(&'static str),
}

/// Where a file sits in its family's rotation; sorts newest first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    Current,
    /// `X.N`: logrotate's default, N = 1 newest.
    Numbered(u64),
    /// `X-YYYYMMDD` (dateext): a later date is newer, so the suffix sorts reversed.
    Dated(std::cmp::Reverse<Vec<u8>>),
}

/// One log file to read.
#[derive(Debug, Clone)]
struct LogFile {
    /// Path on the repaired system (`/var/log/auth.log.2.gz`).
    system: String,
    /// Path on this machine, links resolved inside the root.
    host: PathBuf,
    compression: Compression,
    family: usize,
    age: Age,
}

/// The log files of every family, oldest first (so that a file's index is its recency rank).
/// A name we cannot follow (a link loop) is a problem, not a failed scan.
fn list_logs(root: &Root, problems: &mut Vec<Problem>) -> io::Result<Vec<LogFile>> {
    let entries = match root.resolve(LOG_DIR).and_then(std::fs::read_dir) {
        Ok(entries) => entries,
        Err(e) if missing(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((family, age, compression)) = classify(name) else {
            continue;
        };
        let system = format!("{LOG_DIR}/{name}");
        let host = match root.resolve(&system) {
            Ok(host) => host,
            // A link that leads through a missing directory: as dangling as any other.
            Err(e) if missing(&e) => continue,
            Err(e) => {
                problems.push(Problem {
                    file: system,
                    read: 0,
                    reason: format!("could not follow it ({e}); refusals in it are not counted"),
                    severity: Severity::Warning,
                });
                continue;
            }
        };
        // Only regular files (after links): a dangling link, a directory or a FIFO (which
        // would block the read) is no log.
        if std::fs::metadata(&host).is_ok_and(|m| m.is_file()) {
            files.push(LogFile {
                system,
                host,
                compression,
                family,
                age,
            });
        }
    }
    Ok(order(files))
}

/// `ENOENT`, or `ENOTDIR` when a component of the path is a file: either way, no logs.
fn missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(nix::libc::ENOTDIR)
}

/// Sort oldest first and drop a compressed copy that has a plain twin of the same age:
/// that is logrotate caught between writing `X.2.gz` and removing `X.2`, and the `.gz` may
/// still be incomplete.
fn order(mut files: Vec<LogFile>) -> Vec<LogFile> {
    // Oldest age first; between twins the plain file first, so that `dedup_by` keeps it.
    files.sort_by(|a, b| {
        (&b.age, b.family)
            .cmp(&(&a.age, a.family))
            .then(a.compression.cmp(&b.compression))
    });
    files.dedup_by(|later, kept| later.family == kept.family && later.age == kept.age);
    files
}

/// Which family, age and compression a file name has, if it is one of ours.
fn classify(name: &str) -> Option<(usize, Age, Compression)> {
    let (stem, compression) = split_compression(name);
    FAMILIES.iter().enumerate().find_map(|(family, base)| {
        let age = age_of(stem.strip_prefix(base)?)?;
        // The live file itself is never compressed.
        if age == Age::Current && compression != Compression::Plain {
            return None;
        }
        Some((family, age, compression))
    })
}

fn split_compression(name: &str) -> (&str, Compression) {
    const OTHERS: [&str; 6] = ["xz", "bz2", "zst", "lz4", "lzma", "Z"];
    if let Some(stem) = name.strip_suffix(".gz") {
        return (stem, Compression::Gzip);
    }
    for ext in OTHERS {
        if let Some(stem) = name.strip_suffix(ext).and_then(|s| s.strip_suffix('.')) {
            return (stem, Compression::Other(ext));
        }
    }
    (name, Compression::Plain)
}

/// The rotation suffix after the family name: none, `.N` or `-DATE` (digits, maybe dashes,
/// as logrotate's `dateformat` allows).
fn age_of(suffix: &str) -> Option<Age> {
    if suffix.is_empty() {
        return Some(Age::Current);
    }
    if let Some(n) = suffix.strip_prefix('.') {
        let all_digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
        return all_digits.then(|| n.parse().ok().map(Age::Numbered))?;
    }
    let date = suffix.strip_prefix('-')?;
    let dated = date.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    dated.then(|| Age::Dated(std::cmp::Reverse(date.as_bytes().to_vec())))
}

// ---------------------------------------------------------------------------------------
// Reading the files

/// Read one file into the tally; a problem if it could not be read to the end.
fn scan_file(file: &LogFile, rank: usize, tally: &mut Tally) -> Option<Problem> {
    let problem = |read: u64, reason: String, severity| {
        Some(Problem {
            file: file.system.clone(),
            read,
            reason,
            severity,
        })
    };
    if let Compression::Other(ext) = file.compression {
        return problem(
            0,
            format!(
                "not read: wrapfix reads plain and gzip logs, not .{ext}; refusals in it are not counted"
            ),
            Severity::Info,
        );
    }
    // Without blocking, and only a regular file: it may have been swapped for a FIFO since
    // the directory was listed.
    let opened = match crate::fsops::rootfs::open_regular(&file.host) {
        Ok(f) => f,
        // Rotated away since the directory was listed: nothing lost, it has a new name.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            return problem(
                0,
                format!("could not open it ({e}); refusals in it are not counted"),
                Severity::Warning,
            );
        }
    };
    let mut lines = Lines::new(rank, tally);
    let result = match file.compression {
        Compression::Gzip => lines.read_all(MultiGzDecoder::new(opened)),
        _ => lines.read_all(opened),
    };
    let read = lines.offset;
    match result {
        Ok(()) => None,
        Err(e) => problem(read, damage_reason(file, read, &e), Severity::Warning),
    }
}

fn damage_reason(file: &LogFile, read: u64, e: &io::Error) -> String {
    let what = if file.compression == Compression::Gzip {
        "damaged or truncated gzip data"
    } else {
        "a read error"
    };
    format!("{what} after {read} bytes ({e}); refusals logged after that point are not counted")
}

/// The chunked line reader for one file: finds the candidate lines and hands them to the
/// tally with their recency and line number.
struct Lines<'t> {
    tally: &'t mut Tally,
    finder: memmem::Finder<'static>,
    /// The file's recency rank, shifted into place for [`Refusal::last_seq`].
    seq_base: u64,
    /// Stream offset of the chunk being scanned (at the end: bytes read).
    offset: u64,
    /// Newlines seen before `counted`, a position in the chunk being scanned.
    newlines: u64,
    counted: usize,
    /// Inside a line longer than a chunk: no libwrap line is that long, and its tail must not
    /// be read as a line of its own.
    in_overlong: bool,
}

impl<'t> Lines<'t> {
    fn new(rank: usize, tally: &'t mut Tally) -> Self {
        Lines {
            tally,
            finder: memmem::Finder::new(NEEDLE),
            seq_base: (rank as u64) << SEQ_OFFSET_BITS,
            offset: 0,
            newlines: 0,
            counted: 0,
            in_overlong: false,
        }
    }

    /// Read to the end. On an error the complete lines before it are counted and the
    /// partial line is dropped (it may be cut inside the address).
    fn read_all(&mut self, mut input: impl Read) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        loop {
            let n = match input.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                // A last line without a newline is still a line (a log cut by a crash).
                self.chunk(&buf[..filled]);
                self.offset += filled as u64;
                return Ok(());
            }
            filled += n;
            filled = self.consume(&mut buf, filled);
        }
    }

    /// Scan the complete lines in `buf[..filled]`, move the partial last line to the front;
    /// returns the new fill.
    fn consume(&mut self, buf: &mut [u8], filled: usize) -> usize {
        let Some(last_nl) = memchr::memrchr(b'\n', &buf[..filled]) else {
            if filled < buf.len() {
                return filled;
            }
            // A full chunk with no newline: skip it, and the rest of that line.
            self.offset += filled as u64;
            self.in_overlong = true;
            return 0;
        };
        let complete = last_nl + 1;
        self.chunk(&buf[..complete]);
        buf.copy_within(complete..filled, 0);
        self.offset += complete as u64;
        filled - complete
    }

    /// Every candidate line in `chunk` (whole lines, starting at `self.offset`).
    fn chunk(&mut self, chunk: &[u8]) {
        let mut from = 0;
        self.counted = 0;
        if std::mem::take(&mut self.in_overlong) {
            from = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
        }
        while let Some(i) = self.finder.find(&chunk[from..]) {
            let hit = from + i;
            let start = memchr::memrchr(b'\n', &chunk[from..hit]).map_or(from, |j| from + j + 1);
            let end = memchr::memchr(b'\n', &chunk[hit..]).map_or(chunk.len(), |j| hit + j);
            if let Some(line) = parse_line(&chunk[start..end]) {
                let at = self.offset + start as u64;
                let number = self.line_number(chunk, start);
                let seq = self.seq_base | at.min((1 << SEQ_OFFSET_BITS) - 1);
                self.tally.record(&line, seq, number, &chunk[start..end]);
            }
            from = (end + 1).min(chunk.len());
        }
        self.count_newlines(chunk, chunk.len());
    }

    /// The 1-based number of the line starting at `chunk[start]`.
    fn line_number(&mut self, chunk: &[u8], start: usize) -> u32 {
        self.count_newlines(chunk, start);
        u32::try_from(self.newlines + 1).unwrap_or(u32::MAX)
    }

    /// Count the newlines of `chunk` from where the last count stopped up to `upto`.
    fn count_newlines(&mut self, chunk: &[u8], upto: usize) {
        let from = self.counted.min(upto);
        self.newlines += memchr::memchr_iter(b'\n', &chunk[from..upto]).count() as u64;
        self.counted = upto;
    }
}

// ---------------------------------------------------------------------------------------
// Summing up

/// Refusals so far, keyed by daemon and address.
#[derive(Default)]
struct Tally {
    entries: FxHashMap<Box<[u8]>, Entry>,
    /// Scratch space for the key, reused so a repeat refusal allocates nothing.
    key: Vec<u8>,
}

/// What we keep per daemon and address: the count and the newest occurrence.
#[derive(Default)]
struct Entry {
    count: u64,
    seq: u64,
    line: u32,
    time: Vec<u8>,
    host: Vec<u8>,
    user: Option<Vec<u8>>,
    text: Vec<u8>,
}

impl Tally {
    fn record(&mut self, hit: &Line<'_>, seq: u64, line: u32, text: &[u8]) {
        self.key.clear();
        // A syslog tag has no space, so the space keeps ("ab", "1") apart from ("a", "b1").
        self.key.extend_from_slice(hit.daemon);
        self.key.push(b' ');
        self.key.extend_from_slice(hit.client.addr);
        let (entry, fresh) = match self.entries.get_mut(self.key.as_slice()) {
            Some(entry) => (entry, false),
            None => {
                let key = self.key.clone().into_boxed_slice();
                (self.entries.entry(key).or_default(), true)
            }
        };
        entry.count = entry.count.saturating_add(hit.repeats);
        if fresh || seq > entry.seq {
            entry.seq = seq;
            entry.line = line;
            replace(&mut entry.time, hit.time);
            replace(&mut entry.host, hit.client.host);
            replace(&mut entry.text, text);
            entry.user = hit.client.user.map(<[u8]>::to_vec);
        }
    }

    /// The refusals, most recent first; `files` are those the ranks in `seq` index.
    fn into_refusals(self, files: &[LogFile]) -> Vec<Refusal> {
        let mut out: Vec<Refusal> = self
            .entries
            .into_iter()
            .map(|(key, e)| to_refusal(&key, e, files))
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.last_seq));
        out
    }
}

fn replace(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(src);
}

fn to_refusal(key: &[u8], e: Entry, files: &[LogFile]) -> Refusal {
    let space = memchr::memchr(b' ', key).unwrap_or(key.len());
    let (daemon, addr) = (&key[..space], key.get(space + 1..).unwrap_or_default());
    let rank = usize::try_from(e.seq >> SEQ_OFFSET_BITS).unwrap_or(usize::MAX);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Refusal {
        addr: text(addr),
        ipv4: mapped_ipv4(addr),
        name: (e.host != addr && !is_pseudo(&e.host)).then(|| text(&e.host)),
        user: e.user.as_deref().map(text),
        daemon: text(daemon),
        count: e.count,
        last: (!e.time.is_empty()).then(|| text(&e.time)),
        last_seq: e.seq,
        file: files
            .get(rank)
            .map(|f| f.system.clone())
            .unwrap_or_default(),
        line: e.line,
        text: e.text,
    }
}

/// `a.b.c.d` from `::ffff:a.b.c.d` (any case), as libwrap prints v4-mapped peers.
fn mapped_ipv4(addr: &[u8]) -> Option<String> {
    let (prefix, v4) = addr.split_at_checked(7)?;
    if !prefix.eq_ignore_ascii_case(b"::ffff:") {
        return None;
    }
    let v4: std::net::Ipv4Addr = std::str::from_utf8(v4).ok()?.parse().ok()?;
    Some(v4.to_string())
}

/// libwrap's placeholders for a host it knows nothing (or nothing trustworthy) about.
fn is_pseudo(host: &[u8]) -> bool {
    host == b"unknown" || host == b"paranoid"
}

// ---------------------------------------------------------------------------------------
// Parsing one line

/// A libwrap refusal, parsed from one log line (all slices of the line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line<'a> {
    /// The syslog timestamp as written.
    time: &'a [u8],
    /// The syslog tag without `[pid]`.
    daemon: &'a [u8],
    client: Client<'a>,
    /// How many refusals the line stands for (rsyslog's `message repeated N times`).
    repeats: u64,
}

/// `TIME HOST TAG: refused connect from CLIENT[ (ADDR)]`, exactly; anything else (other
/// messages that quote the text, a different program's wording) is `None`.
fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    // A crash can leave NUL padding before the next line; CRs come from copied files.
    let line = trim_end(trim_start_nul(line));
    let (time, rest) = split_time(line)?;
    let (_hostname, rest) = split_word(rest)?;
    let (daemon, body) = split_tag(rest)?;
    let (client, repeats) = refusal_body(body)?;
    let client = parse_client(client)?;
    Some(Line {
        time,
        daemon,
        client,
        repeats,
    })
}

fn trim_start_nul(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == 0).count();
    &b[n..]
}

fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r'] = b {
        b = rest;
    }
    b
}

/// The next space-separated word (one space after it) and the rest.
fn split_word(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b' ', b)?;
    (i > 0).then(|| (&b[..i], &b[i + 1..]))
}

/// The timestamp, classic (`Nov 24 00:50:12 `) or RFC 3339 (`2026-11-24T00:50:12.1+00:00 `).
fn split_time(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = classic_time(line).or_else(|| rfc3339_time(line))?;
    match line.get(len) {
        Some(b' ') => Some((&line[..len], &line[len + 1..])),
        _ => None,
    }
}

/// `Mmm dd hh:mm:ss` (day space-padded): 15 bytes.
fn classic_time(b: &[u8]) -> Option<usize> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = b.get(..15)?;
    let day_ok = matches!(b[4], b' ' | b'0'..=b'9') && b[5].is_ascii_digit();
    let ok = MONTHS.contains(&&b[..3])
        && b[3] == b' '
        && day_ok
        && b[6] == b' '
        && shape(&b[7..], b"00:00:00");
    ok.then_some(15)
}

/// `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm|±hhmm)`.
fn rfc3339_time(b: &[u8]) -> Option<usize> {
    if !shape(b.get(..19)?, b"0000-00-00T00:00:00") {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += 1 + digits;
    }
    match b.get(i)? {
        b'Z' => Some(i + 1),
        b'+' | b'-' => {
            let zone = &b[i + 1..];
            if zone.get(..5).is_some_and(|z| shape(z, b"00:00")) {
                Some(i + 6)
            } else if zone.get(..4).is_some_and(|z| shape(z, b"0000")) {
                Some(i + 5)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `b` has digits where `pattern` has `0`, and the same byte elsewhere.
fn shape(b: &[u8], pattern: &[u8]) -> bool {
    b.len() == pattern.len()
        && b.iter().zip(pattern).all(|(&c, &p)| {
            if p == b'0' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

/// `prog[pid]: body` or `prog: body` → (`prog`, `body`).
fn split_tag(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body) = split_word(rest)?;
    let tag = tag.strip_suffix(b":")?;
    let program = match tag.strip_suffix(b"]") {
        Some(with_pid) => {
            let open = memchr::memrchr(b'[', with_pid)?;
            let pid = &with_pid[open + 1..];
            if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
                return None;
            }
            &with_pid[..open]
        }
        None => tag,
    };
    (!program.is_empty()).then_some((program, body))
}

/// The client text of `refused connect from CLIENT`, or of rsyslog's
/// `message repeated N times: [ refused connect from CLIENT]`, with the count.
fn refusal_body(body: &[u8]) -> Option<(&[u8], u64)> {
    if let Some(client) = body.strip_prefix(NEEDLE) {
        return Some((client, 1));
    }
    let rest = body.strip_prefix(b"message repeated ")?;
    let (n, rest) = split_word(rest)?;
    let repeats: u64 = std::str::from_utf8(n).ok()?.parse().ok()?;
    let rest = rest.strip_prefix(b"times: [")?;
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let client = rest.strip_prefix(NEEDLE)?.strip_suffix(b"]")?;
    Some((client, repeats))
}

/// What `eval_client()` (and Debian's `(eval_hostaddr())`) printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Client<'a> {
    /// The `user@` part, when ident gave one.
    user: Option<&'a [u8]>,
    /// A verified name, an address, or `unknown`/`paranoid`.
    host: &'a [u8],
    /// The address: in parentheses when given, else the host field.
    addr: &'a [u8],
}

/// `[user@]host[ (addr)]`. Postfix's `host[addr]` and anything with spaces is not libwrap's.
fn parse_client(client: &[u8]) -> Option<Client<'_>> {
    let (who, addr) = match client.strip_suffix(b")") {
        Some(inner) => {
            let open = memmem::rfind(inner, b" (")?;
            (&inner[..open], Some(&inner[open + 2..]))
        }
        None => (client, None),
    };
    let (user, host) = match memchr::memrchr(b'@', who) {
        Some(at) => (Some(&who[..at]), &who[at + 1..]),
        None => (None, who),
    };
    let addr = addr.unwrap_or(host);
    let plain = |b: &[u8]| !b.is_empty() && !b.iter().any(|c| b" \t()[]".contains(c));
    let user_ok = user.is_none_or(|u| !u.is_empty() && !u.contains(&b' '));
    (plain(host) && plain(addr) && user_ok).then_some(Client { user, host, addr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parsed(line: &str) -> Option<(String, String, String, Option<String>, String, u64)> {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        parse_line(line.as_bytes()).map(|l| {
            (
                s(l.time),
                s(l.daemon),
                s(l.client.host),
                l.client.user.map(s),
                s(l.client.addr),
                l.repeats,
            )
        })
    }

    #[test]
    fn classic_debian_line() {
        let l = parsed(
            "Nov 24 00:50:12 web1 sshd[11949]: refused connect from 198.51.100.7 (198.51.100.7)",
        )
        .unwrap();
        assert_eq!(l.0, "Nov 24 00:50:12");
        assert_eq!(l.1, "sshd");
        assert_eq!(l.2, "198.51.100.7");
        assert_eq!(l.4, "198.51.100.7");
        assert_eq!(l.5, 1);
    }

    #[test]
    fn space_padded_day_and_rfc3339_times() {
        let l = parsed("Nov  4 00:50:12 h sshd[1]: refused connect from 10.0.0.1").unwrap();
        assert_eq!(l.0, "Nov  4 00:50:12");
        for t in [
            "2026-11-24T00:50:12.123456+00:00",
            "2026-11-24T00:50:12Z",
            "2026-11-24T00:50:12-0500",
        ] {
            let l = parsed(&format!("{t} h sshd[1]: refused connect from 10.0.0.1")).unwrap();
            assert_eq!(l.0, t);
        }
        for bad in [
            "Nox 24 00:50:12",
            "2026-11-24 00:50:12",
            "2026-11-24T00:50:12.+00:00",
            "2026-11-24T00:50:12",
        ] {
            assert_eq!(
                parsed(&format!("{bad} h sshd[1]: refused connect from 10.0.0.1")),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn client_forms() {
        let client = |c: &str| {
            parsed(&format!(
                "Nov 24 00:50:12 h in.telnetd[9]: refused connect from {c}"
            ))
            .map(|l| (l.3, l.2, l.4))
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            client("host.example.com (198.51.100.7)"),
            Some((
                None,
                some("host.example.com").unwrap(),
                some("198.51.100.7").unwrap()
            ))
        );
        assert_eq!(
            client("alice@198.51.100.7 (198.51.100.7)"),
            Some((some("alice"), "198.51.100.7".into(), "198.51.100.7".into()))
        );
        assert_eq!(
            client("bob@host.example.com"),
            Some((
                some("bob"),
                "host.example.com".into(),
                "host.example.com".into()
            ))
        );
        assert_eq!(
            client("unknown (unknown)"),
            Some((None, "unknown".into(), "unknown".into()))
        );
        assert_eq!(
            client("paranoid"),
            Some((None, "paranoid".into(), "paranoid".into()))
        );
        assert_eq!(
            client("::ffff:192.0.2.1 (::ffff:192.0.2.1)\r"),
            Some((None, "::ffff:192.0.2.1".into(), "::ffff:192.0.2.1".into()))
        );
        for bad in [
            "",
            "host[198.51.100.7]",
            "a b",
            "x (a b)",
            "@host",
            "user@",
            "x ()",
        ] {
            assert_eq!(client(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tags_and_other_programs() {
        assert_eq!(
            parsed("Nov 24 00:50:12 h tcpd: refused connect from 10.0.0.1").map(|l| l.1),
            Some("tcpd".into())
        );
        for not_libwrap in [
            "Nov 24 00:50:12 h sudo:    alice : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/grep refused connect from /var/log/auth.log",
            "Nov 24 00:50:12 h postfix/qmqpd[7]: refused connect from mx.example.com[192.0.2.9]",
            "Nov 24 00:50:12 h sshd[7]: error: refused connect from 10.0.0.1",
            "Nov 24 00:50:12 h sshd[x]: refused connect from 10.0.0.1",
            "Nov 24 00:50:12 h [7]: refused connect from 10.0.0.1",
            "Nov 24 00:50:12 h sshd[7] refused connect from 10.0.0.1",
            "Nov 24 00:50:12 refused connect from 10.0.0.1",
            "refused connect from 10.0.0.1",
        ] {
            assert_eq!(parsed(not_libwrap), None, "{not_libwrap}");
        }
    }

    #[test]
    fn rsyslog_repeats_count_each_refusal() {
        let l = parsed("Nov 24 00:50:12 h sshd[7]: message repeated 5 times: [ refused connect from 10.0.0.1 (10.0.0.1)]").unwrap();
        assert_eq!((l.4.as_str(), l.5), ("10.0.0.1", 5));
    }

    #[test]
    fn nul_padding_before_a_line_is_ignored() {
        assert!(parsed("\0\0\0Nov 24 00:50:12 h sshd[7]: refused connect from 10.0.0.1").is_some());
    }

    #[test]
    fn file_names_and_their_order() {
        let c = |n: &str| classify(n).map(|(f, a, c)| (FAMILIES[f], a, c));
        assert_eq!(
            c("auth.log"),
            Some(("auth.log", Age::Current, Compression::Plain))
        );
        assert_eq!(
            c("secure.3.gz"),
            Some(("secure", Age::Numbered(3), Compression::Gzip))
        );
        assert_eq!(
            c("messages-20261115.xz"),
            Some((
                "messages",
                Age::Dated(std::cmp::Reverse(b"20261115".to_vec())),
                Compression::Other("xz")
            ))
        );
        for other in [
            "auth.log.gz",
            "auth.log.old",
            "secure.",
            "secure-",
            "securex",
            "syslog",
            "auth.log.1.gz.tmp",
        ] {
            assert_eq!(c(other), None, "{other}");
        }
        let newest_first = [
            "secure",
            "secure-20261122",
            "secure-20261115.gz",
            "secure-20261108",
        ];
        let mut ages: Vec<Age> = newest_first
            .iter()
            .rev()
            .map(|n| classify(n).unwrap().1)
            .collect();
        ages.sort();
        let want: Vec<Age> = newest_first
            .iter()
            .map(|n| classify(n).unwrap().1)
            .collect();
        assert_eq!(ages, want);
        assert!(Age::Numbered(2) < Age::Numbered(10));
    }

    #[test]
    fn mapped_addresses_offer_plain_ipv4() {
        assert_eq!(
            mapped_ipv4(b"::ffff:192.0.2.1").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            mapped_ipv4(b"::FFFF:192.0.2.1").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(mapped_ipv4(b"::ffff:c000:201"), None);
        assert_eq!(mapped_ipv4(b"192.0.2.1"), None);
    }

    #[test]
    fn line_numbers_across_chunks_and_overlong_lines() {
        let mut tally = Tally::default();
        let mut text = Vec::new();
        text.extend_from_slice(b"x\n");
        // The overlong line's tail, starting a chunk of its own, must not read as a line.
        text.extend(std::iter::repeat_n(b'a', CHUNK));
        text.extend_from_slice(b"Nov 24 00:50:12 h sshd[1]: refused connect from 10.0.0.9\n");
        text.extend_from_slice(b"y\nNov 24 00:50:13 h sshd[2]: refused connect from 10.0.0.1\n");
        let mut lines = Lines::new(0, &mut tally);
        lines.read_all(text.as_slice()).unwrap();
        let found = tally.into_refusals(&[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].addr, "10.0.0.1");
        assert_eq!(found[0].line, 4);
    }

    #[test]
    fn daemon_and_address_never_run_together() {
        let text = b"Nov 24 00:50:12 h ab[1]: refused connect from 1\n\
                     Nov 24 00:50:13 h a[1]: refused connect from b1\n";
        let found = tally_of(&text[..]);
        let pairs: Vec<_> = found
            .iter()
            .map(|r| (r.daemon.as_str(), r.addr.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "b1"), ("ab", "1")]);
    }

    /// A reader that hands out its bytes in the given piece sizes, as a pipe or a
    /// decompressor might.
    struct Pieces<'a> {
        bytes: &'a [u8],
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self
                .sizes
                .get(self.next)
                .copied()
                .unwrap_or(usize::MAX)
                .max(1);
            self.next += 1;
            let n = want.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn tally_of(input: impl Read) -> Vec<Refusal> {
        let mut tally = Tally::default();
        Lines::new(0, &mut tally)
            .read_all(input)
            .expect("in-memory reads do not fail");
        tally.into_refusals(&[])
    }

    /// Pieces of real refusal lines and of near misses, glued at random.
    fn fragments() -> impl Strategy<Value = Vec<u8>> {
        let parts = prop::sample::select(vec![
            &b"Nov 24 00:50:12 "[..],
            b"2026-11-24T00:50:12.5+01:00 ",
            b"web1 ",
            b"sshd[12]: ",
            b"tcpd: ",
            b"refused connect from ",
            b"message repeated 3 times: [ ",
            b"198.51.100.7",
            b" (198.51.100.7)",
            b"u@",
            b"]",
            b")",
            b" (",
            b"\n",
            b"\r\n",
            b"\0",
            b"\xff\xfe",
            b"[",
            b"@",
        ]);
        prop::collection::vec(parts, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn no_content_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_line(&bytes);
            let _ = tally_of(bytes.as_slice());
        }

        #[test]
        fn how_reads_are_split_changes_nothing(
            text in fragments(),
            sizes in prop::collection::vec(1usize..40, 0..50),
        ) {
            let whole = tally_of(text.as_slice());
            let split = tally_of(Pieces { bytes: &text, sizes, next: 0 });
            prop_assert_eq!(whole, split);
        }
    }
}
