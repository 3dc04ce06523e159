//! A deterministic driver for [`Server`] in unit tests: fake clock, in-memory
//! connections, replies decoded with the shared codec. Replication is the
//! trivial one: every proposal is committed at once, every sync is done.

use crate::server::{Database, Mode, ConnOutput, Server, ServerConfig, Submission, Time};
use bytes::Bytes;
use std::net::SocketAddr;
use zk_client::proto::{
    encode_record, encode_request, Acl, ConnectRequest, ConnectResponse, CreateRequest,
    CreateTtlRequest, EventType, OpCode, Reader, Record, ReplyHeader, Request, Response, Stat,
    WatcherEvent,
};

pub struct Harness {
    pub server: Server,
    pub now: Time,
    next_conn: u64,
    pub config: ServerConfig,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub conn: u64,
    pub session: i64,
    pub password: Bytes,
    xid: i32,
}

#[derive(Debug)]
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Option<Response>,
    /// Notifications that came before the reply on this connection.
    pub events: Vec<(EventType, String, i64)>,
}

impl Reply {
    pub fn err(&self) -> i32 {
        self.header.err
    }
    pub fn stat(&self) -> Stat {
        match &self.body {
            Some(Response::Stat(s)) => s.stat.clone(),
            Some(Response::Create2(c)) => c.stat.clone(),
            Some(Response::GetData(d)) => d.stat.clone(),
            Some(Response::GetChildren2(c)) => c.stat.clone(),
            other => panic!("no stat in {other:?}"),
        }
    }
    pub fn path(&self) -> String {
        match &self.body {
            Some(Response::Create(c)) => c.path.clone(),
            Some(Response::Create2(c)) => c.path.clone(),
            other => panic!("no path in {other:?}"),
        }
    }
}

pub fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

pub fn create(path: &str, flags: i32) -> Request {
    Request::Create2(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl: Acl::open_unsafe(),
        flags,
    })
}

pub fn create_acl(path: &str, acl: Vec<Acl>) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: None,
        acl,
        flags: 0,
    })
}

pub fn create_ttl(path: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(CreateTtlRequest {
        path: path.into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags,
        ttl,
    })
}

impl Harness {
    pub fn new() -> Harness {
        let mut c = ServerConfig::with_tick(100);
        c.extended_types = true;
        Harness::with_config(c)
    }

    pub fn with_config(config: ServerConfig) -> Harness {
        let now = Time {
            wall_ms: 1_700_000_000_000,
            mono_ms: 1_000,
        };
        let mut server = Server::new(config.clone(), Database::default(), now);
        server.start_serving(Mode::Prepare, 0, now);
        Harness {
            server,
            now,
            next_conn: 1,
            config,
        }
    }

    /// Commits every proposal and completes every sync barrier.
    pub fn replicate(&mut self) -> Vec<crate::storage::LogEntry> {
        let mut committed = Vec::new();
        while let Some(s) = self.server.poll_submission() {
            match s {
                Submission::Propose(entry) => {
                    committed.push(entry.clone());
                    self.server.apply_committed(entry, self.now);
                }
                Submission::Sync(token) => self.server.sync_done(token, self.now),
                Submission::Forward(w) => panic!("a preparing server forwarded {w:?}"),
            }
        }
        committed
    }

    /// All outputs, grouped per connection in order.
    pub fn drain(&mut self) -> Vec<(u64, ConnOutput)> {
        self.replicate();
        let mut v = Vec::new();
        while let Some(o) = self.server.poll_output() {
            v.push(o);
        }
        v
    }

    pub fn open(&mut self) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        self.server.open_connection(id, peer());
        id
    }

    pub fn frame(&mut self, conn: u64, frame: Bytes) -> Vec<(u64, ConnOutput)> {
        self.server.handle_frame(conn, frame.slice(4..), self.now);
        self.drain()
    }

    pub fn handshake(&mut self, conn: u64, req: ConnectRequest) -> (Option<ConnectResponse>, bool) {
        let out = self.frame(conn, encode_record(&req));
        let mut resp = None;
        let mut closed = false;
        for (c, o) in out {
            if c != conn {
                continue;
            }
            match o {
                ConnOutput::Frame(f) => resp = Some(ConnectResponse::from_bytes(f.slice(4..)).unwrap()),
                ConnOutput::Close => closed = true,
            }
        }
        (resp, closed)
    }

    pub fn connect(&mut self) -> Client {
        let conn = self.open();
        let (resp, closed) = self.handshake(
            conn,
            ConnectRequest {
                timeout_ms: 1000,
                password: Bytes::from_static(&[0; 16]),
                read_only: Some(false),
                ..Default::default()
            },
        );
        assert!(!closed);
        let resp = resp.unwrap();
        Client {
            conn,
            session: resp.session_id,
            password: resp.password,
            xid: 0,
        }
    }

    /// Sends a request; returns the outputs of every connection.
    pub fn send(&mut self, c: &mut Client, req: &Request) -> (i32, Vec<(u64, ConnOutput)>) {
        c.xid += 1;
        let xid = match req {
            Request::Ping => -2,
            Request::Auth(_) => -4,
            Request::SetWatches(_) | Request::SetWatches2(_) => -8,
            _ => c.xid,
        };
        let out = self.frame(c.conn, encode_request(xid, req));
        (xid, out)
    }

    pub fn call(&mut self, c: &mut Client, req: &Request) -> Reply {
        let op = req.opcode();
        let (_, out) = self.send(c, req);
        let replies = decode_for(c.conn, op, out);
        replies.into_iter().last().expect("no reply")
    }
}

/// Decodes a connection's outputs: replies with the notifications before each.
pub fn decode_for(conn: u64, op: OpCode, out: Vec<(u64, ConnOutput)>) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut events = Vec::new();
    for (c, o) in out {
        if c != conn {
            continue;
        }
        let ConnOutput::Frame(f) = o else { continue };
        let mut r = Reader::new(f.slice(4..));
        let header = ReplyHeader::read(&mut r).unwrap();
        if header.xid == -1 {
            let e = WatcherEvent::read(&mut r).unwrap();
            events.push((e.kind().unwrap(), e.path, header.zxid));
            continue;
        }
        let body = if header.err == 0 {
            Some(Response::read_body(op, &mut r).unwrap())
        } else {
            None
        };
        replies.push(Reply {
            header,
            body,
            events: std::mem::take(&mut events),
        });
    }
    replies
}

/// Notifications sent to `conn` in `out`.
pub fn events_for(conn: u64, out: &[(u64, ConnOutput)]) -> Vec<(EventType, String)> {
    let mut v = Vec::new();
    for (c, o) in out {
        if *c != conn {
            continue;
        }
        let ConnOutput::Frame(f) = o else { continue };
        let mut r = Reader::new(f.slice(4..));
        let header = ReplyHeader::read(&mut r).unwrap();
        if header.xid == -1 {
            let e = WatcherEvent::read(&mut r).unwrap();
            v.push((e.kind().unwrap(), e.path));
        }
    }
    v
}

pub fn closed(conn: u64, out: &[(u64, ConnOutput)]) -> bool {
    out.iter().any(|(c, o)| *c == conn && *o == ConnOutput::Close)
}
