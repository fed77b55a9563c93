//! Issue 9, plans: no panic on any table (edits that overlap), the comment strategy on
//! tables where it used to give up, and no plan that writes a table that cannot be read.

use std::process::Command;

use crate::hostile::Sandbox;
use crate::support;

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_table_that_cannot_be_read_is_never_written() {
    if !support::require_tool("strace", "injects EIO into the open of hosts.allow") {
        return;
    }
    let s = Sandbox::new();
    s.write("etc/hosts.allow", "# site rules\n");
    s.write("etc/hosts.deny", "ALL: ALL\n");
    let allow = s.root.join("etc/hosts.allow");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=openat"])
        .args(["-e", "inject=openat:error=EIO:when=1", "-P"])
        .arg(&allow)
        .arg(env!("CARGO_BIN_EXE_wrapfix"))
        .arg("--root")
        .arg(&s.root)
        .args(["--color", "never", "--yes", "--client", "198.51.100.7"])
        .env_remove("SSH_CONNECTION")
        .output()
        .expect("strace");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("/etc/hosts.allow"), "{}", text(&out));
    assert_eq!(s.read("etc/hosts.allow").expect("allow"), b"# site rules\n");
    assert!(
        !s.root.join("var/backups/wrapfix").exists(),
        "no change set"
    );
}

#[test]
fn a_continued_rule_on_an_unterminated_last_line_does_not_panic() {
    let s = Sandbox::new();
    s.write("etc/hosts.deny", "sshd: ALL \\\n EXCEPT 10.0.0.1");
    s.write("etc/os-release", "ID=debian\n");
    let out = s.cmd().arg("--dry-run").output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    s.cmd().arg("--yes").assert().code(0);
    s.cmd().arg("--check").assert().code(0);
}

#[test]
fn comment_strategy_fixes_two_blanket_rules_a_ban_after_one_and_an_unterminated_last_line() {
    for (deny, client) in [
        ("ALL: ALL\nALL: ALL\n", None),
        ("sshd: ALL\nALL: 203.0.113.9\n", Some("203.0.113.9")),
        ("ALL: ALL", None),
        ("# published\nALL: ALL", Some("198.51.100.7")),
    ] {
        let s = Sandbox::new();
        s.write("etc/hosts.deny", deny);
        s.write("etc/os-release", "ID=debian\n");
        let mut args = vec!["--yes", "--strategy", "comment"];
        if let Some(c) = client {
            args.extend(["--client", c]);
        }
        let out = s.cmd().args(&args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{deny:?}: {}", text(&out));
        let mut check = vec!["--check"];
        if let Some(c) = client {
            check.extend(["--client", c]);
        }
        s.cmd().args(&check).assert().code(0);
        s.cmd().args(["--rollback", "--yes"]).assert().code(0);
        assert_eq!(s.read("etc/hosts.deny").expect("deny"), deny.as_bytes());
    }
}
