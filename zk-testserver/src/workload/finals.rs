//! The state the workloads left, read once the ensemble is quiescent.

use super::outcome;
use super::{Plan, Session};
use crate::check::{Call, ProcessId, Recorder, Ret};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use zk_client::proto::Response;
use zk_client::Error;

/// What the workloads left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finals {
    /// Each register's (value, version), by checker key.
    pub registers: BTreeMap<String, (u64, i32)>,
    /// The ids under `/ids`.
    pub ids: BTreeSet<u64>,
    /// The queue entries left, as (sequence number, item).
    pub queue: Vec<(u64, u64)>,
}

/// Reads the final state through `session` (after a sync), recording a
/// final read of each register as process `process` at `at`.
pub async fn read_finals<S: Session>(
    session: &S,
    plan: &Plan,
    recorder: &Recorder,
    process: ProcessId,
    at: Duration,
) -> Result<Finals, Error> {
    let mut finals = Finals::default();
    session.call(outcome::sync("/")).await?;
    for (key, path) in plan.registers() {
        if let (zxid, Response::GetData(d)) = session.call(outcome::get_data(&path)).await? {
            let (value, version) = (outcome::number(&d.data), d.stat.version);
            finals.registers.insert(key.clone(), (value, version));
            let ret = Ret::Register { value, version };
            let call = Call::FinalRead { key };
            recorder.record(process, session.session_id(), call, at, ret, Some(zxid));
        }
    }
    if let (_, Response::GetChildren(c)) = session.call(outcome::get_children("/ids")).await? {
        finals.ids = c
            .children
            .iter()
            .filter_map(|n| outcome::sequence(n))
            .collect();
    }
    if let (_, Response::GetChildren(c)) = session.call(outcome::get_children("/queue")).await? {
        for name in c.children {
            let Some(seq) = outcome::sequence(&name) else {
                continue;
            };
            let path = format!("/queue/{name}");
            if let (_, Response::GetData(d)) = session.call(outcome::get_data(&path)).await? {
                finals.queue.push((seq, outcome::number(&d.data)));
            }
        }
    }
    finals.queue.sort_unstable();
    Ok(finals)
}
