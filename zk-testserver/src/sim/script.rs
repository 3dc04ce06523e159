//! Scripted scenarios on the simulator: drive members, links and sessions
//! step by step (the regression tests of known ZooKeeper bugs use this),
//! with every step still deterministic.

use super::exec::{CallResult, ClientId, SimSession};
use super::world::Sim;
use crate::failpoint::{Action, Failpoint};
use crate::workload::Session;
use crate::zab::MemberId;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;
use zk_client::proto::Request;

impl Sim {
    /// Runs `fut` as a process until it completes or `limit` of simulated
    /// time passes (None then).
    pub fn block_on<T: 'static>(
        &mut self,
        fut: impl Future<Output = T> + 'static,
        limit: Duration,
    ) -> Option<T> {
        let out: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
        let slot = out.clone();
        self.spawn(async move {
            let v = fut.await;
            *slot.borrow_mut() = Some(v);
        });
        let until = self.now + limit;
        self.run_until(until, |_| out.borrow().is_some());
        let v = out.borrow_mut().take();
        v
    }

    /// Opens a session on `member` only (None: any member), waiting up to
    /// `limit` for it.
    pub fn session_on(&mut self, member: Option<MemberId>, limit: Duration) -> Option<SimSession> {
        let world = self.world();
        let s = self.block_on(async move { world.connect_to(member).await }, limit);
        s.and_then(Result::ok)
    }

    /// A second client attached to `session`'s session (its id and
    /// password), connecting only to `member`: two processes sharing one
    /// session, each of whose handshakes makes the member close the other's
    /// connection. It starts connecting at once.
    pub fn attach_client(&mut self, session: &SimSession, member: MemberId) -> ClientId {
        let c = &self.clients[session.client()];
        let attach = (c.machine.session_id(), c.machine.password().clone());
        let id = self.new_client(Some(member), Some(attach));
        self.drain_all();
        id
    }

    /// When client `id` started each of its connection attempts (time since
    /// the run began).
    pub fn connect_attempts(&self, id: ClientId) -> &[Duration] {
        &self.clients[id].attempts
    }

    /// Sends one request on `session` and waits up to `limit` for the reply.
    pub fn call(
        &mut self,
        session: &SimSession,
        request: Request,
        limit: Duration,
    ) -> Option<CallResult> {
        let s = session.clone();
        self.block_on(async move { s.call(request).await }, limit)
    }

    /// Closes `session`, waiting up to `limit`.
    pub fn close_session(&mut self, session: &SimSession, limit: Duration) -> bool {
        let s = session.clone();
        self.block_on(async move { s.close().await }, limit)
            .is_some_and(|r| r.is_ok())
    }

    /// Arms a failpoint on a member (at its next start if it is down).
    pub fn arm(&mut self, member: MemberId, point: Failpoint, action: Action) {
        let node = &mut self.nodes[(member - 1) as usize];
        match node.machine.as_mut() {
            Some(m) => m.set_failpoint(point, action),
            None => node.arm_on_start.arm(point, action),
        }
    }

    /// Kills a member (its unflushed appends are lost; all of its storage
    /// with `wipe`).
    pub fn kill(&mut self, member: MemberId, wipe: bool) {
        self.crash_member(member, wipe);
        self.drain_all();
    }

    /// Starts a member that is down (or crashed at a failpoint) from its
    /// storage.
    pub fn start(&mut self, member: MemberId) {
        self.restart(member);
        self.drain_all();
    }

    /// Cuts (or restores) the link from `from` to `to`.
    pub fn set_cut(&mut self, from: MemberId, to: MemberId, cut: bool) {
        let link = self.links.entry((from, to)).or_default();
        if cut {
            link.cut = true;
        } else {
            link.heal();
        }
    }

    /// Cuts `member` off from every other member (both ways), or restores.
    pub fn set_isolated(&mut self, member: MemberId, cut: bool) {
        for other in self.cfg.ids() {
            if other != member {
                self.set_cut(member, other, cut);
                self.set_cut(other, member, cut);
            }
        }
    }

    /// Runs until `pred` holds or `limit` passes; true if it held.
    pub fn wait(&mut self, limit: Duration, pred: impl Fn(&Sim) -> bool) -> bool {
        let until = self.now + limit;
        self.run_until(until, pred)
    }

    /// Whether `member` runs and serves.
    pub fn serving(&self, member: MemberId) -> bool {
        self.nodes[(member - 1) as usize]
            .machine
            .as_ref()
            .is_some_and(|m| !m.is_crashed() && m.is_serving())
    }

    /// The serving followers, in id order.
    pub fn followers(&self) -> Vec<MemberId> {
        let leader = self.leader();
        self.cfg
            .ids()
            .into_iter()
            .filter(|&m| Some(m) != leader && self.serving(m))
            .collect()
    }
}
