//! Issue 9, change sets as untrusted input (items 2, 3): a tampered manifest cannot make a
//! rollback write another file, set a dangerous mode or owner, or follow a link out of the
//! backup directory; an unparsable change set is skipped with a warning.

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::hostile::{Sandbox, sha, text};

/// A root locked out by `ALL: ALL`, fixed with the comment strategy: its change set.
pub fn fixed() -> (Sandbox, PathBuf) {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "ALL: ALL\n");
    s.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    s.write("etc/group", "root:x:0:\n");
    s.cmd()
        .args(["--yes", "--strategy", "comment"])
        .assert()
        .code(0);
    let sets: Vec<PathBuf> = std::fs::read_dir(s.root.join("var/backups/wrapfix"))
        .expect("backups")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert_eq!(sets.len(), 1);
    (s, sets[0].clone())
}

fn edit_manifest(set: &Path, f: impl FnOnce(&mut Value)) {
    let path = set.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    f(&mut m);
    std::fs::write(&path, serde_json::to_vec_pretty(&m).expect("encode")).expect("write");
}

#[test]
fn a_tampered_manifest_cannot_make_rollback_write_another_file() {
    let (s, set) = fixed();
    let passwd = s.read("etc/passwd").expect("passwd");
    let evil = b"root::0:0::/:/bin/sh\n";
    std::fs::write(set.join("etc/passwd"), evil).expect("write");
    edit_manifest(&set, |m| {
        let f = &mut m["files"][0];
        f["path"] = "/etc/passwd".into();
        f["backup"] = "etc/passwd".into();
        f["sha256_before"] = sha(evil).into();
        f["sha256_after"] = sha(&passwd).into();
        f["size"] = evil.len().into();
    });
    let out = s.cmd().args(["--rollback", "--yes"]).output().expect("run");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("/etc/passwd"), "{}", text(&out));
    assert_eq!(s.read("etc/passwd").expect("passwd"), passwd);
}

#[test]
fn a_tampered_manifest_cannot_set_a_setuid_mode_or_an_unknown_owner() {
    for (field, value) in [
        ("mode", Value::from("4777")),
        ("mode", Value::from("0666")),
        ("uid", Value::from(4_000_000)),
        ("gid", Value::from(4_000_000)),
    ] {
        let (s, set) = fixed();
        let deny = s.root.join("etc/hosts.deny");
        let before = (
            std::fs::read(&deny).expect("read"),
            std::fs::metadata(&deny).expect("stat"),
        );
        edit_manifest(&set, |m| m["files"][0][field] = value.clone());
        let out = s.cmd().args(["--rollback", "--yes"]).output().expect("run");
        assert_ne!(
            out.status.code(),
            Some(0),
            "{field}={value}: {}",
            text(&out)
        );
        let now = std::fs::metadata(&deny).expect("stat");
        assert_eq!(
            std::fs::read(&deny).expect("read"),
            before.0,
            "{field}={value}"
        );
        assert_eq!(
            (now.mode(), now.uid(), now.gid()),
            (before.1.mode(), before.1.uid(), before.1.gid()),
            "{field}={value}"
        );
    }
}

#[test]
fn a_symlink_inside_the_backup_directory_is_not_followed() {
    let (s, set) = fixed();
    let secret = b"root:$6$secret-hash:19000::::::\n";
    s.write("etc/shadow", secret);
    std::fs::remove_file(set.join("etc/hosts.deny")).expect("rm");
    symlink(s.root.join("etc/shadow"), set.join("etc/hosts.deny")).expect("symlink");
    edit_manifest(&set, |m| {
        m["files"][0]["sha256_before"] = sha(secret).into()
    });
    let out = s
        .cmd()
        .args(["--rollback", "--yes", "--exact"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !s.read("etc/hosts.deny")
            .expect("deny")
            .starts_with(b"root:"),
        "the link's target was restored into hosts.deny"
    );
}

#[test]
fn one_unparsable_change_set_does_not_block_list_backups_or_rollback() {
    let (s, _) = fixed();
    s.write("var/backups/wrapfix/20991231T000000Z/manifest.json", "{");
    let out = s.cmd().arg("--list-backups").output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("20991231T000000Z"),
        "a warning names it: {err}"
    );
    s.cmd().args(["--rollback", "--yes"]).assert().code(0);
    assert_eq!(s.read("etc/hosts.deny").expect("deny"), b"ALL: ALL\n");
}
