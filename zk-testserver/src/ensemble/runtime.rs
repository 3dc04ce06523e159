//! The members' own runtime, and its shutdown when the [`Ensemble`] is
//! dropped: once the drop returns, the members' tasks are gone, their ports
//! closed and their threads (the runtime's and each member's storage
//! thread) ended — so a test can bind the same ports or start another
//! ensemble on them at once.
//!
//! [`Ensemble`]: super::Ensemble

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Runtime;

/// Longest wait for the members' tasks to end at shutdown. They are
/// cancelled, not asked to finish; only a storage operation under way (one
/// write or fsync, which a member's storage thread completes before it
/// stops) can hold them up.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

thread_local! {
    /// Whether this thread belongs to some ensemble's runtime.
    static MEMBERS_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// A runtime for an ensemble's members: two worker threads named
/// `zk-testserver`, so a busy or blocked test body cannot starve them.
pub(super) fn build() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("zk-testserver")
        .on_thread_start(|| MEMBERS_THREAD.with(|m| m.set(true)))
        .enable_all()
        .build()
}

/// Shuts `runtime` down and waits (at most [`SHUTDOWN_WAIT`]) until every
/// task it ran has been dropped and its threads have ended.
///
/// Tokio refuses to block on a runtime's shutdown from an async context,
/// which is where tests drop ensembles; the wait happens on a plain thread
/// that the caller joins. On one of an ensemble's own threads that wait
/// could wait for the caller itself, so there the runtime is left to shut
/// down in the background.
pub(super) fn shut_down(runtime: Runtime) {
    if MEMBERS_THREAD.with(Cell::get) {
        runtime.shutdown_background();
        return;
    }
    let held = Arc::new(Mutex::new(Some(runtime)));
    let theirs = held.clone();
    let waiter = std::thread::Builder::new()
        .name("zk-testserver-stop".into())
        .spawn(move || {
            if let Some(runtime) = take(&theirs) {
                runtime.shutdown_timeout(SHUTDOWN_WAIT);
            }
        });
    match waiter {
        Ok(waiter) => {
            let _ = waiter.join();
        }
        // No thread to wait on: the runtime goes down in the background.
        Err(_) => {
            if let Some(runtime) = take(&held) {
                runtime.shutdown_background();
            }
        }
    }
}

fn take(held: &Mutex<Option<Runtime>>) -> Option<Runtime> {
    held.lock().unwrap_or_else(|e| e.into_inner()).take()
}
