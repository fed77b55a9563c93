//! The real thing to compare with: the system's `libwrap.so.0` through `hosts_ctl()` (a
//! small C driver, `hosts_ctl.c`, built at test time) and Debian's `tcpdmatch`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{Outcome, find_library, find_tool};

const DRIVER_SOURCE: &str = include_str!("hosts_ctl.c");

/// The compiled driver, looked up (or built) once per test process: `Err` names what is
/// missing.
pub fn driver() -> Result<&'static Path, &'static str> {
    static DRIVER: OnceLock<Result<PathBuf, &'static str>> = OnceLock::new();
    DRIVER
        .get_or_init(build_driver)
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(|e| *e)
}

fn build_driver() -> Result<PathBuf, &'static str> {
    let cc = find_tool("cc").ok_or("cc (a C compiler)")?;
    if !Path::new("/usr/include/tcpd.h").exists() {
        return Err("/usr/include/tcpd.h (package libwrap0-dev)");
    }
    if find_library("libwrap.so.0").is_none() {
        return Err("libwrap.so.0 (package libwrap0)");
    }
    // Named after the source's hash under target/tmp: test processes share one build, a
    // changed driver gets a new one, and `cargo clean` removes them.
    let hash = DRIVER_SOURCE
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hosts_ctl-{hash:016x}"));
    if exe.exists() {
        return Ok(exe);
    }
    let dir = tempfile::Builder::new()
        .prefix("wrapfix-oracle-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let src = dir.path().join("hosts_ctl.c");
    let built = dir.path().join("hosts_ctl");
    std::fs::write(&src, DRIVER_SOURCE).expect("write driver source");
    let out = Command::new(cc)
        .args(["-std=gnu11", "-O1", "-Wall", "-o"])
        .arg(&built)
        .arg(&src)
        .arg("-l:libwrap.so.0")
        .output()
        .expect("run cc");
    // The tools are there, so a failing build is a bug in the driver, not a skip.
    assert!(
        out.status.success(),
        "building the hosts_ctl oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Atomic, so a concurrent test process never runs a half-written binary.
    std::fs::rename(&built, &exe).expect("install the hosts_ctl oracle");
    Ok(exe)
}

/// One `hosts_ctl(daemon, name, addr, user)` call with its own pair of tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleCase {
    /// hosts.allow bytes; `None`: the file does not exist.
    pub allow: Option<Vec<u8>>,
    pub deny: Option<Vec<u8>>,
    pub daemon: String,
    pub name: String,
    pub addr: String,
    pub user: String,
}

/// What the real library did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OracleVerdict {
    Granted,
    Denied,
    /// The process ended without a verdict: what `twist` does without a socket.
    NoVerdict(i32),
    /// The process died of this signal (a `/file` including itself overflows the stack).
    Signal(i32),
}

impl OracleVerdict {
    pub fn outcome(&self) -> Outcome {
        match self {
            OracleVerdict::Granted => Outcome::Granted,
            OracleVerdict::Denied => Outcome::Denied,
            OracleVerdict::NoVerdict(0) => Outcome::Twist,
            OracleVerdict::Signal(11) => Outcome::Crash,
            other => Outcome::Other(format!("{other:?}")),
        }
    }
}

/// Run every case through the real `hosts_ctl()`, one forked child per case, in order.
/// Tables with the same bytes share a scratch file.
pub fn hosts_ctl_batch(cases: &[OracleCase]) -> Vec<OracleVerdict> {
    batch(cases, &[])
}

/// Run every case through the real `hosts_access()` as a daemon calls it: the name is
/// looked up only when libwrap first needs it (until then `%h` shows the address), the
/// server is `unknown` as for hosts_ctl(). What `Mode::Daemon` verdicts are judged by.
pub fn daemon_batch(cases: &[OracleCase]) -> Vec<OracleVerdict> {
    batch(cases, &["daemon"])
}

fn batch(cases: &[OracleCase], args: &[&str]) -> Vec<OracleVerdict> {
    if cases.is_empty() {
        return Vec::new();
    }
    let exe = driver().expect("hosts_ctl oracle unavailable: call support::require_libwrap first");
    let dir = tempfile::Builder::new()
        .prefix("wrapfix-tables-")
        .tempdir()
        .expect("temp dir");
    let mut files: HashMap<&[u8], PathBuf> = HashMap::new();
    let mut input = Vec::new();
    for c in cases {
        let allow = table_file(&mut files, dir.path(), &c.allow);
        let deny = table_file(&mut files, dir.path(), &c.deny);
        for field in [
            allow.as_os_str().as_encoded_bytes(),
            deny.as_os_str().as_encoded_bytes(),
        ] {
            push_field(&mut input, field);
        }
        for field in [&c.daemon, &c.name, &c.addr, &c.user] {
            assert!(!field.contains('\0'), "hosts_ctl takes C strings: {c:?}");
            push_field(&mut input, field.as_bytes());
        }
    }
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the hosts_ctl oracle");
    let mut stdin = child.stdin.take().expect("stdin");
    // Written from a thread so a full stdout pipe can never deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read oracle output");
    writer
        .join()
        .expect("writer thread")
        .expect("write oracle input");
    let status = child.wait().expect("wait for oracle");
    assert!(status.success(), "hosts_ctl oracle failed: {status}");
    let verdicts: Vec<OracleVerdict> = out.lines().map(parse_verdict).collect();
    assert_eq!(verdicts.len(), cases.len(), "one oracle verdict per case");
    verdicts
}

/// The scratch file holding `bytes` (written once per distinct content), or a path that
/// does not exist for an absent table.
fn table_file<'a>(
    files: &mut HashMap<&'a [u8], PathBuf>,
    dir: &Path,
    bytes: &'a Option<Vec<u8>>,
) -> PathBuf {
    let Some(bytes) = bytes else {
        return dir.join("absent");
    };
    let n = files.len();
    files
        .entry(bytes.as_slice())
        .or_insert_with(|| {
            let p = dir.join(format!("t{n}"));
            std::fs::write(&p, bytes).expect("write table");
            p
        })
        .clone()
}

fn push_field(buf: &mut Vec<u8>, field: &[u8]) {
    buf.extend_from_slice(format!("{} ", field.len()).as_bytes());
    buf.extend_from_slice(field);
    buf.push(b'\n');
}

fn parse_verdict(line: &str) -> OracleVerdict {
    let number = |s: &str| {
        s.parse::<i32>()
            .unwrap_or_else(|_| panic!("bad oracle line {line:?}"))
    };
    match line.split_once(' ') {
        None if line == "granted" => OracleVerdict::Granted,
        None if line == "denied" => OracleVerdict::Denied,
        Some(("noverdict", n)) => OracleVerdict::NoVerdict(number(n)),
        Some(("signal", n)) => OracleVerdict::Signal(number(n)),
        _ => panic!("bad oracle line {line:?}"),
    }
}

/// One `access:` line of tcpdmatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpdVerdict {
    Granted,
    Denied,
    Delegated,
}

impl TcpdVerdict {
    pub fn word(self) -> &'static str {
        match self {
            TcpdVerdict::Granted => "granted",
            TcpdVerdict::Denied => "denied",
            TcpdVerdict::Delegated => "delegated",
        }
    }

    pub fn outcome(self) -> Outcome {
        match self {
            TcpdVerdict::Granted => Outcome::Granted,
            TcpdVerdict::Denied => Outcome::Denied,
            TcpdVerdict::Delegated => Outcome::Twist,
        }
    }
}

/// `tcpdmatch -d DAEMON CLIENT` in a scratch directory holding the two tables (`None`: the
/// file is not created). One verdict per client address; none if the client did not resolve.
pub fn tcpdmatch(
    allow: Option<&[u8]>,
    deny: Option<&[u8]>,
    daemon: &str,
    client: &str,
) -> Vec<TcpdVerdict> {
    tcpdmatch_with_hosts(allow, deny, daemon, client, None)
}

/// Like [`tcpdmatch`], with host names resolved from `hosts` (an /etc/hosts-style table)
/// through libnss_wrapper instead of this machine's resolver.
pub fn tcpdmatch_with_hosts(
    allow: Option<&[u8]>,
    deny: Option<&[u8]>,
    daemon: &str,
    client: &str,
    hosts: Option<&[u8]>,
) -> Vec<TcpdVerdict> {
    let exe = find_tool("tcpdmatch").expect("tcpdmatch: call support::require_tool first");
    let dir = tempfile::Builder::new()
        .prefix("wrapfix-tcpdmatch-")
        .tempdir()
        .expect("temp dir");
    for (name, bytes) in [("hosts.allow", allow), ("hosts.deny", deny)] {
        if let Some(bytes) = bytes {
            std::fs::write(dir.path().join(name), bytes).expect("write table");
        }
    }
    let mut cmd = Command::new(exe);
    cmd.args(["-d", daemon, client])
        .current_dir(dir.path())
        .stdin(Stdio::null());
    if let Some(hosts) = hosts {
        let file = dir.path().join("hosts.test");
        std::fs::write(&file, hosts).expect("write hosts table");
        let lib = find_library("libnss_wrapper.so")
            .expect("libnss_wrapper.so: call require_library first");
        cmd.env("LD_PRELOAD", lib).env("NSS_WRAPPER_HOSTS", file);
    }
    let out = cmd.output().expect("run tcpdmatch");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("access:"))
        .map(|v| match v.trim() {
            "granted" => TcpdVerdict::Granted,
            "denied" => TcpdVerdict::Denied,
            "delegated" => TcpdVerdict::Delegated,
            other => panic!("unexpected tcpdmatch verdict {other:?} in:\n{stdout}"),
        })
        .collect()
}
