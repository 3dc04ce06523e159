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
//!
//! Secure ports: `--secure-port P` with `--tls-cert F --tls-key F`
//! (PEM) serves TLS on P, P+1, ... (ZooKeeper's `secureClientPort`);
//! `--tls-client-ca F` trusts that CA for client certificates, required
//! unless `--tls-client-auth want|none`; `--tls-generate DIR` makes a test
//! CA and certificates instead (DIR/ca.pem, server.pem, server.key,
//! client.pem, client.key; client subject `CN=zk-rs client,O=zk-rs`).
//! With TLS the second stdout line is the secure connect string.
//! `--sasl-users FILE` serves SASL DIGEST-MD5 for the `name=password`
//! lines of FILE.
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
use zk_testserver::server::ZkVersion;
use zk_testserver::tls::{ClientAuth, ServerTls, TestPki};
use zk_testserver::{Ensemble, EnsembleBuilder, FourLetterWords};

const USAGE: &str = "usage: zk-testserver [--members N] [--port P] [--data-dir DIR] \
[--tick-ms T] [--extended-types] [--super-digest super:<base64 sha1>] [--container-check-ms C] \
[--zk-version 3.8|3.9] [--read-only-mode] [--admin-port A] [--bind IP] [--control ADDR] [--observers K] \
[--max-client-cnxns N] [--4lw-whitelist WORD,WORD,...|*] \
[--secure-port P] [--tls-cert PEM --tls-key PEM | --tls-generate DIR] [--tls-client-ca PEM] \
[--tls-client-auth none|want|need] [--sasl-users FILE]";

struct Args {
    members: usize,
    port: u16,
    tick_ms: u64,
    extended_types: bool,
    super_digest: Option<String>,
    container_check_ms: Option<u64>,
    data_dir: Option<std::path::PathBuf>,
    secure: SecureArgs,
    max_client_cnxns: Option<usize>,
    four_letter_words: Option<FourLetterWords>,
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
        secure: SecureArgs::default(),
        max_client_cnxns: None,
        four_letter_words: None,
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
            f if SecureArgs::FLAGS.contains(&f) => a.secure.set(f, &value(f)?)?,
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

/// The TLS and SASL flags.
#[derive(Default)]
struct SecureArgs {
    port: Option<u16>,
    cert: Option<std::path::PathBuf>,
    key: Option<std::path::PathBuf>,
    client_ca: Option<std::path::PathBuf>,
    client_auth: Option<ClientAuth>,
    generate: Option<std::path::PathBuf>,
    sasl_users: Option<std::path::PathBuf>,
}

impl SecureArgs {
    const FLAGS: [&'static str; 7] = [
        "--secure-port",
        "--tls-cert",
        "--tls-key",
        "--tls-client-ca",
        "--tls-client-auth",
        "--tls-generate",
        "--sasl-users",
    ];

    fn set(&mut self, flag: &str, value: &str) -> Result<(), String> {
        match flag {
            "--secure-port" => self.port = Some(value.parse().map_err(|e| format!("{flag}: {e}"))?),
            "--tls-cert" => self.cert = Some(value.into()),
            "--tls-key" => self.key = Some(value.into()),
            "--tls-client-ca" => self.client_ca = Some(value.into()),
            "--tls-client-auth" => {
                self.client_auth = Some(value.parse().map_err(|e| format!("{flag}: {e}"))?)
            }
            "--tls-generate" => self.generate = Some(value.into()),
            "--sasl-users" => self.sasl_users = Some(value.into()),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
        Ok(())
    }

    /// Adds the secure port and SASL users to the ensemble's settings.
    fn apply(self, mut builder: EnsembleBuilder) -> Result<EnsembleBuilder, String> {
        if let Some(tls) = self.server_tls()? {
            builder = builder.tls(tls).secure_port(self.port.unwrap_or(0));
        } else if self.port.is_some() {
            return Err("--secure-port needs --tls-cert/--tls-key or --tls-generate".into());
        }
        if let Some(path) = &self.sasl_users {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--sasl-users {}: {e}", path.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                // Never echo the line: it holds a password.
                let (user, password) = line.split_once('=').ok_or_else(|| {
                    format!(
                        "--sasl-users {}: line {} is not name=password",
                        path.display(),
                        n + 1
                    )
                })?;
                builder = builder.sasl_user(user.trim(), password);
            }
        }
        Ok(builder)
    }

    fn server_tls(&self) -> Result<Option<ServerTls>, String> {
        let tls = match (&self.generate, &self.cert, &self.key) {
            (Some(dir), None, None) => {
                let pki = TestPki::generate();
                let client = pki.client_cert("zk-rs client");
                let write = || -> std::io::Result<()> {
                    pki.write_to(dir)?;
                    std::fs::write(dir.join("client.pem"), &client.cert_pem)?;
                    std::fs::write(dir.join("client.key"), &client.key_pem)
                };
                write().map_err(|e| format!("--tls-generate {}: {e}", dir.display()))?;
                pki.server_tls(self.client_auth.unwrap_or(ClientAuth::Need))
            }
            (None, Some(cert), Some(key)) => {
                let mut tls = ServerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?;
                if let Some(ca) = &self.client_ca {
                    let pem = std::fs::read(ca)
                        .map_err(|e| format!("--tls-client-ca {}: {e}", ca.display()))?;
                    tls = tls.client_ca_pem(&pem).map_err(|e| e.to_string())?;
                }
                match self.client_auth {
                    Some(mode) => tls.client_auth(mode),
                    None => tls,
                }
            }
            (None, None, None) => return Ok(None),
            _ => {
                return Err(
                    "TLS needs --tls-cert and --tls-key together, or --tls-generate alone".into(),
                )
            }
        };
        Ok(Some(tls))
    }
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
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir);
    }
    builder = match args.secure.apply(builder) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
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
    if let Some(secure) = zk.secure_connect_string() {
        let _ = writeln!(stdout, "{secure}");
    }
    if let Some((addr, _)) = &control {
        let _ = writeln!(stdout, "control http://{addr}");
    }
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
    if let Some((_, task)) = control {
        task.abort();
    }
    zk.stop().await;
    ExitCode::SUCCESS
}
