//! Finding the log files: the families under /var/log and their rotated copies, and how each is stored.

use super::*;

/// How a log file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Compression {
    Plain,
    Gzip,
    /// Another compressor logrotate can be set to use (`compresscmd`); not read.
    Other(&'static str),
}

/// Where a file sits in its family's rotation; sorts newest first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Age {
    Current,
    /// `X.N`: logrotate's default, N = 1 newest.
    Numbered(u64),
    /// `X-YYYYMMDD` (dateext): a later date is newer, so the suffix sorts reversed.
    Dated(std::cmp::Reverse<Vec<u8>>),
}

/// One log file to read.
#[derive(Debug, Clone)]
pub(super) struct LogFile {
    /// Path on the repaired system (`/var/log/auth.log.2.gz`).
    pub(super) system: String,
    /// Path on this machine, links resolved inside the root.
    pub(super) host: PathBuf,
    pub(super) compression: Compression,
    pub(super) family: usize,
    pub(super) age: Age,
}

/// The log files of every family, oldest first (so that a file's index is its recency rank).
/// A name we cannot follow (a link loop) is a problem, not a failed scan.
pub(super) fn list_logs(root: &Root, problems: &mut Vec<Problem>) -> io::Result<Vec<LogFile>> {
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
pub(super) fn missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(nix::libc::ENOTDIR)
}

/// Sort oldest first and drop a compressed copy that has a plain twin of the same age:
/// that is logrotate caught between writing `X.2.gz` and removing `X.2`, and the `.gz` may
/// still be incomplete.
pub(super) fn order(mut files: Vec<LogFile>) -> Vec<LogFile> {
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
pub(super) fn classify(name: &str) -> Option<(usize, Age, Compression)> {
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

pub(super) fn split_compression(name: &str) -> (&str, Compression) {
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
pub(super) fn age_of(suffix: &str) -> Option<Age> {
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
