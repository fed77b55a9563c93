//! One error type for the whole tool. Each variant knows its exit status (README, "Exit status") and
//! says which path and operation failed.

use std::io;
use std::path::PathBuf;

/// Exit statuses (README, "Exit status"; the man page).
pub mod exit {
    /// Every target granted, change applied, or nothing to do.
    pub const OK: i32 = 0;
    /// A lockout was found and not fixed.
    pub const LOCKED_OUT: i32 = 1;
    /// Usage or input error; nothing changed.
    pub const USAGE: i32 = 2;
    /// The change could not be made safely.
    pub const UNSAFE: i32 = 3;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad option value or input: the message names the value and what to do.
    #[error("{0}")]
    Usage(String),

    /// Reading the system being checked failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Read {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// A change could not be made safely; the message says what state each file is in.
    #[error("{0}")]
    Unsafe(String),

    /// Another wrapfix run holds the backup directory's lock: nothing was done. Exit 3, not
    /// 2: the command line was fine, the change just could not be made now.
    #[error("{0}")]
    Busy(String),

    /// A file operation of a change (backup, write, rename, ...) failed. `detail` says what
    /// to do about it and what state each file is in.
    #[error("cannot {op} {}: {source}{detail}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
        detail: String,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Read { .. } => exit::USAGE,
            Error::Unsafe(_) | Error::Busy(_) | Error::Io { .. } => exit::UNSAFE,
        }
    }

    pub fn read(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            op,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
