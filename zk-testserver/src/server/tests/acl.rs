//! ACLs through the pipeline: auth, digest, super, getACL redaction.

use super::harness::*;
use bytes::Bytes;
use zk_client::proto::*;

fn auth(user_pw: &'static str) -> Request {
    Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(user_pw.as_bytes()),
    })
}

fn get_acl(path: &str) -> Request {
    Request::GetAcl(PathRequest { path: path.into() })
}

#[test]
fn digest_auth_creator_acl_and_super() {
    let mut cfg = crate::server::ServerConfig::with_tick(100);
    cfg.super_digest = Some(digest_id("super", "pw"));
    // 3.8's exists checks no ACL (3.9's: exists_checks_read_from_3_9).
    cfg.version = crate::server::ZkVersion::V3_8;
    let mut h = Harness::with_config(cfg);
    let mut alice = h.connect();
    let mut other = h.connect();
    let r = h.call(&mut alice, &auth("alice:secret"));
    assert_eq!((r.header.xid, r.header.zxid, r.err()), (-4, 0, 0));
    assert_eq!(
        h.call(&mut alice, &create_acl("/p", Acl::creator_all()))
            .err(),
        0
    );
    let r = h.call(&mut alice, &get_acl("/p"));
    let Some(Response::GetAcl(acl)) = r.body else {
        panic!()
    };
    assert_eq!(
        acl.acl,
        vec![Acl::new(Perms::ALL, Id::digest("alice", "secret"))]
    );
    // Others: no READ, no ADMIN.
    let get = Request::GetData(PathWatchRequest {
        path: "/p".into(),
        watch: false,
    });
    assert_eq!(h.call(&mut other, &get).err(), -102);
    assert_eq!(h.call(&mut other, &get_acl("/p")).err(), -102);
    // exists checks no ACL in 3.8.
    let exists = Request::Exists(PathWatchRequest {
        path: "/p".into(),
        watch: false,
    });
    assert_eq!(h.call(&mut other, &exists).err(), 0);
    // READ without ADMIN: digest hashes hidden.
    let read_only = vec![
        Acl::new(Perms::READ, Id::anyone()),
        Acl::new(Perms::ALL, Id::digest("alice", "secret")),
    ];
    h.call(&mut alice, &create_acl("/q", read_only));
    let r = h.call(&mut other, &get_acl("/q"));
    let Some(Response::GetAcl(acl)) = r.body else {
        panic!()
    };
    assert_eq!(acl.acl[1].id.id, "alice:x");
    // The superuser passes every check.
    let mut root = h.connect();
    h.call(&mut root, &auth("super:pw"));
    assert_eq!(h.call(&mut root, &get).err(), 0);
    let r = h.call(&mut root, &Request::WhoAmI);
    let Some(Response::WhoAmI(who)) = r.body else {
        panic!()
    };
    let schemes: Vec<&str> = who
        .client_info
        .iter()
        .map(|c| c.auth_scheme.as_str())
        .collect();
    // ZooKeeper's hash-set order (checked against 3.8.0 with the same ids).
    assert_eq!(schemes, vec!["digest", "super", "ip"]);
    // A bad auth scheme fails and closes.
    let (_, out) = h.send(
        &mut other,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "kerberos".into(),
            auth: Bytes::new(),
        }),
    );
    let replies = decode_for(other.conn, OpCode::Auth, out.clone());
    assert_eq!(replies[0].err(), -115);
    assert!(closed(other.conn, &out));
}

#[test]
fn ip_acl() {
    let mut h = Harness::new();
    let mut c = h.connect();
    let acl = vec![Acl::new(Perms::ALL, Id::new("ip", "127.0.0.0/8"))];
    assert_eq!(h.call(&mut c, &create_acl("/ip", acl)).err(), 0);
    let acl = vec![Acl::new(Perms::ALL, Id::new("ip", "10.0.0.1"))];
    assert_eq!(h.call(&mut c, &create_acl("/ip2", acl)).err(), 0);
    let set = |p: &str| {
        Request::SetData(SetDataRequest {
            path: p.into(),
            data: None,
            version: -1,
        })
    };
    assert_eq!(h.call(&mut c, &set("/ip")).err(), 0);
    assert_eq!(h.call(&mut c, &set("/ip2")).err(), -102);
}

#[test]
fn exists_checks_read_from_3_9() {
    let exists = |path: &str, watch: bool| {
        Request::Exists(PathWatchRequest {
            path: path.into(),
            watch,
        })
    };
    let set = Request::SetData(SetDataRequest {
        path: "/p".into(),
        data: Some(Bytes::from_static(b"x")),
        version: -1,
    });
    for version in crate::server::ZkVersion::ALL {
        let mut cfg = crate::server::ServerConfig::with_tick(100);
        cfg.version = version;
        let mut h = Harness::with_config(cfg);
        let mut alice = h.connect();
        let mut other = h.connect();
        h.call(&mut alice, &auth("alice:secret"));
        let only_alice = vec![Acl::new(Perms::ALL, Id::digest("alice", "secret"))];
        assert_eq!(h.call(&mut alice, &create_acl("/p", only_alice)).err(), 0);
        let refused = version.exists_checks_read();
        let r = h.call(&mut other, &exists("/p", true));
        assert_eq!(r.err(), if refused { -102 } else { 0 }, "{version}");
        // A missing node is NoNode either way; alice may read hers.
        assert_eq!(h.call(&mut other, &exists("/nope", false)).err(), -101);
        assert_eq!(h.call(&mut alice, &exists("/p", false)).err(), 0);
        // A refused exists leaves no watch behind (the node is opened first:
        // events are only sent to watchers that may read the node).
        let open = Request::SetAcl(SetAclRequest {
            path: "/p".into(),
            acl: Acl::open_unsafe(),
            version: -1,
        });
        assert_eq!(h.call(&mut alice, &open).err(), 0);
        let (_, out) = h.send(&mut alice, &set);
        let fired = events_for(other.conn, &out);
        assert_eq!(fired.is_empty(), refused, "{version}: {fired:?}");
    }
}
