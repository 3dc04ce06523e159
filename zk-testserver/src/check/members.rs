//! What every member holds once the ensemble is quiescent: equal data, and
//! ephemerals that belong to live sessions only.

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
pub use crate::member::MemberView;
use std::collections::BTreeMap;

const NAME: &str = "members";

/// Checks that every member applied the same transactions and holds the same
/// data, and the same session table.
pub fn check_digests(members: &[MemberView]) -> Result<(), Violation> {
    let Some(first) = members.first() else {
        return Ok(());
    };
    for m in members {
        if (m.last_zxid, m.digest) != (first.last_zxid, first.digest) {
            return Err(Violation::new(
                NAME,
                format!(
                    "member {} is at zxid {:#x} with digest {:#x}, member {} at {:#x} with {:#x}",
                    m.id, m.last_zxid, m.digest, first.id, first.last_zxid, first.digest
                ),
            ));
        }
        if m.sessions != first.sessions {
            return Err(Violation::new(
                NAME,
                format!(
                    "members {} and {} hold different session tables",
                    first.id, m.id
                ),
            ));
        }
    }
    Ok(())
}

/// The sessions a client closed (`Close -> Ok`), each with its close.
///
/// A close returning `Ok` does not say that the server ended the session:
/// `zk_client::Client::close`, like ZooKeeper's own clients, returns `Ok`
/// when no server was connected or the connection dropped before the reply,
/// and the session then ends at the server only when its timeout passes
/// (its ephemerals live until then). So [`check_ephemerals`] must be given
/// views taken once no member holds any of these sessions any more
/// ([`first_held`] says when).
pub fn closed_sessions(history: &History) -> BTreeMap<i64, &HistoryOp> {
    history
        .ops()
        .iter()
        .filter(|op| op.session != 0 && matches!((&op.call, &op.ret), (Call::Close, Ret::Ok)))
        .map(|op| (op.session, op))
        .collect()
}

/// The first member (and session) still holding one of `sessions`, if any.
pub fn first_held<'a>(
    sessions: impl IntoIterator<Item = &'a i64>,
    members: &[MemberView],
) -> Option<(u64, i64)> {
    sessions.into_iter().find_map(|s| {
        members
            .iter()
            .find(|m| m.sessions.contains(s))
            .map(|m| (m.id, *s))
    })
}

/// Checks ephemerals on every member: none outlives its session (its owner
/// is in the member's session table, and no session its client closed or
/// saw expire owns one), and no acknowledged ephemeral of a session still
/// alive is missing.
///
/// The views must be taken after every session of [`closed_sessions`] left
/// the members' session tables: until then a close the client could not
/// confirm may not have reached the server, and the session and its
/// ephemerals legitimately live on.
pub fn check_ephemerals(history: &History, members: &[MemberView]) -> Result<usize, Violation> {
    let mut ended = closed_sessions(history);
    let mut created: Vec<&HistoryOp> = Vec::new();
    for op in history.ops() {
        match (&op.call, &op.ret) {
            (Call::SessionLost, Ret::Ok) if op.session != 0 => {
                ended.insert(op.session, op);
            }
            (Call::CreateEphemeral { .. }, Ret::Ok) => created.push(op),
            _ => {}
        }
    }
    let mut count = 0;
    for m in members {
        for (path, owner) in &m.ephemerals {
            count += 1;
            if !m.sessions.contains(owner) {
                return Err(Violation::new(
                    NAME,
                    format!(
                        "member {}: ephemeral {path} outlives its session {owner:#x}",
                        m.id
                    ),
                ));
            }
            if let Some(op) = ended.get(owner) {
                return Err(Violation::new(
                    NAME,
                    format!(
                        "member {}: ephemeral {path} of session {owner:#x}, which ended",
                        m.id
                    ),
                )
                .with_ops([*op]));
            }
        }
        for op in &created {
            let Call::CreateEphemeral { path } = &op.call else {
                continue;
            };
            if m.sessions.contains(&op.session) && m.ephemerals.get(path) != Some(&op.session) {
                return Err(Violation::new(
                    NAME,
                    format!(
                        "member {}: acknowledged ephemeral {path} of live session {:#x} is \
                         missing",
                        m.id, op.session
                    ),
                )
                .with_ops([*op]));
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A member's view for checker tests (also used by `chaos::settle`'s).
    pub(crate) fn view(id: u64, sessions: &[i64], eph: &[(&str, i64)]) -> MemberView {
        MemberView {
            id,
            last_zxid: 0x105,
            digest: 7,
            sessions: sessions.iter().copied().collect(),
            ephemerals: eph.iter().map(|(p, o)| (p.to_string(), *o)).collect(),
        }
    }

    #[test]
    fn digests_and_session_tables_must_agree() {
        let a = view(1, &[5], &[]);
        assert!(check_digests(&[a.clone(), view(2, &[5], &[])]).is_ok());
        let mut b = view(2, &[5], &[]);
        b.digest = 8;
        assert!(check_digests(&[a.clone(), b]).is_err());
        assert!(check_digests(&[a, view(2, &[6], &[])]).is_err());
    }

    #[test]
    fn ephemerals_live_exactly_as_long_as_their_sessions() {
        let t = Duration::ZERO;
        let mut h = History::new();
        let path = |p: &str| Call::CreateEphemeral { path: p.into() };
        h.record(1, 5, path("/e/a"), t, Ret::Ok, Some(1));
        h.record(2, 6, path("/e/b"), t, Ret::Ok, Some(2));
        h.record(2, 6, Call::Close, t, Ret::Ok, Some(3));
        // A create whose reply was lost: may or may not exist.
        h.record(1, 5, path("/e/c"), t, Ret::Unknown, None);
        let good = view(1, &[5], &[("/e/a", 5)]);
        assert_eq!(check_ephemerals(&h, std::slice::from_ref(&good)), Ok(1));
        // Left behind by the closed session (ZOOKEEPER-2355's symptom).
        let stale = view(2, &[5, 6], &[("/e/a", 5), ("/e/b", 6)]);
        assert!(check_ephemerals(&h, &[good.clone(), stale]).is_err());
        // Owner not in the table.
        let orphan = view(3, &[5], &[("/e/a", 5), ("/e/x", 9)]);
        assert!(check_ephemerals(&h, &[orphan]).is_err());
        // Lost while the session lives.
        let lost = view(4, &[5], &[]);
        assert!(check_ephemerals(&h, &[lost]).is_err());
    }
}
