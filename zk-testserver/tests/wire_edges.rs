//! Edges of the wire protocol where zk-testserver answers as ZooKeeper does,
//! each observed with raw-socket probes of ZooKeeper 3.8.0 (Debian's build,
//! standalone) and checked against 3.9.3 (where checkWatches reads a null
//! path as empty): old clients' handshakes, null and empty paths, bytes that are
//! not UTF-8, negative ACL counts, IPv6 `ip` ACLs, and `wchs` figures.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::*;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use zk_client::proto::*;
use zk_testserver::{Ensemble, FourLetterWords, ZkVersion};

async fn start() -> Ensemble {
    start_as(ZkVersion::default()).await
}

/// An ensemble imitating `version` where ZooKeeper releases differ.
async fn start_as(version: ZkVersion) -> Ensemble {
    Ensemble::builder()
        .zookeeper_version(version)
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

/// One ACL entry with hand-made scheme and id fields.
fn acl_of_raw(scheme: &[u8], id: &[u8]) -> Vec<u8> {
    [&1i32.to_be_bytes()[..], &31i32.to_be_bytes(), scheme, id].concat()
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

/// A hand-made request: what it is, its opcode and body, and what ZooKeeper
/// 3.8.0 answered.
type Case = (&'static str, i32, Vec<u8>, i32);

/// Sends each case on `c` and returns (name, error code) in order.
async fn run(c: &mut Raw, cases: Vec<Case>) -> Vec<(&'static str, i32)> {
    let mut out = Vec::new();
    for (i, (name, op, body, _)) in cases.into_iter().enumerate() {
        out.push((name, err_of(c, 1000 + i as i32, op, &body).await));
    }
    out
}

fn expected(cases: &[Case]) -> Vec<(&'static str, i32)> {
    cases.iter().map(|(n, _, _, want)| (*n, *want)).collect()
}

/// `version`: checkWatches with a null path fails in 3.8 only.
fn null_path_cases(version: ZkVersion) -> Vec<Case> {
    let no_watch = [0u8];
    let header = |op: i32| [&op.to_be_bytes()[..], &[0], &(-1i32).to_be_bytes()].concat();
    let end = [&(-1i32).to_be_bytes()[..], &[1], &(-1i32).to_be_bytes()].concat();
    let any = 3i32.to_be_bytes();
    let no_version = (-1i32).to_be_bytes();
    vec![
        ("getData", 4, [&NULL[..], &no_watch].concat(), -5),
        ("exists", 3, [&NULL[..], &no_watch].concat(), -5),
        ("getChildren", 8, [&NULL[..], &no_watch].concat(), -5),
        ("getChildren2", 12, [&NULL[..], &no_watch].concat(), -5),
        ("getACL", 6, NULL.to_vec(), -5),
        ("getAllChildrenNumber", 104, NULL.to_vec(), -5),
        (
            "checkWatches",
            17,
            [&NULL[..], &any].concat(),
            if version.check_watches_reads_null_path() {
                -121
            } else {
                -5
            },
        ),
        ("removeWatches", 18, [&NULL[..], &any].concat(), -121),
        ("create", 1, create_body(&NULL, &open_acl()), -5),
        ("create2", 15, create_body(&NULL, &open_acl()), -5),
        ("delete", 2, [&NULL[..], &no_version].concat(), -5),
        (
            "setData",
            5,
            [&NULL[..], &string(b"x"), &no_version].concat(),
            -8,
        ),
        (
            "setACL",
            7,
            [&NULL[..], &open_acl(), &no_version].concat(),
            -8,
        ),
        ("getEphemerals", 103, NULL.to_vec(), 0),
        (
            "create, ACL with a null scheme",
            1,
            create_body(&string(b"/u"), &acl_of_raw(&NULL, &string(b"anyone"))),
            -114,
        ),
        (
            "create, ACL with a null id",
            1,
            create_body(&string(b"/u"), &acl_of_raw(&string(b"world"), &NULL)),
            -5,
        ),
        // Inside multi and multiRead: the whole request fails.
        (
            "multi",
            14,
            [header(2), NULL.to_vec(), no_version.to_vec(), end.clone()].concat(),
            -5,
        ),
        (
            "multiRead",
            22,
            [header(4), NULL.to_vec(), vec![0], end].concat(),
            -5,
        ),
    ]
}

#[tokio::test]
async fn null_paths_fail_as_in_zookeeper() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let cases = null_path_cases(ZkVersion::default());
    let want = expected(&cases);
    assert_eq!(run(&mut c, cases).await, want);
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

fn non_utf8_cases() -> Vec<Case> {
    let bad = string(b"/\xff\xfe");
    let no_version = (-1i32).to_be_bytes();
    vec![
        ("getData", 4, [&bad[..], &[0]].concat(), -101),
        ("exists", 3, [&bad[..], &[0]].concat(), -101),
        ("getChildren", 8, [&bad[..], &[0]].concat(), -101),
        ("getACL", 6, bad.clone(), -101),
        ("delete", 2, [&bad[..], &no_version].concat(), -101),
        ("create", 1, create_body(&bad, &open_acl()), -8),
        (
            "setData",
            5,
            [&bad[..], &string(b""), &no_version].concat(),
            -8,
        ),
        (
            "create with a scheme that is not UTF-8",
            1,
            create_body(&string(b"/u"), &acl_of(b"wor\xffld", b"anyone")),
            -114,
        ),
    ]
}

#[tokio::test]
async fn paths_that_are_not_utf8_are_read_as_java_reads_them() {
    // Java decodes them with U+FFFD: reads find no such node, writes find
    // an invalid path.
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let cases = non_utf8_cases();
    let want = expected(&cases);
    assert_eq!(run(&mut c, cases).await, want);
}

fn acl_cases() -> Vec<Case> {
    let no_version = (-1i32).to_be_bytes();
    let mut cases: Vec<Case> = Vec::new();
    for (name, count) in [("count -1", -1i32), ("count -2", -2), ("count -3", -3)] {
        cases.push((
            name,
            1,
            create_body(&string(b"/n"), &count.to_be_bytes()),
            -114,
        ));
        let set_acl = [&string(b"/")[..], &count.to_be_bytes(), &no_version].concat();
        cases.push((name, 7, set_acl, -114));
    }
    for id in [
        "::1",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
        "1.2.3",
        "300.1.1.1",
    ] {
        cases.push((
            id,
            1,
            create_body(&string(b"/ip"), &acl_of(b"ip", id.as_bytes())),
            -114,
        ));
    }
    for id in ["127.0.0.1", "127.0.0.0/8", "01.2.3.4"] {
        cases.push((
            id,
            1,
            create_body(&string(b"/ip"), &acl_of(b"ip", id.as_bytes())),
            0,
        ));
        let del = [&string(b"/ip")[..], &no_version].concat();
        cases.push(("delete", 2, del, 0));
    }
    cases
}

#[tokio::test]
async fn negative_acl_counts_and_ipv6_ip_ids_are_invalid_acls() {
    let zk = start().await;
    let mut c = Raw::connect(&zk.connect_string()).await;
    let cases = acl_cases();
    let want = expected(&cases);
    assert_eq!(run(&mut c, cases).await, want);
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

/// The wchs line and mntr's zk_watch_count after each step of a scenario
/// with two (then three) connections.
async fn watch_transcript(addr: &str) -> Vec<(String, String)> {
    let mut a = Raw::connect(addr).await;
    let mut b = Raw::connect(addr).await;
    a.call(&create("/w", b"d", 0)).await;
    a.call(&create("/w/c", b"d", 0)).await;
    let mut out = vec![watch_figures(addr).await];
    a.call(&children("/w")).await;
    out.push(watch_figures(addr).await);
    a.call(&get("/w", true)).await;
    out.push(watch_figures(addr).await);
    b.call(&add_watch("/w/c", 0)).await;
    out.push(watch_figures(addr).await);
    b.call(&add_watch("/w", 1)).await;
    out.push(watch_figures(addr).await);
    b.call(&get("/w", true)).await;
    out.push(watch_figures(addr).await);
    a.call(&get("/w/c", true)).await;
    out.push(watch_figures(addr).await);
    // A data watch that fired leaves its connection counted, with no path.
    let mut d = Raw::connect(addr).await;
    d.call(&get("/w/c", true)).await;
    b.call(&set("/w/c", b"e")).await;
    let wchc = four_letter(addr, "wchc").await;
    assert!(wchc.contains(&format!("{:#x}\n", d.session_id)), "{wchc}");
    out.push((watch_figures(addr).await.0, String::new()));
    drop(d);
    drop(a);
    let closed = tokio::time::timeout(READ_TIMEOUT, async {
        loop {
            let now = watch_figures(addr).await;
            if now.0.starts_with("1 connections") {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("closed connections leave the figures");
    out.push(closed);
    drop(b);
    let mut cleanup = Raw::connect(addr).await;
    cleanup.call(&delete("/w/c")).await;
    cleanup.call(&delete("/w")).await;
    out
}

#[tokio::test]
async fn wchs_counts_what_zookeeper_counts() {
    // The figures as 3.8.0 gives them (3.9 counts a recursive watch once in
    // zk_watch_count; the conformance run compares ours with each release).
    let zk = start_as(ZkVersion::V3_8).await;
    let figures = |conns: usize, paths: usize, total: usize, count: usize| {
        (
            format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n"),
            format!("zk_watch_count\t{count}"),
        )
    };
    // Each step and its figures as ZooKeeper 3.8.0 printed them.
    let want = vec![
        figures(0, 0, 0, 0),
        figures(0, 0, 0, 1), // a child watch
        figures(1, 1, 1, 2), // + a data watch on the same path
        figures(2, 2, 2, 4), // + a persistent watch (both managers)
        figures(2, 2, 3, 6), // + a recursive one
        figures(2, 2, 3, 6), // + a data watch where b has one
        figures(2, 2, 4, 7),
        (figures(3, 2, 3, 0).0, String::new()),
        figures(1, 2, 2, 4), // a and d closed
    ];
    assert_eq!(watch_transcript(&zk.connect_string()).await, want);
}

/// Every case above, against real ZooKeeper (standalone, `ZK_CONNECT`) and
/// zk-testserver: the same answers.
#[tokio::test]
async fn the_same_as_real_zookeeper() {
    let real = match (
        std::env::var("ZK_REFERENCE").as_deref(),
        std::env::var("ZK_CONNECT"),
    ) {
        (Ok("standalone"), Ok(c)) => c,
        _ => {
            eprintln!(
                "the_same_as_real_zookeeper: no real standalone server (ZK_REFERENCE, \
                 ZK_CONNECT); compared in `scripts/conformance.sh wire-edges`"
            );
            return;
        }
    };
    let version: ZkVersion = std::env::var("ZK_REFERENCE_VERSION")
        .unwrap_or_else(|_| "3.8".into())
        .parse()
        .expect("ZK_REFERENCE_VERSION");
    let zk = start_as(version).await;
    let ours = zk.connect_string();
    for addr in [&real, &ours] {
        let mut c = Raw::connect(addr).await;
        let mut got = run(&mut c, null_path_cases(version)).await;
        got.extend(run(&mut c, non_utf8_cases()).await);
        got.extend(run(&mut c, acl_cases()).await);
        let mut want = expected(&null_path_cases(version));
        want.extend(expected(&non_utf8_cases()));
        want.extend(expected(&acl_cases()));
        assert_eq!(got, want, "{addr}");
    }
    let real_watches = watch_transcript(&real).await;
    let our_watches = watch_transcript(&ours).await;
    assert_eq!(our_watches, real_watches);
}
