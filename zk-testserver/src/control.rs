//! The fault API of an [`Ensemble`] over HTTP/JSON, so that tests in any
//! language can drive a zk-testserver binary as curator-test's
//! `TestingCluster` or a testcontainers ZooKeeper would be driven: kill,
//! restart, partition, heal, expire a session, wait for a leader.
//!
//! The `zk-testserver` binary serves it with `--control ADDR`. Every answer
//! is a JSON object; errors are `{"error": "..."}` with a 4xx/5xx status.
//!
//! | request | effect / answer |
//! |---|---|
//! | `GET /status` | `{"connect", "leader", "members": [{"id", "running", "role", "leader", "epoch", "serving", "read_only", "observer", "spare", "server_line", "last_zxid", "client"}]}` (`server_line`: what a reconfig adds the member with) |
//! | `GET /sessions` | `{"sessions": [{"id", "timeout_ms"}]}` (the leader's table) |
//! | `POST /members/<id>/kill` | crash the member (storage kept) |
//! | `POST /members/<id>/restart` | start it again from its storage |
//! | `POST /members/<id>/restart-wiped` | start it again with empty storage |
//! | `POST /partition` `{"groups": [[1, 2], [3]]}` | cut links between groups |
//! | `POST /cut` `{"from": 1, "to": 2}` | cut one link one way |
//! | `POST /drop-rate` `{"from": 1, "to": 2, "p": 0.3}` | drop messages on a link |
//! | `POST /heal` | restore every link |
//! | `POST /sessions/<id>/expire` | expire a session (id decimal or `0x` hex) |
//! | `POST /wait/leader` | `{"leader": id}` once one serves |
//! | `POST /wait/converged` | `{"digest": d}` once every running member holds the same data |
//!
//! Waits are bounded by the ensemble's
//! [`wait_timeout`](crate::EnsembleBuilder::wait_timeout) (then 504).

use crate::http::{self, Request, Response};
use crate::zab::Role;
use crate::Ensemble;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves the control endpoint for `ensemble` on `listener` until aborted.
///
/// # Cancel safety
///
/// Dropping the future closes `listener` at once and cancels the requests
/// in flight (their clients see the connection close); an ensemble
/// operation a request had begun ends as its own "Cancel safety" section
/// says (a kill or restart under way completes).
pub async fn serve(listener: TcpListener, ensemble: Arc<Ensemble>) {
    http::serve(listener, move |request: Request| {
        let ensemble = ensemble.clone();
        async move { handle(&ensemble, request).await }
    })
    .await;
}

fn ok(value: Value) -> Response {
    Response::json(200, &value)
}

fn error(status: u16, message: impl std::fmt::Display) -> Response {
    Response::json(status, &json!({ "error": message.to_string() }))
}

fn ensemble_error(e: crate::ensemble::Error) -> Response {
    use crate::ensemble::Error as E;
    let status = match e {
        E::NoSuchMember(_) => 404,
        E::Timeout(_) => 504,
        E::Stopped(_) | E::NoLeader => 409,
        _ => 500,
    };
    error(status, e)
}

async fn handle(zk: &Ensemble, request: Request) -> Response {
    let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["status"]) => ok(status(zk)),
        ("GET", ["sessions"]) => match zk.sessions().await {
            Ok(list) => ok(json!({
                "sessions": list
                    .iter()
                    .map(|s| json!({"id": s.id, "timeout_ms": s.timeout.as_millis() as u64}))
                    .collect::<Vec<_>>()
            })),
            Err(e) => ensemble_error(e),
        },
        ("POST", ["members", id, action]) => {
            let Ok(id) = id.parse::<u64>() else {
                return error(400, format!("bad member id {id:?}"));
            };
            let done = match *action {
                "kill" => zk.kill(id).await,
                "restart" => zk.restart(id).await,
                "restart-wiped" => zk.restart_wiped(id).await,
                other => return error(404, format!("no member action {other:?}")),
            };
            match done {
                Ok(()) => ok(status(zk)),
                Err(e) => ensemble_error(e),
            }
        }
        ("POST", ["partition"]) => {
            let Some(groups) = body(&request).and_then(|b| groups(&b)) else {
                return error(400, "expected {\"groups\": [[ids...], ...]}");
            };
            let refs: Vec<&[u64]> = groups.iter().map(Vec::as_slice).collect();
            zk.partition(&refs);
            ok(json!({}))
        }
        ("POST", ["cut"]) => match link(&request) {
            Some((from, to, _)) => {
                zk.cut(from, to);
                ok(json!({}))
            }
            None => error(400, "expected {\"from\": id, \"to\": id}"),
        },
        ("POST", ["drop-rate"]) => match link(&request) {
            Some((from, to, Some(p))) if (0.0..=1.0).contains(&p) => {
                zk.drop_rate(from, to, p);
                ok(json!({}))
            }
            _ => error(400, "expected {\"from\": id, \"to\": id, \"p\": 0..1}"),
        },
        ("POST", ["heal"]) => {
            zk.heal();
            ok(json!({}))
        }
        ("POST", ["sessions", id, "expire"]) => {
            let parsed = match id.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as i64),
                None => id.parse::<i64>().ok(),
            };
            let Some(session) = parsed else {
                return error(400, format!("bad session id {id:?}"));
            };
            match zk.expire_session(session).await {
                Ok(()) => ok(json!({})),
                Err(e) => ensemble_error(e),
            }
        }
        ("POST", ["wait", "leader"]) => match zk.wait_for_leader().await {
            Ok(leader) => ok(json!({ "leader": leader })),
            Err(e) => ensemble_error(e),
        },
        ("POST", ["wait", "converged"]) => match zk.wait_until_converged().await {
            Ok(digest) => ok(json!({ "digest": digest })),
            Err(e) => ensemble_error(e),
        },
        ("GET" | "POST", _) => error(404, format!("no such endpoint {}", request.path)),
        _ => error(405, "use GET or POST"),
    }
}

fn status(zk: &Ensemble) -> Value {
    let members: Vec<Value> = zk
        .members()
        .into_iter()
        .filter_map(|id| zk.status(id).ok())
        .map(|m| {
            json!({
                "id": m.id,
                "running": m.running,
                "role": match m.role {
                    Role::Looking => "looking",
                    Role::Following => "following",
                    Role::Leading => "leading",
                },
                "leader": m.leader,
                "epoch": m.epoch,
                "serving": m.serving,
                "read_only": m.read_only,
                "observer": zk.observers().contains(&m.id),
                "spare": zk.spares().contains(&m.id),
                "server_line": zk.server_line(m.id),
                "last_zxid": m.last_zxid,
                "client": zk.addr(m.id).map(|a| a.to_string()).ok(),
            })
        })
        .collect();
    json!({
        "connect": zk.connect_string(),
        "leader": zk.leader(),
        "members": members,
    })
}

fn body(request: &Request) -> Option<Value> {
    serde_json::from_slice(&request.body).ok()
}

fn groups(body: &Value) -> Option<Vec<Vec<u64>>> {
    body.get("groups")?
        .as_array()?
        .iter()
        .map(|g| g.as_array()?.iter().map(Value::as_u64).collect())
        .collect()
}

fn link(request: &Request) -> Option<(u64, u64, Option<f64>)> {
    let b = body(request)?;
    Some((
        b.get("from")?.as_u64()?,
        b.get("to")?.as_u64()?,
        b.get("p").and_then(Value::as_f64),
    ))
}
