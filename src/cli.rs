//! The command line as clap sees it. [`crate::config::Config`] checks it and the rest of
//! the program only sees that.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, ValueEnum};

/// Explain and repair SSH lockouts caused by TCP Wrappers (/etc/hosts.allow, /etc/hosts.deny).
///
/// Without a mode option wrapfix repairs interactively: it reports who is denied and by which
/// line, shows the planned change as a diff, asks, and applies it.
#[derive(Debug, Parser)]
#[command(name = "wrapfix", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub mode: ModeArgs,

    /// Apply the change (or rollback) without asking.
    #[arg(long, short = 'y', conflicts_with_all = ["check", "dry_run", "list_backups"])]
    pub yes: bool,

    /// If a table is a bind-mounted file that cannot be replaced by rename (EBUSY/EXDEV),
    /// overwrite it in place after the backup (not atomic).
    #[arg(long)]
    pub in_place: bool,

    /// With --rollback: restore the backed-up bytes exactly, dropping later changes by others.
    #[arg(long, requires = "rollback")]
    pub exact: bool,

    /// Client to let in: [USER@]ADDRESS[=NAME]. Repeatable. Default: the client address in
    /// $SSH_CONNECTION, else a client no rule mentions.
    #[arg(long, value_name = "SPEC", action = ArgAction::Append, conflicts_with_all = NOT_REPAIRS)]
    pub client: Vec<String>,

    /// Read more clients from FILE (- for standard input): one [USER@]ADDRESS[=NAME] a line;
    /// blank lines and lines starting with # are skipped.
    #[arg(long, value_name = "FILE", conflicts_with_all = NOT_REPAIRS)]
    pub clients_from: Option<PathBuf>,

    /// Process name libwrap is called with. Repeatable.
    #[arg(long, value_name = "NAME", action = ArgAction::Append, conflicts_with_all = NOT_REPAIRS)]
    pub daemon: Vec<String>,

    /// How to repair: add an allow entry, or comment out the denying rules.
    #[arg(long, value_enum, conflicts_with_all = NOT_REPAIRS)]
    pub strategy: Option<Strategy>,

    /// Root of the system to check or repair (e.g. a rescue mount).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// libwrap build to model. Default: detected from ROOT/etc/os-release.
    #[arg(long, value_enum)]
    pub flavor: Option<FlavorArg>,

    /// Where change sets are kept. Default: ROOT/var/backups/wrapfix.
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,

    /// Print one JSON document on stdout instead of the report.
    #[arg(long)]
    pub json: bool,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Print less: only verdicts that are not granted, and errors.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: every run behind a verdict that depends on something unknown.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,
}

/// The modes that do not evaluate clients: options about clients, daemons and strategy mean
/// nothing there, and ignoring them silently would let a typo pass (`--rollback --client X`
/// does not roll back only X's entry).
const NOT_REPAIRS: [&str; 2] = ["rollback", "list_backups"];

/// The mode options: at most one.
#[derive(Debug, Args)]
#[group(id = "mode", multiple = false)]
pub struct ModeArgs {
    /// Report verdicts and findings; change nothing.
    #[arg(long)]
    pub check: bool,

    /// Report, plan and show the diff; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Undo the latest change set, or change set ID.
    // `Option<Option<_>>`: `--rollback` alone (the latest) and `--rollback ""` (an unset
    // `$ID` in a script, an error) must not look the same.
    #[arg(long, value_name = "ID", num_args = 0..=1)]
    pub rollback: Option<Option<String>>,

    /// List the change sets that can be rolled back.
    #[arg(long)]
    pub list_backups: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    /// Insert an allow entry for the client(s) into hosts.allow.
    Allow,
    /// Comment out the rules that cause the denial.
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlavorArg {
    Debian,
    Rhel7,
    Rhel6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn modes_exclude_each_other_and_yes_goes_with_repair_or_rollback() {
        assert!(Cli::try_parse_from(["wrapfix", "--check", "--dry-run"]).is_err());
        assert!(Cli::try_parse_from(["wrapfix", "--check", "--yes"]).is_err());
        assert!(Cli::try_parse_from(["wrapfix", "--rollback", "--yes"]).is_ok());
        assert!(Cli::try_parse_from(["wrapfix", "--yes", "--client", "10.0.0.1"]).is_ok());
        assert!(Cli::try_parse_from(["wrapfix", "--exact"]).is_err());
        for misuse in [
            &["--rollback", "--client", "10.0.0.1"][..],
            &["--list-backups", "--strategy", "allow"],
            &["--rollback", "X", "--daemon", "sshd"],
            &["--list-backups", "--clients-from", "f"],
        ] {
            let args = std::iter::once("wrapfix").chain(misuse.iter().copied());
            assert!(Cli::try_parse_from(args).is_err(), "{misuse:?}");
        }
        let c = Cli::try_parse_from(["wrapfix", "--rollback"]).unwrap();
        assert_eq!(c.mode.rollback, Some(None));
        let c = Cli::try_parse_from(["wrapfix", "--rollback", ""]).unwrap();
        assert_eq!(c.mode.rollback, Some(Some(String::new())));
    }
}
