//! Issue 9, on the disk: a hostile or broken root must never make wrapfix write outside
//! it, trust a tampered change set, hang on a FIFO, read a device forever, or lose lines
//! another writer appended. One test per bug, named after it, each seen failing first.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support;
use crate::support::system::wrapfix;

/// Long enough for a debug build on a busy machine, short enough to call a hang a hang.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// `BASE/root` with `etc/`, and `BASE/outside` with a file in it: nothing wrapfix does to
/// the root may change `BASE/outside` or create anything else in BASE.
pub struct Sandbox {
    pub base: tempfile::TempDir,
    pub root: PathBuf,
    before: BTreeMap<PathBuf, String>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let base = tempfile::tempdir().expect("temp dir");
        let root = base.path().join("root");
        std::fs::create_dir_all(root.join("etc")).expect("etc");
        std::fs::create_dir_all(base.path().join("outside")).expect("outside");
        std::fs::write(base.path().join("outside/victim"), "precious\n").expect("victim");
        let mut s = Sandbox {
            base,
            root,
            before: BTreeMap::new(),
        };
        s.before = s.outside();
        s
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }

    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(rel)).ok()
    }

    pub fn link(&self, target: &str, rel: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        symlink(target, p).expect("symlink");
    }

    /// Everything in BASE except the root: path → digest (or link target).
    fn outside(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        digest_tree(self.base.path(), &self.root, &mut out);
        out
    }

    /// Take what is outside the root now as what must stay (after planting decoys there).
    pub fn settle(&mut self) {
        self.before = self.outside();
    }

    /// Nothing outside the root changed.
    pub fn assert_outside_untouched(&self) {
        assert_eq!(
            self.outside(),
            self.before,
            "something outside the root changed"
        );
    }

    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = wrapfix(&self.root);
        c.timeout(TIMEOUT);
        c
    }
}

pub fn digest_tree(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap_or_default();
            out.insert(p, format!("link {}", t.display()));
        } else if m.is_dir() {
            out.insert(p.clone(), "dir".into());
            digest_tree(&p, skip, out);
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            out.insert(
                p,
                format!("{:o} {}", m.mode(), hex(&Sha256::digest(&bytes))),
            );
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn sha(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// --- 1. Escapes -------------------------------------------------------------------------

#[test]
fn backups_through_a_var_link_via_a_missing_component_stay_inside_the_root() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    s.link("/nonexist/../../outside", "var");
    let out = s
        .cmd()
        .args(["--yes", "--client", "198.51.100.7"])
        .output()
        .expect("run");
    s.assert_outside_untouched();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("symbolic link"), "{}", text(&out));
    assert_eq!(s.read("etc/hosts.allow"), None, "nothing changed");
    // Told where to keep the backups instead, it repairs, and the undo finds them.
    let bk = s.root.join("bk").display().to_string();
    s.cmd()
        .args(["--yes", "--client", "198.51.100.7", "--backup-dir", &bk])
        .assert()
        .code(0);
    s.cmd()
        .args(["--rollback", "--yes", "--backup-dir", &bk])
        .assert()
        .code(0);
    assert_eq!(s.read("etc/hosts.allow"), None);
    s.assert_outside_untouched();
}

#[test]
fn a_table_link_through_a_change_set_cannot_replace_a_file_outside_the_root() {
    use wrapfix::fsops::{self, ChangeRequest, FileChange};
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    std::fs::create_dir_all(s.root.join("var/backups/wrapfix")).expect("mkdir");
    let id = "20990101T000000Z";
    s.link(
        &format!("/var/backups/wrapfix/{id}/../../../../../outside/victim"),
        "etc/hosts.allow",
    );
    let root = wrapfix::rootfs::Root::new(&s.root);
    let plan =
        |_: &str, cur: Option<&[u8]>| Ok([cur.unwrap_or_default(), b"sshd: 192.0.2.1\n"].concat());
    let req = ChangeRequest {
        root: &root,
        backup_dir: &s.root.join("var/backups/wrapfix"),
        action: "fix",
        targets_json: Value::Null,
        files: vec![FileChange::new("/etc/hosts.allow", Vec::new())],
        rebase: &plan,
        allow_in_place: false,
        id: Some(id),
        command: &fsops::plain_command,
    };
    let result = fsops::apply(&req);
    s.assert_outside_untouched();
    let err = result.expect_err("a link that leads nowhere inside the root is not written through");
    assert_eq!(err.exit().code(), 3, "{err}");
}

// --- 4, 5. Kinds of file ----------------------------------------------------------------

fn mkfifo(p: &Path) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
}

#[test]
fn a_fifo_anywhere_wrapfix_reads_does_not_hang_it() {
    let files = [
        "etc/hosts.allow",
        "etc/hosts.deny",
        "etc/os-release",
        "etc/passwd",
        "etc/banned",
        "etc/fail2ban/jail.local",
        "etc/denyhosts.conf",
    ];
    for fifo in files {
        let s = Sandbox::new();
        if fifo != "etc/hosts.deny" {
            s.write("etc/hosts.deny", "sshd: /etc/banned\nALL: ALL\n");
        }
        std::fs::create_dir_all(s.root.join("etc/fail2ban")).expect("mkdir");
        mkfifo(&s.root.join(fifo));
        let out = s.cmd().arg("--check").output().expect("run");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{fifo}: {:?} {}",
            out.status,
            text(&out)
        );
        if fifo.starts_with("etc/hosts.") {
            assert!(text(&out).contains("FIFO"), "{fifo}: {}", text(&out));
        }
    }
    // A FIFO as a manifest: listed with a warning, never read.
    let (s, set) = crate::hostile_sets::fixed();
    std::fs::remove_file(set.join("manifest.json")).expect("rm");
    mkfifo(&set.join("manifest.json"));
    let out = s.cmd().arg("--list-backups").output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = s.cmd().args(["--rollback", "--yes"]).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing else to roll back: {}",
        text(&out)
    );
}

#[test]
fn a_character_device_is_not_read_until_memory_runs_out() {
    if !nix::unistd::geteuid().is_root() {
        support::skip("root privileges", "mknod makes a /dev/zero under the root");
        return;
    }
    let s = Sandbox::new();
    std::fs::create_dir_all(s.root.join("dev")).expect("dev");
    nix::sys::stat::mknod(
        &s.root.join("dev/zero"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 5),
    )
    .expect("mknod");
    s.link("/dev/zero", "etc/hosts.deny");
    s.link("/dev/zero", "etc/os-release");
    s.link("/dev/zero", "etc/passwd");
    let out = s.cmd().arg("--check").output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("character device"), "{}", text(&out));
    let out = s
        .cmd()
        .args(["--yes", "--strategy", "comment"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn a_directory_as_hosts_allow_is_never_offered_as_a_plan() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    std::fs::create_dir(s.root.join("etc/hosts.allow")).expect("mkdir");
    let out = s
        .cmd()
        .args(["--dry-run", "--client", "198.51.100.7"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!stdout.contains("+sshd: 198.51.100.7"), "{stdout}");
    assert!(
        stdout.contains("No safe change") && stdout.contains("directory"),
        "{stdout}"
    );
    let out = s
        .cmd()
        .args(["--yes", "--client", "198.51.100.7"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(!s.root.join("var/backups/wrapfix").exists());
}

// --- 10. Concurrency --------------------------------------------------------------------

#[test]
fn the_lock_is_beside_the_tables_whatever_the_backup_dir() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    let etc = std::fs::File::open(s.root.join("etc")).expect("open etc");
    let held = nix::fcntl::Flock::lock(etc, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .expect("flock");
    let bk = s.base.path().join("root/elsewhere").display().to_string();
    let out = s
        .cmd()
        .args(["--yes", "--client", "198.51.100.7", "--backup-dir", &bk])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("busy"), "{}", text(&out));
    assert_eq!(s.read("etc/hosts.allow"), None);
    drop(held);
}

#[test]
fn two_runs_with_different_backup_dirs_never_both_claim_a_change_one_of_them_lost() {
    let mut lost = Vec::new();
    for round in 0..8 {
        let s = Sandbox::new();
        s.write("etc/hosts.deny", "ALL: ALL\n");
        let runs: Vec<_> = ["192.0.2.1", "192.0.2.2"]
            .iter()
            .enumerate()
            .map(|(i, client)| {
                let bk = s.root.join(format!("bk{i}")).display().to_string();
                std::process::Command::new(env!("CARGO_BIN_EXE_wrapfix"))
                    .args(["--root", s.root.to_str().expect("utf8"), "--color", "never"])
                    .args(["--yes", "--client", client, "--backup-dir", &bk])
                    .env_remove("SSH_CONNECTION")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let codes: Vec<Option<i32>> = runs
            .into_iter()
            .map(|mut c| c.wait().expect("wait").code())
            .collect();
        let allow = String::from_utf8(s.read("etc/hosts.allow").unwrap_or_default()).expect("utf8");
        for (client, code) in ["192.0.2.1", "192.0.2.2"].iter().zip(&codes) {
            assert!(matches!(code, Some(0 | 3)), "round {round}: {codes:?}");
            if *code == Some(0) && !allow.contains(&format!("sshd: {client}\n")) {
                lost.push(format!(
                    "round {round}: {client} exit 0 but not in {allow:?}"
                ));
            }
        }
    }
    assert!(lost.is_empty(), "{lost:#?}");
}

// --- Smaller ----------------------------------------------------------------------------

#[test]
fn a_hard_linked_table_is_reported() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    std::fs::hard_link(
        s.root.join("etc/hosts.deny"),
        s.root.join("etc/hosts.deny.orig"),
    )
    .expect("link");
    let out = s
        .cmd()
        .args(["--yes", "--strategy", "comment"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("hard link"), "{}", text(&out));
}

#[test]
fn leftovers_of_killed_runs_are_cleaned_up() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    s.write("etc/.wrapfix-AbCdEf.tmp", "half");
    s.write(
        "var/backups/wrapfix/20200101T000000Z/etc/hosts.deny",
        "ALL: ALL\n",
    );
    s.write("var/backups/wrapfix/20200101T000001Z/.wrapfix-XyZ.tmp", "{");
    s.cmd()
        .args(["--yes", "--strategy", "comment"])
        .assert()
        .code(0);
    assert!(!s.root.join("etc/.wrapfix-AbCdEf.tmp").exists());
    let sets: Vec<String> = std::fs::read_dir(s.root.join("var/backups/wrapfix"))
        .expect("backups")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(sets.len(), 1, "only the new change set is left: {sets:?}");
}

#[test]
fn the_read_only_hint_names_the_mount_point_that_holds_the_file() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    let root = s.root.display().to_string();
    let script = format!(
        "mount --bind {root} {root} && mount -o remount,bind,ro {root} && {} --root {root} --color never --yes --strategy comment",
        env!("CARGO_BIN_EXE_wrapfix")
    );
    let Some((code, out)) = crate::repair::in_private_mounts(&script) else {
        return;
    };
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains(&format!("mount -o remount,rw {root}")),
        "{out}"
    );
    s.assert_outside_untouched();
}

#[test]
fn mode_bits_of_a_new_backup_directory_are_private() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    s.cmd()
        .args(["--yes", "--strategy", "comment"])
        .assert()
        .code(0);
    let m = std::fs::metadata(s.root.join("var/backups/wrapfix")).expect("stat");
    assert_eq!(m.permissions().mode() & 0o777, 0o700);
}
