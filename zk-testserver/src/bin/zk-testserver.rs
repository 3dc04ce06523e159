//! Command-line ZooKeeper-compatible server.
//!
//! `zk-testserver --members N --port P [--data-dir DIR] [--tick-ms T]
//! [--extended-types] [--super-digest super:<b64>] [--container-check-ms C]`
//! starts N members on client ports P, P+1, ... (any free ports without
//! `--port`), prints the connect string `127.0.0.1:P,127.0.0.1:P+1,...` as the
//! first line of stdout once every member serves, logs to stderr (`RUST_LOG`
//! filter), and runs until SIGINT or SIGTERM. With `--data-dir`, member k
//! keeps its transaction log and snapshots in `DIR/member<k>` and recovers
//! from them on the next start. `--zk-version 3.8|3.9` chooses the ZooKeeper
//! release imitated where the two differ (default 3.9). `--read-only-mode`
//! lets a member cut off from its quorum serve read-only sessions
//! (ZooKeeper's `readonlymode.enabled`). `--admin-port A` serves an
//! AdminServer-compatible HTTP endpoint (`/commands/<name>`) for member k on
//! port A + k - 1. `--bind IP` binds the client (and admin) ports to IP
//! (default 127.0.0.1; the connect string names loopback for 0.0.0.0).
//! `--observers K` adds K observers (ZooKeeper's non-voting members) as
//! members N+1 to N+K, on the client ports after the voters'.
//!
//! `--control ADDR` serves the fault API over HTTP/JSON on ADDR (see
//! `zk_testserver::control`: kill, restart, partition, heal, expire a
//! session, wait for a leader, ...) and prints `control http://<addr>` as the
//! second line of stdout, so tests in any language can drive failovers, as
//! with curator-test's TestingCluster.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use zk_testserver::server::ZkVersion;
use zk_testserver::Ensemble;

const USAGE: &str = "usage: zk-testserver [--members N] [--port P] [--data-dir DIR] \
[--tick-ms T] [--extended-types] [--super-digest super:<base64 sha1>] [--container-check-ms C] \
[--zk-version 3.8|3.9] [--read-only-mode] [--admin-port A] [--bind IP] [--control ADDR] [--observers K]";

struct Args {
    members: usize,
    port: u16,
    tick_ms: u64,
    extended_types: bool,
    super_digest: Option<String>,
    container_check_ms: Option<u64>,
    data_dir: Option<std::path::PathBuf>,
    version: ZkVersion,
    read_only: bool,
    admin_port: Option<u16>,
    bind: Option<std::net::IpAddr>,
    control: Option<std::net::SocketAddr>,
    observers: usize,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        members: 1,
        port: 0,
        tick_ms: 2000,
        extended_types: false,
        super_digest: None,
        container_check_ms: None,
        data_dir: None,
        version: ZkVersion::default(),
        read_only: false,
        admin_port: None,
        bind: None,
        control: None,
        observers: 0,
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--members" => {
                a.members = value("--members")?
                    .parse()
                    .map_err(|e| format!("--members: {e}"))?
            }
            "--port" => {
                a.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--tick-ms" => {
                a.tick_ms = value("--tick-ms")?
                    .parse()
                    .map_err(|e| format!("--tick-ms: {e}"))?
            }
            "--extended-types" => a.extended_types = true,
            "--read-only-mode" => a.read_only = true,
            "--observers" => {
                a.observers = value("--observers")?
                    .parse()
                    .map_err(|e| format!("--observers: {e}"))?
            }
            "--bind" => {
                a.bind = Some(
                    value("--bind")?
                        .parse()
                        .map_err(|e| format!("--bind: {e}"))?,
                )
            }
            "--control" => {
                a.control = Some(
                    value("--control")?
                        .parse()
                        .map_err(|e| format!("--control (ip:port): {e}"))?,
                )
            }
            "--admin-port" => {
                a.admin_port = Some(
                    value("--admin-port")?
                        .parse()
                        .map_err(|e| format!("--admin-port: {e}"))?,
                )
            }
            "--container-check-ms" => {
                a.container_check_ms = Some(
                    value("--container-check-ms")?
                        .parse()
                        .map_err(|e| format!("--container-check-ms: {e}"))?,
                )
            }
            "--super-digest" => a.super_digest = Some(value("--super-digest")?),
            "--data-dir" => a.data_dir = Some(value("--data-dir")?.into()),
            "--zk-version" => {
                a.version = value("--zk-version")?
                    .parse()
                    .map_err(|e| format!("--zk-version: {e}"))?
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.members == 0 {
        return Err("--members must be at least 1".into());
    }
    if a.tick_ms == 0 {
        return Err("--tick-ms must be positive".into());
    }
    Ok(a)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut builder = Ensemble::builder()
        .members(args.members)
        .port(args.port)
        .tick(Duration::from_millis(args.tick_ms))
        .extended_types(args.extended_types)
        .zookeeper_version(args.version)
        .read_only_mode(args.read_only)
        .observers(args.observers);
    if let Some(ip) = args.bind {
        builder = builder.bind(ip);
    }
    if let Some(port) = args.admin_port {
        builder = builder.admin_port(port);
    }
    if let Some(d) = args.super_digest {
        builder = builder.super_digest(d);
    }
    if let Some(ms) = args.container_check_ms {
        builder = builder.container_check_interval(Duration::from_millis(ms));
    }
    if let Some(dir) = args.data_dir {
        builder = builder.data_dir(dir);
    }
    let zk = match builder.start().await {
        Ok(zk) => zk,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let zk = std::sync::Arc::new(zk);
    let mut control = None;
    if let Some(addr) = args.control {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot bind the control endpoint on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        control = Some((
            bound,
            tokio::spawn(zk_testserver::control::serve(listener, zk.clone())),
        ));
    }
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", zk.connect_string());
    if let Some((addr, _)) = &control {
        let _ = writeln!(stdout, "control http://{addr}");
    }
    let _ = stdout.flush();
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some((_, task)) = control {
        task.abort();
    }
    zk.stop().await;
    ExitCode::SUCCESS
}
