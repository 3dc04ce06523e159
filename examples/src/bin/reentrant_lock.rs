//! A report job holds a lock re-entrantly (its helpers take the same lock
//! through the same owner) and gives it up when an urgent job asks for it
//! with Curator's revocation protocol.
//!
//! `cargo run -p examples --bin reentrant_lock [-- --connect HOSTS]`

use examples::target::Target;
use zk_recipes::{attempt_revoke, Lock, ReentrantLock};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("re-entrant lock example on an {}", target.describe());
    let report = target.client("/examples/reentrant").await?;
    let owner = ReentrantLock::new(&report, "/db-maintenance");
    let outer = owner.acquire().await?;
    let inner = owner.acquire().await?; // a helper of the same job
    println!(
        "report job holds the lock {} times through one node ({})",
        owner.hold_count(),
        inner.node_path()
    );
    inner.release().await?;

    let urgent = target.client("/examples/reentrant").await?;
    let asked = outer.revoke_requested();
    let waiting = tokio::spawn({
        let urgent = urgent.clone();
        async move { Lock::new(&urgent, "/db-maintenance").acquire().await }
    });
    // The urgent job asks the holder to give the lock up.
    attempt_revoke(&urgent, outer.node_path()).await?;
    asked.await;
    println!("report job was asked to give the lock up; releasing");
    outer.release().await?;
    let guard = waiting.await??;
    println!(
        "urgent job holds the lock (fencing token {:#x})",
        guard.fencing_token()
    );
    guard.release().await?;
    Ok(())
}
