//! Which libwrap build to model, and how we decided (docs/semantics.md §8).

use std::fmt;
use std::str::FromStr;

use crate::rootfs::Root;

/// A libwrap build whose behaviour we reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Debian/Ubuntu tcp-wrappers 7.6.q-32.
    Debian,
    /// RHEL/CentOS 7 tcp_wrappers 7.6-77.el7.
    Rhel7,
    /// CentOS 6 tcp_wrappers 7.6-58.el6.
    Rhel6,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Debian => "debian",
            Flavor::Rhel7 => "rhel7",
            Flavor::Rhel6 => "rhel6",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "debian" => Ok(Flavor::Debian),
            "rhel7" => Ok(Flavor::Rhel7),
            "rhel6" => Ok(Flavor::Rhel6),
            other => Err(format!(
                "unknown flavor '{other}': use debian, rhel7 or rhel6"
            )),
        }
    }
}

/// The flavour in use and where it came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorChoice {
    pub flavor: Flavor,
    /// `--flavor`, a path on the repaired system (`/etc/os-release`), or `default`.
    pub source: String,
    /// One sentence: why this flavour.
    pub why: String,
}

impl FlavorChoice {
    pub fn forced(flavor: Flavor) -> Self {
        FlavorChoice {
            flavor,
            source: "--flavor".into(),
            why: format!("{flavor} was chosen with --flavor"),
        }
    }

    /// Detect from `ROOT/etc/os-release`, then `ROOT/etc/redhat-release`; Debian if neither says.
    pub fn detect(root: &Root) -> Self {
        if let Ok(Some(text)) = root.read_optional("/etc/os-release")
            && let Some(choice) = from_os_release(&String::from_utf8_lossy(&text))
        {
            return choice;
        }
        if let Ok(Some(text)) = root.read_optional("/etc/redhat-release")
            && let Some(choice) = from_redhat_release(&String::from_utf8_lossy(&text))
        {
            return choice;
        }
        FlavorChoice {
            flavor: Flavor::Debian,
            source: "default".into(),
            why: "no known distribution in /etc/os-release or /etc/redhat-release: assuming debian (use --flavor to choose)".into(),
        }
    }
}

fn os_release_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.trim().split_once('=')?;
        (k == key).then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

fn major(version: &str) -> Option<u32> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

const RHEL_LIKE: &[&str] = &[
    "rhel",
    "centos",
    "rocky",
    "almalinux",
    "ol",
    "scientific",
    "fedora",
];

fn from_os_release(text: &str) -> Option<FlavorChoice> {
    let id = os_release_field(text, "ID")
        .unwrap_or("")
        .to_ascii_lowercase();
    let like = os_release_field(text, "ID_LIKE")
        .unwrap_or("")
        .to_ascii_lowercase();
    let version = os_release_field(text, "VERSION_ID").unwrap_or("");
    let family: Vec<&str> = std::iter::once(id.as_str())
        .chain(like.split_whitespace())
        .collect();
    let source = "/etc/os-release".to_string();
    if family.iter().any(|f| *f == "debian" || *f == "ubuntu") {
        return Some(FlavorChoice {
            flavor: Flavor::Debian,
            source,
            why: format!("/etc/os-release says ID={id}: a Debian-family system"),
        });
    }
    // Amazon Linux 2 is built from RHEL 7 sources.
    let rhel_major = if id == "amzn" {
        match major(version) {
            Some(2) => Some(7),
            other => other,
        }
    } else if family.iter().any(|f| RHEL_LIKE.contains(f)) {
        major(version)
    } else {
        None
    }?;
    let flavor = if rhel_major <= 6 {
        Flavor::Rhel6
    } else {
        Flavor::Rhel7
    };
    let note = if rhel_major >= 8 {
        " (RHEL 8 and later ship no libwrap; modelling the last build that had it)"
    } else {
        ""
    };
    Some(FlavorChoice {
        flavor,
        source,
        why: format!("/etc/os-release says ID={id} VERSION_ID={version}: {flavor}{note}"),
    })
}

fn from_redhat_release(text: &str) -> Option<FlavorChoice> {
    let line = text.lines().next()?.trim();
    let after = line.split_once("release ")?.1;
    let v = major(after)?;
    let flavor = if v <= 6 { Flavor::Rhel6 } else { Flavor::Rhel7 };
    Some(FlavorChoice {
        flavor,
        source: "/etc/redhat-release".into(),
        why: format!("/etc/redhat-release says \"{line}\": {flavor}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_families() {
        let deb = "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_ID=\"12\"\n";
        assert_eq!(from_os_release(deb).map(|c| c.flavor), Some(Flavor::Debian));
        let ubuntu = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n";
        assert_eq!(
            from_os_release(ubuntu).map(|c| c.flavor),
            Some(Flavor::Debian)
        );
        let c7 = "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n";
        assert_eq!(from_os_release(c7).map(|c| c.flavor), Some(Flavor::Rhel7));
        let ol6 = "ID=\"ol\"\nVERSION_ID=\"6.10\"\n";
        assert_eq!(from_os_release(ol6).map(|c| c.flavor), Some(Flavor::Rhel6));
        let amzn = "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n";
        assert_eq!(from_os_release(amzn).map(|c| c.flavor), Some(Flavor::Rhel7));
        assert_eq!(from_os_release("ID=arch\n"), None);
    }

    #[test]
    fn redhat_release_of_the_seed_report() {
        let c = from_redhat_release("CentOS release 6.5 (Final)\n").expect("parsed");
        assert_eq!(c.flavor, Flavor::Rhel6);
        assert_eq!(c.source, "/etc/redhat-release");
    }
}
