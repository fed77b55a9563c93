//! The two access tables of the repaired system, loaded as libwrap would open them.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::model::syntax::Document;
use crate::rootfs::{self, Root};

/// The largest table wrapfix reads. The largest real ones (DenyHosts and fail2ban ban
/// lists) are tens of MB; anything beyond this is not a table but a broken or hostile disk.
pub const TABLE_LIMIT: u64 = 256 << 20;

/// Which table: hosts.allow is read first, hosts.deny second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Allow,
    Deny,
}

impl Role {
    /// The path libwrap opens, on the repaired system.
    pub const fn system_path(self) -> &'static str {
        match self {
            Role::Allow => "/etc/hosts.allow",
            Role::Deny => "/etc/hosts.deny",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Role::Allow => "allow",
            Role::Deny => "deny",
        }
    }
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Allow, Role::Deny];

    /// The table at `system_path`, if it is one.
    pub fn of_system_path(system_path: &str) -> Option<Role> {
        Role::BOTH
            .into_iter()
            .find(|r| r.system_path() == system_path)
    }
}

/// One value per table, indexed by [`Role`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerTable<T> {
    pub allow: T,
    pub deny: T,
}

impl<T> std::ops::Index<Role> for PerTable<T> {
    type Output = T;
    fn index(&self, role: Role) -> &T {
        match role {
            Role::Allow => &self.allow,
            Role::Deny => &self.deny,
        }
    }
}

impl<T> std::ops::IndexMut<Role> for PerTable<T> {
    fn index_mut(&mut self, role: Role) -> &mut T {
        match role {
            Role::Allow => &mut self.allow,
            Role::Deny => &mut self.deny,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.system_path())
    }
}

/// What opening the table gives libwrap (docs/semantics.md §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// ENOENT (a dangling link too): an empty table.
    Missing,
    /// Any other open error: ERR, which denies everyone when it is hosts.deny.
    Unreadable(String),
    /// Opens, but the first read fails: an empty table.
    Directory,
    Present(Document),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    pub role: Role,
    /// Where the file is on this machine (links resolved inside the root); when the links
    /// lead nowhere, the path as written under the root.
    pub host_path: PathBuf,
    pub state: FileState,
    /// Why wrapfix must not write this file, if it must not: it could not be read (a table
    /// that cannot be read is never written), it is not a regular file, or it is a link
    /// that leads through a directory that does not exist.
    pub unwritable: Option<String>,
}

impl TableFile {
    pub fn document(&self) -> Option<&Document> {
        match &self.state {
            FileState::Present(d) => Some(d),
            _ => None,
        }
    }

    pub fn state_name(&self) -> &'static str {
        match self.state {
            FileState::Missing => "missing",
            FileState::Unreadable(_) | FileState::Directory => "unreadable",
            FileState::Present(_) => "ok",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub allow: TableFile,
    pub deny: TableFile,
}

impl Tables {
    /// Open both tables under `root`. A file that cannot be opened or read is a state
    /// (libwrap itself has to live with it), not an error.
    pub fn load(root: &Root) -> Tables {
        Tables {
            allow: load_one(root, Role::Allow),
            deny: load_one(root, Role::Deny),
        }
    }

    /// Tables from bytes (`None`: the file does not exist). For tests and plan verification.
    pub fn from_bytes(allow: Option<&[u8]>, deny: Option<&[u8]>) -> Tables {
        let file = |role: Role, bytes: Option<&[u8]>| TableFile {
            role,
            host_path: PathBuf::from(role.system_path()),
            state: bytes.map_or(FileState::Missing, |b| {
                FileState::Present(Document::new(b.to_vec()))
            }),
            unwritable: None,
        };
        Tables {
            allow: file(Role::Allow, allow),
            deny: file(Role::Deny, deny),
        }
    }

    pub fn get(&self, role: Role) -> &TableFile {
        match role {
            Role::Allow => &self.allow,
            Role::Deny => &self.deny,
        }
    }

    pub fn both(&self) -> [&TableFile; 2] {
        [&self.allow, &self.deny]
    }
}

fn load_one(root: &Root, role: Role) -> TableFile {
    let written = root.dir().join(role.system_path().trim_start_matches('/'));
    let (host_path, state) = match root.resolve(role.system_path()) {
        Ok(host) => {
            let state = match read(&host) {
                Ok(doc) => FileState::Present(doc),
                Err(e) if e.kind() == io::ErrorKind::NotFound => FileState::Missing,
                Err(e) if e.kind() == io::ErrorKind::IsADirectory => FileState::Directory,
                Err(e) => FileState::Unreadable(e.to_string()),
            };
            (host, state)
        }
        // A link through a directory that does not exist: libwrap's open fails with ENOENT
        // too, so the table is empty; but there is nowhere to create it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return TableFile {
                role,
                host_path: written,
                state: FileState::Missing,
                unwritable: Some(format!(
                    "{role} is a symbolic link that leads through a directory that does not exist inside the root, so there is nowhere to create it; fix or remove the link"
                )),
            };
        }
        Err(e) => (written, FileState::Unreadable(e.to_string())),
    };
    let unwritable = match &state {
        FileState::Missing | FileState::Present(_) => None,
        FileState::Directory => Some(format!(
            "{role} is a directory, not a file: wrapfix edits only regular files (move the directory away)"
        )),
        FileState::Unreadable(e) => Some(format!(
            "{role} cannot be read ({e}), and a table that cannot be read is never written"
        )),
    };
    TableFile {
        role,
        host_path,
        state,
        unwritable,
    }
}

/// Files larger than this are read by two threads at once (a 20 MB ban list spends much of
/// its read time faulting in fresh pages; two cores halve that).
const PARALLEL_READ: u64 = 4 << 20;

/// Read a whole file: a regular file only, opened without blocking, at most
/// [`TABLE_LIMIT`] bytes. A file that changes size while it is read is read again in one go.
fn read(path: &std::path::Path) -> io::Result<Document> {
    use std::os::unix::fs::FileExt;
    let file = rootfs::open_regular(path)?;
    let len = file.metadata()?.len();
    if len > TABLE_LIMIT {
        return Err(rootfs::too_large(TABLE_LIMIT));
    }
    if len < PARALLEL_READ {
        return rootfs::read_to_end_bounded(&file, TABLE_LIMIT).map(Document::new);
    }
    let n = usize::try_from(len).map_err(|_| rootfs::too_large(TABLE_LIMIT))?;
    // Private anonymous memory, not the file mapped: a file cut short while mapped would
    // kill the process (SIGBUS); this is read into like any buffer.
    let mut bytes = memmap2::MmapOptions::new().len(n).map_anon()?;
    // Huge pages where the kernel gives them on request (THP in "madvise" mode, Debian's
    // default): 15 faults for 30 MB instead of 7,000. Only advice: without it, 4 KiB pages.
    let _ = bytes.advise(memmap2::Advice::HugePage);
    let (a, b) = bytes.split_at_mut(n / 2);
    let f = &file;
    let halves = std::thread::scope(|s| {
        // Each thread also looks for NUL bytes in its half while the bytes are in cache.
        let first = s.spawn(|| {
            f.read_exact_at(a, 0)
                .map(|()| memchr::memchr(0, a).is_some())
        });
        let second = f
            .read_exact_at(b, (n / 2) as u64)
            .map(|()| memchr::memchr(0, b).is_some());
        first
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
            .and_then(|nul_a| second.map(|nul_b| nul_a || nul_b))
    });
    // A short read (the file shrank: an unban rewrote it) or a size change (a ban appended):
    // take one consistent read instead.
    match halves {
        Ok(has_nul) if file.metadata()?.len() == len => Ok(Document::mapped(bytes, has_nul)),
        _ => {
            drop(bytes);
            rootfs::read_regular(path, TABLE_LIMIT).map(Document::new)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table past PARALLEL_READ is read by two threads into a mapping: the bytes and
    /// the NUL flag must be those of the file, a NUL in either half included.
    #[test]
    fn a_large_table_reads_back_byte_for_byte_with_its_nul_flag() {
        let t = tempfile::tempdir().expect("tempdir");
        let path = t.path().join("hosts.deny");
        // Every line different: a half read from the wrong offset shows.
        let mut bytes = Vec::new();
        let mut i = 0u32;
        while bytes.len() < PARALLEL_READ as usize + 4096 {
            let [_, b, c, d] = i.to_be_bytes();
            bytes.extend_from_slice(format!("sshd: 10.{b}.{c}.{d}\n").as_bytes());
            i += 1;
        }
        std::fs::write(&path, &bytes).expect("write");
        let doc = read(&path).expect("read");
        assert_eq!(doc.bytes(), &bytes[..]);
        assert!(!doc.has_nul());
        for at in [10, bytes.len() - 10] {
            bytes[at] = 0;
            std::fs::write(&path, &bytes).expect("write");
            let doc = read(&path).expect("read");
            assert_eq!(doc.bytes(), &bytes[..]);
            assert!(doc.has_nul(), "NUL at {at} not seen");
            bytes[at] = b'1';
        }
    }
}
