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
use futures::stream::{FuturesUnordered, StreamExt};
use std::process::ExitCode;
use std::time::Instant;
use zk_client::{Client, CreateMode};

const USAGE: &str = "usage: zk-fill --connect HOSTS [--nodes N] [--size BYTES] [--fanout F] \
[--concurrency C] [--root PATH]";

struct Args {
    connect: String,
    nodes: usize,
    size: usize,
    fanout: usize,
    concurrency: usize,
    root: String,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut connect = None;
    let mut a = Args {
        connect: String::new(),
        nodes: 1_000_000,
        size: 100,
        fanout: 1000,
        concurrency: 256,
        root: "/fill".into(),
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, v: String| -> Result<usize, String> {
            v.parse()
                .map_err(|_| format!("{name}: not a number: {v:?}"))
        };
        match flag.as_str() {
            "--connect" => connect = Some(value("--connect")?),
            "--nodes" => a.nodes = number("--nodes", value("--nodes")?)?,
            "--size" => a.size = number("--size", value("--size")?)?,
            "--fanout" => a.fanout = number("--fanout", value("--fanout")?)?,
            "--concurrency" => a.concurrency = number("--concurrency", value("--concurrency")?)?,
            "--root" => a.root = value("--root")?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    a.connect = connect.ok_or(format!("--connect is required\n{USAGE}"))?;
    if a.fanout == 0 || a.concurrency == 0 {
        return Err("--fanout and --concurrency must be positive".into());
    }
    Ok(a)
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
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("zk-fill: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
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
