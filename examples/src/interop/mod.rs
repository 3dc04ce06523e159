//! The Rust side of the interop suite with real Apache Curator
//! (`scripts/interop/run.sh`): each scenario is the twin of a Java program
//! under `scripts/interop/java/`, with the same znode names, markers and
//! checks, so that a herd of Curator contenders and a herd of zk-recipes
//! contenders can share one ensemble.

pub mod caches;
pub mod coordination;
pub mod discovery;
pub mod harness;
pub mod kazoo;
pub mod leaders;
pub mod locks;
pub mod nodes;
pub mod queues;

pub use harness::Harness;

/// Runs one scenario phase.
pub async fn run(h: &Harness, scenario: &str, phase: &str) -> harness::Result<()> {
    match scenario {
        "mutex" => locks::mutex(h, phase).await,
        "semaphore" => locks::semaphore(h, phase, 2).await,
        "semaphore-mutex" => locks::semaphore(h, phase, 1).await,
        "rwlock" => locks::rwlock(h, phase).await,
        "multilock" => locks::multilock(h, phase).await,
        "reentrant-mutex" => locks::reentrant(h, phase).await,
        "revocation" => locks::revocation(h, phase).await,
        "leader-latch" => leaders::latch(h, phase).await,
        "leader-selector" => leaders::selector(h, phase).await,
        "discovery" => discovery::run(h, phase).await,
        "persistent-node" => nodes::run(h, phase).await,
        "kazoo-lease" => kazoo::lease(h).await,
        "kazoo-partitioner" => kazoo::partitioner(h).await,
        "queue" | "locked-queue" | "priority-queue" | "simple-queue" | "delay-queue"
        | "id-queue" => queues::run(h, scenario, phase).await,
        "barrier" => coordination::barrier(h, phase).await,
        "double-barrier" => coordination::double_barrier(h, phase).await,
        "shared-count" => coordination::shared_count(h, phase).await,
        "shared-value" => coordination::shared_value(h, phase).await,
        "atomic-long" => coordination::atomic(h, phase).await,
        "group-member" => coordination::group_member(h, phase).await,
        "node-cache" | "path-cache" | "tree-cache" | "tree-cache-one-shot" => {
            caches::run(h, scenario, phase).await
        }
        other => Err(format!("unknown scenario {other}").into()),
    }
}
