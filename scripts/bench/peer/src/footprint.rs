//! `zk-footprint-peer`: the `zk-footprint` workload (resident memory per
//! idle session and per registered watch) driven by the `zookeeper-client`
//! crate, for comparison with zk-client in the same run.
//!
//! Same flags and output as `zk-footprint`. The workload is
//! `examples/src/footprint.rs` of the zk-rs repository, compiled in
//! unchanged.

#[path = "../../../../examples/src/bench.rs"]
#[allow(dead_code)]
mod bench;
#[path = "../../../../examples/src/footprint.rs"]
#[allow(dead_code)]
mod footprint;

use clap::Parser as _;
use footprint::{Args, Footprint};
use std::process::ExitCode;
use std::time::Duration;
use zookeeper_client as zk;

/// The `zookeeper-client` crate as the client measured.
struct Peer {
    connect: String,
}

impl Footprint for Peer {
    type Session = zk::Client;
    type Watch = zk::OneshotWatcher;

    async fn open(&self, timeout: Duration) -> Result<zk::Client, String> {
        zk::Client::connector()
            .with_session_timeout(timeout)
            .connect(&self.connect)
            .await
            .map_err(|e| e.to_string())
    }

    async fn watch(session: &zk::Client, path: &str) -> Result<zk::OneshotWatcher, String> {
        session
            .check_and_watch_stat(path)
            .await
            .map(|(_, watch)| watch)
            .map_err(|e| e.to_string())
    }

    fn connected(session: &zk::Client) -> bool {
        session.state() == zk::SessionState::SyncConnected
    }

    async fn close(session: zk::Client) {
        // Dropping the last handle closes the session.
        drop(session);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match bench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-footprint-peer: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = Peer {
        connect: args.connect.clone(),
    };
    match runtime.block_on(footprint::run(client, args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-footprint-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
