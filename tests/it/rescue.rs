//! The rescue console, as a tired admin lives it (issue 10): a root that is not a system is
//! refused, every command wrapfix prints works when pasted, and any history of fixes and
//! rollbacks unwinds to the original bytes.

use std::path::Path;

use crate::support::system::{System, wrapfix};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_root_without_etc_is_refused_naming_what_is_missing() {
    // Not a System: wrapfix's own refusal of what is not one.
    let dir = tempfile::tempdir().expect("temp dir");
    // A typo (`sysimag`), and a mount point whose disk is not mounted (empty).
    for root in [dir.path().join("sysimag"), dir.path().to_path_buf()] {
        if root.ends_with("sysimag") {
            std::fs::create_dir(&root).expect("mkdir");
        }
        for mode in [
            &["--yes", "--client", "198.51.100.7"][..],
            &["--check"],
            &["--rollback", "--yes"],
        ] {
            let out = wrapfix(&root).args(mode).output().expect("run");
            assert_eq!(out.status.code(), Some(2), "{mode:?}: {}", stderr_of(&out));
            // One line, which suggests the mount.
            let root = root.display();
            assert_eq!(
                stderr_of(&out),
                format!(
                    "wrapfix: --root {root}: {root} has no etc/ directory, so it is not the root \
                     of a system; is the disk mounted there? e.g. mount /dev/sdXN {root} (lsblk \
                     lists the disks), then run wrapfix again\n"
                ),
                "{mode:?}"
            );
            assert!(out.stdout.is_empty(), "no report for a non-system");
        }
    }
}

#[test]
fn an_etc_with_nothing_a_system_has_is_refused() {
    let sys = System::bare().file("/etc/fstab", "");
    let root = sys.path().display();
    sys.run(["--yes", "--client", "198.51.100.7"])
        .code(2)
        .stderr_is(&format!(
            "wrapfix: --root {root}: {root}/etc has none of hosts.allow, hosts.deny, os-release, \
             redhat-release, passwd, so it is not the /etc of a system; is the disk mounted \
             there? e.g. mount /dev/sdXN {root} (lsblk lists the disks), then run wrapfix again\n"
        ))
        .stdout_empty();
    // Any one of them makes it a system: here a dangling os-release link (its /usr is a
    // file system of its own, not mounted) is enough.
    let sys = sys.link("/etc/os-release", "../usr/lib/os-release");
    sys.run(["--check", "--client", "198.51.100.7"])
        .code(0)
        .stderr_empty();
}

#[test]
fn options_a_mode_does_not_use_are_usage_errors() {
    let sys = System::new().deny("ALL: ALL\n");
    for args in [
        &["--exact"][..],
        &["--exact", "--yes", "--client", "198.51.100.7"],
        &["--rollback", "--client", "198.51.100.7"],
        &["--rollback", "--yes", "--strategy", "comment"],
        &["--list-backups", "--client", "198.51.100.7"],
        &["--list-backups", "--daemon", "sshd"],
    ] {
        let run = sys.run(args).code(2).stdout_empty();
        // clap's messages span lines; one line is easier to match.
        let err = run
            .stderr()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            err.contains("cannot be used with")
                || err.contains("only goes with --rollback")
                || err.contains("required arguments were not provided: --rollback"),
            "{args:?}: {err}"
        );
    }
    assert!(!sys.exists("/etc/hosts.allow"));
    assert!(!sys.exists("/var/backups/wrapfix"));
}

/// Run a command wrapfix printed, as an admin pastes it: through the shell, with wrapfix
/// on PATH and nothing else of the test's environment that could point it elsewhere.
fn paste(cmd: &str, extra: &str) -> std::process::Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_wrapfix"))
        .parent()
        .expect("the binary's directory");
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} {extra}"))
        .env_clear()
        .env("PATH", path)
        .current_dir("/")
        .output()
        .expect("run sh")
}

/// The command on wrapfix's last `Undo:` line.
fn undo_command(out: &std::process::Output) -> String {
    last_undo(out).unwrap_or_else(|| {
        panic!(
            "no undo command in:\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn last_undo(out: &std::process::Output) -> Option<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Undo:"))
        .map(|c| c.trim().to_string())
}

#[test]
fn the_undo_command_printed_after_a_rescue_repair_works_when_pasted() {
    let sys = System::new().deny("ALL: ALL\n");
    let backups = tempfile::tempdir().expect("backup dir");
    let backup_dir = backups.path().display().to_string();
    let fixed = sys
        .run([
            "--yes",
            "--client",
            "198.51.100.7",
            "--flavor",
            "rhel7",
            "--backup-dir",
            &backup_dir,
        ])
        .code(0)
        .stderr_empty();
    let undo = undo_command(&fixed.output);
    let root = sys.path().canonicalize().expect("canonical root");
    for part in [
        format!("--root {}", root.display()),
        format!("--backup-dir {}", backups.path().display()),
        "--flavor rhel7".to_string(),
    ] {
        assert!(undo.contains(&part), "{undo} lacks {part}");
    }
    // Pasted from /, where a bare `wrapfix --rollback ID` would act on this machine.
    let out = paste(&undo, "--yes --color never");
    assert_eq!(out.status.code(), Some(0), "{undo}: {}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "", "{undo}");
    assert!(!sys.exists("/etc/hosts.allow"), "rolled back");
    // --dry-run ends with the command that applies it, with no backup or undo promised.
    let dry = sys
        .run(["--dry-run", "--client", "198.51.100.7"])
        .code(1)
        .stdout_lacks("Undo:")
        .stdout_lacks("Backup:")
        .stderr_empty();
    let text = dry.stdout();
    let apply = text
        .lines()
        .find_map(|l| l.strip_prefix("To apply it: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(apply.ends_with("--client 198.51.100.7 --yes"), "{apply}");
    // Without a terminal the command to apply it is printed, and works when pasted too.
    let asked = sys.run(["--client", "198.51.100.7"]).code(1);
    let err = asked.stderr();
    let apply = err
        .strip_prefix("wrapfix: no terminal to ask on: nothing changed; to apply it: ")
        .and_then(|c| c.strip_suffix('\n'))
        .filter(|c| !c.contains('\n'))
        .unwrap_or_else(|| panic!("not the one line that says how to apply it: {err}"))
        .to_string();
    assert!(
        apply.contains("--client 198.51.100.7") && apply.contains("--yes"),
        "{apply}"
    );
    let out = paste(&apply, "--color never");
    assert_eq!(out.status.code(), Some(0), "{apply}: {}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "", "{apply}");
    assert!(
        sys.text("/etc/hosts.allow")
            .contains("sshd: 198.51.100.7\n")
    );
}

/// The tables of a scratch system, for comparing states.
fn tables(root: &Path) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let read = |f: &str| std::fs::read(root.join("etc").join(f)).ok();
    (read("hosts.allow"), read("hosts.deny"))
}

/// `--rollback --yes` until there is nothing left to roll back (exit 2); at most `limit`.
/// Each rollback is silent on stderr; the last says only that there is nothing left.
fn unwind(sys: &System, limit: usize) {
    let nothing_left = format!(
        "wrapfix: nothing to roll back: no change set in {}/var/backups/wrapfix is still in \
         effect\n",
        sys.path().display()
    );
    for _ in 0..limit {
        let run = sys.run(["--rollback", "--yes"]);
        match run.status() {
            Some(0) => {
                run.stderr_empty();
            }
            Some(2) => {
                run.stderr_is(&nothing_left);
                return;
            }
            other => panic!("--rollback --yes exited {other:?}: {}", run.stderr()),
        }
    }
    panic!("still rolling back after {limit} rollbacks");
}

#[test]
fn the_reported_history_unwinds_and_its_rollbacks_can_be_undone() {
    // The repro: empty hosts.allow, `ALL: ALL`; fix .7, fix .8, roll back twice,
    // then undo the first rollback with the command it printed.
    let sys = System::new().allow("").deny("ALL: ALL\n");
    let original = tables(sys.path());
    for client in ["198.51.100.7", "198.51.100.8"] {
        sys.run(["--yes", "--client", client])
            .code(0)
            .stderr_empty();
    }
    let first_rollback = sys.run(["--rollback", "--yes"]).code(0).stderr_empty();
    sys.run(["--rollback", "--yes"]).code(0).stderr_empty();
    assert_eq!(tables(sys.path()), original);
    // --exact of the first rollback would bring back .7's line behind the second rollback's
    // back: refused, naming the later change set.
    let undo = undo_command(&first_rollback.output);
    let exact = paste(&undo, "--exact --yes --color never");
    assert_eq!(exact.status.code(), Some(2), "{}", stderr_of(&exact));
    assert!(
        stderr_of(&exact).contains("also undoes the later change set"),
        "{}",
        stderr_of(&exact)
    );
    assert_eq!(
        tables(sys.path()),
        original,
        "a refused --exact changes nothing"
    );
    // Undoing the first rollback redoes the .8 fix, and only that.
    let redo = paste(&undo, "--yes --color never");
    assert_eq!(redo.status.code(), Some(0), "{}", stderr_of(&redo));
    assert_eq!(stderr_of(&redo), "");
    let allow = String::from_utf8(tables(sys.path()).0.expect("hosts.allow")).expect("utf8");
    assert!(
        allow.contains("sshd: 198.51.100.8\n") && !allow.contains("198.51.100.7"),
        "{allow}"
    );
    let doc = sys
        .run(["--list-backups", "--json"])
        .code(0)
        .stderr_empty()
        .json();
    let in_effect: Vec<(&str, &str)> = doc["change_sets"]
        .as_array()
        .expect("change_sets")
        .iter()
        .filter(|s| s["in_effect"] == true && s["action"] == "fix")
        .map(|s| {
            (
                s["id"].as_str().unwrap_or(""),
                s["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(in_effect.len(), 1, "only the .8 fix is in effect: {doc}");
    unwind(&sys, 10);
    assert_eq!(tables(sys.path()), original);
}

/// A small deterministic generator (xorshift), so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn any_history_of_fixes_and_rollbacks_unwinds_to_the_original_bytes() {
    // Pasted undo commands that went through: the histories must include undone rollbacks.
    let mut pasted_ok = 0;
    for seed in 1..=8u64 {
        let sys = System::new()
            .allow("# local rules\nALL: 192.0.2.66: DENY\n")
            .deny("sshd: 203.0.113.9\nALL: ALL\n");
        let original = tables(sys.path());
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut undos: Vec<String> = Vec::new();
        let mut log = Vec::new();
        for step in 0..8 {
            let before = tables(sys.path());
            let out = match rng.below(4) {
                0 | 1 => {
                    let client = format!("198.51.100.{}", rng.below(5) + 1);
                    let strategy = if rng.below(3) == 0 {
                        "comment"
                    } else {
                        "allow"
                    };
                    log.push(format!("fix {client} {strategy}"));
                    sys.run(["--yes", "--client", &client, "--strategy", strategy])
                        .output
                }
                2 => {
                    log.push("rollback".into());
                    sys.run(["--rollback", "--yes"]).output
                }
                _ if !undos.is_empty() => {
                    let i = rng.below(undos.len() as u64) as usize;
                    log.push(format!("paste {}", undos[i]));
                    paste(&undos[i], "--yes --color never")
                }
                _ => continue,
            };
            // Refusals are fine: nothing to roll back, already rolled back (2), or a
            // rollback whose lines a later change set changed again (3, nothing changed).
            // Anything else, or a refusal that changed something, is not.
            let code = out.status.code();
            let refused = match code {
                Some(0) => false,
                Some(2) => true,
                Some(3) => stderr_of(&out).contains("Nothing was changed"),
                _ => false,
            };
            assert!(
                code == Some(0) || refused,
                "seed {seed} step {step} ({log:?}) exited {code:?}: {}",
                stderr_of(&out)
            );
            // What went through is silent on stderr; a refusal says why, in one line.
            let lines = stderr_of(&out).lines().count();
            assert_eq!(
                lines,
                usize::from(refused),
                "seed {seed} step {step} ({log:?}): {}",
                stderr_of(&out)
            );
            if refused {
                assert_eq!(
                    tables(sys.path()),
                    before,
                    "seed {seed} step {step}: {log:?}"
                );
            } else if log.last().is_some_and(|l| l.starts_with("paste")) {
                pasted_ok += 1;
            }
            if let Some(cmd) = last_undo(&out).filter(|_| out.status.success()) {
                undos.push(cmd);
            }
        }
        unwind(&sys, 20);
        assert_eq!(tables(sys.path()), original, "seed {seed}: {log:?}");
    }
    assert!(
        pasted_ok >= 3,
        "only {pasted_ok} pasted undo commands went through"
    );
}

#[test]
fn a_rollback_that_stopped_midway_is_not_listed_as_in_effect() {
    if !crate::support::require_tool("strace", "makes a rename of the rollback fail") {
        return;
    }
    // Each attempt: a fix that changes both tables, then its rollback with the k-th rename
    // failing, until one leaves hosts.allow restored and hosts.deny not.
    for k in 1..=20 {
        let sys = System::new().allow("ALL: ALL: DENY\n").deny("ALL: ALL\n");
        let original = tables(sys.path());
        sys.run(["--yes", "--strategy", "comment"])
            .code(0)
            .stderr_empty();
        let fixed = tables(sys.path());
        let out = std::process::Command::new("strace")
            .args([
                "-f",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                "trace=rename,renameat,renameat2",
            ])
            .arg(format!(
                "-einject=rename,renameat,renameat2:error=EIO:when={k}"
            ))
            .arg(env!("CARGO_BIN_EXE_wrapfix"))
            .arg("--root")
            .arg(sys.path())
            .args(["--rollback", "--yes", "--color", "never"])
            .env_remove("SSH_CONNECTION")
            .output()
            .expect("run strace");
        let now = tables(sys.path());
        if !(out.status.code() == Some(3) && now.0 == original.0 && now.1 == fixed.1) {
            continue;
        }
        // Said on stderr: which file is restored, which is not, and how to undo that.
        let err = stderr_of(&out);
        assert!(
            err.starts_with(&format!(
                "wrapfix: cannot replace {}/etc/hosts.deny: Input/output error (os error 5). \
                 /etc/hosts.allow was changed, /etc/hosts.deny is unchanged;",
                sys.path().display()
            )) && err.lines().count() == 1,
            "{err}"
        );
        let doc = sys
            .run(["--list-backups", "--json"])
            .code(0)
            .stderr_empty()
            .json();
        let sets = doc["change_sets"].as_array().expect("change_sets");
        let fix = sets.iter().find(|s| s["action"] == "fix").expect("the fix");
        let rollback = sets
            .iter()
            .find(|s| s["action"] == "rollback")
            .expect("the rollback");
        assert_eq!(fix["in_effect"], true, "{doc}");
        assert_eq!(fix["rolled_back_by"], serde_json::Value::Null, "{doc}");
        assert_eq!(rollback["in_effect"], false, "{doc}");
        sys.run(["--list-backups"])
            .code(0)
            .stdout_has("is still in effect")
            .stderr_empty();
        // Running the rollback again finishes it.
        unwind(&sys, 5);
        assert_eq!(tables(sys.path()), original);
        return;
    }
    panic!("no failing rename left the rollback half done");
}

#[test]
fn a_rollback_says_what_it_did_and_refuses_a_second_one_before_showing_anything() {
    let sys = System::new().deny("ALL: ALL\n");
    let fixed = sys
        .run(["--yes", "--client", "198.51.100.7"])
        .code(0)
        .stderr_empty();
    let id = fixed
        .stdout()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Applied change set ")
                .map(|r| r.split([' ', ';']).next().unwrap_or("").to_string())
        })
        .expect("the change set ID");
    sys.run(["--rollback", "--yes"])
        .code(0)
        // Applied with --yes: the diff is of what was done, read back.
        .stdout_has("/etc/hosts.allow: removed (wrapfix had created it)")
        .stdout_lacks("(planned)")
        .stderr_empty();
    let again = sys
        .run(["--rollback", &id, "--yes"])
        .code(2)
        .stdout_empty() // No diff for a refused rollback.
        .stderr_has("already rolled back by");
    let err = again.stderr();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let root = sys.path().canonicalize().expect("root");
    assert!(
        err.contains(&format!("wrapfix --root {} --rollback", root.display())),
        "{err}"
    );
}
