//! The ensemble's dynamic configuration, as ZooKeeper keeps it in
//! `/zookeeper/config`: one `server.<id>=...` line per member and a
//! `version=<hex>` line.
//!
//! ```
//! use zk_client::ensemble_config::{EnsembleConfig, ServerRole};
//!
//! let text = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
//!             server.2=10.0.0.2:2888:3888:observer;10.0.0.2:2181\n\
//!             version=100000000";
//! let config = EnsembleConfig::parse(text).unwrap();
//! assert_eq!(config.version, 0x1_0000_0000);
//! assert_eq!(config.servers[1].role, ServerRole::Observer);
//! // Wildcard client addresses are reached through the server's host.
//! assert_eq!(config.connect_string(), "10.0.0.1:2181,10.0.0.2:2181");
//! ```

use crate::error::{Error, Result};
use std::fmt;

/// Whether a member votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerRole {
    /// A voting member (the default when a line names no role).
    Participant,
    /// A non-voting member that serves clients.
    Observer,
}

impl ServerRole {
    fn as_str(self) -> &'static str {
        match self {
            ServerRole::Participant => "participant",
            ServerRole::Observer => "observer",
        }
    }
}

/// One `server.<id>=<host>:<quorum port>:<election port>[:<role>][;[<client host>:]<client port>]` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    /// The member id (`myid`).
    pub id: u64,
    /// The host of its quorum and election ports.
    pub host: String,
    /// The port followers connect to the leader on.
    pub quorum_port: u16,
    /// The leader-election port.
    pub election_port: u16,
    /// Participant or observer.
    pub role: ServerRole,
    /// Where it serves clients (host, port), if the line says.
    pub client: Option<(String, u16)>,
}

impl ServerSpec {
    /// Parses the part after `server.<id>=`.
    pub fn parse(id: u64, spec: &str) -> Result<ServerSpec> {
        let bad = || Error::invalid_argument(format!("bad server line server.{id}={spec}"));
        let (quorum, client) = match spec.split_once(';') {
            Some((q, c)) => (q.trim(), Some(c.trim())),
            None => (spec.trim(), None),
        };
        let (host, rest) = split_host(quorum).ok_or_else(bad)?;
        let mut parts = rest.split(':');
        let quorum_port = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let election_port = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let role = match parts.next() {
            None | Some("participant") => ServerRole::Participant,
            Some("observer") => ServerRole::Observer,
            Some(_) => return Err(bad()),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        let client = match client {
            None | Some("") => None,
            Some(c) => Some(match c.parse::<u16>() {
                Ok(port) => ("0.0.0.0".to_string(), port),
                Err(_) => {
                    let (h, p) = split_host(c).ok_or_else(bad)?;
                    (h, p.parse().map_err(|_| bad())?)
                }
            }),
        };
        Ok(ServerSpec {
            id,
            host,
            quorum_port,
            election_port,
            role,
            client,
        })
    }

    /// Where a client reaches this member: its client address, with a
    /// wildcard host (`0.0.0.0`, `::`) replaced by the server's host, as
    /// Curator's EnsembleTracker does. None without a client port.
    pub fn client_address(&self) -> Option<(String, u16)> {
        let (host, port) = self.client.as_ref()?;
        let host = match host.as_str() {
            "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0" => self.host.clone(),
            h => h.to_string(),
        };
        Some((host, *port))
    }
}

/// `host:rest` with `[v6]:rest` allowed; returns (host, rest).
fn split_host(s: &str) -> Option<(String, &str)> {
    if let Some(r) = s.strip_prefix('[') {
        let end = r.find(']')?;
        let rest = r[end + 1..].strip_prefix(':')?;
        return Some((r[..end].to_string(), rest));
    }
    let (h, rest) = s.split_once(':')?;
    (!h.is_empty()).then(|| (h.to_string(), rest))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Display for ServerSpec {
    /// The line as ZooKeeper writes it: `server.1=h:2888:3888:participant;h:2181`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server.{}={}:{}:{}",
            self.id,
            host_port(&self.host, self.quorum_port),
            self.election_port,
            self.role.as_str()
        )?;
        if let Some((h, p)) = &self.client {
            write!(f, ";{}", host_port(h, *p))?;
        }
        Ok(())
    }
}

/// A parsed `/zookeeper/config`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnsembleConfig {
    /// The members, in the order listed.
    pub servers: Vec<ServerSpec>,
    /// The configuration's version: the zxid of the transaction that made
    /// it (the `version=` line, hexadecimal); 0 if absent.
    pub version: i64,
}

impl EnsembleConfig {
    /// Parses the node's text. Lines other than `server.N=` and `version=`
    /// (e.g. `group.`, `weight.`) are ignored.
    pub fn parse(text: &str) -> Result<EnsembleConfig> {
        let mut config = EnsembleConfig::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((key, value)) = line.split_once('=') else {
                return Err(Error::invalid_argument(format!("bad config line {line:?}")));
            };
            if let Some(id) = key.strip_prefix("server.") {
                let id = id.parse().map_err(|_| {
                    Error::invalid_argument(format!("bad server id in config line {line:?}"))
                })?;
                config.servers.push(ServerSpec::parse(id, value)?);
            } else if key == "version" {
                config.version = i64::from_str_radix(value, 16).map_err(|_| {
                    Error::invalid_argument(format!("bad version in config line {line:?}"))
                })?;
            }
        }
        Ok(config)
    }

    /// Parses the node's bytes (UTF-8).
    pub fn from_bytes(data: &[u8]) -> Result<EnsembleConfig> {
        let text = std::str::from_utf8(data)
            .map_err(|_| Error::invalid_argument("/zookeeper/config is not UTF-8"))?;
        EnsembleConfig::parse(text)
    }

    /// The client addresses of every member (participants and observers),
    /// in the order listed, as `(host, port)`.
    pub fn client_hosts(&self) -> Vec<(String, u16)> {
        self.servers
            .iter()
            .filter_map(ServerSpec::client_address)
            .collect()
    }

    /// The connect string of [`EnsembleConfig::client_hosts`] (no chroot).
    pub fn connect_string(&self) -> String {
        self.client_hosts()
            .iter()
            .map(|(h, p)| host_port(h, *p))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The member with this id.
    pub fn server(&self, id: u64) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.id == id)
    }
}

impl fmt::Display for EnsembleConfig {
    /// The text as ZooKeeper writes it: server lines, then `version=<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.servers {
            writeln!(f, "{s}")?;
        }
        write!(f, "version={:x}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_zookeeper_3_9_writes() {
        // /zookeeper/config of a real 3.9.3 ensemble (reconfigEnabled).
        let text = "server.1=127.0.0.1:28381:28481:participant;127.0.0.1:28281\n\
                    server.2=127.0.0.1:28382:28482:participant;127.0.0.1:28282\n\
                    server.3=127.0.0.1:28383:28483:participant;127.0.0.1:28283\n\
                    version=100000000";
        let c = EnsembleConfig::parse(text).unwrap();
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.version, 0x1_0000_0000);
        assert_eq!(
            c.connect_string(),
            "127.0.0.1:28281,127.0.0.1:28282,127.0.0.1:28283"
        );
        assert_eq!(c.to_string(), text);
        assert_eq!(c.server(2).unwrap().quorum_port, 28382);
    }

    #[test]
    fn optional_parts_and_errors() {
        let s = ServerSpec::parse(4, "h:1:2").unwrap();
        assert_eq!((s.role, s.client), (ServerRole::Participant, None));
        let s = ServerSpec::parse(5, "[::1]:1:2:observer;2181").unwrap();
        assert_eq!(s.client_address(), Some(("::1".into(), 2181)));
        assert_eq!(s.to_string(), "server.5=[::1]:1:2:observer;0.0.0.0:2181");
        for bad in ["h:1", "h:x:2", "h:1:2:voter", "h:1:2;h:x", ":1:2"] {
            assert!(ServerSpec::parse(1, bad).is_err(), "{bad}");
        }
        assert!(EnsembleConfig::parse("server.x=h:1:2").is_err());
        assert!(EnsembleConfig::parse("version=zz").is_err());
        assert_eq!(
            EnsembleConfig::parse("group.1=1:2\nweight.1=1").unwrap(),
            EnsembleConfig::default()
        );
    }
}
