//! The CAS register workload: reads (getData), blind writes (setData with
//! version -1) and compare-and-sets (setData with the version last read) on
//! a few registers; every value written is unique. Each process's session
//! also watches `/reg` recursively, so its event stream can be checked.

use super::ctx::Ctx;
use super::outcome;
use super::{Plan, World};
use crate::check::{Call, Ret};
use rand::RngExt;
use std::collections::BTreeMap;
use zk_client::proto::Response;

pub(super) async fn run<W: World>(mut ctx: Ctx<W>, plan: Plan) {
    ctx.watch_registers = true;
    let registers = plan.registers();
    if registers.is_empty() {
        return;
    }
    let mut counter = 0u64;
    // The last version this process read of each register (its CAS guess).
    let mut seen: BTreeMap<String, i32> = BTreeMap::new();
    while ctx.running() {
        let Some(session) = ctx.session().await else {
            return;
        };
        let (key, path) = registers[ctx.rng.random_range(0..registers.len())].clone();
        match ctx.rng.random_range(0..10) {
            0..4 => {
                let call = Call::Read { key: key.clone() };
                let r = ctx
                    .op(
                        &session,
                        call,
                        outcome::get_data(&path),
                        |resp| match resp {
                            Response::GetData(d) => Ret::Register {
                                value: outcome::number(&d.data),
                                version: d.stat.version,
                            },
                            _ => Ret::Unknown,
                        },
                    )
                    .await;
                if let Ok((_, Response::GetData(d))) = r {
                    seen.insert(key, d.stat.version);
                }
            }
            4..7 => {
                let value = ctx.unique(&mut counter);
                let call = Call::Write {
                    key: key.clone(),
                    value,
                };
                let req = outcome::set_data(&path, value, -1);
                ctx.op(&session, call, req, |resp| written(resp, value))
                    .await
                    .ok();
            }
            _ => {
                let value = ctx.unique(&mut counter);
                let expect = seen.get(&key).copied().unwrap_or(0);
                let call = Call::Cas {
                    key: key.clone(),
                    expect,
                    value,
                };
                let req = outcome::set_data(&path, value, expect);
                let r = ctx
                    .op(&session, call, req, |resp| written(resp, value))
                    .await;
                if let Ok((_, Response::Stat(s))) = r {
                    seen.insert(key, s.stat.version);
                }
            }
        }
        ctx.think(plan.think).await;
    }
}

fn written(resp: &Response, value: u64) -> Ret {
    match resp {
        Response::Stat(s) => Ret::Register {
            value,
            version: s.stat.version,
        },
        _ => Ret::Unknown,
    }
}
