//! A request's future is what a caller moves, boxes or spawns (a
//! `FuturesUnordered` of pipelined calls copies each one into its own
//! allocation), so its size is a cost per request. The client keeps its rare
//! paths (chroot creation, the check after a retried create, waiting for
//! room in a full command queue) boxed out of the common one.

use crate::ns;
use zk_client::{CreateMode, Op};

/// What a plain read or write future may take, with room for compiler
/// changes. Before the rare paths were boxed these futures took 2.9–3.2 KB.
const LIMIT: usize = 2048;

#[tokio::test]
async fn request_futures_stay_small() {
    let ns = ns!();
    let client = ns.client().await;
    let sizes = [
        (
            "create",
            std::mem::size_of_val(&client.create("/a", "", CreateMode::Persistent)),
        ),
        ("get_data", std::mem::size_of_val(&client.get_data("/a"))),
        (
            "set_data",
            std::mem::size_of_val(&client.set_data("/a", "", None)),
        ),
        ("delete", std::mem::size_of_val(&client.delete("/a", None))),
        ("exists", std::mem::size_of_val(&client.exists("/a"))),
        (
            "multi",
            std::mem::size_of_val(&client.multi(vec![Op::check("/a", None)])),
        ),
    ];
    for (op, size) in sizes {
        println!("{op}: {size} bytes");
        assert!(
            size <= LIMIT,
            "{op}'s future takes {size} bytes (limit {LIMIT})"
        );
    }
}
