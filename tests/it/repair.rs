//! Repair, rollback and backups as an admin runs them: on scratch roots, through the real
//! binary; the prompt through a real terminal (tmux).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use crate::support;
use crate::support::system::System;

#[test]
fn yes_inserts_an_allow_entry_and_rollback_restores_the_files_exactly() {
    let sys = System::new().deny("ALL: ALL\n");
    sys.run(["--yes", "--client", "198.51.100.7"])
        .code(0)
        .stdout_has("Applied change set ")
        .stdout_has("now: sshd from 198.51.100.7: granted")
        .stderr_empty()
        .file("/etc/hosts.deny", "ALL: ALL\n");
    let allow = sys.text("/etc/hosts.allow");
    assert!(allow.contains("sshd: 198.51.100.7\n"), "{allow}");
    assert!(allow.starts_with("# wrapfix "), "{allow}");
    sys.run(["--check", "--client", "198.51.100.7"])
        .code(0)
        .stdout_has("sshd from 198.51.100.7: granted")
        .stderr_empty();
    assert_eq!(sys.change_sets(), 1);

    sys.run(["--rollback", "--yes"])
        .code(0)
        .stdout_has("/etc/hosts.allow: removed (wrapfix had created it)")
        .stderr_empty()
        .file("/etc/hosts.deny", "ALL: ALL\n");
    assert!(
        !sys.exists("/etc/hosts.allow"),
        "the file wrapfix created is removed"
    );
    sys.run(["--check", "--client", "198.51.100.7"])
        .code(1)
        .stdout_has("sshd from 198.51.100.7: denied")
        .stderr_empty();
    // The rollback is a change set too, and the first one is marked as rolled back.
    sys.run(["--list-backups"])
        .code(0)
        .stdout_has("rolled back by")
        .stderr_empty();
    assert_eq!(sys.change_sets(), 2);
}

#[test]
fn nothing_to_do_writes_nothing() {
    System::new()
        .allow("sshd: 10.0.0.1\n")
        .deny("ALL: ALL\n")
        .run(["--yes", "--client", "10.0.0.1"])
        .code(0)
        .stdout_has("Nothing to do")
        .stderr_empty()
        .no_file("/var/backups/wrapfix")
        .file("/etc/hosts.allow", "sshd: 10.0.0.1\n")
        .file("/etc/hosts.deny", "ALL: ALL\n");
}

#[test]
fn without_a_terminal_and_without_yes_nothing_changes_and_it_says_how() {
    let sys = System::new()
        .deny("ALL: ALL\n")
        .stdin("y\n")
        .timeout(Duration::from_secs(20));
    sys.run(["--client", "198.51.100.7"])
        .code(1)
        .stderr_has("no terminal to ask on: nothing changed")
        .stderr_has("--yes")
        .no_file("/etc/hosts.allow")
        .file("/etc/hosts.deny", "ALL: ALL\n");
    assert_eq!(sys.change_sets(), 0);
}

#[test]
fn comment_strategy_comments_every_line_of_the_refusing_rule() {
    let deny = "# keep\nALL: \\\n ALL\nsshd: 192.0.2.1\n";
    let sys = System::new().deny(deny);
    sys.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let now = sys.text("/etc/hosts.deny");
    assert!(now.contains("\n#ALL: \\\n# ALL\n"), "{now}");
    assert!(now.contains("sshd: 192.0.2.1\n"), "the ban stays: {now}");
    sys.run(["--rollback", "--yes"])
        .code(0)
        .stderr_empty()
        .file("/etc/hosts.deny", deny);
}

#[test]
fn a_missing_final_newline_that_locks_everyone_out_is_fixed() {
    let sys = System::new()
        .deny("sshd: 192.0.2.1\n# end")
        .os_release("ID=debian\n");
    sys.run(["--check"])
        .code(1)
        .stdout_has("table-error")
        .stderr_empty();
    sys.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty()
        .file("/etc/hosts.deny", "sshd: 192.0.2.1\n# end\n");
}

#[test]
fn crlf_and_latin1_bytes_survive_a_repair_and_its_rollback() {
    let deny: &[u8] = b"# caf\xe9\r\nALL: ALL\r\nsshd: 192.0.2.1\r\n";
    let sys = System::new().deny(deny);
    sys.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let now = sys.read("/etc/hosts.deny");
    assert!(
        now.starts_with(b"# caf\xe9\r\n# wrapfix "),
        "{}",
        String::from_utf8_lossy(&now)
    );
    assert!(
        now.ends_with(b"\r\n#ALL: ALL\r\nsshd: 192.0.2.1\r\n"),
        "{}",
        String::from_utf8_lossy(&now)
    );
    sys.run(["--rollback", "--yes"])
        .code(0)
        .stderr_empty()
        .file("/etc/hosts.deny", deny);
}

#[test]
fn mode_owner_xattr_and_symlink_are_kept() {
    let sys = System::new()
        .file("/etc/tcpd/deny.real", "ALL: ALL\n")
        .link("/etc/hosts.deny", "/etc/tcpd/deny.real");
    let real = sys.at("/etc/tcpd/deny.real");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let root = nix::unistd::geteuid().is_root();
    if root {
        std::os::unix::fs::chown(&real, Some(1234), Some(4321)).unwrap();
    } else {
        support::skip("root privileges", "checks that the owner is kept");
    }
    let xattr_ok = xattr::set(&real, "user.wrapfix-test", b"label").is_ok();
    if !xattr_ok {
        support::skip(
            "user xattrs on the temp file system",
            "checks that extended attributes are kept",
        );
    }
    sys.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let link = std::fs::symlink_metadata(sys.at("/etc/hosts.deny")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is still a link");
    let meta = std::fs::metadata(&real).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    if root {
        assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
    }
    if xattr_ok {
        assert_eq!(
            xattr::get(&real, "user.wrapfix-test").unwrap().as_deref(),
            Some(&b"label"[..])
        );
    }
    assert!(sys.text("/etc/tcpd/deny.real").contains("#ALL: ALL"));
}

#[test]
fn rollback_keeps_bans_added_since_unless_exact() {
    // A ban appended after the fix stays when the fix is rolled back...
    let sys = System::new().deny("ALL: ALL\n");
    sys.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let mut now = sys.read("/etc/hosts.deny");
    now.extend_from_slice(b"ALL: 192.0.2.99\n");
    sys.write("/etc/hosts.deny", &now);
    sys.run(["--rollback", "--yes"])
        .code(0)
        .stderr_empty()
        .file("/etc/hosts.deny", "ALL: ALL\nALL: 192.0.2.99\n");
    // ...and goes too when the fix is rolled back exactly.
    let sys2 = System::new().deny("ALL: ALL\n");
    sys2.run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty();
    let mut now2 = sys2.read("/etc/hosts.deny");
    now2.extend_from_slice(b"ALL: 192.0.2.99\n");
    sys2.write("/etc/hosts.deny", &now2);
    sys2.run(["--rollback", "--exact", "--yes"])
        .code(0)
        .stderr_empty()
        .file("/etc/hosts.deny", "ALL: ALL\n");
}

#[test]
fn nothing_to_roll_back_is_a_usage_error() {
    let sys = System::new().deny("ALL: ALL\n");
    sys.run(["--rollback", "--yes"])
        .code(2)
        .stdout_empty()
        .stderr_has("wrapfix: nothing to roll back: no change set in ")
        .stderr_has("/var/backups/wrapfix is still in effect")
        .file("/etc/hosts.deny", "ALL: ALL\n")
        .no_file("/etc/hosts.allow")
        .no_file("/var/backups/wrapfix");
    assert_eq!(
        sys.run(["--rollback", "--yes"]).stderr().lines().count(),
        1,
        "one line"
    );
}

fn prompt_session(keys: &[&str]) -> Option<(System, String)> {
    let sys = System::new().deny("ALL: ALL\n");
    let pane = sys.pane("--client 198.51.100.7")?;
    pane.wait_for("Apply this change? [y/N]");
    pane.keys(keys);
    let screen = pane.wait_for("EXIT:");
    Some((sys, screen))
}

#[test]
fn at_the_prompt_y_applies_the_change() {
    let Some((sys, screen)) = prompt_session(&["y", "Enter"]) else {
        return;
    };
    assert!(screen.contains("EXIT:0"), "{screen}");
    assert!(
        sys.read("/etc/hosts.allow")
            .ends_with(b"sshd: 198.51.100.7\n")
    );
}

#[test]
fn at_the_prompt_n_changes_nothing() {
    let Some((sys, screen)) = prompt_session(&["n", "Enter"]) else {
        return;
    };
    assert!(
        screen.contains("EXIT:1") && screen.contains("nothing changed"),
        "{screen}"
    );
    assert!(!sys.exists("/etc/hosts.allow"));
}

#[test]
fn at_the_prompt_ctrl_d_means_no() {
    let Some((sys, screen)) = prompt_session(&["C-d"]) else {
        return;
    };
    assert!(
        screen.contains("EXIT:1") && screen.contains("nothing changed"),
        "{screen}"
    );
    assert!(!sys.exists("/etc/hosts.allow"));
}

/// A locked-out system whose auth.log shows libwrap refusing 203.0.113.45.
fn system_with_refusals() -> System {
    System::new().deny("ALL: ALL\n").file(
        "/var/log/auth.log",
        "Nov 24 00:50:12 host sshd[11949]: refused connect from 203.0.113.45 (203.0.113.45)\n",
    )
}

#[test]
fn without_a_client_the_menu_offers_the_refused_clients_from_the_logs() {
    let sys = system_with_refusals();
    let Some(pane) = sys.pane("") else {
        return;
    };
    let menu = pane.wait_for("Who should get in?");
    assert!(
        menu.contains("203.0.113.45 (sshd refused it once, last Nov 24 00:50:12)"),
        "{menu}"
    );
    pane.keys(&["1", "Enter"]);
    pane.wait_for("Apply this change? [y/N]");
    pane.keys(&["y", "Enter"]);
    let screen = pane.wait_for("EXIT:");
    assert!(screen.contains("EXIT:0"), "{screen}");
    assert!(
        sys.read("/etc/hosts.allow")
            .ends_with(b"sshd: 203.0.113.45\n")
    );
}

#[test]
fn yes_never_picks_a_client_from_the_logs() {
    let sys = system_with_refusals();
    sys.run(["--yes"])
        .code(0)
        .stdout_has("comment out")
        .stderr_empty()
        // No client was known, so the refusing rule was commented out instead.
        .no_file("/etc/hosts.allow");
    assert!(sys.text("/etc/hosts.deny").contains("#ALL: ALL"));
}

/// Run `script` (sh) in a private mount namespace; returns its stdout+stderr and status.
pub(crate) fn in_private_mounts(script: &str) -> Option<(i32, String)> {
    if !nix::unistd::geteuid().is_root() {
        support::skip(
            "root privileges",
            "bind-mounts a file in a private mount namespace",
        );
        return None;
    }
    if !support::require_tool("unshare", "bind-mounts a file in a private mount namespace") {
        return None;
    }
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .output()
        .expect("run unshare");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code().unwrap_or(-1), text))
}

#[test]
fn a_bind_mounted_table_is_refused_unless_in_place_is_asked_for() {
    let sys = System::new().deny("");
    let outside = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(outside.path(), "ALL: ALL\n").expect("write");
    let deny = sys.at("/etc/hosts.deny");
    let run = |extra: &str| {
        in_private_mounts(&format!(
            "mount --bind {} {} && {} --root {} --color never --yes --strategy comment {extra}",
            outside.path().display(),
            deny.display(),
            env!("CARGO_BIN_EXE_wrapfix"),
            sys.path().display()
        ))
    };
    let Some((code, text)) = run("") else { return };
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("--in-place"), "{text}");
    assert_eq!(std::fs::read(outside.path()).expect("read"), b"ALL: ALL\n");
    let Some((code, text)) = run("--in-place") else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    let now = String::from_utf8(std::fs::read(outside.path()).expect("read")).expect("utf8");
    assert!(
        now.contains("#ALL: ALL\n"),
        "the mounted file itself was rewritten: {now}"
    );
}
