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

use examples::bench;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zk_client::{Client, CreateMode};
use zk_recipes::Lock;

const USAGE: &str =
    "usage: zk-lock-bench --connect HOSTS [--contenders N] [--seconds S] [--warmup S]";

struct Args {
    connect: String,
    contenders: usize,
    seconds: f64,
    warmup: f64,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut connect = None;
    let mut a = Args {
        connect: String::new(),
        contenders: 16,
        seconds: 10.0,
        warmup: 2.0,
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--connect" => connect = Some(value("--connect")?),
            "--contenders" => {
                a.contenders = value("--contenders")?
                    .parse()
                    .map_err(|_| "--contenders: not a number")?
            }
            "--seconds" => {
                a.seconds = value("--seconds")?
                    .parse()
                    .map_err(|_| "--seconds: not a number")?
            }
            "--warmup" => {
                a.warmup = value("--warmup")?
                    .parse()
                    .map_err(|_| "--warmup: not a number")?
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    a.connect = connect.ok_or(format!("--connect is required\n{USAGE}"))?;
    if a.contenders == 0
        || a.seconds.is_nan()
        || a.seconds <= 0.0
        || a.warmup.is_nan()
        || a.warmup < 0.0
    {
        return Err("--contenders must be >= 1, --seconds > 0, --warmup >= 0".into());
    }
    Ok(a)
}

/// The timeline of one counted acquisition.
#[derive(Clone, Copy)]
struct Acquisition {
    started: Instant,
    held: Instant,
    released: Instant,
}

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

async fn run(a: Args) -> Result<String, String> {
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
    eprintln!("{}", breakdown(&mut waits));
    let mut ns: Vec<u64> = waits
        .iter()
        .map(|a| (a.held - a.started).as_nanos() as u64)
        .collect();
    ns.sort_unstable();
    let ms = |q| bench::quantile_us(&ns, q) / 1000.0;
    Ok(format!(
        "recipe=lock client=zk-recipes contenders={} seconds={:.1} handoffs={} \
         handoffs_per_sec={:.1} acquire_p50_ms={:.2} acquire_p99_ms={:.2}",
        a.contenders,
        a.seconds,
        ns.len(),
        ns.len() as f64 / a.seconds,
        ms(0.5),
        ms(0.99)
    ))
}

/// The `breakdown:` line: consecutive holders, by when they held.
fn breakdown(acquisitions: &mut [Acquisition]) -> String {
    acquisitions.sort_by_key(|a| a.held);
    let (mut gap, mut release, mut release_to_held) = (Vec::new(), Vec::new(), Vec::new());
    for pair in acquisitions.windows(2) {
        let (before, next) = (pair[0], pair[1]);
        gap.push((next.held - before.held).as_nanos() as u64);
        release.push((before.released - before.held).as_nanos() as u64);
        // A watch may fire before the delete's own reply arrives.
        release_to_held.push(
            next.held
                .saturating_duration_since(before.released)
                .as_nanos() as u64,
        );
    }
    let p50 = |v: &mut Vec<u64>| {
        v.sort_unstable();
        bench::quantile_us(v, 0.5)
    };
    format!(
        "breakdown: gap_p50_us={:.1} release_p50_us={:.1} release_to_held_p50_us={:.1}",
        p50(&mut gap),
        p50(&mut release),
        p50(&mut release_to_held),
    )
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
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("zk-lock-bench: {e}");
            return ExitCode::from(2);
        }
    };
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
