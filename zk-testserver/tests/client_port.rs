//! The client port over real sockets: handshake, operations, ordering,
//! watches, bad input.

mod common;

use bytes::{BufMut, BytesMut};
use common::*;
use std::time::Duration;
use zk_client::proto::*;
use zk_testserver::{Ensemble, FourLetterWords};

async fn start() -> Ensemble {
    Ensemble::builder()
        .tick(Duration::from_millis(50))
        .start()
        .await
        .expect("start")
}

#[tokio::test]
async fn handshake_and_basic_operations() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    assert_eq!(c.timeout_ms, 1000); // clamped to 20 ticks
    assert_eq!(c.password.len(), 16);
    let r = c.call(&create("/a", b"hello", 0)).await;
    assert_eq!(
        r.body,
        Some(Response::Create(CreateResponse { path: "/a".into() }))
    );
    let r = c.call(&get("/a", false)).await;
    let Some(Response::GetData(d)) = r.body else {
        panic!("{r:?}")
    };
    assert_eq!(d.data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(d.stat.czxid, r.header.zxid);
    let r = c.call(&set("/a", b"bye")).await;
    assert!(matches!(r.body, Some(Response::Stat(ref s)) if s.stat.version == 1));
    assert_eq!(c.call(&delete("/a")).await.header.err, 0);
    assert_eq!(c.call(&get("/a", false)).await.header.err, -101);
    assert_eq!(zk.last_zxid(1).await.unwrap(), r.header.zxid + 1);
    assert_eq!(zk.sessions().await.unwrap()[0].id, c.session_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_replies_keep_request_order() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let mut xids = Vec::new();
    for i in 0..50 {
        let req = if i % 2 == 0 {
            Request::Create2(CreateRequest {
                path: "/s-".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 2,
            })
        } else {
            get("/", false)
        };
        xids.push((c.send(&req).await, req.opcode()));
    }
    let mut last_zxid = 0;
    for (xid, op) in xids {
        let r = c.reply(op).await.unwrap();
        assert_eq!(r.header.xid, xid);
        assert!(r.header.zxid >= last_zxid);
        last_zxid = r.header.zxid;
    }
}

#[tokio::test]
async fn notifications_precede_the_reply_of_the_write() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut w = Raw::connect(&addr).await;
    let mut c = Raw::connect(&addr).await;
    c.call(&create("/n", b"", 0)).await;
    c.call(&get("/n", true)).await;
    w.call(&get("/n", true)).await;
    let r = c.call(&set("/n", b"x")).await;
    assert_eq!(
        r.events,
        vec![WatcherEvent::node(EventType::NodeDataChanged, "/n")]
    );
    // The other watcher gets it too, with the write's zxid.
    let f = w.next_frame().await.unwrap();
    let (h, mut body) = decode_reply_header(f).unwrap();
    assert_eq!((h.xid, h.zxid), (-1, r.header.zxid));
    assert_eq!(
        WatcherEvent::read(&mut body).unwrap(),
        WatcherEvent::node(EventType::NodeDataChanged, "/n")
    );
}

#[tokio::test]
async fn bad_input_closes_only_that_connection() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut bystander = Raw::connect(&addr).await;
    bystander.call(&create("/b", b"", 1)).await;

    // Garbage instead of a handshake.
    let mut g = Raw::open(&addr).await;
    g.send_bytes(&[0, 0, 0, 3, 1, 2, 3]).await;
    assert!(g.closed().await);

    // A request before the handshake.
    let mut early = Raw::open(&addr).await;
    early.send(&get("/b", false)).await;
    assert!(early.closed().await);

    // Oversized frame (over jute.maxbuffer): closed without a reply.
    let mut big = Raw::connect(&addr).await;
    let mut f = BytesMut::new();
    f.put_i32(0x10_0000);
    f.put_slice(&[0; 64]);
    big.send_bytes(&f).await;
    assert!(big.next_frame().await.is_none());

    // Negative length.
    let mut neg = Raw::connect(&addr).await;
    neg.send_bytes(&(-5i32).to_be_bytes()).await;
    assert!(neg.closed().await);

    // Unknown opcode: Unimplemented, then closed.
    let mut unk = Raw::connect(&addr).await;
    let mut f = BytesMut::new();
    f.put_i32(8);
    f.put_i32(1);
    f.put_i32(999);
    unk.send_bytes(&f).await;
    let r = unk.reply(OpCode::Ping).await.unwrap();
    assert_eq!((r.header.xid, r.header.zxid, r.header.err), (1, -1, -6));
    assert!(unk.closed().await);

    // Truncated body: MarshallingError, connection stays.
    let mut tr = Raw::connect(&addr).await;
    let mut f = BytesMut::new();
    f.put_i32(10);
    f.put_i32(1);
    f.put_i32(4);
    f.put_i16(7);
    tr.send_bytes(&f).await;
    assert_eq!(tr.reply(OpCode::GetData).await.unwrap().header.err, -5);
    assert_eq!(tr.call(&Request::Ping).await.header.err, 0);

    // Truncated frame then hang-up: the server just drops the connection.
    let mut half = Raw::connect(&addr).await;
    half.send_bytes(&[0, 0, 0, 40, 1, 2]).await;
    drop(half);

    // The bystander's session and ephemeral are intact.
    let r = bystander.call(&get("/b", false)).await;
    assert_eq!(r.header.err, 0);
    // Closed connections leave their sessions alive until they expire.
    assert_eq!(zk.sessions().await.unwrap().len(), 6);
}

#[tokio::test]
async fn large_data_up_to_the_frame_limit() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let data: &'static [u8] = Box::leak(vec![7u8; 1024 * 1024 - 200].into_boxed_slice());
    assert_eq!(c.call(&create("/big", data, 0)).await.header.err, 0);
    let r = c.call(&get("/big", false)).await;
    let Some(Response::GetData(d)) = r.body else {
        panic!()
    };
    assert_eq!(d.data.map(|b| b.len()), Some(data.len()));
}

#[tokio::test]
async fn four_letter_words() {
    let zk = Ensemble::builder()
        .tick(Duration::from_millis(50))
        .four_letter_words(FourLetterWords::all())
        .start()
        .await
        .expect("start");
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    assert_eq!(four_letter(&addr, "ruok").await, "imok");
    assert_eq!(four_letter(&addr, "isro").await, "rw");
    let srvr = four_letter(&addr, "srvr").await;
    let lines: Vec<&str> = srvr.lines().collect();
    assert!(lines[0].starts_with("Zookeeper version: 3.9.5"), "{srvr}");
    assert!(lines[1].starts_with("Latency min/avg/max: "));
    assert_eq!(lines[4], "Connections: 2");
    assert_eq!(lines[6], "Zxid: 0x1");
    assert_eq!(lines[7], "Mode: standalone");
    assert_eq!(lines[8], "Node count: 5");
    let stat = four_letter(&addr, "stat").await;
    assert!(stat.contains("Clients:\n /127.0.0.1:"), "{stat}");
    let mntr = four_letter(&addr, "mntr").await;
    let mut lines = mntr.lines();
    assert!(lines.next().unwrap().starts_with("zk_version\t"));
    assert_eq!(lines.next(), Some("zk_server_state\tstandalone"));
    assert!(mntr.contains("zk_znode_count\t5\n"));
    assert!(mntr.contains("zk_num_alive_connections\t2\n"));
    for w in ["cons", "dump", "envi", "conf", "wchs", "wchc", "wchp"] {
        assert!(!four_letter(&addr, w).await.is_empty(), "{w}");
    }
    assert!(four_letter(&addr, "conf").await.contains("tickTime=50\n"));
    // The figures that walk the tree, the ephemerals or the watches: an
    // ephemeral /e with 2 bytes, watched by the same session.
    assert!(mntr.contains("zk_approximate_data_size\t44\n"), "{mntr}");
    c.call(&create("/e", b"xy", 1)).await;
    c.call(&get("/e", true)).await;
    let mntr = four_letter(&addr, "mntr").await;
    assert!(mntr.contains("zk_approximate_data_size\t48\n"), "{mntr}");
    for w in ["dump", "wchc", "wchp"] {
        let text = four_letter(&addr, w).await;
        assert!(text.contains("/e"), "{w}: {text}");
    }
    let wchs = four_letter(&addr, "wchs").await;
    assert!(wchs.starts_with("1 connections watching 1 paths"), "{wchs}");
}

#[tokio::test]
async fn four_letter_words_follow_the_whitelist() {
    // ZooKeeper's default: srvr only; the others answer a refusal line.
    let zk = start().await;
    let addr = zk.connect_string();
    assert!(four_letter(&addr, "srvr")
        .await
        .starts_with("Zookeeper version:"));
    for w in [
        "ruok", "stat", "mntr", "cons", "dump", "wchc", "envi", "isro",
    ] {
        assert_eq!(
            four_letter(&addr, w).await,
            format!("{w} is not executed because it is not in the whitelist.\n")
        );
    }
    let words = FourLetterWords::parse("ruok, mntr").unwrap();
    let zk = Ensemble::builder()
        .four_letter_words(words)
        .start()
        .await
        .unwrap();
    let addr = zk.connect_string();
    assert_eq!(four_letter(&addr, "ruok").await, "imok");
    assert!(four_letter(&addr, "mntr").await.starts_with("zk_version"));
    assert!(four_letter(&addr, "srvr")
        .await
        .starts_with("Zookeeper version:"));
    assert!(four_letter(&addr, "cons")
        .await
        .contains("not in the whitelist"));
}
