//! Server-side decoding of anything a client could send: the handshake and
//! every request body. Whatever decodes must re-encode to a frame that
//! decodes to the same request.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zk_client::proto::{decode_request, encode_record, encode_request, ConnectRequest, Record};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(req) = ConnectRequest::from_bytes(bytes.clone()) {
        let again = encode_record(&req);
        assert_eq!(ConnectRequest::from_bytes(again.slice(4..)).ok(), Some(req));
    }
    if let Ok((header, request)) = decode_request(bytes) {
        let frame = encode_request(header.xid, &request);
        let (h2, r2) = decode_request(frame.slice(4..)).expect("re-encoded request decodes");
        assert_eq!(h2.xid, header.xid);
        assert_eq!(r2, request);
    }
});
