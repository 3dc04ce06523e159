//! Byte-exact checks against frames captured from real ZooKeeper 3.8 and its
//! Java client (`tests/fixtures/zk-3.8.0/frames.txt`): every frame, in both
//! directions, decodes completely and re-encodes to the very same bytes.

use bytes::Bytes;
use zk_client::proto::*;

struct Frame {
    from_client: bool,
    label: String,
    bytes: Bytes,
}

fn frames() -> Vec<Frame> {
    let text = include_str!("fixtures/zk-3.8.0/frames.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let dir = parts.next().expect("direction");
            let label = parts.next().expect("label").to_string();
            let hex = parts.next().expect("hex");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            Frame {
                from_client: dir == "C",
                label,
                bytes: Bytes::from(bytes),
            }
        })
        .collect()
}

fn opcode_named(name: &str) -> OpCode {
    (-20..200)
        .filter_map(OpCode::from_code)
        .find(|op| op.name() == name)
        .unwrap_or_else(|| panic!("no opcode named {name}"))
}

/// The body of a frame: everything after the 4-byte length, which must match.
fn body(f: &Frame) -> Bytes {
    let len = i32::from_be_bytes([f.bytes[0], f.bytes[1], f.bytes[2], f.bytes[3]]) as usize;
    assert_eq!(len + 4, f.bytes.len(), "length prefix of {}", f.label);
    f.bytes.slice(4..)
}

#[test]
fn client_frames_decode_and_reencode_byte_exact() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for f in frames().iter().filter(|f| f.from_client) {
        let re = if f.label == "connect" {
            let req = ConnectRequest::from_bytes(body(f)).expect("ConnectRequest");
            assert_eq!(req.read_only, Some(false));
            encode_record(&req)
        } else {
            let RawRequest { header, mut body } = decode_request_header(body(f)).unwrap();
            let op = OpCode::decode(header.op).unwrap();
            assert_eq!(op, opcode_named(&f.label));
            let req =
                Request::read_body(op, &mut body).unwrap_or_else(|e| panic!("{}: {e}", f.label));
            body.finish().unwrap_or_else(|e| panic!("{}: {e}", f.label));
            encode_request(header.xid, &req)
        };
        assert_eq!(re, f.bytes, "re-encoding {} differs", f.label);
        *checked.entry(f.label.clone()).or_default() += 1;
    }
    // Every request kind the Java client sent is covered.
    for label in [
        "connect",
        "create",
        "create2",
        "createContainer",
        "createTTL",
        "delete",
        "exists",
        "getData",
        "setData",
        "getACL",
        "setACL",
        "getChildren",
        "getChildren2",
        "sync",
        "ping",
        "multi",
        "multiRead",
        "checkWatches",
        "removeWatches",
        "auth",
        "setWatches",
        "setWatches2",
        "getEphemerals",
        "getAllChildrenNumber",
        "addWatch",
        "whoAmI",
        "closeSession",
    ] {
        assert!(checked.contains_key(label), "no {label} frame checked");
    }
}

#[test]
fn server_frames_decode_and_reencode_byte_exact() {
    let mut replies = 0;
    let mut notifications = 0;
    for f in frames().iter().filter(|f| !f.from_client) {
        let re = if f.label == "connect" {
            let resp = ConnectResponse::from_bytes(body(f)).expect("ConnectResponse");
            encode_record(&resp)
        } else if f.label == "notification" {
            let (header, mut r) = decode_reply_header(body(f)).unwrap();
            assert_eq!(header.xid, xid::NOTIFICATION);
            let event = WatcherEvent::read(&mut r).unwrap();
            r.finish().unwrap();
            event.kind().unwrap();
            notifications += 1;
            encode_notification(header.zxid, &event)
        } else {
            let op = opcode_named(f.label.strip_prefix("reply:").expect("reply label"));
            let (header, mut r) = decode_reply_header(body(f)).unwrap();
            let response = if header.err == 0 {
                Response::read_body(op, &mut r).unwrap_or_else(|e| panic!("{}: {e}", f.label))
            } else {
                Response::Empty
            };
            r.finish().unwrap_or_else(|e| panic!("{}: {e}", f.label));
            replies += 1;
            encode_reply(&header, &response)
        };
        assert_eq!(re, f.bytes, "re-encoding {} differs", f.label);
    }
    assert!(replies > 80, "{replies} replies");
    assert!(notifications > 10, "{notifications} notifications");
}

#[test]
fn failed_multi_reply_matches_the_documented_layout() {
    let f = frames()
        .into_iter()
        .filter(|f| f.label == "reply:multi")
        .nth(1)
        .expect("second multi reply (the failing one)");
    let (header, mut r) = decode_reply_header(body(&f)).unwrap();
    assert_eq!(header.err, 0, "a failed multi is reported in its results");
    let Response::Multi(results) = Response::read_body(OpCode::Multi, &mut r).unwrap() else {
        panic!("multi")
    };
    assert_eq!(
        results,
        vec![
            MultiResult::Error(0),
            MultiResult::Error(ErrorCode::BadVersion.code()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ]
    );
}
