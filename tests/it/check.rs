//! `wrapfix --check` as an admin runs it: on scratch roots, never on this machine's /etc.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// A scratch system with the given tables (None: file absent) and os-release, and an
/// `etc/passwd` (wrapfix refuses a root whose `etc/` holds nothing a system has).
pub fn system(
    allow: Option<&str>,
    deny: Option<&str>,
    os_release: Option<&str>,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&etc).expect("etc");
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    for (name, content) in [
        ("hosts.allow", allow),
        ("hosts.deny", deny),
        ("os-release", os_release),
    ] {
        if let Some(c) = content {
            std::fs::write(etc.join(name), c).expect("write");
        }
    }
    dir
}

/// The binary with a clean environment: no colour, no SSH_CONNECTION from the test runner.
pub fn wrapfix(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("wrapfix").expect("binary");
    cmd.env_remove("SSH_CONNECTION")
        .env_remove("NO_COLOR")
        .arg("--root")
        .arg(root)
        .arg("--color")
        .arg("never");
    cmd
}

fn json(root: &Path, args: &[&str]) -> Value {
    let out = wrapfix(root)
        .args(["--check", "--json"])
        .args(args)
        .output()
        .expect("run");
    serde_json::from_slice(&out.stdout).expect("one JSON document on stdout")
}

/// The `kind` of every finding in a JSON report.
fn kinds(doc: &Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["kind"].as_str().expect("kind"))
        .collect()
}

#[test]
fn blanket_deny_locks_the_client_out_and_names_the_line() {
    let sys = system(Some(""), Some("# hardening\nALL: ALL\n"), None);
    wrapfix(sys.path())
        .args(["--check", "--client", "198.51.100.7"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("sshd from 198.51.100.7: denied"))
        .stdout(predicate::str::contains("/etc/hosts.deny:2  ALL: ALL"))
        .stdout(predicate::str::contains("blanket-deny"));
}

#[test]
fn an_allow_entry_above_the_blanket_rule_lets_the_client_in() {
    let sys = system(Some("sshd: 198.51.100.7\n"), Some("ALL: ALL\n"), None);
    wrapfix(sys.path())
        .args(["--check", "--client", "198.51.100.7"])
        .assert()
        .code(0);
}

#[test]
fn deny_option_in_hosts_allow_is_the_seed_reports_lockout() {
    let sys = system(Some("all:all:deny\n"), None, Some("NAME=CentOS\n"));
    let doc = json(sys.path(), &["--client", "10.0.0.1"]);
    assert_eq!(doc["verdicts"][0]["access"], "denied");
    assert_eq!(doc["verdicts"][0]["rule"]["file"], "/etc/hosts.allow");
    let kinds = kinds(&doc);
    assert!(kinds.contains(&"blanket-deny"), "{kinds:?}");
}

#[test]
fn json_report_has_the_documented_shape() {
    let sys = system(
        None,
        Some("ALL: ALL\n"),
        Some("ID=centos\nVERSION_ID=\"7\"\n"),
    );
    let doc = json(
        sys.path(),
        &["--client", "root@2001:DB8::1=admin.example.com"],
    );
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["mode"], "check");
    assert_eq!(doc["flavor"]["name"], "rhel7");
    assert_eq!(doc["flavor"]["source"], "/etc/os-release");
    assert_eq!(doc["files"][0]["role"], "allow");
    assert_eq!(doc["files"][0]["state"], "missing");
    assert_eq!(doc["files"][1]["rules"], 1);
    let v = &doc["verdicts"][0];
    assert_eq!(v["daemon"], "sshd");
    assert_eq!(v["client"], "2001:db8::1");
    assert_eq!(v["name"], "admin.example.com");
    assert_eq!(v["user"], "root");
    assert_eq!(v["access"], "denied");
    assert_eq!(v["rule"]["line"], 1);
    assert_eq!(v["rule"]["text"], "ALL: ALL");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(doc["plan"].is_null());
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "version",
            "mode",
            "root",
            "flavor",
            "files",
            "verdicts",
            "findings",
            "plan",
            "change_set"
        ]
    );
}

#[test]
fn json_is_the_only_thing_on_stdout_even_when_locked_out() {
    let sys = system(None, Some("ALL: ALL\n"), None);
    let out = wrapfix(sys.path())
        .args(["--check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    serde_json::from_slice::<Value>(&out.stdout).expect("stdout is exactly one JSON document");
}

#[test]
fn bad_input_is_one_line_naming_the_value_and_exit_2() {
    let sys = system(None, None, None);
    for (args, needle) in [
        (vec!["--client", "10.0.0.300"], "'10.0.0.300'"),
        (vec!["--client", "host.example.com"], "'host.example.com'"),
        (vec!["--daemon", "ss hd"], "'ss hd'"),
    ] {
        let out = wrapfix(sys.path())
            .arg("--check")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(out.stdout.is_empty());
    }
    wrapfix(Path::new("/nonexistent/wrapfix-root"))
        .arg("--check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/wrapfix-root"));
    wrapfix(sys.path())
        .args(["--check", "--flavor", "suse"])
        .assert()
        .code(2);
}

#[test]
fn ssh_connection_gives_the_default_client() {
    let sys = system(Some("sshd: 192.0.2.9\n"), Some("ALL: ALL\n"), None);
    wrapfix(sys.path())
        .arg("--check")
        .env("SSH_CONNECTION", "192.0.2.9 50000 192.0.2.1 22")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("sshd from 192.0.2.9: granted"));
}

#[test]
fn without_a_client_the_generic_client_says_whether_the_world_gets_in() {
    let sys = system(None, Some("sshd: 203.0.113.77\n"), None);
    // The stand-in skips the address the ban list mentions.
    let doc = json(sys.path(), &[]);
    assert_eq!(doc["verdicts"][0]["client"], Value::Null);
    assert_eq!(doc["verdicts"][0]["access"], "granted");
}

#[test]
fn a_rule_on_host_names_makes_the_verdict_depend_until_the_name_is_given() {
    let sys = system(Some("sshd: .example.com\n"), Some("ALL: ALL\n"), None);
    let doc = json(sys.path(), &["--client", "10.0.0.9"]);
    assert_eq!(doc["verdicts"][0]["access"], "depends");
    assert_eq!(doc["verdicts"][0]["runs"].as_array().unwrap().len(), 2);
    let kinds = kinds(&doc);
    assert!(kinds.contains(&"dns-dependent"), "{kinds:?}");
    assert_eq!(
        json(sys.path(), &["--client", "10.0.0.9=a.example.com"])["verdicts"][0]["access"],
        "granted"
    );
    assert_eq!(
        json(sys.path(), &["--client", "10.0.0.9=unknown"])["verdicts"][0]["access"],
        "denied"
    );
}

#[test]
fn findings_name_the_quirks_an_admin_trips_over() {
    let allow = "sshd: 10.0.0.1 # trusted: admin box\nsshd 10.0.0.2\n  # ALL: ALL\nin.ftpd: ALL: twist /bin/echo no\n";
    let deny = "sshd: 10.9.9.9\nALL: 10.0.0.5:\nsshd: 10.0.0.1, ::1\r\nALL: ALL";
    let sys = system(Some(allow), Some(deny), None);
    let doc = json(sys.path(), &["--client", "10.0.0.1"]);
    let found: Vec<(String, String, u64)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let has = |kind: &str, file: &str, line: u64| {
        found
            .iter()
            .any(|f| f.0 == kind && f.1 == file && f.2 == line)
    };
    assert!(has("option-error", "/etc/hosts.allow", 1), "{found:?}");
    assert!(has("ignored-line", "/etc/hosts.allow", 2), "{found:?}");
    assert!(has("not-a-comment", "/etc/hosts.allow", 3), "{found:?}");
    assert!(has("twist", "/etc/hosts.allow", 4), "{found:?}");
    assert!(has("option-error", "/etc/hosts.deny", 2), "{found:?}");
    assert!(has("option-error", "/etc/hosts.deny", 3), "{found:?}");
    assert!(has("table-error", "/etc/hosts.deny", 4), "{found:?}");
    // The inline comment is named as such.
    let msg = doc["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("inline comments"), "{msg}");
}

#[test]
fn crlf_files_and_control_characters_are_shown_not_obeyed() {
    let sys = system(None, Some("sshd: 10.0.0.1\r\nALL: ALL\r\n"), None);
    wrapfix(sys.path())
        .args(["--check", "--client", "10.0.0.1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "/etc/hosts.deny:1  sshd: 10.0.0.1\n",
        ));
    let sys = system(None, Some("sshd: 10.0.0.1\x1b[2J\n"), None);
    let out = wrapfix(sys.path())
        .args(["--check", "--client", "10.0.0.1"])
        .output()
        .unwrap();
    assert!(
        !out.stdout.contains(&0x1b),
        "an escape sequence from the file reached the terminal"
    );
}

#[test]
fn flavour_comes_from_the_root_and_the_report_says_why() {
    let c6 = system(None, None, None);
    std::fs::write(
        c6.path().join("etc/redhat-release"),
        "CentOS release 6.5 (Final)\n",
    )
    .unwrap();
    let doc = json(c6.path(), &[]);
    assert_eq!(doc["flavor"]["name"], "rhel6");
    assert_eq!(doc["flavor"]["source"], "/etc/redhat-release");
    let none = system(None, None, None);
    let doc = json(none.path(), &[]);
    assert_eq!(doc["flavor"]["name"], "debian");
    assert_eq!(doc["flavor"]["source"], "default");
    let doc = json(none.path(), &["--flavor", "rhel7"]);
    assert_eq!(doc["flavor"]["source"], "--flavor");
}

#[test]
fn dry_run_shows_the_plan_and_its_diff_and_changes_nothing() {
    let sys = system(None, Some("ALL: ALL\n"), None);
    let deny = sys.path().join("etc/hosts.deny");
    let before = std::fs::read(&deny).unwrap();
    wrapfix(sys.path())
        .args(["--dry-run", "--client", "10.0.0.1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("+++ /etc/hosts.allow (planned)"))
        .stdout(predicate::str::contains("+sshd: 10.0.0.1"));
    assert_eq!(std::fs::read(&deny).unwrap(), before);
    assert!(!sys.path().join("etc/hosts.allow").exists());
}
