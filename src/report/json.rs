//! The JSON document (docs/json.md, docs/wrapfix.schema.json): targets, verdicts with their runs, findings.

use super::*;
use crate::fsops;

/// The targets of a change as its manifest records them: who, and their access before it
/// (not the runs: a ban list of globs gives thousands).
pub fn targets_json(a: &Analysis) -> Value {
    Value::Array(
        a.verdicts
            .iter()
            .map(|tv| {
                let c = tv.target.client.as_ref();
                json!({
                    "daemon": tv.target.daemon,
                    "client": c.map(|c| c.addr.as_str()),
                    "name": c.and_then(|c| c.name.as_deref()),
                    "user": c.and_then(|c| c.user.as_deref()),
                    "access": tv.verdict.access.name(),
                })
            })
            .collect(),
    )
}

/// The JSON verdict objects (also used for a plan's "after" list).
pub fn verdicts_json(a: &Analysis) -> Value {
    serde_json::to_value(verdicts_out(a)).unwrap_or(Value::Null)
}

#[derive(Serialize)]
pub struct RuleOut {
    pub(super) file: &'static str,
    pub(super) line: u32,
    pub(super) text: String,
}

pub(super) fn rule_out(r: &RuleRef) -> RuleOut {
    RuleOut {
        file: r.loc.role.system_path(),
        line: r.loc.line,
        text: String::from_utf8_lossy(&r.text).into_owned(),
    }
}

/// One possible run of a `depends` verdict.
#[derive(Serialize)]
pub struct RunOut {
    pub(super) access: &'static str,
    pub(super) rule: Option<RuleOut>,
    /// What tells this run apart (its "yes" answers and those at its deciding rule).
    pub(super) when: Vec<String>,
    pub(super) name: Option<String>,
    pub(super) plain: bool,
    pub(super) proven: bool,
}

/// A verdict in the JSON report (typed, so thousands of them stream out without building
/// a tree of values first). `rule` and the start of `reason` are the plain world's.
#[derive(Serialize)]
pub struct VerdictOut<'a> {
    pub(super) daemon: &'a str,
    pub(super) client: Option<&'a str>,
    pub(super) name: Option<&'a str>,
    pub(super) user: Option<&'a str>,
    pub(super) access: &'static str,
    pub(super) rule: Option<RuleOut>,
    pub(super) reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) runs: Option<Vec<RunOut>>,
    /// How many runs there are in all (`runs` lists at most [`RUNS_IN_JSON`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) runs_total: Option<usize>,
}

/// Runs of one verdict listed in the JSON, the plain world's first; `runs_total` counts
/// them all and `reason` summarises the rest.
pub const RUNS_IN_JSON: usize = 5000;

pub(super) fn run_out(o: &crate::eval::Outcome) -> RunOut {
    RunOut {
        access: match o.fate() {
            Fate::Granted => "granted",
            Fate::Denied => "denied",
            Fate::Hangs => "hangs",
        },
        rule: o.decision.rule.as_ref().map(rule_out),
        when: explain::conditions(o),
        name: o.witness.as_deref().map(show),
        plain: o.plain,
        proven: o.proven,
    }
}

pub fn verdicts_out(a: &Analysis) -> Vec<VerdictOut<'_>> {
    a.verdicts
        .iter()
        .map(|tv| {
            let v = &tv.verdict;
            let client = tv.target.client.as_ref();
            // Every run of a `depends` verdict, the plain world's first.
            let depends = v.access == Access::Depends;
            let runs = depends.then(|| {
                std::iter::once(v.plain())
                    .chain(v.outcomes.iter().filter(|o| !o.plain))
                    .take(RUNS_IN_JSON)
                    .map(run_out)
                    .collect()
            });
            VerdictOut {
                daemon: &tv.target.daemon,
                client: client.map(|c| c.addr.as_str()),
                name: client.and_then(|c| c.name.as_deref()),
                user: client.and_then(|c| c.user.as_deref()),
                access: v.access.name(),
                rule: v.decision().rule.as_ref().map(rule_out),
                reason: explain::verdict_reason(v),
                runs,
                runs_total: depends.then_some(v.outcomes.len()),
            }
        })
        .collect()
}

/// The JSON document (docs/json.md).
#[derive(Serialize)]
pub struct Doc<'a> {
    pub(super) version: u32,
    /// Which mode printed it (`check`, `dry-run`, `repair`, `rollback`, `list-backups`):
    /// one contract, `docs/wrapfix.schema.json`, and this says which part applies.
    pub(super) mode: &'static str,
    pub(super) root: String,
    pub(super) flavor: Value,
    pub(super) files: Vec<Value>,
    pub(super) verdicts: Vec<VerdictOut<'a>>,
    pub(super) findings: Vec<Value>,
    pub(super) plan: Option<PlanOut<'a>>,
    pub(super) change_set: Value,
}

impl Doc<'_> {
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        write_json(out, self)
    }
}

/// Every JSON document wrapfix prints: indented for a person at a terminal; compact for
/// programs (a report on 10,000 clients is megabytes); then a newline.
pub fn write_json(out: &mut dyn Write, doc: &impl Serialize) -> io::Result<()> {
    if std::io::stdout().is_terminal() {
        serde_json::to_writer_pretty(&mut *out, doc)?;
    } else {
        serde_json::to_writer(&mut *out, doc)?;
    }
    writeln!(out)
}

/// The whole JSON document. `plan` and `change_set` are filled in by the repair modes.
pub fn json<'a>(
    config: &Config,
    a: &'a Analysis,
    plan: Option<PlanOut<'a>>,
    change_set: Value,
) -> Doc<'a> {
    let files: Vec<Value> = a
        .tables
        .both()
        .iter()
        .map(|f| {
            json!({
                "role": f.role.name(),
                "path": f.role.system_path(),
                "state": f.state_name(),
                "rules": a.rule_counts[f.role],
            })
        })
        .collect();
    let findings: Vec<Value> = a
        .findings
        .iter()
        .map(|f| {
            json!({
                "kind": f.kind.name(),
                "severity": f.severity.name(),
                "file": f.file(),
                "line": f.line,
                "text": f.text.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()),
                "message": f.message,
            })
        })
        .collect();
    Doc {
        version: 1,
        mode: config.mode.name(),
        root: config.root.dir().display().to_string(),
        flavor: json!({"name": config.flavor.flavor.name(), "source": config.flavor.source, "why": config.flavor.why}),
        files,
        verdicts: verdicts_out(a),
        findings,
        plan,
        change_set,
    }
}

/// The `change_set` object of the JSON document, for fixes and rollbacks alike.
pub fn change_set_json(
    config: &Config,
    applied: Option<&fsops::Applied>,
    verified: bool,
    rolls_back: Option<&str>,
) -> Value {
    let (dir, in_root) = match applied {
        Some(a) => {
            let (d, r) = config.as_seen(&a.dir);
            (Some(d), r)
        }
        None => (None, true),
    };
    json!({
        "id": applied.map(|a| a.id.clone()),
        "backup_dir": dir,
        "backup_dir_in_root": in_root,
        "applied": applied.is_some(),
        "verified": verified,
        "rolls_back": rolls_back,
        // Lines other programs appended while the file was replaced, carried over.
        "salvaged": applied
            .map(|a| {
                a.files
                    .iter()
                    .filter(|f| !f.salvaged.is_empty())
                    .map(|f| json!({"file": f.system_path, "bytes": crate::model::bytes::json(&f.salvaged)}))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
        // Files whose replaced copy another program still had open for writing when
        // wrapfix stopped waiting: lines it writes now miss them (exit status 3).
        "still_open": applied
            .map(|a| {
                a.files
                    .iter()
                    .filter_map(|f| Some(json!({"file": f.system_path, "message": f.still_open.as_ref()?})))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    })
}

/// One file of a rollback, as the JSON document shows it.
pub struct RestoredFile<'a> {
    pub path: &'a str,
    /// `restore`, `remove` or `unchanged`.
    pub result: &'static str,
    pub diff: String,
}

/// The JSON document of `--rollback`.
pub fn rollback_json(
    config: &Config,
    set: &fsops::ChangeSetInfo,
    exact: bool,
    files: &[RestoredFile],
    change_set: Value,
) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|f| json!({"path": f.path, "result": f.result, "diff": f.diff}))
        .collect();
    json!({
        "version": 1,
        "mode": "rollback",
        "root": config.root.dir().display().to_string(),
        "rollback": {"of": set.id, "action": set.action, "exact": exact, "files": files},
        "change_set": change_set,
    })
}

/// The JSON document of `--list-backups`: the change sets, oldest first.
pub fn change_sets_json(config: &Config, sets: &[fsops::ChangeSetInfo]) -> Value {
    let (dir, in_root) = config.as_seen(&config.backup_dir);
    let list: Vec<Value> = sets
        .iter()
        .map(|s| {
            json!({"id": s.id, "action": s.action, "time": s.time, "files": s.files,
                   "complete": s.complete, "in_effect": s.in_effect(),
                   "rolls_back": s.rolls_back, "rolled_back_by": s.rolled_back_by})
        })
        .collect();
    json!({
        "version": 1,
        "mode": "list-backups",
        "root": config.root.dir().display().to_string(),
        "backup_dir": dir,
        "backup_dir_in_root": in_root,
        "change_sets": list,
    })
}
