//! The unique-id workload: persistent sequential creates under `/ids`; the
//! id is the sequence number.

use super::ctx::Ctx;
use super::outcome;
use super::{Plan, World};
use crate::check::{Call, Ret};
use zk_client::proto::Response;

pub(super) async fn run<W: World>(mut ctx: Ctx<W>, plan: Plan) {
    while ctx.running() {
        let Some(session) = ctx.session().await else {
            return;
        };
        let req = outcome::create("/ids/id-", None, 2);
        ctx.op(&session, Call::CreateId, req, |resp| match resp {
            Response::Create(c) => outcome::sequence(&c.path).map_or(Ret::Unknown, Ret::Id),
            _ => Ret::Unknown,
        })
        .await
        .ok();
        ctx.think(plan.think).await;
    }
}
