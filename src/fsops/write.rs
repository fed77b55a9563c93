//! Writing one target (docs/write-protocol.md, steps 4–8): temporary file next to it, re-check, rename,
//! salvage appends to the old inode, verify. Removing a file (rollback of a file wrapfix
//! created) follows the same shape.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::libc;
use tempfile::NamedTempFile;

use super::sys::{self, Drift, Meta, Snapshot, TEMP_PREFIX, TEMP_SUFFIX, io_err};
use crate::error::Error;

/// How often a file may change underneath us before we give up (docs/write-protocol.md step 5).
const MAX_ATTEMPTS: usize = 5;
/// How long to wait for a writer that still has the old file open (DenyHosts keeps its
/// file open while it calls the firewall). Longer than any `printf >>`.
const WRITER_WAIT: Duration = Duration::from_secs(2);
/// Without inotify, how long to keep watching the old file for late appends.
const SETTLE: Duration = Duration::from_millis(20);

/// What a file should become. `bytes: None` removes it; `meta: None` keeps the metadata the
/// file has (or, for a new file, the creation default).
#[derive(Debug, Clone)]
pub(crate) struct Desired {
    pub bytes: Option<Vec<u8>>,
    pub meta: Option<Meta>,
}

impl Desired {
    pub fn is_noop(&self, snap: &Snapshot) -> bool {
        self.bytes == snap.bytes
            && self
                .meta
                .as_ref()
                .is_none_or(|m| Some(m) == snap.meta.as_ref())
    }
}

/// One file of a change, between planning and writing.
pub(crate) struct PendingWrite {
    pub system_path: String,
    pub host: PathBuf,
    pub snap: Snapshot,
    pub desired: Desired,
    /// Metadata for the file when it does not exist yet.
    pub create_meta: Meta,
}

/// What writing one file did.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The bytes wrapfix left at the path (the plan, plus the salvage), `None` if removed.
    pub after: Option<Vec<u8>>,
    /// The old file's final bytes: what it held when it was replaced, salvage included.
    pub before: Option<Vec<u8>>,
    pub salvaged: Vec<u8>,
    pub in_place: bool,
    /// A rebase found that nothing is left to change.
    pub unchanged: bool,
    pub warnings: Vec<String>,
}

/// An error, and whether the target had been touched when it happened.
pub(crate) struct Failed {
    pub error: Error,
    pub touched: bool,
}

fn untouched(error: Error) -> Failed {
    Failed {
        error,
        touched: false,
    }
}

fn touched(error: Error) -> Failed {
    Failed {
        error,
        touched: true,
    }
}

enum Step {
    Done(Written),
    /// The file is not what the plan was made from: plan again on this.
    Changed(Snapshot),
}

/// Write `p` to disk. `rebase` plans again when the file changed underneath (and updates the
/// backup to the new prior bytes); its error stops the change.
pub(crate) fn commit(
    p: &mut PendingWrite,
    rebase: &mut dyn FnMut(&Snapshot) -> Result<Desired, Error>,
    allow_in_place: bool,
) -> Result<Written, Failed> {
    for _ in 0..MAX_ATTEMPTS {
        if p.desired.is_noop(&p.snap) {
            return Ok(Written {
                unchanged: true,
                ..Written::default()
            });
        }
        let step = match p.desired.bytes.clone() {
            Some(new) => replace(p, &new, allow_in_place)?,
            None => remove(p)?,
        };
        match step {
            Step::Done(w) => return Ok(w),
            Step::Changed(fresh) => {
                p.snap = fresh;
                p.desired = rebase(&p.snap).map_err(untouched)?;
            }
        }
    }
    Err(untouched(Error::Unsafe(format!(
        "{} kept changing while wrapfix tried to write it ({MAX_ATTEMPTS} attempts); try again when the programs writing it are quiet",
        p.host.display()
    ))))
}

/// Delete a temporary file, retrying once: a leftover would look like debris in /etc.
fn discard<F>(temp: NamedTempFile<F>) {
    let path = temp.path().to_path_buf();
    if temp.close().is_err() {
        let _ = std::fs::remove_file(path);
    }
}

/// A temporary file in `dir` holding `bytes` with `meta`, synced to disk.
fn prepare_temp(dir: &Path, bytes: &[u8], meta: &Meta) -> Result<NamedTempFile, Error> {
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| io_err("create a temporary file in", dir, e))?;
    let filled = temp
        .as_file_mut()
        .write_all(bytes)
        .map_err(|e| io_err("write", temp.path(), e))
        .and_then(|()| sys::apply_meta(temp.as_file(), temp.path(), meta))
        .and_then(|()| {
            temp.as_file()
                .sync_all()
                .map_err(|e| io_err("sync", temp.path(), e))
        });
    match filled {
        Ok(()) => Ok(temp),
        Err(e) => {
            discard(temp);
            Err(e)
        }
    }
}

/// The metadata the new version gets: what the plan asks for, else the old file's.
fn target_meta(p: &PendingWrite) -> Meta {
    p.desired
        .meta
        .clone()
        .or_else(|| p.snap.meta.clone())
        .unwrap_or_else(|| p.create_meta.clone())
}

fn replace(p: &mut PendingWrite, new: &[u8], allow_in_place: bool) -> Result<Step, Failed> {
    let dir = sys::parent(&p.host).map_err(untouched)?.to_path_buf();
    let meta = target_meta(p);
    let mut temp = prepare_temp(&dir, new, &meta).map_err(untouched)?;
    // Re-check (docs/write-protocol.md step 5): the path must still be the version we planned on, or
    // that version with lines appended (carried over below).
    let fresh = match Snapshot::read(&p.host) {
        Ok(fresh) => fresh,
        Err(e) => {
            discard(temp);
            return Err(untouched(e));
        }
    };
    if p.snap.compare(&fresh) == Drift::Changed {
        discard(temp);
        return Ok(Step::Changed(fresh));
    }
    drop(fresh);
    // Lines appended to the old file since we read it go into the new one before the
    // rename: after it, other appenders write to the new file, and lines carried over
    // later would land after theirs, out of the order they were written in.
    let carried = match carry_over(p, &mut temp, new) {
        Ok(c) => c,
        Err(e) => {
            discard(temp);
            return Err(untouched(e));
        }
    };
    let creating = p.snap.bytes.is_none();
    // A file that did not exist is created without replacing one that appeared meanwhile.
    let persisted = if creating {
        temp.persist_noclobber(&p.host)
    } else {
        temp.persist(&p.host)
    };
    if let Err(e) = persisted {
        let error = e.error;
        discard(e.file);
        if creating && error.kind() == io::ErrorKind::AlreadyExists {
            return Snapshot::read(&p.host)
                .map(Step::Changed)
                .map_err(untouched);
        }
        if matches!(sys::errno(&error), Some(libc::EBUSY) | Some(libc::EXDEV)) {
            if allow_in_place && !creating {
                return write_in_place(p, new, &meta).map(Step::Done);
            }
            return Err(untouched(bind_mount_error(&p.host, error)));
        }
        return Err(untouched(io_err("replace", &p.host, error)));
    }
    // From here on the target holds the new bytes.
    let mut warnings = hard_link_warning(p);
    sys::sync_dir(&dir).map_err(touched)?;
    let written = [new, &carried.glue, &carried.bytes].concat();
    let (late, waited) = salvage_bytes(p, carried.bytes.len()).map_err(touched)?;
    warnings.extend(waited);
    let appended = if late.is_empty() {
        Vec::new()
    } else {
        insert_after(&p.host, &written, &late).map_err(touched)?
    };
    verify(&p.host, &written, &late, &meta).map_err(touched)?;
    // The old inode's final bytes are the true "before"; the salvage is in both versions.
    let salvaged = [carried.bytes.as_slice(), &late].concat();
    let before = p
        .snap
        .bytes
        .as_ref()
        .map(|b| [b.as_slice(), &salvaged].concat());
    let after = Some([written.as_slice(), &appended].concat());
    Ok(Step::Done(Written {
        after,
        before,
        salvaged,
        warnings,
        ..Written::default()
    }))
}

/// Bytes appended to the old file and copied into the new one before the rename.
#[derive(Default)]
struct Carried {
    /// A newline put before them when the new bytes do not end with one, so that the
    /// appender's line is not glued onto ours.
    glue: Vec<u8>,
    bytes: Vec<u8>,
}

/// How often to look again for lines appended while the previous ones were copied and
/// synced; an appender faster than an fsync of a few lines is no ban list.
const CARRY_ROUNDS: usize = 20;

/// Copy into `temp` what was appended to the old file (the held inode) since we read it,
/// and sync it; repeat until a look finds nothing new, so that the rename follows the last
/// look immediately.
fn carry_over(p: &PendingWrite, temp: &mut NamedTempFile, new: &[u8]) -> Result<Carried, Error> {
    let mut carried = Carried::default();
    let (Some(held), Some(read)) = (&p.snap.held, &p.snap.bytes) else {
        return Ok(carried);
    };
    for _ in 0..CARRY_ROUNDS {
        let from = (read.len() + carried.bytes.len()) as u64;
        let tail =
            tail_of(held, from).map_err(|e| io_err("read the old version of", &p.host, e))?;
        if tail.is_empty() {
            break;
        }
        let mut chunk = Vec::new();
        if carried.bytes.is_empty() && !new.is_empty() && !new.ends_with(b"\n") {
            carried.glue = b"\n".to_vec();
            chunk.push(b'\n');
        }
        chunk.extend_from_slice(&tail);
        temp.as_file_mut()
            .write_all(&chunk)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| io_err("write", temp.path(), e))?;
        carried.bytes.extend_from_slice(&tail);
    }
    Ok(carried)
}

/// What `file` holds beyond offset `from`.
fn tail_of(file: &File, from: u64) -> io::Result<Vec<u8>> {
    let size = file.metadata()?.len();
    if size <= from {
        return Ok(Vec::new());
    }
    let mut extra = vec![0; usize::try_from(size - from).map_err(io::Error::other)?];
    let n = read_at_most(file, &mut extra, from)?;
    extra.truncate(n);
    Ok(extra)
}

/// Other names of the old file keep its old bytes after the rename (a hard link made by
/// a backup script, or by an attacker to keep a ban in place).
fn hard_link_warning(p: &PendingWrite) -> Vec<String> {
    if p.snap.links <= 1 {
        return Vec::new();
    }
    vec![format!(
        "{} had {} other hard link(s): they still hold the old bytes (find them with `find / -xdev -samefile` on the replaced file's old inode, e.g. `find {} -xdev -inum {}`)",
        p.host.display(),
        p.snap.links - 1,
        sys::mount_point(&p.host).display(),
        p.snap.stamp.map_or(0, |s| s.ino)
    )]
}

fn bind_mount_error(host: &Path, error: io::Error) -> Error {
    let detail = format!(
        " — {} is a mount point of its own (a file bind-mounted into this system, as containers do), so it cannot be replaced atomically; wrapfix can overwrite it in place instead (not atomic; the backup is kept) when run again with --in-place",
        host.display()
    );
    Error::Io {
        op: "replace",
        path: host.to_path_buf(),
        source: error,
        detail,
    }
}

/// The bind-mount fallback: overwrite the file through a descriptor on the same inode.
/// Not atomic; only on request and after the backup. The file is never seen empty (an
/// empty hosts.deny lets everyone in), and lines other programs append meanwhile are kept,
/// in their order, after the new bytes (docs/write-protocol.md step 7, issue 9 item 11), exactly as
/// they wrote them (glued onto an unterminated last line as they were in the old file).
///
/// Appenders (`printf >>`) write at the end of the file, one `write` each, which the kernel
/// serialises with ours. When the new bytes are at least as long as the old (a fix), the
/// growth is first reserved by an `O_APPEND` write of newlines: what was appended before
/// the reservation lies between the old bytes and it, what comes later beyond it. One
/// `pwrite` of the new bytes and the earlier appends then covers exactly the old bytes,
/// those appends and the reservation, and nothing written later. Shorter new bytes (a
/// rollback) need the file cut, which no appender waits for: appends are moved down after
/// the new bytes until a look finds none, and the cut follows that look at once; a line
/// appended in the microseconds between them would be lost.
fn write_in_place(p: &PendingWrite, new: &[u8], meta: &Meta) -> Result<Written, Failed> {
    let open = |append: bool| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .append(append)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&p.host)
            .map_err(|e| untouched(io_err("open for writing", &p.host, e)))
    };
    let file = open(false)?;
    let st = file
        .metadata()
        .map_err(|e| untouched(io_err("inspect", &p.host, e)))?;
    if p.snap
        .stamp
        .is_none_or(|s| (s.dev, s.ino) != (st.dev(), st.ino()))
    {
        return Err(untouched(Error::Unsafe(format!(
            "{} was replaced while wrapfix was about to write it in place; nothing was changed in it",
            p.host.display()
        ))));
    }
    let io = |op: &'static str| move |e: io::Error| io_err(op, &p.host, e);
    let size_of = |f: &File| f.metadata().map(|m| m.len()).map_err(io("inspect"));
    let read_range = |from: u64, to: u64| -> Result<Vec<u8>, Error> {
        let mut buf = vec![
            0;
            usize::try_from(to.saturating_sub(from))
                .map_err(io::Error::other)
                .map_err(io("read"))?
        ];
        let n = read_at_most(&file, &mut buf, from).map_err(io("read"))?;
        buf.truncate(n);
        Ok(buf)
    };
    let old_len = p.snap.bytes.as_ref().map_or(0, Vec::len) as u64;
    let new_len = new.len() as u64;
    let appended = if new_len >= old_len {
        let reserve = new_len - old_len;
        let end = if reserve > 0 {
            let mut appender = open(true)?;
            let pad = vec![b'\n'; new.len() - old_len as usize];
            appender
                .write_all(&pad)
                .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
            // An O_APPEND write leaves the offset at the end of what it wrote.
            use std::io::Seek;
            appender
                .stream_position()
                .map_err(|e| touched(io_err("write in place", &p.host, e)))?
        } else {
            size_of(&file).map_err(untouched)?
        };
        let appended = read_range(old_len, end - reserve).map_err(touched)?;
        file.write_all_at(&[new, &appended].concat(), 0)
            .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
        appended
    } else {
        let mut size = size_of(&file).map_err(untouched)?;
        let mut appended = read_range(old_len, size).map_err(untouched)?;
        file.write_all_at(&[new, &appended].concat(), 0)
            .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
        let mut rounds = 0;
        loop {
            let now = size_of(&file).map_err(touched)?;
            if now == size {
                file.set_len(new_len + appended.len() as u64)
                    .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
                break;
            }
            rounds += 1;
            if rounds > 10_000 {
                return Err(touched(Error::Unsafe(format!(
                    "{} is being appended to faster than wrapfix can move the lines; its new bytes are in place, followed by part of its old ones: stop the program writing it and run wrapfix again",
                    p.host.display()
                ))));
            }
            // Appended since the last look, at [size, now): moved down after ours, into
            // the old bytes still to be cut (below `size`, so below any later append).
            let more = read_range(size, now).map_err(touched)?;
            file.write_all_at(&more, new_len + appended.len() as u64)
                .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
            appended.extend_from_slice(&more);
            size = now;
        }
        appended
    };
    file.sync_all()
        .map_err(|e| touched(io_err("sync", &p.host, e)))?;
    // Same inode: restore mode and owner only where the plan asks for different ones.
    let now = sys::read_meta(&file, &st)
        .map_err(|e| touched(io_err("read the attributes of", &p.host, e)))?;
    if now != *meta {
        sys::apply_meta(&file, &p.host, meta).map_err(touched)?;
    }
    let written = [new, &appended].concat();
    verify(&p.host, &written, &[], meta).map_err(touched)?;
    let before = p
        .snap
        .bytes
        .as_ref()
        .map(|b| [b.as_slice(), &appended].concat());
    Ok(Written {
        after: Some(written),
        before,
        salvaged: appended,
        in_place: true,
        warnings: vec![format!(
            "{} is bind-mounted: it was overwritten in place, which is not atomic",
            p.host.display()
        )],
        ..Written::default()
    })
}

/// Rollback of a file wrapfix created: move it out of the way (atomically, to a temporary
/// name), carry over anything appended to it meanwhile, then delete it.
fn remove(p: &mut PendingWrite) -> Result<Step, Failed> {
    let dir = sys::parent(&p.host).map_err(untouched)?.to_path_buf();
    let fresh = Snapshot::read(&p.host).map_err(untouched)?;
    if p.snap.compare(&fresh) == Drift::Changed {
        return Ok(Step::Changed(fresh));
    }
    drop(fresh);
    let host = p.host.clone();
    let away = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .make_in(&dir, |to| rename_noreplace(&host, to))
        .map_err(|e| untouched(io_err("remove", &p.host, e)))?;
    // From here on the target is gone from its path.
    match finish_removal(p, &dir) {
        Ok(written) => {
            discard(away);
            sys::sync_dir(&dir).map_err(touched)?;
            Ok(Step::Done(written))
        }
        // Put the file back where it was, so that the error leaves nothing changed.
        Err(e) => match rename_noreplace(away.path(), &p.host) {
            Ok(()) => Err(untouched(e)),
            Err(_) => {
                discard(away);
                Err(touched(e))
            }
        },
    }
}

fn finish_removal(p: &mut PendingWrite, dir: &Path) -> Result<Written, Error> {
    sys::sync_dir(dir)?;
    let (salvaged, warnings) = salvage_bytes(p, 0)?;
    let mut after = None;
    if !salvaged.is_empty() {
        // Someone appended to the file while we removed it: their lines stay.
        put_back(&p.host, dir, &salvaged, &target_meta(p))?;
        after = Some(salvaged.clone());
    }
    let before = p
        .snap
        .bytes
        .as_ref()
        .map(|b| [b.as_slice(), &salvaged].concat());
    Ok(Written {
        after,
        before,
        salvaged,
        warnings,
        ..Written::default()
    })
}

fn put_back(host: &Path, dir: &Path, bytes: &[u8], meta: &Meta) -> Result<(), Error> {
    let temp = prepare_temp(dir, bytes, meta)?;
    match temp.persist_noclobber(host) {
        Ok(_) => sys::sync_dir(dir),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            discard(e.file);
            append(host, bytes).map(drop)
        }
        Err(e) => {
            let error = e.error;
            discard(e.file);
            Err(io_err("put back the lines appended to", host, error))
        }
    }
}

fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(io::Error::from)
}

/// docs/write-protocol.md step 7: everything appended to the held old inode beyond what we read and
/// the `carried` bytes already copied (a fail2ban `printf >>` between our last look and
/// the rename), once no writer can add more.
fn salvage_bytes(p: &mut PendingWrite, carried: usize) -> Result<(Vec<u8>, Vec<String>), Error> {
    if p.snap.held.is_none() {
        // The file did not exist: there is no old inode anyone could append to.
        return Ok((Vec::new(), Vec::new()));
    }
    let warnings = wait_for_writers(p.snap.watch.as_mut(), &p.host);
    let (Some(held), Some(read)) = (&p.snap.held, &p.snap.bytes) else {
        return Ok((Vec::new(), warnings));
    };
    let extra = tail_of(held, (read.len() + carried) as u64)
        .map_err(|e| io_err("read the old version of", &p.host, e))?;
    Ok((extra, warnings))
}

/// After the rename only descriptors opened before it can reach the old inode. Wait
/// (bounded) until every one opened since our read was closed; without inotify, or when it
/// lost events, give late writers a short settling time instead.
fn wait_for_writers(watch: Option<&mut sys::OpenWatch>, host: &Path) -> Vec<String> {
    let start = Instant::now();
    let settle = || std::thread::sleep(SETTLE.saturating_sub(start.elapsed()));
    let Some(watch) = watch else {
        settle();
        return Vec::new();
    };
    loop {
        match watch.writers_may_remain() {
            Some(false) => return Vec::new(),
            None => {
                settle();
                return Vec::new();
            }
            Some(true) if start.elapsed() >= WRITER_WAIT => {
                return vec![format!(
                    "a program still had the old {} open for writing after {} s: anything it writes there from now on is lost (stop it, e.g. DenyHosts, while repairing)",
                    host.display(),
                    WRITER_WAIT.as_secs()
                )];
            }
            Some(true) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Put `bytes` (written to the old file after the rename, by a writer that had it open)
/// right after `ours`, the bytes wrapfix wrote at the start of the new file, and before
/// what appenders wrote to the new file since: the order in which the lines were
/// written. After a newline if `ours` does not end with one (their line must not be glued
/// onto ours). Returns what was inserted.
///
/// The room is made as in [`write_in_place`]: an `O_APPEND` write of newlines reserves it
/// at the end (later appends land beyond it), and one `pwrite` of the bytes followed by
/// the lines appended before the reservation fills exactly the range from the end of ours
/// to the end of the reservation.
fn insert_after(host: &Path, ours: &[u8], bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let open = |append: bool| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .append(append)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(host)
            .map_err(|e| io_err("open for appending", host, e))
    };
    let file = open(false)?;
    let mut appender = open(true)?;
    let inserted = if !ours.is_empty() && !ours.ends_with(b"\n") {
        [b"\n".as_slice(), bytes].concat()
    } else {
        bytes.to_vec()
    };
    appender
        .write_all(&vec![b'\n'; inserted.len()])
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    // An O_APPEND write leaves the offset at the end of what it wrote.
    use std::io::Seek;
    let end = appender
        .stream_position()
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    let at = ours.len() as u64;
    let mut since = vec![
        0;
        usize::try_from((end - inserted.len() as u64).saturating_sub(at))
            .map_err(io::Error::other)
            .map_err(|e| io_err("read", host, e))?
    ];
    let n = read_at_most(&file, &mut since, at).map_err(|e| io_err("read", host, e))?;
    since.truncate(n);
    file.write_all_at(&[inserted.as_slice(), &since].concat(), at)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    Ok(inserted)
}

/// Append `bytes` with one `O_APPEND` write, like the appenders themselves, after a newline
/// if the file does not end with one (their line must not be glued onto ours). Returns what
/// was written.
fn append(host: &Path, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(host)
        .map_err(|e| io_err("open for appending", host, e))?;
    let len = file
        .metadata()
        .map_err(|e| io_err("inspect", host, e))?
        .len();
    let mut last = [0u8];
    let needs_newline = len > 0
        && file
            .read_at(&mut last, len - 1)
            .map_err(|e| io_err("read", host, e))?
            == 1
        && last[0] != b'\n';
    let buf = if needs_newline {
        [b"\n".as_slice(), bytes].concat()
    } else {
        bytes.to_vec()
    };
    (&file)
        .write_all(&buf)
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    file.sync_all().map_err(|e| io_err("sync", host, e))?;
    Ok(buf)
}

/// docs/write-protocol.md step 8: the path holds what we wrote (others may have appended since), with
/// the mode and owner we gave it.
fn verify(host: &Path, new: &[u8], salvaged: &[u8], meta: &Meta) -> Result<(), Error> {
    let now = std::fs::read(host).map_err(|e| io_err("read back", host, e))?;
    let st = std::fs::metadata(host).map_err(|e| io_err("inspect", host, e))?;
    let rest = now.strip_prefix(new);
    let holds = rest
        .is_some_and(|rest| salvaged.is_empty() || memchr::memmem::find(rest, salvaged).is_some());
    if !holds {
        return Err(Error::Unsafe(format!(
            "verification failed: {} does not hold what wrapfix just wrote to it (another program rewrote it at the same moment)",
            host.display()
        )));
    }
    if (st.mode() & 0o7777, st.uid(), st.gid()) != (meta.mode, meta.uid, meta.gid) {
        return Err(Error::Unsafe(format!(
            "verification failed: {} has mode {:04o} owner {}:{} instead of {:04o} {}:{}",
            host.display(),
            st.mode() & 0o7777,
            st.uid(),
            st.gid(),
            meta.mode,
            meta.uid,
            meta.gid
        )));
    }
    Ok(())
}
