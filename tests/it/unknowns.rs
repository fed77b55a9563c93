//! Regression tests for verdicts that turn on facts wrapfix cannot know (the client's host
//! name, the server address and port, netgroups, aclexec): each row of the table in the
//! issue "Verdicts that stay true when facts are unknown" (every one judged wrongly once,
//! against libwrap 7.6.q-32 through `hosts_ctl()`), through the real binary.

use serde_json::Value;

use crate::support::system::{System, wrapfix};

/// `--check --json` for one client, which says nothing on stderr; the document and the
/// exit status.
fn check(allow: &str, deny: &str, args: &[&str]) -> (Value, i32) {
    let sys = System::new()
        .allow(allow)
        .deny(deny)
        .os_release("ID=debian\n");
    let run = sys
        .run([&["--check", "--json"][..], args].concat())
        .stderr_empty();
    (run.json(), run.status().expect("exit status"))
}

fn verdict(doc: &Value) -> &Value {
    &doc["verdicts"][0]
}

/// The runs of a `depends` verdict as (access, first condition) pairs.
fn runs(doc: &Value) -> Vec<(String, String)> {
    verdict(doc)["runs"]
        .as_array()
        .expect("runs of a depends verdict")
        .iter()
        .map(|r| {
            let when = r["when"].as_array().expect("when");
            (
                r["access"].as_str().expect("access").to_string(),
                when.iter()
                    .map(|w| w.as_str().expect("condition"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .collect()
}

/// The verdict depends, leads with the plain world's `plain` access and rule line, and
/// has a run ending `other` whose conditions mention `because`.
fn assert_depends(doc: &Value, plain: &str, line: Option<u64>, other: &str, because: &str) {
    let v = verdict(doc);
    assert_eq!(v["access"], "depends", "{v:#}");
    let r = runs(doc);
    assert_eq!(r[0].0, plain, "the plain world's run comes first: {v:#}");
    assert_eq!(v["rule"]["line"].as_u64(), line, "{v:#}");
    assert!(
        r.iter().any(|(a, w)| a == other && w.contains(because)),
        "no run ending {other} when {because}: {r:#?}"
    );
}

#[test]
fn all_except_localhost_is_not_granted_for_a_client_without_a_name() {
    // A real published hosts.deny: everyone but localhost is refused.
    let (doc, code) = check(
        "",
        "ALL: ALL EXCEPT localhost\n",
        &["--client", "198.51.100.7"],
    );
    assert_eq!(code, 1, "locked out, not 'nothing to do'");
    assert_depends(&doc, "denied", Some(1), "granted", "matches 'localhost'");
    assert!(
        verdict(&doc)["reason"]
            .as_str()
            .unwrap()
            .contains("granted if the client's host name matches 'localhost'"),
        "{doc:#}"
    );
}

#[test]
fn all_except_a_domain_depends_on_the_name() {
    let (doc, _) = check(
        "",
        "sshd: ALL EXCEPT .example.com\n",
        &["--client", "10.0.0.5"],
    );
    assert_depends(&doc, "denied", Some(1), "granted", "matches '.example.com'");
    let witness = verdict(&doc)["runs"][1]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(witness.ends_with(".example.com"), "{witness}");
}

#[test]
fn all_except_local_known_paranoid_or_a_prefix_depends_on_the_name() {
    for (token, because) in [
        ("LOCAL", "a verified name without a dot"),
        ("KNOWN", "resolves to a verified host name"),
        ("PARANOID", "matches 'PARANOID'"),
        ("good.", "matches 'good.'"),
    ] {
        let (doc, _) = check(
            "",
            &format!("sshd: ALL EXCEPT {token}\n"),
            &["--client", "10.0.0.5"],
        );
        assert_eq!(verdict(&doc)["access"], "depends", "{token}: {doc:#}");
        assert!(
            runs(&doc)
                .iter()
                .any(|(a, w)| a == "granted" && w.contains(because)),
            "{token}: {:#?}",
            runs(&doc)
        );
    }
}

#[test]
fn an_allow_rule_with_an_excepted_domain_grants_most_names() {
    let (doc, code) = check(
        "sshd: ALL EXCEPT .evil.com\n",
        "ALL: ALL\n",
        &["--client", "10.0.0.5"],
    );
    assert_eq!(code, 1, "depends is not granted");
    assert_depends(&doc, "granted", Some(1), "denied", "matches '.evil.com'");
}

#[test]
fn a_port_behind_except_in_the_daemon_list_depends_on_the_port() {
    let (doc, _) = check(
        "",
        "sshd EXCEPT 22: ALL\n",
        &["--client", "10.0.0.5=unknown"],
    );
    // The plain world (no port token matches) is refused; sshd on port 22 is let in.
    assert_depends(
        &doc,
        "denied",
        Some(1),
        "granted",
        "is listening on port 22",
    );
}

#[test]
fn a_server_address_behind_except_depends_on_the_address() {
    let (doc, _) = check(
        "",
        "ALL EXCEPT sshd@10.0.0.1: ALL\n",
        &["--client", "10.0.0.5=unknown"],
    );
    assert_depends(
        &doc,
        "denied",
        Some(1),
        "granted",
        "the server address the client connects to matches '10.0.0.1'",
    );
}

#[test]
fn a_netgroup_behind_except_depends_on_membership() {
    let (doc, _) = check(
        "",
        "ALL: ALL EXCEPT @admins\n",
        &["--client", "10.0.0.5=unknown"],
    );
    assert_depends(&doc, "denied", Some(1), "granted", "netgroup 'admins'");
}

#[test]
fn nested_excepts_are_explored_at_every_depth() {
    // a EXCEPT (b EXCEPT c): .example.com is let in unless it is also good.*
    let (doc, _) = check(
        "",
        "sshd: ALL EXCEPT .example.com EXCEPT good.*\n",
        &["--client", "10.0.0.5"],
    );
    assert_depends(&doc, "denied", Some(1), "granted", "matches '.example.com'");
    let r = runs(&doc);
    assert!(
        r.iter()
            .any(|(a, w)| a == "denied" && w.contains("matches 'good.*'")),
        "{r:#?}"
    );
}

#[test]
fn a_possible_hang_on_red_hat_7_is_not_reported_as_a_denial() {
    let long = format!("sshd: 10.9.9.9 {}\n", "x".repeat(2100));
    for first in ["sshd: .example.com\n", "sshd: @admins\n"] {
        let (doc, code) = check(
            "",
            &format!("{first}{long}"),
            &["--client", "10.0.0.1", "--flavor", "rhel7"],
        );
        assert_eq!(code, 1);
        let v = verdict(&doc);
        assert_eq!(v["access"], "depends", "{first}: {v:#}");
        let r = runs(&doc);
        assert_eq!(r[0].0, "hangs", "the plain world hangs: {r:#?}");
        assert!(r.iter().any(|(a, _)| a == "denied"), "{r:#?}");
    }
}

#[test]
fn the_readme_demo_blames_the_rule_of_the_plain_world() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lockout");
    // Not a scratch system: the example in the repository, run as the README does.
    let out = wrapfix(&root)
        .args(["--dry-run", "--json", "--client", "198.51.100.7"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "a plan to offer, not applied");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "nothing on stderr"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let v = verdict(&doc);
    assert_eq!(v["rule"]["file"], "/etc/hosts.deny", "{v:#}");
    assert_eq!(v["rule"]["line"], 2, "{v:#}");
    // The marker line the plan writes names the same rule.
    let after = doc["plan"]["edits"][0]["after"].as_str().expect("edit");
    assert!(after.contains("refused by /etc/hosts.deny:2"), "{after}");
}

#[test]
fn aclexec_commands_whose_status_is_certain_give_definite_verdicts() {
    // libwrap runs the command with /bin/sh -c: false and a missing program fail (the rule
    // is void, so hosts.deny grants), true succeeds (the rule refuses).
    for (cmd, access) in [
        ("/bin/false", "granted"),
        ("false", "granted"),
        ("/usr/local/sbin/no-such-check %a", "granted"),
        ("true", "denied"),
    ] {
        let (doc, _) = check(
            "",
            &format!("ALL: ALL: aclexec {cmd}\n"),
            &["--client", "10.0.0.5"],
        );
        assert_eq!(verdict(&doc)["access"], access, "{cmd}: {doc:#}");
    }
    // A program that exists under the root: only running it tells.
    let sys = System::new()
        .allow("")
        .deny("ALL: ALL: aclexec /usr/sbin/check %a\n")
        .os_release("ID=debian\n")
        .file("/usr/sbin/check", "#!/bin/sh\n");
    let doc = sys
        .run(["--check", "--json", "--client", "10.0.0.5"])
        .stderr_empty()
        .json();
    assert_eq!(verdict(&doc)["access"], "depends", "{doc:#}");
}

#[test]
fn a_glob_ban_list_of_1500_lines_gives_every_outcome_and_one_summary() {
    // A DenyHosts-style list as published: one `sshd:A.B.C.*:deny` glob per line.
    let deny: String = (0..1500)
        .map(|i| format!("sshd:113.{}.{}.*:deny\n", 90 + i / 256, i % 256))
        .collect();
    let (doc, code) = check("", &deny, &["--client", "198.51.100.7"]);
    assert_eq!(code, 1);
    let v = verdict(&doc);
    assert_eq!(v["access"], "depends");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1501, "the plain world and one run per glob");
    assert_eq!(runs[0]["access"], "granted");
    assert_eq!(runs[0]["plain"], true);
    for (i, r) in runs[1..].iter().enumerate() {
        assert_eq!(r["access"], "denied");
        assert_eq!(r["rule"]["line"], i as u64 + 1);
        assert_eq!(r["proven"], true);
        let name = r["name"].as_str().expect("a witness name");
        assert!(
            name.starts_with(&format!("113.{}.{}.", 90 + i / 256, i % 256)),
            "{name}"
        );
    }
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "denied if the client's host name matches one of 1,500 patterns, such as '113.90.0.*', '113.90.1.*', '113.90.2.*', …"
        ),
        "{reason}"
    );
    // One dns-dependent finding for the file, not 1,500.
    let dns: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "dns-dependent")
        .collect();
    assert_eq!(dns.len(), 1, "{dns:#?}");
    assert!(
        dns[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("1,500 rules like this one")
    );
}

#[test]
fn centos_6_prefixes_and_bare_ipv6_networks_are_named_with_the_form_to_write() {
    let (doc, _) = check(
        "",
        "ALL: 2a06:98c0::/29\nsshd: 10.0.0.0/24\n",
        &["--client", "10.0.0.1", "--flavor", "rhel6"],
    );
    let messages: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("write [2a06:98c0::]/29")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("'10.0.0.0/24' never matches: write 10.0.0.0/255.255.255.0")),
        "{messages:#?}"
    );
}

#[test]
fn hundreds_of_inline_comments_are_one_finding_for_the_file() {
    // A real 36 KB hosts.deny: `ip  #NN` on every line (each an option error).
    let deny: String = (0..300)
        .map(|i| format!("ALL: 203.0.113.{}  #{i}: seen\n", i % 250))
        .collect();
    let (doc, _) = check("", &deny, &["--client", "198.51.100.7"]);
    let errors: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "option-error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("300 rules like this one (lines 1, 2, 3")
    );
}
