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

mod in_place;
mod remove;
mod salvage;
mod verify;

use in_place::*;
use remove::*;
use salvage::*;
use verify::*;

/// How often a file may change underneath us before we give up (docs/write-protocol.md step 5).
const MAX_ATTEMPTS: usize = 5;
/// How long to wait after the rename for programs that still have the old file open for
/// writing (DenyHosts keeps its file open while it calls the firewall). Far longer than
/// any `printf >>`. `WRAPFIX_WRITER_WAIT_MS` overrides it.
const WRITER_WAIT: Duration = Duration::from_secs(5);
/// Without leases, how long the old file's size must stay the same before the salvage.
const SETTLE: Duration = Duration::from_millis(100);

/// A file's new bytes, shared: a comment plan's are megabytes, and the plan, its
/// verification, the write and the record of what was written all hold the same ones.
pub type Shared = std::sync::Arc<Vec<u8>>;

/// The bytes of an optional [`Shared`], as a slice.
pub(crate) fn slice(bytes: &Option<Shared>) -> Option<&[u8]> {
    bytes.as_deref().map(Vec::as_slice)
}

/// What a file should become. `bytes: None` removes it; `meta: None` keeps the metadata the
/// file has (or, for a new file, the creation default).
#[derive(Debug, Clone)]
pub(crate) struct Desired {
    pub bytes: Option<Shared>,
    pub meta: Option<Meta>,
}

impl Desired {
    pub fn is_noop(&self, snap: &Snapshot) -> bool {
        self.bytes.as_deref() == snap.bytes.as_ref()
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
    pub after: Option<Shared>,
    /// The old file's final bytes: what it held when it was replaced, salvage included.
    pub before: Option<Vec<u8>>,
    pub salvaged: Vec<u8>,
    pub in_place: bool,
    /// A rebase found that nothing is left to change.
    pub unchanged: bool,
    pub warnings: Vec<String>,
    /// Another program still had the old file open for writing when the wait for it ran
    /// out: the message saying so (the change is made, but lines may miss it).
    pub still_open: Option<String>,
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

fn replace(p: &mut PendingWrite, new: &Shared, allow_in_place: bool) -> Result<Step, Failed> {
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
    // Copied only when lines were carried over: a comment plan's bytes are megabytes.
    let written = if carried.glue.is_empty() && carried.bytes.is_empty() {
        Shared::clone(new)
    } else {
        Shared::new([new.as_slice(), &carried.glue, &carried.bytes].concat())
    };
    let Salvage {
        bytes: late,
        still_open,
        warnings: unsure,
    } = salvage_bytes(p, carried.bytes.len()).map_err(touched)?;
    warnings.extend(unsure);
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
    let after = Some(if appended.is_empty() {
        written
    } else {
        Shared::new([written.as_slice(), &appended].concat())
    });
    Ok(Step::Done(Written {
        after,
        before,
        salvaged,
        warnings,
        still_open,
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
