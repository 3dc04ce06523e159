//! Typed reply bodies, decoded according to the request they answer.

use super::jute::{DecodeError, Reader, Record};
use super::multi::{self, MultiResult};
use super::opcode::OpCode;
use super::records::*;
use bytes::BytesMut;

/// A reply body. Which variant a reply holds depends on the request's opcode
/// (see [`Response::read_body`]); error replies carry no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: delete, ping, auth, setWatches(2), checkWatches,
    /// removeWatches, closeSession, and every error reply.
    Empty,
    /// create.
    Create(CreateResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(StatResponse),
    /// getData and reconfig.
    GetData(GetDataResponse),
    /// getACL.
    GetAcl(GetAclResponse),
    /// getChildren.
    GetChildren(GetChildrenResponse),
    /// getChildren2.
    GetChildren2(GetChildren2Response),
    /// sync.
    Sync(SyncResponse),
    /// multi and multiRead: one result per op.
    Multi(Vec<MultiResult>),
    /// getAllChildrenNumber.
    AllChildrenNumber(GetAllChildrenNumberResponse),
    /// getEphemerals.
    Ephemerals(GetEphemeralsResponse),
    /// addWatch (an error-code record, 0 on success).
    AddWatch(ErrorResponse),
    /// whoAmI.
    WhoAmI(WhoAmIResponse),
    /// sasl.
    Sasl(SaslPacket),
}

impl Response {
    /// Reads the body of a successful reply to a request of type `op`.
    pub fn read_body(op: OpCode, r: &mut Reader) -> Result<Response, DecodeError> {
        Ok(match op {
            OpCode::Create => Response::Create(CreateResponse::read(r)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Create2Response::read(r)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
                Response::Stat(StatResponse::read(r)?)
            }
            OpCode::GetData | OpCode::Reconfig => Response::GetData(GetDataResponse::read(r)?),
            OpCode::GetAcl => Response::GetAcl(GetAclResponse::read(r)?),
            OpCode::GetChildren => Response::GetChildren(GetChildrenResponse::read(r)?),
            OpCode::GetChildren2 => Response::GetChildren2(GetChildren2Response::read(r)?),
            OpCode::Sync => Response::Sync(SyncResponse::read(r)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(multi::read_results(r)?),
            OpCode::GetAllChildrenNumber => {
                Response::AllChildrenNumber(GetAllChildrenNumberResponse::read(r)?)
            }
            OpCode::GetEphemerals => Response::Ephemerals(GetEphemeralsResponse::read(r)?),
            OpCode::AddWatch => Response::AddWatch(ErrorResponse::read(r)?),
            OpCode::WhoAmI => Response::WhoAmI(WhoAmIResponse::read(r)?),
            OpCode::Sasl => Response::Sasl(SaslPacket::read(r)?),
            OpCode::Delete
            | OpCode::Ping
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::CloseSession
            | OpCode::Check
            | OpCode::DeleteContainer
            | OpCode::Notification
            | OpCode::Error
            | OpCode::CreateSession => Response::Empty,
        })
    }

    /// Appends the body (nothing for [`Response::Empty`]).
    pub fn write_body(&self, buf: &mut BytesMut) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.write(buf),
            Response::Create2(r) => r.write(buf),
            Response::Stat(r) => r.write(buf),
            Response::GetData(r) => r.write(buf),
            Response::GetAcl(r) => r.write(buf),
            Response::GetChildren(r) => r.write(buf),
            Response::GetChildren2(r) => r.write(buf),
            Response::Sync(r) => r.write(buf),
            Response::Multi(results) => multi::write_results(results, buf),
            Response::AllChildrenNumber(r) => r.write(buf),
            Response::Ephemerals(r) => r.write(buf),
            Response::AddWatch(r) => r.write(buf),
            Response::WhoAmI(r) => r.write(buf),
            Response::Sasl(r) => r.write(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::acl::{Acl, ClientInfo};
    use crate::proto::stat::Stat;
    use bytes::Bytes;

    #[test]
    fn every_response_round_trips() {
        let stat = Stat {
            czxid: 3,
            version: 2,
            ..Stat::default()
        };
        let cases = vec![
            (OpCode::Delete, Response::Empty),
            (
                OpCode::Create,
                Response::Create(CreateResponse { path: "/a".into() }),
            ),
            (
                OpCode::CreateTtl,
                Response::Create2(Create2Response {
                    path: "/a".into(),
                    stat: stat.clone(),
                }),
            ),
            (
                OpCode::SetAcl,
                Response::Stat(StatResponse { stat: stat.clone() }),
            ),
            (
                OpCode::GetData,
                Response::GetData(GetDataResponse {
                    data: None,
                    stat: stat.clone(),
                }),
            ),
            (
                OpCode::GetAcl,
                Response::GetAcl(GetAclResponse {
                    acl: Acl::creator_all(),
                    stat: stat.clone(),
                }),
            ),
            (
                OpCode::GetChildren,
                Response::GetChildren(GetChildrenResponse {
                    children: vec!["x".into()],
                }),
            ),
            (
                OpCode::GetChildren2,
                Response::GetChildren2(GetChildren2Response {
                    children: vec![],
                    stat: stat.clone(),
                }),
            ),
            (
                OpCode::Sync,
                Response::Sync(SyncResponse { path: "/".into() }),
            ),
            (
                OpCode::Multi,
                Response::Multi(vec![
                    MultiResult::Create(CreateResponse { path: "/a".into() }),
                    MultiResult::Create2(Create2Response {
                        path: "/b".into(),
                        stat: stat.clone(),
                    }),
                    MultiResult::Delete,
                    MultiResult::SetData(StatResponse { stat: stat.clone() }),
                    MultiResult::Check,
                ]),
            ),
            (
                OpCode::Multi,
                Response::Multi(vec![
                    MultiResult::Error(0),
                    MultiResult::Error(-101),
                    MultiResult::Error(-2),
                ]),
            ),
            (
                OpCode::MultiRead,
                Response::Multi(vec![
                    MultiResult::GetData(GetDataResponse {
                        data: Some(Bytes::from_static(b"x")),
                        stat,
                    }),
                    MultiResult::GetChildren(GetChildrenResponse { children: vec![] }),
                    MultiResult::Error(-101),
                ]),
            ),
            (
                OpCode::GetAllChildrenNumber,
                Response::AllChildrenNumber(GetAllChildrenNumberResponse { total_number: 3 }),
            ),
            (
                OpCode::GetEphemerals,
                Response::Ephemerals(GetEphemeralsResponse {
                    ephemerals: vec!["/e".into()],
                }),
            ),
            (
                OpCode::AddWatch,
                Response::AddWatch(ErrorResponse { err: 0 }),
            ),
            (
                OpCode::WhoAmI,
                Response::WhoAmI(WhoAmIResponse {
                    client_info: vec![ClientInfo {
                        auth_scheme: "digest".into(),
                        user: "u".into(),
                    }],
                }),
            ),
            (
                OpCode::Sasl,
                Response::Sasl(SaslPacket {
                    token: Some(Bytes::from_static(b"t")),
                }),
            ),
        ];
        for (op, resp) in cases {
            let mut buf = BytesMut::new();
            resp.write_body(&mut buf);
            let mut r = Reader::new(buf.freeze());
            assert_eq!(Response::read_body(op, &mut r).unwrap(), resp, "{op}");
            r.finish().unwrap();
        }
    }

    #[test]
    fn multi_error_result_layout() {
        let mut buf = BytesMut::new();
        Response::Multi(vec![MultiResult::Error(-101)]).write_body(&mut buf);
        // header {-1, false, -101}, ErrorResponse{-101}, terminator {-1, true, -1}
        let mut expect = Vec::new();
        expect.extend_from_slice(&(-1i32).to_be_bytes());
        expect.push(0);
        expect.extend_from_slice(&(-101i32).to_be_bytes());
        expect.extend_from_slice(&(-101i32).to_be_bytes());
        expect.extend_from_slice(&(-1i32).to_be_bytes());
        expect.push(1);
        expect.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(&buf[..], &expect[..]);
    }
}
