//! Writing a change set: its ID, the backups, then the manifest, everything fsynced before any target is touched.

use std::sync::Arc;

use super::recorded::{STREAM_MARK, Stream};
use super::*;

/// Writes one change set: backups first, then the manifest, everything fsynced before any
/// target is touched.
pub(crate) struct SetWriter {
    pub id: String,
    pub dir: PathBuf,
    pub(super) backup_dir: PathBuf,
    pub(super) manifest: Manifest,
    /// The manifest last saved, and where each streamed edit list is in it: the next save
    /// copies those bytes instead of encoding the edits again.
    saved: Option<Saved>,
}

struct Saved {
    file: std::fs::File,
    lists: Vec<SavedList>,
}

/// One streamed edit list in a saved manifest: whose, and its bytes' offset and length.
struct SavedList {
    file: usize,
    stream: Arc<dyn Stream>,
    at: u64,
    len: u64,
}

impl Saved {
    /// Where `stream`, file `i`'s list, was written last time (if it was this very list).
    fn find(&self, i: usize, stream: &Arc<dyn Stream>) -> Option<&SavedList> {
        self.lists
            .iter()
            .find(|l| l.file == i && Arc::ptr_eq(&l.stream, stream))
    }
}

/// Counts the bytes written through it (where each edit list starts in the manifest).
struct Counting<'a> {
    out: &'a mut dyn Write,
    n: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
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
    let Ok(dir) = crate::fsops::backups(root, backup_dir, false) else {
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
                        saved: None,
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
        edits: EditList,
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
            edits: Some(Edits::new(edits)),
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
        // Once the backup is in place the entry must describe it, even when syncing it
        // then fails: a manifest whose SHA-256 does not match its backup is no change set.
        let (backup, synced) = match before {
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
                (
                    Some(rel.to_string_lossy().into_owned()),
                    self.sync_up_from(&parent),
                )
            }
            None => (None, Ok(())),
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
        synced
    }

    /// The edits recorded for file `i` (a rollback's: its line diff, made again after a
    /// rebase or a salvage).
    pub fn set_edits(&mut self, i: usize, edits: EditList) {
        self.manifest.files[i].edits = Some(Edits::new(edits));
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
    pub(super) fn sync_up_from(&self, dir: &Path) -> Result<(), Error> {
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
        self.save_telling(complete).map_err(|(e, _)| e)
    }

    /// [`save`](Self::save); a failure also says whether the new manifest is in place
    /// (only syncing its directory failed) or the old one still is.
    pub fn save_telling(&mut self, complete: bool) -> Result<(), (Error, bool)> {
        self.manifest.complete = complete;
        // Encoding a manifest cannot fail (plain data, string keys): an error here is the
        // file's, and says so. Each streamed edit list goes where its mark is, in the order
        // of the files; without one, the manifest is encoded straight into the file (a
        // rollback's records of 50,000 edits are 12 MB).
        let streams: Vec<(usize, Arc<dyn Stream>)> = (self.manifest.files.iter().enumerate())
            .filter_map(|(i, f)| Some((i, f.edits.as_ref()?.streamed()?.clone())))
            .collect();
        if streams.is_empty() {
            write_atomic_with(&self.dir, MANIFEST, |out| {
                serde_json::to_writer_pretty(&mut *out, &self.manifest)?;
                out.write_all(b"\n")
            })
            .map_err(|e| (e, false))?;
            return sys::sync_dir(&self.dir).map_err(|e| (e, true));
        }
        let text = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| (io_err("encode", &self.dir.join(MANIFEST), e.into()), false))?;
        let mut lists = Vec::with_capacity(streams.len());
        let saved = self.saved.as_ref();
        let file = write_atomic_with(&self.dir, MANIFEST, |out| {
            let mut out = Counting { out, n: 0 };
            let mut rest = &text[..];
            for (i, stream) in streams {
                let Some(at) = memchr::memmem::find(rest, STREAM_MARK.as_bytes()) else {
                    return Err(io::Error::other("a streamed edit list has no place"));
                };
                out.write_all(&rest[..at])?;
                rest = &rest[at + STREAM_MARK.len()..];
                let start = out.n;
                match saved.and_then(|s| Some((s, s.find(i, &stream)?))) {
                    Some((s, list)) => copy_range(&s.file, list.at, list.len, &mut out)?,
                    None => stream.write_to(&mut out)?,
                }
                lists.push(SavedList {
                    file: i,
                    stream,
                    at: start,
                    len: out.n - start,
                });
            }
            out.write_all(rest)?;
            out.write_all(b"\n")
        })
        .map_err(|e| (e, false))?;
        self.saved = Some(Saved { file, lists });
        sys::sync_dir(&self.dir).map_err(|e| (e, true))
    }

    /// Remove the change set again: nothing was changed, so it must not show up as one.
    /// Best effort: a leftover set whose files all hold their "before" bytes is harmless.
    pub fn discard(self) {
        sys::remove_tree(&self.dir);
        let _ = sys::sync_dir(&self.backup_dir);
    }
}

/// Copy `len` bytes at offset `at` of `file` to `out`, all of them or an error.
fn copy_range(file: &std::fs::File, at: u64, len: u64, out: &mut dyn Write) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < len {
        let want = buf
            .len()
            .min(usize::try_from(len - done).unwrap_or(usize::MAX));
        file.read_exact_at(&mut buf[..want], at + done)?;
        out.write_all(&buf[..want])?;
        done += want as u64;
    }
    Ok(())
}
