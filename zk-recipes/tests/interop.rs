//! Interoperability with Curator's `InterProcessMutex`, simulated with raw
//! client calls that follow Curator's algorithm: a protected ephemeral
//! sequential node `_c_<uuid>-lock-`, children sorted by the part after
//! `lock-`, the lowest holds, others watch their predecessor with getData.

mod common;

use common::*;
use zk_client::{Client, CreateMode};
use zk_recipes::Lock;

/// Curator's ordering key: what follows the lock name.
fn curator_sort_key(node: &str) -> String {
    match node.rfind("lock-") {
        Some(i) => node[i + "lock-".len()..].to_string(),
        None => node.to_string(),
    }
}

/// A contender following Curator's `LockInternals`.
struct CuratorContender {
    client: Client,
    dir: String,
    node: String,
}

impl CuratorContender {
    async fn enqueue(client: &Client, dir: &str) -> CuratorContender {
        let prefix = format!("{dir}/_c_{}-lock-", uuid::Uuid::new_v4());
        let (node, _) = client
            .create(&prefix, "", CreateMode::EphemeralSequential)
            .await
            .unwrap();
        CuratorContender {
            client: client.clone(),
            dir: dir.to_string(),
            node,
        }
    }

    /// One step of the lock loop: `None` if held, else the watched
    /// predecessor and its watch.
    async fn check(&self) -> Option<(String, zk_client::OneshotWatch)> {
        loop {
            let mut children = self.client.get_children(&self.dir).await.unwrap();
            children.retain(|c| c.contains("lock-"));
            children.sort_by_key(|c| curator_sort_key(c));
            let ours = self.node.rsplit('/').next().unwrap();
            let index = children.iter().position(|c| c == ours).expect("our node");
            if index == 0 {
                return None;
            }
            let ahead = format!("{}/{}", self.dir, children[index - 1]);
            match self.client.get_data_watch(&ahead).await {
                Ok((_, _, w)) => return Some((ahead, w)),
                Err(e) if e.is_no_node() => continue,
                Err(e) => panic!("{e}"),
            }
        }
    }

    async fn acquire(&self) {
        while let Some((_, watch)) = self.check().await {
            let _ = watch.await;
        }
    }

    async fn release(self) {
        self.client.delete(&self.node, None).await.unwrap();
    }
}

#[tokio::test]
async fn curator_contender_respects_our_lock() {
    let env = env().await;
    let ours = env.client().await;
    let jvm = env.client().await;
    let guard = Lock::new(&ours, "/interop").acquire().await.unwrap();

    let curator = CuratorContender::enqueue(&jvm, "/interop").await;
    let (watched, _watch) = curator.check().await.expect("must wait for our holder");
    assert_eq!(watched, guard.node_path(), "Curator waits on our node");

    let acquiring = tokio::spawn(async move {
        curator.acquire().await;
        curator
    });
    // Our second contender queues behind the Curator one.
    let second = Lock::new(&ours, "/interop");
    assert!(second.try_acquire().await.unwrap().is_none());
    guard.release().await.unwrap();
    let curator = within(PATIENCE, acquiring).await.unwrap();
    assert!(
        second.try_acquire().await.unwrap().is_none(),
        "Curator holds"
    );
    let waiting = tokio::spawn(async move { second.acquire().await });
    env.wait_children(&jvm, "/interop", |c| c.len() == 2).await;
    assert!(!waiting.is_finished());
    curator.release().await;
    let g = within(PATIENCE, waiting).await.unwrap().unwrap();
    g.release().await.unwrap();
}

#[tokio::test]
async fn our_lock_respects_a_curator_holder() {
    let env = env().await;
    let ours = env.client().await;
    let jvm = env.client().await;
    jvm.create_all("/interop2", "", CreateMode::Persistent)
        .await
        .unwrap();
    let curator = CuratorContender::enqueue(&jvm, "/interop2").await;
    curator.acquire().await;
    let lock = Lock::new(&ours, "/interop2");
    assert!(lock.try_acquire().await.unwrap().is_none());
    let waiting = {
        let lock = lock.clone();
        tokio::spawn(async move { lock.acquire().await })
    };
    env.wait_children(&jvm, "/interop2", |c| c.len() == 2).await;
    // Our node sorts after Curator's by Curator's own rule too.
    let mut children = env.children(&jvm, "/interop2").await;
    children.sort_by_key(|c| curator_sort_key(c));
    assert!(curator.node.ends_with(&children[0]));
    assert!(!waiting.is_finished());
    curator.release().await;
    let g = within(PATIENCE, waiting).await.unwrap().unwrap();
    assert!(g.node_path().contains("/_c_") && g.node_path().contains("-lock-"));
    g.release().await.unwrap();
}
