//! `zk-lock-floor`: lock handoffs per second with a client that does nothing
//! but the protocol. Its handoff time is the floor under what
//! `zk-lock-bench` (zk_recipes::Lock on zk-client) and kazoo take on the same
//! server.
//!
//! ```text
//! zk-lock-floor --connect HOST:PORT [--contenders 16] [--seconds 10] [--warmup 2]
//! ```
//!
//! Each contender is an OS thread with its own session on one blocking
//! socket. It runs the same lock algorithm as the recipes (an
//! ephemeral-sequential node, getChildren, a getData watch on the node just
//! ahead, getChildren again when it fires, delete to release) with requests
//! encoded by `zk_client::proto` and nothing else: no tasks, no channels, no
//! retry or loss handling, no protected names, no hold monitor. When a reply
//! or notification arrives, the thread the kernel wakes writes the next
//! request: one kernel wake-up between a packet in and the next packet out.
//! Its rate is what a client adding next to nothing to the protocol reaches
//! on the same server, a practical ceiling for any client of this algorithm.
//! Not a recipe: it handles no failure (it stops at the first error).
//!
//! Prints the same lines as `zk-lock-bench` (see
//! [`examples::lock_bench::report`]), with `client=floor`. Contender
//! `i` connects to host `i mod n` of `--connect` (`host:port`, comma
//! separated, no chroot).

use bytes::Bytes;
use clap::Parser as _;
use examples::lock_bench::{report, Acquisition, LockArgs};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zk_client::proto::{
    decode_reply_header, encode_record, encode_request, xid, Acl, ConnectRequest, ConnectResponse,
    CreateRequest, DeleteRequest, ErrorCode, FrameDecoder, PathWatchRequest, Reader, Record,
    ReplyHeader, Request, Response, WatcherEvent,
};
use zk_client::CreateMode;

/// Session timeout asked for; a contender pings when its socket is idle for
/// a third of it.
const SESSION_MS: i32 = 4000;

/// One session on a blocking socket.
struct Session {
    stream: TcpStream,
    frames: FrameDecoder,
    next_xid: i32,
    /// Paths whose watch fired while a reply was awaited.
    fired: Vec<String>,
}

impl Session {
    fn connect(host: &str) -> Result<Session, String> {
        let stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_millis(SESSION_MS as u64 / 3)))
            .map_err(|e| e.to_string())?;
        let mut s = Session {
            stream,
            frames: FrameDecoder::default(),
            next_xid: 1,
            fired: Vec::new(),
        };
        s.send(&encode_record(&ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: SESSION_MS,
            session_id: 0,
            password: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        }))?;
        let frame = s.frame()?;
        let reply = ConnectResponse::from_bytes(frame).map_err(|e| e.to_string())?;
        if reply.timeout_ms <= 0 {
            return Err("the server refused the session".into());
        }
        Ok(s)
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(frame)
            .map_err(|e| format!("write: {e}"))
    }

    /// The next frame; pings the server while the socket stays idle.
    fn frame(&mut self) -> Result<Bytes, String> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(frame) = self.frames.next_frame().map_err(|e| e.to_string())? {
                return Ok(frame);
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => self.frames.extend(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    self.send(&encode_request(xid::PING, &Request::Ping))?;
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The next message from the server: a reply, or `None` for a watch
    /// notification (its path is added to `fired`).
    fn message(&mut self) -> Result<Option<(ReplyHeader, Reader)>, String> {
        let frame = self.frame()?;
        let (header, mut body) = decode_reply_header(frame).map_err(|e| e.to_string())?;
        if header.xid != xid::NOTIFICATION {
            return Ok(Some((header, body)));
        }
        let event = WatcherEvent::read(&mut body).map_err(|e| e.to_string())?;
        self.fired.push(event.path);
        Ok(None)
    }

    /// Sends `request` and returns its reply (error code, response).
    fn call(&mut self, request: Request) -> Result<(i32, Option<Response>), String> {
        let op = request.opcode();
        let id = self.next_xid;
        self.next_xid += 1;
        self.send(&encode_request(id, &request))?;
        loop {
            let Some((header, mut body)) = self.message()? else {
                continue;
            };
            if header.xid == id {
                if header.err != 0 {
                    return Ok((header.err, None));
                }
                let response = Response::read_body(op, &mut body).map_err(|e| e.to_string())?;
                return Ok((0, Some(response)));
            } else if header.xid != xid::PING {
                return Err(format!("unexpected reply xid {}", header.xid));
            }
        }
    }

    /// Waits until the watch on `path` fires (only ping replies can arrive
    /// meanwhile: no request is outstanding).
    fn wait_fired(&mut self, path: &str) -> Result<(), String> {
        loop {
            if let Some(i) = self.fired.iter().position(|p| p == path) {
                self.fired.swap_remove(i);
                return Ok(());
            }
            self.message()?;
        }
    }
}

fn sequence(name: &str) -> u64 {
    name.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

fn check(code: i32, what: &str) -> Result<(), String> {
    if code == 0 {
        Ok(())
    } else {
        Err(format!("{what}: error {code}"))
    }
}

/// Takes the lock under `dir`; returns the path of the node that holds it.
fn acquire(s: &mut Session, dir: &str) -> Result<String, String> {
    let (code, response) = s.call(Request::Create(CreateRequest {
        path: format!("{dir}/lock-"),
        data: Some(Bytes::new()),
        acl: Acl::open_unsafe(),
        flags: CreateMode::EphemeralSequential.flags(),
    }))?;
    check(code, "create")?;
    let Some(Response::Create(created)) = response else {
        return Err("create: unexpected response".into());
    };
    let ours = created
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    loop {
        let (code, response) = s.call(Request::GetChildren(PathWatchRequest {
            path: dir.to_string(),
            watch: false,
        }))?;
        check(code, "getChildren")?;
        let Some(Response::GetChildren(list)) = response else {
            return Err("getChildren: unexpected response".into());
        };
        let mut children = list.children;
        children.sort_by_key(|c| sequence(c));
        let Some(index) = children.iter().position(|c| *c == ours) else {
            return Err("our lock node is gone".into());
        };
        if index == 0 {
            return Ok(created.path);
        }
        let ahead = format!("{dir}/{}", children[index - 1]);
        let (code, _) = s.call(Request::GetData(PathWatchRequest {
            path: ahead.clone(),
            watch: true,
        }))?;
        if code == ErrorCode::NoNode.code() {
            continue;
        }
        check(code, "getData")?;
        s.wait_fired(&ahead)?;
    }
}

/// One contender: acquisitions (started, held) inside the measured window.
fn contender(
    host: String,
    dir: Arc<String>,
    start_at: Instant,
    warm_until: Instant,
    stop_at: Instant,
) -> Result<Vec<Acquisition>, String> {
    let mut s = Session::connect(&host)?;
    std::thread::sleep(start_at.saturating_duration_since(Instant::now()));
    let mut counted = Vec::new();
    loop {
        let t0 = Instant::now();
        if t0 >= stop_at {
            break;
        }
        let path = acquire(&mut s, &dir)?;
        let t1 = Instant::now();
        let (code, _) = s.call(Request::Delete(DeleteRequest { path, version: -1 }))?;
        check(code, "delete")?;
        if t0 >= warm_until && t1 <= stop_at {
            counted.push(Acquisition {
                started: t0,
                held: t1,
                released: Instant::now(),
            });
        }
    }
    let _ = s.call(Request::CloseSession);
    Ok(counted)
}

fn run(a: LockArgs) -> Result<String, String> {
    let hosts: Vec<&str> = a.connect.split(',').filter(|h| !h.is_empty()).collect();
    if hosts.is_empty() || a.connect.contains('/') {
        return Err("--connect takes host:port[,host:port...] without a chroot".into());
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let scratch = format!("/zk-lock-floor-{}-{nanos}", std::process::id());
    let dir = format!("{scratch}/lock");
    let mut admin = Session::connect(hosts[0])?;
    for path in [&scratch, &dir] {
        let (code, _) = admin.call(Request::Create(CreateRequest {
            path: path.clone(),
            data: Some(Bytes::new()),
            acl: Acl::open_unsafe(),
            flags: CreateMode::Persistent.flags(),
        }))?;
        check(code, "create scratch")?;
    }
    let start_at = Instant::now() + Duration::from_millis(500);
    let warm_until = start_at + Duration::from_secs_f64(a.warmup);
    let stop_at = warm_until + Duration::from_secs_f64(a.seconds);
    let dir = Arc::new(dir);
    let threads: Vec<_> = (0..a.contenders)
        .map(|i| {
            let (host, dir) = (hosts[i % hosts.len()].to_string(), dir.clone());
            std::thread::spawn(move || contender(host, dir, start_at, warm_until, stop_at))
        })
        .collect();
    let mut waits = Vec::new();
    let mut failure = None;
    for t in threads {
        match t.join() {
            Ok(Ok(counted)) => waits.extend(counted),
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a contender panicked".into()),
        }
    }
    for path in [dir.as_str(), scratch.as_str()] {
        let _ = admin.call(Request::Delete(DeleteRequest {
            path: path.to_string(),
            version: -1,
        }));
    }
    let _ = admin.call(Request::CloseSession);
    if let Some(e) = failure {
        return Err(e);
    }
    let (line, breakdown) = report("floor", &a, &mut waits);
    eprintln!("{breakdown}");
    Ok(line)
}

fn main() -> std::process::ExitCode {
    match run(LockArgs::parse()) {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zk-lock-floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
