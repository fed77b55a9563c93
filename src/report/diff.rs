//! Unified diffs of planned changes, for people: real paths in the headers, colour on
//! terminals, control characters (a CR, an escape sequence) made visible.

use similar::{Algorithm, DiffTag};

use crate::model::bytes::{common_head, common_tail, lines};
use crate::model::edit::Edit;
use std::fmt::{self, Write};

use crate::model::syntax::{escape, write_escaped};
use crate::report::style::Paint;

/// One line of output: the marker, then the text with its line ending removed and control
/// characters escaped; a missing final newline is said, as diff(1) does.
fn push_line<W: Write + ?Sized>(out: &mut W, p: Paint, sign: char, line: &[u8]) -> fmt::Result {
    let (text, newline) = match line.strip_suffix(b"\n") {
        Some(t) => (t, true),
        None => (line, false),
    };
    if p.0 && sign != ' ' {
        let shown = format!("{sign}{}", escape(text));
        out.write_str(&if sign == '-' {
            p.red(&shown)
        } else {
            p.green(&shown)
        })?;
    } else {
        // Unpainted (JSON, pipes): straight into the diff, no line of its own.
        out.write_char(sign)?;
        write_escaped(out, text)?;
    }
    out.write_char('\n')?;
    if !newline {
        out.write_str("\\ No newline at end of file\n")?;
    }
    Ok(())
}

/// [`push_line`] into a String, which cannot fail.
fn put_line(out: &mut String, p: Paint, sign: char, line: &[u8]) {
    let _ = push_line(out, p, sign, line);
}

/// Lines of a window of a file, indexed by their line number in the whole file.
struct Offset<'a> {
    lines: Vec<&'a [u8]>,
    base: usize,
}

impl<'a> std::ops::Index<usize> for Offset<'a> {
    type Output = &'a [u8];
    fn index(&self, i: usize) -> &&'a [u8] {
        &self.lines[i - self.base]
    }
}

/// Up to `n` whole lines that end at byte `at`.
fn context_before(bytes: &[u8], at: usize, n: usize) -> Vec<&[u8]> {
    let mut start = at;
    for _ in 0..n {
        if start == 0 {
            break;
        }
        start = bytes[..start - 1]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
    }
    lines(&bytes[start..at])
}

/// `op` with its indexes moved `by` lines down.
fn shift(op: similar::DiffOp, by: usize) -> similar::DiffOp {
    use similar::DiffOp::{Delete, Equal, Insert, Replace};
    match op {
        Equal {
            old_index,
            new_index,
            len,
        } => Equal {
            old_index: old_index + by,
            new_index: new_index + by,
            len,
        },
        Delete {
            old_index,
            old_len,
            new_index,
        } => Delete {
            old_index: old_index + by,
            old_len,
            new_index: new_index + by,
        },
        Insert {
            old_index,
            new_index,
            new_len,
        } => Insert {
            old_index: old_index + by,
            new_index: new_index + by,
            new_len,
        },
        Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } => Replace {
            old_index: old_index + by,
            old_len,
            new_index: new_index + by,
            new_len,
        },
    }
}

/// The unified diff from `old` to `new` of the file at `path` (as the repaired system sees
/// it); empty when they are equal. `old` is `None` for a file that does not exist yet.
pub fn unified(path: &str, old: Option<&[u8]>, new: &[u8], p: Paint) -> String {
    unified_as(path, old, new, "planned", p)
}

/// [`unified`] with another word after the new side's path: `(now)` for a change that was
/// made, `(planned)` for one that is proposed.
pub fn unified_as(path: &str, old: Option<&[u8]>, new: &[u8], label: &str, p: Paint) -> String {
    if old == Some(new) {
        return String::new();
    }
    let (old_bytes, new_bytes) = (old.unwrap_or_default(), new);
    // Split into lines only what lies between the common head and tail: a repair touches a
    // few lines of what may be a million-line ban list.
    let (skip, head_lines) = common_head(old_bytes, new_bytes);
    let tail = common_tail(&old_bytes[skip..], &new_bytes[skip..]);
    let a = lines(&old_bytes[skip..old_bytes.len() - tail]);
    let b = lines(&new_bytes[skip..new_bytes.len() - tail]);
    let ctx_before: Vec<&[u8]> = context_before(old_bytes, skip, 3);
    let ctx_after: Vec<&[u8]> = lines(&old_bytes[old_bytes.len() - tail..])
        .into_iter()
        .take(3)
        .collect();
    // Old lines around the change, as similar sees them: head context, the middle, tail context.
    let a_all: Vec<&[u8]> = ctx_before
        .iter()
        .copied()
        .chain(a.iter().copied())
        .chain(ctx_after.iter().copied())
        .collect();
    let b_all: Vec<&[u8]> = ctx_before
        .iter()
        .copied()
        .chain(b.iter().copied())
        .chain(ctx_after.iter().copied())
        .collect();
    let base = head_lines - ctx_before.len();
    let (a, b) = (a_all, b_all);
    let ops: Vec<similar::DiffOp> = similar::capture_diff_slices(Algorithm::Myers, &a, &b)
        .into_iter()
        .map(|op| shift(op, base))
        .collect();
    let (a, b) = (Offset { lines: a, base }, Offset { lines: b, base });
    let mut out = String::new();
    let from = if old.is_some() {
        path.to_string()
    } else {
        "/dev/null".to_string()
    };
    out.push_str(&p.bold(&format!("--- {from}")));
    out.push('\n');
    out.push_str(&p.bold(&format!("+++ {path} ({label})")));
    out.push('\n');
    for group in similar::group_diff_ops(ops, 3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (o0, n0) = (first.old_range().start, first.new_range().start);
        let (o1, n1) = (last.old_range().end, last.new_range().end);
        let range = |start: usize, len: usize| match len {
            0 => format!("{start},0"),
            1 => format!("{}", start + 1),
            _ => format!("{},{len}", start + 1),
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(o0, o1 - o0),
            range(n0, n1 - n0)
        ));
        for op in &group {
            match op.tag() {
                DiffTag::Equal => op
                    .old_range()
                    .for_each(|i| put_line(&mut out, p, ' ', a[i])),
                DiffTag::Delete => op
                    .old_range()
                    .for_each(|i| put_line(&mut out, p, '-', a[i])),
                DiffTag::Insert => op
                    .new_range()
                    .for_each(|i| put_line(&mut out, p, '+', b[i])),
                DiffTag::Replace => {
                    op.old_range()
                        .for_each(|i| put_line(&mut out, p, '-', a[i]));
                    op.new_range()
                        .for_each(|i| put_line(&mut out, p, '+', b[i]));
                }
            }
        }
    }
    out
}

/// A file's lines by number, read forward only: a diff's hunks go down the file (an index
/// of every line of a 100,000-line table cost 2 MB).
struct Forward<'a> {
    rest: &'a [u8],
    /// The number of the line `rest` starts with (0-based).
    at: usize,
    total: usize,
}

impl<'a> Forward<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let ended = bytes.is_empty() || bytes.ends_with(b"\n");
        let total = memchr::memchr_iter(b'\n', bytes).count() + usize::from(!ended);
        Forward {
            rest: bytes,
            at: 0,
            total,
        }
    }

    fn len(&self) -> usize {
        self.total
    }

    /// The lines of `range`, which must not start before the end of the last range read.
    fn range(&mut self, range: std::ops::Range<usize>) -> impl Iterator<Item = &'a [u8]> + '_ {
        std::iter::from_fn(move || {
            while self.at < range.end {
                let line = self.rest.split_inclusive(|&b| b == b'\n').next()?;
                self.rest = &self.rest[line.len()..];
                self.at += 1;
                if self.at > range.start {
                    return Some(line);
                }
            }
            None
        })
    }
}

/// One replacement of whole lines: `old_lines` lines of the old file from line `start`
/// (0-based) become the lines of `new`.
pub struct Change<'a> {
    pub start: usize,
    pub old_lines: usize,
    pub new: New<'a>,
}

/// A change's new lines: bytes, or the edit that spells them out as they are written (a
/// comment plan's 50,000 commented rules are never all spelled out at once).
pub enum New<'a> {
    Bytes(&'a [u8]),
    Edit(&'a Edit),
}

impl New<'_> {
    fn line_count(&self) -> usize {
        match self {
            New::Bytes(b) => b.split_inclusive(|&b| b == b'\n').count(),
            New::Edit(e) => e.after_lines(),
        }
    }

    fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            New::Bytes(b) => std::borrow::Cow::Borrowed(b),
            New::Edit(e) => e.after_bytes(),
        }
    }
}

/// The unified diff of `changes` (in file order, not overlapping) made to `old`, without
/// comparing the files: wrapfix knows which lines its edits replace, and a comment plan for
/// a ban list replaces thousands of lines far apart (a line diff of the whole file would
/// cost more than the plan). Hunks as diff(1) makes them: 3 lines of context, hunks closer
/// than that merged. Written straight to `out`: a comment plan's diff is megabytes, and
/// made as one string first it was the peak of the run's memory.
pub fn write_changes<W: Write + ?Sized>(
    out: &mut W,
    path: &str,
    old: Option<&[u8]>,
    changes: &[Change<'_>],
    label: &str,
    p: Paint,
) -> fmt::Result {
    const CONTEXT: usize = 3;
    if changes.is_empty() {
        return Ok(());
    }
    let mut old_lines = Forward::new(old.unwrap_or_default());
    let total = old_lines.len();
    let from = if old.is_some() { path } else { "/dev/null" };
    writeln!(out, "{}", p.bold(&format!("--- {from}")))?;
    writeln!(out, "{}", p.bold(&format!("+++ {path} ({label})")))?;
    let range = |start: usize, len: usize| match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    };
    // New-side lines minus old-side lines, before the change at hand.
    let mut shift: i64 = 0;
    let mut i = 0;
    while i < changes.len() {
        // A hunk: changes whose gaps are at most twice the context.
        let mut j = i;
        while j + 1 < changes.len()
            && changes[j + 1].start <= changes[j].start + changes[j].old_lines + 2 * CONTEXT
        {
            j += 1;
        }
        let first = changes[i].start.saturating_sub(CONTEXT);
        let end_old = (changes[j].start + changes[j].old_lines + CONTEXT).min(total);
        let hunk = &changes[i..=j];
        // The hunk's old lines, in order: context before each change, then what it removes.
        let gone = |c: &Change<'_>| c.start.min(total)..(c.start + c.old_lines).min(total);
        // Counted first, so the header goes before the body straight into `out` (a comment
        // plan for a ban list is one diff of 200,000 lines).
        let (mut n_old, mut n_new) = (0usize, 0usize);
        let mut at = first;
        for c in hunk {
            let context = c.start - at.min(c.start);
            let added = c.new.line_count();
            n_old += context + gone(c).len();
            n_new += context + added;
            at = c.start + c.old_lines;
        }
        let trailing = end_old - at.min(end_old);
        n_old += trailing;
        n_new += trailing;
        let new_first = (first as i64 + shift).max(0) as usize;
        // An empty side is numbered by the line before it, as in diff(1): `range` does it.
        writeln!(
            out,
            "@@ -{} +{} @@",
            range(first, n_old),
            range(new_first, n_new)
        )?;
        let mut at = first;
        for c in hunk {
            for l in old_lines.range(at.min(c.start)..c.start.min(total)) {
                push_line(out, p, ' ', l)?;
            }
            let gone = gone(c);
            let n_gone = gone.len();
            for l in old_lines.range(gone) {
                push_line(out, p, '-', l)?;
            }
            let new = c.new.bytes();
            let added = lines(&new);
            for l in &added {
                push_line(out, p, '+', l)?;
            }
            shift += added.len() as i64 - n_gone as i64;
            at = c.start + c.old_lines;
        }
        for l in old_lines.range(at.min(end_old)..end_old) {
            push_line(out, p, ' ', l)?;
        }
        i = j + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commented_rule_shows_as_one_hunk_with_real_paths() {
        let d = unified(
            "/etc/hosts.deny",
            Some(b"a\nALL: ALL\nb\n"),
            b"a\n# m\n#ALL: ALL\nb\n",
            Paint(false),
        );
        assert_eq!(
            d,
            "--- /etc/hosts.deny\n+++ /etc/hosts.deny (planned)\n@@ -1,3 +1,4 @@\n a\n-ALL: ALL\n+# m\n+#ALL: ALL\n b\n"
        );
    }

    #[test]
    fn a_diff_of_known_changes_equals_the_line_diff() {
        let old = b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n";
        let cases: Vec<(Vec<Change<'_>>, Vec<u8>)> = vec![
            (
                vec![Change {
                    start: 1,
                    old_lines: 1,
                    new: New::Bytes(b"# m\n#b\n"),
                }],
                b"a\n# m\n#b\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n".to_vec(),
            ),
            (
                vec![
                    Change {
                        start: 0,
                        old_lines: 0,
                        new: New::Bytes(b"# x\nsshd: 1.2.3.4\n"),
                    },
                    Change {
                        start: 12,
                        old_lines: 1,
                        new: New::Bytes(b"#m\n"),
                    },
                ],
                b"# x\nsshd: 1.2.3.4\na\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n#m\nn\n".to_vec(),
            ),
            (
                vec![
                    Change {
                        start: 2,
                        old_lines: 1,
                        new: New::Bytes(b"#c\n"),
                    },
                    Change {
                        start: 6,
                        old_lines: 1,
                        new: New::Bytes(b"#g\n"),
                    },
                ],
                b"a\nb\n#c\nd\ne\nf\n#g\nh\ni\nj\nk\nl\nm\nn\n".to_vec(),
            ),
        ];
        for (changes, new) in cases {
            let mut diff = String::new();
            write_changes(
                &mut diff,
                "/f",
                Some(old),
                &changes,
                "planned",
                Paint(false),
            )
            .expect("a String takes any text");
            assert_eq!(diff, unified("/f", Some(old), &new, Paint(false)));
        }
    }

    #[test]
    fn carriage_returns_and_missing_newlines_are_visible() {
        let d = unified(
            "/etc/hosts.deny",
            Some(b"ALL: ALL\r\nx"),
            b"ALL: ALL\r\nx\n",
            Paint(false),
        );
        assert!(d.contains(" ALL: ALL\\r\n"), "{d}");
        assert!(d.contains("-x\n\\ No newline at end of file\n+x\n"), "{d}");
    }

    #[test]
    fn a_new_file_comes_from_dev_null_and_equal_files_give_nothing() {
        assert!(
            unified("/etc/hosts.allow", None, b"sshd: 10.0.0.1\n", Paint(false))
                .starts_with("--- /dev/null\n")
        );
        assert_eq!(
            unified("/etc/hosts.allow", Some(b"x\n"), b"x\n", Paint(false)),
            ""
        );
    }
}
