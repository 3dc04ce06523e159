//! The server's part in replication: starting and stopping to serve, session
//! ownership (the member that prepares writes expires sessions; followers
//! report activity to it), and sync barriers.

use super::{ConnId, Mode, Pending, Server, Time};
use crate::server::database::Database;
use crate::server::submit::Submission;

impl Server {
    /// Starts serving clients in `mode` ([`Mode::Prepare`] or
    /// [`Mode::Forward`]). `zxid_base` is the zxid after which this server
    /// hands out zxids when it prepares writes (a new leader's `(epoch, 0)`, or
    /// the last applied zxid for a standalone server); it is ignored when
    /// forwarding. Every session in the applied table starts a full timeout
    /// from `now`, as when ZooKeeper's session tracker is rebuilt.
    pub fn start_serving(&mut self, mode: Mode, zxid_base: i64, now: Time) {
        if mode == Mode::Down {
            self.stop_serving();
            return;
        }
        if self.mode == Mode::ReadOnly {
            // Leaving read-only mode: its connections and local sessions go.
            self.stop_serving();
        }
        tracing::debug!(server = self.config.server_id, ?mode, "serving");
        self.mode = mode;
        let base = match mode {
            Mode::Prepare => zxid_base.max(self.db.last_zxid),
            _ => self.db.last_zxid,
        };
        self.prep.reset(base);
        self.proposal_sizes = None;
        self.tracker.reset(&self.db.sessions, now.mono_ms);
        self.touched.clear();
        self.owners.clear();
        self.last_container_check = now.mono_ms;
    }

    /// Stops serving: every connection is closed (what it had in flight
    /// fails with it), outstanding preparations are forgotten, new handshakes
    /// are refused until [`Server::start_serving`].
    pub fn stop_serving(&mut self) {
        if self.mode != Mode::Down {
            tracing::debug!(server = self.config.server_id, "no longer serving");
        }
        self.mode = Mode::Down;
        self.drop_connections();
        self.syncs.clear();
        self.touched.clear();
        self.owners.clear();
        self.submissions.clear();
        self.prep.reset(self.db.last_zxid);
    }

    /// Replaces the applied state with a snapshot received from the leader
    /// (only while not serving: watches are not carried over).
    pub fn install_snapshot(&mut self, db: Database, now: Time) {
        self.db = db;
        self.prep.reset(self.db.last_zxid);
        self.tracker.reset(&self.db.sessions, now.mono_ms);
    }

    /// Timer tick. A server that prepares writes expires silent sessions and
    /// deletes empty containers and expired TTL nodes; others do nothing
    /// (the leader owns expiry).
    pub fn handle_tick(&mut self, now: Time) {
        if self.mode != Mode::Prepare {
            return;
        }
        for id in self.tracker.expire(now.mono_ms) {
            tracing::info!(session = format_args!("{id:#x}"), "session expired");
            let txn = self.prep.close_session(&self.db.tree, id, 0, now.wall_ms);
            self.propose(txn);
        }
        if now.mono_ms.saturating_sub(self.last_container_check) >= self.config.container_check_ms {
            self.last_container_check = now.mono_ms;
            for path in self.db.tree.expired_containers(now.wall_ms) {
                let txn = self
                    .prep
                    .delete_container(&self.db.tree, &path, now.wall_ms);
                self.propose(txn);
            }
        }
    }

    /// Expires a session now, as if its timeout had passed. Only a server
    /// that prepares writes can; false if it does not, or the session is not
    /// live.
    pub fn expire_session(&mut self, session_id: i64, now: Time) -> bool {
        if self.mode != Mode::Prepare || !self.tracker.is_live(session_id) {
            return false;
        }
        self.tracker.set_closing(session_id);
        let txn = self
            .prep
            .close_session(&self.db.tree, session_id, 0, now.wall_ms);
        self.propose(txn);
        true
    }

    /// Follower: the sessions its clients used since the last call, with
    /// their negotiated timeouts, for the leader's [`Server::touch_sessions`].
    pub fn take_touches(&mut self) -> Vec<(i64, i32)> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    /// Leader: sessions a follower reports active; each gets a full timeout
    /// from `now` (with the timeout the client last negotiated).
    pub fn touch_sessions(&mut self, sessions: &[(i64, i32)], now: Time) {
        if self.mode != Mode::Prepare {
            return;
        }
        for &(id, timeout) in sessions {
            if self.tracker.is_live(id) {
                self.tracker.set_timeout(id, timeout, now.mono_ms);
            }
        }
    }

    /// Records activity of a session on one of this server's connections.
    pub(super) fn touch(&mut self, session: i64, timeout_ms: i32, now: Time) {
        if self.tracker.touch(session, now.mono_ms) && self.mode == Mode::Forward {
            self.touched.insert(session, timeout_ms);
        }
    }

    /// Asks replication for a sync barrier answered on `conn`.
    pub(super) fn request_sync(&mut self, conn: ConnId) -> u64 {
        let token = self.new_token();
        self.syncs.insert(token, conn);
        self.submissions.push_back(Submission::Sync(token));
        token
    }

    /// The sync barrier `token` completed: everything the leader had
    /// proposed when it was asked is applied here.
    pub fn sync_done(&mut self, token: u64, now: Time) {
        let Some(conn) = self.syncs.remove(&token) else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Some(Pending::Revalidate {
            session_id,
            timeout_ms,
            token: t,
        }) = c.queue.front()
        {
            if *t == token {
                let (id, timeout) = (*session_id, *timeout_ms);
                c.queue.pop_front();
                self.finish_reattach(conn, id, timeout, now);
                return;
            }
        }
        for p in c.queue.iter_mut() {
            if let Pending::Sync { token: t, done, .. } = p {
                if *t == token {
                    *done = true;
                }
            }
        }
        self.drain_ready(conn, now);
    }
}
