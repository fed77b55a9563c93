//! Issue 9, on the disk: a hostile or broken root must never make wrapfix write outside
//! it, trust a tampered change set, hang on a FIFO, read a device forever, or lose lines
//! another writer appended. One test per bug, named after it, each seen failing first.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support;
use crate::support::system::System;

/// Long enough for a debug build on a busy machine, short enough to call a hang a hang.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A [`System::fenced`] root whose runs fail the test if they hang.
pub fn sandbox() -> System {
    System::fenced().timeout(TIMEOUT)
}

// --- 1. Escapes -------------------------------------------------------------------------

#[test]
fn backups_through_a_var_link_via_a_missing_component_stay_inside_the_root() {
    let s = sandbox()
        .deny("ALL: ALL\n")
        .link("/var", "/nonexist/../../outside");
    let root = s.path().display();
    let refused = s.run(["--yes", "--client", "198.51.100.7"]);
    s.assert_outside_untouched();
    refused
        .code(3)
        .stderr_is(&format!(
            "wrapfix: cannot create the backup directory {root}/var/backups/wrapfix: \
             {root}/var is a symbolic link to /nonexist/../../outside, which leads to nothing \
             inside the root; fix or remove the link. Nothing was changed (give another place \
             with --backup-dir DIR).\n"
        ))
        .no_file("/etc/hosts.allow");
    // Told where to keep the backups instead, it repairs, and the undo finds them.
    let bk = s.at("/bk").display().to_string();
    s.run(["--yes", "--client", "198.51.100.7", "--backup-dir", &bk])
        .code(0)
        .stderr_empty();
    s.run(["--rollback", "--yes", "--backup-dir", &bk])
        .code(0)
        .stderr_empty()
        .no_file("/etc/hosts.allow");
    s.assert_outside_untouched();
}

#[test]
fn a_table_link_through_a_change_set_cannot_replace_a_file_outside_the_root() {
    use wrapfix::fsops::{self, ChangeRequest, FileChange};
    let id = "20990101T000000Z";
    let s = sandbox()
        .deny("ALL: ALL\n")
        .dir("/var/backups/wrapfix")
        .link(
            "/etc/hosts.allow",
            &format!("/var/backups/wrapfix/{id}/../../../../../outside/victim"),
        );
    let root = wrapfix::rootfs::Root::new(s.path());
    let plan = |_: &str, cur: Option<&[u8]>| {
        Ok(wrapfix::fsops::Shared::new(
            [cur.unwrap_or_default(), b"sshd: 192.0.2.1\n"].concat(),
        ))
    };
    let req = ChangeRequest {
        root: &root,
        backup_dir: &s.at("/var/backups/wrapfix"),
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
        "/etc/hosts.allow",
        "/etc/hosts.deny",
        "/etc/os-release",
        "/etc/passwd",
        "/etc/banned",
        "/etc/fail2ban/jail.local",
        "/etc/denyhosts.conf",
    ];
    for fifo in files {
        let s = sandbox().dir("/etc/fail2ban");
        if fifo != "/etc/hosts.deny" {
            s.write("/etc/hosts.deny", "sshd: /etc/banned\nALL: ALL\n");
        }
        mkfifo(&s.at(fifo));
        // Locked out by hosts.deny (or by a hosts.deny that cannot be read), said at once.
        let check = s.run(["--check"]).code(1).stderr_empty();
        if fifo.starts_with("/etc/hosts.") {
            check.stdout_has("cannot be read (it is a FIFO (named pipe), not a regular file)");
        }
    }
    // A FIFO as a manifest: listed with a warning, never read.
    let (s, set) = crate::hostile_sets::fixed();
    std::fs::remove_file(set.join("manifest.json")).expect("rm");
    mkfifo(&set.join("manifest.json"));
    let warning = format!(
        "wrapfix: warning: skipping change set {set}: cannot read {set}/manifest.json: \
         it is a FIFO (named pipe), not a regular file\n",
        set = set.display()
    );
    s.run(["--list-backups"]).code(0).stderr_is(&warning);
    // Nothing else to roll back.
    s.run(["--rollback", "--yes"]).code(2).stderr_is(&format!(
        "{warning}wrapfix: nothing to roll back: no change set in {}/var/backups/wrapfix is \
         still in effect\n",
        s.path().display()
    ));
}

#[test]
fn a_character_device_is_not_read_until_memory_runs_out() {
    if !nix::unistd::geteuid().is_root() {
        support::skip("root privileges", "mknod makes a /dev/zero under the root");
        return;
    }
    let s = sandbox().dir("/dev");
    nix::sys::stat::mknod(
        &s.at("/dev/zero"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 5),
    )
    .expect("mknod");
    let s = s
        .link("/etc/hosts.deny", "/dev/zero")
        .link("/etc/os-release", "/dev/zero")
        .link("/etc/passwd", "/dev/zero");
    let unreadable = "hosts.deny cannot be read (it is a character device, not a regular file)";
    s.run(["--check"])
        .code(1)
        .stdout_has(unreadable)
        .stderr_empty();
    s.run(["--yes", "--strategy", "comment"])
        .code(3)
        .stdout_has(&format!("No safe change to offer: {unreadable}"))
        .stderr_is(&format!(
            "wrapfix: no safe change to offer, nothing was changed: {unreadable}; fix its permissions, or use --strategy allow\n"
        ));
}

#[test]
fn a_directory_as_hosts_allow_is_never_offered_as_a_plan() {
    let s = sandbox().deny("ALL: ALL\n").dir("/etc/hosts.allow");
    let no_plan = "No safe change to offer: /etc/hosts.allow is a directory, not a file";
    s.run(["--dry-run", "--client", "198.51.100.7"])
        .code(1)
        .stdout_lacks("+sshd: 198.51.100.7")
        .stdout_has(no_plan)
        .stderr_empty();
    s.run(["--yes", "--client", "198.51.100.7"])
        .code(3)
        .stdout_has(no_plan)
        .stderr_is(
            "wrapfix: no safe change to offer, nothing was changed: /etc/hosts.allow is a directory, not a file: wrapfix edits only regular files (move the directory away)\n",
        )
        .no_file("/var/backups/wrapfix");
}

// --- 10. Concurrency --------------------------------------------------------------------

#[test]
fn the_lock_is_beside_the_tables_whatever_the_backup_dir() {
    let s = sandbox().deny("ALL: ALL\n");
    let etc = std::fs::File::open(s.at("/etc")).expect("open etc");
    let held = nix::fcntl::Flock::lock(etc, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .expect("flock");
    let bk = s.at("/elsewhere").display().to_string();
    s.run(["--yes", "--client", "198.51.100.7", "--backup-dir", &bk])
        .code(3)
        .stderr_is(&format!(
            "wrapfix: another wrapfix run is busy changing files (it holds the lock on the \
             tables in {}/etc); nothing was changed: try again later\n",
            s.path().display()
        ))
        .no_file("/etc/hosts.allow");
    drop(held);
}

#[test]
fn two_runs_with_different_backup_dirs_never_both_claim_a_change_one_of_them_lost() {
    let clients = ["192.0.2.1", "192.0.2.2"];
    // What a run says when the other changed hosts.allow between its plan and its write.
    let rebased = [
        "wrapfix: /etc/hosts.allow: lines were appended after the plan was made; the same edit \
         was applied and they were kept\n",
        "wrapfix: /etc/hosts.allow changed after the plan was made (another program wrote it); \
         the same edit was applied to what it holds now, and verified again\n",
    ];
    let mut lost = Vec::new();
    for round in 0..8 {
        let s = sandbox().deny("ALL: ALL\n");
        let busy = format!(
            "wrapfix: another wrapfix run is busy changing files (it holds the lock on the \
             tables in {}/etc); nothing was changed: try again later\n",
            s.path().display()
        );
        let runs = std::thread::scope(|scope| {
            let started: Vec<_> = clients
                .iter()
                .enumerate()
                .map(|(i, &client)| {
                    let bk = s.at(&format!("/bk{i}")).display().to_string();
                    let s = &s;
                    scope.spawn(move || s.run(["--yes", "--client", client, "--backup-dir", &bk]))
                })
                .collect();
            started
                .into_iter()
                .map(|run| run.join().expect("run"))
                .collect::<Vec<_>>()
        });
        let codes: Vec<Option<i32>> = runs.iter().map(|r| r.status()).collect();
        let allow = if s.exists("/etc/hosts.allow") {
            s.text("/etc/hosts.allow")
        } else {
            String::new()
        };
        for (client, run) in clients.iter().zip(runs) {
            assert!(
                matches!(run.status(), Some(0 | 3)),
                "round {round}: {codes:?}"
            );
            if run.status() == Some(3) {
                // The loser says why, and that it changed nothing.
                run.stderr_is(&busy);
                continue;
            }
            if !allow.contains(&format!("sshd: {client}\n")) {
                lost.push(format!(
                    "round {round}: {client} exit 0 but not in {allow:?}"
                ));
            }
            // A winner is silent, or says it made the same edit on what the other wrote.
            let stderr = run.stderr();
            assert!(
                stderr.is_empty() || rebased.contains(&stderr.as_str()),
                "round {round}: {client}: {stderr}"
            );
        }
    }
    assert!(lost.is_empty(), "{lost:#?}");
}

// --- Smaller ----------------------------------------------------------------------------

#[test]
fn a_hard_linked_table_is_reported() {
    let s = sandbox().deny("ALL: ALL\n");
    std::fs::hard_link(s.at("/etc/hosts.deny"), s.at("/etc/hosts.deny.orig")).expect("link");
    s.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stdout_has(&format!(
            "{}/etc/hosts.deny had 1 other hard link(s): they still hold the old bytes",
            s.path().display()
        ))
        .stderr_empty();
}

#[test]
fn leftovers_of_killed_runs_are_cleaned_up() {
    let s = sandbox()
        .deny("ALL: ALL\n")
        .file("/etc/.wrapfix-AbCdEf.tmp", "half")
        .file(
            "/var/backups/wrapfix/20200101T000000Z/etc/hosts.deny",
            "ALL: ALL\n",
        )
        .file(
            "/var/backups/wrapfix/20200101T000001Z/.wrapfix-XyZ.tmp",
            "{",
        );
    s.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty()
        .no_file("/etc/.wrapfix-AbCdEf.tmp");
    let sets: Vec<String> = std::fs::read_dir(s.at("/var/backups/wrapfix"))
        .expect("backups")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(sets.len(), 1, "only the new change set is left: {sets:?}");
}

#[test]
fn the_read_only_hint_names_the_mount_point_that_holds_the_file() {
    let s = sandbox().deny("ALL: ALL\n");
    let root = s.path().display().to_string();
    // Only wrapfix's stderr (and mount's) is kept.
    let script = format!(
        "mount --bind {root} {root} && mount -o remount,bind,ro {root} && {} --root {root} --color never --yes --strategy comment >/dev/null",
        env!("CARGO_BIN_EXE_wrapfix")
    );
    let Some((code, stderr)) = crate::repair::in_private_mounts(&script) else {
        return;
    };
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "wrapfix: cannot create the backup directory {root}/var/backups/wrapfix: Read-only \
             file system (os error 30) — the filesystem is mounted read-only; make it writable \
             with `mount -o remount,rw {root}` and run wrapfix again. Nothing was changed (give \
             another place with --backup-dir DIR).\n"
        )
    );
    s.assert_outside_untouched();
}

#[test]
fn mode_bits_of_a_new_backup_directory_are_private() {
    let s = sandbox().deny("ALL: ALL\n");
    s.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let m = std::fs::metadata(s.at("/var/backups/wrapfix")).expect("stat");
    assert_eq!(m.permissions().mode() & 0o777, 0o700);
}
