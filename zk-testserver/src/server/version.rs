//! Which ZooKeeper release the server imitates where releases differ.

use std::fmt;
use std::str::FromStr;

/// The ZooKeeper release whose behaviour a server reproduces where 3.8 and
/// 3.9 differ (both proven by the differential test against the real
/// releases). Everything not listed here is the same in both.
///
/// | behaviour | 3.8 | 3.9 |
/// |---|---|---|
/// | `exists` on a node without READ for the caller | the Stat | `NoAuth` (-102) |
/// | notification's ReplyHeader zxid | -1 | the write's zxid |
/// | check/removeWatches type 4, 5 (persistent, recursive) | `MarshallingError` (-5) | supported |
/// | check/removeWatches data or children on a persistent watch | matches (removes that side) | `NoWatcher` (-121) |
///
/// Not modelled: 3.8 registers a recursive watch in its child table too, and
/// that registration outlives removing the watch's data side (3.8 then still
/// answers a children or any check with 0; here they find nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ZkVersion {
    /// Apache ZooKeeper 3.8 (proven against 3.8.0).
    V3_8,
    /// Apache ZooKeeper 3.9 (proven against 3.9.3); the default.
    #[default]
    V3_9,
}

impl ZkVersion {
    /// Every version the server can imitate, oldest first.
    pub const ALL: [ZkVersion; 2] = [ZkVersion::V3_8, ZkVersion::V3_9];

    /// Whether `exists` checks READ on the node it finds (3.9: yes).
    pub fn exists_checks_read(self) -> bool {
        self >= ZkVersion::V3_9
    }

    /// Whether watch notifications carry the zxid of the write that fired
    /// them (3.9) rather than -1 (3.8).
    pub fn notifications_carry_zxid(self) -> bool {
        self >= ZkVersion::V3_9
    }

    /// Whether checkWatches reads a null path as removeWatches does, as
    /// empty (3.9: it then answers NoWatcher), instead of failing with
    /// MarshallingError (3.8).
    pub fn check_watches_reads_null_path(self) -> bool {
        self >= ZkVersion::V3_9
    }

    /// Whether mntr's `zk_watch_count` counts a persistent recursive watch
    /// twice, in the data and the child watch managers (3.8), or once (3.9).
    pub fn counts_recursive_watches_twice(self) -> bool {
        self < ZkVersion::V3_9
    }

    /// Whether check/removeWatches address persistent watches by their own
    /// types 4 and 5, apart from data and child watches (3.9).
    pub fn separate_persistent_watch_kinds(self) -> bool {
        self >= ZkVersion::V3_9
    }
}

impl fmt::Display for ZkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ZkVersion::V3_8 => "3.8",
            ZkVersion::V3_9 => "3.9",
        })
    }
}

/// A version string other than `3.8` or `3.9` (a patch level is accepted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ZooKeeper version '{0}' (expected 3.8 or 3.9)")]
pub struct UnknownVersion(pub String);

impl FromStr for ZkVersion {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let minor = t
            .strip_prefix("3.8")
            .map(|rest| (ZkVersion::V3_8, rest))
            .or_else(|| t.strip_prefix("3.9").map(|rest| (ZkVersion::V3_9, rest)));
        match minor {
            Some((v, rest)) if rest.is_empty() || rest.starts_with('.') => Ok(v),
            _ => Err(UnknownVersion(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minor_and_patch_versions() {
        assert_eq!("3.8".parse(), Ok(ZkVersion::V3_8));
        assert_eq!("3.9.3".parse(), Ok(ZkVersion::V3_9));
        assert!("3.10".parse::<ZkVersion>().is_err());
        assert!("3.90".parse::<ZkVersion>().is_err());
        assert_eq!(ZkVersion::default(), ZkVersion::V3_9);
        assert_eq!(ZkVersion::V3_8.to_string(), "3.8");
    }
}
