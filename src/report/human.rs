//! The human report: each verdict with its deciding rule and why, then the findings.

use super::*;

pub(super) fn access_word(p: Paint, a: Access) -> String {
    match a {
        Access::Granted => p.green("granted"),
        Access::Denied => p.red("denied"),
        Access::Depends => p.yellow("depends"),
    }
}

pub(super) fn who(tv: &TargetVerdict) -> String {
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

pub(super) fn rule_at(r: &RuleRef) -> String {
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
                let n = a.rule_counts[file.role];
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
pub(super) const RUNS_SHOWN: usize = 50;

pub(super) fn verdict(
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

pub(super) fn finding(
    out: &mut dyn Write,
    p: Paint,
    f: &Finding,
    width: Option<usize>,
) -> io::Result<()> {
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
