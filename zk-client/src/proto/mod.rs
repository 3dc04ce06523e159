//! The ZooKeeper wire protocol (jute): records, opcodes, error codes, framing.
//!
//! Pure code with no I/O, shared by the client and by `zk-testserver`. The
//! layout follows ZooKeeper's `zookeeper.jute` for 3.6–3.9.
//!
//! ```
//! use zk_client::proto::{encode_request, decode_request, Request, PathWatchRequest, FrameDecoder};
//!
//! let frame = encode_request(1, &Request::GetData(PathWatchRequest { path: "/a".into(), watch: false }));
//! let mut decoder = FrameDecoder::default();
//! decoder.extend(&frame);
//! let (header, request) = decode_request(decoder.next_frame()?.unwrap())?;
//! assert_eq!(header.xid, 1);
//! assert_eq!(request.path(), Some("/a"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acl;
mod connect;
mod create_mode;
mod error_code;
mod frame;
pub mod jute;
mod multi;
mod opcode;
pub mod path;
mod records;
mod request;
mod response;
pub mod sasl;
mod stat;
mod watch;

pub use acl::{digest_id, Acl, ClientInfo, Id, Perms};
pub use connect::{ConnectRequest, ConnectResponse, PASSWORD_LEN};
pub use create_mode::{CreateMode, MAX_TTL_MS};
pub use error_code::ErrorCode;
pub use frame::{
    decode_reply_header, decode_request, decode_request_header, encode_frame, encode_notification,
    encode_record, encode_reply, encode_request, encode_request_into, split_frame, FrameDecoder,
    FrameError, RawRequest, READ_CHUNK,
};
pub use jute::{DecodeError, Reader, Record, DEFAULT_MAX_BUFFER};
pub use multi::{allowed_in_multi, MultiResult};
pub use opcode::{xid, OpCode};
pub use records::*;
pub use request::Request;
pub use response::Response;
pub use stat::Stat;
pub use watch::{AddWatchMode, EventType, KeeperState, WatcherEvent, WatcherType};
