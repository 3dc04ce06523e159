//! Scripted fake servers: misbehaving ones (the client reports a clear
//! error and never panics or hangs) and read-only members. These run without
//! any ZooKeeper.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zk_client::proto::{encode_record, ConnectResponse, Record, RequestHeader};
use zk_client::{Client, ErrorKind};

/// What the fake server does after a good handshake, on the first request.
#[derive(Clone, Copy)]
enum Misbehaviour {
    Garbage,
    Oversized,
    WrongXid,
    Silence,
}

async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let len = s.read_i32().await.ok()?;
    let mut buf = vec![0; usize::try_from(len).ok()?];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// Serves handshakes properly, then misbehaves. Returns its address.
async fn fake_server(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if read_frame(&mut s).await.is_none() {
                    return;
                }
                let resp = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 3000,
                    session_id: 0x77,
                    password: vec![1; 16].into(),
                    read_only: Some(false),
                };
                let _ = s.write_all(&encode_record(&resp)).await;
                while let Some(frame) = read_frame(&mut s).await {
                    let Ok(h) = RequestHeader::from_bytes(frame[..8].to_vec().into()) else {
                        return;
                    };
                    if h.xid < 0 {
                        continue;
                    }
                    let bytes: Vec<u8> = match how {
                        Misbehaviour::Garbage => vec![0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0],
                        Misbehaviour::Oversized => 0x7fff_fff0i32.to_be_bytes().to_vec(),
                        Misbehaviour::WrongXid => {
                            let mut v = vec![0, 0, 0, 16];
                            v.extend_from_slice(&(h.xid + 1000).to_be_bytes());
                            v.extend_from_slice(&1i64.to_be_bytes());
                            v.extend_from_slice(&0i32.to_be_bytes());
                            v
                        }
                        Misbehaviour::Silence => continue,
                    };
                    let _ = s.write_all(&bytes).await;
                }
            });
        }
    });
    addr.to_string()
}

async fn first_request_error(how: Misbehaviour) -> zk_client::Error {
    let addr = fake_server(how).await;
    let c = Client::builder(&addr)
        .retry(zk_client::retry::NoRetry)
        .connect()
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), c.get_data("/x"))
        .await
        .expect("no hang")
        .unwrap_err();
    c.close().await.unwrap();
    err
}

#[tokio::test]
async fn garbage_frame_is_a_clear_connection_loss() {
    let err = first_request_error(Misbehaviour::Garbage).await;
    assert!(err.is_connection_loss(), "{err}");
    assert!(err.to_string().contains("bad reply header"), "{err}");
}

#[tokio::test]
async fn oversized_frame_is_refused_before_buffering() {
    let err = first_request_error(Misbehaviour::Oversized).await;
    assert!(err.is_connection_loss(), "{err}");
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[tokio::test]
async fn out_of_order_reply_is_a_clear_connection_loss() {
    let err = first_request_error(Misbehaviour::WrongXid).await;
    assert!(err.is_connection_loss(), "{err}");
    assert!(err.to_string().contains("out of order"), "{err}");
}

#[tokio::test]
async fn silent_server_is_detected_as_dead() {
    // Negotiated 3 s: dead after 2 s of silence, then the request fails.
    let err = first_request_error(Misbehaviour::Silence).await;
    assert!(err.is_connection_loss(), "{err}");
}

#[tokio::test]
async fn garbage_handshake_never_connects_and_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s
                .write_all(&[0, 0, 0, 2, 9, 9, 0xff, 0xff, 0xff, 0xff])
                .await;
        }
    });
    let err = Client::builder(addr.to_string())
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn unreachable_ensemble_times_out() {
    // A bound but never accepting socket: connections hang in the backlog.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let err = Client::builder(format!("{addr},127.0.0.1:1"))
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap_err();
    // Timeout when the hanging member was tried last; the refusal (an I/O
    // error) when 127.0.0.1:1 was.
    assert!(
        matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Io),
        "{err}"
    );
    assert!(err.to_string().contains("completed a handshake"), "{err}");
    drop(listener);
}

#[tokio::test]
async fn a_refused_connect_says_why() {
    // A port nothing listens on: every attempt is refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = std::time::Instant::now();
    let err = Client::builder(format!("127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    let source = std::error::Error::source(&err).expect("an io::Error source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("the source is the io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{io}");
    // The message names the host; the cause is the source, not repeated.
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains(&io.to_string()), "{text}");
}

#[tokio::test]
async fn a_server_that_hangs_up_during_the_handshake_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = read_frame(&mut s).await; // then hang up without a reply
        }
    });
    let err = Client::builder(addr.to_string())
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    // The cause is the source (Display does not repeat it).
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        cause.is_some_and(|c| c.contains("closed the connection during the handshake")),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_connect_strings_are_refused() {
    for bad in [
        "",
        "h:notaport",
        "h:1/bad/",
        "not a host string",
        "a:1,b c:2",
    ] {
        // At once: no connection attempt, no waiting out the connect timeout.
        let err = tokio::time::timeout(Duration::from_millis(100), Client::connect(bad))
            .await
            .expect("refused at once")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(err.to_string().contains("connect string"), "{err}");
    }
}

/// A minimal server for the read-only switch: answers handshakes (as a
/// read-only or read-write member), `isro`, and pings; refuses connections
/// while `up` is false.
async fn member(read_only: bool, up: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next_session = if read_only { 0x100 } else { 0x200 };
        while let Ok((mut s, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                continue; // dropped: connection closed
            }
            next_session += 1;
            let session = next_session;
            tokio::spawn(async move {
                let mut first = [0u8; 4];
                if s.read_exact(&mut first).await.is_err() {
                    return;
                }
                if &first == b"isro" {
                    let _ = s.write_all(if read_only { b"ro" } else { b"rw" }).await;
                    return;
                }
                let len = i32::from_be_bytes(first) as usize;
                let mut req = vec![0; len];
                if s.read_exact(&mut req).await.is_err() {
                    return;
                }
                let resp = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 3000,
                    session_id: session,
                    password: vec![1; 16].into(),
                    read_only: Some(read_only),
                };
                let _ = s.write_all(&encode_record(&resp)).await;
                while let Some(frame) = read_frame(&mut s).await {
                    let Ok(h) = RequestHeader::from_bytes(frame[..8].to_vec().into()) else {
                        return;
                    };
                    // Reply with an empty success (pings and getChildren2-free requests).
                    let mut v = vec![0, 0, 0, 16];
                    v.extend_from_slice(&h.xid.to_be_bytes());
                    v.extend_from_slice(&1i64.to_be_bytes());
                    let err: i32 = if read_only && h.op == 2 { -119 } else { 0 };
                    v.extend_from_slice(&err.to_be_bytes());
                    let _ = s.write_all(&v).await;
                }
            });
        }
    });
    addr.to_string()
}

#[tokio::test]
async fn read_only_client_moves_to_a_read_write_member_when_one_appears() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let rw_up = Arc::new(AtomicBool::new(false));
    let ro = member(true, Arc::new(AtomicBool::new(true))).await;
    let rw = member(false, rw_up.clone()).await;
    let c = Client::builder(format!("{ro},{rw}"))
        .read_only(true)
        .retry(zk_client::retry::NoRetry)
        .connect()
        .await
        .unwrap();
    assert_eq!(c.state(), zk_client::ConnectionState::ReadOnly);
    assert_eq!(c.session_id(), 0x101);
    let err = c.delete("/x", None).await.unwrap_err();
    assert!(err.is(zk_client::ErrorCode::NotReadOnly), "{err}");
    rw_up.store(true, Ordering::SeqCst);
    let state = tokio::time::timeout(
        Duration::from_secs(20),
        c.wait_for_state(|s| s == zk_client::ConnectionState::Connected),
    )
    .await
    .expect("found the read-write member");
    assert_eq!(state, zk_client::ConnectionState::Connected);
    // The read-only member's local session is not carried over: a new one
    // from the read-write member.
    assert!(
        (0x201..0x300).contains(&c.session_id()),
        "{:#x}",
        c.session_id()
    );
    assert_eq!(c.connected_server().unwrap().to_string(), rw);
    c.delete("/x", None).await.unwrap();
}
