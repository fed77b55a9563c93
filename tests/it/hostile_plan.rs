//! Issue 9, plans: no panic on any table (edits that overlap), the comment strategy on
//! tables where it used to give up, and no plan that writes a table that cannot be read.

use std::process::Command;

use crate::hostile::sandbox;
use crate::support;

/// Under strace, which injects the read error: not a plain run of the binary.
#[test]
fn a_table_that_cannot_be_read_is_never_written() {
    if !support::require_tool("strace", "injects EIO into the open of hosts.allow") {
        return;
    }
    let s = sandbox().allow("# site rules\n").deny("ALL: ALL\n");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=openat"])
        .args(["-e", "inject=openat:error=EIO:when=1", "-P"])
        .arg(s.at("/etc/hosts.allow"))
        .arg(env!("CARGO_BIN_EXE_wrapfix"))
        .arg("--root")
        .arg(s.path())
        .args(["--color", "never", "--yes", "--client", "198.51.100.7"])
        .env_remove("SSH_CONNECTION")
        .output()
        .expect("strace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "No safe change to offer: /etc/hosts.allow cannot be read (Input/output error (os \
             error 5)), and a table that cannot be read is never written."
        ),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "wrapfix: no safe change to offer, nothing was changed: /etc/hosts.allow cannot be read (Input/output error (os error 5)), and a table that cannot be read is never written\n",
        "exit 3 says why on stderr too"
    );
    assert_eq!(s.read("/etc/hosts.allow"), b"# site rules\n");
    assert!(!s.exists("/var/backups/wrapfix"), "no change set");
}

#[test]
fn a_continued_rule_on_an_unterminated_last_line_does_not_panic() {
    let s = sandbox()
        .deny("sshd: ALL \\\n EXCEPT 10.0.0.1")
        .os_release("ID=debian\n");
    s.run(["--dry-run"])
        .code(1)
        .stdout_has("+#sshd: ALL \\\n+# EXCEPT 10.0.0.1\n")
        .stderr_empty();
    s.run(["--yes"]).code(0).stderr_empty();
    s.run(["--check"]).code(0).stderr_empty();
}

#[test]
fn comment_strategy_fixes_two_blanket_rules_a_ban_after_one_and_an_unterminated_last_line() {
    for (deny, client) in [
        ("ALL: ALL\nALL: ALL\n", None),
        ("sshd: ALL\nALL: 203.0.113.9\n", Some("203.0.113.9")),
        ("ALL: ALL", None),
        ("# published\nALL: ALL", Some("198.51.100.7")),
    ] {
        let s = sandbox().deny(deny).os_release("ID=debian\n");
        let client: Vec<&str> = client.map_or(vec![], |c| vec!["--client", c]);
        s.run([&["--yes", "--strategy", "comment"][..], &client].concat())
            .code(0)
            .stderr_empty();
        s.run([&["--check"][..], &client].concat())
            .code(0)
            .stderr_empty();
        s.run(["--rollback", "--yes"])
            .code(0)
            .stderr_empty()
            .file("/etc/hosts.deny", deny);
    }
}
