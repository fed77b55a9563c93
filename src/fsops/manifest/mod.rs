//! Change sets on disk: `BACKUP_DIR/ID/` with the prior bytes of each changed file (its path
//! mirrored under the directory) and `manifest.json`. Writing one ([`SetWriter`]), listing
//! them ([`list`]) and loading one for a rollback ([`load`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::DirBuilder;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::bytes::{hex, unhex};
use crate::model::edit::EditRecord;
use sha2::{Digest, Sha256};

use super::sys::{self, Meta, Snapshot, TEMP_PREFIX, TEMP_SUFFIX, io_err};
use super::trust::{self, Owners, TABLES, untrusted};
use crate::error::Error;
use crate::model::tables::TABLE_LIMIT;
use crate::rootfs::{self, Root};

mod reader;
mod recorded;
mod writer;

pub use reader::*;
use recorded::Edits;
pub use recorded::{EditList, Stream, write_list};
pub use writer::*;

/// `YYYYMMDDTHHMMSSZ`, UTC (docs/write-protocol.md): sorts as text, no `:` for scp and shells.
pub(crate) const ID_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const MANIFEST: &str = "manifest.json";
/// A manifest holds a few edits and the salvaged bytes (hex) of at most two tables.
const MANIFEST_LIMIT: u64 = 4 * TABLE_LIMIT;
/// Bumped when the manifest changes incompatibly.
const FORMAT: u32 = 1;

/// `manifest.json`, as written. Public through [`ChangeSet`], which parses the fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    tool: String,
    version: String,
    id: String,
    action: String,
    /// RFC 3339, UTC.
    time: String,
    /// False until every file was written and verified: a run that stopped midway (killed,
    /// or an error after some file was changed) leaves `false`. Rollback still works, file
    /// by file, from the hashes.
    complete: bool,
    /// For a rollback: the change set it undid.
    rolls_back: Option<String>,
    targets: Value,
    files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    /// As seen on the repaired system: `/etc/hosts.deny`.
    path: String,
    existed: bool,
    /// The prior bytes, relative to the change-set directory; `None` when the file did not
    /// exist.
    backup: Option<String>,
    sha256_before: Option<String>,
    /// `None`: the change removes the file.
    sha256_after: Option<String>,
    size: u64,
    mode: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    xattr_names: Vec<String>,
    /// The values too (hex), so that `--rollback` can restore labels and ACLs exactly.
    xattr_values: BTreeMap<String, String>,
    /// Bytes another writer appended to the old file while it was being replaced, carried
    /// over into the new one (hex).
    salvaged: String,
    /// Written in place (a bind-mounted file), not by rename.
    in_place: bool,
    /// What the change did to the file; `None` in change sets of older versions, which
    /// only `--exact` can roll back.
    #[serde(default)]
    edits: Option<Edits>,
}

/// One change set as `--list-backups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetInfo {
    pub id: String,
    pub dir: PathBuf,
    /// `fix` or `rollback`.
    pub action: String,
    /// RFC 3339, UTC.
    pub time: String,
    /// System paths of the files it changed.
    pub files: Vec<String>,
    /// False when the run stopped before every file was written.
    pub complete: bool,
    /// The change set this one undid (for a rollback).
    pub rolls_back: Option<String>,
    /// The rollback that undid this change set, unless that rollback was undone in turn.
    pub rolled_back_by: Option<String>,
}

impl ChangeSetInfo {
    /// Whether its change still holds: it completed and was not rolled back. A rollback
    /// that stopped midway left its target in effect (running it again finishes it).
    pub fn in_effect(&self) -> bool {
        self.complete && self.rolled_back_by.is_none()
    }
}

/// One file of a loaded change set.
#[derive(Debug, Clone)]
pub struct SetFile {
    pub system_path: String,
    pub existed: bool,
    pub sha256_before: Option<String>,
    pub sha256_after: Option<String>,
    pub size: u64,
    /// Mode, owner and extended attributes before the change; `None` if it did not exist.
    pub meta: Option<Meta>,
    pub edits: Option<Vec<EditRecord>>,
    /// The backed-up bytes (checked against `sha256_before` on load).
    pub backup: Option<Vec<u8>>,
    pub salvaged: Vec<u8>,
    pub in_place: bool,
}

/// A change set loaded for a rollback.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub info: ChangeSetInfo,
    pub version: String,
    pub targets: Value,
    pub files: Vec<SetFile>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `/etc/hosts.deny` → `etc/hosts.deny`; refuses anything that could climb out of the set.
fn mirrored(system_path: &str) -> Result<PathBuf, Error> {
    let rel: PathBuf = Path::new(system_path)
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if plain && rel.components().next().is_some() {
        Ok(rel)
    } else {
        Err(Error::Usage(format!(
            "cannot back up {system_path:?}: not a plain absolute path"
        )))
    }
}

/// Write `bytes` to `dir/name` through a temporary file and a rename, then fsync the file.
/// Only used inside a change-set directory this run created, so nothing else is replaced.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_with(dir, name, |out| out.write_all(bytes)).map(drop)
}

/// [`write_atomic`] of what `f` writes, through a buffer (a manifest of 50,000 edits is
/// 12 MB). Returns the file written, open for reading: the next save of a manifest copies
/// its edits from it.
fn write_atomic_with(
    dir: &Path,
    name: &str,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<std::fs::File, Error> {
    let path = dir.join(name);
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| io_err("create a temporary file in", dir, e))?;
    let written = {
        let mut out = std::io::BufWriter::new(temp.as_file_mut());
        f(&mut out).and_then(|()| out.flush())
    };
    written.map_err(|e| io_err("write", temp.path(), e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| io_err("sync", temp.path(), e))?;
    temp.persist(&path)
        .map_err(|e| io_err("write", &path, e.error))
}

#[cfg(test)]
mod tests;
