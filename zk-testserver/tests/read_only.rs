//! Read-only mode: a member cut off from its quorum serves read-only
//! sessions (`readonlymode.enabled`), as ZooKeeper's ReadOnlyZooKeeperServer
//! does: what it admits, what it refuses with NotReadOnly, what `isro` and
//! `srvr` say, and how clients move back to a read-write member.

mod common;

use bytes::Bytes;
use common::cluster::{builder, within};
use common::{four_letter, new_session, Raw};
use std::time::Duration;
use zk_client::proto::{ConnectRequest, CreateRequest, PathRequest, PathWatchRequest, Request};
use zk_client::{Acl, Client, ConnectionState, CreateMode, ErrorCode, Op};
use zk_testserver::{Ensemble, FourLetterWords};

const GRACE: Duration = Duration::from_millis(200);

async fn three_read_only() -> Ensemble {
    builder(3)
        .read_only_grace(GRACE)
        .four_letter_words(FourLetterWords::all())
        .start()
        .await
        .expect("start")
}

async fn wait_read_only(zk: &Ensemble, member: u64, on: bool) {
    let what = if on { "read-only" } else { "not read-only" };
    zk.wait_for_status(what, |all| all[member as usize - 1].read_only == on)
        .await
        .expect("read-only status");
}

fn read_only_session() -> ConnectRequest {
    ConnectRequest {
        read_only: Some(true),
        ..new_session(4_000)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_member_serves_reads_and_refuses_writes() {
    let zk = three_read_only().await;
    let writer = common::cluster::client(&zk).await;
    writer
        .create("/ro", "v1", CreateMode::Persistent)
        .await
        .unwrap();
    let global = Raw::connect(&zk.addr(1).unwrap().to_string()).await;
    zk.wait_until_converged().await.unwrap();
    zk.partition(&[&[1, 2], &[3]]);
    wait_read_only(&zk, 3, true).await;
    let addr = zk.addr(3).unwrap().to_string();

    assert_eq!(four_letter(&addr, "isro").await, "ro");
    let srvr = four_letter(&addr, "srvr").await;
    assert!(srvr.contains("Mode: read-only\n"), "{srvr}");
    // A client that does not allow read-only mode is closed unanswered.
    let (_, refused) = Raw::handshake(&addr, new_session(4_000)).await;
    assert!(refused.is_none());
    // A global session (created through the quorum, known to member 3)
    // cannot reattach here.
    let reattach = ConnectRequest {
        session_id: global.session_id,
        password: global.password.clone(),
        ..read_only_session()
    };
    let (_, refused) = Raw::handshake(&addr, reattach).await;
    assert!(refused.is_none(), "global session reattached read-only");
    // A read-only client gets a new local session flagged read-only, and
    // can reattach to it.
    let (first, resp) = Raw::handshake(&addr, read_only_session()).await;
    let resp = resp.expect("read-only handshake answered");
    drop(first);
    let again = ConnectRequest {
        session_id: resp.session_id,
        password: resp.password.clone(),
        ..read_only_session()
    };
    let (_, resumed) = Raw::handshake(&addr, again).await;
    assert_eq!(
        resumed.expect("local session reattached").read_only,
        Some(true)
    );
    let (mut raw, resp) = Raw::handshake(&addr, read_only_session()).await;
    let resp = resp.expect("read-only handshake answered");
    assert_eq!(resp.read_only, Some(true));
    assert!(resp.timeout_ms > 0 && resp.session_id != 0);
    let get = Request::GetData(PathWatchRequest {
        path: "/ro".into(),
        watch: true,
    });
    assert_eq!(raw.call(&get).await.header.err, 0);
    // Writes, sync, multi and check are refused in request order.
    let create = Request::Create(CreateRequest {
        path: "/x".into(),
        data: Some(Bytes::new()),
        acl: Acl::open_unsafe(),
        flags: 0,
    });
    let sync = Request::Sync(PathRequest { path: "/".into() });
    for req in [&create, &sync] {
        let r = raw.call(req).await;
        assert_eq!(r.header.err, ErrorCode::NotReadOnly.code(), "{req:?}");
    }
    let r = raw.call(&get).await;
    assert_eq!(r.header.err, 0);
    // closeSession is answered, then the connection closes.
    let close = raw.call(&Request::CloseSession).await;
    assert_eq!(close.header.err, 0);
    assert!(raw.next_frame().await.is_none());

    // The real client: ReadOnly state, reads served, writes NotReadOnly.
    let ro = Client::builder(addr.clone())
        .read_only(true)
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    assert_eq!(ro.state(), ConnectionState::ReadOnly);
    assert_eq!(ro.get_data("/ro").await.unwrap().0.as_ref(), b"v1");
    for err in [
        ro.create("/y", "", CreateMode::Persistent)
            .await
            .unwrap_err(),
        ro.set_data("/ro", "v2", None).await.unwrap_err(),
        ro.delete("/ro", None).await.unwrap_err(),
        ro.multi(vec![Op::check("/ro", Some(0))]).await.unwrap_err(),
        ro.sync("/").await.unwrap_err(),
    ] {
        assert!(err.is(ErrorCode::NotReadOnly), "{err}");
    }
    // The majority keeps writing meanwhile; the cut-off member is stale.
    writer.set_data("/ro", "v2", None).await.unwrap();
    assert_eq!(ro.get_data("/ro").await.unwrap().0.as_ref(), b"v1");

    // Healed: the member rejoins, closes its read-only connections, and the
    // client (which never saw a read-write server) gets a new read-write
    // session there.
    let first = ro.session_id();
    zk.heal();
    wait_read_only(&zk, 3, false).await;
    within(
        "read-write session",
        ro.wait_for_state(|s| s == ConnectionState::Connected),
    )
    .await;
    assert_ne!(ro.session_id(), first);
    zk.wait_for_serving(3).await.unwrap();
    ro.sync("/").await.unwrap();
    assert_eq!(ro.get_data("/ro").await.unwrap().0.as_ref(), b"v2");
    ro.create("/y", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(four_letter(&addr, "isro").await, "rw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_client_moves_to_a_read_write_member() {
    let zk = three_read_only().await;
    common::cluster::client(&zk)
        .await
        .create("/m", "v1", CreateMode::Persistent)
        .await
        .unwrap();
    zk.wait_until_converged().await.unwrap();
    // Only member 3 runs: it turns read-only, the client lands there.
    zk.partition(&[&[1, 2], &[3]]);
    zk.kill(1).await.unwrap();
    zk.kill(2).await.unwrap();
    wait_read_only(&zk, 3, true).await;
    let ro = Client::builder(zk.connect_string())
        .read_only(true)
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    assert_eq!(ro.state(), ConnectionState::ReadOnly);
    assert_eq!(ro.connected_server(), Some(zk.addr(3).unwrap()));
    assert_eq!(ro.get_data("/m").await.unwrap().0.as_ref(), b"v1");
    // Members 1 and 2 come back as a quorum; member 3 stays cut off and
    // read-only. The client finds a read-write member and moves there.
    zk.restart(1).await.unwrap();
    zk.restart(2).await.unwrap();
    zk.wait_for_quorum().await.unwrap();
    within(
        "read-write member",
        ro.wait_for_state(|s| s == ConnectionState::Connected),
    )
    .await;
    let server = ro.connected_server().expect("connected");
    assert_ne!(server, zk.addr(3).unwrap());
    ro.set_data("/m", "v2", None).await.unwrap();
    assert_eq!(
        four_letter(&zk.addr(3).unwrap().to_string(), "isro").await,
        "ro"
    );
}
