//! The simulator's lock workload: a mutex with fencing tokens, over raw
//! requests as Curator and `zk_recipes::Lock` do it.
//!
//! To acquire, a process creates an ephemeral sequential node under `/lock`
//! named with a prefix unique to the attempt (the protected create: after a
//! lost reply it finds its own node by the prefix instead of creating a
//! second one) and holds the lock once its node is the lowest. Its fencing
//! token is the node's czxid. While holding, it writes `/lockres` with a
//! multi that first checks its lock node (version 0), so the write fails once
//! the node is gone (session expired), whatever the holder believes. Then it
//! deletes its node.

use super::ctx::Ctx;
use super::outcome;
use super::{Plan, World};
use crate::check::{Call, Ret};
use rand::RngExt;
use std::time::Duration;
use zk_client::proto::{Request, Response};

/// Pause between two looks at the lock's children while waiting.
const POLL: Duration = Duration::from_millis(25);

pub(super) async fn run<W: World>(mut ctx: Ctx<W>, plan: Plan) {
    let mut attempt = 0u64;
    let mut counter = 0u64;
    while ctx.running() {
        attempt += 1;
        if let Some((session, path, token)) = acquire(&mut ctx, &plan, attempt).await {
            for _ in 0..ctx.rng.random_range(1..4) {
                let value = ctx.unique(&mut counter);
                let call = Call::GuardedWrite { token, value };
                let req = Request::Multi(vec![
                    outcome::check(&path, 0),
                    outcome::set_data("/lockres", value, -1),
                ]);
                ctx.op(&session, call, req, outcome::multi).await.ok();
                ctx.think(plan.think).await;
            }
            release(&mut ctx, &session, &path, token).await;
        }
        ctx.think(plan.think).await;
    }
}

/// Acquires the lock: the session it is held in, the node and the token.
async fn acquire<W: World>(
    ctx: &mut Ctx<W>,
    plan: &Plan,
    attempt: u64,
) -> Option<(W::Session, String, i64)> {
    let session = ctx.session().await?;
    let op = ctx.begin(&session, Call::Acquire);
    let prefix = format!("p{}-a{attempt}-", ctx.process);
    let started = ctx.world.elapsed();
    let mut mine: Option<(String, i64)> = None;
    loop {
        if !ctx.running() || ctx.world.elapsed() > started + plan.lock_wait {
            break;
        }
        let Some((path, token)) = mine.clone() else {
            mine = create_or_find(ctx, &session, &prefix).await;
            if mine.is_none() && !session_alive(ctx, &session).await {
                break;
            }
            continue;
        };
        let children = match ctx.call(&session, outcome::get_children("/lock")).await {
            Ok((_, Response::GetChildren(c))) => c.children,
            Err(e) if e.is_session_expired() => break,
            _ => {
                ctx.world.sleep(POLL).await;
                continue;
            }
        };
        let ours = outcome::name(&path);
        if !children.iter().any(|c| c == ours) {
            // Our node is gone: the session expired under us.
            break;
        }
        let lowest = children
            .iter()
            .filter_map(|c| outcome::sequence(c).map(|s| (s, c)))
            .min()
            .map(|(_, c)| c.as_str());
        if lowest == Some(ours) {
            ctx.end(op, Ret::Token(token), Some(token));
            return Some((session, path, token));
        }
        ctx.world.sleep(POLL).await;
    }
    // Gave up: clean up our node if we made one (best effort).
    if let Some((path, _)) = mine {
        ctx.call(&session, outcome::delete(&path)).await.ok();
    }
    ctx.end(op, Ret::Fail("NotAcquired".into()), None);
    None
}

/// Creates this attempt's node, or finds it after a lost reply: its path
/// and czxid.
async fn create_or_find<W: World>(
    ctx: &mut Ctx<W>,
    session: &W::Session,
    prefix: &str,
) -> Option<(String, i64)> {
    let req = outcome::create2(&format!("/lock/{prefix}n-"), None, 3);
    match ctx.call(session, req).await {
        Ok((_, Response::Create2(c))) => return Some((c.path, c.stat.czxid)),
        Ok(_) => return None,
        Err(e) if Ret::from_error(&e).is_definite() || e.is_session_expired() => return None,
        Err(_) => {}
    }
    // The reply was lost: did the create happen?
    let children = match ctx.call(session, outcome::get_children("/lock")).await {
        Ok((_, Response::GetChildren(c))) => c.children,
        _ => return None,
    };
    let name = children.into_iter().find(|c| c.starts_with(prefix))?;
    let path = format!("/lock/{name}");
    match ctx.call(session, outcome::get_data(&path)).await {
        Ok((_, Response::GetData(d))) => Some((path, d.stat.czxid)),
        _ => None,
    }
}

async fn session_alive<W: World>(ctx: &mut Ctx<W>, session: &W::Session) -> bool {
    !matches!(
        ctx.call(session, outcome::sync("/lock")).await,
        Err(e) if e.is_session_expired()
    )
}

/// Deletes the lock node, retrying lost replies (a leftover node would block
/// every other process until the session ends).
async fn release<W: World>(ctx: &mut Ctx<W>, session: &W::Session, path: &str, token: i64) {
    for _ in 0..5 {
        let r = ctx
            .op(
                session,
                Call::Release { token },
                outcome::delete(path),
                |_| Ret::Ok,
            )
            .await;
        match r {
            Ok(_) => return,
            Err(e) if Ret::from_error(&e).is_definite() || e.is_session_expired() => return,
            Err(_) => ctx.world.sleep(POLL).await,
        }
    }
}
