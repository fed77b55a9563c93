//! Verification: every target let in, and no one refused who was let in before — by construction where the edits allow it, else by evaluation.

use super::*;

/// Every target granted in `after`, or why not.
pub(super) fn targets_let_in(after: &Analysis) -> Result<(), String> {
    for tv in &after.verdicts {
        if tv.verdict.access != Access::Granted {
            let who = tv
                .target
                .client
                .as_ref()
                .map_or("the generic client".to_string(), ToString::to_string);
            return Err(format!(
                "the planned change still leaves {} from {who} {}; not offered",
                tv.target.daemon,
                tv.verdict.access.name()
            ));
        }
    }
    Ok(())
}

/// Why these edits can refuse no one new, or why that cannot be shown without evaluating.
///
/// - An inserted allow rule `DAEMONS: ADDRESS…` with literal addresses and no options
///   matches only those addresses (an address token is never compared with a host name),
///   and sits before every rule that could match them: every other client reads the rest
///   of the files as before.
/// - A commented-out rule refused every client it matched (hosts.deny without an `allow`
///   option, or hosts.allow with `deny`, `twist` or a bad option) and runs no aclexec:
///   those clients were refused before; everyone else reads the same rules as before.
/// - A final newline added to hosts.deny: libwrap stopped there and refused everyone who
///   reached it; now they read one more rule.
///
/// Lines an edit writes stay within libwrap's 2047 bytes, and a file with a NUL byte (which
/// glues lines) is always evaluated instead.
pub fn refuses_no_one_new(
    tables: &Tables,
    edits: &[Edit],
    ctx: &Context,
) -> Result<&'static str, String> {
    for e in edits {
        if tables.get(e.role).document().is_some_and(Document::has_nul) {
            return Err(format!("{} has a NUL byte", e.role));
        }
        if e.after_bytes()
            .split_inclusive(|&b| b == b'\n')
            .any(|l| l.len() >= syntax::BUFLEN)
        {
            return Err(format!("an edited line of {} would be too long", e.role));
        }
        let doc = Document::new(match e.kind {
            EditKind::Insert => e.after_bytes().into_owned(),
            _ => e.before.to_vec(),
        });
        let rules: Vec<Entry<'_>> = doc
            .entries(ctx.flavor)
            .filter(|x| matches!(x, Entry::Rule(_)))
            .collect();
        match e.kind {
            EditKind::FinalNewline => {}
            EditKind::Insert => {
                let [Entry::Rule(r)] = rules.as_slice() else {
                    return Err("the inserted lines are not one rule".into());
                };
                let literal = r.options.is_none()
                    && syntax::tokens(r.client_list()).all(|t| {
                        let inner = t.strip_prefix(b"[").and_then(|t| t.strip_suffix(b"]"));
                        std::str::from_utf8(inner.unwrap_or(t))
                            .is_ok_and(|t| t.parse::<std::net::IpAddr>().is_ok())
                    });
                if !literal {
                    return Err("the inserted rule is not only literal addresses".into());
                }
            }
            EditKind::Comment => {
                for entry in &rules {
                    let Entry::Rule(r) = entry else { continue };
                    if !always_refuses(r, e.role, ctx) {
                        return Err(format!(
                            "{}:{} does not refuse every client it matches",
                            e.role, e.line
                        ));
                    }
                }
            }
        }
    }
    Ok(
        "the plan only adds an allow rule for literal addresses, comments out rules that refused every client they matched, or adds hosts.deny's final newline",
    )
}

/// Does this rule refuse every client it matches, in every world, without an aclexec?
pub(super) fn always_refuses(r: &syntax::Rule<'_>, role: Role, ctx: &Context) -> bool {
    let Some(field) = r.options_field() else {
        return role == Role::Deny;
    };
    let opts = crate::model::options::parse(field, ctx.flavor, &ctx.accounts);
    if opts
        .ops
        .iter()
        .any(|o| matches!(o, Op::Aclexec(_) | Op::Allow))
    {
        return false;
    }
    match role {
        Role::Deny => true,
        Role::Allow => {
            opts.error.is_some() || matches!(opts.ops.last(), Some(Op::Deny | Op::Twist(_)))
        }
    }
}

/// The old verification, for edits [`refuses_no_one_new`] cannot vouch for: the targets,
/// the generic client and every address and name the files mention (up to
/// [`MAX_MENTIONED`]) evaluated before and after.
pub fn verify_full(ctx: &Context, before: &Tables, after: &Tables) -> Result<String, String> {
    let ctx = ctx.with_extra(mentioned(before, ctx.flavor, MAX_MENTIONED).0);
    let b = ctx.analyse(before.clone());
    let a = ctx.analyse(after.clone());
    verify(&ctx, &b, &a)
}

/// A plan rebased on bytes another program wrote after it was made: the planned bytes
/// `after` against the file as it is now, `now`, evaluated one by one.
pub(crate) fn verify_rebased(
    ctx: &Context,
    now: &Tables,
    after: &Tables,
) -> Result<String, String> {
    let a = ctx.analyse(after.clone());
    targets_let_in(&a)?;
    verify_full(ctx, now, after)
}

/// Check the planned bytes: every target granted for every possible name, and no client
/// that was granted before (targets, the generic client, every address and name the files
/// mention) is refused after. Returns what was checked, in words.
pub(crate) fn verify(ctx: &Context, before: &Analysis, after: &Analysis) -> Result<String, String> {
    targets_let_in(after)?;
    // Both analyses evaluated the same extra clients in the same order: the addresses and
    // names the files mention (see `mentioned`) and every stand-in for the
    // generic client.
    for (b, a) in before.extra.iter().zip(&after.extra) {
        let worse = match b.verdict.access {
            Access::Granted => a.verdict.access != Access::Granted,
            Access::Depends => a.verdict.access == Access::Denied,
            Access::Denied => false,
        };
        if worse {
            return Err(format!(
                "the planned change would refuse {} from {} (now {}); not offered",
                b.target.daemon,
                b.evaluated,
                b.verdict.access.name()
            ));
        }
    }
    let more = ctx.extra.len() >= MAX_MENTIONED;
    let checked = before.extra.len() / ctx.daemons.len().max(1);
    let mut words = format!(
        "every target is granted for any host name; no one granted before is refused after ({checked} clients checked: the generic client and those the files mention)"
    );
    if more {
        words.push_str(&format!(
            "; the files name {MAX_MENTIONED} clients or more: the rest are covered because the plan only adds an allow rule or comments out refusing rules, which refuses no one new"
        ));
    }
    Ok(words)
}
