//! The system calls under the write protocol: the run lock, reading a target with its
//! metadata, copying metadata onto a new file, syncing directories, and turning an
//! `io::Error` into a message that says what to do about it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::libc;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use xattr::FileExt;

use crate::error::Error;
use crate::model::tables::TABLE_LIMIT;
use crate::rootfs;

/// Every temporary file wrapfix creates next to a target starts with this, so that a later
/// run (holding the lock) can recognise the leftovers of a run that was killed.
pub(crate) const TEMP_PREFIX: &str = ".wrapfix-";
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// The metadata a rewrite must carry over: permission bits, owner and extended attributes
/// (SELinux label, POSIX ACLs, `user.*`), sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// An `Error::Io` whose detail says what to do about the errno.
pub(crate) fn io_err(op: &'static str, path: &Path, source: io::Error) -> Error {
    let detail = hint(path, &source);
    Error::Io {
        op,
        path: path.to_path_buf(),
        source,
        detail,
    }
}

/// Advice for the errors an admin can do something about (docs/write-protocol.md).
fn hint(path: &Path, e: &io::Error) -> String {
    match errno(e) {
        Some(libc::EROFS) => format!(
            " — the filesystem is mounted read-only; make it writable with `mount -o remount,rw {}` and run wrapfix again",
            mount_point(path).display()
        ),
        Some(libc::EACCES) => " — permission denied: run wrapfix as root".to_string(),
        Some(libc::EPERM) => format!(
            " — not permitted: run wrapfix as root; if it already runs as root, the file or its directory is immutable or append-only (`lsattr -d {0}` shows it, `chattr -i {0}` or `chattr -a {0}` clears it)",
            path.display()
        ),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
            " — the filesystem is full (or the quota is used up); free some space and run wrapfix again"
                .to_string()
        }
        _ => String::new(),
    }
}

/// The errno behind `e`, also when a library wrapped it (tempfile adds the path).
pub(crate) fn errno(e: &io::Error) -> Option<i32> {
    if let Some(n) = e.raw_os_error() {
        return Some(n);
    }
    let mut inner: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(err) = inner {
        if let Some(n) = err
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(n);
        }
        inner = err.source();
    }
    None
}

/// The mount point of the filesystem that holds `path`: the longest mount point in
/// `/proc/self/mountinfo` that contains it (a bind mount of part of a filesystem has the
/// same device number as the rest of it, so `st_dev` alone would name `/`). Without
/// /proc, the highest ancestor on the same device.
pub(crate) fn mount_point(path: &Path) -> PathBuf {
    let here: PathBuf = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .into();
    let here = std::fs::canonicalize(&here).unwrap_or(here);
    if let Ok(info) = std::fs::read("/proc/self/mountinfo") {
        let best = info
            .split(|&b| b == b'\n')
            .filter_map(|line| line.split(|&b| b == b' ').nth(4))
            .map(unescape_mountinfo)
            .filter(|m| here.starts_with(m))
            .max_by_key(|m| m.as_os_str().len());
        if let Some(m) = best {
            return m;
        }
    }
    let Ok(dev) = std::fs::metadata(&here).map(|m| m.dev()) else {
        return here;
    };
    let mut top = here;
    while let Some(parent) = top.parent() {
        match std::fs::metadata(parent) {
            Ok(m) if m.dev() == dev => top = parent.to_path_buf(),
            _ => break,
        }
    }
    top
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|o| field[i] == b'\\' && o.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(o) => {
                out.push(o.iter().fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0')));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Exclusive, non-blocking locks that serialise wrapfix runs: `flock` on the directory
/// that holds the tables (ROOT/etc), whatever backup directory a run uses, and on the
/// backup directory (whose leftovers a run cleans up). A directory, not a lock file: no
/// file is left in /etc, and every run on the same system locks the same inode however
/// it got there (a bind mount, another `--root` spelling).
pub(crate) struct RunLock(Vec<Flock<File>>);

impl Drop for RunLock {
    fn drop(&mut self) {
        for lock in self.0.drain(..).rev() {
            if let Err((lock, _)) = lock.unlock() {
                // nix's own Drop would panic here. The kernel drops the lock when the
                // descriptor closes, at the latest when the process exits, so leaking it is
                // the safe choice.
                std::mem::forget(lock);
            }
        }
    }
}

pub(crate) fn lock(tables_dir: &Path, backup_dir: &Path) -> Result<RunLock, Error> {
    let mut held = RunLock(Vec::new());
    held.0.push(lock_dir(tables_dir, "the tables in")?);
    if backup_dir != tables_dir {
        held.0.push(lock_dir(backup_dir, "the backup directory")?);
    }
    Ok(held)
}

fn lock_dir(dir: &Path, what: &'static str) -> Result<Flock<File>, Error> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .map_err(|e| io_err("open for locking", dir, e))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, Errno::EWOULDBLOCK)) => Err(Error::Busy {
            what,
            dir: dir.to_path_buf(),
        }),
        Err((_, errno)) => Err(io_err("lock", dir, errno.into())),
    }
}

/// fsync a directory, so a rename or a new entry in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("sync the directory", dir, e))
}

/// The directory a resolved target lives in (where its temporary file must go, so that the
/// rename stays on one filesystem).
pub(crate) fn parent(host: &Path) -> Result<&Path, Error> {
    host.parent().ok_or_else(|| {
        io_err(
            "find the directory of",
            host,
            io::Error::from(io::ErrorKind::InvalidInput),
        )
    })
}

/// Fail early, with the remount advice, when the target's filesystem is mounted read-only,
/// before a backup is written for a change that cannot happen.
pub(crate) fn check_writable(dir: &Path) -> Result<(), Error> {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(st) if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) => Err(io_err(
            "write to",
            dir,
            io::Error::from_raw_os_error(libc::EROFS),
        )),
        _ => Ok(()),
    }
}

/// Remove temporary files a killed wrapfix run left in `dir` (next to a target, or in the
/// backup directory). Only called under the run lock, so no other wrapfix run on these
/// tables can own them.
pub(crate) fn remove_stale_temps(dir: &Path) {
    let Ok(names) = list_dir(dir) else { return };
    for name in names {
        let text = name.to_string_lossy();
        if !(text.starts_with(TEMP_PREFIX) && text.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let path = dir.join(&name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            // Best effort: a leftover we cannot remove does no harm to the tables.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Remove a directory tree this run created (best effort). Not `std::fs::remove_dir_all`,
/// for the same reason as [`list_dir`].
pub(crate) fn remove_tree(dir: &Path) {
    for name in list_dir(dir).unwrap_or_default() {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => remove_tree(&path),
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The names in a directory (without `.` and `..`). Not `std::fs::read_dir`: its drop
/// panics when closedir fails, and a failing close must end in an error message, not a
/// crash (the fault-injection test makes every close fail once).
pub(crate) fn list_dir(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let flags =
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let mut d = nix::dir::Dir::open(dir, flags, nix::sys::stat::Mode::empty())?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(std::ffi::OsStr::from_bytes(&name).to_os_string());
        }
    }
    Ok(names)
}

/// How a file changed since we read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drift {
    Same,
    /// Only bytes appended to the same inode (fail2ban's `printf >>`): the salvage after the
    /// rename carries them over, so the plan stands. Planning again instead would never
    /// finish against an appender faster than our fsync.
    Appended,
    /// Anything else (rewritten, replaced, truncated, metadata changed): plan again.
    Changed,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub dev: u64,
    pub ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// One read of a target: the descriptor we keep (to salvage appends to this inode later),
/// its bytes, stamp and metadata. All `None` when the file does not exist.
pub(crate) struct Snapshot {
    pub held: Option<File>,
    pub bytes: Option<Vec<u8>>,
    pub stamp: Option<Stamp>,
    pub meta: Option<Meta>,
    pub watch: Option<OpenWatch>,
    /// How many names the file has: other hard links keep the old bytes after a rename.
    pub links: u64,
}

impl Snapshot {
    /// Read the target at `host` (resolved): a regular file, opened without blocking (a
    /// FIFO must not hang the run), at most [`TABLE_LIMIT`] bytes.
    pub fn read(host: &Path) -> Result<Snapshot, Error> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(host)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Snapshot {
                    held: None,
                    bytes: None,
                    stamp: None,
                    meta: None,
                    watch: None,
                    links: 0,
                });
            }
            Err(e) => return Err(io_err("open", host, e)),
        };
        let before = file.metadata().map_err(|e| io_err("inspect", host, e))?;
        if !before.is_file() {
            return Err(io_err(
                "edit",
                host,
                rootfs::not_regular(before.file_type()),
            ));
        }
        // Watch first, read second: a writer that opens the file after this point is seen.
        // Only where leases fail: with them the salvage asks the kernel who has the file
        // open, and the watch is never read. Closing an inotify instance whose inode was
        // just replaced waits for an RCU grace period: 16 ms, in half the `--yes` runs on a
        // small table, with leases working.
        let watch = match open_for_writing(&file) {
            Ok(_) => None,
            Err(_) => OpenWatch::new(&file),
        };
        let bytes =
            rootfs::read_to_end_bounded(&file, TABLE_LIMIT).map_err(|e| io_err("read", host, e))?;
        // The stamp is taken after the read, so an append during the read shows as a change.
        let after = file.metadata().map_err(|e| io_err("inspect", host, e))?;
        let meta =
            read_meta(&file, &after).map_err(|e| io_err("read the attributes of", host, e))?;
        Ok(Snapshot {
            stamp: Some(Stamp::of(&after)),
            meta: Some(meta),
            bytes: Some(bytes),
            held: Some(file),
            watch,
            links: after.nlink(),
        })
    }

    /// How `later` (a later read of the same path) differs from the version we planned on.
    pub fn compare(&self, later: &Snapshot) -> Drift {
        if self.stamp == later.stamp && self.bytes == later.bytes {
            return Drift::Same;
        }
        let same_inode = match (self.stamp, later.stamp) {
            (Some(a), Some(b)) => (a.dev, a.ino) == (b.dev, b.ino),
            _ => false,
        };
        let grew = match (&self.bytes, &later.bytes) {
            (Some(a), Some(b)) => b.len() > a.len() && b.starts_with(a),
            _ => false,
        };
        if same_inode && grew && self.meta == later.meta {
            Drift::Appended
        } else {
            Drift::Changed
        }
    }
}

pub(crate) fn read_meta(file: &File, m: &std::fs::Metadata) -> io::Result<Meta> {
    Ok(Meta {
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        xattrs: read_xattrs(file)?,
    })
}

fn read_xattrs(file: &File) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = match file.list_xattr() {
        Ok(names) => names,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        // Attribute names are ASCII in practice; the manifest stores them as text.
        let text = name.to_string_lossy().into_owned();
        if let Some(value) = file.get_xattr(&name)? {
            out.push((text, value));
        }
    }
    out.sort();
    Ok(out)
}

fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::ENODATA))
}

/// Give `file` (a fresh temporary file) `meta`: owner first (chown clears set-id bits),
/// then the extended attributes, then the mode.
pub(crate) fn apply_meta(file: &File, path: &Path, meta: &Meta) -> Result<(), Error> {
    let now = file.metadata().map_err(|e| io_err("inspect", path, e))?;
    if (now.uid(), now.gid()) != (meta.uid, meta.gid) {
        std::os::unix::fs::fchown(file, Some(meta.uid), Some(meta.gid))
            .map_err(|e| io_err("set the owner of", path, e))?;
    }
    set_xattrs(file, path, &meta.xattrs)?;
    if now.mode() & 0o7777 != meta.mode || (now.uid(), now.gid()) != (meta.uid, meta.gid) {
        file.set_permissions(std::fs::Permissions::from_mode(meta.mode))
            .map_err(|e| io_err("set the mode of", path, e))?;
    }
    Ok(())
}

/// Make the attributes of `file` exactly `want`. An attribute the new file got by itself
/// (a default ACL of the directory, the directory's SELinux default label) is removed when
/// the original did not have it; the kernel may refuse that for `security.*`, which is fine.
fn set_xattrs(file: &File, path: &Path, want: &[(String, Vec<u8>)]) -> Result<(), Error> {
    let have = read_xattrs(file).map_err(|e| io_err("read the attributes of", path, e))?;
    for (name, value) in want {
        if !have.iter().any(|(n, v)| n == name && v == value) {
            file.set_xattr(name, value)
                .map_err(|e| io_err("copy the extended attributes to", path, e))?;
        }
    }
    for (name, _) in have
        .iter()
        .filter(|(n, _)| !want.iter().any(|(w, _)| w == n))
    {
        match file.remove_xattr(name) {
            Ok(()) => {}
            Err(_) if name.starts_with("security.") => {}
            Err(e) => return Err(io_err("remove an extended attribute from", path, e)),
        }
    }
    Ok(())
}

/// Whether any program has `file`'s inode open for writing, as the kernel counts it (its
/// count of writable descriptors, every process's): a read lease (`F_SETLEASE` `F_RDLCK`)
/// is refused with `EAGAIN` exactly then. A granted lease is given back at once. `Err`
/// when leases are not available here: not the file's owner and no `CAP_LEASE` (`EACCES`),
/// a file system without them or `fs.leases-enable` off (`EINVAL`), `ENOLCK`. `file` must
/// be open read-only and we must hold no writable descriptor on it (we would count).
pub(crate) fn open_for_writing(file: &File) -> Result<bool, Errno> {
    // While the lease is held, a program opening the file for writing makes the kernel
    // signal us, SIGIO by default, which would kill wrapfix: ask for SIGURG instead, which
    // is ignored unless handled (wrapfix handles no signal).
    fcntl_int(file, F_SETSIG, libc::SIGURG)?;
    match fcntl_int(file, libc::F_SETLEASE, libc::F_RDLCK) {
        Ok(()) => {
            // While we hold it, a program opening the file for writing waits for us. Should
            // giving it back fail, closing the descriptor does it; the caller then treats
            // leases as unavailable.
            fcntl_int(file, libc::F_SETLEASE, libc::F_UNLCK)?;
            Ok(false)
        }
        Err(Errno::EAGAIN) => Ok(true),
        Err(e) => Err(e),
    }
}

/// `F_SETSIG` from `<asm-generic/fcntl.h>`, the same on every Linux architecture; the
/// libc crate does not export it for glibc.
const F_SETSIG: libc::c_int = 10;

/// `fcntl(fd, cmd, arg)` for the commands nix has no wrapper for (`F_SETLEASE`,
/// `F_SETSIG`), whose argument is a plain int.
#[allow(unsafe_code)]
fn fcntl_int(file: &File, cmd: libc::c_int, arg: libc::c_int) -> Result<(), Errno> {
    // SAFETY: `file` is open for the whole call, and these commands take an int argument:
    // the kernel reads no memory of ours and writes none.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, arg) };
    Errno::result(rc).map(drop)
}

/// Counts who opens and closes one inode (inotify on the descriptor we hold), so that after
/// the rename we can wait until every writer that had the old file open has closed it: then
/// nothing can be appended to the old inode any more, and the salvage is complete.
pub(crate) struct OpenWatch {
    inotify: Inotify,
    open: i64,
}

impl OpenWatch {
    /// `None` when inotify or /proc is not available: the caller falls back to a short
    /// settling time.
    fn new(file: &File) -> Option<OpenWatch> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        inotify
            .add_watch(
                path.as_str(),
                AddWatchFlags::IN_OPEN | AddWatchFlags::IN_CLOSE,
            )
            .ok()?;
        Some(OpenWatch { inotify, open: 0 })
    }

    /// Whether a descriptor opened since the watch began is still open: `None` when the
    /// kernel lost events (queue overflow) or reading them failed.
    pub fn writers_may_remain(&mut self) -> Option<bool> {
        loop {
            match self.inotify.read_events() {
                Ok(events) => {
                    for ev in events {
                        if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                            return None;
                        }
                        if ev.mask.contains(AddWatchFlags::IN_OPEN) {
                            self.open += 1;
                        }
                        if ev.mask.intersects(AddWatchFlags::IN_CLOSE) {
                            self.open -= 1;
                        }
                    }
                }
                Err(Errno::EAGAIN) => return Some(self.open > 0),
                Err(_) => return None,
            }
        }
    }
}
