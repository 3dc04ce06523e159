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
//! Dynamic reconfiguration: `--reconfig-enabled` allows `reconfig`
//! (ZooKeeper's `reconfigEnabled`; only the superuser of `--super-digest`
//! may, unless `--skip-acl`, ZooKeeper's `zookeeper.skipACL=yes`, turns
//! every ACL check off). `--spares S` starts S more members after the
//! observers, running and synced but not in `/zookeeper/config` until a
//! reconfig adds them with their `server.N=127.0.0.1:0:0:participant;
//! 127.0.0.1:<port>` line (the control endpoint's `/status` gives it). A
//! reconfig that gives a member another client port moves its listener
//! there, as ZooKeeper does.
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
//!
//! `zk-testserver --help` lists every flag. A bad value is an error naming
//! its flag (exit status 2). The binary needs the crate's default `cli`
//! feature (clap and tracing-subscriber), which library users can turn off.

use clap::Parser;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use zk_testserver::tls::{ClientAuth, ServerTls, TestPki};
use zk_testserver::ZkVersion;
use zk_testserver::{Ensemble, EnsembleBuilder, FourLetterWords};

/// The command line. Flag names are what scripts and other languages'
/// tests pass; keep them.
#[derive(Debug, Parser)]
#[command(
    name = "zk-testserver",
    version,
    about = "A ZooKeeper-compatible replicated ensemble: prints its connect string, \
             serves until SIGINT or SIGTERM"
)]
struct Args {
    /// Voting members, on client ports P, P+1, ...
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    members: usize,
    /// First client port (0: any free ports).
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
    /// Keep member k's log and snapshots in DIR/member<k>, recovered on the next start.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Tick in milliseconds (sessions last 2 to 20 ticks).
    #[arg(long, value_name = "T", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..))]
    tick_ms: u64,
    /// Serve TTL nodes (ZooKeeper's `extendedTypesEnabled`).
    #[arg(long)]
    extended_types: bool,
    /// The super user's digest (ZooKeeper's `DigestAuthenticationProvider.superDigest`).
    #[arg(long, value_name = "super:<base64 sha1>")]
    super_digest: Option<String>,
    /// How often empty containers and expired TTL nodes are deleted, in milliseconds.
    #[arg(long, value_name = "C")]
    container_check_ms: Option<u64>,
    /// The ZooKeeper release imitated where 3.8 and 3.9 differ.
    #[arg(long, value_name = "3.8|3.9", default_value_t = ZkVersion::default())]
    zk_version: ZkVersion,
    /// A member cut off from its quorum serves read-only sessions.
    #[arg(long = "read-only-mode")]
    read_only: bool,
    /// AdminServer HTTP endpoint (`/commands/<name>`) of member k on port A + k - 1.
    #[arg(long, value_name = "A")]
    admin_port: Option<u16>,
    /// Address the client and admin ports bind to [default: 127.0.0.1].
    #[arg(long, value_name = "IP")]
    bind: Option<IpAddr>,
    /// Serve the fault API over HTTP/JSON on ADDR (ip:port).
    #[arg(long, value_name = "ADDR")]
    control: Option<SocketAddr>,
    /// Non-voting observers, members N+1 to N+K.
    #[arg(long, value_name = "K", default_value_t = 0)]
    observers: usize,
    /// Allow reconfig (ZooKeeper's `reconfigEnabled`): the superuser only, unless --skip-acl.
    #[arg(long)]
    reconfig_enabled: bool,
    /// Spare members after the observers: running and synced, added by a reconfig.
    #[arg(long, value_name = "S", default_value_t = 0)]
    spares: usize,
    /// Skip every ACL check (ZooKeeper's `zookeeper.skipACL=yes`).
    #[arg(long)]
    skip_acl: bool,
    /// Connections of one client address per member (0: no limit) [default: 60].
    #[arg(long, value_name = "N")]
    max_client_cnxns: Option<usize>,
    /// Four-letter words answered: comma-separated, or `*` for all [default: srvr].
    #[arg(long = "4lw-whitelist", value_name = "WORD,...|*", value_parser = FourLetterWords::parse)]
    four_letter_words: Option<FourLetterWords>,
    #[command(flatten)]
    secure: SecureArgs,
}

/// A count of at least one.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

impl Args {
    /// The ensemble's settings from the command line.
    fn ensemble_builder(self) -> Result<EnsembleBuilder, String> {
        let mut builder = Ensemble::builder()
            .members(self.members)
            .port(self.port)
            .tick(Duration::from_millis(self.tick_ms))
            .extended_types(self.extended_types)
            .zookeeper_version(self.zk_version)
            .read_only_mode(self.read_only)
            .observers(self.observers)
            .reconfig_enabled(self.reconfig_enabled)
            .spares(self.spares)
            .skip_acl(self.skip_acl);
        if let Some(ip) = self.bind {
            builder = builder.bind(ip);
        }
        if let Some(port) = self.admin_port {
            builder = builder.admin_port(port);
        }
        if let Some(d) = self.super_digest {
            builder = builder.super_digest(d);
        }
        if let Some(ms) = self.container_check_ms {
            builder = builder.container_check_interval(Duration::from_millis(ms));
        }
        if let Some(dir) = &self.data_dir {
            builder = builder.data_dir(dir);
        }
        if let Some(n) = self.max_client_cnxns {
            builder = builder.max_client_cnxns(n);
        }
        if let Some(words) = self.four_letter_words {
            builder = builder.four_letter_words(words);
        }
        self.secure.apply(builder)
    }
}

/// The TLS and SASL flags.
#[derive(Debug, Default, clap::Args)]
struct SecureArgs {
    /// First TLS client port (ZooKeeper's `secureClientPort`).
    #[arg(long, value_name = "P")]
    secure_port: Option<u16>,
    /// Server certificate (PEM), with --tls-key.
    #[arg(long, value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM), with --tls-cert.
    #[arg(long, value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// CA trusted for client certificates.
    #[arg(long, value_name = "PEM")]
    tls_client_ca: Option<PathBuf>,
    /// Whether TLS clients must present a certificate [default: need].
    #[arg(long, value_name = "none|want|need")]
    tls_client_auth: Option<ClientAuth>,
    /// Make a test CA and certificates in DIR instead of --tls-cert/--tls-key.
    #[arg(long, value_name = "DIR")]
    tls_generate: Option<PathBuf>,
    /// Serve SASL DIGEST-MD5 for the `name=password` lines of FILE.
    #[arg(long, value_name = "FILE")]
    sasl_users: Option<PathBuf>,
}

impl SecureArgs {
    /// Adds the secure port and SASL users to the ensemble's settings.
    fn apply(self, mut builder: EnsembleBuilder) -> Result<EnsembleBuilder, String> {
        if let Some(tls) = self.server_tls()? {
            builder = builder.tls(tls).secure_port(self.secure_port.unwrap_or(0));
        } else if self.secure_port.is_some() {
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
        let tls = match (&self.tls_generate, &self.tls_cert, &self.tls_key) {
            (Some(dir), None, None) => {
                let pki = TestPki::generate();
                let client = pki.client_cert("zk-rs client");
                let write = || -> std::io::Result<()> {
                    pki.write_to(dir)?;
                    std::fs::write(dir.join("client.pem"), &client.cert_pem)?;
                    std::fs::write(dir.join("client.key"), &client.key_pem)
                };
                write().map_err(|e| format!("--tls-generate {}: {e}", dir.display()))?;
                pki.server_tls(self.tls_client_auth.unwrap_or(ClientAuth::Need))
            }
            (None, Some(cert), Some(key)) => {
                let mut tls = ServerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?;
                if let Some(ca) = &self.tls_client_ca {
                    let pem = std::fs::read(ca)
                        .map_err(|e| format!("--tls-client-ca {}: {e}", ca.display()))?;
                    tls = tls.client_ca_pem(&pem).map_err(|e| e.to_string())?;
                }
                match self.tls_client_auth {
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

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// Serves the control API on `addr`; returns the bound address and the task.
async fn start_control(
    addr: SocketAddr,
    zk: std::sync::Arc<Ensemble>,
) -> Result<(String, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot bind the control endpoint on {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let task = tokio::spawn(zk_testserver::control::serve(listener, zk));
    Ok((bound, task))
}

/// The stdout lines scripts wait for: connect string, secure connect
/// string, control address.
fn print_addresses(zk: &Ensemble, control: Option<&str>) {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", zk.connect_string());
    if let Some(secure) = zk.secure_connect_string() {
        let _ = writeln!(stdout, "{secure}");
    }
    if let Some(addr) = control {
        let _ = writeln!(stdout, "control http://{addr}");
    }
    let _ = stdout.flush();
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    let control_addr = args.control;
    let data_dir = args.data_dir.clone();
    let builder = match args.ensemble_builder() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let zk = match builder.start().await {
        Ok(zk) => std::sync::Arc::new(zk),
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let control = match control_addr {
        Some(addr) => match start_control(addr, zk.clone()).await {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    print_addresses(&zk, control.as_ref().map(|(addr, _)| addr.as_str()));
    match &data_dir {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    /// Parses a command line written as one string (no quoting needed).
    fn parse(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("zk-testserver").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    /// Every way scripts/, .ci/, the docs, the tests and the Python and
    /// Java examples start the binary.
    #[test]
    fn every_invocation_in_the_tree_parses() {
        for line in [
            // scripts/conformance.sh (zkCli), README.md
            "--members 1 --port 22590",
            "--members 3 --port 2181",
            // README.md, examples/python, examples/java
            "--members 3 --control 127.0.0.1:0",
            "--members 3 --tick-ms 100 --control 127.0.0.1:0",
            "--zk-version 3.8",
            // scripts/conformance.sh (secure kazoo, whoAmI)
            "--members 1 --port 24001 --secure-port 24002 --tls-generate /tmp/pki \
             --tls-client-auth want --sasl-users /tmp/users",
            // scripts/interop/run.sh
            "--members 1 --port 24003 --tick-ms 200 --extended-types --container-check-ms 200",
            // scripts/bench/lib.sh ts_start (compare.sh, lock.sh, memory.sh, tls.sh)
            "--members 3 --port 24010 --max-client-cnxns 0 --4lw-whitelist * \
             --data-dir /tmp/ts-data",
            "--members 1 --port 24010 --max-client-cnxns 0 --4lw-whitelist * \
             --secure-port 24011 --tls-generate /tmp/pki --tls-client-auth none",
            // scripts/idle-connection-cost.py, tests/hostile_clients.rs
            "--tick-ms 2000 --max-client-cnxns 0",
            // tests/damaged_member.rs
            "--members 3 --tick-ms 100 --data-dir /tmp/d",
            // BENCHMARKS.md
            "--members 1 --port 26681",
            // the remaining flags
            "--super-digest super:abc= --read-only-mode --admin-port 8080 --bind 0.0.0.0 \
             --observers 2 --4lw-whitelist srvr,mntr --tls-cert c.pem --tls-key k.pem \
             --tls-client-ca ca.pem --zk-version 3.9.3",
            "--members 3 --reconfig-enabled --spares 2 --skip-acl",
            "",
        ] {
            if let Err(e) = parse(line) {
                panic!("{line:?} does not parse: {e}");
            }
        }
    }

    #[test]
    fn flags_keep_their_meaning() {
        let a = parse(
            "--members 3 --port 2181 --tick-ms 100 --zk-version 3.8 --read-only-mode \
             --4lw-whitelist * --tls-client-auth want",
        )
        .unwrap();
        assert_eq!((a.members, a.port, a.tick_ms), (3, 2181, 100));
        assert_eq!(a.zk_version, ZkVersion::V3_8);
        assert!(a.read_only && !a.extended_types);
        assert_eq!(a.four_letter_words, Some(FourLetterWords::all()));
        assert_eq!(a.secure.tls_client_auth, Some(ClientAuth::Want));
        let r = parse("--members 3 --observers 1 --reconfig-enabled --spares 2").unwrap();
        assert!(r.reconfig_enabled && !r.skip_acl);
        assert_eq!((r.observers, r.spares), (1, 2));
        let d = parse("").unwrap();
        assert_eq!((d.members, d.port, d.tick_ms, d.observers), (1, 0, 2000, 0));
        assert!(!d.reconfig_enabled && !d.skip_acl && d.spares == 0);
        assert_eq!(d.zk_version, ZkVersion::default());
    }

    #[test]
    fn a_bad_value_is_an_error_naming_its_flag() {
        for (line, flag) in [
            ("--members three", "--members"),
            ("--members 0", "--members"),
            ("--tick-ms 0", "--tick-ms"),
            ("--port 70000", "--port"),
            ("--zk-version 3.7", "--zk-version"),
            ("--bind localhost", "--bind"),
            ("--control 8080", "--control"),
            ("--4lw-whitelist nope", "--4lw-whitelist"),
            ("--tls-client-auth maybe", "--tls-client-auth"),
            ("--max-client-cnxns many", "--max-client-cnxns"),
            ("--spares many", "--spares"),
        ] {
            let e = parse(line).expect_err(line);
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{line}: {e}");
            assert!(e.to_string().contains(flag), "{line}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        assert_eq!(
            parse("--members").unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        let e = parse("--no-such-flag").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn help_is_not_an_error() {
        let e = parse("--help").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        assert_eq!(e.exit_code(), 0);
        assert_eq!(parse("-h").unwrap_err().exit_code(), 0);
    }
}
