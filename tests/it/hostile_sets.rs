//! Issue 9, change sets as untrusted input (items 2, 3): a tampered manifest cannot make a
//! rollback write another file, set a dangerous mode or owner, or follow a link out of the
//! backup directory; an unparsable change set is skipped with a warning.

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::hostile::sandbox;
use crate::support::system::{System, sha256};

/// A root locked out by `ALL: ALL`, fixed with the comment strategy: its change set.
pub fn fixed() -> (System, PathBuf) {
    let s = sandbox()
        .deny("ALL: ALL\n")
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        .file("/etc/group", "root:x:0:\n");
    s.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let sets: Vec<PathBuf> = std::fs::read_dir(s.at("/var/backups/wrapfix"))
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

/// The one line a rollback of an unusable change set says.
fn unusable(set: &Path, why: &str) -> String {
    format!(
        "wrapfix: the change set in {} cannot be used: {why}. Nothing was changed\n",
        set.display()
    )
}

#[test]
fn a_tampered_manifest_cannot_make_rollback_write_another_file() {
    let (s, set) = fixed();
    let passwd = s.read("/etc/passwd");
    let evil = b"root::0:0::/:/bin/sh\n";
    std::fs::write(set.join("etc/passwd"), evil).expect("write");
    edit_manifest(&set, |m| {
        let f = &mut m["files"][0];
        f["path"] = "/etc/passwd".into();
        f["backup"] = "etc/passwd".into();
        f["sha256_before"] = sha256(evil).into();
        f["sha256_after"] = sha256(&passwd).into();
        f["size"] = evil.len().into();
    });
    s.run(["--rollback", "--yes"])
        .code(3)
        .stderr_is(&unusable(
            &set,
            "\"/etc/passwd\" is not one of the tables (/etc/hosts.allow, /etc/hosts.deny); \
             wrapfix only ever changes those",
        ))
        .stdout_empty()
        .file("/etc/passwd", &passwd);
}

#[test]
fn a_tampered_manifest_cannot_set_a_setuid_mode_or_an_unknown_owner() {
    for (field, value, why) in [
        (
            "mode",
            Value::from("4777"),
            "would get mode 4777: wrapfix never restores setuid, setgid, sticky or \
             world-writable modes",
        ),
        (
            "mode",
            Value::from("0666"),
            "would get mode 0666: wrapfix never restores setuid, setgid, sticky or \
             world-writable modes",
        ),
        (
            "uid",
            Value::from(4_000_000),
            "would be owned by 4000000:0, an owner neither the system's passwd and group files \
             nor its tables have",
        ),
        (
            "gid",
            Value::from(4_000_000),
            "would be owned by 0:4000000, an owner neither the system's passwd and group files \
             nor its tables have",
        ),
    ] {
        let (s, set) = fixed();
        let deny = s.at("/etc/hosts.deny");
        let before = (
            std::fs::read(&deny).expect("read"),
            std::fs::metadata(&deny).expect("stat"),
        );
        edit_manifest(&set, |m| m["files"][0][field] = value.clone());
        s.run(["--rollback", "--yes"])
            .code(3)
            .stderr_is(&unusable(&set, &format!("\"/etc/hosts.deny\" {why}")))
            .stdout_empty()
            .file("/etc/hosts.deny", &before.0);
        let now = std::fs::metadata(&deny).expect("stat");
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
    s.write("/etc/shadow", secret);
    let backup = set.join("etc/hosts.deny");
    std::fs::remove_file(&backup).expect("rm");
    symlink(s.at("/etc/shadow"), &backup).expect("symlink");
    edit_manifest(&set, |m| {
        m["files"][0]["sha256_before"] = sha256(secret).into()
    });
    s.run(["--rollback", "--yes", "--exact"])
        .code(3)
        .stderr_is(&format!(
            "wrapfix: cannot read the backup {b}: {b} is a symbolic link, which wrapfix does \
             not follow here\n",
            b = backup.display()
        ))
        .stdout_empty();
    assert!(
        !s.read("/etc/hosts.deny").starts_with(b"root:"),
        "the link's target was restored into hosts.deny"
    );
}

#[test]
fn one_unparsable_change_set_does_not_block_list_backups_or_rollback() {
    let (s, _) = fixed();
    let set = s.at("/var/backups/wrapfix/20991231T000000Z");
    s.write("/var/backups/wrapfix/20991231T000000Z/manifest.json", "{");
    // A warning names it.
    let warning = format!(
        "wrapfix: warning: skipping change set {set}: cannot parse {set}/manifest.json: EOF \
         while parsing an object at line 1 column 1\n",
        set = set.display()
    );
    s.run(["--list-backups"]).code(0).stderr_is(&warning);
    s.run(["--rollback", "--yes"])
        .code(0)
        .stderr_is(&warning)
        .file("/etc/hosts.deny", "ALL: ALL\n");
}
