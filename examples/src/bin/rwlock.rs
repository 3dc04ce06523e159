//! A writer holds a read/write lock; two readers queue behind it, then share
//! the lock once the writer downgrades to a read lock.
//!
//! `cargo run -p examples --bin rwlock [-- --connect HOSTS]`

use examples::target::Target;
use zk_recipes::ReadWriteLock;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("rwlock example on an {}", target.describe());
    let writer_client = target.client("/examples/rwlock").await?;
    let rw = ReadWriteLock::new(&writer_client, "/catalog");
    let write = rw.write().await?;
    println!("writer holds the write lock");
    let mut readers = Vec::new();
    for r in 1..=2 {
        let client = target.client("/examples/rwlock").await?;
        readers.push(tokio::spawn(async move {
            let rw = ReadWriteLock::new(&client, "/catalog");
            let read = rw.read().await?;
            println!("reader-{r} holds a read lock");
            Ok::<_, zk_recipes::Error>((client, read))
        }));
    }
    // Readers wait while the writer writes.
    while rw.participants().await?.len() < 3 {
        tokio::task::yield_now().await;
    }
    println!("both readers are queued behind the writer");
    let read = rw.downgrade(write).await?;
    println!("writer downgraded to a read lock: readers may now read alongside it");
    let mut held = Vec::new();
    for r in readers {
        held.push(r.await??);
    }
    println!("3 read locks held at once");
    read.release().await?;
    for (client, guard) in held {
        guard.release().await?;
        client.close().await?;
    }
    writer_client.close().await?;
    Ok(())
}
