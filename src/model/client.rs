//! The clients we are asked about: `--client [USER@]ADDRESS[=NAME]`, normalised to the text
//! libwrap sees for a real connection.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::model::flavor::Flavor;

/// A client as the daemon's libwrap sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Client {
    /// `getnameinfo(NUMERICHOST)` text: `198.51.100.7`, `2001:db8::1`, `::ffff:10.0.0.1`.
    pub addr: String,
    /// The verified host name, `unknown` or `paranoid`; `None`: every possibility counts.
    pub name: Option<String>,
    /// The ident user name; `None` means libwrap's default, `unknown`.
    pub user: Option<String>,
}

impl Client {
    pub fn user(&self) -> &str {
        self.user.as_deref().unwrap_or("unknown")
    }

    /// Parse a `--client` value. The error names the value and says what is expected.
    pub fn parse(spec: &str, flavor: Flavor) -> Result<Client, String> {
        let usage = "expected [USER@]ADDRESS[=NAME], e.g. 198.51.100.7 or root@2001:db8::1=admin.example.com";
        let bad = |why: &str| format!("invalid client '{spec}': {why} ({usage})");
        let (user, rest) = match spec.split_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, spec),
        };
        let (addr, name) = match rest.split_once('=') {
            Some((a, n)) => (a, Some(n)),
            None => (rest, None),
        };
        if let Some(u) = user
            && (u.is_empty()
                || !u
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b",:".contains(&b)))
        {
            return Err(bad(
                "the user name is empty or has spaces, commas or colons",
            ));
        }
        if let Some(n) = name
            && (n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b",:@/".contains(&b)))
        {
            return Err(bad(
                "the host name is empty or has characters a host name cannot have",
            ));
        }
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        if addr.contains('%') {
            return Err(bad("scoped IPv6 addresses (with %) are not supported"));
        }
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        Ok(Client {
            addr: libwrap_text(ip, flavor),
            name: name.map(str::to_string),
            user: user.map(str::to_string),
        })
    }
}

/// The address as the daemon's libwrap prints it. Red Hat 7 converts IPv4-mapped peers to
/// plain IPv4 before libwrap sees them (docs/semantics.md §8).
pub fn libwrap_text(ip: IpAddr, flavor: Flavor) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) if flavor == Flavor::Rhel7 => v4.to_string(),
            Some(v4) => format!("::ffff:{v4}"),
            None => inet_ntop6(v6),
        },
    }
}

/// glibc's inet_ntop also prints the old IPv4-compatible form `::a.b.c.d` with a dotted tail.
fn inet_ntop6(v6: Ipv6Addr) -> String {
    let s = v6.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let o = v6.octets();
        return format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
    }
    v6.to_string()
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.addr)?;
        if let Some(n) = &self.name {
            write!(f, "={n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const D: Flavor = Flavor::Debian;

    #[test]
    fn specs_are_split_and_normalised() {
        let c = Client::parse("root@2001:DB8:0::1=Admin.example.com", D).unwrap();
        assert_eq!(c.addr, "2001:db8::1");
        assert_eq!(c.user.as_deref(), Some("root"));
        assert_eq!(c.name.as_deref(), Some("Admin.example.com"));
        assert_eq!(
            Client::parse("::FFFF:10.0.0.1", D).unwrap().addr,
            "::ffff:10.0.0.1"
        );
        assert_eq!(
            Client::parse("::ffff:10.0.0.1", Flavor::Rhel7)
                .unwrap()
                .addr,
            "10.0.0.1"
        );
        assert_eq!(Client::parse("[::1]", D).unwrap().addr, "::1");
        assert_eq!(Client::parse("::10.0.0.1", D).unwrap().addr, "::10.0.0.1");
        assert_eq!(
            Client::parse("10.0.0.1=unknown", D)
                .unwrap()
                .name
                .as_deref(),
            Some("unknown")
        );
    }

    #[test]
    fn bad_specs_name_the_value() {
        for bad in [
            "10.0.0.300",
            "",
            "host.example.com",
            "@10.0.0.1",
            "10.0.0.1=",
            "fe80::1%eth0",
        ] {
            let e = Client::parse(bad, D).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }
}
