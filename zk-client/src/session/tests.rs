//! The session machine driven by a fake clock and a scripted server: no
//! sockets, no tokio.

use super::*;
use crate::error::Error;
use crate::proto::*;
use crate::watch::{WatchEvent, WatchKind, WatchSink};
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

type Outcome = Rc<RefCell<Option<Result<Reply, Error>>>>;

struct Sink(Outcome);

impl ReplySink for Sink {
    fn complete(self, result: Result<Reply, Error>) {
        let mut slot = self.0.borrow_mut();
        assert!(slot.is_none(), "a request completed twice");
        *slot = Some(result);
    }
}

#[derive(Clone, Default)]
struct Events(Rc<RefCell<Vec<WatchEvent>>>);

struct Watcher(Events);

impl WatchSink for Watcher {
    fn deliver(&mut self, event: WatchEvent) -> bool {
        self.0 .0.borrow_mut().push(event);
        true
    }
}

type Machine = SessionMachine<Sink, Watcher>;

/// A machine plus a fake clock and a scripted server end.
struct Harness {
    m: Machine,
    now: Instant,
    server_seen: Vec<(RequestHeader, Request)>,
    decoder: FrameDecoder,
    handshakes: Vec<ConnectRequest>,
    transports: usize,
    zxid: i64,
}

const TIMEOUT: Duration = Duration::from_millis(3000);

impl Harness {
    fn new() -> Harness {
        let now = Instant::now();
        let config = SessionConfig {
            session_timeout: TIMEOUT,
            connect_timeout: Duration::from_millis(1000),
            ..SessionConfig::default()
        };
        Harness {
            m: SessionMachine::new(config, now),
            now,
            server_seen: Vec::new(),
            decoder: FrameDecoder::default(),
            handshakes: Vec::new(),
            transports: 0,
            zxid: 100,
        }
    }

    /// Moves the clock forward by `d`, firing each timer at its own instant.
    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(at) = self.m.poll_timeout() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.m.handle_timeout(self.now);
        }
        self.now = target;
    }

    /// Reads what the client wrote, as the server would.
    fn pump_client(&mut self) {
        while let Some(frame) = self.m.poll_transmit() {
            self.decoder.extend(&frame);
            while let Some(f) = self.decoder.next_frame().unwrap() {
                if self.handshakes.len() < self.connects_expected() {
                    self.handshakes.push(ConnectRequest::from_bytes(f).unwrap());
                } else {
                    self.server_seen.push(decode_request(f).unwrap());
                }
            }
        }
    }

    /// Every transport starts with one bare ConnectRequest.
    fn connects_expected(&self) -> usize {
        self.transports
    }

    fn open_transport(&mut self) {
        self.decoder = FrameDecoder::default();
        self.m.transport_connected(self.now);
        self.transports += 1;
        self.pump_client();
    }

    fn accept(&mut self, session_id: i64, timeout_ms: i32) {
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id,
            password: Bytes::from_static(&[9; 16]),
            read_only: Some(false),
        };
        let frame = encode_record(&resp);
        self.m.handle_bytes(self.now, &frame);
        self.pump_client();
    }

    fn reply(&mut self, xid: i32, err: i32, response: Response) {
        self.zxid += 1;
        let frame = encode_reply(
            &ReplyHeader {
                xid,
                zxid: self.zxid,
                err,
            },
            &response,
        );
        self.m.handle_bytes(self.now, &frame);
        self.pump_client();
    }

    fn notify(&mut self, event_type: EventType, path: &str) {
        self.zxid += 1;
        let frame = encode_notification(self.zxid, &WatcherEvent::node(event_type, path));
        self.m.handle_bytes(self.now, &frame);
    }

    fn submit(&mut self, request: Request) -> Outcome {
        let out = Outcome::default();
        self.m.submit(self.now, request, None, Sink(out.clone()));
        self.pump_client();
        out
    }

    fn submit_watch(&mut self, request: Request, kind: WatchKind, id: u64) -> (Outcome, Events) {
        let out = Outcome::default();
        let events = Events::default();
        let w = WatchRequest {
            id,
            sink: Watcher(events.clone()),
        };
        self.m
            .submit(self.now, request, Some((kind, w)), Sink(out.clone()));
        self.pump_client();
        (out, events)
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.m.poll_event()).collect()
    }

    fn last_seen(&self) -> &(RequestHeader, Request) {
        self.server_seen.last().expect("server saw a request")
    }

    fn connected(session: i64) -> Harness {
        let mut h = Harness::new();
        h.open_transport();
        h.accept(session, 3000);
        assert_eq!(
            h.events(),
            vec![SessionEvent::State(ConnectionState::Connected)]
        );
        h
    }
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch,
    })
}

fn data_reply(data: &'static [u8]) -> Response {
    Response::GetData(GetDataResponse {
        data: Some(Bytes::from_static(data)),
        stat: Stat::default(),
    })
}

#[test]
fn handshake_then_pipelined_requests_in_xid_order() {
    let mut h = Harness::new();
    assert!(h.m.wants_transport());
    h.open_transport();
    assert_eq!(h.handshakes.len(), 1);
    let hs = &h.handshakes[0];
    assert_eq!(hs.session_id, 0);
    assert_eq!(hs.timeout_ms, 3000);
    assert_eq!(hs.password.len(), 16);
    assert_eq!(hs.read_only, Some(false));
    // Submitted during the handshake: queued, sent after it.
    let a = h.submit(get("/a", false));
    assert!(h.server_seen.is_empty());
    h.accept(0x55, 2000);
    assert_eq!(h.m.session_id(), 0x55);
    assert_eq!(h.m.negotiated_timeout(), Duration::from_millis(2000));
    let b = h.submit(get("/b", false));
    assert_eq!(h.server_seen.len(), 2);
    let (xa, xb) = (h.server_seen[0].0.xid, h.server_seen[1].0.xid);
    assert!(xb > xa, "xids increase");
    h.reply(xa, 0, data_reply(b"A"));
    h.reply(xb, ErrorCode::NoNode.code(), Response::Empty);
    let a = a.borrow_mut().take().unwrap().unwrap();
    assert_eq!(a.response, data_reply(b"A"));
    assert!(b.borrow_mut().take().unwrap().unwrap_err().is_no_node());
    assert_eq!(h.m.last_zxid(), h.zxid);
}

#[test]
fn out_of_order_reply_is_a_protocol_violation_not_a_panic() {
    let mut h = Harness::connected(1);
    let a = h.submit(get("/a", false));
    let xid = h.last_seen().0.xid;
    h.reply(xid + 7, 0, data_reply(b"x"));
    let err = a.borrow_mut().take().unwrap().unwrap_err();
    assert!(err.is_connection_loss());
    assert!(err.to_string().contains("out of order"), "{err}");
    let ev = h.events();
    assert!(matches!(ev[0], SessionEvent::Disconnect(_)), "{ev:?}");
    assert!(h.m.wants_transport());
}

#[test]
fn oversized_and_garbage_frames_drop_the_connection() {
    let mut h = Harness::connected(1);
    let a = h.submit(get("/a", false));
    h.m.handle_bytes(h.now, &(0x7fff_ffffi32).to_be_bytes());
    let err = a.borrow_mut().take().unwrap().unwrap_err();
    assert!(err.is_connection_loss());
    assert!(err.to_string().contains("exceeds"), "{err}");
    assert!(h.m.wants_transport());

    let mut h = Harness::connected(1);
    let a = h.submit(get("/a", false));
    // A frame too short to hold a reply header.
    h.m.handle_bytes(h.now, &[0, 0, 0, 3, 1, 2, 3]);
    assert!(a
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .is_connection_loss());

    // A garbage handshake reply.
    let mut h = Harness::new();
    h.open_transport();
    h.m.handle_bytes(h.now, &[0, 0, 0, 2, 0xff, 0xff]);
    assert!(h.m.wants_transport());
}

#[test]
fn undecodable_body_fails_only_that_request() {
    let mut h = Harness::connected(1);
    let a = h.submit(get("/a", false));
    let b = h.submit(get("/b", false));
    let xa = h.server_seen[0].0.xid;
    let xb = h.server_seen[1].0.xid;
    // Reply header fine, body truncated (a GetDataResponse needs a stat).
    let mut bad = BytesMut::new();
    ReplyHeader {
        xid: xa,
        zxid: 5,
        err: 0,
    }
    .write(&mut bad);
    bad.extend_from_slice(&[0, 0, 0, 0]);
    let frame = encode_frame(|buf| buf.extend_from_slice(&bad));
    h.m.handle_bytes(h.now, &frame);
    h.reply(xb, 0, data_reply(b"B"));
    assert_eq!(
        a.borrow_mut().take().unwrap().unwrap_err().kind(),
        crate::ErrorKind::Protocol
    );
    assert!(b.borrow_mut().take().unwrap().is_ok());
    assert!(!h.m.wants_transport());
}

#[test]
fn pings_when_idle_and_detects_a_dead_connection() {
    let mut h = Harness::connected(1);
    // Negotiated 3000 ms: ping after 1000 ms idle.
    h.advance(Duration::from_millis(999));
    assert!(h.server_seen.is_empty());
    h.advance(Duration::from_millis(1));
    h.pump_client();
    assert_eq!(h.last_seen().0.xid, xid::PING);
    assert_eq!(h.last_seen().1, Request::Ping);
    // The server answers the ping: the connection stays up.
    h.reply(xid::PING, 0, Response::Empty);
    h.advance(Duration::from_millis(1500));
    assert!(!h.m.wants_transport());
    // The server went silent after its ping reply at 1000 ms: the
    // connection is dead 2/3 of the timeout later, at 3000 ms.
    let pending = h.submit(get("/a", false));
    h.advance(Duration::from_millis(499));
    assert!(h.events().is_empty());
    h.advance(Duration::from_millis(1));
    let ev = h.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, SessionEvent::Disconnect(r) if r.contains("no response"))),
        "{ev:?}"
    );
    assert!(ev.contains(&SessionEvent::State(ConnectionState::Suspended)));
    assert!(pending
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .is_connection_loss());
    assert!(h.m.wants_transport());
    // Unable to reach anyone until the server must have expired it: lost.
    h.advance(Duration::from_millis(999));
    assert_eq!(h.m.state(), ConnectionState::Suspended);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.m.state(), ConnectionState::Lost);
}

#[test]
fn reconnect_keeps_session_and_rearms_watches() {
    let mut h = Harness::connected(0x42);
    let (out, data_events) = h.submit_watch(get("/d", true), WatchKind::Data, 1);
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, data_reply(b"x"));
    assert!(out.borrow().as_ref().unwrap().is_ok());
    let (out, persistent) = h.submit_watch(
        Request::AddWatch(AddWatchRequest {
            path: "/p".into(),
            mode: AddWatchMode::PersistentRecursive.code(),
        }),
        WatchKind::PersistentRecursive,
        2,
    );
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, Response::AddWatch(ErrorResponse { err: 0 }));
    assert!(out.borrow().as_ref().unwrap().is_ok());
    let zxid_before = h.m.last_zxid();

    // The connection drops; a request made while disconnected waits.
    h.m.transport_closed(h.now);
    assert_eq!(
        h.events(),
        vec![SessionEvent::State(ConnectionState::Suspended)]
    );
    let queued = h.submit(get("/q", false));
    h.server_seen.clear();
    h.open_transport();
    let hs = h.handshakes.last().unwrap();
    assert_eq!(hs.session_id, 0x42, "reattaches the same session");
    assert_eq!(hs.password, Bytes::from_static(&[9; 16]));
    assert_eq!(hs.last_zxid_seen, zxid_before);
    h.accept(0x42, 3000);
    assert_eq!(
        h.events(),
        vec![SessionEvent::State(ConnectionState::Reconnected)]
    );
    // SetWatches2 (a persistent watch is present) with the last zxid, then the queued request.
    match &h.server_seen[0] {
        (hdr, Request::SetWatches2(sw)) => {
            assert_eq!(hdr.xid, xid::SET_WATCHES);
            assert_eq!(sw.relative_zxid, zxid_before);
            assert_eq!(sw.data_watches, vec!["/d".to_string()]);
            assert_eq!(sw.persistent_recursive_watches, vec!["/p".to_string()]);
        }
        other => panic!("expected SetWatches2 first, got {other:?}"),
    }
    assert_eq!(h.server_seen[1].1, get("/q", false));
    assert_eq!(
        *persistent.0.borrow(),
        vec![WatchEvent::Resync],
        "persistent watchers learn events may be missed"
    );
    assert!(data_events.0.borrow().is_empty());
    // A change made while disconnected, reported by SetWatches (zxid -1).
    let frame = encode_notification(-1, &WatcherEvent::node(EventType::NodeDataChanged, "/d"));
    h.m.handle_bytes(h.now, &frame);
    assert_eq!(data_events.0.borrow().len(), 1);
    let xid = h.server_seen[1].0.xid;
    h.reply(xid, 0, data_reply(b"q"));
    assert!(queued.borrow_mut().take().unwrap().is_ok());
}

#[test]
fn notifications_precede_the_reply_and_fire_once() {
    let mut h = Harness::connected(1);
    let (_, events) = h.submit_watch(get("/w", true), WatchKind::Data, 7);
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, data_reply(b""));
    let set = h.submit(Request::SetData(SetDataRequest {
        path: "/w".into(),
        data: None,
        version: -1,
    }));
    let xid = h.last_seen().0.xid;
    h.notify(EventType::NodeDataChanged, "/w");
    assert_eq!(events.0.borrow().len(), 1, "delivered before the reply");
    assert!(set.borrow().is_none());
    h.reply(
        xid,
        0,
        Response::Stat(StatResponse {
            stat: Stat::default(),
        }),
    );
    assert!(set.borrow().is_some());
    h.notify(EventType::NodeDataChanged, "/w");
    assert_eq!(events.0.borrow().len(), 1, "one-shot");
    assert_eq!(h.m.watcher_count(), 0);
}

#[test]
fn exists_on_missing_node_registers_exist_watch() {
    let mut h = Harness::connected(1);
    let (out, events) = h.submit_watch(
        Request::Exists(PathWatchRequest {
            path: "/later".into(),
            watch: true,
        }),
        WatchKind::Exist,
        3,
    );
    let xid = h.last_seen().0.xid;
    h.reply(xid, ErrorCode::NoNode.code(), Response::Empty);
    assert!(out.borrow_mut().take().unwrap().unwrap_err().is_no_node());
    h.notify(EventType::NodeCreated, "/later");
    assert_eq!(events.0.borrow().len(), 1);
    // A getData on a missing node registers nothing.
    let (_, events) = h.submit_watch(get("/none", true), WatchKind::Data, 4);
    let xid = h.last_seen().0.xid;
    h.reply(xid, ErrorCode::NoNode.code(), Response::Empty);
    h.notify(EventType::NodeCreated, "/none");
    assert!(events.0.borrow().is_empty());
}

#[test]
fn session_lost_when_no_server_answers_for_the_timeout() {
    let mut h = Harness::connected(9);
    let (_, events) = h.submit_watch(get("/w", true), WatchKind::Data, 1);
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, data_reply(b""));
    let heard = h.now;
    h.m.transport_closed(h.now);
    let queued = h.submit(get("/x", false));
    // Reconnect attempts keep failing (handshakes time out).
    h.advance(Duration::from_millis(1000));
    h.open_transport();
    h.advance(Duration::from_millis(1000));
    assert!(h.m.wants_transport(), "handshake timed out");
    assert_eq!(h.m.state(), ConnectionState::Suspended);
    h.advance(heard + TIMEOUT - h.now);
    assert_eq!(h.m.state(), ConnectionState::Lost);
    assert!(h
        .events()
        .contains(&SessionEvent::State(ConnectionState::Lost)));
    assert!(queued
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .is_session_expired());
    assert_eq!(*events.0.borrow(), vec![WatchEvent::Expired]);
    assert!(!h.m.wants_transport(), "lost is terminal");
    let late = h.submit(get("/y", false));
    assert!(late
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .is_session_expired());
    // A fresh session on request, keeping the zxid.
    let zxid = h.m.last_zxid();
    h.m.start_new_session(h.now);
    assert!(h.m.wants_transport());
    h.open_transport();
    let hs = h.handshakes.last().unwrap();
    assert_eq!(hs.session_id, 0);
    assert_eq!(hs.last_zxid_seen, zxid);
    h.accept(10, 3000);
    assert_eq!(h.m.state(), ConnectionState::Connected);
}

#[test]
fn server_reported_expiry_is_terminal() {
    let mut h = Harness::connected(9);
    h.m.transport_closed(h.now);
    let queued = h.submit(get("/x", false));
    h.open_transport();
    h.events();
    h.accept(0, 0);
    assert_eq!(h.m.state(), ConnectionState::Lost);
    let ev = h.events();
    assert!(
        ev.contains(&SessionEvent::State(ConnectionState::Lost)),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, SessionEvent::Disconnect(_))));
    assert!(queued
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .is_session_expired());
}

#[test]
fn auth_is_replayed_after_reconnect_and_failure_is_terminal() {
    let mut h = Harness::connected(1);
    let first = Outcome::default();
    let packet = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"u:p"),
    };
    h.m.add_auth(h.now, packet.clone(), Sink(first.clone()));
    h.pump_client();
    assert_eq!(h.last_seen().0.xid, xid::AUTH);
    h.reply(xid::AUTH, 0, Response::Empty);
    assert!(first.borrow().as_ref().unwrap().is_ok());
    h.m.transport_closed(h.now);
    h.server_seen.clear();
    h.open_transport();
    h.accept(1, 3000);
    assert_eq!(h.server_seen[0].1, Request::Auth(packet));
    // The server now rejects it.
    let pending = h.submit(get("/a", false));
    h.reply(xid::AUTH, ErrorCode::AuthFailed.code(), Response::Empty);
    assert_eq!(h.m.state(), ConnectionState::AuthFailed);
    assert_eq!(
        pending.borrow_mut().take().unwrap().unwrap_err().kind(),
        crate::ErrorKind::AuthFailed
    );
}

#[test]
fn close_waits_for_reply_then_ends() {
    let mut h = Harness::connected(1);
    let (_, events) = h.submit_watch(get("/w", true), WatchKind::Data, 1);
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, data_reply(b""));
    let closed = Outcome::default();
    h.m.close(h.now, Sink(closed.clone()));
    h.pump_client();
    assert_eq!(h.last_seen().1, Request::CloseSession);
    let after = h.submit(get("/late", false));
    assert!(after.borrow_mut().take().unwrap().unwrap_err().is_closed());
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, Response::Empty);
    assert!(closed.borrow().as_ref().unwrap().is_ok());
    assert_eq!(h.m.state(), ConnectionState::Closed);
    assert_eq!(*events.0.borrow(), vec![WatchEvent::Closed]);
    // Closing while disconnected completes at once.
    let mut h = Harness::connected(1);
    h.m.transport_closed(h.now);
    let closed = Outcome::default();
    h.m.close(h.now, Sink(closed.clone()));
    assert!(closed.borrow().as_ref().unwrap().is_ok());
    assert!(h.m.is_ended());
}

#[test]
fn a_close_ends_the_same_way_whatever_breaks_the_connection() {
    // The connection drops while the close is in flight.
    let mut h = Harness::connected(1);
    let closed = Outcome::default();
    h.m.close(h.now, Sink(closed.clone()));
    h.pump_client();
    h.m.transport_closed(h.now);
    assert!(closed.borrow().as_ref().unwrap().is_ok());
    assert_eq!(h.m.state(), ConnectionState::Closed);
    // The server answers with a reply the client cannot place: the same.
    let mut h = Harness::connected(1);
    let before = h.submit(get("/a", false));
    let closed = Outcome::default();
    h.m.close(h.now, Sink(closed.clone()));
    h.pump_client();
    let xid = h.last_seen().0.xid;
    h.reply(xid + 7, 0, Response::Empty);
    let err = before.borrow_mut().take().unwrap().unwrap_err();
    assert!(err.to_string().contains("out of order"), "{err}");
    assert!(closed.borrow().as_ref().unwrap().is_ok());
    assert_eq!(h.m.state(), ConnectionState::Closed);
}

#[test]
fn remove_watches_is_checked_locally_first() {
    let mut h = Harness::connected(1);
    let rw = |t: WatcherType| {
        Request::RemoveWatches(WatchesRequest {
            path: "/w".into(),
            watcher_type: t.code(),
        })
    };
    let none = h.submit(rw(WatcherType::Data));
    assert!(none
        .borrow_mut()
        .take()
        .unwrap()
        .unwrap_err()
        .is(ErrorCode::NoWatcher));
    assert!(h.server_seen.is_empty(), "nothing sent");
    let (_, events) = h.submit_watch(get("/w", true), WatchKind::Data, 1);
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, data_reply(b""));
    let ok = h.submit(rw(WatcherType::Data));
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, Response::Empty);
    assert!(ok.borrow_mut().take().unwrap().is_ok());
    assert_eq!(*events.0.borrow(), vec![WatchEvent::Removed]);
    assert_eq!(h.m.watcher_count(), 0);
}

#[test]
fn dropping_the_last_persistent_watcher_asks_to_unwatch() {
    let mut h = Harness::connected(1);
    let (_, _events) = h.submit_watch(
        Request::AddWatch(AddWatchRequest {
            path: "/p".into(),
            mode: 0,
        }),
        WatchKind::Persistent,
        5,
    );
    let xid = h.last_seen().0.xid;
    h.reply(xid, 0, Response::AddWatch(ErrorResponse { err: 0 }));
    h.m.remove_watcher(5);
    assert_eq!(
        h.events(),
        vec![SessionEvent::Unwatch {
            path: "/p".into(),
            watcher_type: WatcherType::Persistent
        }]
    );
}

#[test]
fn xids_wrap_before_the_special_range() {
    let mut h = Harness::connected(1);
    h.m.set_next_xid_for_test(i32::MAX - 1);
    h.submit(Request::Ping);
    h.submit(Request::Ping);
    let xids: Vec<i32> = h.server_seen.iter().map(|(hdr, _)| hdr.xid).collect();
    assert_eq!(xids, vec![i32::MAX - 1, 1]);
}

#[test]
fn attach_resumes_a_given_session() {
    let attached = |id: i64, pw: u8| {
        let now = Instant::now();
        let config = SessionConfig {
            session_timeout: TIMEOUT,
            connect_timeout: Duration::from_millis(1000),
            attach: Some((id, Bytes::from(vec![pw; 16]))),
            ..SessionConfig::default()
        };
        let mut h = Harness::new();
        h.m = SessionMachine::new(config, now);
        h.now = now;
        h
    };
    let mut h = attached(0x77, 5);
    h.open_transport();
    let hs = h.handshakes.last().expect("a handshake").clone();
    assert_eq!(hs.session_id, 0x77);
    assert_eq!(&hs.password[..], &[5; 16]);
    h.accept(0x77, 3000);
    assert_eq!(
        h.events(),
        vec![SessionEvent::State(ConnectionState::Reconnected)]
    );

    // Attaching to a dead session reports it lost.
    let mut h = attached(0x55, 5);
    h.open_transport();
    h.accept(0, 0);
    assert_eq!(h.m.state(), ConnectionState::Lost);
}

#[test]
fn a_watch_dropped_while_its_request_is_in_flight_registers_nothing() {
    let mut h = Harness::connected(1);
    // A persistent watch: the server adds it anyway, so it is removed again.
    let (_, _) = h.submit_watch(
        Request::AddWatch(AddWatchRequest {
            path: "/p".into(),
            mode: 1,
        }),
        WatchKind::PersistentRecursive,
        7,
    );
    let add_xid = h.last_seen().0.xid;
    // A one-shot watch: the server's stays until it fires; nothing local.
    let (_, _) = h.submit_watch(get("/d", true), WatchKind::Data, 8);
    let get_xid = h.last_seen().0.xid;
    h.m.remove_watcher(7);
    h.m.remove_watcher(8);
    h.reply(add_xid, 0, Response::AddWatch(ErrorResponse { err: 0 }));
    h.reply(get_xid, 0, Response::GetData(GetDataResponse::default()));
    assert_eq!(h.m.watcher_count(), 0);
    assert_eq!(h.m.in_flight(), 0);
    assert_eq!(
        h.events(),
        vec![SessionEvent::Unwatch {
            path: "/p".into(),
            watcher_type: WatcherType::PersistentRecursive
        }]
    );
}

#[test]
fn a_watch_dropped_while_its_request_is_queued_is_never_sent() {
    let mut h = Harness::new();
    let (out, _) = h.submit_watch(get("/q", true), WatchKind::Data, 9);
    assert_eq!(h.m.queued_requests(), 1);
    h.m.remove_watcher(9);
    assert_eq!(h.m.queued_requests(), 0);
    assert!(out.borrow().as_ref().is_some_and(|r| r.is_err()));
    h.open_transport();
    h.accept(1, 3000);
    assert!(h.server_seen.is_empty(), "{:?}", h.server_seen);
}

#[test]
fn another_handle_keeps_a_persistent_watch_whose_twin_was_abandoned() {
    let mut h = Harness::connected(1);
    let add = || {
        Request::AddWatch(AddWatchRequest {
            path: "/p".into(),
            mode: 0,
        })
    };
    h.submit_watch(add(), WatchKind::Persistent, 1);
    let first = h.last_seen().0.xid;
    h.reply(first, 0, Response::AddWatch(ErrorResponse { err: 0 }));
    h.submit_watch(add(), WatchKind::Persistent, 2);
    let second = h.last_seen().0.xid;
    h.m.remove_watcher(2);
    h.reply(second, 0, Response::AddWatch(ErrorResponse { err: 0 }));
    assert_eq!(h.m.watcher_count(), 1);
    assert!(
        h.events().is_empty(),
        "watcher 1 still needs the server's watch"
    );
}

/// The driver's way in: replies read straight into the machine's buffer,
/// in pieces that split frames anywhere.
#[test]
fn replies_read_into_the_machines_buffer_in_pieces() {
    let mut h = Harness::connected(1);
    let a = h.submit(get("/a", false));
    let b = h.submit(get("/b", false));
    let (xa, xb) = (h.server_seen[0].0.xid, h.server_seen[1].0.xid);
    let mut bytes = BytesMut::new();
    for (xid, data) in [(xa, b"A"), (xb, b"B")] {
        let header = ReplyHeader {
            xid,
            zxid: 7,
            err: 0,
        };
        bytes.extend_from_slice(&encode_reply(&header, &data_reply(data)));
    }
    for piece in bytes.chunks(5) {
        h.m.read_buffer().extend_from_slice(piece);
        h.m.handle_read(h.now);
    }
    let a = a.borrow_mut().take().unwrap().unwrap();
    assert_eq!(a.response, data_reply(b"A"));
    let b = b.borrow_mut().take().unwrap().unwrap();
    assert_eq!(b.response, data_reply(b"B"));
    // Bytes that arrive with no transport expected are dropped.
    h.m.transport_closed(h.now);
    h.m.read_buffer().extend_from_slice(&bytes);
    h.m.handle_read(h.now);
    assert!(h.m.read_buffer().is_empty());
}

/// The driver's way out: queued frames moved into its write buffer, whole
/// when it is empty and appended when a write is still under way.
#[test]
fn transmit_into_moves_every_queued_frame() {
    let mut h = Harness::connected(1);
    let mut out = BytesMut::new();
    let send = |h: &mut Harness, path: &str| {
        h.m.submit(h.now, get(path, false), None, Sink(Outcome::default()));
    };
    send(&mut h, "/a");
    h.m.transmit_into(&mut out);
    send(&mut h, "/b");
    send(&mut h, "/c");
    h.m.transmit_into(&mut out);
    h.m.transmit_into(&mut out);
    assert_eq!(h.m.poll_transmit(), None);
    let mut decoder = FrameDecoder::default();
    decoder.extend(&out);
    let mut paths = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        let (_, request) = decode_request(frame).unwrap();
        paths.push(request.path().unwrap().to_string());
    }
    assert_eq!(paths, ["/a", "/b", "/c"]);
}
