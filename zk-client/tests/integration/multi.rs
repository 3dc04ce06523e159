//! multi (atomic writes) and multiRead.

use crate::ns;
use zk_client::proto::MultiResult;
use zk_client::{CreateMode, ErrorCode, Op, OpResult, ReadOp, ReadResult};

#[tokio::test]
async fn multi_applies_every_op_atomically() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/m", "", CreateMode::Persistent).await.unwrap();
    c.create("/m/old", "", CreateMode::Persistent)
        .await
        .unwrap();
    let results = c
        .multi(vec![
            Op::check("/m", Some(0)),
            Op::create("/m/a", "1", CreateMode::Persistent),
            Op::create("/m/s-", "", CreateMode::PersistentSequential),
            Op::set_data("/m", "top", Some(0)),
            Op::delete("/m/old", None),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0], OpResult::Check);
    let OpResult::Create { path, .. } = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(path, "/m/a");
    let OpResult::Create { path, .. } = &results[2] else {
        panic!("{results:?}")
    };
    assert!(path.starts_with("/m/s-00000000"), "{path}");
    let OpResult::SetData(st) = &results[3] else {
        panic!("{results:?}")
    };
    assert_eq!(st.version, 1);
    assert_eq!(results[4], OpResult::Delete);
    // All ops share one zxid.
    let (data, a) = c.get_data("/m/a").await.unwrap();
    assert_eq!(&data[..], b"1");
    assert_eq!(a.czxid, st.mzxid);
    assert!(c.exists("/m/old").await.unwrap().is_none());
}

#[tokio::test]
async fn failed_multi_applies_nothing_and_reports_each_op() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/f", "", CreateMode::Persistent).await.unwrap();
    let before = c.last_zxid();
    let err = c
        .multi(vec![
            Op::create("/f/new", "", CreateMode::Persistent),
            Op::set_data("/f", "x", Some(5)),
            Op::delete("/f/none", None),
        ])
        .await
        .unwrap_err();
    assert!(err.is_bad_version(), "{err}");
    assert_eq!(err.path(), Some("/f"));
    assert_eq!(err.failed_op(), Some(1));
    assert_eq!(
        format!("{:?}", err.multi_failures().unwrap()),
        "[not applied: another op failed, failed: bad version (-103), \
         not applied: another op failed]"
    );
    assert!(
        err.to_string()
            .contains("op 2 of 3 in a multi failed, so none was applied"),
        "{err}"
    );
    assert_eq!(
        err.multi_results().unwrap(),
        &[
            MultiResult::Error(0),
            MultiResult::Error(ErrorCode::BadVersion.code()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ]
    );
    assert!(
        c.exists("/f/new").await.unwrap().is_none(),
        "nothing applied"
    );
    assert_eq!(c.get_data("/f").await.unwrap().1.version, 0);
    assert!(
        c.last_zxid() > before,
        "a failed multi still consumes a zxid"
    );
    // Check on a missing node fails the whole transaction with NoNode.
    let err = c
        .multi(vec![
            Op::check("/f/none", None),
            Op::create("/f/x", "", CreateMode::Persistent),
        ])
        .await
        .unwrap_err();
    assert!(err.is_no_node());
    assert!(c.exists("/f/x").await.unwrap().is_none());
    // Ops see the effect of earlier ops in the same transaction.
    c.multi(vec![
        Op::create("/f/p", "", CreateMode::Persistent),
        Op::create("/f/p/q", "", CreateMode::Persistent),
        Op::delete("/f/p/q", None),
        Op::check("/f/p", Some(0)),
    ])
    .await
    .unwrap();
    let (_, st) = c.get_children2("/f/p").await.unwrap();
    assert_eq!(st.num_children, 0);
    // An empty multi is fine.
    assert!(c.multi(vec![]).await.unwrap().is_empty());
}

#[tokio::test]
async fn multi_read_answers_each_read_independently() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/r", "data", CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/r/k", "", CreateMode::Persistent).await.unwrap();
    let results = c
        .multi_read(vec![
            ReadOp::GetData("/r".into()),
            ReadOp::GetChildren("/r".into()),
            ReadOp::GetData("/missing".into()),
            ReadOp::GetChildren("/r/k".into()),
        ])
        .await
        .unwrap();
    assert!(
        matches!(&results[0], Ok(ReadResult::Data(d, st)) if &d[..] == b"data" && st.num_children == 1)
    );
    assert_eq!(
        results[1].as_ref().unwrap(),
        &ReadResult::Children(vec!["k".into()])
    );
    assert!(results[2].as_ref().unwrap_err().is_no_node());
    assert_eq!(results[3].as_ref().unwrap(), &ReadResult::Children(vec![]));
}
