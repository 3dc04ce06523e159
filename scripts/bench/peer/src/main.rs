//! `zk-bench-peer`: the `zk-bench` workload driven by the `zookeeper-client`
//! crate, for comparison with zk-client in the same run.
//!
//! Same flags and output as `zk-bench`, with `client=zookeeper-client `
//! in front of the line. The workload itself is `examples/src/bench.rs` of
//! the zk-rs repository, compiled in unchanged.

#[path = "../../../../examples/src/bench.rs"]
#[allow(dead_code)]
mod bench;

use bench::{Args, Target};
use clap::Parser as _;
use std::process::ExitCode;
use std::sync::Arc;
use zookeeper_client as zk;

/// The `zookeeper-client` crate as a benchmark target.
struct Peer {
    client: zk::Client,
    payload: Vec<u8>,
}

impl Target for Peer {
    async fn create(&self, path: &str) -> Result<(), String> {
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        self.client
            .create(path, &self.payload, &options)
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
            .set_data(path, &self.payload, None)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn multi(&self, paths: [&str; 2]) -> Result<(), String> {
        let mut writer = self.client.new_multi_writer();
        for path in paths {
            writer
                .add_set_data(path, &self.payload, None)
                .map_err(|e| e.to_string())?;
        }
        writer.commit().await.map(drop).map_err(|e| e.to_string())
    }

    async fn delete(&self, path: &str) -> Result<(), String> {
        self.client
            .delete(path, None)
            .await
            .map_err(|e| e.to_string())
    }

    async fn children(&self, path: &str) -> Result<Vec<String>, String> {
        self.client
            .list_children(path)
            .await
            .map_err(|e| e.to_string())
    }
}

/// `--tls-ca` (and `--tls-cert`/`--tls-key`) as the crate's TLS options.
fn tls_options(args: &Args) -> Result<Option<zk::TlsOptions>, String> {
    let Some(ca) = &args.tls_ca else {
        return Ok(None);
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let mut options = zk::TlsOptions::default()
        .with_pem_ca(&read(ca)?)
        .map_err(|e| e.to_string())?;
    if let Some((cert, key)) = args.tls_identity() {
        options = options
            .with_pem_identity(&read(cert)?, &read(key)?)
            .map_err(|e| e.to_string())?;
    }
    Ok(Some(options))
}

async fn run(args: Args) -> Result<String, String> {
    let client = match tls_options(&args)? {
        Some(tls) => zk::Client::connector()
            .with_tls(tls)
            .secure_connect(&args.connect)
            .await,
        None => zk::Client::connect(&args.connect).await,
    }
    .map_err(|e| format!("connecting to {}: {e}", args.connect))?;
    let target = Arc::new(Peer {
        client,
        payload: bench::payload(args.size),
    });
    let result = bench::run(target.clone(), args).await;
    // Dropping the last handle closes the session.
    drop(target);
    result.map(|report| format!("client=zookeeper-client {report}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match bench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-bench-peer: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zk-bench-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
