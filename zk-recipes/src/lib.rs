//! Coordination recipes for Apache ZooKeeper on [`zk_client`]: locks,
//! leader election, queues, barriers, service discovery, membership,
//! typed configuration, caches and counters — with Curator's znode layouts,
//! so Rust and JVM services can coordinate on one ensemble, and with a
//! specified, tested behaviour under connection loss and session expiry.
//!
//! ```
//! use std::time::Duration;
//! use zk_recipes::{LeaderLatch, Lock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let zk = zk_testserver::Ensemble::builder().start().await?;
//! # let hosts = zk.connect_string();
//! # zk_client::Client::connect(&hosts).await?.create("/my-app", "", zk_client::CreateMode::Persistent).await?;
//! // Recipes expect a client that starts a new session after expiry.
//! let client = zk_client::Client::builder(format!("{hosts}/my-app"))
//!     .session_timeout(Duration::from_secs(10))
//!     .renew_session_on_expiry(true)
//!     .connect()
//!     .await?;
//!
//! // A mutex with a fencing token and a loss signal.
//! let lock = Lock::new(&client, "/locks/reindex");
//! let guard = lock.acquire().await?;
//! println!("holding with token {}", guard.fencing_token());
//! tokio::select! {
//!     _ = tokio::time::sleep(Duration::from_millis(10)) => {} // the work
//!     reason = guard.lost() => println!("stop: lock lost ({reason})"),
//! }
//! guard.release().await?;
//!
//! // Leader election.
//! let latch = LeaderLatch::new(&client, "/leader", "node-1");
//! latch.start();
//! latch.await_leadership().await?;
//! assert!(latch.is_leader());
//! latch.close().await?;
//! # Ok(()) }
//! ```
//!
//! (The example runs against an in-process `zk_testserver` ensemble; point
//! the connect string at your own ensemble instead.)
//!
//! # Recipes and their connection-state policies
//!
//! A client whose connection drops is *suspended*: its session may still be
//! alive, or the server may expire it after the session timeout and delete
//! its ephemeral nodes. What a recipe does then is its policy; recipes that
//! hold something exclusive take a [`ConnectionPolicy`] (default
//! [`ConnectionPolicy::Session`]; see its docs for why it gives up before
//! the server can expire the session).
//!
//! | Recipe | Znodes (Curator-compatible) | Suspended | Lost (session expired) |
//! |---|---|---|---|
//! | [`Lock`] | `<path>/_c_<uuid>-lock-<seq>` | guard kept; [`LockGuard::lost`] fires ¼ session timeout after the suspension (`Strict`: at once) unless reconnected | `lost()` fires; waiting acquirers start over in the new session |
//! | [`ReadWriteLock`] | `_c_<uuid>-__READ__<seq>`, `_c_<uuid>-__WRIT__<seq>` | as `Lock` | as `Lock` |
//! | [`Semaphore`] | `<path>/locks/…`, `<path>/leases/_c_<uuid>-lease-<seq>` | lease kept, [`Lease::lost`] as `Lock` (fencing token: [`Lease::fencing_token`]) | `lost()` fires |
//! | [`MultiLock`] | those of its locks | lost when any member is | lost |
//! | [`LeaderLatch`] | `<path>/_c_<uuid>-latch-<seq>` (data: id) | leadership kept ¼ session timeout (`Strict`: dropped at once; fencing token: [`LeaderLatch::fencing_token`]) | leadership dropped; re-joins with a new node; a node of an old session never grants leadership |
//! | [`LeaderElection`] | a `Lock` on `<path>` | task keeps running as for `Lock` | task cancelled; re-queued if `auto_requeue` |
//! | [`ReentrantLock`] | as `Lock`, one node per hold whatever the re-entries | as `Lock` | as `Lock`; a lost hold is never re-entered |
//! | [`Queue`] | `<path>/queue-<seq>`, priority `queue-<prio><seq>` (items in Curator's `DistributedQueue` framing), locks `<path>-locks/<item>` | consumers wait | consumers continue in the new session; locked items are delivered again |
//! | [`SimpleQueue`] / [`DelayQueue`] / [`IdQueue`] | `<path>/qn-<seq>` (raw bytes) / `queue-\|<due, hex ms>\|<seq>` / `queue-\|<id>\|<seq>` (framed) | consumers wait | consumers continue in the new session |
//! | [`Barrier`] | `<path>` | waiters wait | waiters wait |
//! | [`DoubleBarrier`] | `<path>/<uuid>`, `<path>/ready` | members wait | an entering member re-enters |
//! | [`ServiceDiscovery`] / [`ServiceCache`] | `<base>/<name>/<id>` with ServiceInstance JSON | nothing changes | instances re-registered with their latest data; cache re-read |
//! | [`GroupMember`] | `<path>/<id>` (data: payload) | nothing changes | member node re-created with the latest payload |
//! | [`ConfigNode`] / [`NodeCache`] / [`TreeCache`] | the watched node(s) | last value kept | re-watched and re-read |
//! | [`SharedCounter`] | `<path>`, 4-byte big-endian | calls wait (client retries) | nothing held |
//! | [`SharedValue`] | `<path>`, the bytes as they are | calls wait (client retries) | nothing held |
//! | [`DistributedAtomicLong`] / [`DistributedAtomicInteger`] | `<path>`, 8 / 4 bytes big-endian; promotion lock as `Lock` | a write whose reply is lost fails (never applied twice) | nothing held |
//! | [`PersistentNode`] / [`PersistentTtlNode`] | `<path>` (sequential: `_c_<uuid>-<name><seq>`) / TTL node with a TTL `touch` child | kept | re-created in the new session |
//! | [`PathChildrenCache`] / [`CuratorCache`] | the watched nodes (one-shot watches; `CuratorCache` on a persistent watch where the server has them) | last value kept | re-read |
//! | [`NonBlockingLease`] (kazoo) | `<path>/lease_holder` (JSON, UTC end), lock `<path>/<hex>__lock__<seq>` | — (held for a duration, not a session) | — |
//! | [`SetPartitioner`] (kazoo) | `<path>/party/<hex>-<id>`, `<path>/locks/<item>/<hex>__lock__<seq>` | items kept | [`PartitionState::Failure`] |
//!
//! The layouts and data formats are checked against real Curator 5.4 and
//! 5.7.1 and kazoo on real ZooKeeper and zk-testserver by the interop
//! suite (`scripts/interop/run.sh`; see the README).
//!
//! # Reapers: containers instead
//!
//! Curator 4's `Reaper` and `ChildReaper` (gone in Curator 5) deleted the
//! empty directories recipes leave behind. ZooKeeper 3.5+ does it on the
//! server with *containers*, which these recipes use wherever Curator does
//! (its `creatingParentContainersIfNeeded`): the directories of locks,
//! latches, semaphore leases, simple queues and service discovery vanish
//! once their last child is gone. For directories of your own, create them
//! as containers: [`zk_client::CreateMode::Container`], or
//! [`zk_client::Client::create_all_with_parents`] for a path whose missing
//! parents should be containers (`tests/curator_twins.rs` shows
//! discovery and queue directories reaped).
//!
//! Users' own nodes get Curator's create protection with
//! [`ProtectedCreate`] and its guaranteed delete with [`delete_guaranteed`];
//! [`zk_client::Client::delete_all`] deletes a subtree.
//!
//! In every recipe a lost session is only recovered if the client renews
//! sessions ([`zk_client::ClientBuilder::renew_session_on_expiry`]);
//! otherwise waits end with [`Error::SessionLost`].
//!
//! # What the recipes guarantee under faults
//!
//! - **Lost create replies**: sequential nodes are created in Curator's
//!   *protected* form (`_c_<uuid>-…`); after a connection loss the node is
//!   found again by its prefix, so exactly one node exists.
//! - **Stale nodes**: a node found with our prefix but owned by an earlier
//!   session is deleted, never adopted; locks and leadership are granted
//!   only through a node owned by the current session.
//! - **Partitioned holders**: `lost()` fires before the server can expire
//!   the holder's session, so before a rival can acquire.
//! - **Releases during a connection drop** go on in the background until
//!   they succeed or the session ends.
//! - **Dropped futures**: every public async fn says in its "Cancel
//!   safety" section what dropping its future does (in `tokio::select!`,
//!   under `tokio::time::timeout`, in an aborted task). Most are
//!   cancel-safe: an acquire dropped at any await point leaves no node
//!   behind and holds nothing; a queue take dropped after its delete keeps
//!   the item for the next take; a release, close or ack that was started
//!   finishes in the background. A test drops each of them at every await
//!   point (`tests/cancel_safety.rs`).
//! - **Dropped handles** release what they hold, in the background: a
//!   guard or lease its node, a [`LeaderLatch`] or [`GroupMember`] whose
//!   clones are all dropped its node (and leadership), a queue item its
//!   lock. No background task keeps a session open by itself: once the
//!   application drops its recipe handles and its last
//!   [`zk_client::Client`], the session closes (background cleanups hold
//!   only a [`zk_client::WeakClient`]).
//! - **No herd effect** for locks, read-write locks, semaphores and
//!   leader latches: each waiter watches only the node ahead of it. Two
//!   recipes wake every waiter by design: consumers of an empty
//!   [`Queue`] all watch the queue's children (one watch per consumer
//!   session, not per item; a put wakes every waiting session, which each
//!   re-list the queue and race for the item — as with Curator's
//!   `DistributedQueue`), and a [`DoubleBarrier`]'s members all watch its
//!   `ready` node, whose creation must release all of them at once.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// No panics on data from the network or the server: errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod atomic;
mod barrier;
mod config;
mod counter;
mod curator_cache;
mod delay_queue;
mod detach;
mod discovery;
mod error;
mod group;
mod hold;
mod id_queue;
mod item_queue;
mod kazoo_lock;
mod leader_election;
mod leader_latch;
mod lease;
mod lock;
mod lock_core;
mod multi_lock;
mod node_cache;
mod nodes;
mod partitioner;
mod path_cache;
mod pause;
mod persistent_node;
mod policy;
mod protected;
mod queue;
mod queue_frame;
mod reentrant_lock;
mod revocation;
mod rwlock;
mod semaphore;
mod service_payload;
mod shared_value;
mod simple_queue;
mod watch_tree;

pub use atomic::{
    AtomicNumber, AtomicOutcome, AtomicStats, DistributedAtomic, DistributedAtomicInteger,
    DistributedAtomicLong, PromotedToLock,
};
pub use barrier::{Barrier, DoubleBarrier};
pub use config::ConfigNode;
pub use counter::{SharedCounter, Versioned};
pub use curator_cache::{CacheWatchMode, CuratorCache};
pub use delay_queue::DelayQueue;
pub use discovery::{
    DownInstancePolicy, ProviderStrategy, ServiceCache, ServiceDiscovery, ServiceInstance,
    ServiceProvider, ServiceType,
};
pub use error::{Error, LossReason, Result};
pub use group::GroupMember;
pub use id_queue::IdQueue;
pub use leader_election::{ElectionHandle, LeaderElection, Leadership};
pub use leader_latch::{LeaderLatch, Participant};
pub use lease::NonBlockingLease;
pub use lock::{Lock, LockGuard};
pub use multi_lock::{MultiLock, MultiLockGuard};
pub use node_cache::{NodeCache, NodeData, TreeCache, TreeEvent, TreeEvents};
pub use partitioner::{PartitionState, SetPartitioner};
pub use path_cache::{ChildEvent, PathChildrenCache};
pub use persistent_node::{PersistentNode, PersistentTtlNode, TTL_TOUCH_CHILD};
pub use policy::ConnectionPolicy;
pub use protected::{delete_guaranteed, GuaranteedDelete, ProtectedCreate};
pub use queue::{Queue, QueueItem, QueueStats};
pub use reentrant_lock::{ReentrantGuard, ReentrantLock};
pub use revocation::{attempt_revoke, REVOKE_MESSAGE};
pub use rwlock::ReadWriteLock;
pub use semaphore::{Lease, Semaphore};
pub use service_payload::{ServicePayload, JAVA_MAP_CLASS};
pub use shared_value::SharedValue;
pub use simple_queue::SimpleQueue;
