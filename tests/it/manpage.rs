//! The manual: generated from the clap definition, committed as man/wrapfix.8, and kept
//! true by these tests. Regenerate with `WRAPFIX_BLESS=1 cargo test --test it manpage`.

use std::path::Path;

use assert_cmd::Command;

use crate::support;

fn generated() -> Vec<u8> {
    let mut page = Vec::new();
    wrapfix::manpage::render(&mut page).expect("render");
    page
}

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man/wrapfix.8")
}

#[test]
fn the_committed_man_page_is_what_the_code_generates() {
    let page = generated();
    if std::env::var_os("WRAPFIX_BLESS").is_some() {
        std::fs::write(committed_path(), &page).expect("write man/wrapfix.8");
    }
    let committed = std::fs::read(committed_path()).unwrap_or_default();
    assert!(
        committed == page,
        "man/wrapfix.8 is stale: run WRAPFIX_BLESS=1 cargo test --test it manpage and commit it"
    );
}

#[test]
fn groff_finds_nothing_to_complain_about() {
    if !support::require_tool("groff", "lints the man page") {
        return;
    }
    let out = std::process::Command::new("groff")
        .args(["-man", "-ww", "-z", "-Tutf8"])
        .arg(committed_path())
        .output()
        .expect("run groff");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_long_option_in_help_is_in_the_man_page() {
    let help = Command::cargo_bin("wrapfix")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap()
        .stdout;
    let help = String::from_utf8_lossy(&help);
    let page = String::from_utf8_lossy(&generated()).replace("\\-", "-");
    let options: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches([',', '.'])
                .split(['=', '[', '<'])
                .next()
                .unwrap_or(w)
        })
        .collect();
    assert!(options.contains(&"--check"), "{options:?}");
    for o in options {
        assert!(page.contains(o), "{o} is in --help but not in the man page");
    }
}

#[test]
fn completions_are_generated_for_the_usual_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::cargo_bin("wrapfix")
            .unwrap()
            .args(["--completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("client"),
            "{shell}"
        );
    }
}

/// The SYNOPSIS section, troff escapes and font changes removed.
fn synopsis() -> String {
    let page = String::from_utf8_lossy(&generated()).into_owned();
    let start = page.find(".SH SYNOPSIS").expect("a SYNOPSIS section");
    let rest = &page[start + ".SH SYNOPSIS".len()..];
    let end = rest.find("\n.SH ").unwrap_or(rest.len());
    rest[..end]
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\&", "")
}

#[test]
fn the_synopsis_shows_every_option_with_its_value() {
    let synopsis = synopsis();
    for (option, value) in [
        ("--client", "SPEC"),
        ("--clients-from", "FILE"),
        ("--daemon", "NAME"),
        ("--strategy", "allow|comment"),
        ("--root", "DIR"),
        ("--backup-dir", "DIR"),
        ("--flavor", "debian|rhel7|rhel6"),
        ("--color", "auto|always|never"),
        ("--rollback", "[ID]"),
        ("--completions", "SHELL"),
    ] {
        assert!(
            synopsis.contains(&format!("{option} {value}")),
            "{option} {value} is not in the synopsis:\n{synopsis}"
        );
    }
    // One usage line per mode.
    for mode in ["--check", "--dry-run", "--rollback", "--list-backups"] {
        assert!(
            synopsis
                .lines()
                .any(|l| l.starts_with(&format!("wrapfix {mode}"))),
            "no usage line for {mode}:\n{synopsis}"
        );
    }
}

#[test]
fn completions_are_in_help_and_the_man_page() {
    let help = Command::cargo_bin("wrapfix")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap()
        .stdout;
    assert!(String::from_utf8_lossy(&help).contains("--completions <SHELL>"));
    assert!(synopsis().contains("wrapfix --completions SHELL"));
}

#[test]
fn the_readme_and_the_man_page_give_the_same_exit_statuses() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    for (code, meaning) in wrapfix::manpage::EXIT_STATUS {
        let row = format!("| {code} | {meaning} |");
        assert!(
            readme.lines().any(|l| l == row),
            "README.md has no row {row:?}"
        );
    }
    let page = String::from_utf8_lossy(&generated()).replace("\\-", "-");
    for (_, meaning) in wrapfix::manpage::EXIT_STATUS {
        assert!(page.contains(meaning), "the man page lacks {meaning:?}");
    }
}

/// Every `docs/…` file the README and the sources name, and nothing outside the repository
/// (a clone has only this repository: no shared notes beside it, no design document).
#[test]
fn the_documents_referred_to_are_in_the_repository() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![(
        "README.md".to_string(),
        std::fs::read_to_string(top.join("README.md")).expect("README"),
    )];
    let mut dirs = vec![top.join("src"), top.join("tests/it")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                texts.push((path.display().to_string(), text));
            }
        }
    }
    let mut named = 0;
    for (file, text) in &texts {
        // Spelt in pieces so that this file does not match itself.
        for bad in [["..", "/shared"], ["DESIGN", " §"], ["DESIGN", ".md"]].map(|p| p.concat()) {
            assert!(
                !text.contains(&bad),
                "{file} refers to {bad:?}, which a clone does not have"
            );
        }
        for (i, _) in text.match_indices("docs/") {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
                .unwrap_or(rest.len());
            let doc = rest[..end].trim_end_matches('.');
            if doc.ends_with(".md") || doc.ends_with(".json") {
                named += 1;
                assert!(
                    top.join(doc).is_file(),
                    "{file} names {doc}, which does not exist"
                );
            }
        }
    }
    assert!(named > 5, "only {named} references to docs/ found");
}
