//! A minimal raw-frame client for integration tests, built on the shared
//! codec (`zk_client::proto`). Test-only: no reconnects, no pipelining logic
//! beyond what a test spells out.
#![allow(dead_code)]

use bytes::Bytes;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_client::proto::*;

/// How long any single read may take before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub mod cluster;

pub struct Raw {
    pub stream: TcpStream,
    decoder: FrameDecoder,
    pub session_id: i64,
    pub password: Bytes,
    pub timeout_ms: i32,
    xid: i32,
}

#[derive(Debug)]
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Option<Response>,
    pub events: Vec<WatcherEvent>,
}

pub fn new_session(timeout_ms: i32) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id: 0,
        password: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    }
}

impl Raw {
    pub async fn open(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Raw {
            stream,
            decoder: FrameDecoder::default(),
            session_id: 0,
            password: Bytes::new(),
            timeout_ms: 0,
            xid: 0,
        }
    }

    /// Opens a connection and completes a handshake with `req`.
    pub async fn handshake(addr: &str, req: ConnectRequest) -> (Raw, Option<ConnectResponse>) {
        let mut raw = Raw::open(addr).await;
        raw.send_bytes(&encode_record(&req)).await;
        let resp = raw
            .next_frame()
            .await
            .map(|f| ConnectResponse::from_bytes(f).expect("connect response"));
        if let Some(r) = &resp {
            raw.session_id = r.session_id;
            raw.password = r.password.clone();
            raw.timeout_ms = r.timeout_ms;
        }
        (raw, resp)
    }

    /// A new session.
    pub async fn connect(addr: &str) -> Raw {
        let (raw, resp) = Raw::handshake(addr, new_session(10_000)).await;
        assert!(resp.expect("handshake reply").timeout_ms > 0);
        raw
    }

    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.stream.write_all(b).await.expect("write");
    }

    /// Sends a request with the next xid (or the special one); returns the xid.
    pub async fn send(&mut self, req: &Request) -> i32 {
        self.xid += 1;
        let xid = match req {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            Request::SetWatches(_) | Request::SetWatches2(_) => xid::SET_WATCHES,
            _ => self.xid,
        };
        self.send_bytes(&encode_request(xid, req)).await;
        xid
    }

    /// The next frame, or `None` once the server closed the connection.
    pub async fn next_frame(&mut self) -> Option<Bytes> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(f) = self.decoder.next_frame().expect("frame") {
                return Some(f);
            }
            let n = tokio::time::timeout(READ_TIMEOUT, self.stream.read(&mut buf))
                .await
                .expect("read timed out");
            match n {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.extend(&buf[..n]),
            }
        }
    }

    /// Reads frames until a reply (notifications before it are collected).
    pub async fn reply(&mut self, op: OpCode) -> Option<Reply> {
        let mut events = Vec::new();
        loop {
            let f = self.next_frame().await?;
            let (header, mut r) = decode_reply_header(f).expect("reply header");
            if header.xid == xid::NOTIFICATION {
                events.push(WatcherEvent::read(&mut r).expect("event"));
                continue;
            }
            let body = if header.err == 0 {
                Some(Response::read_body(op, &mut r).expect("body"))
            } else {
                None
            };
            return Some(Reply {
                header,
                body,
                events,
            });
        }
    }

    pub async fn call(&mut self, req: &Request) -> Reply {
        let xid = self.send(req).await;
        let r = self.reply(req.opcode()).await.expect("connection closed");
        assert_eq!(r.header.xid, xid, "reply out of order");
        r
    }

    /// Whether the server closes the connection (reads until EOF).
    pub async fn closed(&mut self) -> bool {
        while self.next_frame().await.is_some() {}
        true
    }
}

pub fn create(path: &str, data: &'static [u8], flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        acl: Acl::open_unsafe(),
        flags,
    })
}

pub fn get(path: &str, watch: bool) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch,
    })
}

pub fn set(path: &str, data: &'static [u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        version: -1,
    })
}

pub fn delete(path: &str) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version: -1,
    })
}

/// Sends a four-letter word and returns the whole answer.
pub async fn four_letter(addr: &str, word: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(READ_TIMEOUT, s.read_to_string(&mut out))
        .await
        .expect("4lw timed out")
        .expect("4lw read");
    out
}
