//! Read-only mode over TLS: the client, on a read-only member, probes the
//! others (`isro`) through TLS too and moves to a read-write one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zk_client::proto::{encode_record, encode_reply, ConnectResponse, ReplyHeader, Response};
use zk_client::{Client, ConnectionState, TlsConfig};
use zk_testserver::tls::{ClientAuth, TestPki};

/// A member that speaks only TLS: answers `isro`, handshakes (as a
/// read-only or read-write member, session ids from `first_session`) and
/// any request with an empty success; refuses connections while `up` is
/// false.
async fn tls_member(
    pki: &TestPki,
    read_only: bool,
    up: Arc<AtomicBool>,
    first_session: i64,
) -> String {
    let acceptor = pki.server_tls(ClientAuth::None).acceptor().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut session = first_session;
        while let Ok((tcp, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                continue;
            }
            session += 1;
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Not TLS: the probe or handshake fails, as on a real TLS port.
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut first = [0u8; 4];
                if s.read_exact(&mut first).await.is_err() {
                    return;
                }
                if &first == b"isro" {
                    let _ = s.write_all(if read_only { b"ro" } else { b"rw" }).await;
                    let _ = s.shutdown().await;
                    return;
                }
                let mut req = vec![0; i32::from_be_bytes(first).max(0) as usize];
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
                let _ = s.flush().await;
                loop {
                    let Ok(len) = s.read_i32().await else { return };
                    let mut frame = vec![0; len.max(0) as usize];
                    if s.read_exact(&mut frame).await.is_err() || frame.len() < 8 {
                        return;
                    }
                    let xid = i32::from_be_bytes(frame[..4].try_into().unwrap());
                    let hdr = ReplyHeader {
                        xid,
                        zxid: 1,
                        err: 0,
                    };
                    let _ = s.write_all(&encode_reply(&hdr, &Response::Empty)).await;
                    let _ = s.flush().await;
                }
            });
        }
    });
    addr.to_string()
}

#[tokio::test]
async fn read_only_probing_finds_a_read_write_member_over_tls() {
    let pki = TestPki::generate();
    let rw_up = Arc::new(AtomicBool::new(false));
    let ro = tls_member(&pki, true, Arc::new(AtomicBool::new(true)), 0x100).await;
    let rw = tls_member(&pki, false, rw_up.clone(), 0x200).await;
    let tls = TlsConfig::builder()
        .ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let client = Client::builder(format!("{ro},{rw}"))
        .tls(tls)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    assert_eq!(client.state(), ConnectionState::ReadOnly);
    assert_eq!(client.connected_server().unwrap().to_string(), ro);
    rw_up.store(true, Ordering::SeqCst);
    // Only an `isro` over TLS can learn that the other member is read-write.
    tokio::time::timeout(
        Duration::from_secs(20),
        client.wait_for_state(|s| s == ConnectionState::Connected),
    )
    .await
    .expect("moved to the read-write member");
    assert_eq!(client.connected_server().unwrap().to_string(), rw);
    assert!((0x201..0x300).contains(&client.session_id()));
    // A request over the new connection (the fake answers with an empty
    // success, which is what a delete expects).
    client.delete("/x", None).await.unwrap();
}
