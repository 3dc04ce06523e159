//! Sessions: negotiation, states, reattaching, expiry.

use crate::common::within;
use crate::ns;
use futures::StreamExt;
use std::time::Duration;
use zk_client::{ConnectionState, CreateMode, ErrorKind, WatchEvent};

#[tokio::test]
async fn timeout_is_negotiated_within_tick_bounds() {
    let ns = ns!();
    let short = ns
        .builder()
        .session_timeout(Duration::from_millis(1))
        .connect()
        .await
        .unwrap();
    let long = ns
        .builder()
        .session_timeout(Duration::from_secs(3600))
        .connect()
        .await
        .unwrap();
    assert!(short.session_timeout() > Duration::from_millis(1));
    assert!(long.session_timeout() < Duration::from_secs(3600));
    if let Some(tick) = ns.target.tick {
        assert_eq!(short.session_timeout(), tick * 2);
        assert_eq!(long.session_timeout(), tick * 20);
    }
    assert_ne!(short.session_id(), 0);
    assert_ne!(short.session_id(), long.session_id());
}

#[tokio::test]
async fn state_stream_reports_connected_then_closed() {
    let ns = ns!();
    let c = ns.client().await;
    assert_eq!(c.state(), ConnectionState::Connected);
    assert!(c.connected_server().is_some());
    let mut states = c.state_stream();
    assert_eq!(states.next().await, Some(ConnectionState::Connected));
    c.close().await.unwrap();
    assert_eq!(
        within("closed", states.next()).await,
        Some(ConnectionState::Closed)
    );
    assert_eq!(c.get_data("/").await.unwrap_err().kind(), ErrorKind::Closed);
    // Closing twice is fine.
    c.close().await.unwrap();
}

#[tokio::test]
async fn another_client_can_take_over_a_session() {
    let ns = ns!();
    // The first client is cut off before the second attaches, as a crashed
    // process would be. (Two live clients on one session take it from each
    // other: each handshake makes the server close the other's connection.)
    let (proxy, builder) = ns.proxied_builder().await;
    let a = builder.connect().await.unwrap();
    a.create("/eph", "", CreateMode::Ephemeral).await.unwrap();
    proxy.refuse();
    // A wrong password is refused as expired, and the session lives on.
    let err = ns
        .builder()
        .attach_session(a.session_id(), vec![0u8; 16])
        .connect()
        .await
        .unwrap_err();
    assert!(err.is_session_expired(), "{err}");
    let b = ns
        .builder()
        .attach_session(a.session_id(), a.session_password())
        .connect()
        .await
        .unwrap();
    assert_eq!(b.session_id(), a.session_id());
    let (_, st) = b.get_data("/eph").await.unwrap();
    assert_eq!(st.ephemeral_owner, b.session_id());
}

#[tokio::test]
async fn expiry_is_reported_and_terminal_then_a_new_session_can_start() {
    let ns = ns!();
    let a = ns
        .builder()
        .renew_session_on_expiry(false)
        .connect()
        .await
        .unwrap();
    let observer = ns.client().await;
    a.create("/eph", "", CreateMode::Ephemeral).await.unwrap();
    let (_, _, watch) = a.get_data_watch("/eph").await.unwrap();
    let persistent = a
        .add_watch("/", zk_client::AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let (_, gone) = observer.exists_watch("/eph").await.unwrap();
    let old_id = a.session_id();
    ns.expire(&a).await;
    within("ephemeral deleted", gone).await;
    assert_eq!(a.state(), ConnectionState::Lost);
    // The session's own ephemeral deletion may be reported before the
    // connection closes; either way the watch ends.
    match within("watch end", watch).await {
        WatchEvent::Expired => {}
        WatchEvent::Node(e) => assert_eq!(e.event_type, zk_client::EventType::NodeDeleted),
        other => panic!("{other:?}"),
    }
    let tail: Vec<WatchEvent> = within("stream end", persistent.collect::<Vec<_>>()).await;
    assert_eq!(tail.last(), Some(&WatchEvent::Expired));
    let err = a.get_data("/").await.unwrap_err();
    assert!(err.is_session_expired(), "{err}");
    a.start_new_session().await.unwrap();
    assert_ne!(a.session_id(), old_id);
    assert_eq!(a.state(), ConnectionState::Connected);
    a.get_data("/").await.unwrap();
}

#[tokio::test]
async fn renewing_client_starts_a_new_session_by_itself() {
    let ns = ns!();
    // The default: what a long-running service needs.
    let a = ns.client().await;
    assert!(a.renews_session_on_expiry());
    let old_id = a.session_id();
    let mut states = a.state_stream();
    ns.expire(&a).await;
    let mut seen = Vec::new();
    within("renewal", async {
        while let Some(s) = states.next().await {
            seen.push(s);
            if s == ConnectionState::Connected && seen.contains(&ConnectionState::Lost) {
                break;
            }
        }
    })
    .await;
    assert_ne!(a.session_id(), old_id);
    a.create("/after", "", CreateMode::Ephemeral).await.unwrap();
}
