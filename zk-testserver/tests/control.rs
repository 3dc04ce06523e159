//! The fault API over HTTP/JSON (`zk_testserver::control`): a failover
//! driven only through it, and its answers to bad requests.

mod common;

use common::cluster::{builder, within};
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_client::{Client, ConnectionState, CreateMode};

async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_driven_over_http() {
    let zk = Arc::new(builder(3).start().await.expect("start"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let server = tokio::spawn(zk_testserver::control::serve(listener, zk.clone()));

    let (code, status) = call(at, "GET", "/status", None).await;
    assert_eq!(code, 200);
    assert_eq!(status["connect"], zk.connect_string());
    assert_eq!(status["members"].as_array().unwrap().len(), 3);
    let leader = status["leader"].as_u64().expect("a leader");

    let c = Client::builder(zk.connect_string())
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    c.create("/before", "1", CreateMode::Persistent)
        .await
        .unwrap();
    let (code, _) = call(at, "POST", &format!("/members/{leader}/kill"), None).await;
    assert_eq!(code, 200);
    let (_, next) = call(at, "POST", "/wait/leader", None).await;
    assert_ne!(next["leader"].as_u64(), Some(leader));
    c.create("/after", "2", CreateMode::Persistent)
        .await
        .unwrap();
    let (code, _) = call(at, "POST", &format!("/members/{leader}/restart"), None).await;
    assert_eq!(code, 200);
    let (code, converged) = call(at, "POST", "/wait/converged", None).await;
    assert_eq!(code, 200, "{converged}");
    assert_eq!(
        converged["digest"].as_u64(),
        Some(zk.digest(leader).await.unwrap())
    );

    // Partition a member away and heal.
    let (code, _) = call(
        at,
        "POST",
        "/partition",
        Some(json!({"groups": [[1, 2], [3]]})),
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = call(at, "POST", "/heal", None).await;
    assert_eq!(code, 200);

    // Expire the client's session by its id.
    // The client reports `Lost`, then (renewal being the default) goes on
    // with a new session.
    let id = format!("{:#x}", c.session_id());
    let mut states = c.state_stream();
    let (code, _) = call(at, "POST", &format!("/sessions/{id}/expire"), None).await;
    assert_eq!(code, 200);
    within("expired", async {
        while let Some(s) = states.next().await {
            if s == ConnectionState::Lost {
                return;
            }
        }
        panic!("state stream ended before Lost");
    })
    .await;

    // Bad requests get clear errors.
    assert_eq!(call(at, "POST", "/members/9/kill", None).await.0, 404);
    assert_eq!(call(at, "POST", "/members/x/kill", None).await.0, 400);
    assert_eq!(
        call(at, "POST", "/partition", Some(json!({"groups": 3})))
            .await
            .0,
        400
    );
    assert_eq!(
        call(
            at,
            "POST",
            "/drop-rate",
            Some(json!({"from": 1, "to": 2, "p": 2.0}))
        )
        .await
        .0,
        400
    );
    let (code, err) = call(at, "GET", "/nowhere", None).await;
    assert_eq!(code, 404);
    assert!(err["error"].is_string());
    server.abort();
}
