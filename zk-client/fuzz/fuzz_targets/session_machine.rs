//! A connected client session fed arbitrary server bytes: it must never
//! panic, and every request must be answered exactly once (or still wait).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};
use zk_client::proto::{encode_record, ConnectResponse, PathWatchRequest, Request};
use zk_client::session::{Reply, ReplySink, SessionConfig, SessionMachine, WatchRequest};
use zk_client::watch::{WatchEvent, WatchKind, WatchSink};

struct Count(Rc<Cell<u32>>);
impl ReplySink for Count {
    fn complete(self, _: Result<Reply, zk_client::Error>) {
        self.0.set(self.0.get() + 1);
    }
}
struct Ignore;
impl WatchSink for Ignore {
    fn deliver(&mut self, _: WatchEvent) -> bool {
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut m: SessionMachine<Count, Ignore> = SessionMachine::new(SessionConfig::default(), now);
    m.transport_connected(now);
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 3000,
        session_id: 1,
        password: vec![0; 16].into(),
        read_only: Some(false),
    };
    m.handle_bytes(now, &encode_record(&resp));
    let done = Rc::new(Cell::new(0));
    for i in 0..4 {
        let req = Request::GetData(PathWatchRequest { path: "/a".into(), watch: i % 2 == 0 });
        let watch = (i % 2 == 0).then(|| (WatchKind::Data, WatchRequest { id: i, sink: Ignore }));
        m.submit(now, req, watch, Count(done.clone()));
    }
    for (i, chunk) in data.chunks(7).enumerate() {
        m.handle_bytes(now + Duration::from_millis(i as u64), chunk);
        while m.poll_transmit().is_some() {}
        while m.poll_event().is_some() {}
    }
    m.handle_timeout(now + Duration::from_secs(60));
    assert!(done.get() <= 4);
});
