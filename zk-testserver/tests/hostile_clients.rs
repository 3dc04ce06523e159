//! Clients that do not play along: a reader that never reads, connections
//! that never finish a handshake, too many connections from one address, and
//! a process out of descriptors. Each is bounded the way ZooKeeper bounds it.

mod common;

use bytes::Bytes;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_client::proto::*;
use zk_testserver::{ConnectionLimits, Ensemble};

/// The `zk-testserver` binary, started with `args`; killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with(Command::new(env!("CARGO_BIN_EXE_zk-testserver")).args(args))
    }

    fn start_with(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn zk-testserver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("connect string");
        let addr = line
            .trim()
            .split(',')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(!addr.is_empty(), "zk-testserver did not start");
        Server { child, addr }
    }

    /// Resident set size, KiB (Linux).
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `Received:` count of `srvr`.
async fn received(addr: &str) -> u64 {
    let srvr = four_letter(addr, "srvr").await;
    srvr.lines()
        .find_map(|l| l.strip_prefix("Received: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Received line in {srvr:?}"))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_reader_that_never_reads_is_throttled_then_answered_in_order() {
    const REQUESTS: i32 = 4000;
    const NODE: usize = 50 * 1024;
    let server = Server::start(&[]);
    let addr = server.addr.clone();
    let mut c = Raw::connect(&addr).await;
    let big: &'static [u8] = Box::leak(vec![7u8; NODE].into_boxed_slice());
    assert_eq!(c.call(&create("/big", big, 0)).await.header.err, 0);
    let baseline = server.rss_kib();

    // Pipeline every getData (200 MB of replies) and read nothing.
    let (hs, _) = Raw::handshake(&addr, new_session(30_000)).await;
    let (mut rd, mut wr) = hs.stream.into_split();
    let mut requests = Vec::new();
    for xid in 1..=REQUESTS {
        requests.extend_from_slice(&encode_request(xid, &get("/big", false)));
    }
    let writer = tokio::spawn(async move {
        wr.write_all(&requests).await.expect("write requests");
        wr
    });
    // Until the server stops taking requests (its count stays put for a
    // second) or has taken them all, watching its memory.
    let (mut taken, mut still, mut peak) = (0, 0, 0);
    while still < 10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(server.rss_kib());
        let n = received(&addr).await;
        still = if n == taken { still + 1 } else { 0 };
        taken = n;
    }
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    println!("never-read pipeline: the server took {taken} requests and grew by {growth_mib} MiB");
    assert!(
        growth_mib < 80,
        "server grew by {growth_mib} MiB holding replies for a reader that does not read \
         (it took {taken} requests)"
    );

    // The reader reads at last: every reply, in order, complete.
    let mut decoder = FrameDecoder::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut next_xid = 1;
    while next_xid <= REQUESTS {
        while let Some(frame) = decoder.next_frame().expect("frame") {
            let (h, mut r) = decode_reply_header(frame).expect("reply header");
            assert_eq!((h.xid, h.err), (next_xid, 0), "replies in request order");
            let data = GetDataResponse::read(&mut r).expect("getData reply").data;
            assert_eq!(data.map(|d| d.len()), Some(NODE));
            next_xid += 1;
        }
        if next_xid > REQUESTS {
            break;
        }
        let n = tokio::time::timeout(READ_TIMEOUT, rd.read(&mut buf))
            .await
            .expect("reply within the read timeout")
            .expect("read");
        assert!(
            n > 0,
            "server closed the connection after {} replies",
            next_xid - 1
        );
        decoder.extend(&buf[..n]);
    }
    drop(writer.await.expect("writer"));
}

#[tokio::test]
async fn connections_without_a_handshake_are_closed_after_the_timeout() {
    let limits = ConnectionLimits {
        handshake_timeout: Duration::from_secs(1),
        ..ConnectionLimits::default()
    };
    let zk = Ensemble::builder()
        .connection_limits(limits)
        .start()
        .await
        .expect("start");
    let addr = zk.connect_string();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut partial = TcpStream::connect(&addr).await.unwrap();
    // Half a ConnectRequest: a length, then two bytes of 45.
    partial.write_all(&[0, 0, 0, 45, 0, 0]).await.unwrap();
    let mut word_prefix = TcpStream::connect(&addr).await.unwrap();
    word_prefix.write_all(b"sr").await.unwrap();
    let mut healthy = Raw::connect(&addr).await;
    for (name, s) in [
        ("silent", &mut silent),
        ("partial", &mut partial),
        ("two bytes", &mut word_prefix),
    ] {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(READ_TIMEOUT, s.read(&mut b))
            .await
            .unwrap_or_else(|_| panic!("{name} connection still open"));
        assert!(matches!(n, Ok(0) | Err(_)), "{name}: {n:?}");
    }
    // A connection that did shake hands is not touched.
    assert_eq!(healthy.call(&get("/", false)).await.header.err, 0);
}

/// Connects and shakes hands; `None` if the server resets or closes the
/// connection instead.
async fn try_session(addr: &str) -> Option<TcpStream> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(&encode_record(&new_session(10_000)))
        .await
        .ok()?;
    let mut len = [0u8; 4];
    tokio::time::timeout(READ_TIMEOUT, s.read_exact(&mut len))
        .await
        .expect("handshake reply or close")
        .ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(s)
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let zk = Ensemble::builder()
        .tick(Duration::from_millis(50))
        .max_client_cnxns(3)
        .start()
        .await
        .expect("start");
    let addr = zk.connect_string();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(try_session(&addr).await.expect("under the cap"));
    }
    assert!(try_session(&addr).await.is_none(), "a fourth is refused");
    let mut answer = Vec::new();
    // The reset may arrive before connect returns: refused all the same.
    if let Ok(mut word) = TcpStream::connect(&addr).await {
        let _ = word.write_all(b"srvr").await;
        let _ = word.read_to_end(&mut answer).await;
    }
    assert!(
        answer.is_empty(),
        "four-letter words count too, as in ZooKeeper"
    );
    // Closing one makes room (once the server has seen it close).
    drop(open.pop());
    let again = within("a slot to free up", async {
        loop {
            if let Some(s) = try_session(&addr).await {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    drop(again);
    // The default cap is ZooKeeper's 60.
    let zk = Ensemble::builder().start().await.expect("start");
    let addr = zk.connect_string();
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    assert!(try_session(&addr).await.is_none(), "61st refused");
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn accept_errors_back_off_instead_of_spinning() {
    // A process limited to 48 descriptors, flooded with connections: accept
    // fails with "Too many open files" while they are held.
    let log = std::env::temp_dir().join(format!("zk-testserver-emfile-{}.log", std::process::id()));
    let script = format!(
        "ulimit -n 48 && RUST_LOG=warn exec {} --max-client-cnxns 0 2>{}",
        env!("CARGO_BIN_EXE_zk-testserver"),
        log.display()
    );
    let server = Server::start_with(Command::new("bash").args(["-c", &script]));
    let failures = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("accept failed")
            .count()
    };
    let mut held = Vec::new();
    for _ in 0..80 {
        if let Ok(s) = TcpStream::connect(&server.addr).await {
            held.push(s);
        }
    }
    within("a failed accept", async {
        while failures() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Half a second of a full table: a busy loop logs every 10 ms.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logged = failures();
    assert!(
        logged <= 2,
        "{logged} accept failures logged in half a second"
    );
    drop(held);
    drop(server);
    let _ = std::fs::remove_file(&log);
}

#[tokio::test]
async fn session_passwords_cannot_be_derived_from_the_session_id() {
    let dir = std::env::temp_dir().join(format!("zk-secret-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let zk = Ensemble::builder()
        .tick(Duration::from_millis(50))
        .data_dir(&dir)
        .fsync(false)
        .start()
        .await
        .expect("start");
    let addr = zk.connect_string();
    let victim = Raw::connect(&addr).await;
    // What anyone who reads the id in `cons` could compute without a
    // per-ensemble secret (a fixed one, as ZooKeeper's):
    let fixed = zk_testserver::server::ServerConfig::default().secret;
    let guess = zk_testserver::server::sessions::session_password(victim.session_id, fixed);
    let take_over = ConnectRequest {
        session_id: victim.session_id,
        password: Bytes::copy_from_slice(&guess),
        ..new_session(10_000)
    };
    let (_, resp) = Raw::handshake(&addr, take_over).await;
    assert_eq!(
        resp.expect("refusal").timeout_ms,
        0,
        "derived password refused"
    );
    // The real password works, also on an ensemble restarted from the same
    // data directory (the secret is kept there).
    let (id, password) = (victim.session_id, victim.password.clone());
    drop(victim);
    drop(zk);
    let zk = Ensemble::builder()
        .tick(Duration::from_millis(50))
        .data_dir(&dir)
        .fsync(false)
        .start()
        .await
        .expect("restart");
    let again = ConnectRequest {
        session_id: id,
        password,
        ..new_session(10_000)
    };
    let (_, resp) = Raw::handshake(&zk.connect_string(), again).await;
    assert_eq!(resp.expect("reattach").session_id, id);
    drop(zk);
    let _ = std::fs::remove_dir_all(&dir);
}
