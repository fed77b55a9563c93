//! The system being repaired: `--root DIR`. Every path the tool reads or writes on that
//! system goes through [`Root::resolve`], which follows symbolic links the way they would be
//! followed if DIR were `/` (a link to `/etc/x` means `DIR/etc/x`), never leaving DIR.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Most symbolic links followed for one path before giving up (Linux uses 40 too).
const MAX_LINKS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Root { dir: dir.into() }
    }

    /// The directory on this machine that is `/` of the repaired system.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `path` (absolute on the repaired system) is on this machine, with every symbolic
    /// link resolved inside the root. A missing tail is kept as written.
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        let mut todo: VecDeque<OsString> = components(Path::new(path));
        let mut done: Vec<OsString> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            if part == ".." {
                done.pop();
                continue;
            }
            let candidate = self.host_path(&done).join(&part);
            match std::fs::symlink_metadata(&candidate) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(nix::libc::ELOOP));
                    }
                    let target = std::fs::read_link(&candidate)?;
                    if target.is_absolute() {
                        done.clear();
                    }
                    for c in components(&target).into_iter().rev() {
                        todo.push_front(c);
                    }
                }
                Ok(_) => done.push(part),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    done.push(part);
                    done.extend(todo.drain(..));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.host_path(&done))
    }

    fn host_path(&self, parts: &[OsString]) -> PathBuf {
        let mut p = self.dir.clone();
        p.extend(parts);
        p
    }

    /// Read a file of the repaired system: `Ok(None)` if it does not exist (a dangling link
    /// included), like libwrap's ENOENT case.
    pub fn read_optional(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let host = self.resolve(path)?;
        match std::fs::read(&host) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Normal components only: `/a/./b/` → `a`, `b`; `..` kept for the resolver.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        std::fs::create_dir_all(t.path().join("etc/alt")).unwrap();
        std::fs::write(t.path().join("etc/alt/deny"), b"x").unwrap();
        symlink("/etc/alt/deny", t.path().join("etc/hosts.deny")).unwrap();
        assert_eq!(
            root.resolve("/etc/hosts.deny").unwrap(),
            t.path().join("etc/alt/deny")
        );
        symlink("../../../../etc/alt/deny", t.path().join("etc/up")).unwrap();
        assert_eq!(
            root.resolve("/etc/up").unwrap(),
            t.path().join("etc/alt/deny")
        );
    }

    #[test]
    fn missing_files_and_dangling_links_read_as_none() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        symlink("/nowhere", t.path().join("etc/hosts.allow")).unwrap();
        assert_eq!(root.read_optional("/etc/hosts.allow").unwrap(), None);
        assert_eq!(root.read_optional("/etc/hosts.deny").unwrap(), None);
    }

    #[test]
    fn link_loops_are_an_error_not_a_hang() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        symlink("/b", t.path().join("a")).unwrap();
        symlink("/a", t.path().join("b")).unwrap();
        assert!(root.resolve("/a").is_err());
    }
}
