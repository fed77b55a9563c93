//! `not-wrapped`: the daemon's ELF dynamic section, read from a scratch root. Hand-built
//! images test the parser without system files; this machine's sshd and ls test it on real
//! programs (skipped loudly when absent), and readelf checks it where installed.

use std::os::unix::fs::symlink;
use std::path::Path;

use proptest::prelude::*;
use wrapfix::diagnose::detect::{Kind, Severity};
use wrapfix::diagnose::wrapped::{self, Binary, Linkage, Unknown};
use wrapfix::rootfs::Root;

use crate::support;
use crate::support::system::System;

// ---------------------------------------------------------------------------------------
// A minimal ELF image: header, PT_LOAD over the whole file, PT_DYNAMIC, .dynstr, .dynamic.

const BASE: u64 = 0x1_0000;

#[derive(Clone)]
struct Image {
    wide: bool,
    big: bool,
    needed: Vec<&'static str>,
    /// Without PT_DYNAMIC: a static program.
    dynamic: bool,
    /// Bytes appended after everything (for the static heuristic).
    extra: Vec<u8>,
    /// Store the program header count the PN_XNUM way, in section header 0.
    xnum: bool,
}

impl Image {
    fn new(wide: bool, big: bool, needed: &[&'static str]) -> Self {
        Image {
            wide,
            big,
            needed: needed.to_vec(),
            dynamic: true,
            extra: Vec::new(),
            xnum: false,
        }
    }
}

struct Out {
    bytes: Vec<u8>,
    big: bool,
    wide: bool,
}

impl Out {
    fn put(&mut self, v: u64, n: usize) {
        let b = v.to_be_bytes();
        let be = &b[8 - n..];
        if self.big {
            self.bytes.extend_from_slice(be);
        } else {
            self.bytes.extend(be.iter().rev());
        }
    }
    fn u16(&mut self, v: u64) {
        self.put(v, 2)
    }
    fn u32(&mut self, v: u64) {
        self.put(v, 4)
    }
    fn word(&mut self, v: u64) {
        self.put(v, if self.wide { 8 } else { 4 })
    }
}

fn build(img: &Image) -> Vec<u8> {
    let (ehsize, phentsize, shentsize) = if img.wide { (64, 56, 64) } else { (52, 32, 40) };
    let phnum: u64 = if img.dynamic { 2 } else { 1 };
    let mut strtab = vec![0u8];
    let mut name_offsets = Vec::new();
    for n in &img.needed {
        name_offsets.push(strtab.len() as u64);
        strtab.extend_from_slice(n.as_bytes());
        strtab.push(0);
    }
    let phoff = ehsize;
    let strtab_off = phoff + phnum * phentsize;
    let dyn_off = (strtab_off + strtab.len() as u64).div_ceil(8) * 8;
    let entsize = if img.wide { 16 } else { 8 };
    let dyn_count = name_offsets.len() as u64 + 3;
    let dyn_size = if img.dynamic { dyn_count * entsize } else { 0 };
    let shoff = dyn_off + dyn_size;
    let total = shoff + if img.xnum { shentsize } else { 0 } + img.extra.len() as u64;

    let mut o = Out {
        bytes: Vec::new(),
        big: img.big,
        wide: img.wide,
    };
    o.bytes.extend_from_slice(b"\x7fELF");
    o.bytes.push(if img.wide { 2 } else { 1 });
    o.bytes.push(if img.big { 2 } else { 1 });
    o.bytes.push(1);
    o.bytes.resize(16, 0);
    o.u16(3); // ET_DYN
    o.u16(if img.wide { 62 } else { 20 }); // x86-64, or PowerPC (big-endian 32-bit)
    o.u32(1);
    o.word(BASE); // e_entry
    o.word(phoff);
    o.word(if img.xnum { shoff } else { 0 });
    o.u32(0); // e_flags
    o.u16(ehsize);
    o.u16(phentsize);
    o.u16(if img.xnum { 0xffff } else { phnum });
    o.u16(if img.xnum { shentsize } else { 0 });
    o.u16(if img.xnum { 1 } else { 0 });
    o.u16(0);
    assert_eq!(o.bytes.len() as u64, ehsize);
    segment(&mut o, 1, 0, BASE, total);
    if img.dynamic {
        segment(&mut o, 2, dyn_off, BASE + dyn_off, dyn_size);
    }
    o.bytes.extend_from_slice(&strtab);
    o.bytes.resize(dyn_off as usize, 0);
    if img.dynamic {
        for off in &name_offsets {
            o.word(1); // DT_NEEDED
            o.word(*off);
        }
        o.word(5); // DT_STRTAB
        o.word(BASE + strtab_off);
        o.word(10); // DT_STRSZ
        o.word(strtab.len() as u64);
        o.word(0); // DT_NULL
        o.word(0);
    }
    if img.xnum {
        let start = o.bytes.len();
        o.bytes.resize(start + shentsize as usize, 0);
        // sh_info of section header 0 holds the real program header count.
        let at = start + if img.wide { 0x2c } else { 0x1c };
        let mut info = Out {
            bytes: Vec::new(),
            big: img.big,
            wide: img.wide,
        };
        info.u32(phnum);
        o.bytes[at..at + 4].copy_from_slice(&info.bytes);
    }
    o.bytes.extend_from_slice(&img.extra);
    assert_eq!(o.bytes.len() as u64, total);
    o.bytes
}

fn segment(o: &mut Out, kind: u64, offset: u64, vaddr: u64, size: u64) {
    o.u32(kind);
    if o.wide {
        o.u32(4); // p_flags
        o.word(offset);
        o.word(vaddr);
        o.word(vaddr);
        o.word(size);
        o.word(size);
        o.word(8);
    } else {
        o.word(offset);
        o.word(vaddr);
        o.word(vaddr);
        o.word(size);
        o.word(size);
        o.u32(4);
        o.word(8);
    }
}

// ---------------------------------------------------------------------------------------
// Scratch roots.

fn system_file(path: &str) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            support::skip(path, &format!("needs a real program to copy ({e})"));
            None
        }
    }
}

fn wrapped_image() -> Vec<u8> {
    build(&Image::new(
        true,
        false,
        &["libcrypt.so.1", "libwrap.so.0", "libc.so.6"],
    ))
}

fn plain_image() -> Vec<u8> {
    build(&Image::new(true, false, &["libcrypto.so.3", "libc.so.6"]))
}

// ---------------------------------------------------------------------------------------
// The parser on hand-built images.

#[test]
fn hand_built_images_in_every_class_and_byte_order() {
    for wide in [true, false] {
        for big in [false, true] {
            let img = Image::new(wide, big, &["libpam.so.0", "libwrap.so.0", "libc.so.6"]);
            let b = wrapped::inspect(&build(&img));
            assert_eq!(
                b,
                Binary::Dynamic {
                    needed: vec![
                        "libpam.so.0".into(),
                        "libwrap.so.0".into(),
                        "libc.so.6".into()
                    ]
                },
                "wide={wide} big={big}"
            );
            assert_eq!(b.libwrap(), Some("libwrap.so.0"));
            let plain = wrapped::inspect(&build(&Image::new(wide, big, &["libc.so.6"])));
            assert_eq!(plain.libwrap(), None, "wide={wide} big={big}");
        }
    }
}

#[test]
fn big_endian_elf32_with_libwrap_makes_sshd_wrapped() {
    let t = System::bare().file(
        "/usr/sbin/sshd",
        build(&Image::new(false, true, &["libwrap.so.0", "libc.so.6"])),
    );
    assert_eq!(
        wrapped::linkage(&Root::new(t.path()), "sshd"),
        Linkage::Wrapped {
            path: "/usr/sbin/sshd".into(),
            via: "libwrap.so.0".into()
        }
    );
}

#[test]
fn program_header_count_in_section_zero_pn_xnum() {
    for wide in [true, false] {
        let mut img = Image::new(wide, !wide, &["libwrap.so.0"]);
        img.xnum = true;
        assert_eq!(
            wrapped::inspect(&build(&img)).libwrap(),
            Some("libwrap.so.0"),
            "wide={wide}"
        );
    }
}

#[test]
fn static_programs_are_unknown_with_a_stated_heuristic() {
    let mut img = Image::new(true, false, &[]);
    img.dynamic = false;
    assert_eq!(
        wrapped::inspect(&build(&img)),
        Binary::Static {
            libwrap_strings: false
        }
    );
    img.extra = b"\0refused connect from %s\0".to_vec();
    let bytes = build(&img);
    assert_eq!(
        wrapped::inspect(&bytes),
        Binary::Static {
            libwrap_strings: true
        }
    );
    // A dynamic section with no libraries (static-pie) is static too.
    let pie = build(&Image::new(false, false, &[]));
    assert!(matches!(wrapped::inspect(&pie), Binary::Static { .. }));

    let t = System::bare().file("/usr/sbin/sshd", &bytes);
    let f = wrapped::findings(&Root::new(t.path()), &["sshd".into()]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].message.contains("heuristic"), "{}", f[0].message);
}

#[test]
fn every_truncation_of_a_good_image_is_malformed_never_a_panic() {
    for wide in [true, false] {
        for big in [false, true] {
            let bytes = build(&Image::new(wide, big, &["libwrap.so.0", "libc.so.6"]));
            for n in 0..bytes.len() {
                let b = wrapped::inspect(&bytes[..n]);
                assert!(
                    matches!(b, Binary::Malformed(_) | Binary::NotElf { .. }),
                    "{n} bytes of {}: {b:?}",
                    bytes.len()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Daemons under a root.

#[test]
fn sshd_session_beside_a_plain_sshd_decides_openssh_9_8() {
    let t = System::bare()
        .file("/usr/sbin/sshd", plain_image())
        .file("/usr/lib/openssh/sshd-session", wrapped_image());
    let root = Root::new(t.path());
    assert_eq!(
        wrapped::linkage(&root, "sshd"),
        Linkage::Wrapped {
            path: "/usr/lib/openssh/sshd-session".into(),
            via: "libwrap.so.0".into()
        }
    );
    assert!(wrapped::findings(&root, &["sshd".into()]).is_empty());
}

#[test]
fn sshd_and_sshd_session_both_plain_are_not_wrapped() {
    let t = System::bare()
        .file("/usr/sbin/sshd", plain_image())
        .file("/usr/libexec/openssh/sshd-session", plain_image());
    let root = Root::new(t.path());
    assert_eq!(
        wrapped::linkage(&root, "sshd"),
        Linkage::NotWrapped {
            paths: vec![
                "/usr/sbin/sshd".into(),
                "/usr/libexec/openssh/sshd-session".into()
            ]
        }
    );
    let f = wrapped::findings(&root, &["sshd".into()]);
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains(
        "/usr/sbin/sshd and /usr/libexec/openssh/sshd-session are not linked with libwrap"
    ));
}

#[test]
fn merged_usr_links_are_followed_inside_the_root_and_counted_once() {
    let t = System::bare().file("/usr/sbin/sshd", plain_image());
    symlink("usr/sbin", t.path().join("sbin")).expect("link");
    assert_eq!(
        wrapped::linkage(&Root::new(t.path()), "sshd"),
        Linkage::NotWrapped {
            paths: vec!["/usr/sbin/sshd".into()]
        }
    );
}

#[test]
fn a_symlinked_sshd_is_read_through_the_link_inside_the_root() {
    let t = System::bare().file("/opt/openssh/sbin/sshd", wrapped_image());
    std::fs::create_dir_all(t.path().join("usr/sbin")).expect("mkdir");
    // Absolute target: it means ROOT/opt/..., never this machine's /opt.
    symlink("/opt/openssh/sbin/sshd", t.path().join("usr/sbin/sshd")).expect("link");
    assert_eq!(
        wrapped::linkage(&Root::new(t.path()), "sshd"),
        Linkage::Wrapped {
            path: "/usr/sbin/sshd".into(),
            via: "libwrap.so.0".into()
        }
    );
}

#[test]
fn a_link_to_this_machines_sshd_is_not_followed_out_of_the_root() {
    let t = System::bare();
    std::fs::create_dir_all(t.path().join("usr/sbin")).expect("mkdir");
    // /bin/ls exists on this machine, not in the root.
    symlink("/bin/ls", t.path().join("usr/sbin/sshd")).expect("link");
    assert!(matches!(
        wrapped::linkage(&Root::new(t.path()), "sshd"),
        Linkage::Missing { .. }
    ));
}

#[test]
fn a_missing_program_is_info_and_says_where_it_looked() {
    let t = System::bare();
    let f = wrapped::findings(&Root::new(t.path()), &["sshd".into(), "sshd".into()]);
    assert_eq!(f.len(), 1, "one finding per daemon: {f:?}");
    assert_eq!(f[0].kind, Kind::NotWrapped);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].path.as_deref(), Some("/usr/sbin/sshd"));
    assert!(f[0].message.contains("No sshd program was found"));
}

#[test]
fn a_shell_script_named_sshd_is_unknown_not_a_verdict() {
    let t = System::bare().file(
        "/usr/sbin/sshd",
        b"#!/bin/sh\nexec /usr/sbin/sshd.real \"$@\"\n",
    );
    let root = Root::new(t.path());
    assert_eq!(
        wrapped::linkage(&root, "sshd"),
        Linkage::Unknown {
            path: "/usr/sbin/sshd".into(),
            why: Unknown::Script {
                interpreter: Some("/bin/sh".into())
            }
        }
    );
    let f = wrapped::findings(&root, &["sshd".into()]);
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].message.contains("is a script run by /bin/sh"));
}

#[test]
fn something_unclear_wins_over_not_wrapped() {
    // A plain /usr/sbin/sshd but a script in /usr/local/sbin: which one runs is unknown.
    let t = System::bare()
        .file("/usr/sbin/sshd", plain_image())
        .file("/usr/local/sbin/sshd", b"#!/bin/sh\n");
    assert!(matches!(
        wrapped::linkage(&Root::new(t.path()), "sshd"),
        Linkage::Unknown { .. }
    ));
}

#[test]
fn a_fifo_named_sshd_does_not_block() {
    let t = System::bare();
    std::fs::create_dir_all(t.path().join("usr/sbin")).expect("mkdir");
    nix::unistd::mkfifo(
        &t.path().join("usr/sbin/sshd"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    assert!(matches!(
        wrapped::linkage(&Root::new(t.path()), "sshd"),
        Linkage::Unknown {
            why: Unknown::Unreadable(_),
            ..
        }
    ));
}

#[test]
fn a_damaged_sshd_is_a_warning() {
    let mut bytes = wrapped_image();
    bytes.truncate(100);
    let t = System::bare().file("/usr/sbin/sshd", &bytes);
    let f = wrapped::findings(&Root::new(t.path()), &["sshd".into()]);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message
            .contains("not a readable ELF program (truncated")
    );
}

#[test]
fn a_daemon_started_through_tcpd_is_wrapped_by_inetd() {
    let t = System::bare().file("/usr/sbin/in.telnetd", plain_image()).file("/etc/inetd.conf", b"#telnet stream tcp nowait root /usr/sbin/in.telnetd\ntelnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.telnetd\n");
    let f = wrapped::findings(&Root::new(t.path()), &["in.telnetd".into()]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].path.as_deref(), Some("/etc/inetd.conf"));
    assert!(f[0].message.contains("through tcpd"));
}

// ---------------------------------------------------------------------------------------
// Real programs from this machine.

#[test]
fn debians_sshd_is_wrapped() {
    if !Path::new("/usr/sbin/sshd").exists() {
        support::skip("/usr/sbin/sshd", "apt-get install openssh-server");
        return;
    }
    let Some(bytes) = system_file("/usr/sbin/sshd") else {
        return;
    };
    let t = System::bare().file("/usr/sbin/sshd", &bytes);
    let root = Root::new(t.path());
    match wrapped::linkage(&root, "sshd") {
        Linkage::Wrapped { path, via } => {
            assert_eq!(path, "/usr/sbin/sshd");
            assert!(via.starts_with("libwrap.so"), "{via}");
        }
        other => panic!("Debian's sshd is built with libwrap: {other:?}"),
    }
    assert!(wrapped::findings(&root, &["sshd".into()]).is_empty());
}

#[test]
fn ls_copied_as_sshd_is_not_wrapped() {
    let Some(bytes) = system_file("/bin/ls") else {
        return;
    };
    let t = System::bare().file("/usr/sbin/sshd", &bytes);
    let f = wrapped::findings(&Root::new(t.path()), &["sshd".into()]);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, Kind::NotWrapped);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].path.as_deref(), Some("/usr/sbin/sshd"));
    assert_eq!(
        f[0].message,
        "/usr/sbin/sshd is not linked with libwrap: hosts.allow and hosts.deny do not affect sshd; \
         look elsewhere (sshd_config AllowUsers/DenyUsers/AllowGroups, the firewall, fail2ban's \
         iptables or nftables actions)."
    );
}

#[test]
fn truncated_and_corrupted_real_programs_never_panic() {
    let path = if Path::new("/usr/sbin/sshd").exists() {
        "/usr/sbin/sshd"
    } else {
        "/bin/ls"
    };
    let Some(bytes) = system_file(path) else {
        return;
    };
    // Every length through the headers, then a spread over the whole file.
    let lengths = (0..4096.min(bytes.len())).chain((4096..bytes.len()).step_by(997));
    for n in lengths {
        let b = wrapped::inspect(&bytes[..n]);
        if n < 64 {
            assert!(
                matches!(b, Binary::Malformed(_) | Binary::NotElf { .. }),
                "{n}: {b:?}"
            );
        }
    }
    // Flip bytes through the headers and the dynamic section: whatever comes out, no panic.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut copy = bytes.clone();
        let at = (state as usize) % copy.len().min(8192);
        copy[at] ^= (state >> 32) as u8 | 1;
        let _ = wrapped::inspect(&copy);
    }
}

/// DT_NEEDED as `readelf -d` lists it, against ours, on programs and libraries here.
#[test]
fn needed_entries_agree_with_readelf() {
    if !support::require_tool("readelf", "binutils: the reference ELF reader") {
        return;
    }
    let files = [
        "/usr/sbin/sshd",
        "/bin/ls",
        "/bin/sh",
        "/usr/bin/env",
        "/usr/lib/x86_64-linux-gnu/libwrap.so.0",
    ];
    let mut compared = 0;
    for file in files.iter().filter(|f| Path::new(f).exists()) {
        let out = std::process::Command::new("readelf")
            .args(["-d", "-W", file])
            .output()
            .expect("readelf");
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs: Vec<String> = text
            .lines()
            .filter(|l| l.contains("(NEEDED)"))
            .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_string()))
            .collect();
        let ours = match wrapped::inspect(&std::fs::read(file).expect("read")) {
            Binary::Dynamic { needed } => needed,
            Binary::Static { .. } => Vec::new(),
            other => panic!("{file}: {other:?}"),
        };
        assert_eq!(ours, theirs, "{file}");
        compared += 1;
    }
    assert!(compared > 0, "no program to compare");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_after_the_magic_give_an_answer(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = b"\x7fELF".to_vec();
        bytes.extend(&tail);
        let _ = wrapped::inspect(&bytes);
        let _ = wrapped::inspect(&tail);
    }

    #[test]
    fn corrupting_a_good_image_gives_an_answer(
        wide in any::<bool>(),
        big in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = build(&Image::new(wide, big, &["libwrap.so.0", "libc.so.6"]));
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let _ = wrapped::inspect(&bytes);
        let n = cut.index(bytes.len() + 1);
        let _ = wrapped::inspect(&bytes[..n]);
    }
}
