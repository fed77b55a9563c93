//! What an admin sees on an 80x24 console (tmux): the question screen holds everything
//! needed to answer, nothing is broken mid-word, the menu comes after the report and never
//! offers a banned address by default, Ctrl-D means no everywhere, and changes that let in
//! more than asked (or less) say so. The screens are tmux panes (stdout and stderr both);
//! the runs around them are plain.

use std::path::Path;

use crate::support::pane::Pane;
use crate::support::system::System;

fn read(root: &Path, file: &str) -> Vec<u8> {
    std::fs::read(root.join("etc").join(file)).unwrap_or_default()
}

/// wrapfix on `root` with `args` in an 80x24 pane, no SSH connection, no colour.
fn console(root: &Path, args: &str) -> Option<Pane> {
    Pane::sized(
        &format!(
            "env -u SSH_CONNECTION {} --root {} --color never {args}",
            env!("CARGO_BIN_EXE_wrapfix"),
            root.display()
        ),
        80,
        24,
    )
}

/// A locked-out Debian system with plenty of details to scroll away: refusals in auth.log,
/// a ban list, sshguard writing hosts.allow.
fn busy_system() -> System {
    let sys = System::new()
        .allow("# local rules\n")
        .deny("ALL: ALL\nsshd: 203.0.113.45\nsshd: 203.0.113.46\n")
        .os_release("ID=debian\nVERSION_ID=12\n");
    let mut log = String::new();
    for (i, addr) in ["203.0.113.45", "192.0.2.10", "198.51.100.7"]
        .iter()
        .enumerate()
    {
        log.push_str(&format!(
            "Nov 24 00:5{i}:12 host sshd[1194{i}]: refused connect from {addr} ({addr})\n"
        ));
    }
    std::fs::create_dir_all(sys.path().join("var/log")).expect("var/log");
    std::fs::write(sys.path().join("var/log/auth.log"), log).expect("auth.log");
    std::fs::create_dir_all(sys.path().join("etc/sshguard")).expect("sshguard dir");
    std::fs::write(
        sys.path().join("etc/sshguard/sshguard.conf"),
        "BACKEND=\"/usr/libexec/sshguard/sshg-fw-hosts\"\n",
    )
    .expect("sshguard.conf");
    sys
}

#[test]
fn the_question_screen_holds_who_what_diff_backup_and_undo_at_80x24() {
    let sys = busy_system();
    let Some(pane) = console(sys.path(), "--client 198.51.100.7") else {
        return;
    };
    pane.wait_for("Apply this change? [y/N]");
    let screen = pane.visible();
    let root = sys.path().canonicalize().expect("root");
    for needed in [
        "Refused: sshd from 198.51.100.7, by /etc/hosts.deny:1  ALL: ALL",
        "Change: add `sshd: 198.51.100.7` to /etc/hosts.allow",
        "+sshd: 198.51.100.7",
        &format!("Backup: {}/var/backups/wrapfix/", root.display()),
        &format!("Undo:   wrapfix --root {} --rollback ", root.display()),
        "Apply this change? [y/N]",
    ] {
        assert!(
            screen.contains(needed),
            "not on the screen: {needed:?}\n{screen}"
        );
    }
    // The details came first and scrolled away (the findings are above the screen).
    assert!(!screen.contains("Findings:"), "{screen}");
    assert!(pane.screen().contains("Findings:"));
    assert_eq!(
        pane.hard_wrapped(),
        Vec::<String>::new(),
        "lines the terminal broke mid-word"
    );
    pane.keys(&["y", "Enter"]);
    let after = pane.wait_for("EXIT:");
    assert!(after.contains("EXIT:0"), "{after}");
    // The advice for the tool that writes the files comes again after the change.
    let tail = &after[after.find("Applied change set").expect("applied")..];
    assert!(
        tail.contains("To keep it fixed:") && tail.contains("sshguard"),
        "{tail}"
    );
    assert_eq!(pane.hard_wrapped(), Vec::<String>::new());
}

#[test]
fn without_a_client_the_report_comes_first_and_the_menu_marks_banned_addresses() {
    let sys = busy_system();
    let Some(pane) = console(sys.path(), "") else {
        return;
    };
    let screen = pane.wait_for("Choose 1-");
    let menu_at = screen.find("Who should get in?").expect("menu");
    let report_at = screen.find("blanket-deny").expect("the report is shown");
    assert!(report_at < menu_at, "report before the menu:\n{screen}");
    let menu = &screen[menu_at..];
    // Newest refusal first; the banned one says so; the default is typing an address.
    let item = |addr: &str| {
        menu.lines()
            .find(|l| l.contains(addr))
            .unwrap_or_else(|| panic!("{addr} not offered:\n{menu}"))
            .to_string()
    };
    assert!(item("203.0.113.45").contains("BANNED"), "{menu}");
    assert!(!item("198.51.100.7").contains("BANNED"), "{menu}");
    assert!(menu.contains("4) Type an address"), "{menu}");
    assert!(menu.contains("[Enter: 4, Ctrl-D: cancel]"), "{menu}");
    assert_eq!(pane.hard_wrapped(), Vec::<String>::new());
    // Enter: type an address; a typo asks again; then the question for that client.
    pane.keys(&["Enter"]);
    pane.wait_for("Client ([USER@]ADDRESS[=NAME]");
    pane.keys(&["198.51.100.x", "Enter"]);
    pane.wait_for("try again");
    assert_eq!(pane.hard_wrapped(), Vec::<String>::new());
    pane.keys(&["198.51.100.7", "Enter"]);
    pane.wait_for("Apply this change? [y/N]");
    pane.keys(&["C-d"]);
    let end = pane.wait_for("EXIT:");
    assert!(
        end.contains("EXIT:1") && end.contains("nothing changed"),
        "{end}"
    );
    assert!(read(sys.path(), "hosts.allow") == b"# local rules\n");
}

#[test]
fn ctrl_d_at_the_menu_means_no() {
    let sys = busy_system();
    let Some(pane) = console(sys.path(), "") else {
        return;
    };
    pane.wait_for("Choose 1-");
    pane.keys(&["C-d"]);
    let end = pane.wait_for("EXIT:");
    assert!(
        end.contains("EXIT:1") && end.contains("nothing changed"),
        "{end}"
    );
    assert!(!sys.path().join("var/backups/wrapfix").exists());
}

#[test]
fn commenting_out_a_blanket_rule_says_it_opens_the_daemon_to_everyone() {
    let sys = busy_system();
    let Some(pane) = console(sys.path(), "") else {
        return;
    };
    pane.wait_for("Choose 1-");
    pane.keys(&["5", "Enter"]);
    pane.wait_for("Apply this change? [y/N]");
    let screen = pane.visible();
    let note = screen
        .find("this opens sshd to every client")
        .unwrap_or_else(|| panic!("no warning:\n{screen}"));
    // One plain line.
    let line = screen[note..].lines().next().unwrap_or_default();
    assert!(line.ends_with("still refuse)."), "{screen}");
    let diff = screen.find("--- /etc/hosts.deny").expect("the diff");
    assert!(note < diff, "the warning comes before the diff:\n{screen}");
    pane.keys(&["n", "Enter"]);
    pane.wait_for("EXIT:1");
    // The same line without a terminal, and for --yes without a client.
    sys.run(["--yes"])
        .code(0)
        .stdout_has("this opens sshd to every client")
        .stderr_empty();
}

#[test]
fn debian_missing_newline_says_who_is_still_refused_and_offers_the_newline() {
    let sys = System::new()
        .deny("sshd: 203.0.113.9")
        .os_release("ID=debian\n");
    let Some(pane) = console(sys.path(), "--client 198.51.100.7") else {
        return;
    };
    let screen = pane.wait_for("Apply this change? [y/N]");
    // Broken between words on the screen: compare as one line.
    let words = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "sshd still refuses every other client: /etc/hosts.deny:1 has no final newline"
        ),
        "{screen}"
    );
    pane.keys(&["y", "Enter"]);
    pane.wait_for("Add the missing newline too? [y/N]");
    pane.keys(&["y", "Enter"]);
    let end = pane.wait_for("EXIT:");
    assert!(end.contains("EXIT:0"), "{end}");
    assert_eq!(read(sys.path(), "hosts.deny"), b"sshd: 203.0.113.9\n");
    assert!(
        String::from_utf8_lossy(&read(sys.path(), "hosts.allow")).contains("sshd: 198.51.100.7\n")
    );
    // Two change sets, each undone on its own: the newline first.
    sys.run(["--check"]).code(0).stderr_empty();
    sys.run(["--rollback", "--yes"]).code(0).stderr_empty();
    assert_eq!(read(sys.path(), "hosts.deny"), b"sshd: 203.0.113.9");
    assert!(sys.path().join("etc/hosts.allow").exists());
}

#[test]
fn the_rollback_question_fits_80_columns_and_ctrl_d_means_no() {
    let sys = System::new().allow("# local\n").deny("ALL: ALL\n");
    sys.run(["--yes", "--client", "198.51.100.7"])
        .code(0)
        .stderr_empty();
    let fixed = read(sys.path(), "hosts.allow");
    let Some(pane) = console(sys.path(), "--rollback") else {
        return;
    };
    let screen = pane.wait_for("Roll back this change set? [y/N]");
    assert!(
        screen.contains("(planned)") && screen.contains("-sshd: 198.51.100.7"),
        "{screen}"
    );
    assert_eq!(pane.hard_wrapped(), Vec::<String>::new());
    pane.keys(&["C-d"]);
    let end = pane.wait_for("EXIT:");
    assert!(
        end.contains("EXIT:1") && end.contains("nothing changed"),
        "{end}"
    );
    assert_eq!(read(sys.path(), "hosts.allow"), fixed);
}
