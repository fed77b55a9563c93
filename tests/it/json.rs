//! One JSON contract (`docs/wrapfix.schema.json`) for every mode's `--json` output, with and
//! without a terminal: checked by a real JSON Schema validator (python3-jsonschema).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support;
use crate::support::pane::Pane;
use crate::support::system::{Run, System};

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
fn piped(run: &Run, label: &str) -> Value {
    let text = run.stdout();
    assert!(
        text.ends_with('\n') && text.trim_end().lines().count() == 1,
        "{label}: not one compact line on a pipe:\n{text}\n{}",
        run.stderr()
    );
    run.json()
}

/// `wrapfix ARGS` with stdout on a terminal (script(1)'s pty); stdin closed, so there is no
/// one to ask, and stderr to a file. Returns stdout (pretty-printed JSON expected) and
/// stderr.
fn on_a_terminal(root: &Path, args: &str) -> Option<(String, String)> {
    if !support::require_tool("script", "gives wrapfix a terminal on stdout (util-linux)") {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr = dir.path().join("stderr");
    let cmd = format!(
        "env -u SSH_CONNECTION {} --root {} --color never {args} 2>{}",
        env!("CARGO_BIN_EXE_wrapfix"),
        root.display(),
        stderr.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    Some((
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        std::fs::read_to_string(&stderr).expect("stderr"),
    ))
}

#[test]
fn every_mode_prints_one_document_of_the_one_contract() {
    let mut docs: Vec<(String, Value)> = Vec::new();
    let mut add = |label: &str, run: Run| {
        let doc = piped(&run, label);
        docs.push((label.to_string(), doc.clone()));
        doc
    };
    let c = "198.51.100.7";
    let locked = System::new()
        .deny("ALL: ALL\nsshd: 203.0.113.9\n")
        .os_release("ID=debian\n");
    let root = locked.path().canonicalize().expect("canonical root");
    let root = root.display();
    // Without a terminal and without --yes, nothing is asked: one line says how to apply it.
    let no_terminal = |apply: &str| {
        format!(
            "wrapfix: no terminal to ask on: nothing changed; to apply it: wrapfix --root {root} {apply} --yes\n"
        )
    };
    add(
        "check locked out",
        locked
            .run(["--check", "--json", "--client", c])
            .code(1)
            .stderr_empty(),
    );
    add(
        "check generic",
        locked.run(["--check", "--json"]).code(1).stderr_empty(),
    );
    add(
        "dry-run allow",
        locked
            .run(["--dry-run", "--json", "--client", c])
            .code(1)
            .stderr_empty(),
    );
    let comment = add(
        "dry-run comment",
        locked.run(["--dry-run", "--json"]).code(1).stderr_empty(),
    );
    assert_eq!(
        comment["plan"]["opens_to_everyone"],
        serde_json::json!(["sshd"])
    );
    add(
        "repair without a terminal",
        locked
            .run(["--json", "--client", c])
            .code(1)
            .stderr_is(&no_terminal(&format!("--client {c}"))),
    );
    let fixed = add(
        "repair --yes",
        locked
            .run(["--yes", "--json", "--client", c])
            .code(0)
            .stderr_empty(),
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
        locked
            .run(["--yes", "--json", "--client", c])
            .code(0)
            .stderr_empty(),
    );
    let listed = add(
        "list-backups",
        locked
            .run(["--list-backups", "--json"])
            .code(0)
            .stderr_empty(),
    );
    assert_eq!(listed["backup_dir"], "/var/backups/wrapfix");
    // The bug: without a terminal and without --yes, --rollback --json printed nothing.
    let asked = add(
        "rollback without a terminal",
        locked
            .run(["--rollback", "--json"])
            .code(1)
            .stderr_is(&no_terminal(&format!("--rollback {id}"))),
    );
    assert_eq!(asked["change_set"], Value::Null);
    assert_eq!(asked["rollback"]["of"], id.as_str());
    let rolled = add(
        "rollback --yes",
        locked
            .run(["--rollback", "--yes", "--json"])
            .code(0)
            .stderr_empty(),
    );
    assert_eq!(rolled["change_set"]["rolls_back"], id.as_str());
    assert_eq!(rolled["change_set"]["applied"], true);

    // A verdict that depends on the client's host name lists its runs.
    let dns = System::new()
        .deny("sshd: .example.com\n")
        .os_release("ID=debian\n");
    let depends = add(
        "check depends",
        dns.run(["--check", "--json", "--client", c])
            .code(1)
            .stderr_empty(),
    );
    assert_eq!(depends["verdicts"][0]["access"], "depends", "{depends}");
    assert!(depends["verdicts"][0]["runs"].is_array(), "{depends}");
    let newline = System::new()
        .deny("sshd: 203.0.113.9")
        .os_release("ID=debian\n");
    let offer = add(
        "dry-run with the newline offer",
        newline
            .run(["--dry-run", "--json", "--client", c])
            .code(1)
            .stderr_empty(),
    );
    assert!(offer["plan"]["offer"]["command"].is_string(), "{offer}");
    let long = format!("ALL: {}\n", "x".repeat(3000));
    let impossible = System::new().deny(&long).os_release("ID=debian\n");
    add(
        "impossible",
        impossible
            .run(["--dry-run", "--json", "--strategy", "comment"])
            .code(1)
            .stderr_empty(),
    );
    let backups = tempfile::tempdir().expect("backup dir");
    let elsewhere = backups.path().display().to_string();
    let outside = System::new().deny("ALL: ALL\n");
    let out_doc = add(
        "backup dir outside the root",
        outside
            .run(["--yes", "--json", "--client", c, "--backup-dir", &elsewhere])
            .code(0)
            .stderr_empty(),
    );
    assert_eq!(out_doc["change_set"]["backup_dir_in_root"], false);

    // With a terminal on stdout: the same documents, indented (and a fix to roll back).
    let again = add(
        "repair --yes again",
        locked
            .run(["--yes", "--json", "--client", "198.51.100.8"])
            .code(0)
            .stderr_empty(),
    );
    let again = again["change_set"]["id"].as_str().expect("id");
    for (args, stderr) in [
        ("--check --json", String::new()),
        ("--list-backups --json", String::new()),
        // stdin is no terminal: nothing is asked.
        (
            "--rollback --json",
            no_terminal(&format!("--rollback {again}")),
        ),
    ] {
        let Some((text, err)) = on_a_terminal(locked.path(), args) else {
            break;
        };
        assert_eq!(err, stderr, "{args}: stderr");
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
