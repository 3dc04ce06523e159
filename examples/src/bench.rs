//! The workload behind `zk-bench`, written once for any ZooKeeper client.
//!
//! `zk-bench` (zk-client) and the peer benchmark in `scripts/bench/peer/`
//! (the `zookeeper-client` crate) both compile this file — the peer pulls it
//! in with `#[path]` — so the two measure exactly the same thing: the same
//! arguments, scratch layout, warm-up, pipelining loop, statistics and output
//! line. A client only has to implement [`Target`]. The file depends on `std`,
//! `tokio`, `futures` and `clap` alone.
//!
//! # Workload
//!
//! Every run works under a fresh scratch node `/zk-bench-<pid>-<nanos>`
//! created at the start and removed at the end (also after an error, Ctrl-C
//! or SIGTERM, as far as the connection allows).
//!
//! | `--op` | operation *i* |
//! |---|---|
//! | `create` | create a persistent node `<scratch>/c<i>` holding `--size` bytes |
//! | `get` | get the data of key node *i* mod 16 |
//! | `set` | set `--size` bytes on key node *i* mod 16 (any version) |
//! | `mixed` | a set like `set` when *i* mod 5 = 4, otherwise a get like `get`: 80 % reads, 20 % writes |
//! | `multi` | one transaction of two sets of `--size` bytes (any version), on key nodes *i* and *i* + 1 mod 16 |
//!
//! The 16 key nodes (`<scratch>/k00` .. `k15`, `--size` bytes each) exist
//! before the clock starts. A warm-up of
//! `max(ops / 10, 4 × concurrency, 100)` operations (at most 20 000) of the
//! same kind runs first, unmeasured (its creates go to `<scratch>/w<i>`).
//!
//! Concurrency *C* means *C* requests in flight at once on one client: one
//! task keeps *C* operation futures in a [`FuturesUnordered`] and starts the
//! next operation as soon as one completes; concurrency 1 is a plain loop
//! that awaits one operation after another, as a serial caller writes it
//! (a `FuturesUnordered` that has polled all of its futures yields to the
//! runtime, which with a single future happens on every operation and wakes
//! a second worker thread each time: a cost of the harness, not of the
//! client measured). The latency of an operation runs
//! from the moment it is issued (just before the client call) to its reply;
//! throughput is the number of measured operations divided by the wall time
//! from the first issue to the last reply.
//!
//! # Output
//!
//! One line on stdout, e.g.
//! `op=get ops=100000 conc=64 ops_per_sec=41234 p50_us=1480.2 p99_us=2950.7`
//! (percentiles by nearest rank over every measured operation); diagnostics
//! go to stderr.

use futures::stream::{FuturesUnordered, StreamExt};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Number of prepared key nodes for `get`, `set` and `mixed`.
pub const KEYS: usize = 16;

/// Concurrency of the setup and cleanup phases.
const HOUSEKEEPING_CONCURRENCY: usize = 64;

/// The kind of operation a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OpKind {
    /// Create N persistent nodes.
    Create,
    /// Read 16 prepared nodes round robin.
    Get,
    /// Write 16 prepared nodes round robin.
    Set,
    /// 80 % get, 20 % set (every fifth operation is a set).
    Mixed,
    /// A transaction of two sets on neighbouring prepared nodes.
    Multi,
}

impl OpKind {
    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Get => "get",
            OpKind::Set => "set",
            OpKind::Mixed => "mixed",
            OpKind::Multi => "multi",
        }
    }
}

/// The command line: runs N operations of one kind with C requests in
/// flight on one session, after an unmeasured warm-up, and prints one line
/// `op=... ops=... conc=... ops_per_sec=... p50_us=... p99_us=...`.
/// Everything runs under a scratch node `/zk-bench-<pid>-<nanos>` removed at
/// the end; diagnostics go to stderr.
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
pub struct Args {
    /// ZooKeeper connect string, host:port[,host:port...].
    #[arg(long, value_name = "HOSTS")]
    pub connect: String,
    /// What to measure.
    #[arg(long, value_enum, value_name = "KIND")]
    pub op: OpKind,
    /// Measured operations (> 0).
    #[arg(long, value_name = "N", value_parser = positive)]
    pub ops: usize,
    /// Requests in flight at once (> 0).
    #[arg(long, value_name = "C", value_parser = positive)]
    pub concurrency: usize,
    /// Payload of created and written nodes, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    pub size: usize,
    /// Connect with TLS, trusting this CA (PEM file; a secure client port).
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<String>,
    /// Client certificate (PEM file) for mutual TLS.
    #[arg(long, value_name = "PEM", requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<String>,
    /// Client key (PEM file) for mutual TLS.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<String>,
}

impl Args {
    /// TLS: the client certificate and key for mutual TLS, if given.
    pub fn tls_identity(&self) -> Option<(&str, &str)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }
}

/// A count greater than zero.
pub fn positive(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a positive integer".into()),
    }
}

/// The payload written by creates and sets: `size` bytes of `'x'`.
pub fn payload(size: usize) -> Vec<u8> {
    vec![b'x'; size]
}

/// A multi-threaded tokio runtime (one worker per core), the same for every
/// client measured.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// What the benchmark needs from a client. Errors are messages; the
/// workload fails on the first one.
///
/// Creates and sets write the target's own payload (see [`payload`]), so
/// each client can hold it in the form it takes without a copy per call.
pub trait Target: Send + Sync + 'static {
    /// Creates a persistent node at `path` holding the payload.
    fn create(&self, path: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// Reads the data of `path`.
    fn get(&self, path: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// Writes the payload to `path`, whatever its version.
    fn set(&self, path: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// One transaction (multi) writing the payload to each of `paths`,
    /// whatever their versions.
    fn multi(&self, paths: [&str; 2]) -> impl Future<Output = Result<(), String>> + Send;
    /// Deletes `path`, whatever its version.
    fn delete(&self, path: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// The names of the children of `path`.
    fn children(&self, path: &str) -> impl Future<Output = Result<Vec<String>, String>> + Send;
}

/// The result of a measured run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What was measured.
    pub op: OpKind,
    /// Measured operations.
    pub ops: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Measured operations per second of wall time.
    pub ops_per_sec: f64,
    /// Median latency in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency in microseconds.
    pub p99_us: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "op={} ops={} conc={} ops_per_sec={:.0} p50_us={:.1} p99_us={:.1}",
            self.op.name(),
            self.ops,
            self.concurrency,
            self.ops_per_sec,
            self.p50_us,
            self.p99_us
        )
    }
}

/// The `q`-quantile (0 < q ≤ 1) of sorted nanosecond samples by nearest
/// rank, in microseconds; 0 for no samples.
pub fn quantile_us(sorted_ns: &[u64], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_ns.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted_ns.len()) - 1;
    sorted_ns[idx] as f64 / 1000.0
}

/// Warm-up operations run before a measured run of `ops` at `concurrency`.
pub fn warmup_ops(ops: usize, concurrency: usize) -> usize {
    (ops / 10)
        .max(concurrency.saturating_mul(4))
        .clamp(100, 20_000)
}

/// Node names and counters of one run.
struct Plan {
    op: OpKind,
    scratch: String,
    keys: Vec<String>,
    /// Creates issued so far per prefix (`w` warm-up, `c` measured), so the
    /// cleanup knows what to delete.
    warm_created: AtomicUsize,
    measured_created: AtomicUsize,
}

impl Plan {
    fn create_path(&self, warm: bool, i: usize) -> String {
        let tag = if warm { 'w' } else { 'c' };
        format!("{}/{tag}{i}", self.scratch)
    }
}

/// Runs the whole benchmark on `target`: scratch node, key nodes, warm-up,
/// measured run, cleanup. Progress goes to stderr.
///
/// The work runs in a task spawned on the current runtime, as application
/// code would, rather than on the thread that called `block_on` (which is
/// not one of the runtime's workers).
pub async fn run<T: Target>(target: Arc<T>, args: Args) -> Result<Report, String> {
    tokio::spawn(async move { run_here(&*target, &args).await })
        .await
        .map_err(|e| format!("benchmark task failed: {e}"))?
}

async fn run_here<T: Target>(target: &T, args: &Args) -> Result<Report, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let scratch = format!("/zk-bench-{}-{now}", std::process::id());
    target
        .create(&scratch)
        .await
        .map_err(|e| format!("creating scratch node {scratch}: {e}"))?;
    let plan = Plan {
        op: args.op,
        keys: (0..KEYS).map(|k| format!("{scratch}/k{k:02}")).collect(),
        scratch,
        warm_created: AtomicUsize::new(0),
        measured_created: AtomicUsize::new(0),
    };
    let outcome = tokio::select! {
        r = measure(target, &plan, args) => r,
        r = interrupted() => Err(r),
    };
    let cleanup = cleanup(target, &plan, args.op).await;
    match (outcome, cleanup) {
        (Ok(report), Ok(())) => Ok(report),
        (Ok(_), Err(e)) => Err(format!("cleanup: {e}")),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(c)) => Err(format!("{e} (and cleanup: {c})")),
    }
}

/// Resolves with a message when the process is asked to stop.
async fn interrupted() -> String {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupted (SIGINT)".to_string(),
                _ = term.recv() => "interrupted (SIGTERM)".to_string(),
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "interrupted (SIGINT)".to_string()
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted".to_string()
    }
}

async fn measure<T: Target>(target: &T, plan: &Plan, args: &Args) -> Result<Report, String> {
    if plan.op != OpKind::Create {
        pipelined(plan.keys.len(), HOUSEKEEPING_CONCURRENCY, |k| {
            target.create(&plan.keys[k])
        })
        .await
        .map_err(|e| format!("creating key nodes: {e}"))?;
    }
    let warm = warmup_ops(args.ops, args.concurrency);
    eprintln!(
        "zk-bench: op={} warm-up {warm} ops, then {} measured, {} in flight, {} byte payload, under {}",
        plan.op.name(),
        args.ops,
        args.concurrency,
        args.size,
        plan.scratch
    );
    let mut ignored = Vec::new();
    timed_run(target, plan, true, warm, args.concurrency, &mut ignored)
        .await
        .map_err(|e| format!("warm-up: {e}"))?;
    drop(ignored);
    let mut samples = Vec::with_capacity(args.ops);
    let elapsed = timed_run(
        target,
        plan,
        false,
        args.ops,
        args.concurrency,
        &mut samples,
    )
    .await?;
    samples.sort_unstable();
    Ok(Report {
        op: plan.op,
        ops: args.ops,
        concurrency: args.concurrency,
        ops_per_sec: args.ops as f64 / elapsed.as_secs_f64(),
        p50_us: quantile_us(&samples, 0.50),
        p99_us: quantile_us(&samples, 0.99),
    })
}

/// Runs `n` operations with `conc` in flight, pushing each latency (ns) to
/// `samples`; returns the wall time.
async fn timed_run<T: Target>(
    target: &T,
    plan: &Plan,
    warm: bool,
    n: usize,
    conc: usize,
    samples: &mut Vec<u64>,
) -> Result<Duration, String> {
    let start = Instant::now();
    if conc == 1 {
        for i in 0..n {
            samples.push(one_op(target, plan, warm, i).await?.as_nanos() as u64);
        }
        return Ok(start.elapsed());
    }
    let mut inflight = FuturesUnordered::new();
    let mut next = 0;
    loop {
        while next < n && inflight.len() < conc {
            inflight.push(one_op(target, plan, warm, next));
            next += 1;
        }
        match inflight.next().await {
            Some(Ok(latency)) => samples.push(latency.as_nanos() as u64),
            Some(Err(e)) => return Err(e),
            None => return Ok(start.elapsed()),
        }
    }
}

/// Issues operation `i` and returns its latency.
async fn one_op<T: Target>(
    target: &T,
    plan: &Plan,
    warm: bool,
    i: usize,
) -> Result<Duration, String> {
    let key = || plan.keys[i % plan.keys.len()].as_str();
    let next_key = || plan.keys[(i + 1) % plan.keys.len()].as_str();
    match plan.op {
        OpKind::Create => {
            let path = plan.create_path(warm, i);
            let counter = if warm {
                &plan.warm_created
            } else {
                &plan.measured_created
            };
            counter.fetch_max(i + 1, Ordering::Relaxed);
            let t0 = Instant::now();
            target.create(&path).await?;
            Ok(t0.elapsed())
        }
        OpKind::Get => {
            let t0 = Instant::now();
            target.get(key()).await?;
            Ok(t0.elapsed())
        }
        OpKind::Set => {
            let t0 = Instant::now();
            target.set(key()).await?;
            Ok(t0.elapsed())
        }
        OpKind::Mixed => {
            let t0 = Instant::now();
            if i % 5 == 4 {
                target.set(key()).await?;
            } else {
                target.get(key()).await?;
            }
            Ok(t0.elapsed())
        }
        OpKind::Multi => {
            let t0 = Instant::now();
            target.multi([key(), next_key()]).await?;
            Ok(t0.elapsed())
        }
    }
}

/// Runs `make(0..n)` with at most `conc` in flight; stops at the first error.
async fn pipelined<F, Fut>(n: usize, conc: usize, mut make: F) -> Result<(), String>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut inflight = FuturesUnordered::new();
    let mut next = 0;
    loop {
        while next < n && inflight.len() < conc {
            inflight.push(make(next));
            next += 1;
        }
        match inflight.next().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => return Ok(()),
        }
    }
}

/// Deletes everything the run may have created, then the scratch node.
/// Deletes of nodes that were never created fail harmlessly and are
/// ignored; if the scratch node still has children after that, they are
/// listed and deleted.
async fn cleanup<T: Target>(target: &T, plan: &Plan, op: OpKind) -> Result<(), String> {
    let mut paths: Vec<String> = Vec::new();
    if op == OpKind::Create {
        paths.extend(
            (0..plan.warm_created.load(Ordering::Relaxed)).map(|i| plan.create_path(true, i)),
        );
        paths.extend(
            (0..plan.measured_created.load(Ordering::Relaxed)).map(|i| plan.create_path(false, i)),
        );
    } else {
        paths.extend(plan.keys.iter().cloned());
    }
    let paths = &paths;
    pipelined(paths.len(), HOUSEKEEPING_CONCURRENCY, |i| async move {
        let _ = target.delete(&paths[i]).await;
        Ok(())
    })
    .await?;
    if target.delete(&plan.scratch).await.is_ok() {
        return Ok(());
    }
    // Something unexpected is left (or the delete failed for another
    // reason): list and retry once.
    let children = target
        .children(&plan.scratch)
        .await
        .map_err(|e| format!("listing {}: {e}", plan.scratch))?;
    let children = &children;
    pipelined(children.len(), HOUSEKEEPING_CONCURRENCY, |i| async move {
        let _ = target
            .delete(&format!("{}/{}", plan.scratch, children[i]))
            .await;
        Ok(())
    })
    .await?;
    target
        .delete(&plan.scratch)
        .await
        .map_err(|e| format!("deleting {}: {e}", plan.scratch))
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::{CommandFactory, Parser};

    fn parse(s: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("zk-bench").chain(s.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_interface() {
        let c = parse("--connect 127.0.0.1:2181 --op mixed --ops 10 --concurrency 4 --size 7");
        assert_eq!(
            c.unwrap(),
            Args {
                connect: "127.0.0.1:2181".into(),
                op: OpKind::Mixed,
                ops: 10,
                concurrency: 4,
                size: 7,
                tls_ca: None,
                tls_cert: None,
                tls_key: None,
            }
        );
        let c = parse("--connect h:1 --op get --ops 1 --concurrency 1 --tls-ca ca.pem --tls-cert c.pem --tls-key c.key");
        assert_eq!(c.unwrap().tls_identity(), Some(("c.pem", "c.key")));
        assert!(parse("--connect h:1 --op get --ops 1 --concurrency 1 --tls-cert c.pem").is_err());
        assert!(parse("--connect h:1 --op get --ops 1 --concurrency 1 --tls-key c.key").is_err());
        let c = parse("--connect=h:1 --op=get --ops=1 --concurrency=1").unwrap();
        assert_eq!(c.size, 100);
        assert_eq!(parse("--op get --help").unwrap_err().exit_code(), 0);
    }

    /// How scripts/bench (compare.sh, ab.sh, lock.sh, tls.sh,
    /// ensemble_timing.sh), README.md and BENCHMARKS.md run zk-bench.
    #[test]
    fn every_invocation_in_the_tree_parses() {
        for line in [
            "--connect h:1 --op create --ops 300000 --concurrency 64 --size 100",
            "--connect h:1 --op get --ops 100000 --concurrency 64",
            "--connect h:1 --op set --ops 3000 --concurrency 1",
            "--connect h:1 --op create --ops 1 --concurrency 1",
            "--connect h:2 --op mixed --ops 30000 --concurrency 64 --tls-ca /p/ca.pem",
            // scripts/bench/curves.sh
            "--connect h:1 --op multi --ops 30000 --concurrency 1024 --size 1048576",
        ] {
            if let Err(e) = parse(line) {
                panic!("{line:?}: {e}");
            }
        }
    }

    #[test]
    fn rejects_bad_arguments_naming_the_flag() {
        for (line, flag) in [
            ("--connect h:1 --op get --ops 0 --concurrency 1", "--ops"),
            ("--connect h:1 --op get --ops x --concurrency 1", "--ops"),
            ("--connect h:1 --op put --ops 1 --concurrency 1", "--op"),
            (
                "--connect h:1 --op get --ops 1 --concurrency 0",
                "--concurrency",
            ),
            (
                "--connect h:1 --op get --ops 1 --concurrency 1 --size -",
                "--size",
            ),
            ("--connect h:1 --op get --ops 1", "--concurrency"),
        ] {
            let e = parse(line).expect_err(line);
            assert!(e.to_string().contains(flag), "{line}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        assert!(parse("--connect h:1 --op get --ops 1 --concurrency 1 --bogus").is_err());
        assert!(parse("--connect").is_err());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(quantile_us(&v, 0.5), 50.0);
        assert_eq!(quantile_us(&v, 0.99), 99.0);
        assert_eq!(quantile_us(&[5000], 0.99), 5.0);
        assert_eq!(quantile_us(&[], 0.5), 0.0);
    }

    #[test]
    fn report_line_format() {
        let r = Report {
            op: OpKind::Get,
            ops: 10,
            concurrency: 2,
            ops_per_sec: 1234.4,
            p50_us: 10.04,
            p99_us: 20.0,
        };
        assert_eq!(
            r.to_string(),
            "op=get ops=10 conc=2 ops_per_sec=1234 p50_us=10.0 p99_us=20.0"
        );
    }

    #[test]
    fn warmup_is_bounded() {
        assert_eq!(warmup_ops(1000, 1), 100);
        assert_eq!(warmup_ops(100_000, 64), 10_000);
        assert_eq!(warmup_ops(10, 10_000), 20_000);
    }
}
