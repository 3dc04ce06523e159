//! Preparing a `reconfig` request (ZooKeeper's dynamic reconfiguration): the
//! checks ZooKeeper's leader makes, in its order, and the transaction that
//! installs the next configuration in `/zookeeper/config`.
//!
//! The transaction is a setData of `/zookeeper/config` (data version -1, as
//! ZooKeeper writes it) whose text lists the next configuration's servers
//! and `version=<hex zxid of the reconfig>`. Every member that applies it
//! switches its voter set; see [`crate::zab::Member::adopt_config`].

use super::txn::TxnBody;
use crate::tree::AuthInfo;
use crate::zab::MemberId;
use zk_client::ensemble_config::{EnsembleConfig, ServerRole, ServerSpec};
use zk_client::proto::{ErrorCode, ReconfigRequest};

/// What a reconfig is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ReconfigContext<'a> {
    /// `reconfigEnabled`.
    pub enabled: bool,
    /// A standalone server (ZooKeeper answers Unimplemented).
    pub standalone: bool,
    /// The current text of `/zookeeper/config` (committed, or prepared and
    /// outstanding).
    pub current: &'a [u8],
    /// Whether a reconfig is prepared and not yet applied.
    pub in_progress: bool,
    /// Members synced with this leader (itself included): a quorum of the
    /// next voters must be among them.
    pub synced: &'a [MemberId],
}

/// Checks `req` and builds the next configuration's text for the reconfig
/// with zxid `zxid`. The checks run in real ZooKeeper's order (3.8 and 3.9
/// checked): disabled, standalone, in progress, version, arguments, quorum
/// of the next voters, and only then the permission — a client without it
/// learns of a bad version or bad arguments first.
pub fn prepare(
    ctx: ReconfigContext<'_>,
    auth: &AuthInfo,
    req: &ReconfigRequest,
    zxid: i64,
) -> Result<TxnBody, ErrorCode> {
    if !ctx.enabled {
        return Err(ErrorCode::ReconfigDisabled);
    }
    if ctx.standalone {
        return Err(ErrorCode::Unimplemented);
    }
    if ctx.in_progress {
        return Err(ErrorCode::ReconfigInProgress);
    }
    let current = std::str::from_utf8(ctx.current)
        .ok()
        .and_then(|t| EnsembleConfig::parse(t).ok())
        .ok_or(ErrorCode::BadArguments)?;
    if req.cur_config_id != -1 && req.cur_config_id != current.version {
        return Err(ErrorCode::BadVersion);
    }
    let mut next = match &req.new_members {
        Some(members) => EnsembleConfig {
            servers: parse_specs(members)?,
            version: 0,
        },
        None => incremental(&current, req)?,
    };
    let voters = voters(&next);
    if voters.is_empty() {
        return Err(ErrorCode::BadArguments);
    }
    let synced = voters.iter().filter(|v| ctx.synced.contains(v)).count();
    if synced <= voters.len() / 2 {
        return Err(ErrorCode::NewConfigNoQuorum);
    }
    // /zookeeper/config is read-only to the world: only the superuser passes
    // ZooKeeper's WRITE check on it, unless the server skips ACL checks.
    if !auth.is_super() && !auth.skip_acl {
        return Err(ErrorCode::NoAuth);
    }
    next.servers.sort_by_key(|s| s.id);
    next.version = zxid;
    Ok(TxnBody::SetData {
        path: crate::tree::data_tree::CONFIG.to_string(),
        data: Some(next.to_string().into()),
        version: -1,
    })
}

/// The current configuration with `leaving_servers` removed and
/// `joining_servers` added (or replaced, for an id already there).
fn incremental(
    current: &EnsembleConfig,
    req: &ReconfigRequest,
) -> Result<EnsembleConfig, ErrorCode> {
    let mut servers = current.servers.clone();
    for id in list(req.leaving_servers.as_deref()) {
        let id: u64 = id.parse().map_err(|_| ErrorCode::BadArguments)?;
        servers.retain(|s| s.id != id);
    }
    if let Some(joining) = &req.joining_servers {
        for spec in parse_specs(joining)? {
            servers.retain(|s| s.id != spec.id);
            servers.push(spec);
        }
    }
    Ok(EnsembleConfig {
        servers,
        version: 0,
    })
}

/// Comma- (or newline-) separated items, trimmed, empty ones dropped.
fn list(s: Option<&str>) -> impl Iterator<Item = &str> {
    s.unwrap_or("")
        .split([',', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

/// `server.N=host:port:port[:role][;client]` specs; a duplicate id or a
/// malformed spec is BadArguments.
fn parse_specs(s: &str) -> Result<Vec<ServerSpec>, ErrorCode> {
    let mut specs: Vec<ServerSpec> = Vec::new();
    for item in list(Some(s)) {
        let (key, value) = item.split_once('=').ok_or(ErrorCode::BadArguments)?;
        let id: u64 = key
            .trim()
            .strip_prefix("server.")
            .and_then(|n| n.parse().ok())
            .ok_or(ErrorCode::BadArguments)?;
        let spec = ServerSpec::parse(id, value.trim()).map_err(|_| ErrorCode::BadArguments)?;
        if specs.iter().any(|s| s.id == id) {
            return Err(ErrorCode::BadArguments);
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// The participants' ids.
pub fn voters(c: &EnsembleConfig) -> Vec<MemberId> {
    ids(c, ServerRole::Participant)
}

/// The observers' ids.
pub fn observers(c: &EnsembleConfig) -> Vec<MemberId> {
    ids(c, ServerRole::Observer)
}

fn ids(c: &EnsembleConfig, role: ServerRole) -> Vec<MemberId> {
    let mut ids: Vec<MemberId> = c
        .servers
        .iter()
        .filter(|s| s.role == role)
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::AuthInfo;

    const CURRENT: &str = "server.1=127.0.0.1:0:0:participant;127.0.0.1:2181\n\
                           server.2=127.0.0.1:0:0:participant;127.0.0.1:2182\n\
                           server.3=127.0.0.1:0:0:participant;127.0.0.1:2183\n\
                           version=0";

    fn ctx(synced: &[MemberId]) -> ReconfigContext<'_> {
        ReconfigContext {
            enabled: true,
            standalone: false,
            current: CURRENT.as_bytes(),
            in_progress: false,
            synced,
        }
    }

    fn superuser() -> AuthInfo {
        AuthInfo {
            ids: vec![zk_client::proto::Id {
                scheme: "super".into(),
                id: "super".into(),
            }],
            skip_acl: false,
        }
    }

    fn req(joining: Option<&str>, leaving: Option<&str>, version: i64) -> ReconfigRequest {
        ReconfigRequest {
            joining_servers: joining.map(Into::into),
            leaving_servers: leaving.map(Into::into),
            new_members: None,
            cur_config_id: version,
        }
    }

    fn text(body: TxnBody) -> String {
        match body {
            TxnBody::SetData {
                data: Some(d),
                version: -1,
                ..
            } => String::from_utf8(d.to_vec()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn adds_and_removes_with_the_reconfig_zxid_as_version() {
        let add = "server.4=127.0.0.1:0:0:participant;127.0.0.1:2184";
        let body = prepare(
            ctx(&[1, 2, 3, 4]),
            &superuser(),
            &req(Some(add), Some("2"), 0),
            0x1_0000_0005,
        )
        .unwrap();
        let next = EnsembleConfig::parse(&text(body)).unwrap();
        assert_eq!(voters(&next), vec![1, 3, 4]);
        assert_eq!(next.version, 0x1_0000_0005);
    }

    #[test]
    fn a_server_skipping_acl_checks_lets_anyone_reconfigure() {
        let anyone = AuthInfo {
            skip_acl: true,
            ..AuthInfo::default()
        };
        let r = req(None, Some("3"), -1);
        assert!(prepare(ctx(&[1, 2, 3]), &anyone, &r, 9).is_ok());
        assert_eq!(
            prepare(ctx(&[1, 2, 3]), &AuthInfo::default(), &r, 9),
            Err(ErrorCode::NoAuth)
        );
    }

    #[test]
    fn refusals_in_zookeepers_order() {
        let r = req(None, Some("3"), -1);
        let off = ReconfigContext {
            enabled: false,
            ..ctx(&[1, 2, 3])
        };
        assert_eq!(
            prepare(off, &superuser(), &r, 9),
            Err(ErrorCode::ReconfigDisabled)
        );
        assert_eq!(
            prepare(ctx(&[1, 2, 3]), &AuthInfo::default(), &r, 9),
            Err(ErrorCode::NoAuth)
        );
        let busy = ReconfigContext {
            in_progress: true,
            ..ctx(&[1, 2, 3])
        };
        assert_eq!(
            prepare(busy, &superuser(), &r, 9),
            Err(ErrorCode::ReconfigInProgress)
        );
        let stale = req(None, Some("3"), 7);
        assert_eq!(
            prepare(ctx(&[1, 2, 3]), &superuser(), &stale, 9),
            Err(ErrorCode::BadVersion)
        );
        let bad = req(Some("server.x=nonsense"), None, -1);
        assert_eq!(
            prepare(ctx(&[1, 2, 3]), &superuser(), &bad, 9),
            Err(ErrorCode::BadArguments)
        );
        let all = req(None, Some("1,2,3"), -1);
        assert_eq!(
            prepare(ctx(&[1, 2, 3]), &superuser(), &all, 9),
            Err(ErrorCode::BadArguments)
        );
        // Member 4 is not connected: {1,4,5} has no synced quorum.
        let swap = req(Some("server.4=h:0:0;1,server.5=h:0:0;2"), Some("2,3"), -1);
        assert_eq!(
            prepare(ctx(&[1, 2, 3]), &superuser(), &swap, 9),
            Err(ErrorCode::NewConfigNoQuorum)
        );
    }

    /// What real ZooKeeper (3.8.0 and 3.9.3) answered a client without the
    /// permission: every other refusal comes first, the permission last;
    /// a standalone server answers Unimplemented whoever asks.
    #[test]
    fn the_permission_is_checked_last() {
        let anyone = AuthInfo::default();
        let cases = [
            (req(None, Some("3"), 7), ErrorCode::BadVersion),
            (
                req(Some("server.9=nonsense"), None, 7),
                ErrorCode::BadVersion,
            ),
            (req(None, Some("1,2,3"), -1), ErrorCode::BadArguments),
            (
                req(Some("server.9=nonsense"), None, -1),
                ErrorCode::BadArguments,
            ),
            (
                req(Some("server.9=h:1:2:participant;h:3"), Some("1,2,3"), -1),
                ErrorCode::NewConfigNoQuorum,
            ),
            (req(None, Some("3"), -1), ErrorCode::NoAuth),
        ];
        for (r, code) in cases {
            assert_eq!(prepare(ctx(&[1, 2, 3]), &anyone, &r, 9), Err(code), "{r:?}");
        }
        let standalone = ReconfigContext {
            standalone: true,
            ..ctx(&[1])
        };
        for auth in [anyone, superuser()] {
            assert_eq!(
                prepare(standalone, &auth, &req(None, Some("3"), 5), 9),
                Err(ErrorCode::Unimplemented)
            );
        }
    }
}
