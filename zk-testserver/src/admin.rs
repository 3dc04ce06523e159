//! An AdminServer-compatible HTTP endpoint per member, as ZooKeeper 3.5+
//! serves on its admin port: `GET /commands/<name>` answers JSON with the
//! command's fields plus `"command"` and `"error"`, for the commands
//! monitoring tools use — `ruok`, `monitor` (`mntr`), `stats` (`stat`),
//! `connections` (`cons`), `leader` (`lead`), `voting_view` (`vote`),
//! `configuration` (`conf`, `config`). Field names and shapes follow real
//! ZooKeeper 3.9.3's answers; `GET /commands` lists the commands.
//!
//! Enable it with [`EnsembleBuilder::admin_port`](crate::EnsembleBuilder::admin_port)
//! (binary: `--admin-port`); [`Ensemble::admin_addr`](crate::Ensemble::admin_addr)
//! gives each member's address.

use crate::http::{self, Request, Response};
use crate::net::core::Command;
use crate::net::four_letter;
use crate::server::stats::{ReplicaRole, ServerStats, StatsDetail};
use serde_json::{json, Map, Value};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use zk_client::ensemble_config::EnsembleConfig;

/// What the endpoint knows of its member besides what it asks it.
#[derive(Debug, Clone)]
pub struct AdminContext {
    /// The member's id.
    pub id: u64,
    /// Its client port.
    pub client_port: u16,
    /// The ensemble's configuration (empty for a standalone server).
    pub ensemble: EnsembleConfig,
    /// When the member started.
    pub started: Instant,
}

/// The commands served, by primary name, with their aliases.
const COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connections", &["cons"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("ruok", &[]),
    ("stats", &["stat"]),
    ("voting_view", &["vote"]),
];

fn primary(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(p, aliases)| *p == name || aliases.contains(&name))
        .map(|(p, _)| *p)
}

/// Serves the endpoint on `listener` until aborted.
pub async fn serve(listener: TcpListener, core: mpsc::UnboundedSender<Command>, ctx: AdminContext) {
    http::serve(listener, move |request: Request| {
        let core = core.clone();
        let ctx = ctx.clone();
        async move { handle(request, &core, &ctx).await }
    })
    .await;
}

async fn handle(
    request: Request,
    core: &mpsc::UnboundedSender<Command>,
    ctx: &AdminContext,
) -> Response {
    if request.method != "GET" {
        return Response::text(405, "only GET\n");
    }
    if request.path == "/commands" || request.path == "/commands/" {
        let links: String = COMMANDS
            .iter()
            .map(|(p, _)| format!("<a href=\"/commands/{p}\">{p}</a>\n<br/>\n"))
            .collect();
        return Response::html(200, links);
    }
    let Some(name) = request.path.strip_prefix("/commands/") else {
        return Response::text(404, "not found\n");
    };
    let Some(command) = primary(name) else {
        return reply(name, Map::new(), Some(format!("Unknown command: {name}")));
    };
    if command == "ruok" {
        return reply(command, Map::new(), None);
    }
    let detail = StatsDetail {
        data_size: command == "monitor",
        ..StatsDetail::default()
    };
    let (tx, rx) = oneshot::channel();
    if core.send(Command::Stats(detail, tx)).is_err() {
        return Response::json(503, &json!({"command": command, "error": "member is down"}));
    }
    let Ok((stats, now)) = rx.await else {
        return Response::json(503, &json!({"command": command, "error": "member is down"}));
    };
    if !stats.serving && command != "configuration" {
        return reply(
            command,
            Map::new(),
            Some(four_letter::NOT_SERVING.trim().into()),
        );
    }
    let uptime_ms = u64::try_from(ctx.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let fields = match command {
        "monitor" => monitor(&stats, ctx, now, uptime_ms),
        "stats" => stats_fields(&stats, uptime_ms),
        "connections" => connections(&stats),
        "leader" => leader(&stats, ctx),
        "voting_view" => voting_view(ctx),
        _ => configuration(&stats, ctx),
    };
    reply(command, fields, None)
}

fn reply(command: &str, mut fields: Map<String, Value>, error: Option<String>) -> Response {
    fields.insert("command".into(), json!(command));
    fields.insert("error".into(), json!(error));
    Response::json(200, &Value::Object(fields))
}

/// `mntr`'s pairs as JSON: keys without `zk_`, numbers as numbers.
fn monitor(
    s: &ServerStats,
    ctx: &AdminContext,
    now: crate::server::Time,
    uptime_ms: u64,
) -> Map<String, Value> {
    let words = four_letter::Context {
        peer: String::new(),
        port: ctx.client_port,
        now_wall_ms: now.wall_ms,
        now_mono_ms: now.mono_ms,
        uptime_ms,
    };
    let mut out = Map::new();
    for line in four_letter::mntr(s, &words).lines() {
        let Some((key, value)) = line.split_once('\t') else {
            continue;
        };
        let key = key.strip_prefix("zk_").unwrap_or(key).to_string();
        let value = if let Ok(i) = value.parse::<i64>() {
            json!(i)
        } else if let Ok(f) = value.parse::<f64>() {
            json!(f)
        } else {
            json!(value)
        };
        out.insert(key, value);
    }
    out
}

fn avg_latency(total: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        ((total as f64 / count as f64) * 10_000.0).round() / 10_000.0
    }
}

fn stats_fields(s: &ServerStats, uptime_ms: u64) -> Map<String, Value> {
    let c = &s.counters;
    let buffers = json!({"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1});
    let brief: Vec<Value> = s
        .connections
        .iter()
        .map(|conn| {
            json!({
                "remote_socket_address": conn.peer,
                "interest_ops": 1,
                "outstanding_requests": conn.queued,
                "packets_received": conn.counters.received,
                "packets_sent": conn.counters.sent,
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("version".into(), json!(four_letter::VERSION));
    out.insert("read_only".into(), json!(s.read_only));
    out.insert(
        "server_stats".into(),
        json!({
            "packets_sent": c.sent,
            "packets_received": c.received,
            "fsync_threshold_exceed_count": 0,
            "client_response_stats": buffers,
            "provider_null": false,
            "server_state": four_letter::mode(s),
            "outstanding_requests": s.outstanding,
            "min_latency": c.min_latency,
            "avg_latency": avg_latency(c.total_latency, c.count),
            "max_latency": c.max_latency,
            "data_dir_size": s.storage.snapshots,
            "log_dir_size": s.storage.log,
            "last_processed_zxid": s.zxid,
            "num_alive_client_connections": s.connections.len(),
            "uptime": uptime_ms,
            "auth_failed_count": 0,
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
        }),
    );
    out.insert("client_response".into(), buffers);
    out.insert("node_count".into(), json!(s.node_count));
    out.insert("connections".into(), json!(brief));
    out.insert("secure_connections".into(), json!([]));
    out
}

fn connections(s: &ServerStats) -> Map<String, Value> {
    let list: Vec<Value> = s
        .connections
        .iter()
        .map(|conn| {
            let c = &conn.counters;
            let mut v = json!({
                "remote_socket_address": conn.peer,
                "interest_ops": 1,
                "outstanding_requests": conn.queued,
                "packets_received": c.received,
                "packets_sent": c.sent,
            });
            if conn.session_id != 0 {
                let fields = [
                    ("session_id", json!(conn.session_id)),
                    ("last_operation", json!(op_abbrev(conn.last_op))),
                    ("session_timeout", json!(conn.timeout_ms)),
                    ("last_cxid", json!(conn.last_cxid)),
                    ("last_zxid", json!(conn.last_zxid)),
                    ("min_latency", json!(c.min_latency)),
                    (
                        "avg_latency",
                        json!(c.total_latency.checked_div(c.count).unwrap_or(0)),
                    ),
                    ("max_latency", json!(c.max_latency)),
                ];
                if let Some(map) = v.as_object_mut() {
                    for (k, val) in fields {
                        map.insert(k.into(), val);
                    }
                }
            }
            v
        })
        .collect();
    let mut out = Map::new();
    out.insert("connections".into(), json!(list));
    out.insert("secure_connections".into(), json!([]));
    out
}

fn op_abbrev(name: &str) -> String {
    if name == "NA" {
        return name.into();
    }
    name.chars().take(4).collect::<String>().to_uppercase()
}

fn leader(s: &ServerStats, ctx: &AdminContext) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(r) = s.replica else {
        // As ZooKeeper's standalone server.
        out.insert("is_leader".into(), json!(false));
        return out;
    };
    let leader_ip = r
        .leader
        .and_then(|id| ctx.ensemble.server(id))
        .map(|spec| spec.host.clone());
    out.insert("is_leader".into(), json!(r.role == ReplicaRole::Leader));
    out.insert("leader_id".into(), json!(r.leader));
    out.insert("leader_ip".into(), json!(leader_ip));
    out
}

fn voting_view(ctx: &AdminContext) -> Map<String, Value> {
    let mut config = Map::new();
    // ZooKeeper's voting view holds the voting members only.
    let voters = ctx
        .ensemble
        .servers
        .iter()
        .filter(|s| s.role == zk_client::ensemble_config::ServerRole::Participant);
    for s in voters {
        config.insert(
            s.id.to_string(),
            json!({
                "server_addresses": [format!("{}:{}", s.host, s.quorum_port)],
                "election_addresses": [format!("{}:{}", s.host, s.election_port)],
                "client_address": s.client_address().map(|(h, p)| format!("{h}:{p}")),
                "learner_type": match s.role {
                    zk_client::ensemble_config::ServerRole::Participant => "participant",
                    zk_client::ensemble_config::ServerRole::Observer => "observer",
                },
            }),
        );
    }
    let mut out = Map::new();
    out.insert("current_config".into(), Value::Object(config));
    out
}

fn configuration(s: &ServerStats, ctx: &AdminContext) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("client_port".into(), json!(ctx.client_port));
    out.insert("data_dir".into(), json!("memory"));
    out.insert("data_log_dir".into(), json!("memory"));
    out.insert("tick_time".into(), json!(s.tick_ms));
    out.insert("max_client_cnxns".into(), json!(0));
    out.insert(
        "min_session_timeout".into(),
        json!(s.min_session_timeout_ms),
    );
    out.insert(
        "max_session_timeout".into(),
        json!(s.max_session_timeout_ms),
    );
    out.insert("server_id".into(), json!(ctx.id));
    out.insert("client_port_listen_backlog".into(), json!(-1));
    out
}
