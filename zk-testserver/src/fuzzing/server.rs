//! Arbitrary client frames into a member machine.

use crate::member::{Effect, MemberConfig, MemberMachine};
use crate::server::{ConnId, ConnOutput, ServerConfig};
use crate::storage::{MemoryStorage, Recovered, Storage};
use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use zk_client::proto::{
    decode_reply_header, digest_id, encode_record, encode_request, xid, Acl, AuthPacket,
    ConnectRequest, ConnectResponse, CreateRequest, FrameDecoder, Id, PathWatchRequest, Perms,
    Record, Request, Response, DEFAULT_MAX_BUFFER,
};

const GOOD: ConnId = 1;
const FUZZ: ConnId = 2;
const USER: &str = "keeper";
const PASSWORD: &str = "not-in-any-corpus-7f3a";

/// A standalone member with two connections: a well-behaved session that
/// made a node only it may touch, and a connection fed the input as a byte
/// stream (framed as the client port frames it: seeds are real ZooKeeper
/// frames). The member must never panic, and afterwards the well-behaved
/// session must still be served, with its node intact.
pub fn server_requests(data: &[u8]) {
    let mut h = Harness::new();
    h.good_session();
    h.feed(FUZZ, data);
    h.m.handle_client_closed(FUZZ);
    h.settle();
    // The other session is unaffected.
    h.take(GOOD);
    let get = Request::GetData(PathWatchRequest {
        path: "/guarded".into(),
        watch: false,
    });
    match h.call(GOOD, 7, &get) {
        Some((0, Some(Response::GetData(d)))) => {
            assert_eq!(d.data.as_deref(), Some(&b"intact"[..]), "node changed");
        }
        other => panic!("the well-behaved session was harmed: {other:?}"),
    }
    assert!(
        !h.closed.contains(&GOOD),
        "the well-behaved connection closed"
    );
}

/// Inputs for the other targets, made by replaying client frames (the
/// `server_requests` seeds) through a standalone member: the transactions it
/// logged, its snapshot, and data-directory files holding them. Used to seed
/// the corpora of `txn_decode`, `snapshot_decode` and `storage_files`.
pub fn derived_seeds(frames: &[Vec<u8>]) -> Vec<(&'static str, Vec<u8>)> {
    let mut h = Harness::new();
    h.good_session();
    // Each input on a connection of its own, as the fuzz target feeds it
    // (one that ends its connection does not cut the others short).
    for (conn, input) in (FUZZ..).zip(frames) {
        h.feed(conn, input);
        h.m.handle_client_closed(conn);
        h.settle();
    }
    let recovered = match h.disk.recover() {
        Ok(r) => r,
        Err(e) => panic!("memory storage: {e}"),
    };
    let mut out: Vec<(&'static str, Vec<u8>)> = recovered
        .log
        .iter()
        .map(|e| ("txn_decode", e.payload.to_vec()))
        .collect();
    let snapshot = h.m.server().database().snapshot();
    out.push(("snapshot_decode", snapshot.to_vec()));
    let mut segment = vec![0u8];
    segment.extend(crate::storage::files::write_segment(
        0,
        &recovered.log,
        &[1, 3, 2],
    ));
    out.push(("storage_files", segment));
    let mut snap_file = vec![1u8];
    snap_file.extend(crate::storage::files::write_snapshot(
        &crate::storage::Snapshot {
            zxid: h.m.last_zxid(),
            data: snapshot.into(),
        },
    ));
    out.push(("storage_files", snap_file));
    let mut epochs = vec![2u8];
    epochs.extend(crate::storage::files::write_epochs(recovered.epochs));
    out.push(("storage_files", epochs));
    out
}

struct Harness {
    m: MemberMachine,
    disk: MemoryStorage,
    now: Instant,
    out: Vec<(ConnId, ConnOutput)>,
    closed: Vec<ConnId>,
}

impl Harness {
    fn new() -> Harness {
        let now = Instant::now();
        let config = MemberConfig::standalone(ServerConfig::with_tick(100));
        let m = match MemberMachine::new(config, Recovered::default(), now, 1_700_000_000_000) {
            Ok(m) => m,
            Err(e) => panic!("standalone member: {e}"),
        };
        let mut h = Harness {
            m,
            disk: MemoryStorage::new(),
            now,
            out: Vec::new(),
            closed: Vec::new(),
        };
        h.settle();
        h
    }

    /// Opens `conn` and feeds it `data` as the client port would: framed,
    /// with timers run now and then, until the data ends, a frame length is
    /// bad, or the member closes the connection.
    fn feed(&mut self, conn: ConnId, data: &[u8]) {
        self.open(conn);
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_BUFFER);
        decoder.extend(data);
        let mut frames = 0u32;
        while let Ok(Some(frame)) = decoder.next_frame() {
            frames += 1;
            if frames % 16 == 0 {
                // Let timers run now and then (ticks, expiry checks).
                self.now += Duration::from_millis(5);
                self.m.handle_timeout(self.now);
                self.settle();
            }
            if self.closed.contains(&conn) {
                break;
            }
            self.m.handle_client_frame(self.now, conn, frame);
            self.settle();
        }
    }

    fn open(&mut self, conn: ConnId) {
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000 + conn as u16));
        self.m.handle_client_open(conn, peer);
    }

    /// Carries out effects (storage at once) and collects client outputs.
    fn settle(&mut self) {
        loop {
            let mut appended = None;
            while let Some(e) = self.m.poll_effect() {
                let r = match e {
                    Effect::Append(entries) => {
                        appended = entries.last().map(|e| e.zxid).or(appended);
                        self.disk.append(&entries)
                    }
                    Effect::Truncate(z) => self.disk.truncate_after(z),
                    Effect::SaveEpochs(e) => self.disk.save_epochs(e),
                    Effect::SaveSnapshot(s) => self.disk.save_snapshot(&s),
                    Effect::InstallSnapshot(s) => self.disk.install_snapshot(&s),
                    Effect::Send { .. } | Effect::Crash(_) | Effect::Pause { .. } => Ok(()),
                    Effect::Halt(reason) => panic!("the member halted: {reason}"),
                };
                if let Err(e) = r {
                    panic!("storage refused an effect: {e}");
                }
            }
            while let Some((conn, o)) = self.m.poll_client() {
                if o == ConnOutput::Close {
                    self.closed.push(conn);
                    self.m.handle_client_closed(conn);
                }
                self.out.push((conn, o));
            }
            match appended {
                Some(z) => {
                    if let Err(e) = self.disk.flush() {
                        panic!("flush: {e}");
                    }
                    self.m.persisted(self.now, z);
                }
                None => return,
            }
        }
    }

    /// The frames sent to `conn` so far (without length prefixes).
    fn take(&mut self, conn: ConnId) -> Vec<Bytes> {
        let mut mine = Vec::new();
        self.out.retain(|(c, o)| {
            if *c != conn {
                return true;
            }
            if let ConnOutput::Frame(f) = o {
                mine.push(f.slice(4.min(f.len())..));
            }
            false
        });
        mine
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) {
        self.m
            .handle_client_frame(self.now, conn, frame.slice(4.min(frame.len())..));
        self.settle();
    }

    /// Sends a request and returns (err, body) of its reply.
    fn call(&mut self, conn: ConnId, x: i32, req: &Request) -> Option<(i32, Option<Response>)> {
        self.send(conn, encode_request(x, req));
        for f in self.take(conn) {
            let Ok((h, mut body)) = decode_reply_header(f) else {
                continue;
            };
            if h.xid != x {
                continue;
            }
            if h.err != 0 {
                return Some((h.err, None));
            }
            return Some((0, Response::read_body(req.opcode(), &mut body).ok()));
        }
        None
    }

    /// A session that authenticates and creates `/guarded` with an ACL
    /// only it satisfies.
    fn good_session(&mut self) {
        self.open(GOOD);
        let hs = ConnectRequest {
            timeout_ms: 20_000,
            password: Bytes::from_static(&[0; 16]),
            ..Default::default()
        };
        self.send(GOOD, encode_record(&hs));
        let ok = self.take(GOOD).first().is_some_and(|f| {
            ConnectResponse::from_bytes(f.clone()).is_ok_and(|r| r.timeout_ms > 0)
        });
        assert!(ok, "handshake of the well-behaved session");
        let auth = Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from(format!("{USER}:{PASSWORD}")),
        });
        self.send(GOOD, encode_request(xid::AUTH, &auth));
        self.take(GOOD);
        let create = Request::Create(CreateRequest {
            path: "/guarded".into(),
            data: Some(Bytes::from_static(b"intact")),
            acl: vec![Acl::new(
                Perms::ALL,
                Id {
                    scheme: "digest".into(),
                    id: digest_id(USER, PASSWORD),
                },
            )],
            flags: 0,
        });
        let r = self.call(GOOD, 1, &create);
        assert!(matches!(r, Some((0, _))), "create /guarded: {r:?}");
    }
}
