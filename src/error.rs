//! One error type for the whole tool, one `Display` for all its messages, and the exit
//! statuses (README, "Exit status"; the man page) mapped in one place: [`Exit`] is what a run
//! ends with, [`Error::exit`] says which one each error is.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// How a run ends. `main` turns it into the process's exit status ([`Exit::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every target granted, change applied, or nothing to do.
    Ok,
    /// A lockout was found and not fixed (or the admin said no).
    LockedOut,
    /// Usage or input error; nothing changed.
    Usage,
    /// The change could not be made safely; the message says what state each file is in.
    Unsafe,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::LockedOut => 1,
            Exit::Usage => 2,
            Exit::Unsafe => 3,
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// A bad option value or input: the message names the value and what to do.
    Usage(String),

    /// `--rollback ID` names no change set. `list` is the command that lists them.
    NoSuchChangeSet {
        id: String,
        dir: PathBuf,
        list: Option<String>,
    },

    /// `--rollback` without an ID, and every change set was rolled back already.
    NothingToRollBack { dir: PathBuf },

    /// The change set was rolled back by `by`; `redo` is the command that undoes that.
    AlreadyRolledBack {
        id: String,
        by: String,
        redo: String,
    },

    /// `--exact` would silently undo later change sets still in effect (`later`, newest
    /// first); `first` is the command that rolls back the newest of them.
    ExactWouldUndoLater {
        id: String,
        later: Vec<String>,
        first: String,
    },

    /// Reading the system being checked failed.
    Read {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// The file changed since the plan was made and the plan's edits cannot be found in it.
    PlanNoLongerApplies { path: String, reason: String },

    /// A rollback cannot undo only wrapfix's own edits in `path` (another program changed
    /// them); `exact` is the command that restores the backup byte for byte.
    CannotUndoOwnEdits {
        path: String,
        reason: String,
        exact: String,
    },

    /// A change set a rollback must not use (tampered or damaged); nothing was changed.
    UntrustedChangeSet {
        dir: PathBuf,
        path: String,
        why: String,
    },

    /// A change could not be made safely, for a reason the message gives whole.
    Unsafe(String),

    /// Another wrapfix run holds the lock on `what` (`dir`): nothing was done. Exit 3, not
    /// 2: the command line was fine, the change just could not be made now.
    Busy { what: &'static str, dir: PathBuf },

    /// A file operation of a change (backup, write, rename, ...) failed. `detail` says what
    /// to do about it.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
        detail: String,
    },

    /// A change stopped by `error` after it began: `state` says what each file holds now and
    /// where the backup is.
    Stopped { error: Box<Error>, state: String },
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_)
            | Error::NoSuchChangeSet { .. }
            | Error::NothingToRollBack { .. }
            | Error::AlreadyRolledBack { .. }
            | Error::ExactWouldUndoLater { .. }
            | Error::Read { .. } => Exit::Usage,
            Error::PlanNoLongerApplies { .. }
            | Error::CannotUndoOwnEdits { .. }
            | Error::UntrustedChangeSet { .. }
            | Error::Unsafe(_)
            | Error::Busy { .. }
            | Error::Io { .. }
            | Error::Stopped { .. } => Exit::Unsafe,
        }
    }

    pub fn read(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            op,
            path: path.into(),
            source,
        }
    }

    /// This error, with the state of the files after a change that began. A busy lock is
    /// left alone: nothing began.
    pub fn with_state(self, state: impl fmt::Display) -> Self {
        match self {
            Error::Busy { .. } => self,
            error => Error::Stopped {
                error: Box::new(error),
                state: state.to_string(),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Unsafe(msg) => f.write_str(msg),
            Error::NoSuchChangeSet { id, dir, list } => {
                write!(f, "no change set {id} in {}", dir.display())?;
                match list {
                    Some(cmd) => write!(f, "; `{cmd}` lists the ones there are"),
                    None => Ok(()),
                }
            }
            Error::NothingToRollBack { dir } => write!(
                f,
                "nothing to roll back: no change set in {} is still in effect",
                dir.display()
            ),
            Error::AlreadyRolledBack { id, by, redo } => write!(
                f,
                "change set {id} was already rolled back by {by}; `{redo}` redoes it"
            ),
            Error::ExactWouldUndoLater { id, later, first } => {
                let s = if later.len() == 1 { "" } else { "s" };
                write!(
                    f,
                    "--exact would put the files back as they were before {id}, which also undoes the later change set{s} {} without recording it. Nothing was changed. Roll back the later one{s} first (`{first}`), or roll back {id} without --exact",
                    later.join(", ")
                )
            }
            Error::Read { op, path, source } => {
                write!(f, "cannot {op} {}: {source}", path.display())
            }
            Error::PlanNoLongerApplies { path, reason } => {
                write!(
                    f,
                    "the planned change no longer applies to {path}: {reason}"
                )
            }
            Error::CannotUndoOwnEdits {
                path,
                reason,
                exact,
            } => write!(
                f,
                "cannot undo only wrapfix's own edits in {path}: {reason}. `{exact}` restores the backup byte for byte, dropping what other programs changed in the file since"
            ),
            Error::UntrustedChangeSet { dir, path, why } => write!(
                f,
                "the change set in {} cannot be used: {path:?} {why}. Nothing was changed",
                dir.display()
            ),
            Error::Busy { what, dir } => write!(
                f,
                "another wrapfix run is busy changing files (it holds the lock on {what} {}); nothing was changed: try again later",
                dir.display()
            ),
            Error::Io {
                op,
                path,
                source,
                detail,
            } => write!(f, "cannot {op} {}: {source}{detail}", path.display()),
            Error::Stopped { error, state } => write!(f, "{error}. {state}."),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Io { source, .. } => Some(source),
            Error::Stopped { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_of_the_command_line_are_usage_errors_and_failed_changes_unsafe() {
        let dir = PathBuf::from("/var/backups/wrapfix");
        let usage = Error::NothingToRollBack { dir: dir.clone() };
        assert_eq!(usage.exit(), Exit::Usage);
        assert_eq!(usage.exit().code(), 2);
        let stopped = Error::PlanNoLongerApplies {
            path: "/etc/hosts.deny".into(),
            reason: "line 2 is gone".into(),
        }
        .with_state("/etc/hosts.allow was changed");
        assert_eq!(stopped.exit().code(), 3);
        assert_eq!(
            stopped.to_string(),
            "the planned change no longer applies to /etc/hosts.deny: line 2 is gone. /etc/hosts.allow was changed."
        );
        // A usage error that stopped a change midway is no longer "nothing changed".
        assert_eq!(
            Error::Usage("x".into()).with_state("y").exit(),
            Exit::Unsafe
        );
        let busy = Error::Busy {
            what: "the tables' directory",
            dir,
        };
        assert!(matches!(busy.with_state("z"), Error::Busy { .. }));
    }
}
