//! Connect strings: `host:port,host:port/chroot`.

use crate::error::{Error, Result};
use crate::proto::path::validate_path;

/// Default client port when a host has none.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// Hosts as `(name, port)`, in the order given.
    pub hosts: Vec<(String, u16)>,
    /// The chroot, if one was given (never `"/"`).
    pub chroot: Option<String>,
}

impl ConnectString {
    /// Parses `host[:port][,host[:port]...][/chroot]`. IPv6 hosts go in
    /// brackets: `[::1]:2181`.
    pub fn parse(s: &str) -> Result<ConnectString> {
        let s = s.trim();
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) => {
                validate_path(c).map_err(|e| {
                    Error::invalid_argument(format!("bad chroot in connect string: {e}"))
                })?;
                Some(c.to_string())
            }
        };
        let mut hosts = Vec::new();
        for part in hosts_part
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            hosts.push(parse_host(part)?);
        }
        if hosts.is_empty() {
            return Err(Error::invalid_argument(format!(
                "connect string {s:?} names no host"
            )));
        }
        Ok(ConnectString { hosts, chroot })
    }
}

fn parse_host(part: &str) -> Result<(String, u16)> {
    let bad = || Error::invalid_argument(format!("bad host {part:?} in connect string"));
    let (host, port) = if let Some(rest) = part.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(bad)?;
        let host = &rest[..end];
        match &rest[end + 1..] {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match part.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(bad()),
            None => (part, None),
        }
    };
    let bracketed = part.starts_with('[');
    check_host(host, bracketed).map_err(|why| {
        Error::invalid_argument(format!("bad host {part:?} in connect string: {why}"))
    })?;
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(Error::invalid_argument(format!(
                    "bad host {part:?} in connect string: the port must be a number in 1..=65535"
                )))
            }
            Ok(port) => port,
        },
    };
    Ok((host.to_string(), port))
}

/// Checks a host name or address up front, so a typo fails at once instead
/// of after the connect timeout. Bracketed hosts must be IPv6 addresses
/// (with an optional `%zone`); others are IPv4 addresses or DNS names
/// (labels of letters, digits, `-` and `_`, joined by dots).
fn check_host(host: &str, bracketed: bool) -> std::result::Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if bracketed {
        let addr = host.split_once('%').map_or(host, |(a, _)| a);
        return addr
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "brackets must hold an IPv6 address".into());
    }
    if host.len() > 253 {
        return Err("a host name has at most 253 characters".into());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each dot-separated part of a host name has 1 to 63 characters".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{c:?} cannot appear in a host name (letters, digits, '-', '_' and '.'; \
                 IPv6 addresses go in brackets: [::1]:2181)"
            ));
        }
    }
    Ok(())
}

/// Maps paths between the client's view and the server's under a chroot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chroot(Option<String>);

impl Chroot {
    /// A chroot at `prefix` (`None` for none).
    pub fn new(prefix: Option<String>) -> Chroot {
        Chroot(prefix)
    }

    /// The prefix, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The server path for a client path.
    pub fn to_server(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) if path == "/" => root.clone(),
            Some(root) => format!("{root}{path}"),
        }
    }

    /// The client path for a server path; paths outside the chroot are
    /// returned unchanged.
    pub fn to_client(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) => match path.strip_prefix(root.as_str()) {
                Some("") => "/".to_string(),
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => path.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_chroot() {
        let c = ConnectString::parse("a:1,b,[::1]:3/app/x").unwrap();
        assert_eq!(
            c.hosts,
            vec![
                ("a".to_string(), 1),
                ("b".to_string(), 2181),
                ("::1".to_string(), 3)
            ]
        );
        assert_eq!(c.chroot.as_deref(), Some("/app/x"));
        assert_eq!(ConnectString::parse("h:1/").unwrap().chroot, None);
        for bad in ["", "/a", "h:x", "h:1/a/", "[::1", "h:99999", "a::1:2"] {
            assert!(ConnectString::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_strings_are_checked_up_front() {
        for good in [
            "localhost",
            "zk-1.example.com:2181",
            "10.0.0.1:2181",
            "my_host.internal.:1",
            "[fe80::1%eth0]:2181",
            "[::1]",
        ] {
            assert!(ConnectString::parse(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("not a host string", "' ' cannot appear in a host name"),
            ("zk1:2181,zk 2:2181", "' ' cannot appear"),
            ("a..b:1", "1 to 63 characters"),
            ("[nothost]:1", "IPv6"),
            ("h:0", "1..=65535"),
            ("h\u{e9}:1", "cannot appear"),
        ] {
            let err = ConnectString::parse(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
            let text = err.to_string();
            assert!(
                text.contains(says) && text.contains("bad host"),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn chroot_maps_both_ways() {
        let c = Chroot::new(Some("/app".into()));
        assert_eq!(c.to_server("/"), "/app");
        assert_eq!(c.to_server("/x"), "/app/x");
        assert_eq!(c.to_client("/app"), "/");
        assert_eq!(c.to_client("/app/x"), "/x");
        assert_eq!(c.to_client("/apple"), "/apple");
        let none = Chroot::default();
        assert_eq!(none.to_server("/x"), "/x");
        assert_eq!(none.to_client("/x"), "/x");
    }
}
