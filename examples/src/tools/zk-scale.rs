//! `zk-scale`: server costs as the work grows, seen through one client
//! (zk-client), so that two servers can be compared with the same client.
//!
//! ```text
//! zk-scale fanout      --connect HOSTS --steps 1,10,100,1000 [--rounds 5]
//! zk-scale children    --connect HOSTS --steps 10,1000,100000 [--rounds 5]
//! zk-scale close       --connect HOSTS --steps 1000,10000 [--rounds 5]
//! zk-scale first-write --connect HOSTS [--deadline-ms 60000]
//! ```
//!
//! - `fanout`: one writer session and N watcher sessions (N the step,
//!   cumulative: sessions are added from step to step, `--concurrency` at a
//!   time). Each round every watcher leaves a data watch on one node with
//!   `get_data_watch`; then the writer sets the node, and the round's time
//!   runs from issuing the set to the last watcher's event (the change
//!   travelling to N sessions; the client's own handling of N events is in
//!   it, the same for every server). One line per step:
//!   `fanout watchers=N rounds=R set_p50_ms=… last_p50_ms=… last_min_ms=… last_max_ms=…`.
//! - `children`: one session adds children `c0000000 ..` (empty data,
//!   `--concurrency` creates in flight) to one node until it has N (the
//!   step, cumulative), then times R `get_children` of that node. One line
//!   per step: `children count=N rounds=R p50_ms=… min_ms=… fill_secs=…`.
//!   The client accepts frames up to `--max-frame` bytes (a million
//!   children of 8-character names make a reply of 12 MB).
//! - `close`: each round opens N sessions (N the step, not cumulative),
//!   each leaves an exists watch on an absent node of its own, then all are
//!   closed, `--concurrency` at a time; the round's time runs from the first
//!   close to the last one acknowledged (the server dropping each closing
//!   session's watches is in it). One line per step:
//!   `close sessions=N rounds=R close_p50_ms=… close_min_ms=… close_max_ms=…`.
//! - `first-write`: connects and creates one ephemeral node, retrying
//!   (connection and request) until one create is acknowledged or the
//!   deadline passes; prints `first_write_ms=… attempts=…` measured from the
//!   tool's own start. Scripts time a server start or a leader kill with it.
//!
//! `fanout` and `children` work under a fresh node `/zk-scale-<pid>-<nanos>`
//! and leave it in place (their servers are throwaways).

use bytes::Bytes;
use clap::{Parser, Subcommand};
use examples::bench::positive;
use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zk_client::{Client, CreateMode, OneshotWatch};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "zk-scale",
    about = "Server costs as the work grows, seen through one client"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to measure.
#[derive(Debug, Subcommand)]
enum Command {
    /// Time from one set to its data watch firing in N sessions.
    Fanout(Steps),
    /// Time of getChildren on a node with N children.
    Children(Steps),
    /// Time to close N sessions that each watch a node of their own.
    Close(Steps),
    /// Time to the first acknowledged create, retrying until the deadline.
    FirstWrite {
        /// ZooKeeper connect string.
        #[arg(long, value_name = "HOSTS")]
        connect: String,
        /// Give up after this many milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 60_000)]
        deadline_ms: u64,
    },
}

/// The arguments of a stepped measurement.
#[derive(Debug, Clone, clap::Args)]
struct Steps {
    /// ZooKeeper connect string.
    #[arg(long, value_name = "HOSTS")]
    connect: String,
    /// Cumulative counts to measure at, ascending, comma-separated.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', required = true)]
    steps: Vec<usize>,
    /// Measured rounds per step (> 0).
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = positive)]
    rounds: usize,
    /// Sessions opened or nodes created at once (> 0).
    #[arg(long, value_name = "C", default_value_t = 256, value_parser = positive)]
    concurrency: usize,
    /// Session timeout of every session, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    session_timeout_ms: u64,
    /// Largest frame the client accepts, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_frame: usize,
}

impl Steps {
    fn check(&self) -> Result<(), String> {
        if self.steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err("--steps must be strictly ascending".into());
        }
        Ok(())
    }

    async fn session(&self) -> Result<Client, String> {
        Client::builder(&self.connect)
            .session_timeout(Duration::from_millis(self.session_timeout_ms))
            .max_frame(self.max_frame)
            .connect()
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.connect))
    }
}

/// Runs `make(0..n)` with at most `conc` in flight, collecting the results
/// in completion order; stops at the first error.
async fn all<T, F, Fut>(n: usize, conc: usize, mut make: F) -> Result<Vec<T>, String>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut out = Vec::with_capacity(n);
    let mut inflight = FuturesUnordered::new();
    let mut next = 0;
    loop {
        while next < n && inflight.len() < conc {
            inflight.push(make(next));
            next += 1;
        }
        match inflight.next().await {
            Some(r) => out.push(r?),
            None => return Ok(out),
        }
    }
}

/// Median, minimum and maximum in milliseconds.
fn stats_ms(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[(v.len() - 1) / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

/// A fresh node for this run's work.
async fn scratch(client: &Client) -> Result<String, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let path = format!("/zk-scale-{}-{nanos}", std::process::id());
    client
        .create(&path, Bytes::new(), CreateMode::Persistent)
        .await
        .map_err(|e| format!("creating {path}: {e}"))?;
    Ok(path)
}

async fn fanout(a: Steps) -> Result<(), String> {
    a.check()?;
    let writer = a.session().await?;
    let node = format!("{}/f", scratch(&writer).await?);
    writer
        .create(&node, Bytes::new(), CreateMode::Persistent)
        .await
        .map_err(|e| format!("creating {node}: {e}"))?;
    let mut watchers: Vec<Client> = Vec::new();
    let mut outcome = Ok(());
    for &n in &a.steps {
        let more = all(n - watchers.len(), a.concurrency, |_| a.session()).await;
        match more {
            Ok(more) => watchers.extend(more),
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
        if let Err(e) = fanout_step(&a, &writer, &watchers, &node).await {
            outcome = Err(e);
            break;
        }
    }
    for c in watchers.iter().chain([&writer]) {
        let _ = c.close().await;
    }
    outcome
}

/// Each round opens N sessions, lets each leave an exists watch on its own
/// absent node, then closes them all (`--concurrency` at a time) and times
/// the closes: the server drops each closing session's watches.
async fn close(a: Steps) -> Result<(), String> {
    a.check()?;
    let owner = a.session().await?;
    let base = scratch(&owner).await?;
    for &n in &a.steps {
        let mut times = Vec::new();
        for round in 0..a.rounds {
            let sessions = all(n, a.concurrency, |_| a.session()).await?;
            let base = &base;
            all(n, a.concurrency, |i| {
                let path = format!("{base}/r{round}-w{i}");
                let client = &sessions[i];
                async move {
                    client
                        .exists_watch(&path)
                        .await
                        .map(drop)
                        .map_err(|e| format!("watching {path}: {e}"))
                }
            })
            .await?;
            let t0 = Instant::now();
            all(n, a.concurrency, |i| {
                let client = &sessions[i];
                async move { client.close().await.map_err(|e| format!("closing: {e}")) }
            })
            .await?;
            times.push(t0.elapsed());
        }
        let (p50, min, max) = stats_ms(times);
        println!(
            "close sessions={n} rounds={} close_p50_ms={p50:.2} close_min_ms={min:.2} close_max_ms={max:.2}",
            a.rounds
        );
    }
    let _ = owner.close().await;
    Ok(())
}

/// The rounds of one fan-out step; prints its line.
async fn fanout_step(
    a: &Steps,
    writer: &Client,
    watchers: &[Client],
    node: &str,
) -> Result<(), String> {
    let (mut sets, mut lasts) = (Vec::new(), Vec::new());
    for _ in 0..a.rounds {
        let watches: Vec<OneshotWatch> = all(watchers.len(), a.concurrency, |i| async move {
            watchers[i]
                .get_data_watch(node)
                .await
                .map(|(_, _, w)| w)
                .map_err(|e| format!("watching {node}: {e}"))
        })
        .await?;
        let mut fired: FuturesUnordered<OneshotWatch> = watches.into_iter().collect();
        let t0 = Instant::now();
        writer
            .set_data(node, Bytes::from_static(b"x"), None)
            .await
            .map_err(|e| format!("setting {node}: {e}"))?;
        sets.push(t0.elapsed());
        while fired.next().await.is_some() {}
        lasts.push(t0.elapsed());
    }
    let (set_p50, _, _) = stats_ms(sets);
    let (p50, min, max) = stats_ms(lasts);
    println!(
        "fanout watchers={} rounds={} set_p50_ms={set_p50:.2} last_p50_ms={p50:.2} last_min_ms={min:.2} last_max_ms={max:.2}",
        watchers.len(),
        a.rounds
    );
    Ok(())
}

async fn children(a: Steps) -> Result<(), String> {
    a.check()?;
    let client = a.session().await?;
    let parent = format!("{}/p", scratch(&client).await?);
    client
        .create(&parent, Bytes::new(), CreateMode::Persistent)
        .await
        .map_err(|e| format!("creating {parent}: {e}"))?;
    let mut have = 0;
    for &n in &a.steps {
        let t0 = Instant::now();
        let (client, parent) = (&client, parent.as_str());
        all(n - have, a.concurrency, |i| async move {
            let path = format!("{parent}/c{:07}", have + i);
            client
                .create(&path, Bytes::new(), CreateMode::Persistent)
                .await
                .map(drop)
                .map_err(|e| format!("creating {path}: {e}"))
        })
        .await?;
        have = n;
        let fill = t0.elapsed();
        let mut times = Vec::new();
        for _ in 0..a.rounds {
            let t0 = Instant::now();
            let names = client
                .get_children(parent)
                .await
                .map_err(|e| format!("getChildren of {parent} ({n} children): {e}"))?;
            times.push(t0.elapsed());
            if names.len() != n {
                return Err(format!("{parent} lists {} children, not {n}", names.len()));
            }
        }
        let (p50, min, _) = stats_ms(times);
        println!(
            "children count={n} rounds={} p50_ms={p50:.2} min_ms={min:.2} fill_secs={:.1}",
            a.rounds,
            fill.as_secs_f64()
        );
    }
    client.close().await.map_err(|e| format!("close: {e}"))
}

async fn first_write(connect: String, deadline: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    let mut attempts = 0;
    let mut last_error = String::new();
    while t0.elapsed() < deadline {
        attempts += 1;
        let left = deadline.saturating_sub(t0.elapsed());
        let attempt = async {
            let client = Client::builder(&connect)
                .connect_timeout(Duration::from_millis(500))
                .connect()
                .await?;
            let created = client
                .create(
                    "/zk-scale-first-write-",
                    "",
                    CreateMode::EphemeralSequential,
                )
                .await;
            let _ = client.close().await;
            created
        };
        match tokio::time::timeout(left, attempt).await {
            Ok(Ok(_)) => {
                println!(
                    "first_write_ms={:.1} attempts={attempts}",
                    t0.elapsed().as_secs_f64() * 1000.0
                );
                return Ok(());
            }
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => last_error = "deadline".into(),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!(
        "no acknowledged write within {deadline:?} ({attempts} attempts, last: {last_error})"
    ))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match examples::bench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-scale: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Fanout(a) => fanout(a).await,
            Command::Children(a) => children(a).await,
            Command::Close(a) => close(a).await,
            Command::FirstWrite {
                connect,
                deadline_ms,
            } => first_write(connect, Duration::from_millis(deadline_ms)).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-scale: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("zk-scale").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// How scripts/bench/curves.sh runs it.
    #[test]
    fn the_scripts_invocations_parse() {
        let Command::Fanout(a) = parse("fanout --connect h:1 --steps 1,10,100 --rounds 3")
            .unwrap()
            .command
        else {
            panic!("not fanout");
        };
        assert_eq!(
            (a.steps, a.rounds, a.concurrency),
            (vec![1, 10, 100], 3, 256)
        );
        let Command::Children(a) = parse("children --connect h:1 --steps 10,1000000")
            .unwrap()
            .command
        else {
            panic!("not children");
        };
        assert_eq!((a.rounds, a.max_frame), (5, 64 << 20));
        assert!(a.check().is_ok());
        let c = parse("first-write --connect h:1 --deadline-ms 30000").unwrap();
        assert!(matches!(
            c.command,
            Command::FirstWrite {
                deadline_ms: 30_000,
                ..
            }
        ));
    }

    #[test]
    fn bad_arguments_are_rejected() {
        assert!(parse("fanout --connect h:1").is_err());
        assert!(parse("children --connect h:1 --steps 1 --rounds 0").is_err());
        let Command::Children(a) = parse("children --connect h:1 --steps 10,5")
            .unwrap()
            .command
        else {
            panic!("not children");
        };
        assert!(a.check().is_err());
    }

    #[test]
    fn stats_are_median_min_max() {
        let ms = Duration::from_millis;
        assert_eq!(stats_ms(vec![ms(3), ms(1), ms(2)]), (2.0, 1.0, 3.0));
        assert_eq!(stats_ms(vec![ms(4), ms(2)]), (2.0, 2.0, 4.0));
    }
}
