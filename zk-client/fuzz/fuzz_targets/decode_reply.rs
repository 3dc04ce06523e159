//! Client-side decoding of anything a server could send: the handshake
//! reply, notifications, and the reply body of every opcode.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zk_client::proto::{
    decode_reply_header, ConnectResponse, OpCode, Record, Response, WatcherEvent,
};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = ConnectResponse::from_bytes(bytes.clone());
    if let Ok((_, body)) = decode_reply_header(bytes) {
        let _ = WatcherEvent::read(&mut body.clone());
        for code in -20..120 {
            if let Some(op) = OpCode::from_code(code) {
                let mut r = body.clone();
                if let Ok(resp) = Response::read_body(op, &mut r) {
                    let mut buf = bytes::BytesMut::new();
                    resp.write_body(&mut buf);
                    let mut again = zk_client::proto::Reader::new(buf.freeze());
                    assert_eq!(Response::read_body(op, &mut again).ok(), Some(resp));
                }
            }
        }
    }
});
