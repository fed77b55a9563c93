//! The system being repaired: `--root DIR`. Every path the tool reads or writes on that
//! system goes through [`Root`], which follows symbolic links the way they would be followed
//! if DIR were `/` (a link to `/etc/x` means `DIR/etc/x`), never leaving DIR: the semantics
//! of `openat2(RESOLVE_IN_ROOT)`, done component by component with `lstat` and `readlink`.
//! Absolute link targets restart at DIR, `..` stops at DIR, and a missing component ends
//! the resolution (nothing after it is ever glued on as text: `missing/../..` must not
//! climb out of DIR just because `missing` is not there to be looked at).
//!
//! Reads go through [`open_regular`]: it never blocks (a FIFO), never reads a device, and
//! every read has a bound, because the disk being repaired may be hostile or broken.
//!
//! Between the resolution and the use of its result another process could swap a directory
//! for a link. wrapfix runs as root on a system it is repairing (often a rescue mount
//! nobody else uses); the directories it resolves through are root's own, so that race
//! needs root on the same machine, which could do anything anyway.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use nix::libc;

/// Most symbolic links followed for one path before giving up (Linux uses 40 too).
const MAX_LINKS: usize = 40;

/// Bound for the small files wrapfix reads besides the tables (os-release, passwd, group,
/// writers' configuration, `/file` lists, inetd/xinetd): a real one is a few KiB.
pub const SMALL_FILE_LIMIT: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
}

/// One component still to resolve, and the link it came from (for messages), if any.
#[derive(Clone)]
struct Part {
    name: OsString,
    link: Option<Rc<(PathBuf, PathBuf)>>,
}

/// How the walk treats what it meets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Follow links inside the root; the last component may be missing.
    Lookup,
    /// Like `Lookup`, and create the missing directories the path itself names (mode).
    Create(u32),
    /// Follow no link at all (inside directories wrapfix made itself), creating
    /// directories with this mode if given.
    NoLinks(Option<u32>),
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Root { dir: dir.into() }
    }

    /// The directory on this machine that is `/` of the repaired system.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `path` (absolute on the repaired system) is on this machine, every symbolic
    /// link resolved inside the root. The last component may be missing (the result is
    /// where it would be created, in an existing directory); a missing component before it
    /// is `NotFound`, a file used as a directory `NotADirectory`.
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        self.walk(path, Walk::Lookup)
    }

    /// Resolve `path` like [`Root::resolve`], creating each missing directory it names
    /// (mode `mode`, each synced into its parent so it survives a crash). Only components
    /// written in `path` are created: a link whose target does not exist is an error that
    /// names it, not a reason to build the directories it points at.
    pub fn create_dirs(&self, path: &str, mode: u32) -> io::Result<PathBuf> {
        self.walk(path, Walk::Create(mode))
    }

    /// `path` inside a directory wrapfix made (a change set): no link is followed at all;
    /// with `create`, missing directories are made with that mode.
    pub fn beneath(&self, path: &str, create: Option<u32>) -> io::Result<PathBuf> {
        self.walk(path, Walk::NoLinks(create))
    }

    fn walk(&self, path: &str, how: Walk) -> io::Result<PathBuf> {
        let mut todo: VecDeque<Part> = components(Path::new(path))
            .into_iter()
            .map(|name| Part { name, link: None })
            .collect();
        let mut done: Vec<OsString> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            if part.name == ".." {
                // Clamped at the root: popping nothing stays at the root.
                done.pop();
                continue;
            }
            let here = self.host_path(&done).join(&part.name);
            match std::fs::symlink_metadata(&here) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    if matches!(how, Walk::NoLinks(_)) {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!(
                                "{} is a symbolic link, which wrapfix does not follow here",
                                here.display()
                            ),
                        ));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = std::fs::read_link(&here)?;
                    if target.is_absolute() {
                        done.clear();
                    }
                    let link = Rc::new((here, target.clone()));
                    for name in components(&target).into_iter().rev() {
                        todo.push_front(Part {
                            name,
                            link: Some(Rc::clone(&link)),
                        });
                    }
                }
                Ok(meta) => {
                    if !todo.is_empty() && !meta.is_dir() {
                        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                    }
                    done.push(part.name);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let mode = match how {
                        Walk::Create(mode) | Walk::NoLinks(Some(mode)) => Some(mode),
                        Walk::Lookup | Walk::NoLinks(None) => None,
                    };
                    match (mode, &part.link) {
                        (Some(_), Some(link)) => return Err(dangling(link)),
                        (Some(mode), None) => {
                            make_dir(&here, mode)?;
                            done.push(part.name);
                        }
                        (None, _) if todo.is_empty() => {
                            done.push(part.name);
                        }
                        (None, _) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.host_path(&done))
    }

    fn host_path(&self, parts: &[OsString]) -> PathBuf {
        let mut p = self.dir.clone();
        p.extend(parts);
        p
    }

    /// Read a small file of the repaired system (at most [`SMALL_FILE_LIMIT`]): `Ok(None)`
    /// if it does not exist (a dangling link included), like libwrap's ENOENT case. A FIFO,
    /// device or directory is an error saying what it is.
    pub fn read_optional(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        self.read_bounded(path, SMALL_FILE_LIMIT)
    }

    /// [`Root::read_optional`] with a bound of `limit` bytes.
    pub fn read_bounded(&self, path: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let host = match self.resolve(path) {
            Ok(host) => host,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match read_regular(&host, limit) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The error for a link that leads to nothing inside the root, when wrapfix would have to
/// create directories at its target.
fn dangling(link: &(PathBuf, PathBuf)) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} is a symbolic link to {}, which leads to nothing inside the root; fix or remove the link",
            link.0.display(),
            link.1.display()
        ),
    )
}

/// mkdir, tolerating a directory that appeared meanwhile, then sync the parent.
fn make_dir(dir: &Path, mode: u32) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return if std::fs::symlink_metadata(dir)?.is_dir() {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::ENOTDIR))
            };
        }
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) => File::open(parent).and_then(|d| d.sync_all()),
        None => Ok(()),
    }
}

/// Normal components only: `/a/./b/` → `a`, `b`; `..` kept for the resolver.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// What a file is, in words, for "X is a FIFO, not a regular file".
pub fn kind_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// The error for something that is not a regular file. Its kind is `IsADirectory` for a
/// directory (libwrap opens one and reads nothing), else `InvalidInput`.
pub fn not_regular(ft: std::fs::FileType) -> io::Error {
    let kind = if ft.is_dir() {
        io::ErrorKind::IsADirectory
    } else {
        io::ErrorKind::InvalidInput
    };
    io::Error::new(kind, format!("it is {}, not a regular file", kind_name(ft)))
}

/// Open a resolved path for reading, only if it is a regular file: `O_NONBLOCK` (a FIFO
/// must not block the open), `O_NOFOLLOW` (resolution already followed the links; one that
/// appears now is not followed), `O_NOCTTY`. A device is refused by `stat` before it is
/// opened (opening some devices does something), and by `fstat` after.
pub fn open_regular(host: &Path) -> io::Result<File> {
    let meta = std::fs::symlink_metadata(host)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(host)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok(file)
}

/// The error for a file over its bound.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "it is larger than {} MiB, more than any real file of its kind; wrapfix does not read it",
            limit >> 20
        ),
    )
}

/// Read all of `file` (at most `limit` bytes; more is an error).
pub fn read_to_end_bounded(file: &File, limit: u64) -> io::Result<Vec<u8>> {
    let hint = file.metadata().map_or(0, |m| m.len().min(limit));
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// [`open_regular`] and [`read_to_end_bounded`].
pub fn read_regular(host: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_to_end_bounded(&open_regular(host)?, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        std::fs::create_dir_all(t.path().join("etc/alt")).unwrap();
        std::fs::write(t.path().join("etc/alt/deny"), b"x").unwrap();
        symlink("/etc/alt/deny", t.path().join("etc/hosts.deny")).unwrap();
        assert_eq!(
            root.resolve("/etc/hosts.deny").unwrap(),
            t.path().join("etc/alt/deny")
        );
        symlink("../../../../etc/alt/deny", t.path().join("etc/up")).unwrap();
        assert_eq!(
            root.resolve("/etc/up").unwrap(),
            t.path().join("etc/alt/deny")
        );
    }

    #[test]
    fn missing_files_and_dangling_links_read_as_none() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        symlink("/nowhere", t.path().join("etc/hosts.allow")).unwrap();
        assert_eq!(root.read_optional("/etc/hosts.allow").unwrap(), None);
        assert_eq!(root.read_optional("/etc/hosts.deny").unwrap(), None);
        symlink("/no/such/dir/x", t.path().join("etc/deep")).unwrap();
        assert_eq!(root.read_optional("/etc/deep").unwrap(), None);
    }

    #[test]
    fn link_loops_are_an_error_not_a_hang() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        symlink("/b", t.path().join("a")).unwrap();
        symlink("/a", t.path().join("b")).unwrap();
        assert!(root.resolve("/a").is_err());
    }

    /// Issue 9 item 1: `ln -s /nonexist/../../outside ROOT/var` used to resolve to
    /// `ROOT/nonexist/../../outside`, text the kernel then took out of the root.
    #[test]
    fn a_link_through_a_missing_component_and_dotdot_never_leaves_the_root() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path();
        let dir = base.join("root");
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        symlink("/nonexist/../../outside", dir.join("var")).unwrap();
        let root = Root::new(&dir);
        let err = root.resolve("/var/backups/wrapfix").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        let err = root.create_dirs("/var/backups/wrapfix", 0o700).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!base.join("outside/backups").exists());
        assert!(!dir.join("nonexist").exists());
        // The same shape as a table link: the last component may be missing, nothing else.
        symlink(
            "/var/backups/wrapfix/ID/../../../../../outside/victim",
            dir.join("etc/hosts.allow"),
        )
        .unwrap();
        assert_eq!(
            root.resolve("/etc/hosts.allow").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // Once every component exists, `..` is taken on the real directories, clamped.
        std::fs::remove_file(dir.join("var")).unwrap();
        std::fs::create_dir_all(dir.join("var/backups/wrapfix/ID")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        assert_eq!(
            root.resolve("/etc/hosts.allow").unwrap(),
            dir.join("outside/victim")
        );
    }

    #[test]
    fn no_resolved_path_has_dotdot_or_a_link_in_it() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("root");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        symlink("../../..", dir.join("a/b/up")).unwrap();
        symlink("b/up/a", dir.join("a/loop")).unwrap();
        let root = Root::new(&dir);
        for p in [
            "/a/b/up/a/b",
            "/a/loop/b/up",
            "/../../a/./b/..",
            "/a/b/up/x",
        ] {
            let host = root.resolve(p).unwrap();
            assert!(host.starts_with(&dir), "{p} -> {}", host.display());
            assert!(
                host.components().all(|c| c != Component::ParentDir),
                "{p} -> {}",
                host.display()
            );
        }
    }

    #[test]
    fn create_dirs_makes_what_the_path_names_through_links_that_exist() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("root");
        std::fs::create_dir_all(dir.join("data/var")).unwrap();
        symlink("/data/var", dir.join("var")).unwrap();
        let root = Root::new(&dir);
        let made = root.create_dirs("/var/backups/wrapfix", 0o700).unwrap();
        assert_eq!(made, dir.join("data/var/backups/wrapfix"));
        assert!(made.is_dir());
        std::fs::write(dir.join("file"), b"").unwrap();
        assert!(root.create_dirs("/file/x", 0o700).is_err());
    }

    #[test]
    fn beneath_follows_no_link() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("set")).unwrap();
        symlink("/etc", t.path().join("set/etc")).unwrap();
        let set = Root::new(t.path().join("set"));
        assert!(set.beneath("etc/hosts.deny", None).is_err());
        assert!(set.beneath("etc/hosts.deny", Some(0o700)).is_err());
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking_and_reads_are_bounded() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = read_regular(&fifo, 10).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let err = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let err = read_regular(t.path(), 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
        let big = t.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert_eq!(
            read_regular(&big, 10).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        assert_eq!(read_regular(&big, 11).unwrap().len(), 11);
    }
}
