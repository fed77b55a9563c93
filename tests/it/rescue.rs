//! The rescue console, as a tired admin lives it (issue 10): a root that is not a system is
//! refused, every command wrapfix prints works when pasted, and any history of fixes and
//! rollbacks unwinds to the original bytes.

use std::path::Path;

use crate::check::{system, wrapfix};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_root_without_etc_is_refused_naming_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A typo (`sysimag`), and a mount point whose disk is not mounted (empty).
    for root in [dir.path().join("sysimag"), dir.path().to_path_buf()] {
        if root.ends_with("sysimag") {
            std::fs::create_dir(&root).expect("mkdir");
        }
        for mode in [
            &["--yes", "--client", "198.51.100.7"][..],
            &["--check"],
            &["--rollback", "--yes"],
        ] {
            let out = wrapfix(&root).args(mode).output().expect("run");
            assert_eq!(out.status.code(), Some(2), "{mode:?}: {}", stderr_of(&out));
            let err = stderr_of(&out);
            assert!(err.contains("no etc/ directory"), "{err}");
            assert!(err.contains("mount"), "suggests the mount: {err}");
            assert!(out.stdout.is_empty(), "no report for a non-system");
        }
    }
}

#[test]
fn an_etc_with_nothing_a_system_has_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("etc")).expect("etc");
    std::fs::write(dir.path().join("etc/fstab"), "").expect("fstab");
    let out = wrapfix(dir.path())
        .args(["--yes", "--client", "198.51.100.7"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("hosts.allow, hosts.deny, os-release, redhat-release, passwd"),
        "{err}"
    );
    // Any one of them makes it a system: here a dangling os-release link (its /usr is a
    // file system of its own, not mounted) is enough.
    std::os::unix::fs::symlink("../usr/lib/os-release", dir.path().join("etc/os-release"))
        .expect("symlink");
    wrapfix(dir.path())
        .args(["--check", "--client", "198.51.100.7"])
        .assert()
        .code(0);
}

#[test]
fn options_a_mode_does_not_use_are_usage_errors() {
    let sys = system(None, Some("ALL: ALL\n"), None);
    for args in [
        &["--exact"][..],
        &["--exact", "--yes", "--client", "198.51.100.7"],
        &["--rollback", "--client", "198.51.100.7"],
        &["--rollback", "--yes", "--strategy", "comment"],
        &["--list-backups", "--client", "198.51.100.7"],
        &["--list-backups", "--daemon", "sshd"],
    ] {
        let out = wrapfix(sys.path()).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        // clap's messages span lines; one line is easier to match.
        let err = stderr_of(&out)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            err.contains("cannot be used with")
                || err.contains("only goes with --rollback")
                || err.contains("required arguments were not provided: --rollback"),
            "{args:?}: {err}"
        );
    }
    assert!(!sys.path().join("etc/hosts.allow").exists());
    assert!(!Path::new(&sys.path().join("var/backups/wrapfix")).exists());
}
