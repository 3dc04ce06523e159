//! Multi (opcode 14) and multiRead (opcode 22): the op list and the result list.

use super::error_code::ErrorCode;
use super::jute::{DecodeError, Reader, Record};
use super::opcode::OpCode;
use super::records::{
    Create2Response, CreateResponse, ErrorResponse, GetChildrenResponse, GetDataResponse,
    MultiHeader, StatResponse,
};
use super::request::Request;
use bytes::BytesMut;

const TERMINATOR: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

/// Whether a request may appear inside multi (writes) or multiRead (reads).
pub fn allowed_in_multi(op: OpCode, read: bool) -> bool {
    if read {
        matches!(op, OpCode::GetChildren | OpCode::GetData)
    } else {
        matches!(
            op,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::SetData
                | OpCode::Check
        )
    }
}

/// Writes the ops of a multi or multiRead request.
pub fn write_ops(ops: &[Request], buf: &mut BytesMut) {
    for op in ops {
        MultiHeader {
            op: op.opcode().code(),
            done: false,
            err: -1,
        }
        .write(buf);
        op.write_body(buf);
    }
    TERMINATOR.write(buf);
}

/// Reads the ops of a multi (`read == false`) or multiRead request.
/// An op of a kind the container does not allow is a decode error.
pub fn read_ops(r: &mut Reader, read: bool) -> Result<Vec<Request>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        let op = OpCode::decode(h.op)?;
        if !allowed_in_multi(op, read) {
            return Err(DecodeError::Invalid("op not allowed in this multi"));
        }
        ops.push(Request::read_body(op, r)?);
    }
}

/// The outcome of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// A create via opcode 1: the created path.
    Create(CreateResponse),
    /// A create via create2, createContainer or createTTL: path and stat.
    Create2(Create2Response),
    /// A delete.
    Delete,
    /// A setData: the new stat.
    SetData(StatResponse),
    /// A check.
    Check,
    /// A getData inside multiRead.
    GetData(GetDataResponse),
    /// A getChildren inside multiRead.
    GetChildren(GetChildrenResponse),
    /// The op failed with this code (in a failed multi: 0 before the failing
    /// op, RuntimeInconsistency after it).
    Error(i32),
}

impl MultiResult {
    /// The opcode this result is tagged with on the wire.
    pub fn wire_type(&self) -> i32 {
        match self {
            MultiResult::Create(_) => OpCode::Create.code(),
            MultiResult::Create2(_) => OpCode::Create2.code(),
            MultiResult::Delete => OpCode::Delete.code(),
            MultiResult::SetData(_) => OpCode::SetData.code(),
            MultiResult::Check => OpCode::Check.code(),
            MultiResult::GetData(_) => OpCode::GetData.code(),
            MultiResult::GetChildren(_) => OpCode::GetChildren.code(),
            MultiResult::Error(_) => OpCode::Error.code(),
        }
    }

    /// The error code, if this is an error result.
    pub fn error(&self) -> Option<i32> {
        match self {
            MultiResult::Error(code) => Some(*code),
            _ => None,
        }
    }
}

/// Writes a multi response body.
pub fn write_results(results: &[MultiResult], buf: &mut BytesMut) {
    for result in results {
        MultiHeader {
            op: result.wire_type(),
            done: false,
            err: result.error().unwrap_or(ErrorCode::Ok.code()),
        }
        .write(buf);
        match result {
            MultiResult::Create(r) => r.write(buf),
            MultiResult::Create2(r) => r.write(buf),
            MultiResult::SetData(r) => r.write(buf),
            MultiResult::GetData(r) => r.write(buf),
            MultiResult::GetChildren(r) => r.write(buf),
            MultiResult::Error(code) => ErrorResponse { err: *code }.write(buf),
            MultiResult::Delete | MultiResult::Check => {}
        }
    }
    TERMINATOR.write(buf);
}

/// Reads a multi response body.
pub fn read_results(r: &mut Reader) -> Result<Vec<MultiResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(results);
        }
        let result = match OpCode::decode(h.op)? {
            OpCode::Create => MultiResult::Create(CreateResponse::read(r)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                MultiResult::Create2(Create2Response::read(r)?)
            }
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData(StatResponse::read(r)?),
            OpCode::Check => MultiResult::Check,
            OpCode::GetData => MultiResult::GetData(GetDataResponse::read(r)?),
            OpCode::GetChildren => MultiResult::GetChildren(GetChildrenResponse::read(r)?),
            OpCode::Error => MultiResult::Error(ErrorResponse::read(r)?.err),
            _ => return Err(DecodeError::Invalid("unexpected multi result type")),
        };
        results.push(result);
    }
}
