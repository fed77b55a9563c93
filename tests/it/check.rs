//! `wrapfix --check` as an admin runs it: on scratch roots, never on this machine's /etc.

use serde_json::Value;

use crate::support::system::{System, wrapfix};

/// `--check --json ARGS`: the document, with nothing on stderr.
fn json(sys: &System, args: &[&str]) -> Value {
    let mut all = vec!["--check", "--json"];
    all.extend_from_slice(args);
    sys.run(all).stderr_empty().json()
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
    System::new()
        .allow("")
        .deny("# hardening\nALL: ALL\n")
        .run(["--check", "--client", "198.51.100.7"])
        .code(1)
        .stdout_has("sshd from 198.51.100.7: denied")
        .stdout_has("/etc/hosts.deny:2  ALL: ALL")
        .stdout_has("blanket-deny")
        .stderr_empty();
}

#[test]
fn an_allow_entry_above_the_blanket_rule_lets_the_client_in() {
    let sys = System::new()
        .allow("sshd: 198.51.100.7\n")
        .deny("ALL: ALL\n");
    sys.run(["--check", "--client", "198.51.100.7"])
        .code(0)
        .stdout_has("sshd from 198.51.100.7: granted")
        .stdout_has("/etc/hosts.allow:1  sshd: 198.51.100.7")
        .stdout_lacks("denied")
        .stderr_empty()
        .file("/etc/hosts.allow", "sshd: 198.51.100.7\n")
        .file("/etc/hosts.deny", "ALL: ALL\n");
    let doc = json(&sys, &["--client", "198.51.100.7"]);
    assert_eq!(doc["verdicts"][0]["access"], "granted", "{doc}");
    assert_eq!(
        doc["verdicts"][0]["rule"]["file"], "/etc/hosts.allow",
        "{doc}"
    );
    assert_eq!(doc["verdicts"][0]["rule"]["line"], 1, "{doc}");
    assert!(
        !sys.exists("/var/backups/wrapfix"),
        "--check wrote a backup"
    );
}

#[test]
fn deny_option_in_hosts_allow_is_the_seed_reports_lockout() {
    let sys = System::new()
        .allow("all:all:deny\n")
        .os_release("NAME=CentOS\n");
    let doc = json(&sys, &["--client", "10.0.0.1"]);
    assert_eq!(doc["verdicts"][0]["access"], "denied");
    assert_eq!(doc["verdicts"][0]["rule"]["file"], "/etc/hosts.allow");
    let kinds = kinds(&doc);
    assert!(kinds.contains(&"blanket-deny"), "{kinds:?}");
}

#[test]
fn json_report_has_the_documented_shape() {
    let sys = System::new()
        .deny("ALL: ALL\n")
        .os_release("ID=centos\nVERSION_ID=\"7\"\n");
    let doc = json(&sys, &["--client", "root@2001:DB8::1=admin.example.com"]);
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
    let run = System::new()
        .deny("ALL: ALL\n")
        .run(["--check", "--json"])
        .code(1)
        .stderr_empty();
    // stdout is exactly one JSON document
    run.json();
}

#[test]
fn bad_input_is_one_line_naming_the_value_and_exit_2() {
    let sys = System::new();
    for (args, needle) in [
        (vec!["--client", "10.0.0.300"], "'10.0.0.300'"),
        (vec!["--client", "host.example.com"], "'host.example.com'"),
        (vec!["--daemon", "ss hd"], "'ss hd'"),
    ] {
        let run = sys
            .run(["--check"].iter().chain(&args))
            .code(2)
            .stderr_has(needle)
            .stdout_empty();
        let err = run.stderr();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let missing = wrapfix(std::path::Path::new("/nonexistent/wrapfix-root"))
        .arg("--check")
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stdout.is_empty());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("/nonexistent/wrapfix-root"), "{err}");
    // An unknown flavour is refused by name, with the ones there are.
    sys.run(["--check", "--flavor", "suse"])
        .code(2)
        .stdout_empty()
        .stderr_has("'suse'")
        .stderr_has("debian")
        .stderr_has("rhel7")
        .stderr_has("rhel6");
}

#[test]
fn ssh_connection_gives_the_default_client() {
    System::new()
        .allow("sshd: 192.0.2.9\n")
        .deny("ALL: ALL\n")
        .env("SSH_CONNECTION", "192.0.2.9 50000 192.0.2.1 22")
        .run(["--check"])
        .code(0)
        .stdout_has("sshd from 192.0.2.9: granted")
        .stderr_empty();
}

#[test]
fn without_a_client_the_generic_client_says_whether_the_world_gets_in() {
    let sys = System::new().deny("sshd: 203.0.113.77\n");
    // The stand-in skips the address the ban list mentions.
    let doc = json(&sys, &[]);
    assert_eq!(doc["verdicts"][0]["client"], Value::Null);
    assert_eq!(doc["verdicts"][0]["access"], "granted");
}

#[test]
fn a_rule_on_host_names_makes_the_verdict_depend_until_the_name_is_given() {
    let sys = System::new()
        .allow("sshd: .example.com\n")
        .deny("ALL: ALL\n");
    let doc = json(&sys, &["--client", "10.0.0.9"]);
    assert_eq!(doc["verdicts"][0]["access"], "depends");
    assert_eq!(doc["verdicts"][0]["runs"].as_array().unwrap().len(), 2);
    let kinds = kinds(&doc);
    assert!(kinds.contains(&"dns-dependent"), "{kinds:?}");
    assert_eq!(
        json(&sys, &["--client", "10.0.0.9=a.example.com"])["verdicts"][0]["access"],
        "granted"
    );
    assert_eq!(
        json(&sys, &["--client", "10.0.0.9=unknown"])["verdicts"][0]["access"],
        "denied"
    );
}

#[test]
fn findings_name_the_quirks_an_admin_trips_over() {
    let allow = "sshd: 10.0.0.1 # trusted: admin box\nsshd 10.0.0.2\n  # ALL: ALL\nin.ftpd: ALL: twist /bin/echo no\n";
    let deny = "sshd: 10.9.9.9\nALL: 10.0.0.5:\nsshd: 10.0.0.1, ::1\r\nALL: ALL";
    let sys = System::new().allow(allow).deny(deny);
    let doc = json(&sys, &["--client", "10.0.0.1"]);
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
    System::new()
        .deny("sshd: 10.0.0.1\r\nALL: ALL\r\n")
        .run(["--check", "--client", "10.0.0.1"])
        .code(1)
        .stdout_has("/etc/hosts.deny:1  sshd: 10.0.0.1\n")
        .stderr_empty();
    let run = System::new()
        .deny("sshd: 10.0.0.1\x1b[2J\n")
        .run(["--check", "--client", "10.0.0.1"])
        .stderr_empty();
    assert!(
        !run.output.stdout.contains(&0x1b),
        "an escape sequence from the file reached the terminal"
    );
}

#[test]
fn flavour_comes_from_the_root_and_the_report_says_why() {
    let c6 = System::new().file("/etc/redhat-release", "CentOS release 6.5 (Final)\n");
    let doc = json(&c6, &[]);
    assert_eq!(doc["flavor"]["name"], "rhel6");
    assert_eq!(doc["flavor"]["source"], "/etc/redhat-release");
    let none = System::new();
    let doc = json(&none, &[]);
    assert_eq!(doc["flavor"]["name"], "debian");
    assert_eq!(doc["flavor"]["source"], "default");
    let doc = json(&none.flavor("rhel7"), &[]);
    assert_eq!(doc["flavor"]["name"], "rhel7");
    assert_eq!(doc["flavor"]["source"], "--flavor");
}

#[test]
fn dry_run_shows_the_plan_and_its_diff_and_changes_nothing() {
    System::new()
        .deny("ALL: ALL\n")
        .run(["--dry-run", "--client", "10.0.0.1"])
        .code(1)
        .stdout_has("+++ /etc/hosts.allow (planned)")
        .stdout_has("+sshd: 10.0.0.1")
        .stderr_empty()
        .file("/etc/hosts.deny", "ALL: ALL\n")
        .no_file("/etc/hosts.allow");
}
