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
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p.parse().map_err(|_| bad())?,
    };
    Ok((host.to_string(), port))
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
