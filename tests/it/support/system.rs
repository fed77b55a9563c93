//! Scratch systems, and the real binary run on them.
//!
//! ```ignore
//! System::new()
//!     .deny("ALL: ALL\n")
//!     .run(["--yes", "--client", "198.51.100.7"])
//!     .code(0)
//!     .stdout_has("sshd: 198.51.100.7")
//!     .stderr_empty()
//!     .file("/etc/hosts.deny", "ALL: ALL\n");
//! ```
//!
//! [`System::new`] is a root the binary accepts (`etc/passwd`: wrapfix refuses a root whose
//! `etc/` holds nothing a system has); [`System::bare`] is an empty directory, for the
//! library's readers; [`System::fenced`] is a root with only `etc/`, beside a directory it
//! must never touch, for hostile roots. Files are written as they are named, `/`-rooted
//! paths inside the root. Every run gets `--root`, `--color never`, no `SSH_CONNECTION` or
//! `NO_COLOR` from the test runner, and a closed stdin (no terminal, EOF at once) unless one
//! is given.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::pane::Pane;

/// `wrapfix --root ROOT --color never` with a clean environment: the low-level command, for
/// roots that are not a [`System`] (a typo, an unmounted disk) and for what [`Run`] cannot
/// express.
pub fn wrapfix(root: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("wrapfix").expect("binary");
    cmd.env_remove("SSH_CONNECTION")
        .env_remove("NO_COLOR")
        .arg("--root")
        .arg(root)
        .arg("--color")
        .arg("never");
    cmd
}

/// A scratch root, deleted on drop.
pub struct System {
    /// The scratch directory: the root itself, or (fenced) the root's parent.
    base: tempfile::TempDir,
    root: PathBuf,
    /// Fenced: everything in `base` but the root, as it must stay.
    outside: Option<BTreeMap<PathBuf, String>>,
    flavor: Option<String>,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl System {
    /// A root the binary accepts: `etc/` with a `passwd` (root only).
    pub fn new() -> System {
        System::bare().file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    }

    /// An empty root: nothing in it, not even `etc/`.
    pub fn bare() -> System {
        System::bare_in(std::env::temp_dir())
    }

    /// An empty root in `dir`: for a file system with features the temp dir may lack.
    pub fn bare_in(dir: impl AsRef<Path>) -> System {
        let base = tempfile::tempdir_in(dir).expect("temp dir");
        let root = base.path().to_path_buf();
        System::made(base, root)
    }

    fn made(base: tempfile::TempDir, root: PathBuf) -> System {
        System {
            base,
            root,
            outside: None,
            flavor: None,
            env: Vec::new(),
            stdin: None,
            timeout: None,
        }
    }

    /// A root with only `etc/` at `BASE/root`, beside `BASE/outside/victim`: nothing wrapfix
    /// does to the root may change anything in BASE outside it
    /// ([`System::assert_outside_untouched`]).
    pub fn fenced() -> System {
        let base = tempfile::tempdir().expect("temp dir");
        let root = base.path().join("root");
        std::fs::create_dir_all(root.join("etc")).expect("etc");
        std::fs::create_dir_all(base.path().join("outside")).expect("outside");
        std::fs::write(base.path().join("outside/victim"), "precious\n").expect("victim");
        let mut sys = System::made(base, root);
        sys.outside = Some(sys.digest_outside());
        sys
    }

    pub fn allow(self, bytes: impl AsRef<[u8]>) -> System {
        self.file("/etc/hosts.allow", bytes)
    }

    pub fn deny(self, bytes: impl AsRef<[u8]>) -> System {
        self.file("/etc/hosts.deny", bytes)
    }

    pub fn os_release(self, bytes: impl AsRef<[u8]>) -> System {
        self.file("/etc/os-release", bytes)
    }

    /// `path` (inside the root) holds `bytes`; its directories are created.
    pub fn file(self, path: &str, bytes: impl AsRef<[u8]>) -> System {
        self.write(path, bytes);
        self
    }

    /// An empty directory at `path`, and its parents.
    pub fn dir(self, path: &str) -> System {
        std::fs::create_dir_all(self.at(path)).unwrap_or_else(|e| panic!("mkdir {path}: {e}"));
        self
    }

    /// A symlink at `path` pointing at `target` (as written: absolute targets mean the
    /// root's own paths to wrapfix).
    pub fn link(self, path: &str, target: &str) -> System {
        let at = self.at(path);
        std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, &at).unwrap_or_else(|e| panic!("link {path}: {e}"));
        self
    }

    /// Every run gets `--flavor NAME`.
    pub fn flavor(mut self, name: &str) -> System {
        self.flavor = Some(name.to_string());
        self
    }

    /// Every run gets this environment variable.
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> System {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Every run gets `bytes` on its stdin (a pipe, never a terminal).
    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> System {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }

    /// Every run is killed (and the test fails) after this long.
    pub fn timeout(mut self, limit: Duration) -> System {
        self.timeout = Some(limit);
        self
    }

    /// The root on this machine.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `name` beside a fenced root (in BASE, outside the root), on this machine.
    pub fn beside(&self, name: &str) -> PathBuf {
        assert!(self.outside.is_some(), "only a fenced root has a beside");
        self.base.path().join(name)
    }

    /// Take what is beside the fenced root now (decoys planted there) as what must stay.
    pub fn settle(mut self) -> System {
        assert!(self.outside.is_some(), "only a fenced root has an outside");
        self.outside = Some(self.digest_outside());
        self
    }

    /// Nothing beside the fenced root changed since it was made (or settled).
    #[track_caller]
    pub fn assert_outside_untouched(&self) {
        let before = self.outside.as_ref().expect("a fenced root");
        assert_eq!(
            &self.digest_outside(),
            before,
            "something outside the root changed"
        );
    }

    fn digest_outside(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        digest_tree(self.base.path(), &self.root, &mut out);
        out
    }

    /// A path inside the root, on this machine.
    pub fn at(&self, path: &str) -> PathBuf {
        self.path().join(path.trim_start_matches('/'))
    }

    /// Write `path` now (directories created), e.g. between two runs.
    pub fn write(&self, path: &str, bytes: impl AsRef<[u8]>) {
        let at = self.at(path);
        std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        std::fs::write(&at, bytes).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }

    /// The bytes of `path`; a missing or unreadable file fails the test.
    pub fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.at(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// The text of `path` (UTF-8, or the test fails).
    pub fn text(&self, path: &str) -> String {
        String::from_utf8(self.read(path)).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
    }

    pub fn exists(&self, path: &str) -> bool {
        std::fs::symlink_metadata(self.at(path)).is_ok()
    }

    /// Change sets (directories with a manifest) in the default backup directory; none when
    /// it does not exist. Any other error reading it fails the test.
    pub fn change_sets(&self) -> usize {
        let dir = self.at("/var/backups/wrapfix");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return 0,
            Err(e) => panic!("read {}: {e}", dir.display()),
        };
        entries
            .map(|e| e.unwrap_or_else(|e| panic!("read {}: {e}", dir.display())))
            .filter(|e| e.path().join("manifest.json").exists())
            .count()
    }

    /// wrapfix on this root in a tmux pane (160x50, see [`Pane::start`]), as an admin runs
    /// it on a console: no SSH connection, no colour, then `args` (split by sh).
    pub fn pane(&self, args: &str) -> Option<Pane> {
        Pane::start(&format!(
            "env -u SSH_CONNECTION {} --root {} --color never {args}",
            env!("CARGO_BIN_EXE_wrapfix"),
            self.path().display()
        ))
    }

    /// The binary with `--root` (and `--flavor`, the environment and stdin asked for).
    pub fn command(&self) -> assert_cmd::Command {
        let mut cmd = wrapfix(self.path());
        if let Some(flavor) = &self.flavor {
            cmd.args(["--flavor", flavor]);
        }
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        if let Some(bytes) = &self.stdin {
            cmd.write_stdin(bytes.clone());
        }
        if let Some(limit) = self.timeout {
            cmd.timeout(limit);
        }
        cmd
    }

    /// Run the binary with `args` and wait for it.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let output = self.command().args(&args).output().expect("run wrapfix");
        self.ran(&args, output)
    }

    /// `wrapfix ARGS | head -0`: stdout is a pipe whose reader is gone before anything is
    /// written (stdin closed, whatever [`System::stdin`] says).
    pub fn run_with_closed_stdout(&self, args: &[&str]) -> Run {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wrapfix"));
        cmd.env_remove("SSH_CONNECTION")
            .env_remove("NO_COLOR")
            .arg("--root")
            .arg(self.path())
            .args(["--color", "never"])
            .args(self.flavor.iter().flat_map(|f| ["--flavor", f]))
            .args(args)
            .envs(self.env.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn wrapfix");
        drop(child.stdout.take());
        let limit = self.timeout.unwrap_or(Duration::from_secs(600));
        let start = std::time::Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > limit {
                let _ = child.kill();
                panic!("wrapfix {args:?} hung");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("wait wrapfix");
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        self.ran(&args, output)
    }

    fn ran(&self, args: &[OsString], output: Output) -> Run {
        Run {
            root: self.path().to_path_buf(),
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            output,
        }
    }
}

/// Everything under `dir` but `skip`: path → mode and digest, `dir`, or link target.
pub fn digest_tree(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap_or_default();
            out.insert(p, format!("link {}", t.display()));
        } else if m.is_dir() {
            out.insert(p.clone(), "dir".into());
            digest_tree(&p, skip, out);
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            out.insert(p, format!("{:o} {}", m.mode(), sha256(&bytes)));
        }
    }
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// What a run did; every assertion names the run and shows its output when it fails.
pub struct Run {
    root: PathBuf,
    args: Vec<String>,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The exit status (`None`: killed by a signal).
    pub fn status(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn context(&self) -> String {
        format!(
            "wrapfix {}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args.join(" "),
            self.status(),
            self.stdout(),
            self.stderr()
        )
    }

    #[track_caller]
    pub fn code(self, want: i32) -> Run {
        assert_eq!(
            self.status(),
            Some(want),
            "exit status of {}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}: {}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(self, needle: &str) -> Run {
        assert!(
            !self.stdout().contains(needle),
            "stdout has {needle:?}: {}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_empty(self) -> Run {
        assert!(
            self.output.stdout.is_empty(),
            "stdout not empty: {}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}: {}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_is(self, want: &str) -> Run {
        assert_eq!(self.stderr(), want, "stderr of {}", self.context());
        self
    }

    #[track_caller]
    pub fn stderr_empty(self) -> Run {
        self.stderr_is("")
    }

    /// stdout as exactly one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("not one JSON document on stdout ({e}): {}", self.context()))
    }

    /// `path` (inside the root) holds exactly `want`.
    #[track_caller]
    pub fn file(self, path: &str, want: impl AsRef<[u8]>) -> Run {
        let at = self.root.join(path.trim_start_matches('/'));
        let got = std::fs::read(&at).unwrap_or_else(|e| panic!("read {path}: {e}"));
        assert_eq!(
            super::escape(&got),
            super::escape(want.as_ref()),
            "{path} after {}",
            self.context()
        );
        self
    }

    /// `path` (inside the root) does not exist.
    #[track_caller]
    pub fn no_file(self, path: &str) -> Run {
        let at = self.root.join(path.trim_start_matches('/'));
        assert!(
            std::fs::symlink_metadata(&at).is_err(),
            "{path} exists after {}",
            self.context()
        );
        self
    }
}
