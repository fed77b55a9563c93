//! What wrapfix prints: the human report and the JSON document (docs/json.md).

pub mod screen;
pub mod term;

use std::io::{self, IsTerminal, Write};

use crate::model::bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::Strategy;
use crate::config::Config;
use crate::diagnose::analysis::{Analysis, TargetVerdict};
use crate::diagnose::detect::{Finding, Severity};
use crate::diagnose::explain;
use crate::eval::{Access, Fate, RuleRef};
use crate::model::syntax::Document;
use crate::model::tables::{Role, Tables};
use crate::repair::diff;
use crate::repair::plan::{EditKind, Plan};

/// Bytes from a file as text a terminal shows safely.
pub fn show(bytes: &[u8]) -> String {
    crate::model::syntax::escape(bytes)
}

/// Rule text in a report line: [`show`], cut after [`SHOWN_BYTES`] bytes (a 2048-byte line
/// would fill the screen); the JSON has it whole.
fn show_rule(bytes: &[u8]) -> String {
    if bytes.len() <= SHOWN_BYTES {
        return show(bytes);
    }
    format!(
        "{}… ({} bytes)",
        show(&bytes[..SHOWN_BYTES]),
        crate::diagnose::explain::count(bytes.len())
    )
}

/// Bytes of a rule shown on one report line.
const SHOWN_BYTES: usize = 100;

/// Columns `s` takes on a terminal: its characters, colour sequences not counted.
fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// `text` broken between words so that no line is wider than `width` (a terminal's), the
/// first line after `first`, the others after `rest` (indentation), each ending in a
/// newline. A word longer than a line (a long path) gets a line of its own rather than
/// being split. Without a width (not a terminal): one line.
pub fn wrap(text: &str, width: Option<usize>, first: &str, rest: &str) -> String {
    let Some(width) = width else {
        return format!("{first}{text}\n");
    };
    let mut out = String::new();
    let mut line = first.to_string();
    let mut used = visible_width(first);
    // Words with the spaces before them, so runs of spaces (columns) are kept; the spaces
    // at a break are dropped.
    let mut rest_of = text;
    let mut at_start = true;
    while !rest_of.is_empty() {
        let spaces = rest_of.len() - rest_of.trim_start_matches(' ').len();
        let after = &rest_of[spaces..];
        let word_len = after.find(' ').unwrap_or(after.len());
        let word = &after[..word_len];
        rest_of = &after[word_len..];
        if word.is_empty() {
            break;
        }
        let gap = if at_start { 0 } else { spaces };
        let w = visible_width(word);
        if !at_start && used + gap + w > width {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            used = visible_width(rest);
        } else {
            line.push_str(&" ".repeat(gap));
            used += gap;
        }
        line.push_str(word);
        used += w;
        at_start = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// ANSI colour, or none.
#[derive(Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn red(self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    pub fn green(self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.wrap("1;33", s)
    }
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
}

fn access_word(p: Paint, a: Access) -> String {
    match a {
        Access::Granted => p.green("granted"),
        Access::Denied => p.red("denied"),
        Access::Depends => p.yellow("depends"),
    }
}

fn who(tv: &TargetVerdict) -> String {
    match &tv.target.client {
        Some(c) => format!("{} from {c}", tv.target.daemon),
        None => format!(
            "{} from a client no rule mentions (e.g. {} = {})",
            tv.target.daemon,
            tv.evaluated.addr,
            tv.evaluated.name.as_deref().unwrap_or("?")
        ),
    }
}

fn rule_at(r: &RuleRef) -> String {
    format!("{}:{}", r.loc.role, r.loc.line)
}

pub use crate::diagnose::explain::reason;

/// The human report of an analysis.
pub fn human(out: &mut dyn Write, config: &Config, a: &Analysis) -> io::Result<()> {
    let p = Paint(config.color);
    let root = config.root.dir().display().to_string();
    // The why quotes os-release or redhat-release, text from the disk.
    let header = format!(
        "{} {} (flavor {}: {})",
        p.bold("wrapfix:"),
        crate::report::term::escape(&root),
        config.flavor.flavor,
        crate::report::term::escape(&config.flavor.why)
    );
    write!(out, "{}", wrap(&header, config.width, "", "  "))?;
    for file in a.tables.both() {
        let detail = match file.state_name() {
            "ok" => {
                let n = a.rule_counts[file.role as usize];
                format!("{n} rule{}", if n == 1 { "" } else { "s" })
            }
            other => other.to_string(),
        };
        writeln!(out, "  {:<18} {detail}", file.role.system_path())?;
    }
    for tv in &a.verdicts {
        if config.quiet && tv.verdict.access == Access::Granted {
            continue;
        }
        writeln!(out)?;
        verdict(out, p, tv, config.verbose, config.width)?;
    }
    let shown: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| !config.quiet || f.severity == Severity::Error)
        .collect();
    if !shown.is_empty() {
        writeln!(out, "\n{}", p.bold("Findings:"))?;
        for f in shown {
            finding(out, p, f, config.width)?;
        }
    }
    Ok(())
}

/// Runs listed one by one with `-v`.
const RUNS_SHOWN: usize = 50;

fn verdict(
    out: &mut dyn Write,
    p: Paint,
    tv: &TargetVerdict,
    verbose: bool,
    width: Option<usize>,
) -> io::Result<()> {
    let v = &tv.verdict;
    let head = format!("{}: {}", p.bold(&who(tv)), access_word(p, v.access));
    write!(out, "{}", wrap(&head, width, "", "  "))?;
    let d = v.decision();
    if let Some(r) = &d.rule {
        writeln!(out, "  rule  {}  {}", rule_at(r), show_rule(&r.text))?;
    }
    // Reasons quote option names and values from the file: escaped.
    let why = match (v.access, explain::plain_world(v)) {
        (Access::Depends, Some(plain)) => format!(
            "{} {}: {}",
            explain::fate_word(v.plain().fate()),
            crate::report::term::escape(&plain),
            crate::report::term::escape(&reason(d))
        ),
        _ => crate::report::term::escape(&reason(d)).into_owned(),
    };
    write!(out, "{}", wrap(&why, width, "  why   ", "        "))?;
    for u in explain::unless(v) {
        write!(
            out,
            "{}",
            wrap(
                &crate::report::term::escape(&u),
                width,
                "  but   ",
                "        "
            )
        )?;
    }
    if v.access == Access::Depends {
        let text = "(reverse DNS, the server address, netgroups or a command decide: give --client ADDRESS=NAME if you know the name)";
        write!(out, "{}", wrap(text, width, "        ", "        "))?;
    }
    if !verbose || v.outcomes.len() < 2 {
        return Ok(());
    }
    writeln!(out, "  runs  ({}):", explain::count(v.outcomes.len()))?;
    for o in v.outcomes.iter().take(RUNS_SHOWN) {
        let conds = explain::conditions(o);
        let when = if conds.is_empty() {
            "always".to_string()
        } else {
            format!("when {}", conds.join(" and "))
        };
        let word = match o.fate() {
            Fate::Granted => p.green("granted"),
            Fate::Denied => p.red("denied"),
            Fate::Hangs => p.red("hangs"),
        };
        let rule = o
            .decision
            .rule
            .as_ref()
            .map(|r| format!(" by {}  {}", rule_at(r), show_rule(&r.text)))
            .unwrap_or_default();
        let maybe = if o.proven { "" } else { " (may be impossible)" };
        let plain = if o.plain { " [plain world]" } else { "" };
        let when = crate::report::term::escape(&when);
        writeln!(out, "  - {word} {when}{maybe}{plain}{rule}")?;
    }
    if v.outcomes.len() > RUNS_SHOWN {
        writeln!(
            out,
            "  … and {} more runs (all of them are in --json)",
            explain::count(v.outcomes.len() - RUNS_SHOWN)
        )?;
    }
    Ok(())
}

fn finding(out: &mut dyn Write, p: Paint, f: &Finding, width: Option<usize>) -> io::Result<()> {
    let sev = match f.severity {
        Severity::Error => p.red("error  "),
        Severity::Warning => p.yellow("warning"),
        Severity::Info => "info   ".to_string(),
    };
    let wher = match (f.file(), f.line) {
        (Some(file), Some(l)) => format!("{file}:{l}"),
        (Some(file), None) => file.to_string(),
        _ => String::new(),
    };
    let text = f
        .text
        .as_deref()
        .map(|t| format!("  {}", show_rule(t)))
        .unwrap_or_default();
    // File names (a jail.d/*.conf, a log) and the messages naming them come from the disk.
    let head = format!(
        "{sev} {:<14} {}{text}",
        f.kind.name(),
        crate::report::term::escape(&wher)
    );
    write!(out, "{}", wrap(&head, width, "  ", "          "))?;
    let indent = "          ";
    write!(
        out,
        "{}",
        wrap(
            &crate::report::term::escape(&f.message),
            width,
            indent,
            indent
        )
    )
}

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
    file: &'static str,
    line: u32,
    text: String,
}

fn rule_out(r: &RuleRef) -> RuleOut {
    RuleOut {
        file: r.loc.role.system_path(),
        line: r.loc.line,
        text: String::from_utf8_lossy(&r.text).into_owned(),
    }
}

/// One possible run of a `depends` verdict.
#[derive(Serialize)]
pub struct RunOut {
    access: &'static str,
    rule: Option<RuleOut>,
    /// What tells this run apart (its "yes" answers and those at its deciding rule).
    when: Vec<String>,
    name: Option<String>,
    plain: bool,
    proven: bool,
}

/// A verdict in the JSON report (typed, so thousands of them stream out without building
/// a tree of values first). `rule` and the start of `reason` are the plain world's.
#[derive(Serialize)]
pub struct VerdictOut<'a> {
    daemon: &'a str,
    client: Option<&'a str>,
    name: Option<&'a str>,
    user: Option<&'a str>,
    access: &'static str,
    rule: Option<RuleOut>,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<Vec<RunOut>>,
    /// How many runs there are in all (`runs` lists at most [`RUNS_IN_JSON`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    runs_total: Option<usize>,
}

/// Runs of one verdict listed in the JSON, the plain world's first; `runs_total` counts
/// them all and `reason` summarises the rest.
pub const RUNS_IN_JSON: usize = 5000;

fn run_out(o: &crate::eval::Outcome) -> RunOut {
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
    version: u32,
    /// Which mode printed it (`check`, `dry-run`, `repair`, `rollback`, `list-backups`):
    /// one contract, `docs/wrapfix.schema.json`, and this says which part applies.
    mode: &'static str,
    root: String,
    flavor: Value,
    files: Vec<Value>,
    verdicts: Vec<VerdictOut<'a>>,
    findings: Vec<Value>,
    plan: Value,
    change_set: Value,
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
pub fn json<'a>(config: &Config, a: &'a Analysis, plan: Value, change_set: Value) -> Doc<'a> {
    let files: Vec<Value> = a
        .tables
        .both()
        .iter()
        .map(|f| {
            json!({
                "role": f.role.name(),
                "path": f.role.system_path(),
                "state": f.state_name(),
                "rules": a.rule_counts[f.role as usize],
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

/// The diff of a plan, file by file.
pub fn plan_diff(plan: &Plan, tables: &Tables, p: Paint) -> String {
    let mut out = String::new();
    for role in [Role::Allow, Role::Deny] {
        if plan.new[role as usize].is_none() {
            continue;
        }
        let old = tables.get(role).document().map(Document::bytes);
        // From the edits themselves: they say which lines they replace.
        let mut edits: Vec<_> = plan.edits.iter().filter(|e| e.role == role).collect();
        edits.sort_by_key(|e| e.at);
        let changes: Vec<diff::Change<'_>> = edits
            .iter()
            .map(|e| diff::Change {
                start: e.line.saturating_sub(1) as usize,
                old_lines: diff::lines(&e.before).len(),
                new: &e.after,
            })
            .collect();
        out.push_str(&diff::of_changes(
            role.system_path(),
            old,
            &changes,
            "planned",
            p,
        ));
    }
    out
}

/// The plan in words, then (with `diff`) its diff.
pub fn plan_human(
    out: &mut dyn Write,
    config: &Config,
    plan: &Plan,
    tables: &Tables,
    diff: bool,
) -> io::Result<()> {
    let p = Paint(config.color);
    let strategy = match plan.strategy {
        Strategy::Allow => "add an allow entry",
        Strategy::Comment => "comment out the refusing rules",
    };
    writeln!(out, "\n{} {strategy}", p.bold("Plan:"))?;
    for e in &plan.edits {
        let what = match e.kind {
            EditKind::Insert => "insert before line",
            EditKind::Comment => "comment out line",
            EditKind::FinalNewline => "add the final newline to line",
        };
        let text = format!("{} {what} {}: {}", e.role, e.line, e.why);
        write!(out, "{}", wrap(&text, config.width, "  ", "    "))?;
    }
    let verified = format!("verified: {}", plan.verified);
    write!(out, "{}", wrap(&verified, config.width, "  ", "    "))?;
    if diff {
        writeln!(out)?;
        write!(out, "{}", plan_diff(plan, tables, p))?;
    }
    Ok(())
}

/// The `plan` object of the JSON document.
pub fn plan_json(plan: &Plan, tables: &Tables) -> Value {
    let edits: Vec<Value> = plan
        .edits
        .iter()
        .map(|e| {
            json!({
                "file": e.role.system_path(),
                "line": e.line,
                "kind": e.kind.name(),
                "before": bytes::json(&e.before),
                "after": bytes::json(&e.after),
                "why": e.why,
            })
        })
        .collect();
    json!({
        "strategy": match plan.strategy { Strategy::Allow => "allow", Strategy::Comment => "comment" },
        "edits": edits,
        "diff": plan_diff(plan, tables, Paint(false)),
        "after": verdicts_json(&plan.after),
        // A plan is only ever shown once verified; what the check covered, in words.
        "verified": true,
        "verification": plan.verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words_keeps_columns_and_never_splits_a_word() {
        assert_eq!(wrap("a  b", None, "> ", "  "), "> a  b\n");
        assert_eq!(
            wrap("one two three", Some(9), "", "  "),
            "one two\n  three\n"
        );
        assert_eq!(wrap("Undo:   x", Some(80), "", ""), "Undo:   x\n");
        let path = "/a/very/long/path/that/does/not/fit";
        assert_eq!(
            wrap(&format!("see {path} now"), Some(12), "", ""),
            format!("see\n{path}\nnow\n")
        );
        // Colour does not count.
        assert_eq!(
            wrap("\x1b[1mab\x1b[0m cd", Some(5), "", ""),
            "\x1b[1mab\x1b[0m cd\n"
        );
    }
}
