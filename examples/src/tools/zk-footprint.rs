//! `zk-footprint`: resident memory of zk-client per idle session and per
//! registered watch.
//!
//! ```text
//! zk-footprint --connect HOSTS --mode sessions|watches --steps N,N,... \
//!              [--session-timeout-ms 10000] [--concurrency 64] [--pause]
//! ```
//!
//! prints one line per step,
//! `mode=… count=… rss_kib=… hwm_kib=… not_connected=… secs=…`. The
//! workload is described in [`examples::footprint`]; the same code drives
//! the `zookeeper-client` peer (`zk-footprint-peer` in `scripts/bench/peer/`).

use clap::Parser as _;
use examples::footprint::{self, Args, Footprint};
use std::process::ExitCode;
use std::time::Duration;
use zk_client::{Client, ConnectionState, OneshotWatch};

/// zk-client as the client measured.
struct ZkClient {
    connect: String,
}

/// A session and the id it started with (zk-client may replace an expired
/// session with a fresh one; that counts as lost here).
struct Held {
    client: Client,
    id: i64,
}

impl Footprint for ZkClient {
    type Session = Held;
    type Watch = OneshotWatch;

    async fn open(&self, timeout: Duration) -> Result<Held, String> {
        let client = Client::builder(&self.connect)
            .session_timeout(timeout)
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let id = client.session_id();
        Ok(Held { client, id })
    }

    async fn watch(session: &Held, path: &str) -> Result<OneshotWatch, String> {
        session
            .client
            .exists_watch(path)
            .await
            .map(|(_, watch)| watch)
            .map_err(|e| e.to_string())
    }

    fn connected(session: &Held) -> bool {
        let state = session.client.state();
        matches!(
            state,
            ConnectionState::Connected | ConnectionState::Reconnected
        ) && session.client.session_id() == session.id
    }

    async fn close(session: Held) {
        if let Err(e) = session.client.close().await {
            eprintln!("zk-footprint: closing a session: {e}");
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match examples::bench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-footprint: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = ZkClient {
        connect: args.connect.clone(),
    };
    match runtime.block_on(footprint::run(client, args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-footprint: {e}");
            ExitCode::FAILURE
        }
    }
}
