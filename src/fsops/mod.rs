//! All file I/O of a change (docs/write-protocol.md): the run lock, change sets with backups and a
//! manifest, the atomic write of each target, salvage of concurrent appends, verification,
//! and rollback. Nothing here knows hosts_access syntax: callers pass closures that turn a
//! file's current bytes into the bytes they want ([`Rebase`], [`Revert`]).
//!
//! Exit statuses: every error here is exit 3 (the change could not be made safely) except
//! "no such change set" / "nothing to roll back" / "already rolled back", which are usage
//! errors (exit 2). A busy lock is exit 3 too: the command line was right, the change just
//! cannot be made now.
//!
//! Crash safety: backups and the manifest are on disk (fsynced, directories included)
//! before any target is touched, and each target is replaced by one rename, so a target
//! holds its old or its new bytes, never a mix. Temporary files (`.wrapfix-*.tmp`) are
//! removed on every error path; a run that is killed may leave one next to a target, and
//! the next run removes it while holding the lock. Lines another program appends to a
//! target while it is replaced are carried over (salvage); other changes make the plan be
//! made again on the new bytes (bounded), or stop the change with nothing changed.

pub mod edits;
mod manifest;
mod sys;
mod trust;
mod write;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::edit::EditRecord;

pub use manifest::{
    ChangeSet, ChangeSetInfo, EditList, SetFile, Stream, free_id, list, load, new_id, write_list,
};
pub use sys::Meta;

use crate::error::Error;
use crate::rootfs::Root;
use manifest::{SetWriter, sha256_hex};
use sys::Snapshot;
pub use write::Shared;
use write::{Desired, Failed, PendingWrite, Written};

mod job;
mod rollback;

pub use job::*;
pub use rollback::*;

/// A file's edit records, shared by the request and the manifest that keeps them (a
/// comment plan has 50,000: each copy was 14 MB).
pub type Records = std::sync::Arc<Vec<EditRecord>>;

/// One file a change set will rewrite.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Its path on the repaired system (`/etc/hosts.allow`).
    pub system_path: String,
    /// The edits the plan makes to it, recorded verbatim in the manifest for a later
    /// rollback (which hands them back to [`Revert`]).
    pub edits: EditList,
    /// When the file does not exist and is created: copy mode and owner from this file
    /// (system path, e.g. the sibling `/etc/hosts.deny`) if it exists; else 0644 root:root.
    pub create_like: Option<String>,
}

impl FileChange {
    pub fn new(system_path: impl Into<String>, edits: Vec<EditRecord>) -> FileChange {
        FileChange {
            system_path: system_path.into(),
            edits: edits.into(),
            create_like: None,
        }
    }
}

/// The caller's plan for one file: given its current bytes (`None`: absent), the new bytes,
/// or `Err(reason)` when the plan no longer applies (after another program changed it).
pub type Rebase<'a> = &'a dyn Fn(&str, Option<&[u8]>) -> Result<Shared, String>;

/// Undo only wrapfix's own `edits` in a file that other programs changed since: given the
/// path, its current bytes and the recorded edits, the bytes to write, or `Err(reason)`.
pub type Revert<'a> = &'a dyn Fn(&str, &[u8], Option<&[EditRecord]>) -> Result<Vec<u8>, String>;

/// The edit list a rollback records for one file, from the bytes it replaced and the bytes
/// it wrote (`None`: absent), so that [`Revert`] can undo the rollback in turn.
pub type Derive<'a> = &'a dyn Fn(Option<&[u8]>, Option<&[u8]>) -> Vec<EditRecord>;

/// A wrapfix command line for the system being changed, with these arguments (`--root`
/// and `--backup-dir` included as the run had them), for the commands messages suggest.
pub type Command<'a> = &'a dyn Fn(&[&str]) -> String;

/// `wrapfix ARGS`: for callers whose system is `/` with the default backup directory.
pub fn plain_command(args: &[&str]) -> String {
    std::iter::once("wrapfix")
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct ChangeRequest<'a> {
    pub root: &'a Root,
    /// Where change sets are kept, on this machine: inside the root's directory it is
    /// resolved inside the root like every other path (see [`backups`]).
    pub backup_dir: &'a Path,
    /// `fix` (or any other name the caller wants in the manifest).
    pub action: &'a str,
    /// Recorded verbatim in the manifest.
    pub targets_json: Value,
    pub files: Vec<FileChange>,
    pub rebase: Rebase<'a>,
    /// Only then, when rename fails with EBUSY/EXDEV (a bind-mounted file), overwrite the
    /// file in place (not atomic) after the backup.
    pub allow_in_place: bool,
    /// The change-set ID to use (from [`new_id`], named in the plan's marker lines); `-N` is
    /// added if it is taken. `None`: the time of writing.
    pub id: Option<&'a str>,
    /// How messages spell a command (`wrapfix --root R --rollback ID`).
    pub command: Command<'a>,
}

/// A change set that was written.
#[derive(Debug)]
pub struct Applied {
    pub id: String,
    /// `BACKUP_DIR/ID`.
    pub dir: PathBuf,
    pub files: Vec<AppliedFile>,
}

#[derive(Debug)]
pub struct AppliedFile {
    pub system_path: String,
    /// Whether the file existed before.
    pub existed: bool,
    /// Whether the change removed it (rollback of a file wrapfix created).
    pub removed: bool,
    /// Bytes another writer appended to the old file while it was replaced, carried over.
    pub salvaged: Vec<u8>,
    /// Overwritten in place (bind mount), not replaced atomically.
    pub in_place: bool,
    /// Things the admin should know (other hard links, an in-place write, ...).
    pub warnings: Vec<String>,
    /// Another program still had the replaced file open for writing when wrapfix stopped
    /// waiting for it: lines it writes now miss the file. The message says so, whole.
    pub still_open: Option<String>,
}

/// Apply a change. `Ok(None)`: nothing to do (every file already holds what the plan
/// wants); no backup was written.
pub fn apply(req: &ChangeRequest) -> Result<Option<Applied>, Error> {
    let plan = |path: &str, current: Option<&[u8]>| {
        // A missing file planned empty stays missing: there is nothing to create.
        (req.rebase)(path, current).map(|bytes| Desired {
            bytes: if current.is_none() && bytes.is_empty() {
                None
            } else {
                Some(bytes)
            },
            meta: None,
        })
    };
    let refuse = |path: &str, reason: String| Error::PlanNoLongerApplies {
        path: path.to_string(),
        reason,
    };
    let job = Job {
        root: req.root,
        backup_dir: req.backup_dir,
        action: req.action,
        targets: &req.targets_json,
        rolls_back: None,
        files: &req.files,
        plan: &plan,
        refuse: &refuse,
        allow_in_place: req.allow_in_place,
        id: req.id,
        record_empty: false,
        derive: None,
        command: req.command,
    };
    run(&job)
}
