//! Building requests and reading outcomes.

use crate::check::Ret;
use bytes::Bytes;
use zk_client::proto::{
    Acl, CheckVersionRequest, CreateRequest, DeleteRequest, MultiResult, PathRequest,
    PathWatchRequest, Request, Response, SetDataRequest,
};
use zk_client::ErrorCode;

/// The outcome of a multi: ok, or the first real error of a failed one.
pub(super) fn multi(response: &Response) -> Ret {
    let Response::Multi(results) = response else {
        return Ret::Unknown;
    };
    let failed = results.iter().find_map(|r| match r {
        MultiResult::Error(code)
            if *code != 0 && *code != ErrorCode::RuntimeInconsistency.code() =>
        {
            Some(*code)
        }
        _ => None,
    });
    match failed {
        None => Ret::Ok,
        Some(code) => {
            Ret::Fail(ErrorCode::from_code(code).map_or(code.to_string(), |c| format!("{c:?}")))
        }
    }
}

pub(super) fn create(path: &str, data: Option<&[u8]>, flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: data.map(Bytes::copy_from_slice),
        acl: Acl::open_unsafe(),
        flags,
    })
}

pub(super) fn create2(path: &str, data: Option<&[u8]>, flags: i32) -> Request {
    Request::Create2(CreateRequest {
        path: path.into(),
        data: data.map(Bytes::copy_from_slice),
        acl: Acl::open_unsafe(),
        flags,
    })
}

pub(super) fn get_data(path: &str) -> Request {
    Request::GetData(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

pub(super) fn get_children(path: &str) -> Request {
    Request::GetChildren(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

pub(super) fn set_data(path: &str, value: u64, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from(value.to_string())),
        version,
    })
}

pub(super) fn delete(path: &str) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version: -1,
    })
}

pub(super) fn sync(path: &str) -> Request {
    Request::Sync(PathRequest { path: path.into() })
}

pub(super) fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

/// A node's data as a number (0 if absent or not a number).
pub(super) fn number(data: &Option<Bytes>) -> u64 {
    data.as_ref()
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The sequence number at the end of a sequential node's name.
pub(super) fn sequence(name: &str) -> Option<u64> {
    let digits = name.get(name.len().checked_sub(10)?..)?;
    digits.parse().ok()
}

/// The last segment of a path.
pub(super) fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_client::Error;

    #[test]
    fn errors_and_names() {
        assert_eq!(
            Ret::from_error(&Error::from_code(ErrorCode::BadVersion.code())),
            Ret::Fail("BadVersion".into())
        );
        assert_eq!(
            Ret::from_error(&Error::code_error(ErrorCode::ConnectionLoss)),
            Ret::Unknown
        );
        assert_eq!(sequence("q-0000000042"), Some(42));
        assert_eq!(sequence("x"), None);
        assert_eq!(name("/a/b-1"), "b-1");
        assert_eq!(number(&Some(Bytes::from_static(b"17"))), 17);
        let failed = Response::Multi(vec![
            MultiResult::Error(0),
            MultiResult::Error(ErrorCode::NoNode.code()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ]);
        assert_eq!(multi(&failed), Ret::Fail("NoNode".into()));
        assert_eq!(multi(&Response::Multi(vec![MultiResult::Check])), Ret::Ok);
    }
}
