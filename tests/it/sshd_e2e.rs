//! The real lockout, end to end (issue 4): Debian's sshd, linked with libwrap, listening on
//! 127.0.0.1, with a key for root. hosts.allow and hosts.deny lock the key out, wrapfix
//! repairs them, and `ssh root@127.0.0.1 echo wrapfix-ok` shows who is right.
//!
//! Nothing here touches this machine's /etc: every scenario runs in a private mount namespace
//! (`unshare --mount --propagation private`, held open by `sshd_e2e.sh`) where a scratch
//! copy of /etc is bind-mounted over /etc, and fresh directories cover /run, /dev, /var/log
//! and /var/backups. The test enters that namespace with `nsenter --mount` to run wrapfix
//! (with `--root /`, as an admin would), ssh and mount. libwrap re-reads the tables on every
//! connection, so sshd runs once per scenario.
//!
//! A lockout is proven by libwrap's own syslog line, `refused connect from 127.0.0.1`, which
//! sshd's connection process sends to the namespace's /dev/log (the test's listener) before
//! it closes the connection. libwrap then keeps the refused connection for 5 s (tcp_wrappers'
//! `clean_exit()` sleeps before exiting), so only the first lockout waits for the error the
//! admin sees from ssh (`kex_exchange_identification: read: Connection reset by peer`); the
//! others stop the client as soon as the refusal is logged. At every step `wrapfix --check`
//! must agree with what sshd did.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{find_tool, skip};

/// The client the scenarios lock out and let in: loopback only.
const CLIENT: &str = "127.0.0.1";

/// What the key login runs; seeing it printed means the login worked.
const GREETING: &str = "wrapfix-ok";

/// The namespace holder (see its header).
const HOLDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/sshd_e2e.sh");

/// Debian's stock /etc/hosts.deny ends with its comments: the blanket rule goes after them.
const BLANKET_DENY: &str = "ALL: ALL\n";

/// The seed report's hosts.allow: a `deny` option on a catch-all rule.
const SEED_ALLOW: &str = "all:all:deny\n";

/// Bounds on every wait, so a hung sshd or ssh fails the test instead of stalling CI.
const SETUP_LIMIT: Duration = Duration::from_secs(30);
const LISTEN_LIMIT: Duration = Duration::from_secs(5);
const LOGIN_LIMIT: Duration = Duration::from_secs(15);
const TEARDOWN_LIMIT: Duration = Duration::from_secs(10);

/// The programs a scenario runs; None (after a loud skip) when one is missing.
#[derive(Clone)]
struct Tools {
    sshd: PathBuf,
    ssh: PathBuf,
    unshare: PathBuf,
    nsenter: PathBuf,
}

fn tools() -> Option<Tools> {
    let why = "the end-to-end lockout test runs Debian's sshd in a private mount namespace";
    let need = |name: &str| {
        let found = find_tool(name);
        if found.is_none() {
            skip(name, why);
        }
        found
    };
    let tools = Tools {
        sshd: need("sshd")?,
        ssh: need("ssh")?,
        unshare: need("unshare")?,
        nsenter: need("nsenter")?,
    };
    // The holder script makes the host and client keys.
    need("ssh-keygen")?;
    if !nix::unistd::geteuid().is_root() {
        skip(
            "root privileges",
            "mount namespaces, bind mounts and sshd need root",
        );
        return None;
    }
    // An sshd built without libwrap ignores hosts.allow and hosts.deny altogether.
    let binary = std::fs::read(&tools.sshd).expect("read sshd");
    if memchr::memmem::find(&binary, b"libwrap.so").is_none() {
        skip("sshd linked with libwrap", why);
        return None;
    }
    Some(tools)
}

/// A /dev/log for the namespace: the syslog daemon sshd and libwrap talk to. Every message
/// is kept for the checks, and written to the namespace's /var/log the way rsyslog would
/// (auth and authpriv to auth.log, everything to syslog) so that the logs look real.
struct Syslog {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Syslog {
    fn listen(socket: &Path, log_dir: &Path) -> Syslog {
        let sock = UnixDatagram::bind(socket).expect("bind the /dev/log socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("socket timeout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, stopped, dir) = (lines.clone(), stop.clone(), log_dir.to_path_buf());
        // Drained without pause: a full datagram queue would block sshd in syslog(3).
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else { continue };
                let (facility, line) = as_log_line(&String::from_utf8_lossy(&buf[..n]));
                let mut files = vec!["syslog"];
                if facility == 4 || facility == 10 {
                    files.push("auth.log");
                }
                for file in files {
                    // Best effort: the lines kept in memory are what the checks read.
                    let _ = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join(file))
                        .and_then(|mut f| writeln!(f, "{line}"));
                }
                kept.lock().expect("syslog lines").push(line);
            }
        });
        Syslog {
            lines,
            stop,
            thread: Some(thread),
        }
    }

    fn len(&self) -> usize {
        self.lines.lock().expect("syslog lines").len()
    }

    /// The first line from message `from` on that contains `needle`.
    fn find_since(&self, from: usize, needle: &str) -> Option<String> {
        let lines = self.lines.lock().expect("syslog lines");
        lines
            .iter()
            .skip(from)
            .find(|l| l.contains(needle))
            .cloned()
    }

    fn all(&self) -> String {
        self.lines.lock().expect("syslog lines").join("\n")
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `<PRI>Mmm dd hh:mm:ss tag[pid]: text` as sent by glibc → (facility, the line as rsyslog
/// writes it, with the host name after the time stamp).
fn as_log_line(datagram: &str) -> (u32, String) {
    let msg = datagram.trim_end_matches(['\n', '\0']);
    let (pri, rest) = match msg.strip_prefix('<').and_then(|m| m.split_once('>')) {
        Some((p, rest)) => (p.parse::<u32>().unwrap_or(0), rest),
        None => (0, msg),
    };
    let line = match (rest.get(..15), rest.get(16..)) {
        (Some(stamp), Some(text)) => format!("{stamp} localhost {text}"),
        _ => rest.to_string(),
    };
    (pri >> 3, line)
}

/// How one `ssh root@127.0.0.1 echo wrapfix-ok` went.
struct Login {
    /// libwrap's refusal, when it logged one for this attempt.
    refusal: Option<String>,
    /// The client's exit code; None when the test stopped it after the refusal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Login {
    fn got_in(&self) -> bool {
        self.code == Some(0) && self.stdout.trim() == GREETING && self.refusal.is_none()
    }

    fn describe(&self) -> String {
        let code = self
            .code
            .map_or("stopped by the test".to_string(), |c| format!("exit {c}"));
        format!(
            "ssh: {code} after {:.1?}; stdout {:?}; stderr {:?}; libwrap: {}",
            self.took,
            self.stdout.trim(),
            self.stderr.trim(),
            self.refusal.as_deref().unwrap_or("(no refusal logged)")
        )
    }
}

/// Whether a login attempt waits for the client to give up by itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Until ssh exits: shows the error an admin sees (5 s when libwrap refuses).
    ForClient,
    /// Until ssh exits or libwrap logs the refusal, whichever comes first.
    ForVerdict,
}

/// One running scenario: the namespace, sshd in it, the syslog listener, and a transcript
/// of everything done so far for the failure message.
struct Lab {
    tools: Tools,
    holder: Child,
    holder_stdin: Option<ChildStdin>,
    port: u16,
    /// Before `scratch`: fields drop in order, and the listener writes into the scratch dir.
    syslog: Syslog,
    scratch: tempfile::TempDir,
    transcript: Mutex<String>,
    host_before: Vec<(PathBuf, Option<Vec<u8>>)>,
}

/// What must look the same on the real system after a scenario (contents, or absence).
const HOST_PATHS: [&str; 5] = [
    "/etc/hosts.allow",
    "/etc/hosts.deny",
    "/run/sshd",
    "/dev/log",
    "/var/backups/wrapfix",
];

fn host_state() -> Vec<(PathBuf, Option<Vec<u8>>)> {
    HOST_PATHS
        .iter()
        .map(|p| {
            let p = PathBuf::from(p);
            let state = match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_file() => Some(std::fs::read(&p).expect("read a host file")),
                Ok(_) => Some(b"(exists, not a regular file)".to_vec()),
                Err(_) => None,
            };
            (p, state)
        })
        .collect()
}

impl Lab {
    /// A namespace with sshd listening on 127.0.0.1; None when the test must skip.
    fn start() -> Option<Lab> {
        let tools = tools()?;
        let host_before = host_state();
        let mut last_error = String::new();
        // A port picked free can be taken before sshd binds it: try a few.
        for _ in 0..3 {
            match Lab::try_start(tools.clone(), host_before.clone()) {
                Ok(lab) => return Some(lab),
                Err(e) if e.contains("Address already in use") => last_error = e,
                Err(e) => panic!("cannot start sshd in a private mount namespace:\n{e}"),
            }
        }
        panic!("no free port for sshd after 3 tries:\n{last_error}");
    }

    fn try_start(
        tools: Tools,
        host_before: Vec<(PathBuf, Option<Vec<u8>>)>,
    ) -> Result<Lab, String> {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let s = scratch.path();
        std::fs::create_dir(s.join("log")).expect("log dir");
        let syslog = Syslog::listen(&s.join("devlog"), &s.join("log"));
        let port = free_port();
        let mut holder = Command::new(&tools.unshare)
            .args(["--mount", "--propagation", "private", "--", "bash", HOLDER])
            .env("E2E_SCRATCH", s)
            .env("E2E_PORT", port.to_string())
            .env("E2E_SSHD", &tools.sshd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(s.join("holder.stderr")).expect("holder log"))
            .spawn()
            .expect("run unshare");
        let holder_stdin = holder.stdin.take();
        let stdout = holder.stdout.take().expect("holder stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let lab = Lab {
            tools,
            scratch,
            holder,
            holder_stdin,
            port,
            syslog,
            transcript: Mutex::new(String::new()),
            host_before,
        };
        // From here on, dropping `lab` ends the namespace and sshd.
        match rx.recv_timeout(SETUP_LIMIT) {
            Ok(line) if line == "ready" => {}
            other => return Err(format!("holder said {other:?}\n{}", lab.server_side())),
        }
        let listening = format!("Server listening on {CLIENT} port {port}");
        let deadline = Instant::now() + LISTEN_LIMIT;
        while lab.syslog.find_since(0, &listening).is_none() {
            let failed = lab
                .syslog
                .find_since(0, "Cannot bind any address")
                .is_some()
                || lab.syslog.find_since(0, "fatal").is_some()
                || !lab.file("sshd.stderr").trim().is_empty();
            if failed || Instant::now() > deadline {
                return Err(format!("sshd did not listen\n{}", lab.server_side()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(lab)
    }

    fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// The namespace's /etc, seen from outside.
    fn etc(&self) -> PathBuf {
        self.scratch().join("etc")
    }

    fn file(&self, name: &str) -> String {
        std::fs::read(self.scratch().join(name))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn table(&self, name: &str) -> String {
        self.file(&format!("etc/{name}"))
    }

    fn note(&self, text: &str) {
        let mut t = self.transcript.lock().expect("transcript");
        t.push_str(text);
        if !text.ends_with('\n') {
            t.push('\n');
        }
    }

    /// Writes the tables of the system under test (the namespace's /etc).
    fn set_tables(&self, allow: &str, deny: &str) {
        for (name, text) in [("hosts.allow", allow), ("hosts.deny", deny)] {
            std::fs::write(self.etc().join(name), text).expect("write a table");
        }
        self.note(&format!(
            "# tables set:\n{}",
            indent(&format!(
                "hosts.allow: {}\nhosts.deny: {}",
                abbreviate(allow),
                abbreviate(deny)
            ))
        ));
    }

    /// A command run inside the namespace.
    fn inside(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(&self.tools.nsenter);
        cmd.arg("--target")
            .arg(self.holder.id().to_string())
            .arg("--mount")
            .arg("--")
            .arg(program);
        cmd
    }

    /// Runs `cmd` (described as `shown`), keeping its output in the transcript.
    fn run(&self, shown: &str, mut cmd: Command) -> Output {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
        let mut text = format!("$ {shown}\n");
        text.push_str(&indent(&String::from_utf8_lossy(&out.stdout)));
        text.push_str(&indent(&String::from_utf8_lossy(&out.stderr)));
        let _ = writeln!(text, "  => {}", out.status);
        self.note(&text);
        out
    }

    /// wrapfix on the system under test, the way an admin runs it on the locked-out host.
    fn wrapfix(&self, args: &[&str]) -> Output {
        let mut cmd = self.inside(env!("CARGO_BIN_EXE_wrapfix"));
        cmd.args(["--root", "/", "--color", "never"]).args(args);
        // Not the test runner's own SSH session: wrapfix would take its client as the default.
        cmd.env_remove("SSH_CONNECTION").env_remove("NO_COLOR");
        self.run(
            &format!("wrapfix --root / {}   (in the namespace)", args.join(" ")),
            cmd,
        )
    }

    /// wrapfix as run from a rescue system on another root; not in the namespace.
    fn wrapfix_on(&self, root: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrapfix"));
        cmd.arg("--root")
            .arg(root)
            .args(["--color", "never"])
            .args(args);
        cmd.env_remove("SSH_CONNECTION").env_remove("NO_COLOR");
        self.run(
            &format!("wrapfix --root {} {}", root.display(), args.join(" ")),
            cmd,
        )
    }

    /// A change wrapfix was asked to make must succeed.
    #[track_caller]
    fn repair(&self, args: &[&str]) {
        let out = self.wrapfix(args);
        if !out.status.success() {
            self.fail(&format!(
                "wrapfix {} failed: {}",
                args.join(" "),
                out.status
            ));
        }
    }

    /// `ssh -i KEY root@127.0.0.1 echo wrapfix-ok` from inside the namespace.
    fn login(&self, wait: Wait) -> Login {
        let mark = self.syslog.len();
        let out_path = self.scratch().join("ssh.stdout");
        let err_path = self.scratch().join("ssh.stderr");
        let key = self.scratch().join("client_key");
        let mut cmd = self.inside(&self.tools.ssh);
        cmd.args(["-F", "none", "-T"])
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"])
            .arg("-i")
            .arg(&key)
            .args(["-p", &self.port.to_string()])
            .arg(format!("root@{CLIENT}"))
            .args(["echo", GREETING])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("ssh stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("ssh stderr file"));
        let started = Instant::now();
        // nsenter without --fork execs ssh: killing the child stops the client.
        let mut child = cmd.spawn().expect("run ssh");
        let needle = format!("refused connect from {CLIENT}");
        let mut refusal = None;
        let code = loop {
            if let Some(status) = child.try_wait().expect("wait for ssh") {
                break status.code();
            }
            if refusal.is_none() {
                refusal = self.syslog.find_since(mark, &needle);
            }
            if (refusal.is_some() && wait == Wait::ForVerdict) || started.elapsed() > LOGIN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The refusal is logged before the connection closes; a client that exits first
        // has been refused by something else, or let in.
        let refusal = refusal.or_else(|| self.syslog.find_since(mark, &needle));
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        let login = Login {
            refusal,
            code,
            stdout: read(&out_path),
            stderr: read(&err_path),
            took: started.elapsed(),
        };
        self.note(&format!(
            "$ ssh -i client_key -p {} root@{CLIENT} echo {GREETING}   (in the namespace)\n{}",
            self.port,
            indent(&login.describe())
        ));
        login
    }

    /// wrapfix's own verdict for the client must match what sshd just did.
    #[track_caller]
    fn check_agrees(&self, step: &str, granted: bool) {
        let out = self.wrapfix(&["--check", "--client", CLIENT]);
        let expected = if granted { 0 } else { 1 };
        if out.status.code() != Some(expected) {
            self.fail(&format!(
                "{step}: sshd {} the key, but `wrapfix --check --client {CLIENT}` exited {} \
                 (expected {expected})",
                if granted { "let in" } else { "refused" },
                out.status
            ));
        }
    }

    /// The key must be refused by libwrap, and wrapfix --check must say so.
    #[track_caller]
    fn expect_locked_out(&self, step: &str, wait: Wait) -> Login {
        let login = self.login(wait);
        if login.refusal.is_none() || login.stdout.contains(GREETING) {
            self.fail(&format!(
                "{step}: expected libwrap to refuse the key\n  {}",
                login.describe()
            ));
        }
        self.check_agrees(step, false);
        println!("{step}: locked out — {}", login.describe());
        login
    }

    /// The key must log in and run the command, and wrapfix --check must agree.
    #[track_caller]
    fn expect_let_in(&self, step: &str) {
        let login = self.login(Wait::ForVerdict);
        if !login.got_in() {
            self.fail(&format!(
                "{step}: expected the key to log in and print {GREETING}\n  {}",
                login.describe()
            ));
        }
        self.check_agrees(step, true);
        println!("{step}: let in — {}", login.describe());
    }

    /// Everything on the server side: holder, sshd and syslog.
    fn server_side(&self) -> String {
        format!(
            "--- namespace holder stderr\n{}--- sshd stderr\n{}--- syslog (/dev/log)\n{}\n",
            self.file("holder.stderr"),
            self.file("sshd.stderr"),
            self.syslog.all()
        )
    }

    /// Fails the test with the whole story so far.
    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n\n=== transcript\n{}\n=== tables now\n--- /etc/hosts.allow\n{}\n--- \
             /etc/hosts.deny\n{}\n=== server side\n{}",
            self.transcript.lock().expect("transcript"),
            self.table("hosts.allow"),
            self.table("hosts.deny"),
            self.server_side()
        );
    }

    /// The real system must be as it was: tables, and no /run/sshd, /dev/log or backups
    /// that were not there before.
    #[track_caller]
    fn assert_host_untouched(&self) {
        for ((path, before), (_, now)) in self.host_before.iter().zip(host_state()) {
            if *before != now {
                self.fail(&format!("{} changed on the real system", path.display()));
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Closing its standard input makes the holder stop sshd and exit; the namespace
        // and its mounts go with it.
        drop(self.holder_stdin.take());
        let deadline = Instant::now() + TEARDOWN_LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.holder.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let pid = self.file("sshd.pid");
        if !pid.trim().is_empty() {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((CLIENT, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Long stock tables shown by their last lines: their comments are not the story.
fn abbreviate(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 3 {
        return format!("{text:?}");
    }
    format!(
        "({} lines) …{:?}",
        lines.len(),
        lines[lines.len() - 2..].join("\n")
    )
}

/// Issue 4 steps 1–4: `ALL: ALL` in hosts.deny, repaired with an allow entry, rolled back,
/// then repaired by commenting the rule out.
#[test]
fn blanket_deny_locks_the_key_out_of_real_sshd_until_wrapfix_repairs_it() {
    let Some(lab) = Lab::start() else { return };
    let stock_allow = lab.table("hosts.allow");
    let locked_deny = format!("{}{BLANKET_DENY}", lab.table("hosts.deny"));
    lab.set_tables(&stock_allow, &locked_deny);

    // 1. The lockout as the admin sees it: the client waits, then loses the connection.
    let login = lab.expect_locked_out("1. ALL: ALL in hosts.deny", Wait::ForClient);
    if login.code != Some(255) || !login.stderr.contains("kex_exchange_identification") {
        lab.fail(&format!(
            "1. expected ssh to fail in the banner exchange\n  {}",
            login.describe()
        ));
    }

    // 2. The default repair: an allow entry for the client.
    lab.repair(&["--yes", "--client", CLIENT]);
    if !lab.table("hosts.allow").contains("sshd: 127.0.0.1\n") {
        lab.fail("2. hosts.allow has no `sshd: 127.0.0.1` entry");
    }
    lab.expect_let_in("2. wrapfix --yes --client 127.0.0.1");

    // 3. Rollback restores the lockout, byte for byte.
    lab.repair(&["--rollback", "--yes"]);
    if lab.table("hosts.allow") != stock_allow || lab.table("hosts.deny") != locked_deny {
        lab.fail("3. rollback did not restore the tables");
    }
    lab.expect_locked_out("3. wrapfix --rollback --yes", Wait::ForVerdict);

    // 4. No client named: comment out the refusing rule instead.
    lab.repair(&["--yes", "--strategy", "comment"]);
    if !lab.table("hosts.deny").contains("#ALL: ALL\n") {
        lab.fail("4. hosts.deny does not have ALL: ALL commented out");
    }
    lab.expect_let_in("4. wrapfix --yes --strategy comment");

    lab.assert_host_untouched();
}

/// Issue 4 step 5: the seed report's `all:all:deny` in hosts.allow, with an empty
/// hosts.deny, repaired both ways.
#[test]
fn deny_option_in_hosts_allow_locks_the_key_out_until_either_repair() {
    let Some(lab) = Lab::start() else { return };

    lab.set_tables(SEED_ALLOW, "");
    lab.expect_locked_out("5a. all:all:deny in hosts.allow", Wait::ForVerdict);
    lab.repair(&["--yes", "--client", CLIENT]);
    lab.expect_let_in("5a. wrapfix --yes --client 127.0.0.1");

    lab.set_tables(SEED_ALLOW, "");
    lab.expect_locked_out("5b. all:all:deny in hosts.allow again", Wait::ForVerdict);
    lab.repair(&["--yes", "--strategy", "comment"]);
    if lab
        .table("hosts.allow")
        .lines()
        .any(|l| l == SEED_ALLOW.trim())
    {
        lab.fail("5b. all:all:deny is still active in hosts.allow");
    }
    lab.expect_let_in("5b. wrapfix --yes --strategy comment");

    lab.assert_host_untouched();
}

/// Issue 4 step 6: the rescue console. The locked-out host's tree is repaired from outside
/// with `--root`, then that tree becomes the host's /etc and sshd lets the key in.
#[test]
fn rescue_repair_with_root_lets_the_key_in_once_the_tree_is_mounted_as_etc() {
    let Some(lab) = Lab::start() else { return };
    let stock_allow = lab.table("hosts.allow");
    let locked_deny = format!("{}{BLANKET_DENY}", lab.table("hosts.deny"));
    lab.set_tables(&stock_allow, &locked_deny);
    lab.expect_locked_out("6. ALL: ALL in hosts.deny", Wait::ForVerdict);

    // The host's disk as a rescue system mounts it: its etc/, and the os-release that
    // etc/os-release points to.
    let disk = lab.scratch().join("disk");
    std::fs::create_dir_all(disk.join("usr/lib")).expect("disk dirs");
    let copy = Command::new("cp")
        .arg("-a")
        .arg(lab.etc())
        .arg(disk.join("etc"))
        .status()
        .expect("run cp");
    assert!(copy.success(), "cp -a etc failed");
    std::fs::copy("/usr/lib/os-release", disk.join("usr/lib/os-release")).expect("os-release");

    let out = lab.wrapfix_on(&disk, &["--yes", "--client", CLIENT]);
    if !out.status.success() {
        lab.fail(&format!("6. rescue repair failed: {}", out.status));
    }
    if !disk.join("var/backups/wrapfix").is_dir() {
        lab.fail("6. the rescue repair left no backup in DISK/var/backups/wrapfix");
    }
    // Only the copy was repaired: the running system is still locked.
    lab.expect_locked_out(
        "6. running system before the repaired tree is mounted",
        Wait::ForVerdict,
    );

    let mut mount = lab.inside("mount");
    mount.arg("--bind").arg(disk.join("etc")).arg("/etc");
    let out = lab.run("mount --bind DISK/etc /etc   (in the namespace)", mount);
    if !out.status.success() {
        lab.fail("6. cannot bind-mount the repaired tree over /etc");
    }
    lab.expect_let_in("6. repaired tree mounted as /etc");

    lab.assert_host_untouched();
}
