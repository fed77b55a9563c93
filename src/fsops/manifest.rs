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
use crate::fsops::rootfs::{self, Root};
use crate::model::tables::TABLE_LIMIT;

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
    edits: Option<Vec<EditRecord>>,
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
    let path = dir.join(name);
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| io_err("create a temporary file in", dir, e))?;
    temp.as_file_mut()
        .write_all(bytes)
        .map_err(|e| io_err("write", temp.path(), e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| io_err("sync", temp.path(), e))?;
    temp.persist(&path)
        .map_err(|e| io_err("write", &path, e.error))?;
    Ok(())
}

/// Writes one change set: backups first, then the manifest, everything fsynced before any
/// target is touched.
pub(crate) struct SetWriter {
    pub id: String,
    pub dir: PathBuf,
    backup_dir: PathBuf,
    manifest: Manifest,
}

/// A change-set ID for now: UTC `YYYYMMDDTHHMMSSZ`. Callers that name the change set before
/// writing it (the marker lines of a plan) take one early and pass it to
/// [`super::ChangeRequest::id`]; it gets `-N` only if another run took it meanwhile.
pub fn new_id() -> Result<String, Error> {
    let mut id = String::new();
    write!(id, "{}", chrono::Utc::now().format(ID_FORMAT))
        .map_err(|_| Error::Unsafe(format!("bad change-set ID format {ID_FORMAT:?}")))?;
    Ok(id)
}

/// A change-set ID for now that no change set in `backup_dir` has yet, so that the plan
/// screen names the directory the change will really go to (`-N` when another change set
/// was made in the same second). Another run may still take it before this one writes:
/// then the write adds `-N`, and the report after it names the ID used.
pub fn free_id(root: &Root, backup_dir: &Path) -> Result<String, Error> {
    let base = new_id()?;
    let Ok(dir) = super::backups(root, backup_dir, false) else {
        return Ok(base);
    };
    let taken = |id: &str| std::fs::symlink_metadata(dir.join(id)).is_ok();
    Ok((0..10_000u32)
        .map(|n| {
            if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|id| !taken(id))
        .unwrap_or(base))
}

impl SetWriter {
    /// A new, empty change-set directory. `create_dir` fails on an existing directory, so a
    /// backup is never overwritten; the ID gets `-1`, `-2`, … when taken.
    pub fn create(
        backup_dir: &Path,
        action: &str,
        targets: &Value,
        rolls_back: Option<&str>,
        base_id: Option<&str>,
    ) -> Result<SetWriter, Error> {
        let now = chrono::Utc::now();
        let base = match base_id {
            Some(id) => id.to_string(),
            None => new_id()?,
        };
        for n in 0..10_000u32 {
            let id = if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let dir = backup_dir.join(&id);
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    sys::sync_dir(backup_dir)?;
                    let manifest = Manifest {
                        format: FORMAT,
                        tool: "wrapfix".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        id: id.clone(),
                        action: action.into(),
                        time: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        complete: false,
                        rolls_back: rolls_back.map(str::to_string),
                        targets: targets.clone(),
                        files: Vec::new(),
                    };
                    return Ok(SetWriter {
                        id,
                        dir,
                        backup_dir: backup_dir.to_path_buf(),
                        manifest,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create the change-set directory", &dir, e)),
            }
        }
        Err(Error::Unsafe(format!(
            "too many change sets named {base}-N in {}",
            backup_dir.display()
        )))
    }

    /// Record a file this set will change, backing up its current bytes. Returns its index.
    pub fn add(
        &mut self,
        system_path: &str,
        snap: &Snapshot,
        after: Option<&[u8]>,
        edits: &[EditRecord],
    ) -> Result<usize, Error> {
        self.manifest.files.push(FileEntry {
            path: system_path.to_string(),
            existed: false,
            backup: None,
            sha256_before: None,
            sha256_after: None,
            size: 0,
            mode: None,
            uid: None,
            gid: None,
            xattr_names: Vec::new(),
            xattr_values: BTreeMap::new(),
            salvaged: String::new(),
            in_place: false,
            edits: Some(edits.to_vec()),
        });
        let i = self.manifest.files.len() - 1;
        self.set_before(i, snap.bytes.as_deref(), snap.meta.as_ref(), after)?;
        Ok(i)
    }

    /// (Re)write the backup of file `i`: its bytes before the change and what the change
    /// writes. Called again when the file changed underneath and the plan was rebased, and
    /// after a salvage (the old file's final bytes are the true "before").
    pub fn set_before(
        &mut self,
        i: usize,
        before: Option<&[u8]>,
        meta: Option<&Meta>,
        after: Option<&[u8]>,
    ) -> Result<(), Error> {
        let system_path = self.manifest.files[i].path.clone();
        let rel = mirrored(&system_path)?;
        let backup = match before {
            Some(bytes) => {
                // Inside the set's own directory no link is followed, and the directories
                // are made here, private.
                let rel_parent = rel.parent().unwrap_or(Path::new(""));
                let parent = Root::new(&self.dir)
                    .beneath(&rel_parent.to_string_lossy(), Some(0o700))
                    .map_err(|e| io_err("create the directory", &self.dir.join(rel_parent), e))?;
                let name = rel
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                write_atomic(&parent, &name, bytes)?;
                self.sync_up_from(&parent)?;
                Some(rel.to_string_lossy().into_owned())
            }
            None => None,
        };
        let e = &mut self.manifest.files[i];
        e.existed = before.is_some();
        e.backup = backup;
        e.sha256_before = before.map(sha256_hex);
        e.sha256_after = after.map(sha256_hex);
        e.size = before.map_or(0, |b| b.len() as u64);
        e.mode = meta.map(|m| format!("{:04o}", m.mode));
        e.uid = meta.map(|m| m.uid);
        e.gid = meta.map(|m| m.gid);
        let xattrs = meta.map(|m| m.xattrs.as_slice()).unwrap_or_default();
        e.xattr_names = xattrs.iter().map(|(n, _)| n.clone()).collect();
        e.xattr_values = xattrs.iter().map(|(n, v)| (n.clone(), hex(v))).collect();
        Ok(())
    }

    /// The edits recorded for file `i` (a rollback's: its line diff, made again after a
    /// rebase or a salvage).
    pub fn set_edits(&mut self, i: usize, edits: Vec<EditRecord>) {
        self.manifest.files[i].edits = Some(edits);
    }

    /// What file `i` holds after wrapfix wrote it, the bytes salvaged into it, and how.
    pub fn set_after(&mut self, i: usize, after: Option<&[u8]>, salvaged: &[u8], in_place: bool) {
        let e = &mut self.manifest.files[i];
        e.sha256_after = after.map(sha256_hex);
        e.salvaged = hex(salvaged);
        e.in_place = in_place;
    }

    /// fsync `dir` and each directory above it up to the backup directory: new entries must
    /// survive a crash before any target is touched.
    fn sync_up_from(&self, dir: &Path) -> Result<(), Error> {
        for d in dir.ancestors() {
            sys::sync_dir(d)?;
            if d == self.dir || !d.starts_with(&self.dir) {
                break;
            }
        }
        Ok(())
    }

    /// Write `manifest.json` (atomically: a reader sees the old or the new one, never half).
    pub fn save(&mut self, complete: bool) -> Result<(), Error> {
        self.manifest.complete = complete;
        let mut text = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| Error::Unsafe(format!("cannot encode the manifest: {e}")))?;
        text.push(b'\n');
        write_atomic(&self.dir, MANIFEST, &text)?;
        sys::sync_dir(&self.dir)
    }

    /// Remove the change set again: nothing was changed, so it must not show up as one.
    /// Best effort: a leftover set whose files all hold their "before" bytes is harmless.
    pub fn discard(self) {
        sys::remove_tree(&self.dir);
        let _ = sys::sync_dir(&self.backup_dir);
    }
}

/// `ID` or `ID-N` → sort key; `None` for names that are not change sets.
fn id_key(name: &str) -> Option<(String, u32)> {
    let (base, n) = match name.split_once('-') {
        Some((base, n)) => (base, n.parse::<u32>().ok()?),
        None => (name, 0),
    };
    chrono::NaiveDateTime::parse_from_str(base, ID_FORMAT).ok()?;
    Some((base.to_string(), n))
}

/// A file of a change set: inside it no link is followed, only a regular file is read
/// (a FIFO must not hang `--list-backups`), and at most `limit` bytes.
fn read_in_set(dir: &Path, rel: &str, limit: u64) -> io::Result<Vec<u8>> {
    let host = Root::new(dir).beneath(rel, None)?;
    rootfs::read_regular(&host, limit)
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>, Error> {
    let path = dir.join(MANIFEST);
    let text = match read_in_set(dir, MANIFEST, MANIFEST_LIMIT) {
        Ok(t) => t,
        // A run killed before its manifest was written never touched a target.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read("read", path, e)),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| Error::read("parse", path, io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Change sets in `backup_dir` (resolved like [`super::backups`]), oldest first (a missing
/// directory has none). One that cannot be read or parsed is skipped with a warning naming
/// it: a damaged change set must not block the others.
pub fn list(root: &Root, backup_dir: &Path) -> Result<Vec<ChangeSetInfo>, Error> {
    Ok(list_manifests(root, backup_dir)?
        .into_iter()
        .map(|(info, _)| info)
        .collect())
}

fn list_manifests(root: &Root, backup_dir: &Path) -> Result<Vec<(ChangeSetInfo, Manifest)>, Error> {
    let backup_dir = match super::backups(root, backup_dir, false) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read("resolve", backup_dir, e)),
    };
    let names = match sys::list_dir(&backup_dir) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read("list", &backup_dir, e)),
    };
    let mut found = Vec::new();
    for name in names {
        let Some(key) = id_key(&name.to_string_lossy()) else {
            continue;
        };
        let dir = backup_dir.join(&name);
        // A link here is not a change set wrapfix made: never followed.
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            crate::report::term::warn(&format!(
                "skipping {}: not a directory (a change set is one)",
                dir.display()
            ));
            continue;
        }
        match read_manifest(&dir) {
            Ok(Some(m)) => found.push((key, dir, m)),
            Ok(None) => {}
            Err(e) => {
                crate::report::term::warn(&format!("skipping change set {}: {e}", dir.display()))
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let undone = rolled_back_by(found.iter().map(|(_, _, m)| m));
    Ok(found
        .into_iter()
        .map(|(_, dir, m)| {
            let info = ChangeSetInfo {
                id: m.id.clone(),
                dir,
                action: m.action.clone(),
                time: m.time.clone(),
                files: m.files.iter().map(|f| f.path.clone()).collect(),
                complete: m.complete,
                rolls_back: m.rolls_back.clone(),
                rolled_back_by: undone.get(&m.id).cloned(),
            };
            (info, m)
        })
        .collect())
}

/// Remove what killed runs left in the backup directory (called under the run lock):
/// temporary files, and change-set directories without a manifest (a run killed before
/// its manifest was written never touched a target, so they hold nothing anyone needs).
pub(crate) fn clean_up(backup_dir: &Path) {
    sys::remove_stale_temps(backup_dir);
    for name in sys::list_dir(backup_dir).unwrap_or_default() {
        if id_key(&name.to_string_lossy()).is_none() {
            continue;
        }
        let dir = backup_dir.join(&name);
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        sys::remove_stale_temps(&dir);
        let manifest = std::fs::symlink_metadata(dir.join(MANIFEST));
        if manifest.is_err_and(|e| e.kind() == io::ErrorKind::NotFound) && only_backups(&dir) {
            sys::remove_tree(&dir);
        }
    }
    let _ = sys::sync_dir(backup_dir);
}

/// Whether a change-set directory holds nothing but what a run writes before its manifest
/// (`etc/hosts.allow`, `etc/hosts.deny`): anything else was put there by someone, and stays.
fn only_backups(dir: &Path) -> bool {
    let Ok(names) = sys::list_dir(dir) else {
        return false;
    };
    names.iter().all(|n| {
        n == "etc"
            && sys::list_dir(&dir.join(n)).is_ok_and(|inner| {
                inner.iter().all(|f| {
                    TABLES
                        .iter()
                        .any(|t| Path::new(t).file_name() == Some(f.as_os_str()))
                        && std::fs::symlink_metadata(dir.join(n).join(f)).is_ok_and(|m| m.is_file())
                })
            })
    })
}

/// Which change set is undone by which rollback, newest first, so that a rollback that was
/// itself rolled back does not count. Neither does one that stopped midway: running the
/// rollback again finishes it (files already restored need nothing).
fn rolled_back_by<'a>(
    sets: impl DoubleEndedIterator<Item = &'a Manifest>,
) -> BTreeMap<String, String> {
    let mut undone: BTreeMap<String, String> = BTreeMap::new();
    for m in sets.rev() {
        if let Some(target) = &m.rolls_back
            && m.complete
            && !undone.contains_key(&m.id)
        {
            undone.entry(target.clone()).or_insert_with(|| m.id.clone());
        }
    }
    undone
}

/// Load change set `id`, or the latest one that is not a rollback and was not rolled back.
/// Everything in it is checked before a rollback may use it (see [`set_file`]).
pub fn load(root: &Root, backup_dir: &Path, id: Option<&str>) -> Result<ChangeSet, Error> {
    let sets = list_manifests(root, backup_dir)?;
    let found = match id {
        Some(id) => sets
            .into_iter()
            .find(|(info, _)| info.id == id)
            .ok_or_else(|| Error::NoSuchChangeSet {
                id: id.to_string(),
                dir: backup_dir.to_path_buf(),
                list: None,
            })?,
        None => sets
            .into_iter()
            .rev()
            .find(|(info, _)| info.rolls_back.is_none() && info.rolled_back_by.is_none())
            .ok_or_else(|| Error::NothingToRollBack {
                dir: backup_dir.to_path_buf(),
            })?,
    };
    let (info, m) = found;
    let owners = Owners::load(root);
    let mut seen = Vec::new();
    let files = m
        .files
        .iter()
        .map(|f| {
            if seen.contains(&f.path) {
                return Err(untrusted(&info.dir, &f.path, "is named twice"));
            }
            seen.push(f.path.clone());
            set_file(&info.dir, f, &owners)
        })
        .collect::<Result<_, _>>()?;
    Ok(ChangeSet {
        info,
        version: m.version,
        targets: m.targets,
        files,
    })
}

/// A file of a change set, checked: one of the two tables, a backup that is a regular
/// file inside the set with the recorded hash, and metadata [`trust::check_meta`] accepts.
fn set_file(dir: &Path, f: &FileEntry, owners: &Owners) -> Result<SetFile, Error> {
    let damaged = |why: &str| {
        Error::Unsafe(format!(
            "the change set in {} is damaged: {} {why}",
            dir.display(),
            f.path
        ))
    };
    let refuse = |why: String| untrusted(dir, &f.path, &why);
    trust::check_path(&f.path).map_err(refuse)?;
    let backup = match &f.backup {
        Some(rel) => {
            let path = dir.join(mirrored(&format!("/{rel}"))?);
            let bytes = read_in_set(dir, rel, TABLE_LIMIT)
                .map_err(|e| io_err("read the backup", &path, e))?;
            if Some(sha256_hex(&bytes)) != f.sha256_before {
                return Err(damaged(
                    "has a backup whose SHA-256 does not match the manifest",
                ));
            }
            Some(bytes)
        }
        None if f.existed => return Err(damaged("existed but has no backup")),
        None => None,
    };
    let meta = match (&f.mode, f.uid, f.gid) {
        (Some(mode), Some(uid), Some(gid)) => {
            let mode = u32::from_str_radix(mode, 8).map_err(|_| damaged("has a bad mode"))?;
            let xattrs = f
                .xattr_values
                .iter()
                .map(|(n, v)| unhex(v).map(|v| (n.clone(), v)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| damaged("has a bad extended attribute value"))?;
            let meta = Meta {
                mode,
                uid,
                gid,
                xattrs,
            };
            trust::check_meta(&meta, owners).map_err(refuse)?;
            Some(meta)
        }
        _ => None,
    };
    Ok(SetFile {
        system_path: f.path.clone(),
        existed: f.existed,
        sha256_before: f.sha256_before.clone(),
        sha256_after: f.sha256_after.clone(),
        size: f.size,
        meta,
        edits: f.edits.clone(),
        backup,
        salvaged: unhex(&f.salvaged).ok_or_else(|| damaged("has bad salvaged bytes"))?,
        in_place: f.in_place,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_format_is_valid_and_sortable() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(0, 50, 12))
            .map(|t| t.and_utc())
            .unwrap();
        let mut s = String::new();
        write!(s, "{}", t.format(ID_FORMAT)).unwrap();
        assert_eq!(s, "20261124T005012Z");
        assert_eq!(
            id_key("20261124T005012Z-10"),
            Some(("20261124T005012Z".into(), 10))
        );
        assert!(id_key("20261124T005012Z-10") > id_key("20261124T005012Z-9"));
        assert_eq!(id_key(".lock"), None);
    }

    #[test]
    fn mirrors_stay_inside() {
        assert_eq!(
            mirrored("/etc/hosts.deny").unwrap(),
            PathBuf::from("etc/hosts.deny")
        );
        assert!(mirrored("/etc/../../x").is_err());
        assert!(mirrored("/").is_err());
    }
}
