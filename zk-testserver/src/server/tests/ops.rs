//! Operations through the whole pure pipeline: stats, sequence names,
//! validation order, multi, failed writes consuming zxids.

use super::harness::*;
use bytes::Bytes;
use zk_client::proto::*;

fn del(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set(path: &str, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"new")),
        version,
    })
}

fn get(path: &str) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

#[test]
fn stats_follow_zookeeper_rules() {
    let mut h = Harness::new();
    let mut c = h.connect();
    // createSession took zxid 1.
    assert_eq!(h.server.last_zxid(), 1);
    let r = h.call(&mut c, &create("/a", 0));
    assert_eq!(r.err(), 0);
    assert_eq!(r.header.zxid, 2);
    let s = r.stat();
    assert_eq!(
        (s.czxid, s.mzxid, s.pzxid, s.version, s.cversion),
        (2, 2, 2, 0, 0)
    );
    assert_eq!(s.ctime, h.now.wall_ms);
    assert_eq!(s.data_length, 1);
    let r = h.call(&mut c, &create("/a/s-", 2));
    assert_eq!(r.path(), "/a/s-0000000000");
    let r = h.call(&mut c, &create("/a/s-", 3));
    assert_eq!(r.path(), "/a/s-0000000001");
    assert_eq!(r.stat().ephemeral_owner, c.session);
    h.call(&mut c, &del("/a/s-0000000000", -1));
    // Stored cversion 2, one child left: visible 2*2-1 = 3; delete moved pzxid.
    let r = h.call(&mut c, &get("/a"));
    let s = r.stat();
    assert_eq!((s.cversion, s.num_children, s.pzxid), (3, 1, 5));
    // Sequence continues from the stored cversion, not the child count.
    let r = h.call(&mut c, &create("/a/s-", 2));
    assert_eq!(r.path(), "/a/s-0000000002");
    let r = h.call(&mut c, &set("/a", 0));
    let s = r.stat();
    assert_eq!((s.version, s.mzxid, s.czxid, s.data_length), (1, 7, 2, 3));
    let r = h.call(&mut c, &get("/"));
    assert_eq!(r.header.zxid, 7);
    // Container and TTL nodes report ephemeralOwner 0.
    let r = h.call(&mut c, &create("/c", 4));
    assert_eq!(r.stat().ephemeral_owner, 0);
    let r = h.call(&mut c, &create_ttl("/t", 5, 1000));
    assert_eq!(r.err(), 0);
    assert_eq!(r.stat().ephemeral_owner, 0);
}

#[test]
fn failed_writes_consume_a_zxid() {
    let mut h = Harness::new();
    let mut c = h.connect();
    let r = h.call(&mut c, &del("/missing", -1));
    assert_eq!((r.err(), r.header.zxid), (-101, 2));
    let r = h.call(&mut c, &get("/missing"));
    assert_eq!((r.err(), r.header.zxid), (-101, 2));
    let r = h.call(&mut c, &Request::Multi(vec![]));
    assert_eq!((r.err(), r.header.zxid), (0, 3));
}

#[test]
fn create_validation_order() {
    let mut cfg = crate::server::ServerConfig::with_tick(100);
    cfg.extended_types = false;
    let mut h = Harness::with_config(cfg);
    let mut c = h.connect();
    let code = |h: &mut Harness, c: &mut Client, r: Request| h.call(c, &r).err();
    // flags before everything.
    assert_eq!(code(&mut h, &mut c, create("bad", 9)), -8);
    // TTL disabled wins over a bad path.
    assert_eq!(code(&mut h, &mut c, create_ttl("bad", 5, 100)), -6);
    // path before ACL.
    assert_eq!(code(&mut h, &mut c, create_acl("bad", vec![])), -8);
    // ACL before parent.
    assert_eq!(code(&mut h, &mut c, create_acl("/x/y", vec![])), -114);
    assert_eq!(code(&mut h, &mut c, create("/x/y", 0)), -101);
    assert_eq!(code(&mut h, &mut c, create("/", 0)), -110);
    assert_eq!(code(&mut h, &mut c, create("/", 2)), 0);
    h.call(&mut c, &create("/e", 1));
    // exists before ephemeral parent.
    assert_eq!(code(&mut h, &mut c, create("/e", 0)), -110);
    assert_eq!(code(&mut h, &mut c, create("/e/x", 0)), -108);
    assert_eq!(code(&mut h, &mut c, create("/e/", 2)), -108);
    // Parent without CREATE for us.
    h.call(&mut c, &create_acl("/ro", Acl::read_unsafe()));
    assert_eq!(code(&mut h, &mut c, create_acl("/ro/x", vec![])), -114);
    assert_eq!(code(&mut h, &mut c, create("/ro/x", 0)), -102);
    // A sequential create may end in '/'.
    h.call(&mut c, &create("/p", 0));
    assert_eq!(code(&mut h, &mut c, create("/p/", 2)), 0);
    assert_eq!(code(&mut h, &mut c, create("/zookeeper/x", 0)), 0);
    assert_eq!(code(&mut h, &mut c, create("/zookeeper/config/x", 0)), -102);
}

#[test]
fn ttl_validation() {
    let mut h = Harness::new();
    let mut c = h.connect();
    let code = |h: &mut Harness, c: &mut Client, r: Request| h.call(c, &r).err();
    assert_eq!(code(&mut h, &mut c, create("/t", 5)), -8); // TTL flag via create2
    assert_eq!(code(&mut h, &mut c, create_ttl("/t", 0, 100)), -8); // ttl with non-TTL flags
    assert_eq!(code(&mut h, &mut c, create_ttl("/t", 5, 0)), -8);
    assert_eq!(
        code(&mut h, &mut c, create_ttl("/t", 5, MAX_TTL_MS + 1)),
        -8
    );
    assert_eq!(code(&mut h, &mut c, create_ttl("/t", 6, MAX_TTL_MS)), 0);
}

#[test]
fn delete_set_acl_orders() {
    let mut h = Harness::new();
    let mut c = h.connect();
    h.call(&mut c, &create("/a", 0));
    h.call(&mut c, &create("/a/b", 0));
    let code = |h: &mut Harness, c: &mut Client, r: Request| h.call(c, &r).err();
    for p in [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "nope",
        "/a\0",
    ] {
        assert_eq!(code(&mut h, &mut c, del(p, -1)), -8, "{p:?}");
    }
    assert_eq!(code(&mut h, &mut c, del("/a/", -1)), -101);
    assert_eq!(code(&mut h, &mut c, del("/x/y", -1)), -101);
    // BadVersion beats NotEmpty.
    assert_eq!(code(&mut h, &mut c, del("/a", 5)), -103);
    assert_eq!(code(&mut h, &mut c, del("/a", 0)), -111);
    assert_eq!(code(&mut h, &mut c, set("a", -1)), -8);
    assert_eq!(code(&mut h, &mut c, set("/nope", -1)), -101);
    assert_eq!(code(&mut h, &mut c, set("/a", 3)), -103);
    assert_eq!(code(&mut h, &mut c, set("/zookeeper/config", -1)), -102);
    let setacl = |p: &str, acl: Vec<Acl>, v: i32| {
        Request::SetAcl(SetAclRequest {
            path: p.into(),
            acl,
            version: v,
        })
    };
    assert_eq!(code(&mut h, &mut c, setacl("bad", vec![], -1)), -8);
    assert_eq!(code(&mut h, &mut c, setacl("/nope", vec![], -1)), -114);
    assert_eq!(
        code(&mut h, &mut c, setacl("/nope", Acl::open_unsafe(), -1)),
        -101
    );
    assert_eq!(
        code(&mut h, &mut c, setacl("/a", Acl::open_unsafe(), 4)),
        -103
    );
    let r = h.call(&mut c, &setacl("/a", Acl::read_unsafe(), 0));
    assert_eq!(r.stat().aversion, 1);
    // Now nobody has ADMIN or WRITE on /a.
    assert_eq!(
        code(&mut h, &mut c, setacl("/a", Acl::open_unsafe(), -1)),
        -102
    );
    assert_eq!(code(&mut h, &mut c, set("/a", -1)), -102);
    assert_eq!(code(&mut h, &mut c, create("/a/c", 0)), -102);
    assert_eq!(code(&mut h, &mut c, del("/a/b", -1)), -102);
}

#[test]
fn multi_is_all_or_nothing() {
    let mut h = Harness::new();
    let mut c = h.connect();
    let ops = vec![
        create("/m", 0),
        Request::Create(CreateRequest {
            path: "/m/s-".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 2,
        }),
        create("/m/s-", 2),
        set("/m", 0),
        Request::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 1,
        }),
        del("/m/s-0000000000", -1),
    ];
    let r = h.call(&mut c, &Request::Multi(ops));
    assert_eq!(r.err(), 0);
    let Some(Response::Multi(results)) = r.body else {
        panic!()
    };
    assert!(matches!(&results[1], MultiResult::Create(c) if c.path == "/m/s-0000000000"));
    // create2 inside multi answers as a plain create (ZooKeeper rebuilds
    // the op from its flags); containers answer with a stat.
    assert!(matches!(&results[2], MultiResult::Create(c) if c.path == "/m/s-0000000001"));
    assert!(matches!(&results[3], MultiResult::SetData(s) if s.stat.version == 1));
    assert_eq!(results[4], MultiResult::Check);
    assert_eq!(results[5], MultiResult::Delete);
    // All ops share one zxid.
    let r = h.call(&mut c, &get("/m"));
    assert_eq!(r.stat().czxid, r.stat().mzxid);
    let before = h.server.digest();
    let bad = vec![create("/n", 0), del("/nope", -1), create("/n2", 0)];
    let r = h.call(&mut c, &Request::Multi(bad));
    assert_eq!(r.err(), 0);
    assert_eq!(
        r.body,
        Some(Response::Multi(vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2)
        ]))
    );
    assert_eq!(h.server.digest(), before);
    assert_eq!(h.call(&mut c, &get("/n")).err(), -101);
    // multiRead: independent results.
    let r = h.call(
        &mut c,
        &Request::MultiRead(vec![
            get("/m"),
            get("/nope"),
            Request::GetChildren(PathWatchRequest {
                path: "/m".into(),
                watch: false,
            }),
        ]),
    );
    let Some(Response::Multi(results)) = r.body else {
        panic!()
    };
    assert!(matches!(results[0], MultiResult::GetData(_)));
    assert_eq!(results[1], MultiResult::Error(-101));
    assert!(
        matches!(&results[2], MultiResult::GetChildren(c) if c.children == vec!["s-0000000001"])
    );
}

#[test]
fn reads_and_misc_ops() {
    let mut h = Harness::new();
    let mut c = h.connect();
    h.call(&mut c, &create("/a", 0));
    h.call(&mut c, &create("/a/e1", 1));
    h.call(&mut c, &create("/b", 1));
    let r = h.call(
        &mut c,
        &Request::GetAllChildrenNumber(PathRequest { path: "/".into() }),
    );
    assert_eq!(
        r.body,
        Some(Response::AllChildrenNumber(GetAllChildrenNumberResponse {
            total_number: 6
        }))
    );
    let r = h.call(
        &mut c,
        &Request::GetEphemerals(PathRequest { path: "/a".into() }),
    );
    assert_eq!(
        r.body,
        Some(Response::Ephemerals(GetEphemeralsResponse {
            ephemerals: vec!["/a/e1".into()]
        }))
    );
    let r = h.call(
        &mut c,
        &Request::GetEphemerals(PathRequest { path: "/".into() }),
    );
    let Some(Response::Ephemerals(e)) = r.body else {
        panic!()
    };
    assert_eq!(e.ephemerals.len(), 2);
    let r = h.call(&mut c, &Request::WhoAmI);
    assert_eq!(
        r.body,
        Some(Response::WhoAmI(WhoAmIResponse {
            client_info: vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into()
            }]
        }))
    );
    // getConfig on a standalone server: empty data, read-only ACL.
    let r = h.call(&mut c, &get("/zookeeper/config"));
    assert!(matches!(&r.body, Some(Response::GetData(d)) if d.data.as_deref() == Some(&b""[..])));
    let r = h.call(&mut c, &Request::Sync(PathRequest { path: "/a".into() }));
    assert_eq!(
        r.body,
        Some(Response::Sync(SyncResponse { path: "/a".into() }))
    );
    let r = h.call(&mut c, &Request::Ping);
    assert_eq!((r.header.xid, r.err()), (-2, 0));
    let exists_nul = Request::Exists(PathWatchRequest {
        path: "/a\0b".into(),
        watch: false,
    });
    assert_eq!(h.call(&mut c, &exists_nul).err(), -8);
    let reconfig = Request::Reconfig(ReconfigRequest::default());
    assert_eq!(h.call(&mut c, &reconfig).err(), -123);
    // No SASL: zxid 0, OK, null token.
    let r = h.call(&mut c, &Request::Sasl(SaslPacket { token: None }));
    assert_eq!((r.header.zxid, r.err()), (0, 0));
    assert_eq!(r.body, Some(Response::Sasl(SaslPacket { token: None })));
    // Unknown watcher types and modes are marshalling errors.
    let bad = Request::RemoveWatches(WatchesRequest {
        path: "/a".into(),
        watcher_type: 9,
    });
    assert_eq!(h.call(&mut c, &bad).err(), -5);
    let bad = Request::AddWatch(AddWatchRequest {
        path: "/a".into(),
        mode: 5,
    });
    assert_eq!(h.call(&mut c, &bad).err(), -5);
}
