//! `zk-null-server`: speaks enough of the ZooKeeper client protocol for the
//! `zk-bench` workload and answers every request at once, without keeping
//! any state. Against it a benchmark measures the client, not the server.
//!
//! ```text
//! zk-null-server [--port P]     # default 0: any free port
//! ```
//!
//! Prints `127.0.0.1:<port>` on stdout once it listens, then serves until
//! SIGINT/SIGTERM. Runs on one thread.
//!
//! Answers: the handshake (a fresh session id per connection); create /
//! create2 / createContainer / createTTL (the requested path and a zero
//! stat), getData (100 bytes of `x` and a stat), setData / exists (a stat),
//! delete / sync / ping / auth / setWatches / closeSession (empty),
//! getChildren / getChildren2 (no children). Anything else gets
//! `UNIMPLEMENTED` (-6). Every read reply carries the same zxid; every write
//! reply a new one. No watch ever fires.

use std::io;
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const STAT_LEN: usize = 68;
const DATA_LEN: usize = 100;
const MAX_FRAME: usize = 16 << 20;

mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CREATE2: i32 = 15;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const CREATE_TTL: i32 = 21;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SET_WATCHES2: i32 = 105;
    pub const CLOSE_SESSION: i32 = -11;
}

const UNIMPLEMENTED: i32 = -6;

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => match args.next().and_then(|v| v.parse().ok()) {
                Some(p) => port = p,
                None => {
                    eprintln!("zk-null-server: --port needs a port number");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("Usage: zk-null-server [--port P]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("zk-null-server: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-null-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-null-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut next_session: i64 = 0x1000;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let _ = stream.set_nodelay(true);
                next_session += 1;
                let session = next_session;
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, session).await {
                        eprintln!("zk-null-server: session {session:#x}: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
        }
    }
}

/// Serves one connection: every complete frame read is answered, and all
/// answers to one read go out in one write.
async fn connection(mut stream: TcpStream, session: i64) -> io::Result<()> {
    let mut input: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut output: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut start = 0;
    let mut handshaken = false;
    let mut zxid: i64 = 1;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&buf[..n]);
        let mut close = false;
        while input.len() - start >= 4 {
            let len = be_i32(&input[start..]) as usize;
            if len > MAX_FRAME {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "frame too large",
                ));
            }
            if input.len() - start - 4 < len {
                break;
            }
            let frame = &input[start + 4..start + 4 + len];
            if handshaken {
                close |= answer(frame, &mut zxid, &mut output);
            } else {
                handshake(frame, session, &mut output);
                handshaken = true;
            }
            start += 4 + len;
        }
        input.drain(..start);
        start = 0;
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
        if close {
            return Ok(());
        }
    }
}

fn handshake(frame: &[u8], session: i64, out: &mut Vec<u8>) {
    // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, [readOnly]
    let timeout = if frame.len() >= 16 {
        be_i32(&frame[12..])
    } else {
        30_000
    };
    let mut body = Vec::with_capacity(40);
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&timeout.to_be_bytes());
    body.extend_from_slice(&session.to_be_bytes());
    body.extend_from_slice(&16i32.to_be_bytes());
    body.extend_from_slice(&[7u8; 16]);
    body.push(0);
    push_frame(out, &body);
}

/// Appends the reply to one request; returns whether to close afterwards.
fn answer(frame: &[u8], zxid: &mut i64, out: &mut Vec<u8>) -> bool {
    if frame.len() < 8 {
        return true;
    }
    let xid = be_i32(frame);
    let opcode = be_i32(&frame[4..]);
    let body = &frame[8..];
    let is_write = matches!(
        opcode,
        op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::CLOSE_SESSION
    );
    if is_write {
        *zxid += 1;
    }
    let mut reply = Vec::with_capacity(16 + STAT_LEN + DATA_LEN + 64);
    reply.extend_from_slice(&xid.to_be_bytes());
    reply.extend_from_slice(&zxid.to_be_bytes());
    let err_at = reply.len();
    reply.extend_from_slice(&0i32.to_be_bytes());
    match opcode {
        op::CREATE => put_path(&mut reply, body),
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
            put_path(&mut reply, body);
            put_stat(&mut reply, *zxid);
        }
        op::GET_DATA => {
            reply.extend_from_slice(&(DATA_LEN as i32).to_be_bytes());
            reply.extend_from_slice(&[b'x'; DATA_LEN]);
            put_stat(&mut reply, *zxid);
        }
        op::SET_DATA | op::EXISTS => put_stat(&mut reply, *zxid),
        op::GET_CHILDREN => reply.extend_from_slice(&0i32.to_be_bytes()),
        op::GET_CHILDREN2 => {
            reply.extend_from_slice(&0i32.to_be_bytes());
            put_stat(&mut reply, *zxid);
        }
        op::SYNC => put_path(&mut reply, body),
        op::DELETE
        | op::PING
        | op::AUTH
        | op::SET_WATCHES
        | op::SET_WATCHES2
        | op::CLOSE_SESSION => {}
        _ => reply[err_at..err_at + 4].copy_from_slice(&UNIMPLEMENTED.to_be_bytes()),
    }
    push_frame(out, &reply);
    opcode == op::CLOSE_SESSION
}

/// Copies the ustring at the start of `body` (a path) into the reply.
fn put_path(reply: &mut Vec<u8>, body: &[u8]) {
    if body.len() >= 4 {
        let len = be_i32(body).max(0) as usize;
        if body.len() >= 4 + len {
            reply.extend_from_slice(&body[..4 + len]);
            return;
        }
    }
    reply.extend_from_slice(&0i32.to_be_bytes());
}

fn put_stat(reply: &mut Vec<u8>, zxid: i64) {
    let mut stat = [0u8; STAT_LEN];
    stat[0..8].copy_from_slice(&zxid.to_be_bytes()); // czxid
    stat[8..16].copy_from_slice(&zxid.to_be_bytes()); // mzxid
    stat[60..68].copy_from_slice(&zxid.to_be_bytes()); // pzxid
    stat[52..56].copy_from_slice(&(DATA_LEN as i32).to_be_bytes()); // dataLength
    reply.extend_from_slice(&stat);
}

fn push_frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
