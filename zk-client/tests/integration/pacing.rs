//! Reconnect pacing: a connection that dies right after a good handshake
//! backs off like a refused one (issue 17, point 10). The fake servers here
//! need no ZooKeeper; the clock is paused, so the windows cost no real time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use zk_client::proto::{encode_record, ConnectRequest, ConnectResponse, Record, RequestHeader};
use zk_client::{Client, ConnectionState};

/// Counts events and wakes a waiter at each.
#[derive(Default)]
struct Counter {
    n: AtomicUsize,
    changed: Notify,
}

impl Counter {
    fn bump(&self) {
        self.n.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    fn get(&self) -> usize {
        self.n.load(Ordering::SeqCst)
    }

    /// Waits until `window` has passed or the count reaches `cap`, whichever
    /// comes first, and returns the count. Event-driven: without pacing the
    /// client never lets the paused clock advance, so the cap is what ends
    /// the wait.
    async fn count_for(&self, window: Duration, cap: usize) -> usize {
        let end = Instant::now() + window;
        loop {
            let changed = self.changed.notified();
            if self.get() >= cap {
                return self.get();
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(end) => return self.get(),
            }
        }
    }
}

async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let len = s.read_i32().await.ok()?;
    let mut buf = vec![0; usize::try_from(len).ok()?];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

fn handshake_reply(session_id: i64) -> Vec<u8> {
    encode_record(&ConnectResponse {
        protocol_version: 0,
        timeout_ms: 3000,
        session_id,
        password: vec![7; 16].into(),
        read_only: Some(false),
    })
    .to_vec()
}

/// A server that completes every handshake and hangs up at once.
async fn hang_up_server(accepted: Arc<Counter>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            accepted.bump();
            if read_frame(&mut s).await.is_some() {
                let _ = s.write_all(&handshake_reply(0x51)).await;
            }
        }
    });
    addr.to_string()
}

#[tokio::test(start_paused = true)]
async fn connections_that_die_right_after_the_handshake_back_off() {
    let accepted = Arc::new(Counter::default());
    let addr = hang_up_server(accepted.clone()).await;
    let client = Client::builder(addr)
        .session_timeout(Duration::from_secs(3))
        .connect()
        .await
        .unwrap();
    // Without pacing this client reconnected tens of thousands of times in
    // 10 s; with it the pauses double to 1 s after a few tries.
    let n = accepted.count_for(Duration::from_secs(10), 500).await;
    assert!(n <= 40, "{n} connections in 10 s");
    assert!(n >= 5, "the client keeps trying: {n}");
    drop(client);
}

/// A server that, like ZooKeeper, serves a session on one connection at a
/// time: a handshake for a session closes the connection that held it.
/// Pings are answered.
async fn one_connection_per_session_server(accepted: Arc<Counter>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder: Arc<Mutex<Option<oneshot::Sender<()>>>> = Arc::default();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            accepted.bump();
            let holder = holder.clone();
            tokio::spawn(async move {
                let Some(frame) = read_frame(&mut s).await else {
                    return;
                };
                let Ok(request) = ConnectRequest::from_bytes(frame.into()) else {
                    return;
                };
                let session = if request.session_id == 0 {
                    0x52
                } else {
                    request.session_id
                };
                let (kill, killed) = oneshot::channel();
                if let Some(previous) = holder.lock().unwrap().replace(kill) {
                    let _ = previous.send(());
                }
                if s.write_all(&handshake_reply(session)).await.is_err() {
                    return;
                }
                let serve = async {
                    while let Some(frame) = read_frame(&mut s).await {
                        let Ok(h) = RequestHeader::from_bytes(frame[..8].to_vec().into()) else {
                            return;
                        };
                        let mut reply = vec![0, 0, 0, 16];
                        reply.extend_from_slice(&h.xid.to_be_bytes());
                        reply.extend_from_slice(&1i64.to_be_bytes());
                        reply.extend_from_slice(&0i32.to_be_bytes());
                        if s.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = killed => {}
                }
            });
        }
    });
    addr.to_string()
}

/// Counts the state changes of `client` into `flips`.
fn count_states(client: &Client, flips: Arc<Counter>) {
    let mut states = client.state_stream();
    tokio::spawn(async move {
        use futures::StreamExt;
        states.next().await; // the current state
        while let Some(s) = states.next().await {
            if s == ConnectionState::Closed {
                return;
            }
            flips.bump();
        }
    });
}

#[tokio::test(start_paused = true)]
async fn two_clients_sharing_a_session_do_not_flip_flop() {
    let accepted = Arc::new(Counter::default());
    let addr = one_connection_per_session_server(accepted.clone()).await;
    let builder = || Client::builder(&addr).session_timeout(Duration::from_secs(3));
    let a = builder().connect().await.unwrap();
    let b = builder()
        .attach_session(a.session_id(), a.session_password())
        .connect()
        .await
        .unwrap();
    let flips = Arc::new(Counter::default());
    count_states(&a, flips.clone());
    count_states(&b, flips.clone());
    // Each handshake takes the session from the other client. Unpaced,
    // the two flipped tens of thousands of times in 5 s; real ZooKeeper's
    // Java clients pause up to 1 s before each reconnect (about 90 flips).
    let n = flips.count_for(Duration::from_secs(5), 2000).await;
    assert!(n <= 80, "{n} state changes in 5 s");
    assert!(accepted.get() <= 40, "{} connections", accepted.get());
    drop((a, b));
}
