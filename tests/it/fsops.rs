//! The write path (docs/write-protocol.md) through the library API, on scratch roots: backups, atomic
//! writes with metadata, symlinks, missing files, the run lock, rebase on concurrent change,
//! rollback (exact, revert, refusal) and a fail2ban-style appender racing fixes.
//! Fault injection with strace lives in `fsops_faults`.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};
use wrapfix::error::Error;
use wrapfix::fsops::{self, Applied, ChangeRequest, FileChange, Shared};
use wrapfix::model::bytes::Bytes;
use wrapfix::model::edit::{EditRecord, RecordKind};
use wrapfix::rootfs::Root;

use crate::support;
use crate::support::system::System;

/// What a test's plan makes of a file's current bytes ([`fsops::Rebase`], unshared).
pub type Plan<'a> = &'a dyn Fn(&str, Option<&[u8]>) -> Result<Vec<u8>, String>;

/// A scratch system: `ROOT/etc`, and a backup directory inside the root as by default.
pub struct Scratch {
    /// Deleted on drop, unless this is a view of another process's scratch root.
    _sys: Option<System>,
    pub base: PathBuf,
    pub root: Root,
    pub backup: PathBuf,
}

impl Scratch {
    /// A [`System::bare`] root with an empty `etc/`.
    pub fn new() -> Scratch {
        let sys = System::bare().dir("/etc");
        let mut s = Scratch::at(sys.path().to_path_buf());
        s._sys = Some(sys);
        s
    }

    /// A scratch root made elsewhere (the fault-injection driver works on its parent's).
    pub fn at(base: PathBuf) -> Scratch {
        let root = Root::new(&base);
        let backup = base.join("var/backups/wrapfix");
        Scratch {
            _sys: None,
            base,
            root,
            backup,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel.trim_start_matches('/'))
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        std::fs::write(self.path(rel), bytes).expect("write");
    }

    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        match std::fs::read(self.path(rel)) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("read {rel}: {e}"),
        }
    }

    /// Names of change-set directories (anything but the lock); none when the backup
    /// directory does not exist. Any other error reading it fails the test.
    pub fn change_sets(&self) -> Vec<String> {
        let entries = match std::fs::read_dir(&self.backup) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("read {}: {e}", self.backup.display()),
        };
        let mut names: Vec<String> = entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        names.sort();
        names
    }

    /// Leftover temporary files next to the targets.
    pub fn strays(&self) -> Vec<String> {
        std::fs::read_dir(self.path("etc"))
            .expect("etc")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".wrapfix-"))
            .collect()
    }

    pub fn apply(&self, files: &[&str], rebase: Plan) -> Result<Option<Applied>, Error> {
        self.apply_in_place(files, rebase, false)
    }

    pub fn apply_in_place(
        &self,
        files: &[&str],
        rebase: Plan,
        allow_in_place: bool,
    ) -> Result<Option<Applied>, Error> {
        let rebase = |path: &str, current: Option<&[u8]>| rebase(path, current).map(Shared::new);
        let req = ChangeRequest {
            root: &self.root,
            backup_dir: &self.backup,
            action: "fix",
            targets_json: json!([{"daemon": "sshd", "client": "192.0.2.1"}]),
            files: files
                .iter()
                .map(|p| FileChange {
                    system_path: p.to_string(),
                    edits: vec![test_edit(p)].into(),
                    create_like: Some("/etc/hosts.deny".into()),
                })
                .collect(),
            rebase: &rebase,
            allow_in_place,
            id: None,
            command: &fsops::plain_command,
        };
        fsops::apply(&req)
    }

    /// Roll back change set `id` (latest when None).
    pub fn rollback(
        &self,
        id: Option<&str>,
        exact: bool,
        revert: fsops::Revert,
    ) -> Result<Option<Applied>, Error> {
        let set = fsops::load(&self.root, &self.backup, id)?;
        fsops::rollback(&set, &self.root, &self.backup, exact, revert)
    }
}

/// A plan: replace the first `from` by `to` (the shape of the `comment` strategy).
pub fn replace(
    from: &'static [u8],
    to: &'static [u8],
) -> impl Fn(&str, Option<&[u8]>) -> Result<Vec<u8>, String> {
    move |_, cur| {
        let cur = cur.unwrap_or_default();
        let at = find(cur, from)
            .ok_or_else(|| format!("{} not found", String::from_utf8_lossy(from)))?;
        Ok([&cur[..at], to, &cur[at + from.len()..]].concat())
    }
}

/// The edit record a test change set keeps for `path` (stored and shown, never applied by
/// these tests' own rebase and revert closures).
fn test_edit(path: &str) -> EditRecord {
    EditRecord {
        kind: RecordKind::Insert,
        line: 1,
        before: Bytes::default(),
        after: Bytes(format!("{path}\n").into_bytes()),
        next: None,
        why: "test-edit".into(),
    }
}

/// What a revert closure gives back.
type Reverted = Result<Vec<u8>, String>;

/// Revert for [`replace`]: put `from` back where `to` is.
pub fn unreplace(
    from: &'static [u8],
    to: &'static [u8],
) -> impl Fn(&str, &[u8], Option<&[EditRecord]>) -> Reverted {
    move |_, cur, _| {
        let at = find(cur, to).ok_or("wrapfix's line is gone")?;
        Ok([&cur[..at], from, &cur[at + to.len()..]].concat())
    }
}

/// A plan: the file gets `line` at the end (created when missing), after a newline if the
/// last line lacks one.
pub fn append_line(line: &'static [u8]) -> impl Fn(&str, Option<&[u8]>) -> Result<Vec<u8>, String> {
    move |_, cur| {
        let mut out = cur.unwrap_or_default().to_vec();
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(line);
        Ok(out)
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn no_revert(_: &str, _: &[u8], _: Option<&[EditRecord]>) -> Result<Vec<u8>, String> {
    panic!("revert must not be called when the file still holds what wrapfix wrote")
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn xattr_of(path: &Path, name: &str) -> Option<Vec<u8>> {
    xattr::get(path, name).expect("getxattr")
}

/// Mode, owner and the test attribute.
fn meta(path: &Path) -> (u32, u32, u32, Option<Vec<u8>>) {
    let m = std::fs::metadata(path).expect("metadata");
    (
        m.mode() & 0o7777,
        m.uid(),
        m.gid(),
        xattr_of(path, "user.wrapfix-test"),
    )
}

const ODD: &[u8] = b"# caf\xe9 \xff\xfe\r\nALL: ALL\r\nsshd: 10.0.0.1"; // CRLF, non-UTF-8, no final newline

#[test]
fn apply_then_rollback_restores_bytes_and_metadata_exactly() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", ODD);
    let deny = s.path("etc/hosts.deny");
    std::fs::set_permissions(&deny, std::fs::Permissions::from_mode(0o640)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&deny, Some(1234), Some(1234)).unwrap();
    } else {
        support::skip(
            "root privileges",
            "part of the test: the owner 1234:1234 is not tested",
        );
    }
    xattr::set(&deny, "user.wrapfix-test", b"v\x00\xff")
        .expect("user xattrs on the temp dir's filesystem");
    let before = meta(&deny);

    let applied = s
        .apply(&["/etc/hosts.deny"], &replace(b"ALL: ALL", b"#ALL: ALL"))
        .unwrap()
        .unwrap();
    let new = b"# caf\xe9 \xff\xfe\r\n#ALL: ALL\r\nsshd: 10.0.0.1".to_vec();
    assert_eq!(s.read("etc/hosts.deny").unwrap(), new);
    assert_eq!(
        meta(&deny),
        before,
        "mode, owner and xattrs carried over to the new file"
    );
    assert!(applied.files[0].existed && applied.files[0].salvaged.is_empty());

    // The backup: mirrored path, old bytes, a manifest naming everything.
    assert_eq!(
        std::fs::read(applied.dir.join("etc/hosts.deny")).unwrap(),
        ODD
    );
    let m: Value =
        serde_json::from_slice(&std::fs::read(applied.dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["action"], "fix");
    assert_eq!(m["complete"], true);
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["targets"][0]["client"], "192.0.2.1");
    let f = &m["files"][0];
    assert_eq!(f["path"], "/etc/hosts.deny");
    assert_eq!(f["existed"], true);
    assert_eq!(f["mode"], "0640");
    assert_eq!(f["size"], ODD.len());
    assert_eq!(f["xattr_names"], json!(["user.wrapfix-test"]));
    assert_eq!(
        f["edits"],
        json!([{"kind": "insert", "line": 1, "before": "", "after": "/etc/hosts.deny\n", "why": "test-edit"}])
    );
    assert_eq!(f["sha256_before"].as_str().unwrap().len(), 64);
    if is_root() {
        assert_eq!(
            (f["uid"].as_u64(), f["gid"].as_u64()),
            (Some(1234), Some(1234))
        );
    }
    let mode = std::fs::metadata(&applied.dir).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700, "backups are private");

    // Change the metadata after the fix: rollback restores the recorded metadata too.
    std::fs::set_permissions(&deny, std::fs::Permissions::from_mode(0o600)).unwrap();
    xattr::set(&deny, "user.wrapfix-test", b"changed").unwrap();
    let undone = s.rollback(None, false, &no_revert).unwrap().unwrap();
    assert_eq!(s.read("etc/hosts.deny").unwrap(), ODD);
    assert_eq!(meta(&deny), before);

    let sets = fsops::list(&s.root, &s.backup).unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0].rolled_back_by.as_deref(), Some(undone.id.as_str()));
    assert_eq!(sets[1].action, "rollback");
    assert_eq!(sets[1].rolls_back.as_deref(), Some(applied.id.as_str()));
    assert!(s.strays().is_empty());
}

#[test]
fn symlinked_target_is_edited_through_its_link() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("etc/alt")).unwrap();
    s.write("etc/alt/deny", b"ALL: ALL\n");
    symlink("/etc/alt/deny", s.path("etc/hosts.deny")).unwrap();
    let link = s.path("etc/hosts.deny");

    let applied = s
        .apply(&["/etc/hosts.deny"], &replace(b"ALL: ALL", b"#ALL: ALL"))
        .unwrap()
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    assert_eq!(s.read("etc/alt/deny").unwrap(), b"#ALL: ALL\n");
    assert_eq!(
        std::fs::read(applied.dir.join("etc/hosts.deny")).unwrap(),
        b"ALL: ALL\n"
    );

    s.rollback(None, false, &no_revert).unwrap().unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(s.read("etc/alt/deny").unwrap(), b"ALL: ALL\n");
}

#[test]
fn missing_file_is_created_like_its_sibling_then_removed_by_rollback() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    std::fs::set_permissions(
        s.path("etc/hosts.deny"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();

    let applied = s
        .apply(&["/etc/hosts.allow"], &append_line(b"sshd: 192.0.2.1\n"))
        .unwrap()
        .unwrap();
    assert!(!applied.files[0].existed);
    assert_eq!(s.read("etc/hosts.allow").unwrap(), b"sshd: 192.0.2.1\n");
    let m = std::fs::metadata(s.path("etc/hosts.allow")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640, "mode of the sibling hosts.deny");
    let set = fsops::load(&s.root, &s.backup, None).unwrap();
    assert!(!set.files[0].existed && set.files[0].backup.is_none());
    assert!(
        !applied.dir.join("etc/hosts.allow").exists(),
        "nothing to back up"
    );

    let undone = s.rollback(None, false, &no_revert).unwrap().unwrap();
    assert!(undone.files[0].removed);
    assert_eq!(s.read("etc/hosts.allow"), None);
    assert!(s.strays().is_empty());
}

#[test]
fn missing_file_without_sibling_is_created_0644_root() {
    let s = Scratch::new();
    s.apply(&["/etc/hosts.allow"], &append_line(b"sshd: 192.0.2.1\n"))
        .unwrap()
        .unwrap();
    let m = std::fs::metadata(s.path("etc/hosts.allow")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o644);
    if is_root() {
        assert_eq!((m.uid(), m.gid()), (0, 0));
    }
}

#[test]
fn a_backup_is_never_overwritten_same_second_gets_a_suffix() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    // Directories named after this second and the next two: whatever second apply() sees,
    // its ID is taken and it must pick `-1` without touching what is there.
    std::fs::create_dir_all(&s.backup).unwrap();
    let now = chrono::Utc::now();
    let taken: Vec<String> = (0..3)
        .map(|i| {
            (now + chrono::Duration::seconds(i))
                .format("%Y%m%dT%H%M%SZ")
                .to_string()
        })
        .collect();
    for id in &taken {
        std::fs::create_dir(s.backup.join(id)).unwrap();
        std::fs::write(s.backup.join(id).join("keep"), id).unwrap();
    }
    let a = s
        .apply(&["/etc/hosts.deny"], &append_line(b"# one\n"))
        .unwrap()
        .unwrap();
    let b = s
        .apply(&["/etc/hosts.deny"], &append_line(b"# two\n"))
        .unwrap()
        .unwrap();
    let (base, n) = a.id.split_once('-').expect("a suffixed ID");
    assert!(
        taken.iter().any(|t| t == base),
        "{} is one of {taken:?}",
        a.id
    );
    assert_eq!(n, "1");
    assert_ne!(a.id, b.id);
    for id in &taken {
        assert_eq!(
            std::fs::read_to_string(s.backup.join(id).join("keep")).unwrap(),
            *id
        );
    }
    // The first change set's backup is intact after the second one.
    assert_eq!(
        std::fs::read(a.dir.join("etc/hosts.deny")).unwrap(),
        b"ALL: ALL\n"
    );
    assert_eq!(
        std::fs::read(b.dir.join("etc/hosts.deny")).unwrap(),
        b"ALL: ALL\n# one\n"
    );
}

#[test]
fn a_held_lock_means_busy_and_nothing_changes() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    // The lock is on the directory that holds the tables (issue 9 item 10).
    let file = std::fs::File::open(s.path("etc")).unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let err = s
        .apply(&["/etc/hosts.deny"], &append_line(b"# x\n"))
        .unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    assert_eq!(err.exit().code(), 3);
    assert!(
        err.to_string().contains("another wrapfix run is busy")
            && err.to_string().contains("try again later"),
        "{err}"
    );
    assert_eq!(s.read("etc/hosts.deny").unwrap(), b"ALL: ALL\n");
    assert!(s.change_sets().is_empty());
    drop(held);
    assert!(
        s.apply(&["/etc/hosts.deny"], &append_line(b"# x\n"))
            .unwrap()
            .is_some()
    );
}

#[test]
fn nothing_to_do_writes_no_backup() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"#ALL: ALL\n");
    let same = |_: &str, cur: Option<&[u8]>| Ok(cur.unwrap_or_default().to_vec());
    assert!(
        s.apply(&["/etc/hosts.deny", "/etc/hosts.allow"], &same)
            .unwrap()
            .is_none()
    );
    assert!(s.change_sets().is_empty());
    assert_eq!(
        s.read("etc/hosts.allow"),
        None,
        "an absent file planned empty stays absent"
    );
}

#[test]
fn a_concurrent_rewrite_is_rebased_or_refused() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    let path = s.path("etc/hosts.deny");
    let calls = AtomicUsize::new(0);
    // Another writer rewrites the file (SSHGuard style: new file, rename) right after
    // wrapfix read it (during the first plan).
    let racing = |p: &str, cur: Option<&[u8]>| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            rewrite(&path, b"ALL: 192.0.2.7\nALL: ALL\n");
        }
        replace(b"ALL: ALL", b"#ALL: ALL")(p, cur)
    };
    let applied = s.apply(&["/etc/hosts.deny"], &racing).unwrap().unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "planned again on the new bytes"
    );
    assert_eq!(
        s.read("etc/hosts.deny").unwrap(),
        b"ALL: 192.0.2.7\n#ALL: ALL\n"
    );
    // The backup holds what was really replaced, the other writer's line included.
    assert_eq!(
        std::fs::read(applied.dir.join("etc/hosts.deny")).unwrap(),
        b"ALL: 192.0.2.7\nALL: ALL\n"
    );

    // This time the other writer removes the line the plan needs: refused, nothing changed.
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    let before_sets = s.change_sets();
    let calls = AtomicUsize::new(0);
    let breaking = |p: &str, cur: Option<&[u8]>| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            rewrite(&path, b"sshd: ALL\n");
        }
        replace(b"ALL: ALL", b"#ALL: ALL")(p, cur)
    };
    let err = s.apply(&["/etc/hosts.deny"], &breaking).unwrap_err();
    assert_eq!(err.exit().code(), 3);
    assert!(
        err.to_string()
            .contains("no longer applies to /etc/hosts.deny"),
        "{err}"
    );
    assert!(err.to_string().contains("Nothing was changed"), "{err}");
    assert_eq!(s.read("etc/hosts.deny").unwrap(), b"sshd: ALL\n");
    assert_eq!(
        s.change_sets(),
        before_sets,
        "the unused change set was removed"
    );
    assert!(s.strays().is_empty());
}

#[test]
fn lines_appended_while_writing_are_salvaged() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL");
    let path = s.path("etc/hosts.deny");
    let calls = AtomicUsize::new(0);
    // fail2ban appends to the old file after wrapfix read it: no need to plan again, the
    // line is carried over into the new file, on a line of its own.
    let racing = |p: &str, cur: Option<&[u8]>| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            append_to(&path, b"ALL: 192.0.2.7\n");
        }
        replace(b"ALL: ALL", b"#ALL: ALL")(p, cur)
    };
    let applied = s.apply(&["/etc/hosts.deny"], &racing).unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(applied.files[0].salvaged, b"ALL: 192.0.2.7\n");
    assert_eq!(
        s.read("etc/hosts.deny").unwrap(),
        b"#ALL: ALL\nALL: 192.0.2.7\n"
    );
    // The backup is the old file's final content, so an exact rollback keeps the ban.
    assert_eq!(
        std::fs::read(applied.dir.join("etc/hosts.deny")).unwrap(),
        b"ALL: ALLALL: 192.0.2.7\n"
    );
    let set = fsops::load(&s.root, &s.backup, None).unwrap();
    assert_eq!(set.files[0].salvaged, b"ALL: 192.0.2.7\n");
    s.rollback(None, false, &no_revert).unwrap().unwrap();
    assert_eq!(
        s.read("etc/hosts.deny").unwrap(),
        b"ALL: ALLALL: 192.0.2.7\n"
    );
}

/// Replace a file the way SSHGuard and `sed -i` do: write a new one, rename it over.
fn rewrite(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("sshguard");
    std::fs::write(&tmp, bytes).expect("write the new version");
    std::fs::rename(&tmp, path).expect("rename it over");
}

fn append_to(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open for appending");
    f.write_all(bytes).expect("append");
}

/// [`append_to`] for the appender thread, which must not panic when the test ends first.
fn try_append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(bytes)
}

#[test]
fn revert_keeps_later_lines_refuses_when_it_cannot_and_exact_overrides() {
    let s = Scratch::new();
    let deny = s.path("etc/hosts.deny");
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    let fix = replace(b"ALL: ALL", b"#ALL: ALL");
    let undo = unreplace(b"ALL: ALL", b"#ALL: ALL");

    // A ban appended after the fix survives the rollback.
    s.apply(&["/etc/hosts.deny"], &fix).unwrap().unwrap();
    append_to(&deny, b"ALL: 192.0.2.9\n");
    s.rollback(None, false, &undo).unwrap().unwrap();
    assert_eq!(
        s.read("etc/hosts.deny").unwrap(),
        b"ALL: ALL\nALL: 192.0.2.9\n"
    );

    // Someone removed wrapfix's line: the revert cannot work, so the rollback refuses.
    let applied = s.apply(&["/etc/hosts.deny"], &fix).unwrap().unwrap();
    s.write("etc/hosts.deny", b"ALL: 192.0.2.9\n");
    let sets = s.change_sets();
    let err = s.rollback(None, false, &undo).unwrap_err();
    assert_eq!(err.exit().code(), 3);
    let msg = err.to_string();
    assert!(
        msg.contains("/etc/hosts.deny") && msg.contains("--exact") && msg.contains(&applied.id),
        "{msg}"
    );
    assert_eq!(s.read("etc/hosts.deny").unwrap(), b"ALL: 192.0.2.9\n");
    assert_eq!(s.change_sets(), sets);

    // --exact restores the backup byte for byte.
    s.rollback(None, true, &undo).unwrap().unwrap();
    assert_eq!(
        s.read("etc/hosts.deny").unwrap(),
        b"ALL: ALL\nALL: 192.0.2.9\n"
    );
}

#[test]
fn a_rollback_is_a_change_set_that_can_be_undone() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    let fix = s
        .apply(&["/etc/hosts.deny"], &replace(b"ALL: ALL", b"#ALL: ALL"))
        .unwrap()
        .unwrap();
    let undo = s.rollback(None, false, &no_revert).unwrap().unwrap();
    assert_eq!(
        std::fs::read(undo.dir.join("etc/hosts.deny")).unwrap(),
        b"#ALL: ALL\n",
        "pre-rollback bytes kept"
    );

    let err = s.rollback(None, false, &no_revert).unwrap_err();
    assert_eq!(
        err.exit().code(),
        2,
        "nothing to roll back is a usage error: {err}"
    );
    let err = s.rollback(Some(&fix.id), false, &no_revert).unwrap_err();
    assert_eq!(err.exit().code(), 2, "{err}");
    assert!(err.to_string().contains(&undo.id), "{err}");
    let err = s
        .rollback(Some("20000101T000000Z"), false, &no_revert)
        .unwrap_err();
    assert_eq!(err.exit().code(), 2, "{err}");

    // Undo the undo: the fix is back in effect and can be rolled back again.
    s.rollback(Some(&undo.id), false, &no_revert)
        .unwrap()
        .unwrap();
    assert_eq!(s.read("etc/hosts.deny").unwrap(), b"#ALL: ALL\n");
    let sets = fsops::list(&s.root, &s.backup).unwrap();
    assert_eq!(sets.len(), 3);
    assert_eq!(sets[0].rolled_back_by, None, "its rollback was undone");
    assert!(sets[1].rolled_back_by.is_some());
    assert_eq!(
        fsops::load(&s.root, &s.backup, None).unwrap().info.id,
        fix.id
    );
}

#[test]
fn stale_temp_files_of_a_killed_run_are_removed() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    s.write("etc/.wrapfix-AbCdEf.tmp", b"half");
    s.write("etc/.wrapfix-notes", b"not ours: no .tmp suffix");
    s.apply(&["/etc/hosts.deny"], &append_line(b"# x\n"))
        .unwrap()
        .unwrap();
    assert_eq!(s.strays(), vec![".wrapfix-notes".to_string()]);
}

#[test]
fn an_immutable_file_is_refused_with_advice_and_nothing_changes() {
    if !is_root() {
        support::skip("root privileges", "chattr +i needs root");
        return;
    }
    if !support::require_tool("chattr", "immutable-file test") {
        return;
    }
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"ALL: ALL\n");
    let deny = s.path("etc/hosts.deny");
    let set = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&deny)
        .status()
        .unwrap();
    if !set.success() {
        support::skip(
            "chattr +i on the temp file system",
            "makes the table immutable",
        );
        return;
    }
    let err = s.apply(&["/etc/hosts.deny"], &append_line(b"# x\n"));
    std::process::Command::new("chattr")
        .arg("-i")
        .arg(&deny)
        .status()
        .unwrap();
    let err = err.unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.exit().code(), 3);
    assert!(
        msg.contains("cannot replace") && msg.contains(&deny.display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("chattr -i") && msg.contains("Nothing was changed"),
        "{msg}"
    );
    assert_eq!(s.read("etc/hosts.deny").unwrap(), b"ALL: ALL\n");
    assert!(s.change_sets().is_empty() && s.strays().is_empty());
}

#[test]
fn a_fail2ban_style_appender_loses_no_line() {
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"# hardening\nALL: ALL\n");
    let deny = s.path("etc/hosts.deny");
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let stop = Arc::clone(&stop);
        let deny = deny.clone();
        // fail2ban's hostsdeny action: `printf 'ALL: %s\n' <ip> >> /etc/hosts.deny`, i.e.
        // open O_APPEND, one write, close; here every millisecond.
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                if try_append(
                    &deny,
                    format!("ALL: 198.18.{}.{}\n", n / 256, n % 256).as_bytes(),
                )
                .is_err()
                {
                    break;
                }
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            n
        })
    };
    let fix = replace(b"\nALL: ALL\n", b"\n#ALL: ALL\n");
    let undo = unreplace(b"\nALL: ALL\n", b"\n#ALL: ALL\n");
    let mut salvaged = 0;
    for _ in 0..25 {
        let a = s.apply(&["/etc/hosts.deny"], &fix).unwrap().unwrap();
        let r = s.rollback(None, false, &undo).unwrap().unwrap();
        salvaged += a.files[0].salvaged.len() + r.files[0].salvaged.len();
    }
    stop.store(true, Ordering::SeqCst);
    let written = appender.join().unwrap();
    let text = String::from_utf8(s.read("etc/hosts.deny").unwrap()).unwrap();
    assert!(text.starts_with("# hardening\nALL: ALL\n"), "{text}");
    for n in 0..written {
        let line = format!("ALL: 198.18.{}.{}", n / 256, n % 256);
        let count = text.lines().filter(|l| *l == line).count();
        assert_eq!(count, 1, "{line} appears {count} times");
    }
    assert_eq!(
        text.lines().count(),
        2 + written as usize,
        "no other lines: {text}"
    );
    eprintln!(
        "appender wrote {written} lines during 25 fix/rollback rounds; {salvaged} bytes were salvaged"
    );
}

#[test]
fn a_rollback_with_nothing_left_to_do_still_marks_its_change_set() {
    let s = Scratch::new();
    assert!(
        fsops::list(&s.root, &s.backup).unwrap().is_empty(),
        "no backup directory yet"
    );
    let err = s.rollback(None, false, &no_revert).unwrap_err();
    assert_eq!(err.exit().code(), 2, "{err}");

    s.write("etc/hosts.deny", b"ALL: ALL\n");
    let first = s
        .apply(&["/etc/hosts.deny"], &append_line(b"# one\n"))
        .unwrap()
        .unwrap();
    let second = s
        .apply(&["/etc/hosts.deny"], &append_line(b"# two\n"))
        .unwrap()
        .unwrap();
    // Someone else already put the file back as it was before the second change.
    s.write("etc/hosts.deny", b"ALL: ALL\n# one\n");
    assert!(s.rollback(None, false, &no_revert).unwrap().is_none());
    let sets = fsops::list(&s.root, &s.backup).unwrap();
    let marked = sets.iter().find(|i| i.id == second.id).unwrap();
    assert!(marked.rolled_back_by.is_some(), "{sets:?}");
    // So the next rollback moves on to the first change set.
    assert_eq!(
        fsops::load(&s.root, &s.backup, None).unwrap().info.id,
        first.id
    );
    s.rollback(None, false, &no_revert).unwrap().unwrap();
    assert_eq!(s.read("etc/hosts.deny").unwrap(), b"ALL: ALL\n");
}
