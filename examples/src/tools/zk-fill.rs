//! `zk-fill`: loads a server with many znodes, for memory measurements.
//!
//! ```text
//! zk-fill --connect HOSTS [--nodes 1000000] [--size 100] [--fanout 1000]
//!         [--concurrency 256] [--root /fill]
//! ```
//!
//! Creates `--root`, then `ceil(nodes / fanout)` persistent directory nodes
//! `<root>/d000000 ..` (empty data), then `--nodes` persistent leaf nodes
//! `<root>/dNNNNNN/nMMMMMM`, `--fanout` per directory, each holding `--size`
//! bytes, with `--concurrency` creates in flight on one session (open ACL).
//! The nodes are left in place: the point is what the server holds
//! afterwards. Prints one line
//! `nodes=… dirs=… size=… seconds=… creates_per_sec=…` on stdout.

use bytes::Bytes;
use clap::Parser;
use examples::bench::positive;
use futures::stream::{FuturesUnordered, StreamExt};
use std::process::ExitCode;
use std::time::Instant;
use zk_client::{Client, CreateMode};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "zk-fill",
    about = "Loads a server with many znodes, for memory measurements"
)]
struct Args {
    /// The connect string.
    #[arg(long, value_name = "HOSTS")]
    connect: String,
    /// Leaf nodes to create.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    nodes: usize,
    /// Bytes of data in each leaf.
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    size: usize,
    /// Leaves per directory node (> 0).
    #[arg(long, value_name = "F", default_value_t = 1000, value_parser = positive)]
    fanout: usize,
    /// Creates in flight at once (> 0).
    #[arg(long, value_name = "C", default_value_t = 256, value_parser = positive)]
    concurrency: usize,
    /// The node everything is created under.
    #[arg(long, value_name = "PATH", default_value = "/fill")]
    root: String,
}

/// Creates `paths(0..n)` with `data`, `conc` at a time.
async fn create_all(
    client: &Client,
    n: usize,
    conc: usize,
    data: &Bytes,
    path: impl Fn(usize) -> String,
) -> Result<(), String> {
    let mut inflight = FuturesUnordered::new();
    let mut next = 0;
    loop {
        while next < n && inflight.len() < conc {
            let p = path(next);
            let data = data.clone();
            inflight.push(async move {
                client
                    .create(&p, data, CreateMode::Persistent)
                    .await
                    .map_err(|e| format!("create {p}: {e}"))
            });
            next += 1;
        }
        match inflight.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => return Ok(()),
        }
    }
}

async fn run(a: Args) -> Result<String, String> {
    let client = Client::connect(&a.connect)
        .await
        .map_err(|e| format!("connecting to {}: {e}", a.connect))?;
    let start = Instant::now();
    client
        .create(&a.root, Bytes::new(), CreateMode::Persistent)
        .await
        .map_err(|e| format!("create {}: {e}", a.root))?;
    let dirs = a.nodes.div_ceil(a.fanout);
    let empty = Bytes::new();
    create_all(&client, dirs, a.concurrency, &empty, |d| {
        format!("{}/d{d:06}", a.root)
    })
    .await?;
    let data = Bytes::from(vec![b'x'; a.size]);
    let fanout = a.fanout;
    create_all(&client, a.nodes, a.concurrency, &data, |i| {
        format!("{}/d{:06}/n{:06}", a.root, i / fanout, i % fanout)
    })
    .await?;
    let seconds = start.elapsed().as_secs_f64();
    client.close().await.map_err(|e| format!("close: {e}"))?;
    Ok(format!(
        "nodes={} dirs={dirs} size={} seconds={seconds:.1} creates_per_sec={:.0}",
        a.nodes,
        a.size,
        (a.nodes + dirs + 1) as f64 / seconds
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zk-fill: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::{CommandFactory, Parser};

    fn parse(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("zk-fill").chain(line.split_whitespace()))
    }

    #[test]
    fn scripts_invocations_parse_and_bad_values_name_their_flag() {
        Args::command().debug_assert();
        // scripts/bench/memory.sh
        let a = parse("--connect h:1 --nodes 1000000 --size 100 --fanout 1000").unwrap();
        assert_eq!(
            (a.nodes, a.size, a.fanout, a.concurrency),
            (1_000_000, 100, 1000, 256)
        );
        assert_eq!(a.root, "/fill");
        for (line, flag) in [
            ("--nodes 1e6", "--nodes"),
            ("--fanout 0", "--fanout"),
            ("--concurrency 0", "--concurrency"),
            ("--size big", "--size"),
        ] {
            let e = parse(&format!("--connect h:1 {line}")).unwrap_err();
            assert!(e.to_string().contains(flag), "{line}: {e}");
        }
        assert!(parse("").is_err(), "--connect is required");
    }
}
