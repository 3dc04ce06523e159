//! Observing the members and waiting for them: every member task publishes
//! a report after each batch of work, and the waits below wake on those
//! reports instead of polling or sleeping.

use super::{Ensemble, Error, MemberStatus, Result, SyncCounts};
use crate::net::core::Report;
use crate::zab::{MemberId, Role};

/// The serving leader in `reports`: a member leading and serving (the one in
/// the highest epoch, if a deposed leader has not noticed yet).
fn leader_of(reports: &[Option<Report>]) -> Option<(MemberId, Report)> {
    reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i as u64 + 1, r)))
        .filter(|(_, r)| r.status.role == Role::Leading && r.status.serving)
        .max_by_key(|(_, r)| r.status.epoch)
}

/// Members serving under `leader` in its epoch (the leader included).
fn following(reports: &[Option<Report>], leader: MemberId, epoch: u32) -> usize {
    reports
        .iter()
        .flatten()
        .filter(|r| r.status.serving && r.status.leader == Some(leader) && r.status.epoch == epoch)
        .count()
}

/// Every running member serves under one leader, nothing is outstanding,
/// and all applied the same zxid.
fn quiescent(reports: &[Option<Report>]) -> bool {
    let Some((leader, lr)) = leader_of(reports) else {
        return false;
    };
    let running: Vec<&Report> = reports.iter().flatten().collect();
    lr.last_logged_zxid == lr.last_committed_zxid
        && lr.last_zxid == lr.last_committed_zxid
        && running.iter().all(|r| {
            r.status.serving
                && r.status.leader == Some(leader)
                && r.status.epoch == lr.status.epoch
                && r.last_zxid == lr.last_zxid
        })
}

fn status_of(member: MemberId, report: Option<Report>) -> MemberStatus {
    match report {
        Some(r) => MemberStatus {
            id: member,
            running: true,
            role: r.status.role,
            leader: r.status.leader,
            epoch: r.status.epoch,
            serving: r.status.serving,
            last_zxid: r.last_zxid,
            last_logged_zxid: r.last_logged_zxid,
            last_committed_zxid: r.last_committed_zxid,
            syncs: r.syncs,
            failpoint_hits: r.failpoint_hits,
            read_only: r.read_only,
        },
        None => MemberStatus {
            id: member,
            running: false,
            role: Role::Looking,
            leader: None,
            epoch: 0,
            serving: false,
            last_zxid: 0,
            last_logged_zxid: 0,
            last_committed_zxid: 0,
            syncs: SyncCounts::default(),
            failpoint_hits: 0,
            read_only: false,
        },
    }
}

impl Ensemble {
    /// The serving leader, as last reported (None during an election).
    pub fn leader(&self) -> Option<MemberId> {
        leader_of(&self.reports.borrow()).map(|(id, _)| id)
    }

    /// `member`'s last report.
    pub fn status(&self, member: MemberId) -> Result<MemberStatus> {
        let i = self.index(member)?;
        let report = self.reports.borrow()[i];
        Ok(status_of(member, report))
    }

    /// Waits until the members' statuses (member 1 first) satisfy `pred`;
    /// `what` names the condition in the timeout error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits on the members' reports.
    pub async fn wait_for_status(
        &self,
        what: &'static str,
        pred: impl Fn(&[MemberStatus]) -> bool,
    ) -> Result<()> {
        self.wait_for(what, |v| {
            let all: Vec<MemberStatus> = v
                .iter()
                .enumerate()
                .map(|(i, r)| status_of(i as u64 + 1, *r))
                .collect();
            pred(&all)
        })
        .await
    }

    /// Waits until the reports satisfy `pred`.
    async fn wait_for(
        &self,
        what: &'static str,
        mut pred: impl FnMut(&[Option<Report>]) -> bool,
    ) -> Result<()> {
        let mut rx = self.reports.subscribe();
        let done = tokio::time::timeout(self.config.wait_timeout, async {
            // The sender lives as long as `self`, so this cannot fail.
            rx.wait_for(|v| pred(v)).await.is_ok()
        })
        .await;
        match done {
            Ok(true) => Ok(()),
            _ => Err(Error::Timeout(what)),
        }
    }

    /// Waits until some member leads and serves; returns it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits on the members' reports.
    pub async fn wait_for_leader(&self) -> Result<MemberId> {
        self.wait_for("a leader", |v| leader_of(v).is_some())
            .await?;
        self.leader().ok_or(Error::NoLeader)
    }

    /// Waits until a leader serves with a quorum of members synced with it
    /// (so writes can commit); returns the leader.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits on the members' reports.
    pub async fn wait_for_quorum(&self) -> Result<MemberId> {
        // Voters only: observers (ids after the voters') never count.
        let voters = self.config.members;
        let quorum = voters / 2 + 1;
        self.wait_for("a quorum", |v| {
            leader_of(v).is_some_and(|(id, r)| {
                following(&v[..voters.min(v.len())], id, r.status.epoch) >= quorum
            })
        })
        .await?;
        self.leader().ok_or(Error::NoLeader)
    }

    /// Waits until `member` serves clients.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits on the members' reports.
    pub async fn wait_for_serving(&self, member: MemberId) -> Result<()> {
        let i = self.index(member)?;
        self.wait_for("the member to serve", |v| {
            v[i].is_some_and(|r| r.status.serving)
        })
        .await
    }

    /// Waits until every member serves under one leader.
    pub(super) async fn wait_all_serving(&self) -> Result<()> {
        self.wait_all_serving_but(&[]).await
    }

    /// Waits until every member but those at the indices `down` (which did
    /// not start) serves under one leader.
    pub(super) async fn wait_all_serving_but(&self, down: &[usize]) -> Result<()> {
        let up = self.slots.len() - down.len();
        self.wait_for("every member to serve", |v| {
            v.iter()
                .enumerate()
                .all(|(i, r)| down.contains(&i) || r.is_some_and(|r| r.status.serving))
                && leader_of(v).is_some_and(|(id, r)| following(v, id, r.status.epoch) == up)
        })
        .await
    }

    /// Waits until the ensemble is quiescent — every running member serves
    /// under one leader, nothing is outstanding, all applied the same zxid —
    /// and returns the common data digest; [`Error::Diverged`] if the
    /// members hold different data at the same zxid. Members partitioned
    /// away keep it waiting (heal first).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits on the members' reports and reads their
    /// state.
    pub async fn wait_until_converged(&self) -> Result<u64> {
        loop {
            self.wait_for("convergence", quiescent).await?;
            let mut digests = Vec::new();
            let mut zxids = Vec::new();
            for m in self.members() {
                match self.inspect(m).await {
                    Ok(i) => {
                        digests.push((m, i.digest));
                        zxids.push(i.last_zxid);
                    }
                    Err(Error::Stopped(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            let Some(&zxid) = zxids.first() else {
                return Err(Error::NoLeader);
            };
            if zxids.iter().any(|z| *z != zxid) {
                // A write landed between the report and the inspection.
                continue;
            }
            let first = digests[0].1;
            if digests.iter().all(|(_, d)| *d == first) {
                return Ok(first);
            }
            return Err(Error::Diverged { zxid, digests });
        }
    }
}
