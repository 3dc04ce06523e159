//! Typed requests: one variant per opcode, with their bodies.

use super::jute::{DecodeError, Reader, Record};
use super::multi;
use super::opcode::OpCode;
use super::records::*;
use bytes::BytesMut;

/// A request body together with the opcode that frames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create (reply: path).
    Create(CreateRequest),
    /// create2 (reply: path and stat).
    Create2(CreateRequest),
    /// createContainer.
    CreateContainer(CreateRequest),
    /// createTTL.
    CreateTtl(CreateTtlRequest),
    /// delete.
    Delete(DeleteRequest),
    /// exists.
    Exists(PathWatchRequest),
    /// getData.
    GetData(PathWatchRequest),
    /// setData.
    SetData(SetDataRequest),
    /// getACL.
    GetAcl(PathRequest),
    /// setACL.
    SetAcl(SetAclRequest),
    /// getChildren.
    GetChildren(PathWatchRequest),
    /// getChildren2.
    GetChildren2(PathWatchRequest),
    /// sync.
    Sync(PathRequest),
    /// ping (no body).
    Ping,
    /// check (only valid inside multi).
    Check(CheckVersionRequest),
    /// multi: write ops applied atomically.
    Multi(Vec<Request>),
    /// multiRead: reads answered together.
    MultiRead(Vec<Request>),
    /// reconfig.
    Reconfig(ReconfigRequest),
    /// checkWatches.
    CheckWatches(WatchesRequest),
    /// removeWatches.
    RemoveWatches(WatchesRequest),
    /// deleteContainer (server-internal).
    DeleteContainer(PathRequest),
    /// auth (xid -4).
    Auth(AuthPacket),
    /// setWatches (xid -8).
    SetWatches(SetWatches),
    /// sasl.
    Sasl(SaslPacket),
    /// getEphemerals.
    GetEphemerals(PathRequest),
    /// getAllChildrenNumber.
    GetAllChildrenNumber(PathRequest),
    /// setWatches2 (xid -8).
    SetWatches2(SetWatches2),
    /// addWatch.
    AddWatch(AddWatchRequest),
    /// whoAmI (no body).
    WhoAmI,
    /// closeSession (no body).
    CloseSession,
}

impl Request {
    /// The opcode that frames this request.
    pub fn opcode(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// The path the request is about, if it has one.
    pub fn path(&self) -> Option<&str> {
        Some(match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => &r.path,
            Request::CreateTtl(r) => &r.path,
            Request::Delete(r) => &r.path,
            Request::Exists(r)
            | Request::GetData(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => &r.path,
            Request::SetData(r) => &r.path,
            Request::GetAcl(r)
            | Request::Sync(r)
            | Request::DeleteContainer(r)
            | Request::GetEphemerals(r)
            | Request::GetAllChildrenNumber(r) => &r.path,
            Request::SetAcl(r) => &r.path,
            Request::Check(r) => &r.path,
            Request::CheckWatches(r) | Request::RemoveWatches(r) => &r.path,
            Request::AddWatch(r) => &r.path,
            _ => return None,
        })
    }

    /// Appends the body (without the request header).
    pub fn write_body(&self, buf: &mut BytesMut) {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.write(buf),
            Request::CreateTtl(r) => r.write(buf),
            Request::Delete(r) => r.write(buf),
            Request::Exists(r)
            | Request::GetData(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => r.write(buf),
            Request::SetData(r) => r.write(buf),
            Request::GetAcl(r)
            | Request::Sync(r)
            | Request::DeleteContainer(r)
            | Request::GetEphemerals(r)
            | Request::GetAllChildrenNumber(r) => r.write(buf),
            Request::SetAcl(r) => r.write(buf),
            Request::Check(r) => r.write(buf),
            Request::Multi(ops) | Request::MultiRead(ops) => multi::write_ops(ops, buf),
            Request::Reconfig(r) => r.write(buf),
            Request::CheckWatches(r) | Request::RemoveWatches(r) => r.write(buf),
            Request::Auth(r) => r.write(buf),
            Request::SetWatches(r) => r.write(buf),
            Request::Sasl(r) => r.write(buf),
            Request::SetWatches2(r) => r.write(buf),
            Request::AddWatch(r) => r.write(buf),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }

    /// Reads the body of a request of type `op` (the server side).
    pub fn read_body(op: OpCode, r: &mut Reader) -> Result<Request, DecodeError> {
        Ok(match op {
            OpCode::Create => Request::Create(CreateRequest::read(r)?),
            OpCode::Create2 => Request::Create2(CreateRequest::read(r)?),
            OpCode::CreateContainer => Request::CreateContainer(CreateRequest::read(r)?),
            OpCode::CreateTtl => Request::CreateTtl(CreateTtlRequest::read(r)?),
            OpCode::Delete => Request::Delete(DeleteRequest::read(r)?),
            OpCode::Exists => Request::Exists(PathWatchRequest::read(r)?),
            OpCode::GetData => Request::GetData(PathWatchRequest::read(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest::read(r)?),
            OpCode::GetAcl => Request::GetAcl(PathRequest::read(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest::read(r)?),
            OpCode::GetChildren => Request::GetChildren(PathWatchRequest::read(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(PathWatchRequest::read(r)?),
            OpCode::Sync => Request::Sync(PathRequest::read(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(CheckVersionRequest::read(r)?),
            OpCode::Multi => Request::Multi(multi::read_ops(r, false)?),
            OpCode::MultiRead => Request::MultiRead(multi::read_ops(r, true)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest::read(r)?),
            OpCode::CheckWatches => Request::CheckWatches(WatchesRequest::read(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(WatchesRequest::read(r)?),
            OpCode::DeleteContainer => Request::DeleteContainer(PathRequest::read(r)?),
            OpCode::Auth => Request::Auth(AuthPacket::read(r)?),
            OpCode::SetWatches => Request::SetWatches(SetWatches::read(r)?),
            OpCode::Sasl => Request::Sasl(SaslPacket::read(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(PathRequest::read(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(PathRequest::read(r)?),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches2::read(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::read(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification | OpCode::Error | OpCode::CreateSession => {
                return Err(DecodeError::UnknownValue {
                    what: "client opcode",
                    value: op.code(),
                })
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto::acl::Acl;
    use crate::proto::frame::{decode_request, encode_request};
    use bytes::Bytes;

    /// One request of every kind a client sends.
    pub(crate) fn every_request() -> Vec<Request> {
        let create = CreateRequest {
            path: "/n".into(),
            data: Some(Bytes::from_static(b"v")),
            acl: Acl::open_unsafe(),
            flags: 0,
        };
        let pw = PathWatchRequest {
            path: "/n".into(),
            watch: true,
        };
        let p = PathRequest { path: "/n".into() };
        let ttl = CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 100,
        };
        let del = DeleteRequest {
            path: "/n".into(),
            version: -1,
        };
        let set = SetDataRequest {
            path: "/n".into(),
            data: Some(Bytes::from_static(b"w")),
            version: 2,
        };
        let check = CheckVersionRequest {
            path: "/n".into(),
            version: 1,
        };
        let watches = WatchesRequest {
            path: "/n".into(),
            watcher_type: 3,
        };
        vec![
            Request::Create(create.clone()),
            Request::Create2(create.clone()),
            Request::CreateContainer(create.clone()),
            Request::CreateTtl(ttl.clone()),
            Request::Delete(del.clone()),
            Request::Exists(pw.clone()),
            Request::GetData(pw.clone()),
            Request::SetData(set.clone()),
            Request::GetAcl(p.clone()),
            Request::SetAcl(SetAclRequest {
                path: "/n".into(),
                acl: Acl::read_unsafe(),
                version: -1,
            }),
            Request::GetChildren(pw.clone()),
            Request::GetChildren2(pw.clone()),
            Request::Sync(p.clone()),
            Request::Ping,
            Request::Check(check.clone()),
            Request::Multi(vec![
                Request::Create(create.clone()),
                Request::Create2(create.clone()),
                Request::CreateContainer(create),
                Request::CreateTtl(ttl),
                Request::Delete(del),
                Request::SetData(set),
                Request::Check(check),
            ]),
            Request::MultiRead(vec![Request::GetChildren(pw.clone()), Request::GetData(pw)]),
            Request::Reconfig(ReconfigRequest {
                joining_servers: Some("a".into()),
                leaving_servers: Some("b".into()),
                new_members: None,
                cur_config_id: -1,
            }),
            Request::CheckWatches(watches.clone()),
            Request::RemoveWatches(watches),
            Request::DeleteContainer(p.clone()),
            Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Bytes::from_static(b"u:p"),
            }),
            Request::SetWatches(SetWatches {
                relative_zxid: 5,
                data_watches: vec!["/d".into()],
                exist_watches: vec![],
                child_watches: vec!["/c".into()],
            }),
            Request::Sasl(SaslPacket {
                token: Some(Bytes::from_static(b"tok")),
            }),
            Request::GetEphemerals(p.clone()),
            Request::GetAllChildrenNumber(p),
            Request::SetWatches2(SetWatches2 {
                relative_zxid: 5,
                persistent_recursive_watches: vec!["/r".into()],
                ..SetWatches2::default()
            }),
            Request::AddWatch(AddWatchRequest {
                path: "/n".into(),
                mode: 0,
            }),
            Request::WhoAmI,
            Request::CloseSession,
        ]
    }

    #[test]
    fn every_request_round_trips() {
        for (i, req) in every_request().into_iter().enumerate() {
            let frame = encode_request(i as i32, &req);
            let (h, back) = decode_request(frame.slice(4..)).unwrap();
            assert_eq!(h.xid, i as i32);
            assert_eq!(h.op, req.opcode().code());
            assert_eq!(back, req);
        }
    }

    #[test]
    fn multi_refuses_foreign_ops() {
        let bad = Request::Multi(vec![Request::GetData(PathWatchRequest::default())]);
        let frame = encode_request(1, &bad);
        assert!(decode_request(frame.slice(4..)).is_err());
        let bad = Request::MultiRead(vec![Request::Delete(DeleteRequest::default())]);
        let frame = encode_request(1, &bad);
        assert!(decode_request(frame.slice(4..)).is_err());
    }
}
