//! Node, path-children and tree caches seeing the other side's writes,
//! against Curator's `NodeCache`, `PathChildrenCache` and `CuratorCache`
//! (twin: `Caches.java`; `tree-cache-one-shot` runs zk-recipes'
//! `CuratorCache` on one-shot watches, its fallback for ZooKeeper 3.5). The
//! writer makes change `i` and waits for the reader's acknowledgement
//! `acks/a<i>`, created once the reader's cache shows change `i`.

use super::harness::{Harness, Result};
use std::time::Duration;
use zk_client::{Client, CreateMode};
use zk_recipes::{CuratorCache, NodeCache, PathChildrenCache};

const CHANGES: usize = 5;

fn value(i: usize) -> Vec<u8> {
    format!("v{i}").into_bytes()
}

/// The nodes change `i` writes, relative to the namespace.
fn paths(kind: &str, i: usize) -> Vec<String> {
    match kind {
        "node-cache" => vec!["node".into()],
        "path-cache" => vec![format!("dir/c{i}")],
        _ => vec![format!("tree/a{i}"), format!("tree/a{i}/b")],
    }
}

enum Reader {
    Node(NodeCache),
    Children(PathChildrenCache),
    Tree(CuratorCache),
}

impl Reader {
    fn sees(&self, h: &Harness, kind: &str, i: usize) -> bool {
        paths(kind, i).iter().all(|rel| {
            let data = match self {
                Reader::Node(n) => n.current().map(|d| d.data),
                Reader::Children(c) => c.get(child_name(rel)).map(|d| d.data),
                Reader::Tree(t) => t.get(&h.path(rel)).map(|d| d.data),
            };
            data.is_some_and(|d| d.as_ref() == value(i))
        })
    }
}

/// A cache scenario (`node-cache`, `tree-cache`), directional.
pub async fn run(h: &Harness, kind: &str, _phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    if h.role == "writer" {
        h.gate(&c, "ready").await?;
        for i in 0..CHANGES {
            for rel in paths(kind, i) {
                let path = h.path(&rel);
                if c.exists(&path).await?.is_some() {
                    c.set_data(&path, value(i), None).await?;
                } else {
                    c.create_all(&path, value(i), CreateMode::Persistent)
                        .await?;
                }
            }
            wait_for(h, &c, &format!("acks/a{i}")).await?;
        }
        return h.gate(&c, "done").await;
    }
    let reader = match kind {
        "node-cache" => Reader::Node(NodeCache::start(&c, h.path("node")).await?),
        "path-cache" => Reader::Children(PathChildrenCache::start(&c, h.path("dir")).await?),
        "tree-cache-one-shot" => {
            Reader::Tree(CuratorCache::start_one_shot(&c, h.path("tree")).await?)
        }
        _ => Reader::Tree(CuratorCache::start(&c, h.path("tree")).await?),
    };
    h.gate(&c, "ready").await?;
    for i in 0..CHANGES {
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        while !reader.sees(h, kind, i) {
            if tokio::time::Instant::now() > until {
                h.violation(format!("{kind} never showed change {i}"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c.create_all(&h.path(&format!("acks/a{i}")), "", CreateMode::Persistent)
            .await?;
    }
    h.gate(&c, "done").await
}

fn child_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

async fn wait_for(h: &Harness, c: &Client, rel: &str) -> Result<()> {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    while c.exists(&h.path(rel)).await?.is_none() {
        if tokio::time::Instant::now() > until {
            h.violation(format!("no acknowledgement {rel}"));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
