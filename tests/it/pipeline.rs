//! The whole pipeline against the real library (the proof tests of issue 9): random hostile
//! tables (continuations, NUL bytes, CRLF, unterminated last lines, several refusing rules,
//! bans, options) on a scratch root → `wrapfix --yes --client …` and `wrapfix --yes
//! --strategy comment …` → the system's `hosts_ctl()` (through the C driver in
//! `support/`) grants the target and refuses no one it granted before → `--rollback --yes`
//! gives both files back byte for byte. No run panics or hangs (each has a timeout), and a
//! sibling directory of the root is unchanged.
//!
//! Seeds: a fixed one, and a fresh one printed on failure (`WRAPFIX_PIPELINE_SEED` replays
//! it); `WRAPFIX_PIPELINE_CASES` sets the number of cases per seed.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::oracle::{self, OracleCase, OracleVerdict};
use crate::support::system::digest_tree;
use crate::support::{self, escape};

/// Clients without `=NAME` (how admins type them) must be let in whatever their host
/// name: checked by asking `hosts_ctl()` once per candidate name, for the target and for
/// everyone granted before.
const CHECK_UNNAMED: bool = true;

/// Host names an unnamed client is checked with: reverse lookup fails, name and address
/// disagree, and names the generated rules mention or not.
const CANDIDATE_NAMES: &[&str] = &[
    "unknown",
    "paranoid",
    "client.example.net",
    "host.example.com",
    "localhost",
    "nowhere.invalid",
];

const FIXED_SEED: u64 = 0x9157_0e11_2026_0009;
const CASES: u64 = 20;
/// Per wrapfix run: a hang is a failure, not a stuck CI job.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// xorshift64*, as in the differential tests: the same sequence everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9e37_79b9_7f4a_7c15).max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// (address, verified name) of the clients a case may let in.
const TARGETS: &[(&str, &str)] = &[
    ("198.51.100.7", "client.example.net"),
    ("203.0.113.9", "bad.example.org"),
    ("10.0.0.1", "ten.example.com"),
    ("2001:db8::7", "six.example.net"),
];

/// Everyone else the rules mention or might: what "refuses no one it granted before" is
/// checked for.
const BYSTANDERS: &[(&str, &str)] = &[
    ("10.0.0.2", "host.example.com"),
    ("192.0.2.200", "nowhere.invalid"),
    ("127.0.0.1", "localhost"),
    ("198.51.100.8", "client.example.net"),
];

#[rustfmt::skip]
const DENY_RULES: &[&str] = &[
    "ALL: ALL", "sshd: ALL", "ALL: ALL EXCEPT 10.0.0.1", "sshd: ALL EXCEPT .example.net",
    "ALL: 203.0.113.9", "ALL: 198.51.100.7", "sshd: 198.51.100.0/24", "ALL: [2001:db8::7]",
    "sshd: 203.0.113.9, 198.51.100.7", "sshd: UNKNOWN", "ALL: PARANOID", "sshd: .example.org",
    "ALL: client.example.net", "ALL: ALL: spawn /bin/true", "sshd: 10.0.0.1 : allow",
    "sshd: ALL EXCEPT 10.0.0.0/255.0.0.0 EXCEPT 10.0.0.2", "ALL EXCEPT sshd: ALL",
    "sshd: KNOWN", "sshd: ALL : severity auth.info",
];

#[rustfmt::skip]
const ALLOW_RULES: &[&str] = &[
    "sshd: 10.0.0.1", "sshd: .example.com", "ALL: LOCAL", "sshd: 198.51.100.0/255.255.255.0",
    "ALL: ALL: DENY", "sshd: 203.0.113.9 : deny", "sshd: ALL EXCEPT 198.51.100.7 : deny",
    "sshd: 127.0.0.1", "sshd: [2001:db8::]/32", "ALL: .example.net EXCEPT client.example.net",
    "sshd: ALL: spawn /bin/true",
];

#[rustfmt::skip]
const NOISE: &[&str] = &[
    "# a comment", "  # indented: libwrap reads this as a rule", "no separator here", "",
    "   ", "# wrapfix look-alike marker",
];

/// One random table: rules, noise, and the ways real files are broken.
fn table(rng: &mut Rng, rules: &[&str]) -> Option<Vec<u8>> {
    if rng.chance(10) {
        return None;
    }
    let crlf = rng.chance(15);
    let mut out = Vec::new();
    for _ in 0..rng.below(7) {
        let mut line = if rng.chance(70) {
            rng.pick(rules).as_bytes().to_vec()
        } else {
            rng.pick(NOISE).as_bytes().to_vec()
        };
        if rng.chance(12) {
            // A continuation: the rule goes on on the next physical line.
            if let Some(sp) = line.iter().rposition(|&b| b == b' ') {
                line.splice(sp..sp + 1, b" \\\n ".iter().copied());
            }
        }
        if rng.chance(5) && !line.is_empty() {
            let at = rng.below(line.len());
            line.insert(at, 0);
        }
        out.extend_from_slice(&line);
        out.extend_from_slice(if crlf || rng.chance(5) {
            b"\r\n"
        } else {
            b"\n"
        });
    }
    if rng.chance(20) {
        // The last line without its newline (three real published files end that way).
        let last = rng.pick(rules).as_bytes().to_vec();
        out.extend_from_slice(&last);
    }
    Some(out)
}

struct Case {
    allow: Option<Vec<u8>>,
    deny: Option<Vec<u8>>,
    target: (&'static str, &'static str),
}

/// Rules that refuse the targets: most cases start from a lockout.
#[rustfmt::skip]
const LOCKOUTS: &[&str] = &[
    "ALL: ALL", "sshd: ALL", "ALL: ALL", "sshd: ALL \\\n EXCEPT 10.0.0.2", "ALL:ALL",
    "ALL: 198.51.100.7, 203.0.113.9, 10.0.0.1, [2001:db8::7]",
];

fn case(rng: &mut Rng) -> Case {
    let allow = table(rng, ALLOW_RULES);
    let mut deny = table(rng, DENY_RULES);
    if rng.chance(70) {
        let mut d = deny.unwrap_or_default();
        let lockout = rng.pick(LOCKOUTS).as_bytes();
        let at = if rng.chance(50) { 0 } else { d.len() };
        let mut line = lockout.to_vec();
        if at == 0 || d.ends_with(b"\n") || d.is_empty() {
            line.push(b'\n');
            d.splice(at..at, line);
        } else {
            d.extend_from_slice(b"\n");
            d.extend_from_slice(&line);
        }
        deny = Some(d);
    }
    Case {
        allow,
        deny,
        target: TARGETS[rng.below(TARGETS.len())],
    }
}

/// A scratch system: `BASE/root` (Debian, like the library we compare with) and
/// `BASE/sibling`, which no run may touch.
struct System {
    base: tempfile::TempDir,
}

impl System {
    fn new(c: &Case) -> System {
        let base = tempfile::tempdir().expect("temp dir");
        let etc = base.path().join("root/etc");
        std::fs::create_dir_all(&etc).expect("etc");
        std::fs::write(etc.join("os-release"), "ID=debian\n").expect("os-release");
        for (name, bytes) in [("hosts.allow", &c.allow), ("hosts.deny", &c.deny)] {
            if let Some(b) = bytes {
                std::fs::write(etc.join(name), b).expect("table");
            }
        }
        let sib = base.path().join("sibling");
        std::fs::create_dir_all(&sib).expect("sibling");
        std::fs::write(sib.join("hosts.deny"), "ALL: ALL\n").expect("sibling file");
        System { base }
    }

    fn root(&self) -> std::path::PathBuf {
        self.base.path().join("root")
    }

    fn tables(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let read = |n: &str| std::fs::read(self.root().join("etc").join(n)).ok();
        (read("hosts.allow"), read("hosts.deny"))
    }

    fn outside(&self) -> BTreeMap<std::path::PathBuf, String> {
        let mut out = BTreeMap::new();
        digest_tree(self.base.path(), &self.root(), &mut out);
        out
    }

    fn change_sets(&self) -> usize {
        std::fs::read_dir(self.root().join("var/backups/wrapfix"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("manifest.json").is_file())
                    .count()
            })
            .unwrap_or(0)
    }

    /// Run wrapfix on the root; its exit status and stderr. Panics on a hang.
    fn run(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wrapfix"))
            .arg("--root")
            .arg(self.root())
            .args(["--color", "never"])
            .args(args)
            .env_remove("SSH_CONNECTION")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wrapfix");
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("stdout")));
        let err = drain(Box::new(child.stderr.take().expect("stderr")));
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > RUN_TIMEOUT {
                let _ = child.kill();
                panic!("wrapfix {args:?} hung for {RUN_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // stderr, and the end of the report: what a failure message needs.
        let out = out.join().unwrap_or_default();
        let tail: Vec<&str> = out.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let err = err.join().unwrap_or_default();
        (status.code(), format!("{err}{}", tail.join("\n")))
    }
}

/// The questions asked of `hosts_ctl()` about one pair of tables: (address, name).
fn questions(target: (&str, &str), target_named: bool) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = Vec::new();
    let mut add = |addr: &str, name: &str| {
        let item = (addr.to_string(), name.to_string());
        if !q.contains(&item) {
            q.push(item);
        }
    };
    if target_named {
        add(target.0, target.1);
    } else {
        for n in CANDIDATE_NAMES {
            add(target.0, n);
        }
    }
    for (addr, name) in TARGETS.iter().chain(BYSTANDERS) {
        add(addr, name);
        if CHECK_UNNAMED {
            for n in CANDIDATE_NAMES {
                add(addr, n);
            }
        }
    }
    q
}

fn granted(allow: &Option<Vec<u8>>, deny: &Option<Vec<u8>>, q: &[(String, String)]) -> Vec<bool> {
    let cases: Vec<OracleCase> = q
        .iter()
        .map(|(addr, name)| OracleCase {
            allow: allow.clone(),
            deny: deny.clone(),
            daemon: "sshd".into(),
            name: name.clone(),
            addr: addr.clone(),
            user: "unknown".into(),
        })
        .collect();
    oracle::hosts_ctl_batch(&cases)
        .iter()
        .map(|v| *v == OracleVerdict::Granted)
        .collect()
}

/// What one case found wrong, if anything.
fn run_case(c: &Case, strategy: &[&str], named: bool, stats: &mut Stats) -> Option<String> {
    let sys = System::new(c);
    let sibling = sys.outside();
    let spec = if named {
        format!("{}={}", c.target.0, c.target.1)
    } else {
        c.target.0.to_string()
    };
    let mut args = vec!["--yes", "--client", spec.as_str()];
    args.extend_from_slice(strategy);
    let (code, err) = sys.run(&args);
    let describe = || {
        format!(
            "wrapfix {args:?}\n  hosts.allow {}\n  hosts.deny  {}\n  stderr: {err}",
            support::show_table(c.allow.as_deref()),
            support::show_table(c.deny.as_deref())
        )
    };
    if err.contains("panicked") || code == Some(101) {
        return Some(format!("panic: {}", describe()));
    }
    if sys.outside() != sibling {
        return Some(format!(
            "touched something outside the root: {}",
            describe()
        ));
    }
    let (allow, deny) = sys.tables();
    match code {
        Some(0) => {}
        Some(3) => {
            stats.refused += 1;
            if (allow, deny) != (c.allow.clone(), c.deny.clone()) || sys.change_sets() != 0 {
                return Some(format!("exit 3, but the files changed: {}", describe()));
            }
            // Every generated lockout can be repaired by either strategy, except where a
            // NUL byte makes libwrap glue lines together (commenting cannot undo that).
            let nul = |t: &Option<Vec<u8>>| t.as_ref().is_some_and(|t| t.contains(&0));
            if !nul(&c.allow) && !nul(&c.deny) {
                return Some(format!("no safe change offered: {}", describe()));
            }
            return None;
        }
        other => return Some(format!("exit {other:?}: {}", describe())),
    }
    let q = questions(c.target, named);
    let before = granted(&c.allow, &c.deny, &q);
    let after = granted(&allow, &deny, &q);
    let target_questions = if named { 1 } else { CANDIDATE_NAMES.len() };
    for (i, (addr, name)) in q.iter().enumerate() {
        if i < target_questions && !after[i] {
            return Some(format!(
                "exit 0, but hosts_ctl refuses the target {addr} named {name:?}; now:\n  hosts.allow {}\n  hosts.deny  {}\n{}",
                support::show_table(allow.as_deref()),
                support::show_table(deny.as_deref()),
                describe()
            ));
        }
        if before[i] && !after[i] {
            return Some(format!(
                "{addr} named {name:?} was let in before and is refused after; now:\n  hosts.allow {}\n  hosts.deny  {}\n{}",
                support::show_table(allow.as_deref()),
                support::show_table(deny.as_deref()),
                describe()
            ));
        }
    }
    if sys.change_sets() == 0 {
        stats.nothing_to_do += 1;
        return ((allow, deny) != (c.allow.clone(), c.deny.clone()))
            .then(|| format!("changed without a change set: {}", describe()));
    }
    stats.applied += 1;
    let (code, rb_err) = sys.run(&["--rollback", "--yes"]);
    if code != Some(0) {
        return Some(format!("rollback exit {code:?}: {rb_err}\n{}", describe()));
    }
    if sys.tables() != (c.allow.clone(), c.deny.clone()) {
        let (a, d) = sys.tables();
        return Some(format!(
            "rollback did not give the bytes back: allow {} deny {}\n{}",
            escape(a.as_deref().unwrap_or(b"(absent)")),
            escape(d.as_deref().unwrap_or(b"(absent)")),
            describe()
        ));
    }
    if sys.outside() != sibling {
        return Some(format!(
            "the rollback touched something outside the root: {}",
            describe()
        ));
    }
    None
}

#[derive(Default, Debug)]
struct Stats {
    cases: u64,
    applied: u64,
    nothing_to_do: u64,
    refused: u64,
}

fn seeds() -> [u64; 2] {
    let fresh = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    let fresh = std::env::var("WRAPFIX_PIPELINE_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(fresh);
    [FIXED_SEED, fresh]
}

#[test]
fn random_hostile_tables_are_repaired_as_the_real_library_sees_them_and_rolled_back_exactly() {
    if !support::require_libwrap("checks repaired tables with the real hosts_ctl()") {
        return;
    }
    let cases = std::env::var("WRAPFIX_PIPELINE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES);
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let start = Instant::now();
    let seeds = seeds();
    for seed in seeds {
        let mut rng = Rng::new(seed);
        for n in 0..cases {
            let c = case(&mut rng);
            let mut runs: Vec<(&[&str], bool)> =
                vec![(&[], true), (&["--strategy", "comment"], true)];
            if CHECK_UNNAMED {
                runs.extend([(&[][..], false), (&["--strategy", "comment"][..], false)]);
            }
            for (strategy, named) in runs {
                stats.cases += 1;
                if let Some(f) = run_case(&c, strategy, named, &mut stats) {
                    failures.push(format!("seed {seed:#x} case {n}: {f}"));
                }
            }
        }
        if !failures.is_empty() {
            break;
        }
    }
    let _ = writeln_stderr(&format!(
        "pipeline: {stats:?} in {:.1} s (seeds {:#x}, {:#x})",
        start.elapsed().as_secs_f64(),
        seeds[0],
        seeds[1]
    ));
    assert!(
        failures.is_empty(),
        "{} of {} runs failed (replay with WRAPFIX_PIPELINE_SEED):\n{}",
        failures.len(),
        stats.cases,
        failures.join("\n\n")
    );
}

fn writeln_stderr(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{s}")
}
