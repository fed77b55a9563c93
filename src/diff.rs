//! Unified diffs of planned changes, for people: real paths in the headers, colour on
//! terminals, control characters (a CR, an escape sequence) made visible.

use similar::{Algorithm, DiffTag};

use crate::report::Paint;
use crate::syntax::escape;

/// Lines as libwrap sees them: split after each `\n` only (similar's own line splitter
/// would also split at a bare CR).
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// One line of output: the marker, then the text with its line ending removed and control
/// characters escaped; a missing final newline is said, as diff(1) does.
fn push_line(out: &mut String, p: Paint, sign: char, line: &[u8]) {
    let (text, newline) = match line.strip_suffix(b"\n") {
        Some(t) => (t, true),
        None => (line, false),
    };
    let shown = format!("{sign}{}", escape(text));
    out.push_str(&match sign {
        '-' => p.red(&shown),
        '+' => p.green(&shown),
        _ => shown,
    });
    out.push('\n');
    if !newline {
        out.push_str("\\ No newline at end of file\n");
    }
}

/// The unified diff from `old` to `new` of the file at `path` (as the repaired system sees
/// it); empty when they are equal. `old` is `None` for a file that does not exist yet.
pub fn unified(path: &str, old: Option<&[u8]>, new: &[u8], p: Paint) -> String {
    if old == Some(new) {
        return String::new();
    }
    let a = lines(old.unwrap_or_default());
    let b = lines(new);
    let ops = similar::capture_diff_slices(Algorithm::Myers, &a, &b);
    let mut out = String::new();
    let from = if old.is_some() {
        path.to_string()
    } else {
        "/dev/null".to_string()
    };
    out.push_str(&p.bold(&format!("--- {from}")));
    out.push('\n');
    out.push_str(&p.bold(&format!("+++ {path} (planned)")));
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
                    .for_each(|i| push_line(&mut out, p, ' ', a[i])),
                DiffTag::Delete => op
                    .old_range()
                    .for_each(|i| push_line(&mut out, p, '-', a[i])),
                DiffTag::Insert => op
                    .new_range()
                    .for_each(|i| push_line(&mut out, p, '+', b[i])),
                DiffTag::Replace => {
                    op.old_range()
                        .for_each(|i| push_line(&mut out, p, '-', a[i]));
                    op.new_range()
                        .for_each(|i| push_line(&mut out, p, '+', b[i]));
                }
            }
        }
    }
    out
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
