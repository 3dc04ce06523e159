//! The ephemeral workload: a process creates ephemerals under `/eph` and now
//! and then closes its session or abandons it (as a crashed client would),
//! then opens a new one. At the end no ephemeral may outlive its session.

use super::ctx::Ctx;
use super::outcome;
use super::{Plan, Session, World};
use crate::check::{Call, Ret};
use rand::RngExt;

pub(super) async fn run<W: World>(mut ctx: Ctx<W>, plan: Plan) {
    let mut n = 0u64;
    while ctx.running() {
        let Some(session) = ctx.session().await else {
            return;
        };
        n += 1;
        let path = format!("/eph/p{}-{n}", ctx.process);
        let call = Call::CreateEphemeral { path: path.clone() };
        let req = outcome::create(&path, None, 1);
        ctx.op(&session, call, req, |_| Ret::Ok).await.ok();
        ctx.think(plan.think).await;
        match ctx.rng.random_range(0..20) {
            0 | 1 => {
                let op = ctx.begin(&session, Call::Close);
                let r = session.close().await;
                let ret = if r.is_ok() { Ret::Ok } else { Ret::Unknown };
                ctx.end(op, ret, None);
                ctx.drop_session();
            }
            2 => {
                session.abandon();
                ctx.drop_session();
            }
            _ => {}
        }
    }
}
