//! Issue 9, the write path: appenders racing an in-place rewrite (a bind-mounted table)
//! and the rename (fail2ban banning while wrapfix works) lose no line and keep their
//! order; the EBUSY refusal says once that nothing was changed.

use std::io::Write as _;
use std::time::Duration;

use crate::hostile::sandbox;
use crate::repair::in_private_mounts;

#[test]
fn in_place_writing_keeps_every_line_appended_meanwhile() {
    let s = sandbox().deny("");
    let outside = s.beside("mounted-deny");
    std::fs::write(&outside, "ALL: ALL\n").expect("write");
    let deny = s.at("/etc/hosts.deny");
    // fail2ban's `printf >>`: open, append, close, as fast as sh can, for as long as
    // wrapfix rewrites the bind-mounted file in place (and rolls that back).
    let script = format!(
        "mount --bind {out} {deny} || exit 99
         for round in 1 2 3 4 5 6; do
           (i=0; while [ ! -e {stop} ]; do echo \"ALL: 10.$round.$((i / 250)).$((i % 250))\" >> {deny}; i=$((i + 1)); sleep 0.001; done; echo $i > {count}.$round) &
           sleep 0.05
           if [ $((round % 2)) = 1 ]; then
             {bin} --root {root} --color never --yes --strategy comment --in-place >/dev/null || echo FIX-FAILED
           else
             {bin} --root {root} --color never --yes --rollback >/dev/null || echo ROLLBACK-FAILED
           fi
           touch {stop}; wait; rm {stop}
         done",
        out = outside.display(),
        deny = deny.display(),
        stop = s.beside("stop").display(),
        count = s.beside("count").display(),
        bin = env!("CARGO_BIN_EXE_wrapfix"),
        root = s.path().display(),
    );
    // Its stdout is thrown away: `out` is the runs' stderr and FAILED lines.
    let Some((code, out)) = in_private_mounts(&script) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    // wrapfix's stderr: at most, each run says the appended lines were kept.
    let kept = "wrapfix: /etc/hosts.deny: lines were appended after the plan was made; the same \
                edit was applied and they were kept";
    assert!(out.lines().all(|l| l == kept), "{out}");
    let now = String::from_utf8(std::fs::read(&outside).expect("read")).expect("utf8");
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for l in now.lines() {
        *seen.entry(l).or_default() += 1;
    }
    let mut missing = Vec::new();
    let mut total = 0;
    for round in 1..=6 {
        let count: u32 = std::fs::read_to_string(s.beside(&format!("count.{round}")))
            .expect("count")
            .trim()
            .parse()
            .expect("number");
        total += count;
        for i in 0..count {
            let line = format!("ALL: 10.{round}.{}.{}", i / 250, i % 250);
            if seen.get(line.as_str()) != Some(&1) {
                missing.push(line);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {total} appended lines lost or doubled, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        now.starts_with("ALL: ALL\n"),
        "rolled back: {}",
        &now[..now.len().min(200)]
    );
}

#[test]
fn salvaged_lines_keep_the_order_they_were_written_in() {
    use crate::fsops::{Scratch, replace, unreplace};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Scratch::new();
    s.write("etc/hosts.deny", b"# hardening\nALL: ALL\n");
    let deny = s.path("etc/hosts.deny");
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let line = format!("ALL: 198.18.{}.{}\n", n / 256, n % 256);
                let f = std::fs::OpenOptions::new().append(true).open(&deny);
                if f.and_then(|mut f| f.write_all(line.as_bytes())).is_err() {
                    break;
                }
                n += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            n
        })
    };
    let fix = replace(b"\nALL: ALL\n", b"\n#ALL: ALL\n");
    let undo = unreplace(b"\nALL: ALL\n", b"\n#ALL: ALL\n");
    for _ in 0..25 {
        s.apply(&["/etc/hosts.deny"], &fix)
            .expect("fix")
            .expect("applied");
        s.rollback(None, false, &undo)
            .expect("rollback")
            .expect("applied");
    }
    stop.store(true, Ordering::SeqCst);
    let written = appender.join().expect("appender");
    let text = String::from_utf8(s.read("etc/hosts.deny").expect("deny")).expect("utf8");
    let order: Vec<u32> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ALL: 198.18."))
        .map(|ip| {
            let (a, b) = ip.split_once('.').expect("ip");
            a.parse::<u32>().expect("n") * 256 + b.parse::<u32>().expect("n")
        })
        .collect();
    assert_eq!(order.len() as u32, written, "no line lost");
    let swapped: Vec<_> = order.windows(2).filter(|w| w[0] > w[1]).collect();
    assert!(
        swapped.is_empty(),
        "{} lines out of order, e.g. {:?}",
        swapped.len(),
        swapped.first()
    );
}

#[test]
fn the_ebusy_message_says_nothing_was_changed_once() {
    let s = sandbox().deny("");
    let outside = s.beside("mounted-deny");
    std::fs::write(&outside, "ALL: ALL\n").expect("write");
    let deny = s.at("/etc/hosts.deny");
    // Only wrapfix's stderr (and mount's) is kept; its stdout goes to a file beside.
    let stdout = s.beside("stdout");
    let script = format!(
        "mount --bind {} {} && {} --root {} --color never --yes --strategy comment >{}",
        outside.display(),
        deny.display(),
        env!("CARGO_BIN_EXE_wrapfix"),
        s.path().display(),
        stdout.display()
    );
    let Some((code, stderr)) = in_private_mounts(&script) else {
        return;
    };
    let stdout = std::fs::read_to_string(&stdout).expect("stdout");
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert_eq!(
        (stdout + &stderr).matches("othing was changed").count(),
        1,
        "{stderr}"
    );
    let deny = deny.display();
    assert_eq!(
        stderr,
        format!(
            "wrapfix: cannot replace {deny}: Device or resource busy (os error 16) — {deny} is \
             a mount point of its own (a file bind-mounted into this system, as containers do), \
             so it cannot be replaced atomically; wrapfix can overwrite it in place instead (not \
             atomic; the backup is kept) when run again with --in-place. Nothing was changed.\n"
        )
    );
}

/// A writer wrapfix cannot see coming: it opens `path` for appending (`exec 3>>`) before
/// wrapfix reads it, waits until wrapfix has renamed the new version over it, then after
/// `delay` writes `first` to the file it opened (the old one), keeps it open for `hold`,
/// writes `second` (unless empty) and closes it: DenyHosts, or a fail2ban action caught
/// between its open and its write. Returned once the file is open.
fn early_writer(
    path: &std::path::Path,
    delay: &str,
    first: &str,
    hold: &str,
    second: &str,
) -> std::process::Child {
    use std::io::BufRead as _;
    let script = r#"exec 3>>"$1" || exit 97
        ino=$(stat -c %i "$1")
        echo ready
        n=0
        while [ "$(stat -c %i "$1")" = "$ino" ]; do
          n=$((n + 1)); [ $n -lt 5000 ] || exit 98; sleep 0.001
        done
        sleep "$2"; printf '%s\n' "$3" >&3
        sleep "$4"; [ -z "$5" ] || printf '%s\n' "$5" >&3
        exec 3>&-"#;
    let mut child = std::process::Command::new("sh")
        .args(["-c", script, "early-writer"])
        .arg(path)
        .args([delay, first, hold, second])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read from the writer");
    assert_eq!(
        line,
        "ready\n",
        "the writer did not open {}",
        path.display()
    );
    child
}

#[track_caller]
fn finished(mut writer: std::process::Child) {
    let status = writer.wait().expect("wait for the writer");
    assert!(status.success(), "the writer failed: {status}");
}

#[test]
fn a_line_written_through_a_descriptor_opened_before_wrapfix_read_the_file_is_kept() {
    // It used to be lost: the salvage read the old file right after the rename, and the
    // writer's line came later, into the replaced file, while wrapfix said it was done.
    let s = sandbox().deny("ALL: ALL\n");
    let deny = s.at("/etc/hosts.deny");
    let writer = early_writer(&deny, "0.3", "ALL: 203.0.113.99", "0", "");
    let fixed = s
        .run(["--yes", "--strategy", "comment"])
        .code(0)
        .stderr_empty()
        .stdout_has("/etc/hosts.deny: kept 18 bytes another program appended meanwhile");
    finished(writer);
    let text = s.text("/etc/hosts.deny");
    assert!(
        text.ends_with("\n#ALL: ALL\nALL: 203.0.113.99\n"),
        "{text}\n{}",
        fixed.stdout()
    );
    // The same for a rollback: the ban outlives it.
    let writer = early_writer(&deny, "0.3", "ALL: 203.0.113.98", "0", "");
    s.run(["--yes", "--rollback"]).code(0).stderr_empty();
    finished(writer);
    assert_eq!(
        s.text("/etc/hosts.deny"),
        "ALL: ALL\nALL: 203.0.113.99\nALL: 203.0.113.98\n"
    );
}

#[test]
fn a_writer_that_keeps_the_replaced_file_open_past_the_wait_is_exit_3_and_said() {
    let s = sandbox()
        .deny("ALL: ALL\n")
        .env("WRAPFIX_WRITER_WAIT_MS", "300");
    let deny = s.at("/etc/hosts.deny");
    // Writes one line at once, the next long after wrapfix stopped waiting.
    let writer = early_writer(&deny, "0", "ALL: 203.0.113.99", "1.5", "ALL: 203.0.113.98");
    let start = std::time::Instant::now();
    let run = s.run(["--yes", "--strategy", "comment"]).code(3);
    let took = start.elapsed();
    let id = run
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("Applied change set ")?.split(';').next())
        .expect("the change set is applied")
        .to_string();
    let root = s.path().display();
    let run = run.stderr_is(&format!(
        "wrapfix: /etc/hosts.deny: after 300 ms, another program still had the replaced copy \
         of /etc/hosts.deny open for writing (the kernel refused a read lease on it): lines it \
         writes there now are not in /etc/hosts.deny, only what it wrote before was kept; \
         restart that program (fail2ban, DenyHosts) so that it writes to the new file. Change \
         set {id} is in place (undo: wrapfix --root {root} --rollback {id})\n"
    ));
    assert!(
        took < Duration::from_millis(1500),
        "waited {took:?} for the writer"
    );
    finished(writer);
    let text = s.text("/etc/hosts.deny");
    assert!(
        text.ends_with("\n#ALL: ALL\nALL: 203.0.113.99\n"),
        "what it wrote before the wait ran out is kept, the rest is not: {text}\n{}",
        run.stdout()
    );
    // A rollback says it too, in its JSON.
    let writer = early_writer(&deny, "0", "ALL: 203.0.113.97", "1.5", "");
    let run = s.run(["--yes", "--rollback", "--json"]).code(3);
    finished(writer);
    let doc = run.json();
    assert_eq!(
        doc["change_set"]["still_open"][0]["file"], "/etc/hosts.deny",
        "{doc:#}"
    );
    assert_eq!(
        s.text("/etc/hosts.deny"),
        "ALL: ALL\nALL: 203.0.113.99\nALL: 203.0.113.97\n"
    );
}

#[test]
fn without_leases_a_fix_settles_and_succeeds_as_before() {
    // Not the file's owner and no CAP_LEASE: the kernel refuses leases (EACCES), and the
    // salvage waits for the file to stop growing instead.
    if !nix::unistd::geteuid().is_root() {
        crate::support::skip("root privileges", "drops CAP_LEASE with setpriv");
        return;
    }
    if !crate::support::require_tool("setpriv", "drops CAP_LEASE") {
        return;
    }
    let s = sandbox().deny("ALL: ALL\n");
    let deny = s.at("/etc/hosts.deny");
    std::os::unix::fs::chown(&deny, Some(1234), Some(1234)).expect("chown");
    let out = std::process::Command::new("setpriv")
        .args(["--bounding-set=-lease", "--inh-caps=-lease"])
        .arg(env!("CARGO_BIN_EXE_wrapfix"))
        .arg("--root")
        .arg(s.path())
        .args(["--color", "never", "--yes", "--strategy", "comment"])
        .env_remove("SSH_CONNECTION")
        .env("WRAPFIX_WRITER_WAIT_MS", "300")
        .output()
        .expect("run wrapfix without CAP_LEASE");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert!(s.text("/etc/hosts.deny").ends_with("\n#ALL: ALL\n"));
}
