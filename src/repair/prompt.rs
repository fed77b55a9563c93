//! Asking the admin. Only on a real terminal: without one on both stdin and stderr we never
//! ask; anything but a clear answer (EOF, Ctrl-D, an error) is no.
//!
//! Every question reads one line in the terminal's normal (cooked) mode: Ctrl-D is then
//! end-of-input, which must mean no at a prompt that can change /etc, and a serial console
//! that mangles arrow keys still works. Menus are numbered lists for the same reasons.

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

/// Let the admin pick one of `items` by number; Enter alone picks `default`. `None` on
/// EOF (Ctrl-D) or an error; anything else that is not a number of the list asks again.
/// Read in cooked mode, so the cursor is never hidden and Ctrl-C ends the process with the
/// terminal as it was. Lines are broken between words at the width of the terminal the
/// menu goes to (stderr).
pub fn choose(title: &str, items: &[String], default: usize) -> Option<usize> {
    if !can_ask() || items.is_empty() {
        return None;
    }
    let width = terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| usize::from(w.0));
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{title}");
    for (i, item) in items.iter().enumerate() {
        let number = format!("  {}) ", i + 1);
        let indent = " ".repeat(number.len());
        let _ = write!(
            err,
            "{}",
            crate::report::wrap(item, width, &number, &indent)
        );
    }
    let question = format!(
        "Choose 1-{} [Enter: {}, Ctrl-D: cancel]: ",
        items.len(),
        default + 1
    );
    loop {
        let line = read_line(&question)?;
        if line.is_empty() {
            return Some(default);
        }
        match line.parse::<usize>() {
            Ok(n) if (1..=items.len()).contains(&n) => return Some(n - 1),
            _ => {
                let _ = writeln!(err, "{line:?} is not one of 1-{}", items.len());
            }
        }
    }
}
