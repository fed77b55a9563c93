//! One JSON contract (`docs/wrapfix.schema.json`) for every mode's `--json` output, with and
//! without a terminal: checked by a real JSON Schema validator (python3-jsonschema).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support;
use crate::support::pane::Pane;
use crate::support::system::{System, wrapfix};

/// Validate each (label, document) against the schema with Draft 2020-12; panics naming
/// every violation. `false` (after a loud skip) without python3's jsonschema.
fn validate(docs: &[(String, Value)]) -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        support::skip(
            "python3 with jsonschema",
            "checks the JSON documents against docs/wrapfix.schema.json (package python3-jsonschema)",
        );
        return false;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("docs.json");
    std::fs::write(&input, serde_json::to_vec(docs).expect("encode")).expect("write docs");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wrapfix.schema.json");
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = 0
for label, doc in json.load(open(sys.argv[2])):
    for e in validator.iter_errors(doc):
        bad += 1
        print(f"{label}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}")
sys.exit(1 if bad else 0)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(&input)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "documents that break the contract:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// stdout of a piped run: exactly one compact document and a newline.
fn piped(out: &Output, label: &str) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with('\n') && text.trim_end().lines().count() == 1,
        "{label}: not one compact line on a pipe:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{label}: {e}: {text}"))
}

fn run(root: &Path, args: &[&str]) -> Output {
    wrapfix(root).args(args).output().expect("run wrapfix")
}

/// `wrapfix ARGS` with stdout on a terminal (script(1)'s pty); stderr to a file, so there is
/// no one to ask. Returns stdout (pretty-printed JSON expected).
fn on_a_terminal(root: &Path, args: &str) -> Option<String> {
    if !support::require_tool("script", "gives wrapfix a terminal on stdout (util-linux)") {
        return None;
    }
    let cmd = format!(
        "env -u SSH_CONNECTION {} --root {} --color never {args} 2>/dev/null",
        env!("CARGO_BIN_EXE_wrapfix"),
        root.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    Some(String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"))
}

#[test]
fn every_mode_prints_one_document_of_the_one_contract() {
    let mut docs: Vec<(String, Value)> = Vec::new();
    let mut add = |label: &str, out: Output, code: i32| {
        assert_eq!(
            out.status.code(),
            Some(code),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = piped(&out, label);
        docs.push((label.to_string(), doc.clone()));
        doc
    };
    let c = "198.51.100.7";
    let locked = System::new()
        .deny("ALL: ALL\nsshd: 203.0.113.9\n")
        .os_release("ID=debian\n");
    let l = locked.path();
    add(
        "check locked out",
        run(l, &["--check", "--json", "--client", c]),
        1,
    );
    add("check generic", run(l, &["--check", "--json"]), 1);
    add(
        "dry-run allow",
        run(l, &["--dry-run", "--json", "--client", c]),
        1,
    );
    let comment = add("dry-run comment", run(l, &["--dry-run", "--json"]), 1);
    assert_eq!(
        comment["plan"]["opens_to_everyone"],
        serde_json::json!(["sshd"])
    );
    add(
        "repair without a terminal",
        run(l, &["--json", "--client", c]),
        1,
    );
    let fixed = add(
        "repair --yes",
        run(l, &["--yes", "--json", "--client", c]),
        0,
    );
    // Booleans both, and the backup as the repaired system sees it.
    assert_eq!(fixed["plan"]["verified"], true);
    assert_eq!(fixed["change_set"]["verified"], true);
    let id = fixed["change_set"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        fixed["change_set"]["backup_dir"],
        format!("/var/backups/wrapfix/{id}")
    );
    assert_eq!(fixed["change_set"]["backup_dir_in_root"], true);
    add(
        "nothing to do",
        run(l, &["--yes", "--json", "--client", c]),
        0,
    );
    let listed = add("list-backups", run(l, &["--list-backups", "--json"]), 0);
    assert_eq!(listed["backup_dir"], "/var/backups/wrapfix");
    // The bug: without a terminal and without --yes, --rollback --json printed nothing.
    let asked = add(
        "rollback without a terminal",
        run(l, &["--rollback", "--json"]),
        1,
    );
    assert_eq!(asked["change_set"], Value::Null);
    assert_eq!(asked["rollback"]["of"], id.as_str());
    let rolled = add(
        "rollback --yes",
        run(l, &["--rollback", "--yes", "--json"]),
        0,
    );
    assert_eq!(rolled["change_set"]["rolls_back"], id.as_str());
    assert_eq!(rolled["change_set"]["applied"], true);

    // A verdict that depends on the client's host name lists its runs.
    let dns = System::new()
        .deny("sshd: .example.com\n")
        .os_release("ID=debian\n");
    let depends = add(
        "check depends",
        run(dns.path(), &["--check", "--json", "--client", c]),
        1,
    );
    assert_eq!(depends["verdicts"][0]["access"], "depends", "{depends}");
    assert!(depends["verdicts"][0]["runs"].is_array(), "{depends}");
    let newline = System::new()
        .deny("sshd: 203.0.113.9")
        .os_release("ID=debian\n");
    let offer = add(
        "dry-run with the newline offer",
        run(newline.path(), &["--dry-run", "--json", "--client", c]),
        1,
    );
    assert!(offer["plan"]["offer"]["command"].is_string(), "{offer}");
    let long = format!("ALL: {}\n", "x".repeat(3000));
    let impossible = System::new().deny(&long).os_release("ID=debian\n");
    add(
        "impossible",
        run(
            impossible.path(),
            &["--dry-run", "--json", "--strategy", "comment"],
        ),
        1,
    );
    let elsewhere = tempfile::tempdir().expect("backup dir");
    let outside = System::new().deny("ALL: ALL\n");
    let out_doc = add(
        "backup dir outside the root",
        wrapfix(outside.path())
            .args(["--yes", "--json", "--client", c, "--backup-dir"])
            .arg(elsewhere.path())
            .output()
            .expect("run"),
        0,
    );
    assert_eq!(out_doc["change_set"]["backup_dir_in_root"], false);

    // With a terminal on stdout: the same documents, indented (and a fix to roll back).
    add(
        "repair --yes again",
        run(l, &["--yes", "--json", "--client", "198.51.100.8"]),
        0,
    );
    for args in [
        "--check --json",
        "--list-backups --json",
        "--rollback --json",
    ] {
        let Some(text) = on_a_terminal(l, args) else {
            break;
        };
        assert!(text.starts_with("{\n  \"version\": 1,"), "{args}: {text}");
        let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args}: {e}: {text}"));
        docs.push((format!("{args} on a terminal"), doc));
    }
    validate(&docs);
}

#[test]
fn an_interactive_repair_prints_its_document_after_the_answer() {
    let sys = System::new().deny("ALL: ALL\n");
    let mut docs = Vec::new();
    for (answer, code, applied) in [("n", 1, false), ("y", 0, true)] {
        let file = sys.path().join(format!("out-{answer}.json"));
        let cmd = format!(
            "env -u SSH_CONNECTION {} --root {} --json --client 198.51.100.7 > {}",
            env!("CARGO_BIN_EXE_wrapfix"),
            sys.path().display(),
            file.display()
        );
        let Some(pane) = Pane::start(&cmd) else {
            return;
        };
        pane.wait_for("Apply this change? [y/N]");
        pane.keys(&[answer, "Enter"]);
        let end = pane.wait_for("EXIT:");
        assert!(end.contains(&format!("EXIT:{code}")), "{end}");
        let text = std::fs::read_to_string(&file).expect("the document");
        let doc: Value = serde_json::from_str(&text).expect("one JSON document");
        assert_eq!(
            doc["change_set"]["applied"].as_bool().unwrap_or(false),
            applied,
            "{doc}"
        );
        docs.push((format!("interactive, answered {answer}"), doc));
    }
    validate(&docs);
}
