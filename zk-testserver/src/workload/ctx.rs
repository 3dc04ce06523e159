//! A process's context: its world, its session (reopened after expiry), its
//! random stream, and recording.

use super::{Session, Watches, World};
use crate::check::{Call, OpId, ProcessId, Recorder, Ret};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::time::Duration;
use zk_client::proto::{Request, Response};
use zk_client::Error;

pub(super) struct Ctx<W: World> {
    pub(super) world: W,
    rec: Recorder,
    watches: Watches,
    pub(super) process: ProcessId,
    pub(super) rng: Xoshiro256PlusPlus,
    session: Option<W::Session>,
    /// Whether new sessions of this process watch `/reg`.
    pub(super) watch_registers: bool,
}

impl<W: World> Ctx<W> {
    pub(super) fn new(
        world: W,
        rec: Recorder,
        watches: Watches,
        process: ProcessId,
        seed: u64,
    ) -> Ctx<W> {
        let stream = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(u64::from(process).wrapping_mul(0xbf58_476d_1ce4_e5b9));
        Ctx {
            world,
            rec,
            watches,
            process,
            rng: Xoshiro256PlusPlus::seed_from_u64(stream),
            session: None,
            watch_registers: false,
        }
    }

    pub(super) fn running(&self) -> bool {
        self.world.running()
    }

    /// The current session, opening one if needed (retrying while the
    /// ensemble is unreachable). None once the run is over.
    pub(super) async fn session(&mut self) -> Option<W::Session> {
        loop {
            if let Some(s) = &self.session {
                return Some(s.clone());
            }
            if !self.running() {
                return None;
            }
            match self.world.connect().await {
                Ok(s) => {
                    if self.watch_registers {
                        if let Ok(log) = s.watch("/reg").await {
                            self.watches.add(self.process, s.session_id(), "/reg", log);
                        }
                    }
                    self.session = Some(s);
                }
                Err(e) => {
                    tracing::debug!(process = self.process, error = %e, "connect failed");
                    self.world.sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Forgets the current session (closed or abandoned by the workload).
    pub(super) fn drop_session(&mut self) {
        self.session = None;
    }

    /// Records an invocation on the current session.
    pub(super) fn begin(&mut self, session: &W::Session, call: Call) -> OpId {
        self.rec.invoke(
            self.process,
            session.session_id(),
            call,
            self.world.elapsed(),
        )
    }

    /// Records a completion.
    pub(super) fn end(&mut self, op: OpId, ret: Ret, zxid: Option<i64>) {
        self.rec.complete(op, self.world.elapsed(), ret, zxid);
    }

    /// Records an operation that completed at once.
    pub(super) fn note(&mut self, session: i64, call: Call, ret: Ret) {
        self.rec
            .record(self.process, session, call, self.world.elapsed(), ret, None);
    }

    /// Sends a request on `session`; notes an expired session (recording it
    /// and dropping it, so the next operation opens a fresh one).
    pub(super) async fn call(
        &mut self,
        session: &W::Session,
        request: Request,
    ) -> Result<(i64, Response), Error> {
        let r = session.call(request).await;
        if let Err(e) = &r {
            if e.is_session_expired() && self.session.is_some() {
                self.note(session.session_id(), Call::SessionLost, Ret::Ok);
                self.session = None;
            }
        }
        r
    }

    /// Sends a recorded request: invoke, call, complete with `ret` made from
    /// the reply (errors classified by [`Ret::from_error`]).
    pub(super) async fn op(
        &mut self,
        session: &W::Session,
        call: Call,
        request: Request,
        ret: impl FnOnce(&Response) -> Ret,
    ) -> Result<(i64, Response), Error> {
        let op = self.begin(session, call);
        let r = self.call(session, request).await;
        match &r {
            Ok((zxid, response)) => {
                let ret = ret(response);
                self.end(op, ret, Some(*zxid));
            }
            Err(e) => self.end(op, Ret::from_error(e), e.zxid()),
        }
        r
    }

    /// Waits a random time up to `max`.
    pub(super) async fn think(&mut self, max: Duration) {
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(1);
        let d = Duration::from_millis(self.rng.random_range(0..ms));
        self.world.sleep(d).await;
    }

    /// A value unique in the run: the process in the high bits.
    pub(super) fn unique(&mut self, counter: &mut u64) -> u64 {
        *counter += 1;
        (u64::from(self.process) << 32) | *counter
    }
}
