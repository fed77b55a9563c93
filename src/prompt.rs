//! Asking the admin. Only on a real terminal: dialoguer reads /dev/tty even when stdin is
//! a pipe, so a piped "n" would be ignored and a key typed on the console taken instead.
//! Without a terminal on both stdin and stderr we never ask; anything but a clear yes
//! (EOF, Ctrl-D, an error) is no.

use std::io::IsTerminal;

/// Whether there is someone to ask: stdin and stderr (where the prompt goes) are terminals.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask a yes/no question that defaults to no.
pub fn confirm(question: &str) -> bool {
    if !can_ask() {
        return false;
    }
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .show_default(true)
        .wait_for_newline(true)
        .interact_opt();
    matches!(answer, Ok(Some(true)))
}
