//! Edges of the wire protocol where zk-testserver answers as ZooKeeper does,
//! each observed with raw-socket probes of ZooKeeper 3.8.0 (Debian's build,
//! standalone): old clients' handshakes, null and empty paths, bytes that are
//! not UTF-8, negative ACL counts, IPv6 `ip` ACLs, and `wchs` figures.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::*;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use zk_client::proto::*;
use zk_testserver::{Ensemble, FourLetterWords};

async fn start() -> Ensemble {
    Ensemble::builder()
        .tick(Duration::from_millis(50))
        .four_letter_words(FourLetterWords::all())
        .start()
        .await
        .expect("start")
}

/// A request frame with a hand-made body.
fn frame(xid: i32, op: i32, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32(i32::try_from(body.len() + 8).unwrap());
    b.put_i32(xid);
    b.put_i32(op);
    b.put_slice(body);
    b.freeze()
}

/// Sends a hand-made request and returns the reply's error code.
async fn err_of(c: &mut Raw, xid: i32, op: i32, body: &[u8]) -> i32 {
    c.send_bytes(&frame(xid, op, body)).await;
    let f = c.next_frame().await.expect("reply");
    let (h, _) = decode_reply_header(f).expect("header");
    assert_eq!(h.xid, xid);
    h.err
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut v = i32::try_from(s.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

const NULL: [u8; 4] = [0xff; 4];

fn open_acl() -> Vec<u8> {
    let mut v = 1i32.to_be_bytes().to_vec();
    v.extend(31i32.to_be_bytes());
    v.extend(string(b"world"));
    v.extend(string(b"anyone"));
    v
}

fn create_body(path: &[u8], acl: &[u8]) -> Vec<u8> {
    [path, &string(b""), acl, &0i32.to_be_bytes()].concat()
}

fn acl_of(scheme: &[u8], id: &[u8]) -> Vec<u8> {
    [
        &1i32.to_be_bytes()[..],
        &31i32.to_be_bytes(),
        &string(scheme),
        &string(id),
    ]
    .concat()
}

#[tokio::test]
async fn an_old_client_without_the_read_only_byte_gets_a_36_byte_reply() {
    let zk = start().await;
    let addr = zk.connect_string();
    let old = ConnectRequest {
        read_only: None,
        ..new_session(10_000)
    };
    for (req, len) in [(old.clone(), 36), (new_session(10_000), 37)] {
        let mut c = Raw::open(&addr).await;
        c.send_bytes(&encode_record(&req)).await;
        let mut prefix = [0u8; 4];
        c.stream.read_exact(&mut prefix).await.unwrap();
        assert_eq!(i32::from_be_bytes(prefix), len, "{req:?}");
    }
    // A refused reattach too.
    let mut c = Raw::open(&addr).await;
    let bogus = ConnectRequest {
        session_id: 0x1234,
        password: Bytes::from_static(&[1; 16]),
        ..old
    };
    c.send_bytes(&encode_record(&bogus)).await;
    let f = c.next_frame().await.expect("refusal");
    assert_eq!(f.len(), 36);
    assert_eq!(ConnectResponse::from_bytes(f).unwrap().timeout_ms, 0);
}

#[tokio::test]
async fn null_paths_fail_as_in_zookeeper() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let no_watch = [0u8];
    let cases: Vec<(&str, i32, Vec<u8>, i32)> = vec![
        ("getData", 4, [&NULL[..], &no_watch].concat(), -5),
        ("exists", 3, [&NULL[..], &no_watch].concat(), -5),
        ("getChildren", 8, [&NULL[..], &no_watch].concat(), -5),
        ("getChildren2", 12, [&NULL[..], &no_watch].concat(), -5),
        ("getACL", 6, NULL.to_vec(), -5),
        ("getAllChildrenNumber", 104, NULL.to_vec(), -5),
        (
            "checkWatches",
            17,
            [&NULL[..], &3i32.to_be_bytes()].concat(),
            -5,
        ),
        (
            "removeWatches",
            18,
            [&NULL[..], &3i32.to_be_bytes()].concat(),
            -121,
        ),
        ("create", 1, create_body(&NULL, &open_acl()), -5),
        ("create2", 15, create_body(&NULL, &open_acl()), -5),
        (
            "delete",
            2,
            [&NULL[..], &(-1i32).to_be_bytes()].concat(),
            -5,
        ),
        (
            "setData",
            5,
            [&NULL[..], &string(b"x"), &(-1i32).to_be_bytes()].concat(),
            -8,
        ),
        (
            "setACL",
            7,
            [&NULL[..], &open_acl(), &(-1i32).to_be_bytes()].concat(),
            -8,
        ),
        ("getEphemerals", 103, NULL.to_vec(), 0),
    ];
    let mut xid = 0;
    for (name, op, body, want) in cases {
        xid += 1;
        assert_eq!(err_of(&mut c, xid, op, &body).await, want, "{name}");
    }
    // Inside multi and multiRead: the whole request fails.
    let header = |op: i32| [&op.to_be_bytes()[..], &[0], &(-1i32).to_be_bytes()].concat();
    let end = [&(-1i32).to_be_bytes()[..], &[1], &(-1i32).to_be_bytes()].concat();
    let multi = [
        header(2),
        NULL.to_vec(),
        (-1i32).to_be_bytes().to_vec(),
        end.clone(),
    ]
    .concat();
    assert_eq!(err_of(&mut c, 100, 14, &multi).await, -5, "multi");
    let multi_read = [header(4), NULL.to_vec(), vec![0], end].concat();
    assert_eq!(err_of(&mut c, 101, 22, &multi_read).await, -5, "multiRead");
}

#[tokio::test]
async fn the_empty_path_reads_the_root() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let r = c.call(&get("", false)).await;
    assert_eq!(r.header.err, 0);
    let root = c.call(&get("/", false)).await;
    assert_eq!(r.body, root.body);
    let kids = c
        .call(&Request::GetChildren(PathWatchRequest {
            path: String::new(),
            watch: true,
        }))
        .await;
    assert_eq!(
        kids.body,
        Some(Response::GetChildren(GetChildrenResponse {
            children: vec!["zookeeper".into()]
        }))
    );
    let exists = c
        .call(&Request::Exists(PathWatchRequest {
            path: String::new(),
            watch: false,
        }))
        .await;
    assert_eq!(exists.header.err, 0);
    let acl = c
        .call(&Request::GetAcl(PathRequest { path: "".into() }))
        .await;
    assert!(matches!(acl.body, Some(Response::GetAcl(ref a)) if a.acl == Acl::open_unsafe()));
    // ZooKeeper counts the keys under path + "/": for "" that includes "/".
    for (path, n) in [("/", 3), ("", 4)] {
        let r = c
            .call(&Request::GetAllChildrenNumber(PathRequest {
                path: path.into(),
            }))
            .await;
        assert_eq!(
            r.body,
            Some(Response::AllChildrenNumber(GetAllChildrenNumberResponse {
                total_number: n
            })),
            "{path:?}"
        );
    }
    // Writes still refuse it.
    assert_eq!(c.call(&set("", b"x")).await.header.err, -8);
    assert_eq!(c.call(&delete("")).await.header.err, -8);
    assert_eq!(c.call(&create("", b"", 0)).await.header.err, -8);
}

#[tokio::test]
async fn paths_that_are_not_utf8_are_read_as_java_reads_them() {
    // Java decodes them with U+FFFD: reads find no such node, writes find
    // an invalid path.
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let bad = string(b"/\xff\xfe");
    let cases: Vec<(&str, i32, Vec<u8>, i32)> = vec![
        ("getData", 4, [&bad[..], &[0]].concat(), -101),
        ("exists", 3, [&bad[..], &[0]].concat(), -101),
        ("getChildren", 8, [&bad[..], &[0]].concat(), -101),
        ("getACL", 6, bad.clone(), -101),
        (
            "delete",
            2,
            [&bad[..], &(-1i32).to_be_bytes()].concat(),
            -101,
        ),
        ("create", 1, create_body(&bad, &open_acl()), -8),
        (
            "setData",
            5,
            [&bad[..], &string(b""), &(-1i32).to_be_bytes()].concat(),
            -8,
        ),
        (
            "create with a scheme that is not UTF-8",
            1,
            create_body(&string(b"/u"), &acl_of(b"wor\xffld", b"anyone")),
            -114,
        ),
    ];
    for (i, (name, op, body, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            err_of(&mut c, i as i32 + 1, op, &body).await,
            want,
            "{name}"
        );
    }
}

#[tokio::test]
async fn negative_acl_counts_and_ipv6_ip_ids_are_invalid_acls() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let mut xid = 0;
    for count in [-1i32, -2, -3] {
        let body = create_body(&string(b"/n"), &count.to_be_bytes());
        xid += 1;
        assert_eq!(err_of(&mut c, xid, 1, &body).await, -114, "create, {count}");
        let body = [
            &string(b"/")[..],
            &count.to_be_bytes(),
            &(-1i32).to_be_bytes(),
        ]
        .concat();
        xid += 1;
        assert_eq!(err_of(&mut c, xid, 7, &body).await, -114, "setACL, {count}");
    }
    for id in [
        "::1",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
        "1.2.3",
        "300.1.1.1",
    ] {
        let body = create_body(&string(b"/ip"), &acl_of(b"ip", id.as_bytes()));
        xid += 1;
        assert_eq!(err_of(&mut c, xid, 1, &body).await, -114, "ip:{id}");
    }
    for id in ["127.0.0.1", "127.0.0.0/8", "01.2.3.4"] {
        let body = create_body(&string(b"/ip"), &acl_of(b"ip", id.as_bytes()));
        xid += 1;
        assert_eq!(err_of(&mut c, xid, 1, &body).await, 0, "ip:{id}");
        xid += 1;
        let del = [&string(b"/ip")[..], &(-1i32).to_be_bytes()].concat();
        assert_eq!(err_of(&mut c, xid, 2, &del).await, 0);
    }
}

async fn watch_figures(addr: &str) -> (String, String) {
    let wchs = four_letter(addr, "wchs").await;
    let mntr = four_letter(addr, "mntr").await;
    let count = mntr
        .lines()
        .find(|l| l.starts_with("zk_watch_count\t"))
        .unwrap_or_default()
        .to_string();
    (wchs, count)
}

fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.into(),
        mode,
    })
}

fn children(path: &str) -> Request {
    Request::GetChildren(PathWatchRequest {
        path: path.into(),
        watch: true,
    })
}

#[tokio::test]
async fn wchs_counts_what_zookeeper_counts() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut a = Raw::connect(&addr).await;
    let mut b = Raw::connect(&addr).await;
    a.call(&create("/w", b"d", 0)).await;
    a.call(&create("/w/c", b"d", 0)).await;
    let figures = |conns: usize, paths: usize, total: usize, count: usize| {
        (
            format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n"),
            format!("zk_watch_count\t{count}"),
        )
    };
    // Each step and its figures as ZooKeeper 3.8.0 printed them.
    assert_eq!(watch_figures(&addr).await, figures(0, 0, 0, 0));
    a.call(&children("/w")).await;
    assert_eq!(
        watch_figures(&addr).await,
        figures(0, 0, 0, 1),
        "child watch"
    );
    a.call(&get("/w", true)).await;
    assert_eq!(
        watch_figures(&addr).await,
        figures(1, 1, 1, 2),
        "+ data watch"
    );
    b.call(&add_watch("/w/c", 0)).await;
    assert_eq!(
        watch_figures(&addr).await,
        figures(2, 2, 2, 4),
        "+ persistent"
    );
    b.call(&add_watch("/w", 1)).await;
    assert_eq!(
        watch_figures(&addr).await,
        figures(2, 2, 3, 6),
        "+ recursive"
    );
    b.call(&get("/w", true)).await;
    assert_eq!(
        watch_figures(&addr).await,
        figures(2, 2, 3, 6),
        "+ same path"
    );
    // A data watch that fired leaves its connection counted, with no path.
    a.call(&get("/w/c", true)).await;
    assert_eq!(watch_figures(&addr).await, figures(2, 2, 4, 7));
    let mut d = Raw::connect(&addr).await;
    d.call(&get("/w/c", true)).await;
    b.call(&set("/w/c", b"e")).await;
    let wchc = four_letter(&addr, "wchc").await;
    assert!(wchc.contains(&format!("{:#x}\n", d.session_id)), "{wchc}");
    assert_eq!(watch_figures(&addr).await.0, figures(3, 2, 3, 0).0);
    drop(d);
    drop(a);
    tokio::time::timeout(READ_TIMEOUT, async {
        while watch_figures(&addr).await != figures(1, 2, 2, 4) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("closed connections leave the figures");
}
