//! Fact chains, comment planning's refusers, and the small helpers the runs share.

use super::*;

impl Fact {
    pub(super) fn push(
        prev: Option<std::sync::Arc<Fact>>,
        pred: Pred,
        value: bool,
        at: RuleLoc,
    ) -> std::sync::Arc<Fact> {
        let prev_yes = match &prev {
            Some(p) if p.now.value => Some(p.clone()),
            Some(p) => p.prev_yes.clone(),
            None => None,
        };
        std::sync::Arc::new(Fact {
            now: Assumption { pred, value, at },
            prev,
            prev_yes,
        })
    }
}

/// A rule the comment strategy must comment out (or, with `How::Hang` or a table error
/// other than a missing newline, a line no edit of ours makes harmless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refuser {
    pub loc: RuleLoc,
    /// Byte offset of the entry in its file.
    pub pos: usize,
    /// How it refuses (in one of the worlds where it does).
    pub how: How,
}

/// Does a rule that ends this way refuse the client?
pub(super) fn refuses(end: &RuleEnd, role: Role) -> bool {
    match end {
        RuleEnd::Match => role == Role::Deny,
        RuleEnd::Jump(_, granted) => !granted,
        RuleEnd::Crash => true,
        RuleEnd::NoMatch | RuleEnd::Void => false,
    }
}

pub(super) fn how_of(end: &RuleEnd, role: Role) -> How {
    match (end, role) {
        (RuleEnd::Jump(how, _), _) => how.clone(),
        (RuleEnd::Crash, _) => How::Crash,
        (_, Role::Deny) => How::DenyRule,
        _ => How::AllowRule,
    }
}

pub(crate) fn rule_ref(role: Role, line: u32, text: &[u8]) -> RuleRef {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    RuleRef {
        loc: RuleLoc { role, line },
        text: text.to_vec(),
    }
}
