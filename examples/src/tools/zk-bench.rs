//! `zk-bench`: throughput and latency of zk-client against a ZooKeeper
//! ensemble.
//!
//! ```text
//! zk-bench --connect HOSTS --op create|get|set|mixed|multi --ops N --concurrency C [--size BYTES]
//! ```
//!
//! prints one line `op=… ops=… conc=… ops_per_sec=… p50_us=… p99_us=…`.
//! The workload is described in [`examples::bench`]; the same code drives
//! the `zookeeper-client` peer in `scripts/bench/peer/`.

use bytes::Bytes;
use clap::Parser as _;
use examples::bench::{self, Args, Target};
use std::process::ExitCode;
use std::sync::Arc;
use zk_client::{Client, CreateMode, Op, TlsConfig};

/// zk-client as a benchmark target.
struct ZkClient {
    client: Client,
    payload: Bytes,
}

impl Target for ZkClient {
    async fn create(&self, path: &str) -> Result<(), String> {
        self.client
            .create(path, self.payload.clone(), CreateMode::Persistent)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn get(&self, path: &str) -> Result<(), String> {
        self.client
            .get_data(path)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn set(&self, path: &str) -> Result<(), String> {
        self.client
            .set_data(path, self.payload.clone(), None)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn multi(&self, paths: [&str; 2]) -> Result<(), String> {
        let ops = paths
            .iter()
            .map(|p| Op::set_data(*p, self.payload.clone(), None))
            .collect();
        self.client
            .multi(ops)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, path: &str) -> Result<(), String> {
        self.client
            .delete(path, None)
            .await
            .map_err(|e| e.to_string())
    }

    async fn children(&self, path: &str) -> Result<Vec<String>, String> {
        self.client
            .get_children(path)
            .await
            .map_err(|e| e.to_string())
    }
}

/// TLS settings from `--tls-ca` / `--tls-cert` / `--tls-key`.
fn tls_config(args: &Args) -> Result<Option<TlsConfig>, String> {
    let Some(ca) = &args.tls_ca else {
        return Ok(None);
    };
    let mut b = TlsConfig::builder()
        .ca_pem_file(ca)
        .map_err(|e| e.to_string())?;
    if let Some((cert, key)) = args.tls_identity() {
        b = b
            .client_identity_pem_files(cert, key)
            .map_err(|e| e.to_string())?;
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

async fn run(args: Args) -> Result<String, String> {
    let mut builder = Client::builder(&args.connect);
    if let Some(tls) = tls_config(&args)? {
        builder = builder.tls(tls);
    }
    let client = builder
        .connect()
        .await
        .map_err(|e| format!("connecting to {}: {e}", args.connect))?;
    let target = Arc::new(ZkClient {
        client,
        payload: Bytes::from(bench::payload(args.size)),
    });
    let result = bench::run(target.clone(), args).await;
    if let Err(e) = target.client.close().await {
        eprintln!("zk-bench: closing the session: {e}");
    }
    result.map(|report| report.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match bench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zk-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
