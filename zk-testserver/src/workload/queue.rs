//! The simulator's queue workload, over raw requests as `zk_recipes::Queue`
//! does it: producers create persistent sequential entries under `/queue` holding a unique item
//! (retrying a put whose reply was lost: at-least-once); consumers list the
//! entries, read the lowest and delete it — the delete is the claim, never
//! retried after a lost reply (at-most-once); the next listing decides
//! again.

use super::ctx::Ctx;
use super::outcome;
use super::{Plan, World};
use crate::check::{Call, Ret};
use zk_client::proto::Response;

/// Attempts per put before the producer gives the item up.
const PUT_ATTEMPTS: usize = 5;

pub(super) async fn produce<W: World>(mut ctx: Ctx<W>, plan: Plan) {
    let mut counter = 0u64;
    while ctx.running() {
        let item = ctx.unique(&mut counter);
        for _ in 0..PUT_ATTEMPTS {
            let Some(session) = ctx.session().await else {
                return;
            };
            let data = item.to_string();
            let req = outcome::create("/queue/q-", Some(data.as_bytes()), 2);
            let r = ctx
                .op(&session, Call::Put { item }, req, |resp| match resp {
                    Response::Create(c) => outcome::sequence(&c.path).map_or(Ret::Unknown, Ret::Id),
                    _ => Ret::Unknown,
                })
                .await;
            match r {
                Ok(_) => break,
                Err(e) if Ret::from_error(&e).is_definite() => break,
                Err(_) if !ctx.running() => return,
                Err(_) => ctx.think(plan.think).await,
            }
        }
        ctx.think(plan.think).await;
    }
}

pub(super) async fn consume<W: World>(mut ctx: Ctx<W>, plan: Plan) {
    while ctx.running() {
        let Some(session) = ctx.session().await else {
            return;
        };
        let lowest = match ctx.call(&session, outcome::get_children("/queue")).await {
            Ok((_, Response::GetChildren(c))) => c
                .children
                .into_iter()
                .filter_map(|n| outcome::sequence(&n).map(|s| (s, n)))
                .min(),
            _ => None,
        };
        let Some((seq, name)) = lowest else {
            ctx.think(plan.think).await;
            continue;
        };
        // Only ever the lowest entry seen: then deliveries follow the
        // sequence order. A read that fails for another reason than the
        // entry being gone is retried, never skipped.
        let path = format!("/queue/{name}");
        let item = loop {
            match ctx.call(&session, outcome::get_data(&path)).await {
                Ok((_, Response::GetData(d))) => break Some(outcome::number(&d.data)),
                Err(e) if !e.is_no_node() && !e.is_session_expired() && ctx.running() => {
                    ctx.think(plan.think).await;
                }
                _ => break None,
            }
        };
        if let Some(item) = item {
            let call = Call::Take {
                item,
                seq: Some(seq),
            };
            ctx.op(&session, call, outcome::delete(&path), |_| Ret::Ok)
                .await
                .ok();
        }
        ctx.think(plan.think).await;
    }
}
