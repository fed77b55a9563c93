//! `writer`: tools that would undo a fix, found from configuration in scratch roots.

use std::os::unix::fs::symlink;
use std::path::Path;

use wrapfix::diagnose::detect::{Finding, Kind, Severity};
use wrapfix::diagnose::writers;
use wrapfix::model::tables::{Role, Tables};
use wrapfix::rootfs::Root;

use crate::support::system::System;

/// Debian's stock hosts.deny header: it must not read as a config-management header.
const DEBIAN_DENY: &str = "\
# /etc/hosts.deny: list of hosts that are _not_ allowed to access the system.
#                  See the manual pages hosts_access(5) and hosts_options(5).
#
# Example:    ALL: some.host.name, .some.domain
#             ALL EXCEPT in.fingerd: other.host.name, .other.domain
#
# If you're going to protect the portmapper use the name \"rpcbind\" for the
# daemon name. See rpcbind(8) and rpc.mountd(8) for further information.
#
# The PARANOID wildcard causes the hosts.deny to be filled with
# the host names of the hosts (including LOCAL) that are not
# allowed to access the system.
#
# You may wish to enable this to ensure any programs that don't
# validate looked up hostnames still leave understandable logs. In past
# versions of Debian this has been the default.
# ALL: PARANOID
";

/// The parts of fail2ban's stock jail.conf that choose actions (0.11 / 1.0).
const JAIL_CONF: &str = "\
[INCLUDES]
before = paths-debian.conf

[DEFAULT]
ignoreip = 127.0.0.1/8 ::1
bantime  = 10m
enabled = false
banaction = iptables-multiport
banaction_allports = iptables-allports
# action_ = %(banaction)s (commented)
action_ = %(banaction)s[port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]
action_mw = %(action_)s
            %(mta)s-whois[sender=\"%(sender)s\", dest=\"%(destemail)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]
action = %(action_)s
port = 0:65535
protocol = tcp
chain = <known/chain>
mta = sendmail

[sshd]
port    = ssh
logpath = %(sshd_log)s
backend = %(sshd_backend)s

[recidive]
logpath  = /var/log/fail2ban.log
banaction = %(banaction_allports)s
bantime  = 1w
";

/// Debian's jail.d/defaults-debian.conf.
const DEFAULTS_DEBIAN: &str = "[sshd]\nenabled = true\n";

fn run(dir: &Path) -> Vec<Finding> {
    let root = Root::new(dir);
    let tables = Tables::load(&root);
    let found = writers::findings(&root, &tables);
    for f in &found {
        assert_eq!(f.kind, Kind::Writer);
        assert!(
            f.message.ends_with('.') && !f.message.contains('\n'),
            "one sentence: {}",
            f.message
        );
    }
    found
}

fn text(f: &Finding) -> String {
    String::from_utf8_lossy(f.text.as_deref().unwrap_or_default()).into_owned()
}

#[test]
fn a_clean_root_reports_nothing() {
    let t = System::bare();
    assert!(run(t.path()).is_empty());
    let t = System::bare()
        .file("/etc/hosts.deny", DEBIAN_DENY)
        .file(
            "/etc/hosts.allow",
            "# /etc/hosts.allow\nsshd: 192.0.2.0/24\n",
        )
        .file("/etc/fail2ban/jail.conf", JAIL_CONF)
        .file("/etc/fail2ban/jail.d/defaults-debian.conf", DEFAULTS_DEBIAN)
        .file(
            "/etc/sshguard/sshguard.conf",
            "BACKEND=\"/usr/libexec/sshguard/sshg-fw-nft-sets\"\n",
        )
        .file(
            "/etc/fail2ban/action.d/iptables-multiport.conf",
            "[Definition]\nactionban = iptables -I f2b-<name> 1 -s <ip> -j DROP\n",
        );
    assert_eq!(run(t.path()), vec![]);
}

#[test]
fn fail2ban_jail_local_switching_sshd_to_hostsdeny() {
    let t = System::bare()
        .file("/etc/fail2ban/jail.conf", JAIL_CONF)
        .file("/etc/fail2ban/jail.d/defaults-debian.conf", DEFAULTS_DEBIAN)
        .file(
            "/etc/fail2ban/jail.local",
            "[sshd]\n# ban in hosts.deny\nbanaction = hostsdeny\n",
        );
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].path.as_deref(), Some("/etc/fail2ban/jail.local"));
    assert_eq!(f[0].line, Some(3));
    assert_eq!(text(&f[0]), "banaction = hostsdeny");
    let m = &f[0].message;
    assert!(
        m.starts_with("fail2ban jail sshd bans with the hostsdeny action"),
        "{m}"
    );
    assert!(m.contains("appends addresses to /etc/hosts.deny"), "{m}");
    assert!(
        m.contains("add your address to ignoreip in /etc/fail2ban/jail.local"),
        "{m}"
    );
    assert!(m.contains("fail2ban-client reload"), "{m}");
}

#[test]
fn fail2ban_jail_local_overrides_jail_conf() {
    // jail.conf says hostsdeny; jail.local puts sshd back on iptables.
    let t = System::bare()
        .file(
            "/etc/fail2ban/jail.conf",
            "[DEFAULT]\naction = %(banaction)s\n[sshd]\nenabled = true\nbanaction = hostsdeny\n",
        )
        .file(
            "/etc/fail2ban/jail.local",
            "[sshd]\nbanaction = iptables-multiport\n",
        );
    assert!(run(t.path()).is_empty());
    // jail.d/*.local is read after jail.local: it wins again.
    let t = System::bare()
        .file(
            "/etc/fail2ban/jail.conf",
            "[DEFAULT]\naction = %(banaction)s\n[sshd]\nenabled = true\nbanaction = hostsdeny\n",
        )
        .file(
            "/etc/fail2ban/jail.local",
            "[sshd]\nbanaction = iptables-multiport\n",
        )
        .file(
            "/etc/fail2ban/jail.d/site.local",
            "[sshd]\nbanaction = hostsdeny\n",
        );
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0].path.as_deref(),
        Some("/etc/fail2ban/jail.d/site.local")
    );
}

#[test]
fn fail2ban_disabled_jails_produce_nothing() {
    let t = System::bare()
        .file("/etc/fail2ban/jail.conf", JAIL_CONF)
        .file(
            "/etc/fail2ban/jail.local",
            "[sshd]\nenabled = false\nbanaction = hostsdeny\n[recidive]\naction = hostsdeny\n",
        );
    assert!(run(t.path()).is_empty());
    // Enabled in jail.local, disabled again in jail.d/*.local (read last).
    let t = System::bare()
        .file("/etc/fail2ban/jail.conf", JAIL_CONF)
        .file(
            "/etc/fail2ban/jail.local",
            "[sshd]\nenabled = true\nbanaction = hostsdeny\n",
        )
        .file("/etc/fail2ban/jail.d/off.local", "[sshd]\nenabled = no\n");
    assert!(run(t.path()).is_empty());
}

#[test]
fn fail2ban_default_banaction_is_inherited_by_every_enabled_jail() {
    let t = System::bare().file("/etc/fail2ban/jail.conf", JAIL_CONF).file("/etc/fail2ban/jail.d/defaults-debian.conf", DEFAULTS_DEBIAN).file("/etc/fail2ban/jail.local", "[DEFAULT]\nbanaction = hostsdeny\nbanaction_allports = hostsdeny\n\n[recidive]\nenabled = true\n[apache-auth]\nenabled = true\n");
    let f = run(t.path());
    // sshd and apache-auth take `banaction`, recidive `banaction_allports`: two settings.
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[0].line, Some(2));
    assert!(
        f[0].message
            .starts_with("fail2ban jails apache-auth and sshd ban with"),
        "{}",
        f[0].message
    );
    assert_eq!(f[1].line, Some(3));
    assert!(
        f[1].message.starts_with("fail2ban jail recidive"),
        "{}",
        f[1].message
    );
}

#[test]
fn fail2ban_actions_listed_on_continuation_lines_and_custom_actions() {
    let t = System::bare().file("/etc/fail2ban/jail.conf", JAIL_CONF).file("/etc/fail2ban/jail.local", "[sshd]\nenabled = true\naction = %(action_)s\n         hostsdeny[daemon_list=sshd, file=\"/etc/hosts.allow\"]\n");
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].message
            .contains("appends addresses to /etc/hosts.allow")
    );
    assert_eq!(f[0].line, Some(3));

    // A site action that includes the stock one.
    let t = System::bare()
        .file("/etc/fail2ban/jail.conf", JAIL_CONF)
        .file(
            "/etc/fail2ban/action.d/deny-ssh.local",
            "[INCLUDES]\nbefore = hostsdeny.conf\n[Init]\ndaemon_list = sshd\n",
        )
        .file(
            "/etc/fail2ban/jail.local",
            "[sshd]\nenabled = true\naction = deny-ssh\n",
        );
    assert_eq!(run(t.path()).len(), 1);
}

#[test]
fn denyhosts_with_a_custom_work_dir() {
    let t = System::bare().file("/etc/denyhosts.conf", "SECURE_LOG = /var/log/auth.log\nHOSTS_DENY = /etc/hosts.deny\nPURGE_DENY =\nBLOCK_SERVICE  = ALL\nWORK_DIR = /srv/denyhosts/\n");
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].path.as_deref(), Some("/etc/denyhosts.conf"));
    assert_eq!(f[0].line, Some(2));
    let m = &f[0].message;
    assert!(
        m.contains("appends 'ALL: ADDRESS' lines to /etc/hosts.deny"),
        "{m}"
    );
    assert!(m.contains("never purges them"), "{m}");
    assert!(m.contains("stop denyhosts"), "{m}");
    assert!(
        m.contains(
            "hosts, hosts-restricted, hosts-root, hosts-valid and users-hosts in /srv/denyhosts,"
        ),
        "{m}"
    );
    assert!(m.contains("add it to /srv/denyhosts/allowed-hosts"), "{m}");
}

#[test]
fn denyhosts_writing_elsewhere_is_not_a_writer_but_a_linked_table_is() {
    let t = System::bare().file(
        "/etc/denyhosts/denyhosts.conf",
        "HOSTS_DENY = /var/tmp/denied\nWORK_DIR = /var/lib/denyhosts\n",
    );
    assert!(run(t.path()).is_empty());
    // hosts.deny is a link to the file DenyHosts writes.
    let t = System::bare()
        .file(
            "/etc/denyhosts/denyhosts.conf",
            "HOSTS_DENY: /etc/tcpd/deny\nPURGE_DENY = 4w\n",
        )
        .file("/etc/tcpd/deny", "sshd: 192.0.2.9\n");
    symlink("tcpd/deny", t.path().join("etc/hosts.deny")).expect("link");
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(!f[0].message.contains("never purges"));
    assert!(f[0].message.contains("/var/lib/denyhosts/allowed-hosts"));
}

#[test]
fn denyhosts_comment_lines_without_its_config() {
    let t = System::bare().file("/etc/hosts.deny", "ALL: PARANOID\n# DenyHosts: Sat Jan  1 12:00:00 2022 | sshd: 203.0.113.5\nsshd: 203.0.113.5\n");
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].role, Some(Role::Deny));
    assert_eq!(f[0].path, None);
    assert_eq!(f[0].line, Some(2));
    assert!(text(&f[0]).starts_with("# DenyHosts: Sat Jan"));
    assert!(f[0].message.contains("WORK_DIR/allowed-hosts"));
}

#[test]
fn sshguard_block_in_hosts_allow_and_its_whitelist() {
    let t = System::bare().file("/etc/hosts.allow", "###sshguard###\nALL : 198.51.100.7 203.0.113.9 : DENY\n###sshguard###\nsshd: ALL\n").file("/etc/sshguard/sshguard.conf", "BACKEND=\"/usr/libexec/sshguard/sshg-fw-hosts\"\nWHITELIST_FILE=/etc/sshguard/whitelist\n");
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].role, Some(Role::Allow));
    assert_eq!(f[0].line, Some(1));
    let m = &f[0].message;
    assert!(m.contains("at the top of /etc/hosts.allow"), "{m}");
    assert!(m.contains("whenever it restarts"), "{m}");
    assert!(
        m.contains(
            "whitelist /etc/sshguard/whitelist (WHITELIST_FILE in /etc/sshguard/sshguard.conf)"
        ),
        "{m}"
    );
}

#[test]
fn sshguard_hosts_backend_before_it_has_blocked_anyone() {
    let t = System::bare().file(
        "/etc/sshguard/sshguard.conf",
        "# sshguard\nBACKEND=/usr/lib/x86_64-linux-gnu/sshg-fw-hosts\n",
    );
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].path.as_deref(), Some("/etc/sshguard/sshguard.conf"));
    assert_eq!(f[0].line, Some(2));
    assert!(f[0].message.contains("-w ADDRESS"), "{}", f[0].message);
}

#[test]
fn ansible_and_puppet_headers_and_a_blockinfile_block() {
    let t = System::bare()
        .file("/etc/hosts.deny", "# Ansible managed\nALL: ALL\n")
        .file(
            "/etc/hosts.allow",
            "# This file is managed by Puppet. DO NOT EDIT.\nsshd: 10.0.0.0/8\n",
        );
    let f = run(t.path());
    assert_eq!(f.len(), 2, "{f:?}");
    let deny = f.iter().find(|f| f.role == Some(Role::Deny)).expect("deny");
    assert_eq!(deny.severity, Severity::Info);
    assert_eq!(deny.line, Some(1));
    assert_eq!(text(deny), "# Ansible managed");
    assert!(
        deny.message.contains("managed by Ansible"),
        "{}",
        deny.message
    );
    assert!(
        deny.message
            .contains("next Ansible run puts the lockout back")
    );
    let allow = f
        .iter()
        .find(|f| f.role == Some(Role::Allow))
        .expect("allow");
    assert!(allow.message.contains("managed by Puppet"));

    let t = System::bare().file("/etc/hosts.deny", "# local bans\nsshd: 192.0.2.1\n\n# BEGIN ANSIBLE MANAGED BLOCK\r\nALL: ALL\n# END ANSIBLE MANAGED BLOCK\n");
    let f = run(t.path());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].line, Some(4));
    assert_eq!(text(&f[0]), "# BEGIN ANSIBLE MANAGED BLOCK");
    assert!(f[0].message.contains("blockinfile"));
}

#[test]
fn ossec_host_deny_and_portsentry() {
    let t = System::bare().file("/var/ossec/etc/ossec.conf", "<ossec_config>\n  <active-response>\n    <command>host-deny</command>\n    <location>local</location>\n  </active-response>\n</ossec_config>\n").file("/etc/portsentry/portsentry.conf", "IGNORE_FILE=\"/etc/portsentry/portsentry.ignore\"\n#KILL_ROUTE=\"/sbin/route add -host $TARGET$ reject\"\nKILL_HOSTS_DENY=\"ALL: $TARGET$ : DENY\"\n");
    let f = run(t.path());
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[0].path.as_deref(), Some("/var/ossec/etc/ossec.conf"));
    assert_eq!(f[0].line, Some(3));
    assert!(f[0].message.contains("<white_list>"));
    assert_eq!(
        f[1].path.as_deref(),
        Some("/etc/portsentry/portsentry.conf")
    );
    assert_eq!(f[1].line, Some(3));
    assert!(
        f[1].message.contains("'ALL: ADDRESS : DENY'"),
        "{}",
        f[1].message
    );
    assert!(f[1].message.contains("/etc/portsentry/portsentry.ignore"));
}

#[test]
fn binary_and_hostile_config_bytes_do_not_panic() {
    let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let junk = String::from_utf8_lossy(&junk).into_owned();
    let hostile = "[sshd]\nenabled = %(enabled)s\naction = %(a)s%(a)s%(a)s\na = %(a)s%(a)s%(known/a)s\n[\n]\n=\n:\n  \n%(\n";
    let t = System::bare()
        .file("/etc/fail2ban/jail.conf", &junk)
        .file("/etc/fail2ban/jail.local", hostile)
        .file("/etc/denyhosts.conf", &junk)
        .file("/etc/sshguard/sshguard.conf", &junk)
        .file("/var/ossec/etc/ossec.conf", "<!--<active-response><!-- -->")
        .file("/etc/portsentry/portsentry.conf", "KILL_HOSTS_DENY=\"\n")
        .file("/etc/hosts.deny", &junk);
    let _ = run(t.path());
}

/// sshguard's `sshg-fw-hosts` on a block or release: the lines before its block, a new
/// block, the lines after it (src/fw/hosts.c), written whole.
fn sshguard_rewrites(allow: &Path, blocked: &[&str]) {
    let text = std::fs::read_to_string(allow).expect("read hosts.allow");
    let mark = "###sshguard###\n";
    let start = text.find(mark).expect("sshguard's first marker");
    let end = text[start + mark.len()..]
        .find(mark)
        .map(|i| start + mark.len() + i + mark.len())
        .expect("sshguard's second marker");
    let block: String = blocked
        .iter()
        .map(|a| format!("ALL : {a} : DENY\n"))
        .collect();
    let new = format!("{}{mark}{block}{mark}{}", &text[..start], &text[end..]);
    std::fs::write(allow, new).expect("write hosts.allow");
}

#[test]
fn an_allow_entry_survives_sshguard_rewriting_its_block() {
    let sys = System::new()
        .allow("# local\n###sshguard###\nALL : 198.51.100.7 : DENY\n###sshguard###\nsshd: 10.0.0.0/8\n")
        .os_release("ID=debian\n");
    sys.run(["--yes", "--client", "198.51.100.7"])
        .code(0)
        .stderr_empty();
    let allow = sys.at("/etc/hosts.allow");
    let fixed = sys.text("/etc/hosts.allow");
    let ours = fixed.find("sshd: 198.51.100.7\n").expect("the allow entry");
    assert!(
        ours < fixed.find("###sshguard###").expect("marker"),
        "the entry is above sshguard's block:\n{fixed}"
    );
    // sshguard blocks another attacker, and again the admin (who is whitelisted only once
    // the admin follows the writer finding's advice).
    sshguard_rewrites(&allow, &["203.0.113.45", "198.51.100.7"]);
    let now = sys.text("/etc/hosts.allow");
    assert!(now.contains("sshd: 198.51.100.7\n"), "{now}");
    sys.run(["--check", "--client", "198.51.100.7"])
        .code(0)
        .stdout_has("sshd from 198.51.100.7: granted")
        .stderr_empty();
}

#[test]
fn an_allow_entry_goes_above_an_ansible_managed_block() {
    let sys = System::new()
        .allow("# BEGIN ANSIBLE MANAGED BLOCK\nsshd: 192.0.2.0/24\nALL: ALL: DENY\n# END ANSIBLE MANAGED BLOCK\n")
        .os_release("ID=debian\n");
    sys.run(["--yes", "--client", "198.51.100.7"])
        .code(0)
        .stderr_empty();
    let now = sys.text("/etc/hosts.allow");
    assert!(
        now.find("sshd: 198.51.100.7\n") < now.find("# BEGIN ANSIBLE MANAGED BLOCK"),
        "{now}"
    );
}
