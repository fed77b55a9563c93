//! The fleet playbook (examples/ansible/wrapfix.yml) run by a real ansible-core against
//! three local hosts, each with its own scratch root: the audit reports the locked-out
//! hosts and changes nothing, an apply run lets the admin in where needed (changed=1 only
//! there), a second apply run changes nothing, and misuse fails the right hosts.
//!
//! The system's ansible-core runs it (Debian's package; `.ci/run` installs it): the tests
//! download nothing, and skip loudly without it. Nothing is written to the real user's
//! ~/.ansible: HOME, TMPDIR and Ansible's temp dirs point into the test's scratch
//! directory, and the environment is cleared first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{Value, json};

use crate::support;

const ADMIN: &str = "198.51.100.7";
const HOSTS: [&str; 3] = ["host1", "host2", "host3"];

/// A notification callback that records each task result and the recap as JSON lines:
/// ansible-core has no JSON stdout callback of its own (that is in ansible.posix), and
/// scraping the human output is fragile. The default callback still prints to stdout,
/// which the failure messages show.
const RECORD_CALLBACK: &str = r#"
import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: wrapfix_record
type: notification
short_description: record task results for wrapfix's tests
description: Appends one JSON object a line to the file named by WRAPFIX_TEST_RECORD.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'wrapfix_record'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, doc):
        with open(os.environ['WRAPFIX_TEST_RECORD'], 'a') as f:
            f.write(json.dumps(doc, default=str) + '\n')

    def _result(self, status, result):
        r = result._result
        self._write({
            'task': result._task.get_name(),
            'host': result._host.get_name(),
            'status': status,
            'changed': bool(r.get('changed')),
            'msg': r.get('msg'),
            'facts': r.get('ansible_facts'),
            'rc': r.get('rc'),
        })

    def v2_runner_on_ok(self, result):
        self._result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed):
            self._write({'host': host, 'recap': stats.summarize(host)})
"#;

/// The system's Ansible: `ansible-playbook` and the Python it runs on (also used for the
/// hosts, which are local).
struct Ansible {
    playbook: PathBuf,
    python: PathBuf,
}

impl Ansible {
    fn python(&self) -> &Path {
        &self.python
    }

    fn playbook(&self) -> &Path {
        &self.playbook
    }
}

/// The installed ansible-playbook (Debian's `ansible-core`; `.ci/run` installs it), or
/// `None` after a loud skip. Tests never download anything.
fn ansible() -> Option<Ansible> {
    let why = "runs the fleet playbook (Debian package ansible-core)";
    let Some(playbook) = support::find_tool("ansible-playbook") else {
        support::skip("ansible-playbook", why);
        return None;
    };
    // Its interpreter, from the `#!` line, so the modules run on the Python that has the
    // ansible package; else python3.
    let python = fs::read(&playbook)
        .ok()
        .and_then(|b| {
            let line = b
                .split(|&c| c == b'\n')
                .next()?
                .strip_prefix(b"#!")?
                .to_vec();
            let line = String::from_utf8(line).ok()?;
            let mut words = line.split_whitespace();
            let first = words.next()?;
            // `#!/usr/bin/env python3`: the program is the next word.
            let program = if first.ends_with("/env") {
                words.next()?
            } else {
                first
            };
            support::find_tool(program)
        })
        .or_else(|| support::find_tool("python3"));
    let Some(python) = python else {
        support::skip("python3", why);
        return None;
    };
    Some(Ansible { playbook, python })
}

/// A scratch directory with one root per host, the inventory, Ansible's config and temp
/// dirs, and a private HOME and TMPDIR.
struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    /// host1: `ALL: ALL` in hosts.deny (locked out). host2: the same, but hosts.allow lets
    /// the admin in. host3: `all:all:deny` in hosts.allow (locked out, lower case: libwrap
    /// compares keywords and options without case).
    fn new(ansible: &Ansible) -> Fleet {
        let fleet = Fleet {
            dir: tempfile::tempdir().expect("create a scratch directory"),
        };
        let files: [(&str, Option<&str>, Option<&str>); 3] = [
            ("host1", None, Some("ALL: ALL\n")),
            ("host2", Some("sshd: 198.51.100.7\n"), Some("ALL: ALL\n")),
            ("host3", Some("all:all:deny\n"), None),
        ];
        for (host, allow, deny) in files {
            let etc = fleet.root(host).join("etc");
            fs::create_dir_all(&etc).expect("create ROOT/etc");
            if let Some(allow) = allow {
                fs::write(etc.join("hosts.allow"), allow).expect("write hosts.allow");
            }
            if let Some(deny) = deny {
                fs::write(etc.join("hosts.deny"), deny).expect("write hosts.deny");
            }
        }
        for dir in [
            "home",
            "tmp",
            "ansible-local",
            "ansible-remote",
            "callbacks",
        ] {
            fs::create_dir_all(fleet.path(dir)).expect("create a scratch subdirectory");
        }
        fs::write(fleet.path("callbacks/wrapfix_record.py"), RECORD_CALLBACK)
            .expect("write the callback plugin");
        // An ansible.cfg of our own, so that none in /etc/ansible or the working
        // directory changes the run.
        fs::write(fleet.path("ansible.cfg"), "[defaults]\n").expect("write ansible.cfg");
        fleet.write_inventory(ansible, &BTreeMap::new());
        fleet
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn root(&self, host: &str) -> PathBuf {
        self.path("roots").join(host)
    }

    /// A YAML inventory (written as JSON, which is YAML): no quoting to get wrong.
    /// `extra` adds hosts with their own variables.
    fn write_inventory(&self, ansible: &Ansible, extra: &BTreeMap<&str, Value>) {
        let mut hosts = serde_json::Map::new();
        for host in HOSTS {
            hosts.insert(host.into(), json!({ "wrapfix_root": self.root(host) }));
        }
        for (host, vars) in extra {
            hosts.insert((*host).into(), vars.clone());
        }
        let inventory = json!({
            "all": {
                "hosts": hosts,
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": ansible.python(),
                },
            },
        });
        fs::write(
            self.path("inventory.json"),
            serde_json::to_string_pretty(&inventory).expect("encode the inventory"),
        )
        .expect("write the inventory");
    }

    /// Every file under a host's root with its bytes.
    fn snapshot(&self, host: &str) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in fs::read_dir(dir).expect("read a scratch directory") {
                let path = entry.expect("read a directory entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    let bytes = fs::read(&path).expect("read a scratch file");
                    out.insert(path, bytes);
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root(host), &mut out);
        out
    }

    /// The change sets wrapfix wrote under a host's root.
    fn change_sets(&self, host: &str) -> usize {
        fs::read_dir(self.root(host).join("var/backups/wrapfix")).map_or(0, |dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().join("manifest.json").exists())
                .count()
        })
    }

    /// `wrapfix --check` of a host's root for the admin: its exit code.
    fn check(&self, host: &str) -> i32 {
        let out = Command::new(env!("CARGO_BIN_EXE_wrapfix"))
            .args(["--check", "--client", ADMIN, "--root"])
            .arg(self.root(host))
            .output()
            .expect("run wrapfix --check");
        out.status.code().expect("wrapfix exits with a code")
    }

    /// Run the playbook with these extra variables; the record of what happened.
    fn play(&self, ansible: &Ansible, extra_vars: Value) -> Run {
        let record = self.path("record.jsonl");
        let _ = fs::remove_file(&record);
        let playbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ansible/wrapfix.yml");
        let mut vars = json!({ "wrapfix_binary": env!("CARGO_BIN_EXE_wrapfix") });
        if let (Some(vars), Some(extra)) = (vars.as_object_mut(), extra_vars.as_object()) {
            vars.extend(extra.clone());
        }
        let started = Instant::now();
        let output = Command::new(ansible.playbook())
            .arg("-i")
            .arg(self.path("inventory.json"))
            .arg(&playbook)
            .arg("--extra-vars")
            .arg(vars.to_string())
            .current_dir(self.dir.path())
            // A clean environment: no ANSIBLE_* of the user's, no SSH_CONNECTION (wrapfix's
            // default client), no real HOME.
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C.UTF-8") // ansible-core refuses to run without UTF-8
            .env("HOME", self.path("home"))
            .env("TMPDIR", self.path("tmp"))
            .env("ANSIBLE_CONFIG", self.path("ansible.cfg"))
            .env("ANSIBLE_LOCAL_TEMP", self.path("ansible-local"))
            .env("ANSIBLE_REMOTE_TEMP", self.path("ansible-remote"))
            .env("ANSIBLE_CALLBACK_PLUGINS", self.path("callbacks"))
            .env("ANSIBLE_CALLBACKS_ENABLED", "wrapfix_record")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("WRAPFIX_TEST_RECORD", &record)
            .output()
            .expect("run ansible-playbook");
        let text = fs::read_to_string(&record).unwrap_or_default();
        let events = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line from the callback"))
            .collect();
        let run = Run { output, events };
        eprintln!("ansible-playbook {vars} took {:.1?}", started.elapsed());
        // The binary's temporary directory (ansible.builtin.tempfile puts it in TMPDIR) is
        // removed on every host, failed or not.
        let left: Vec<_> = fs::read_dir(self.path("tmp"))
            .expect("read TMPDIR")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(|name| name.to_string_lossy().starts_with("wrapfix."))
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}\n{}", run.log());
        run
    }
}

/// What one ansible-playbook run did.
struct Run {
    output: Output,
    events: Vec<Value>,
}

impl Run {
    /// The human output, for failure messages.
    fn log(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    /// A host's PLAY RECAP counter (ok, changed, failures, unreachable, skipped, ...).
    fn recap(&self, host: &str, counter: &str) -> i64 {
        self.events
            .iter()
            .find(|e| e["host"] == host && e.get("recap").is_some())
            .and_then(|e| e["recap"][counter].as_i64())
            .unwrap_or_else(|| panic!("no {counter} in {host}'s recap\n{}", self.log()))
    }

    /// A host's result of the task with this name.
    fn result(&self, task: &str, host: &str) -> &Value {
        self.events
            .iter()
            .find(|e| e["task"] == task && e["host"] == host)
            .unwrap_or_else(|| panic!("{host} has no result for task {task:?}\n{}", self.log()))
    }

    /// The hosts with `true` in a fact set by the task `task`.
    fn hosts_with_fact(&self, task: &str, fact: &str) -> BTreeSet<String> {
        HOSTS
            .iter()
            .filter(|h| self.result(task, h)["facts"][fact] == true)
            .map(|h| h.to_string())
            .collect()
    }

    /// The fleet summary's list `key` (the task runs once, on one of the hosts).
    fn summary(&self, key: &str) -> Vec<String> {
        let event = self
            .events
            .iter()
            .find(|e| e["task"] == "Sum up the fleet" && e["status"] == "ok")
            .unwrap_or_else(|| panic!("no fleet summary\n{}", self.log()));
        serde_json::from_value(event["msg"][key].clone())
            .unwrap_or_else(|_| panic!("summary {key} is not a list: {event}"))
    }

    fn assert_success(&self) {
        assert!(
            self.output.status.success(),
            "ansible-playbook failed: {:?}\n{}",
            self.output.status,
            self.log()
        );
        for host in HOSTS {
            assert_eq!(
                self.recap(host, "failures"),
                0,
                "{host} failed\n{}",
                self.log()
            );
            assert_eq!(self.recap(host, "unreachable"), 0, "{host}\n{}", self.log());
        }
    }

    fn changed(&self, host: &str) -> i64 {
        self.recap(host, "changed")
    }
}

/// A debug message as one string: the lines of a list (the playbook's report is one),
/// else the text.
fn message(result: &Value) -> String {
    match &result["msg"] {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines
            .iter()
            .map(|line| line.as_str().map_or_else(|| line.to_string(), String::from))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[test]
fn playbook_audits_then_repairs_the_locked_out_hosts_once() {
    let Some(ansible) = ansible() else { return };
    let ansible = &ansible;
    let fleet = Fleet::new(ansible);
    let before: Vec<_> = HOSTS.iter().map(|h| fleet.snapshot(h)).collect();

    // Audit: exit 0 even though hosts are locked out (wrapfix's exit 1 is the answer).
    let audit = fleet.play(ansible, json!({ "wrapfix_client": ADMIN }));
    audit.assert_success();
    let locked: BTreeSet<String> = ["host1", "host3"].map(String::from).into();
    assert_eq!(
        audit.hosts_with_fact("Read the report", "wrapfix_locked_out"),
        locked,
        "{}",
        audit.log()
    );
    assert_eq!(audit.summary("locked_out"), ["host1", "host3"]);
    assert!(audit.summary("repaired").is_empty());
    let report = |host| message(audit.result("Report who is locked out", host));
    let host1 = report("host1");
    assert!(
        host1.contains(&format!(
            "sshd from {ADMIN}: denied by /etc/hosts.deny:1 \"ALL: ALL\""
        )),
        "{host1}"
    );
    let host3 = report("host3");
    assert!(
        host3.contains(&format!(
            "sshd from {ADMIN}: denied by /etc/hosts.allow:1 \"all:all:deny\""
        )),
        "{host3}"
    );
    assert_eq!(
        audit.result("Report who is locked out", "host2")["status"],
        "skipped"
    );
    for (i, host) in HOSTS.iter().enumerate() {
        assert_eq!(audit.changed(host), 0, "{host}\n{}", audit.log());
        assert_eq!(fleet.snapshot(host), before[i], "the audit changed {host}");
    }

    // Apply: only the locked-out hosts change, and afterwards the admin gets in everywhere.
    let apply_vars = json!({ "wrapfix_client": ADMIN, "wrapfix_apply": true });
    let apply = fleet.play(ansible, apply_vars.clone());
    apply.assert_success();
    for (host, changed) in [("host1", 1), ("host2", 0), ("host3", 1)] {
        assert_eq!(apply.changed(host), changed, "{host}\n{}", apply.log());
        assert_eq!(fleet.change_sets(host), changed as usize, "{host}");
        assert_eq!(fleet.check(host), 0, "{host} still locks {ADMIN} out");
    }
    assert_eq!(fleet.snapshot("host2"), before[1], "host2 was fine");
    assert_eq!(apply.summary("repaired"), ["host1", "host3"]);
    let change_set = &apply.result("Keep the change set", "host1")["facts"]["wrapfix_change_set"];
    assert_eq!(change_set["applied"], true, "{change_set}");

    // Apply again: nothing to do anywhere, nothing written.
    let after: Vec<_> = HOSTS.iter().map(|h| fleet.snapshot(h)).collect();
    let again = fleet.play(ansible, apply_vars);
    again.assert_success();
    for (i, host) in HOSTS.iter().enumerate() {
        assert_eq!(again.changed(host), 0, "{host}\n{}", again.log());
        assert_eq!(
            fleet.snapshot(host),
            after[i],
            "the second apply changed {host}"
        );
    }
    assert!(again.summary("locked_out").is_empty());
}

#[test]
fn playbook_fails_only_the_hosts_it_cannot_handle() {
    let Some(ansible) = ansible() else { return };
    let ansible = &ansible;
    let fleet = Fleet::new(ansible);
    // Per-host variables: host1 asks to apply without an address (refused before anything
    // runs), host2 names a root that does not exist (wrapfix exits 2), host3 audits.
    let mut extra = BTreeMap::new();
    extra.insert(
        "host1",
        json!({ "wrapfix_root": fleet.root("host1"), "wrapfix_apply": true }),
    );
    extra.insert(
        "host2",
        json!({ "wrapfix_root": fleet.path("no-such-root") }),
    );
    fleet.write_inventory(ansible, &extra);
    let before = fleet.snapshot("host1");

    let run = fleet.play(ansible, json!({}));
    assert_eq!(
        run.output.status.code(),
        Some(2),
        "ansible-playbook exits 2 when hosts failed\n{}",
        run.log()
    );
    let refused = run.result("Refuse to apply without an address to let in", "host1");
    assert_eq!(refused["status"], "failed", "{}", run.log());
    assert!(
        message(refused).contains("needs wrapfix_client"),
        "{refused}"
    );
    assert_eq!(
        fleet.snapshot("host1"),
        before,
        "host1 was refused, so untouched"
    );

    let check = run.result("Check who is locked out", "host2");
    assert_eq!(check["status"], "failed", "{}", run.log());
    assert_eq!(check["rc"], 2, "{check}");

    // A locked-out host is the audit's answer, not a failure.
    assert_eq!(run.recap("host3", "failures"), 0, "{}", run.log());
    assert_eq!(run.summary("locked_out"), ["host3"]);
}
