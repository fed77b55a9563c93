//! Asking the admin. Only on a real terminal: dialoguer reads /dev/tty even when stdin is
//! a pipe, so a piped "n" would be ignored and a key typed on the console taken instead.
//! Without a terminal on both stdin and stderr we never ask; anything but a clear yes
//! (EOF, Ctrl-D, an error, an empty line) is no.
//!
//! Yes/no questions read one line in the terminal's normal (cooked) mode rather than with
//! dialoguer's `Confirm`, which reads raw keys and ignores Ctrl-D: at a prompt that can
//! change /etc, end-of-input must mean no. dialoguer draws the menus, where arrow keys help.

use std::io::{BufRead, IsTerminal, Write};

/// Whether there is someone to ask: stdin and stderr (where the prompt goes) are terminals.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask a yes/no question that defaults to no.
pub fn confirm(question: &str) -> bool {
    if !can_ask() {
        return false;
    }
    matches!(
        read_line(&format!("{question} [y/N] ")).as_deref(),
        Some("y" | "Y" | "yes" | "Yes" | "YES")
    )
}

/// Ask for a line of text; `None` on EOF or error.
pub fn read_line(prompt: &str) -> Option<String> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            let _ = writeln!(err);
            None
        }
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// Let the admin pick one of `items` (arrow keys, Enter); `None` on Esc, `q` or an error.
///
/// The menu hides the cursor and reads keys raw, so Ctrl-C arrives as a key, which the
/// terminal library turns into `raise(SIGINT)`: the process would die with the cursor
/// still hidden. SIGINT is blocked while the menu runs, so that the cursor is shown again
/// first; then, if Ctrl-C was pressed, the pending signal ends the process as usual.
pub fn choose(prompt: &str, items: &[String]) -> Option<usize> {
    use nix::sys::signal::{SigSet, Signal};
    if !can_ask() || items.is_empty() {
        return None;
    }
    let mut sigint = SigSet::empty();
    sigint.add(Signal::SIGINT);
    let blocked = sigint.thread_block().is_ok();
    let chosen = dialoguer::Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(0)
        .interact_opt();
    let _ = dialoguer::console::Term::stderr().show_cursor();
    if blocked {
        if matches!(&chosen, Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted)
        {
            crate::term::say("interrupted: nothing changed");
        }
        let _ = sigint.thread_unblock();
    }
    chosen.ok().flatten()
}
