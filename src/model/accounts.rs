//! User and group names of the repaired system, read from `ROOT/etc/passwd` and
//! `ROOT/etc/group` (the `user`/`group` options fail for names that do not exist).

use crate::model::options::Accounts;
use crate::rootfs::Root;

/// Names from the files databases. Names served only by LDAP/NIS are not seen: such an
/// option is reported as an error, which errs on the side of "denied".
#[derive(Debug, Clone, Default)]
pub struct FileAccounts {
    users: Vec<Vec<u8>>,
    groups: Vec<Vec<u8>>,
}

impl FileAccounts {
    pub fn load(root: &Root) -> Self {
        let names = |path: &str| -> Vec<Vec<u8>> {
            let Ok(Some(bytes)) = root.read_optional(path) else {
                return Vec::new();
            };
            bytes
                .split(|&b| b == b'\n')
                .filter_map(|l| l.split(|&b| b == b':').next())
                .filter(|n| !n.is_empty() && n[0] != b'#')
                .map(<[u8]>::to_vec)
                .collect()
        };
        FileAccounts {
            users: names("/etc/passwd"),
            groups: names("/etc/group"),
        }
    }

    pub fn from_names(users: &[&str], groups: &[&str]) -> Self {
        let v = |n: &[&str]| n.iter().map(|s| s.as_bytes().to_vec()).collect();
        FileAccounts {
            users: v(users),
            groups: v(groups),
        }
    }
}

impl Accounts for FileAccounts {
    fn user_exists(&self, name: &[u8]) -> bool {
        self.users.iter().any(|u| u == name)
    }
    fn group_exists(&self, name: &[u8]) -> bool {
        self.groups.iter().any(|g| g == name)
    }
}
