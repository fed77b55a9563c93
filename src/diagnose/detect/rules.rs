//! Findings a rule carries by itself, whoever asks: not-a-comment, option errors, twists, ignored prefixes, unbracketed IPv6.

use super::*;

/// Findings a rule carries by itself (whoever asks): not-a-comment, option-error, twist.
pub fn rule_findings(
    rule: &Rule<'_>,
    role: Role,
    env: &Env<'_>,
    out: &mut Vec<PendingFinding>,
) -> RuleFacts {
    let line = rule.logical.line;
    let mut push = |kind, message: String| {
        let finding = Finding {
            path: None,
            kind,
            severity: Severity::Warning,
            role: Some(role),
            line: Some(line),
            text: Some(trim_newline(rule.text())),
            message,
        };
        out.push(pending(finding, Severity::Error, Severity::Warning));
    };
    if env.flavor == Flavor::Rhel6 {
        for tok in syntax::tokens(rule.client_list()) {
            if let Some(fix) = rhel6_prefix(tok) {
                push(
                    Kind::NeverMatches,
                    format!(
                        "CentOS 6's libwrap has no /NN prefixes, so '{}' never matches: write {fix}.",
                        syntax::escape(tok)
                    ),
                );
            }
        }
    }
    let text = rule.text();
    let indent = text
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if indent > 0 && text.get(indent) == Some(&b'#') {
        push(
            Kind::NotAComment,
            "This line starts with a space before '#', so libwrap reads it as a rule, not a comment; put '#' in the first column.".into(),
        );
    }
    let Some(field) = rule.options_field() else {
        return RuleFacts {
            refuses: role == Role::Deny,
        };
    };
    let opts = options::parse(field, env.flavor, env.accounts);
    if let Some(e) = &opts.error {
        // A '#' among the clients means the comment started there and its colon made options.
        let cause = if syntax::tokens(rule.client_list()).any(|t| t.first() == Some(&b'#')) {
            Cause::InlineComment
        } else {
            e.cause
        };
        let why = match cause {
            Cause::InlineComment => {
                "there are no inline comments, so the text after '#' became options".to_string()
            }
            Cause::ShellCommand => {
                "a shell command in the third field is read as options".to_string()
            }
            Cause::BareIpv6 => match bracketed(rule) {
                Some(v6) => format!(
                    "an IPv6 address without [brackets] splits the line at its colons: write {v6}"
                ),
                None => {
                    "an IPv6 address without [brackets] splits the line at its colons".to_string()
                }
            },
            Cause::TrailingColon => "the rule ends with ':' (an empty option)".to_string(),
            Cause::Other => format!("libwrap says: {}", e.message),
        };
        push(
            Kind::OptionError,
            format!(
                "The options of this rule are malformed ({why}): libwrap refuses every client this rule matches, even in hosts.allow."
            ),
        );
    }
    if opts.has_twist() {
        push(
            Kind::Twist,
            "This rule hands matching connections to a command ('twist'): the daemon itself never answers them.".into(),
        );
    }
    let last = opts.ops.last();
    let refuses = opts.error.is_none()
        && match role {
            Role::Deny => !matches!(last, Some(Op::Allow)),
            Role::Allow => matches!(last, Some(Op::Deny | Op::Twist(_))),
        };
    RuleFacts { refuses }
}

/// The bracketed form of the IPv6 address whose colons split this rule: the last word of
/// the client list and the options up to the first separator (`2a06` + `98c0::/29`).
pub(super) fn bracketed(rule: &Rule<'_>) -> Option<String> {
    let head = syntax::tokens(rule.client_list()).last()?;
    let rest = rule.options_field()?;
    let tail = rest
        .split(|&b| syntax::is_list_sep(b))
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    let literal = String::from_utf8([head, b":", tail].concat()).ok()?;
    let (addr, len) = match literal.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (literal.as_str(), None),
    };
    addr.parse::<std::net::Ipv6Addr>().ok()?;
    Some(match len {
        Some(l) => format!("[{addr}]/{l}"),
        None => format!("[{addr}]"),
    })
}

/// `a.b.c.d/NN`, which CentOS 6 never matches: the dotted mask to write instead.
pub(super) fn rhel6_prefix(tok: &[u8]) -> Option<String> {
    let host = syntax::split_at(tok, 1, b'@').map_or(tok, |i| &tok[i + 1..]);
    let text = std::str::from_utf8(host).ok()?;
    let (net, len) = text.split_once('/')?;
    let net: std::net::Ipv4Addr = net.parse().ok()?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: u32 = len.parse().ok().filter(|l| (1..=32).contains(l))?;
    let mask = std::net::Ipv4Addr::from(u32::MAX << (32 - len));
    Some(format!("{net}/{mask}"))
}

/// More findings of one kind in one file than this are told as one, with the count and the
/// first lines (a ban list of 1,500 `ip #NN` lines is one problem, not 1,500).
pub(super) const GROUP_OVER: usize = 5;

/// The message of a group of findings on `lines`, the first of which says `first`.
pub(super) fn grouped_message(lines: &[u32], first: &str) -> String {
    let shown: Vec<String> = lines.iter().take(8).map(u32::to_string).collect();
    let more = if lines.len() > 8 { ", …" } else { "" };
    format!(
        "{} rules like this one (lines {}{more}); the first: {first}",
        crate::diagnose::explain::count(lines.len()),
        shown.join(", "),
    )
}

/// Findings of one kind in one file, more than [`GROUP_OVER`], told as one.
pub(super) fn group(findings: Vec<Finding>) -> Vec<Finding> {
    let mut counts: HashMap<(Kind, Option<Role>), usize> = HashMap::new();
    for f in &findings {
        if f.line.is_some()
            && matches!(
                f.kind,
                Kind::OptionError
                    | Kind::DnsDependent
                    | Kind::NotAComment
                    | Kind::IgnoredLine
                    | Kind::NeverMatches
            )
        {
            *counts.entry((f.kind, f.role)).or_default() += 1;
        }
    }
    let mut lines: HashMap<(Kind, Option<Role>), Vec<u32>> = HashMap::new();
    for f in &findings {
        let key = (f.kind, f.role);
        if counts.get(&key).is_some_and(|&n| n > GROUP_OVER) {
            lines.entry(key).or_default().extend(f.line);
        }
    }
    let mut out = Vec::with_capacity(findings.len());
    for mut f in findings {
        let key = (f.kind, f.role);
        let Some(ls) = lines.get(&key) else {
            out.push(f);
            continue;
        };
        if f.line != ls.first().copied() {
            continue;
        }
        f.message = grouped_message(ls, &f.message);
        out.push(f);
    }
    out
}
