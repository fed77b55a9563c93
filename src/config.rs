//! The checked configuration: everything in [`Cli`] validated and resolved, plus what comes
//! from the environment ($SSH_CONNECTION, NO_COLOR, the root's os-release).

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{self, Cli, Color, FlavorArg};
use crate::error::{Error, Result};
use crate::model::client::Client;
use crate::model::flavor::{Flavor, FlavorChoice};
use crate::rootfs::Root;

/// How a repair gets the clients in (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Insert an allow entry for the client(s) into hosts.allow.
    Allow,
    /// Comment out the rules that refuse them.
    Comment,
}

impl Strategy {
    /// As `--strategy` and the JSON document spell it.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Allow => "allow",
            Strategy::Comment => "comment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Repair,
    Check,
    DryRun,
    Rollback { id: Option<String>, exact: bool },
    ListBackups,
}

impl Action {
    /// The mode's name in the JSON document (`mode`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Repair => "repair",
            Action::Check => "check",
            Action::DryRun => "dry-run",
            Action::Rollback { .. } => "rollback",
            Action::ListBackups => "list-backups",
        }
    }
}

/// Where the clients came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    Options,
    SshConnection,
    /// No client known: the generic client stands in.
    None,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Action,
    pub yes: bool,
    /// `--in-place`: may overwrite a bind-mounted table in place.
    pub in_place: bool,
    pub root: Root,
    pub flavor: FlavorChoice,
    pub clients: Vec<Client>,
    pub client_source: ClientSource,
    pub daemons: Vec<String>,
    pub strategy: Option<Strategy>,
    /// Where change sets live, on this machine.
    pub backup_dir: PathBuf,
    pub json: bool,
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// Columns of the terminal the report goes to, for breaking long lines between words;
    /// `None` when stdout is not a terminal (a file or a pipe gets whole lines).
    pub width: Option<usize>,
    /// The options any command wrapfix prints must repeat so that, pasted on this console,
    /// it acts on the same system: `--root`, `--backup-dir`, `--flavor` as this run had them.
    pub same_system: Vec<String>,
    /// `--clients-from FILE` as given (absolute), for printed commands.
    pub clients_from: Option<PathBuf>,
}

impl Config {
    /// A command line for this system, shell-quoted: `wrapfix --root /mnt/sysimage ARGS`.
    pub fn command(&self, args: &[&str]) -> String {
        std::iter::once("wrapfix")
            .chain(self.same_system.iter().map(String::as_str))
            .chain(args.iter().copied())
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A path on this machine as the repaired system sees it (`/var/backups/wrapfix/ID`),
    /// and whether it is inside the root at all; outside it, the path on this machine.
    pub fn as_seen(&self, host: &std::path::Path) -> (String, bool) {
        let root = self.root.dir();
        match host.strip_prefix(root) {
            Ok(rel) if root != std::path::Path::new("/") => (format!("/{}", rel.display()), true),
            Ok(_) => (host.display().to_string(), true),
            Err(_) => (host.display().to_string(), false),
        }
    }

    /// This repair again, with `extra` (e.g. `--yes`): the clients, daemons and strategy
    /// it was given, on the same system.
    pub fn repeat_with(&self, extra: &[&str]) -> String {
        let mut args: Vec<String> = Vec::new();
        match (&self.clients_from, self.client_source) {
            (Some(file), _) => {
                args.extend(["--clients-from".into(), file.display().to_string()]);
            }
            (None, ClientSource::None) => {}
            (None, _) => {
                for c in &self.clients {
                    args.extend(["--client".into(), c.to_string()]);
                }
            }
        }
        if self.daemons != ["sshd"] {
            for d in &self.daemons {
                args.extend(["--daemon".into(), d.clone()]);
            }
        }
        if let Some(s) = self.strategy {
            args.extend(["--strategy".into(), s.name().into()]);
        }
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        self.command(&all)
    }
}

/// `s` as one shell word: as is when it is plain, else in single quotes (no glob or
/// expansion character is ever left bare).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@=+,%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl Config {
    /// Check the command line. `env` reads environment variables (a parameter so tests can
    /// pass their own).
    pub fn from_cli(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        // clap's `requires` on --exact lets `--exact --yes` through; an ignored --exact
        // would make a repair look like a byte-for-byte restore.
        if cli.exact && cli.mode.rollback.is_none() {
            return Err(Error::Usage(
                "--exact only goes with --rollback: `wrapfix --rollback [ID] --exact` restores a change set's backup byte for byte".into(),
            ));
        }
        let mode = if cli.mode.check {
            Action::Check
        } else if cli.mode.dry_run {
            Action::DryRun
        } else if cli.mode.list_backups {
            Action::ListBackups
        } else if let Some(id) = cli.mode.rollback {
            if id.as_deref().is_some_and(|id| id.trim().is_empty()) {
                return Err(Error::Usage(
                    "--rollback '': the change-set ID is empty (an unset variable?); give an ID that `wrapfix --list-backups` shows, or --rollback alone for the latest".into(),
                ));
            }
            Action::Rollback {
                id,
                exact: cli.exact,
            }
        } else {
            Action::Repair
        };

        let root_dir = std::fs::canonicalize(&cli.root)
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--root {}: no such directory (give the directory where the system to repair is mounted, e.g. /mnt/sysimage)",
                    cli.root.display()
                ))
            })?;
        let root = Root::new(root_dir);
        check_is_a_system(&root, &cli.root)?;

        let flavor = match cli.flavor {
            Some(FlavorArg::Debian) => FlavorChoice::forced(Flavor::Debian),
            Some(FlavorArg::Rhel7) => FlavorChoice::forced(Flavor::Rhel7),
            Some(FlavorArg::Rhel6) => FlavorChoice::forced(Flavor::Rhel6),
            None => FlavorChoice::detect(&root),
        };

        // Each spec with the line of the --clients-from file it is on (None: a --client);
        // where it came from is put in words only for an error (10,000 clients are read).
        let file = match &cli.clients_from {
            Some(f) => Some((f.display().to_string(), read_clients_file(f)?)),
            None => None,
        };
        let mut specs: Vec<(Option<usize>, &str)> =
            cli.client.iter().map(|s| (None, s.as_str())).collect();
        if let Some((_, text)) = &file {
            specs.extend(
                text.lines()
                    .enumerate()
                    .map(|(i, l)| (Some(i + 1), l.trim()))
                    .filter(|(_, l)| !l.is_empty() && !l.starts_with('#')),
            );
        }
        let (clients, client_source) = if !specs.is_empty() {
            let mut clients = Vec::with_capacity(specs.len());
            let mut seen = rustc_hash::FxHashSet::default();
            for &(line, spec) in &specs {
                let c = Client::parse(spec, flavor.flavor).map_err(|e| {
                    let origin = match (line, &file) {
                        (Some(n), Some((shown, _))) => format!("--clients-from {shown} line {n}"),
                        _ => "--client".to_string(),
                    };
                    Error::Usage(format!("{origin}: {e}"))
                })?;
                if seen.insert(c.clone()) {
                    clients.push(c);
                }
            }
            (clients, ClientSource::Options)
        } else {
            match env("SSH_CONNECTION")
                .as_deref()
                .and_then(|s| s.split_whitespace().next())
                .map(str::to_string)
            {
                Some(addr) => {
                    let c = Client::parse(&addr, flavor.flavor).map_err(|e| {
                        Error::Usage(format!("$SSH_CONNECTION: {e}; pass --client explicitly"))
                    })?;
                    (vec![c], ClientSource::SshConnection)
                }
                None => (Vec::new(), ClientSource::None),
            }
        };

        let mut daemons = if cli.daemon.is_empty() {
            vec!["sshd".to_string()]
        } else {
            cli.daemon
        };
        for d in &daemons {
            if d.is_empty()
                || d.bytes()
                    .any(|b| !b.is_ascii_graphic() || b",:/".contains(&b))
            {
                return Err(Error::Usage(format!(
                    "invalid --daemon '{d}': give the daemon's process name as libwrap sees it, e.g. sshd"
                )));
            }
        }
        daemons.dedup();

        let mut same_system = Vec::new();
        if root.dir() != std::path::Path::new("/") {
            same_system.extend(["--root".to_string(), root.dir().display().to_string()]);
        }
        if let Some(dir) = &cli.backup_dir {
            // Absolute, so that the command works from any directory.
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            same_system.extend(["--backup-dir".to_string(), dir.display().to_string()]);
        }
        if cli.flavor.is_some() {
            same_system.extend(["--flavor".to_string(), flavor.flavor.name().to_string()]);
        }
        let clients_from = cli
            .clients_from
            .as_ref()
            .filter(|f| f.as_os_str() != "-")
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()));

        // As written: fsops resolves it (inside the root when it lies there) each time it
        // is used, so that the directories it creates are made through the same resolution.
        let backup_dir = match cli.backup_dir {
            Some(dir) => std::path::absolute(&dir)
                .map_err(|e| Error::Usage(format!("--backup-dir {}: {e}", dir.display())))?,
            None => root.dir().join("var/backups/wrapfix"),
        };

        let color = match cli.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                env("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
            }
        } && !cli.json;

        Ok(Config {
            mode,
            yes: cli.yes,
            in_place: cli.in_place,
            root,
            flavor,
            clients,
            client_source,
            daemons,
            strategy: cli.strategy.map(|s| match s {
                cli::Strategy::Allow => Strategy::Allow,
                cli::Strategy::Comment => Strategy::Comment,
            }),
            backup_dir,
            json: cli.json,
            color,
            quiet: cli.quiet,
            verbose: cli.verbose,
            width: (!cli.json)
                .then(|| terminal_size::terminal_size_of(std::io::stdout()))
                .flatten()
                .map(|(w, _)| usize::from(w.0)),
            same_system,
            clients_from,
        })
    }
}

/// Files of which a system's `/etc` has at least one: the tables themselves, or what every
/// installed system has (os-release, redhat-release on CentOS 6, passwd).
const SYSTEM_FILES: [&str; 5] = [
    "hosts.allow",
    "hosts.deny",
    "os-release",
    "redhat-release",
    "passwd",
];

/// A root without `etc/`, or whose `etc/` has none of [`SYSTEM_FILES`], is not a system: a
/// typo or a disk that is not mounted. Reporting "nothing to do" for it would tell the admin
/// the lockout is not in the files when wrapfix never saw them.
fn check_is_a_system(root: &Root, given: &std::path::Path) -> Result<()> {
    let shown = given.display();
    let hint = format!(
        "is the disk mounted there? e.g. mount /dev/sdXN {shown} (lsblk lists the disks), then run wrapfix again"
    );
    let etc = root
        .resolve("/etc")
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--root {shown}: {} has no etc/ directory, so it is not the root of a system; {hint}",
                root.dir().display()
            ))
        })?;
    // A name in etc/ counts even as a dangling link (os-release points into /usr, which may
    // be a separate file system that is not mounted).
    let present = SYSTEM_FILES
        .iter()
        .any(|f| std::fs::symlink_metadata(etc.join(f)).is_ok());
    if present {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--root {shown}: {} has none of {}, so it is not the /etc of a system; {hint}",
        etc.display(),
        SYSTEM_FILES.join(", ")
    )))
}

/// The text of `--clients-from FILE` (`-`: standard input): one client spec a line.
fn read_clients_file(file: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let mut text = String::new();
    let shown = file.display().to_string();
    let read = if shown == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| Error::Usage(format!("--clients-from {shown}: cannot read it: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("/mnt/sysimage"), "/mnt/sysimage");
        assert_eq!(shell_quote("2001:db8::1"), "2001:db8::1");
        assert_eq!(shell_quote("/mnt/my disk"), "'/mnt/my disk'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("/m[1]"), "'/m[1]'");
        assert_eq!(shell_quote(""), "''");
    }
}
