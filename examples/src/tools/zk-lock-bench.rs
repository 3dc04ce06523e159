//! `zk-lock-bench`: lock handoffs per second with `zk_recipes::Lock`.
//!
//! ```text
//! zk-lock-bench --connect HOSTS [--contenders 16] [--seconds 10] [--warmup 2]
//! ```
//!
//! The same measurement as `scripts/bench/lock_handoffs.py` makes with
//! kazoo: N contenders, each with its own session (its own [`Client`]), loop
//! `acquire(); release()` on one [`Lock`] under a fresh scratch node
//! `/zk-lock-bench-<pid>-<nanos>/lock`. They start together, run `--warmup`
//! seconds unmeasured, then `--seconds` measured. A handoff is one
//! acquisition; it counts when the acquire started inside the measured
//! window and the lock was held before the window closed. Prints one line,
//! the same as the Python script's:
//!
//! `recipe=lock client=zk-recipes contenders=16 seconds=10.0 handoffs=N
//! handoffs_per_sec=X acquire_p50_ms=.. acquire_p99_ms=..`
//!
//! (acquire latency: from calling acquire to holding the lock, measured
//! window only). A second line, on stderr, splits the handoff into its
//! parts, from the measured acquisitions ordered by when they were held:
//!
//! `breakdown: gap_p50_us=.. release_p50_us=.. release_to_held_p50_us=..`
//!
//! A contender releases as soon as it holds. `gap` is from one holder
//! holding to the next holder holding (the handoff's whole cost);
//! `release` is the holder's release (its delete's round trip);
//! `release_to_held` is from the end of that release to the next holder
//! holding (its watch firing, its getChildren).
//!
//! The contenders share one process and one multi-threaded tokio runtime
//! (one worker per core); kazoo's contenders are processes, because of
//! Python's GIL.

use clap::Parser as _;
use examples::bench;
use examples::lock_bench::{report, Acquisition, LockArgs};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zk_client::{Client, CreateMode};
use zk_recipes::Lock;

/// One contender's loop; returns its counted acquisitions.
async fn contender(
    client: Client,
    lock_path: String,
    start_at: Instant,
    warm_until: Instant,
    stop_at: Instant,
) -> Result<Vec<Acquisition>, String> {
    let lock = Lock::new(&client, lock_path);
    let mut waits = Vec::new();
    tokio::time::sleep_until(start_at.into()).await;
    loop {
        let t0 = Instant::now();
        if t0 >= stop_at {
            break;
        }
        let guard = lock.acquire().await.map_err(|e| format!("acquire: {e}"))?;
        let t1 = Instant::now();
        guard.release().await.map_err(|e| format!("release: {e}"))?;
        if t0 >= warm_until && t1 <= stop_at {
            waits.push(Acquisition {
                started: t0,
                held: t1,
                released: Instant::now(),
            });
        }
    }
    client.close().await.map_err(|e| format!("close: {e}"))?;
    Ok(waits)
}

async fn run(a: LockArgs) -> Result<String, String> {
    let admin = Client::connect(&a.connect)
        .await
        .map_err(|e| format!("connecting to {}: {e}", a.connect))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let scratch = format!("/zk-lock-bench-{}-{nanos}", std::process::id());
    admin
        .create(&scratch, "", CreateMode::Persistent)
        .await
        .map_err(|e| format!("create {scratch}: {e}"))?;
    let lock_path = format!("{scratch}/lock");
    let mut clients = Vec::with_capacity(a.contenders);
    for _ in 0..a.contenders {
        clients.push(
            Client::connect(&a.connect)
                .await
                .map_err(|e| format!("connecting a contender: {e}"))?,
        );
    }
    // Start together, a moment after every session is up.
    let start_at = Instant::now() + Duration::from_millis(200);
    let warm_until = start_at + Duration::from_secs_f64(a.warmup);
    let stop_at = warm_until + Duration::from_secs_f64(a.seconds);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            tokio::spawn(contender(
                c,
                lock_path.clone(),
                start_at,
                warm_until,
                stop_at,
            ))
        })
        .collect();
    let mut waits = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await {
            Ok(Ok(w)) => waits.extend(w),
            Ok(Err(e)) => errors.push(format!("contender {i}: {e}")),
            Err(e) => errors.push(format!("contender {i}: {e}")),
        }
    }
    let cleanup = delete_tree(&admin, &scratch).await;
    let _ = admin.close().await;
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    cleanup?;
    let (line, breakdown) = report("zk-recipes", &a, &mut waits);
    eprintln!("{breakdown}");
    Ok(line)
}

/// Deletes `path` and everything under it (children first).
async fn delete_tree(client: &Client, path: &str) -> Result<(), String> {
    let mut order = vec![path.to_string()];
    let mut i = 0;
    while i < order.len() {
        let p = order[i].clone();
        match client.get_children(&p).await {
            Ok(children) => order.extend(children.into_iter().map(|c| format!("{p}/{c}"))),
            Err(e) if e.is_no_node() => {}
            Err(e) => return Err(format!("listing {p}: {e}")),
        }
        i += 1;
    }
    for p in order.iter().rev() {
        match client.delete(p, None).await {
            Ok(()) => {}
            Err(e) if e.is_no_node() => {}
            Err(e) => return Err(format!("deleting {p}: {e}")),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = LockArgs::parse();
    let runtime = match bench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-lock-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async { tokio::spawn(run(args)).await }) {
        Ok(Ok(line)) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("zk-lock-bench: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("zk-lock-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
