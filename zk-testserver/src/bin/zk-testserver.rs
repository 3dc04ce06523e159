//! Command-line ZooKeeper-compatible server.
//!
//! `zk-testserver --members N --port P [--data-dir DIR] [--tick-ms T]
//! [--extended-types] [--super-digest super:<b64>] [--container-check-ms C]`
//! starts N members on client ports P, P+1, ... (any free ports without
//! `--port`), prints the connect string `127.0.0.1:P,127.0.0.1:P+1,...` as the
//! first line of stdout once every member serves, logs to stderr (`RUST_LOG`
//! filter), and runs until SIGINT or SIGTERM. With `--data-dir`, member k
//! keeps its transaction log and snapshots in `DIR/member<k>` and recovers
//! from them on the next start.
//!
//! A member whose storage is damaged stays down (with an error on stderr)
//! while the others form a quorum; it is started again, and catches up from
//! the leader, as soon as its directory changes (repaired, or wiped:
//! `rm -r DIR/member<k>`).
//!
//! Client connections: `--max-client-cnxns N` caps the connections of one
//! client address per member (ZooKeeper's `maxClientCnxns`, default 60, 0 for
//! no limit); `--4lw-whitelist LIST` names the four-letter words answered
//! (ZooKeeper's `4lw.commands.whitelist`: comma-separated, or `*` for all;
//! default `srvr` only).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use zk_testserver::{Ensemble, FourLetterWords};

const USAGE: &str = "usage: zk-testserver [--members N] [--port P] [--data-dir DIR] \
[--tick-ms T] [--extended-types] [--super-digest super:<base64 sha1>] [--container-check-ms C] \
[--max-client-cnxns N] [--4lw-whitelist WORD,WORD,...|*]";

struct Args {
    members: usize,
    port: u16,
    tick_ms: u64,
    extended_types: bool,
    super_digest: Option<String>,
    container_check_ms: Option<u64>,
    data_dir: Option<std::path::PathBuf>,
    max_client_cnxns: Option<usize>,
    four_letter_words: Option<FourLetterWords>,
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
        max_client_cnxns: None,
        four_letter_words: None,
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
            "--container-check-ms" => {
                a.container_check_ms = Some(
                    value("--container-check-ms")?
                        .parse()
                        .map_err(|e| format!("--container-check-ms: {e}"))?,
                )
            }
            "--super-digest" => a.super_digest = Some(value("--super-digest")?),
            "--data-dir" => a.data_dir = Some(value("--data-dir")?.into()),
            "--max-client-cnxns" => {
                a.max_client_cnxns = Some(
                    value("--max-client-cnxns")?
                        .parse()
                        .map_err(|e| format!("--max-client-cnxns: {e}"))?,
                )
            }
            "--4lw-whitelist" => {
                a.four_letter_words = Some(
                    FourLetterWords::parse(&value("--4lw-whitelist")?)
                        .map_err(|e| format!("--4lw-whitelist: {e}"))?,
                )
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

/// Starts again every member that is down, each time its storage
/// directory (`dir/member<k>`) changes: an operator repaired or wiped it.
/// Runs until the process stops.
async fn rejoin_when_repaired(zk: &Ensemble, dir: &std::path::Path) {
    // Members down now failed at start with their storage as it is.
    let mut tried: std::collections::HashMap<u64, Vec<FileState>> = Default::default();
    for m in zk.members() {
        if !zk.is_running(m).await.unwrap_or(true) {
            tried.insert(m, dir_state(&dir.join(format!("member{m}"))));
        }
    }
    loop {
        for m in zk.members() {
            if zk.is_running(m).await.unwrap_or(true) {
                tried.remove(&m);
                continue;
            }
            let now = dir_state(&dir.join(format!("member{m}")));
            if tried.get(&m) == Some(&now) {
                continue;
            }
            match zk.restart(m).await {
                Ok(()) => {
                    tracing::info!(member = m, "member started again after its storage changed");
                    tried.remove(&m);
                }
                Err(e) => {
                    tracing::error!(member = m, error = %e, "member still cannot start");
                    tried.insert(m, now);
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One file of a storage directory: path, length, modification time.
type FileState = (std::path::PathBuf, u64, Option<std::time::SystemTime>);

/// The files under `dir` (empty if it does not exist), sorted.
fn dir_state(dir: &std::path::Path) -> Vec<FileState> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
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
        .extended_types(args.extended_types);
    if let Some(d) = args.super_digest {
        builder = builder.super_digest(d);
    }
    if let Some(ms) = args.container_check_ms {
        builder = builder.container_check_interval(Duration::from_millis(ms));
    }
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir);
    }
    if let Some(n) = args.max_client_cnxns {
        builder = builder.max_client_cnxns(n);
    }
    if let Some(words) = args.four_letter_words {
        builder = builder.four_letter_words(words);
    }
    let zk = match builder.start().await {
        Ok(zk) => zk,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", zk.connect_string());
    let _ = stdout.flush();
    match &args.data_dir {
        Some(dir) => {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = rejoin_when_repaired(&zk, dir) => {}
            }
        }
        None => shutdown_signal().await,
    }
    tracing::info!("shutting down");
    zk.stop().await;
    ExitCode::SUCCESS
}
