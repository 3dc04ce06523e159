//! Inside the member machine: moving work between the server and
//! replication until both are quiet, and acting on what replication reports
//! (commits, role changes, sync barriers, messages from followers).

use super::forwarding::{Outbound, Verdict};
use super::{AppMessage, Effect, MemberMachine, Status};
use crate::server::{Mode, Submission};
use crate::storage::{Snapshot, SnapshotData};
use crate::zab::{self, MemberId, Role, ZabMessage};
use bytes::Bytes;
use rand::RngExt;
use std::time::Instant;

impl MemberMachine {
    /// Moves work between server and replication until both are quiet.
    pub(super) fn pump(&mut self, now: Instant) {
        loop {
            if self.crashed {
                return;
            }
            let mut busy = false;
            self.report_synced();
            while let Some(sub) = self.server.poll_submission() {
                busy = true;
                self.submit(now, sub);
            }
            while let Some(out) = self.repl.poll_output() {
                busy = true;
                self.carry_out(now, out);
            }
            if !busy {
                return;
            }
        }
    }

    fn submit(&mut self, now: Instant, sub: Submission) {
        let ok = match sub {
            Submission::Propose(entry) => match self.server.take_proposed_config(entry.zxid) {
                Some(text) => self.propose_reconfig(now, entry, &text),
                None => self.repl.propose(now, entry),
            },
            Submission::Sync(token) => self.repl.sync(now, token),
            Submission::Forward(write) => match self.outbound.as_mut() {
                Some(ob) => {
                    let msg = AppMessage::Forward {
                        epoch: ob.epoch,
                        stream: ob.stream,
                        seq: ob.next(),
                        write,
                    };
                    self.repl.send_to_leader(msg.encode())
                }
                None => false,
            },
        };
        if !ok {
            // Replication refused: this member no longer leads or follows a
            // serving leader (its role change is on the way). Stop at once,
            // so no request is left waiting for an answer that cannot come.
            tracing::debug!(id = self.id, "replication refused work; stop serving");
            self.server.stop_serving();
        }
    }

    fn carry_out(&mut self, now: Instant, out: zab::Output) {
        if self.crashed || self.failpoint_output(now, &out) {
            return;
        }
        let time = self.base.time(now);
        match out {
            zab::Output::Send { to, msg } => self.effects.push_back(Effect::Send { to, msg }),
            zab::Output::SendSnapshot { to, zxid } => {
                if self.server.last_zxid() != zxid {
                    tracing::error!(
                        zxid = format_args!("{zxid:#x}"),
                        applied = format_args!("{:#x}", self.server.last_zxid()),
                        "snapshot requested at a zxid the tree is not at"
                    );
                }
                let data = self.server.snapshot();
                let msg = ZabMessage::Snap { zxid, data };
                self.failpoint_snap_sent(now, Effect::Send { to, msg });
            }
            zab::Output::Append(entries) => self.effects.push_back(Effect::Append(entries)),
            zab::Output::Truncate(zxid) => self.effects.push_back(Effect::Truncate(zxid)),
            zab::Output::SaveEpochs(e) => self.effects.push_back(Effect::SaveEpochs(e)),
            zab::Output::InstallSnapshot(snapshot) => {
                match snapshot.data.to_database() {
                    Ok(db) => {
                        // Storage keeps an image of the decoded tree rather
                        // than the encoding: it shares the nodes.
                        let snapshot = Snapshot {
                            zxid: snapshot.zxid,
                            data: SnapshotData::image_of(&db),
                        };
                        self.server.install_snapshot(db, time);
                        self.since_snapshot = 0;
                        self.failpoint_snap_received(now, Effect::InstallSnapshot(snapshot));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "undecodable snapshot from the leader");
                        self.effects
                            .push_back(Effect::Halt(format!("undecodable snapshot: {e}")));
                    }
                }
            }
            zab::Output::Commit(entry) => {
                self.server.apply_committed(entry, time);
                if let Some(text) = self.server.take_applied_config() {
                    self.adopt_config(now, &text);
                }
                self.since_snapshot += 1;
                if self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every {
                    self.since_snapshot = 0;
                    self.effects.push_back(Effect::SaveSnapshot(Snapshot {
                        zxid: self.server.last_zxid(),
                        data: self.server.snapshot_image(),
                    }));
                }
            }
            zab::Output::RoleChanged {
                role,
                leader,
                epoch,
                serving,
            } => self.role_changed(now, role, leader, epoch, serving),
            zab::Output::SyncDone(token) => self.server.sync_done(token, time),
            zab::Output::Deliver { from, payload } => self.deliver(now, from, payload),
        }
    }

    fn role_changed(
        &mut self,
        now: Instant,
        role: Role,
        leader: Option<MemberId>,
        epoch: u32,
        serving: bool,
    ) {
        tracing::info!(id = self.id, ?role, ?leader, epoch, serving, "role");
        self.status = Status {
            role,
            leader,
            epoch,
            serving,
        };
        self.outbound = None;
        self.inbound.clear();
        self.leading_since = None;
        self.looking_since = (role == Role::Looking).then_some(now);
        let time = self.base.time(now);
        match (role, serving) {
            (Role::Leading, true) => {
                self.leading_since = Some(now);
                let base = self.repl.zxid_base(epoch);
                self.server.start_serving(Mode::Prepare, base, time);
            }
            (Role::Following, true) => {
                self.outbound = Some(Outbound::new(epoch, self.rng.random::<u64>()));
                self.server.start_serving(Mode::Forward, 0, time);
            }
            _ => self.server.stop_serving(),
        }
    }

    fn deliver(&mut self, now: Instant, from: MemberId, payload: Bytes) {
        let msg = match AppMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(from, error = %e, "undecodable app message ignored");
                return;
            }
        };
        let leading = self.status.role == Role::Leading && self.status.serving;
        let time = self.base.time(now);
        match msg {
            AppMessage::Forward {
                epoch,
                stream,
                seq,
                write,
            } => {
                if !leading || epoch != self.status.epoch {
                    tracing::debug!(from, epoch, "forward for another leadership dropped");
                    return;
                }
                match self.inbound.forward(from, stream, seq) {
                    Verdict::Accept => self.server.handle_forwarded(from, write, time),
                    Verdict::Gap => self.drop_learner(now, from, seq),
                    Verdict::Ignore => {}
                }
            }
            AppMessage::Touch {
                epoch,
                stream,
                last_seq,
                sessions,
            } => {
                if !leading || epoch != self.status.epoch {
                    return;
                }
                self.server.touch_sessions(&sessions, time);
                if self.inbound.touch(from, stream, last_seq) == Verdict::Gap {
                    self.drop_learner(now, from, last_seq);
                }
            }
        }
    }

    /// A forward from `from` was lost: drop it as a learner, so that it
    /// rejoins and fails what its clients had in flight.
    fn drop_learner(&mut self, now: Instant, from: MemberId, seq: u64) {
        tracing::warn!(from, seq, "forwarded write lost; dropping the follower");
        self.repl.peer_disconnected(now, from);
    }

    /// Follower: tells the leader which sessions were active, and how far the
    /// forwarding stream got.
    pub(super) fn report_touches(&mut self) {
        let Some(ob) = self.outbound else {
            return;
        };
        let msg = AppMessage::Touch {
            epoch: ob.epoch,
            stream: ob.stream,
            last_seq: ob.last_seq,
            sessions: self.server.take_touches(),
        };
        if !self.repl.send_to_leader(msg.encode()) {
            tracing::debug!(id = self.id, "touch report not sent: not following");
        }
    }
}
