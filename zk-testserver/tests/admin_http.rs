//! The AdminServer-compatible endpoint (`GET /commands/<name>`, JSON) with
//! the fields real ZooKeeper 3.9.3 answers for the commands monitoring
//! tools use.

mod common;

use common::cluster::{builder, client_of};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

async fn command(addr: std::net::SocketAddr, name: &str) -> Value {
    let (status, body) = get(addr, &format!("/commands/{name}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_json_like_zookeeper() {
    let zk = builder(3).admin_port(0).start().await.expect("start");
    let leader = zk.wait_for_leader().await.unwrap();
    let follower = (1..=3).find(|m| *m != leader).unwrap();
    let at = zk.admin_addr(follower).expect("admin enabled");
    let _client = client_of(&zk, follower).await;

    let ruok = command(at, "ruok").await;
    assert_eq!(ruok["command"], "ruok");
    assert!(ruok["error"].is_null());

    let lead = command(at, "leader").await;
    assert_eq!(lead["is_leader"], false);
    assert_eq!(lead["leader_id"], leader);
    assert_eq!(lead["leader_ip"], "127.0.0.1");
    let lead = command(zk.admin_addr(leader).unwrap(), "lead").await;
    assert_eq!(
        (lead["is_leader"].clone(), lead["command"].clone()),
        (true.into(), "leader".into())
    );

    let vote = command(at, "voting_view").await;
    let view = vote["current_config"].as_object().unwrap();
    assert_eq!(view.len(), 3);
    let two = &view["2"];
    assert_eq!(two["client_address"], zk.addr(2).unwrap().to_string());
    assert_eq!(two["learner_type"], "participant");

    let conf = command(at, "configuration").await;
    assert_eq!(conf["client_port"], zk.addr(follower).unwrap().port());
    assert_eq!(conf["server_id"], follower);
    assert_eq!(conf["tick_time"], 50);

    let stats = command(at, "stat").await;
    assert_eq!(stats["command"], "stats");
    assert_eq!(stats["server_stats"]["server_state"], "follower");
    assert_eq!(stats["server_stats"]["num_alive_client_connections"], 1);
    assert!(stats["node_count"].as_u64().unwrap() >= 4);

    let cons = command(at, "connections").await;
    let conns = cons["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    assert!(conns[0]["session_id"].as_i64().unwrap() != 0);

    let monitor = command(at, "mntr").await;
    assert_eq!(monitor["command"], "monitor");
    assert_eq!(monitor["server_state"], "follower");
    assert_eq!(monitor["quorum_size"], 3);
    assert!(monitor["znode_count"].is_number());
    assert!(monitor["avg_latency"].is_f64());

    let unknown = command(at, "nosuch").await;
    assert_eq!(unknown["error"], "Unknown command: nosuch");
    let (status, index) = get(at, "/commands").await;
    assert_eq!(status, 200);
    assert!(index.contains("/commands/voting_view"));
    assert_eq!(get(at, "/elsewhere").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voting_view_leaves_out_observers() {
    // ZooKeeper's voting_view lists the voting members only.
    let zk = builder(3)
        .observers(1)
        .admin_port(0)
        .start()
        .await
        .expect("start");
    let vote = command(zk.admin_addr(4).expect("admin enabled"), "voting_view").await;
    let view = vote["current_config"].as_object().unwrap();
    let ids: Vec<&str> = view.keys().map(String::as_str).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert!(view.values().all(|s| s["learner_type"] == "participant"));
}
