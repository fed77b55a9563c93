//! A change set on disk is untrusted input (docs/write-protocol.md): anyone who could write the backup
//! directory of a compromised system could write a manifest. A rollback therefore only
//! touches the two tables, never gives them set-id, sticky or world-writable modes or an
//! ACL that lets others write, never hands them to an owner the system does not have, and
//! restores only the extended attributes a table carries. Everything is checked when the
//! change set is loaded, before a byte changes.

use std::path::Path;

use super::sys::Meta;
use crate::error::Error;
use crate::model::tables::Role;
use crate::rootfs::Root;

/// The only files a change set may name.
pub(super) const TABLES: [&str; 2] = [Role::Allow.system_path(), Role::Deny.system_path()];

/// Extended attributes a rollback may restore besides `user.*`: the SELinux and SMACK
/// labels and the access ACL (checked below). Others (file capabilities, `trusted.*`) have
/// no business on a table.
const XATTRS_RESTORED: [&str; 3] = [
    "security.selinux",
    "security.SMACK64",
    "system.posix_acl_access",
];

/// The error for a change set a rollback must not use. Nothing has been changed yet.
pub(super) fn untrusted(dir: &Path, path: &str, why: &str) -> Error {
    Error::UntrustedChangeSet {
        dir: dir.to_path_buf(),
        path: path.to_string(),
        why: why.to_string(),
    }
}

/// A manifest path must be one of the tables.
pub(super) fn check_path(path: &str) -> Result<(), String> {
    if TABLES.contains(&path) {
        Ok(())
    } else {
        Err(format!(
            "is not one of the tables ({}); wrapfix only ever changes those",
            TABLES.join(", ")
        ))
    }
}

/// User and group IDs that exist on the repaired system: root, the IDs its passwd and
/// group files list, and the owners the tables and their directory have now (restoring
/// one of those gives nobody anything new; scratch roots and LDAP-only systems have no
/// passwd entry for them).
pub(super) struct Owners {
    uids: Vec<u32>,
    gids: Vec<u32>,
}

impl Owners {
    pub(super) fn load(root: &Root) -> Owners {
        use std::os::unix::fs::MetadataExt;
        let ids = |path: &str, field: usize| -> Vec<u32> {
            let bytes = root.read_optional(path).ok().flatten().unwrap_or_default();
            bytes
                .split(|&b| b == b'\n')
                .filter_map(|l| l.split(|&b| b == b':').nth(field))
                .filter_map(|id| std::str::from_utf8(id).ok()?.parse().ok())
                .collect()
        };
        let mut uids = vec![0];
        uids.extend(ids("/etc/passwd", 2));
        let mut gids = vec![0];
        gids.extend(ids("/etc/group", 2));
        gids.extend(ids("/etc/passwd", 3));
        for path in ["/etc", TABLES[0], TABLES[1]] {
            if let Some(m) = root
                .resolve(path)
                .ok()
                .and_then(|host| std::fs::metadata(host).ok())
            {
                uids.push(m.uid());
                gids.push(m.gid());
            }
        }
        Owners { uids, gids }
    }
}

/// Mode, owner and extended attributes a rollback may give a table.
pub(super) fn check_meta(meta: &Meta, owners: &Owners) -> Result<(), String> {
    if meta.mode & !0o777 != 0 || meta.mode & 0o002 != 0 {
        return Err(format!(
            "would get mode {:04o}: wrapfix never restores setuid, setgid, sticky or world-writable modes",
            meta.mode
        ));
    }
    if !owners.uids.contains(&meta.uid) || !owners.gids.contains(&meta.gid) {
        return Err(format!(
            "would be owned by {}:{}, an owner neither the system's passwd and group files nor its tables have",
            meta.uid, meta.gid
        ));
    }
    for (name, value) in &meta.xattrs {
        if !(XATTRS_RESTORED.contains(&name.as_str()) || name.starts_with("user.")) {
            return Err(format!(
                "would get the extended attribute {name:?}, which wrapfix never restores"
            ));
        }
        if name == "system.posix_acl_access" {
            acl_ok(value, owners)?;
        }
    }
    Ok(())
}

/// A POSIX access ACL (`system.posix_acl_access`: a 4-byte version, then 8-byte entries
/// of tag, permissions, id, little-endian) that lets no one else write, and names only
/// users and groups that exist.
fn acl_ok(value: &[u8], owners: &Owners) -> Result<(), String> {
    const ACL_USER: u16 = 0x02;
    const ACL_GROUP: u16 = 0x08;
    const ACL_OTHER: u16 = 0x20;
    const WRITE: u16 = 0x02;
    if value.len() < 4 || !(value.len() - 4).is_multiple_of(8) {
        return Err("would get an ACL wrapfix cannot read".into());
    }
    for e in value[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let unknown = match tag {
            ACL_USER => !owners.uids.contains(&id),
            ACL_GROUP => !owners.gids.contains(&id),
            _ => false,
        };
        if (tag == ACL_OTHER && perm & WRITE != 0) || unknown {
            return Err(
                "would get an ACL that lets everyone write to it or names an owner the system does not have"
                    .into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners() -> Owners {
        Owners {
            uids: vec![0, 1000],
            gids: vec![0, 1000],
        }
    }

    fn meta(mode: u32, xattrs: Vec<(String, Vec<u8>)>) -> Meta {
        Meta {
            mode,
            uid: 0,
            gid: 0,
            xattrs,
        }
    }

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut v = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            v.extend(tag.to_le_bytes());
            v.extend(perm.to_le_bytes());
            v.extend(id.to_le_bytes());
        }
        v
    }

    #[test]
    fn only_plain_modes_known_owners_and_table_attributes_are_restored() {
        let o = owners();
        assert!(check_meta(&meta(0o640, vec![]), &o).is_ok());
        for bad in [0o4755, 0o2644, 0o1644, 0o666, 0o602] {
            assert!(check_meta(&meta(bad, vec![]), &o).is_err(), "{bad:o}");
        }
        let mut m = meta(0o644, vec![]);
        m.uid = 4_000_000;
        assert!(check_meta(&m, &o).is_err());
        let cap = ("security.capability".to_string(), vec![1]);
        assert!(check_meta(&meta(0o644, vec![cap]), &o).is_err());
        let ok = acl(&[
            (0x01, 6, u32::MAX),
            (0x02, 6, 1000),
            (0x04, 4, u32::MAX),
            (0x20, 4, u32::MAX),
        ]);
        let a = ("system.posix_acl_access".to_string(), ok);
        assert!(check_meta(&meta(0o644, vec![a]), &o).is_ok());
        for bad in [
            acl(&[(0x20, 6, u32::MAX)]),
            acl(&[(0x02, 6, 4_000_000)]),
            vec![1, 2, 3],
        ] {
            let a = ("system.posix_acl_access".to_string(), bad);
            assert!(check_meta(&meta(0o644, vec![a]), &o).is_err());
        }
        assert!(check_path("/etc/passwd").is_err());
        assert!(check_path("/etc/hosts.deny").is_ok());
    }
}
