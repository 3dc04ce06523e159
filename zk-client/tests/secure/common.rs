//! Where the secure suite runs: real ZooKeeper configured by
//! `scripts/zk-reference.sh start secure` (its `secure-env` exports the
//! `ZK_SECURE_*` variables below), or, without them, in-process zk-testserver
//! ensembles with certificates made by `TestPki`.
//!
//! A target has three ports of one server: `plain` (no TLS), `tls` (TLS,
//! client certificates not asked for) and `mtls` (TLS, client certificate
//! required: `ssl.clientAuth=need`), all serving SASL DIGEST-MD5 for one
//! user.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use zk_client::{Client, ClientBuilder, ConnectionState, CreateMode, TlsConfig};
use zk_testserver::tls::{ClientAuth, TestPki};
use zk_testserver::Ensemble;

/// An error and its causes, as a reporter that walks `source()` prints
/// them: `zk_client::Error`'s `Display` leaves the cause (the TLS or I/O
/// failure) to `source()`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A certificate and key, PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

pub struct SecureTarget {
    /// The plaintext port of the server behind `tls`.
    pub plain: String,
    pub tls: String,
    pub mtls: String,
    /// The plaintext port of the server behind `mtls`.
    pub mtls_plain: String,
    pub ca: Vec<u8>,
    pub client: Identity,
    /// The x509 id the server gives `client`.
    pub client_dn: String,
    pub expired: Identity,
    pub sasl_user: String,
    pub sasl_password: String,
    /// In-process servers (kept alive with the target).
    pub _embedded: Vec<Ensemble>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub const SASL_USER: &str = "bob";
pub const SASL_PASSWORD: &str = "bob-secret-pw";

impl SecureTarget {
    pub async fn get() -> SecureTarget {
        init_tracing();
        match env("ZK_SECURE_TLS") {
            Some(tls) => {
                let var = |n: &str| {
                    env(n).unwrap_or_else(|| panic!("{n} must be set with ZK_SECURE_TLS"))
                };
                SecureTarget {
                    plain: var("ZK_SECURE_PLAIN"),
                    tls,
                    mtls: var("ZK_SECURE_MTLS"),
                    mtls_plain: var("ZK_SECURE_MTLS_PLAIN"),
                    ca: read(&var("ZK_SECURE_CA")),
                    client: Identity {
                        cert: read(&var("ZK_SECURE_CLIENT_CERT")),
                        key: read(&var("ZK_SECURE_CLIENT_KEY")),
                    },
                    client_dn: var("ZK_SECURE_CLIENT_DN"),
                    expired: Identity {
                        cert: read(&var("ZK_SECURE_EXPIRED_CERT")),
                        key: read(&var("ZK_SECURE_EXPIRED_KEY")),
                    },
                    sasl_user: var("ZK_SECURE_SASL_USER"),
                    sasl_password: var("ZK_SECURE_SASL_PASSWORD"),
                    _embedded: Vec::new(),
                }
            }
            None => SecureTarget::embedded().await,
        }
    }

    async fn embedded() -> SecureTarget {
        let pki = TestPki::generate();
        let start = |auth: ClientAuth| {
            Ensemble::builder()
                .tls(pki.server_tls(auth))
                .sasl_user(SASL_USER, SASL_PASSWORD)
                .start()
        };
        // One server for the plain and server-auth ports, one requiring
        // client certificates (as the reference setup has two).
        let open = start(ClientAuth::None).await.expect("start a TLS ensemble");
        let mutual = start(ClientAuth::Need)
            .await
            .expect("start an mTLS ensemble");
        let client = pki.client_cert("zk-rs client");
        let expired = pki.expired_client_cert("zk-rs client");
        SecureTarget {
            plain: open.connect_string(),
            tls: open.secure_connect_string().unwrap(),
            mtls: mutual.secure_connect_string().unwrap(),
            mtls_plain: mutual.connect_string(),
            ca: pki.ca_pem().as_bytes().to_vec(),
            client: Identity {
                cert: client.cert_pem.into_bytes(),
                key: client.key_pem.into_bytes(),
            },
            client_dn: TestPki::client_id("zk-rs client"),
            expired: Identity {
                cert: expired.cert_pem.into_bytes(),
                key: expired.key_pem.into_bytes(),
            },
            sasl_user: SASL_USER.into(),
            sasl_password: SASL_PASSWORD.into(),
            _embedded: vec![open, mutual],
        }
    }

    /// TLS trusting the target's CA, no client certificate.
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig::builder()
            .ca_pem(&self.ca)
            .unwrap()
            .build()
            .unwrap()
    }

    /// TLS with the client certificate (mutual).
    pub fn mtls_config(&self) -> TlsConfig {
        self.tls_with(&self.client)
    }

    pub fn tls_with(&self, id: &Identity) -> TlsConfig {
        TlsConfig::builder()
            .ca_pem(&self.ca)
            .unwrap()
            .client_identity_pem(&id.cert, &id.key)
            .unwrap()
            .build()
            .unwrap()
    }

    /// A fresh chroot under `/secure` on the server behind `plain` and
    /// `tls`, open to everyone.
    pub async fn namespace(&self) -> String {
        self.namespace_on(&self.plain, None).await
    }

    /// A fresh chroot on the server behind `connect`.
    pub async fn namespace_on(&self, connect: &str, tls: Option<TlsConfig>) -> String {
        let root = format!("/secure/{:016x}", rand::random::<u64>());
        let mut b = Client::builder(connect);
        if let Some(tls) = tls {
            b = b.tls(tls);
        }
        let admin = b.connect().await.expect("connect to make a namespace");
        admin
            .create_all(&root, "", CreateMode::Persistent)
            .await
            .expect("create the namespace");
        admin.close().await.unwrap();
        root
    }
}

/// A builder with a short session timeout and a bounded connect.
pub fn builder(connect: &str) -> ClientBuilder {
    Client::builder(connect)
        .session_timeout(Duration::from_secs(4))
        .connect_timeout(Duration::from_secs(5))
}

/// A byte relay (no parsing: TLS passes through) whose current
/// connections can be cut, so a client must reconnect.
pub struct Relay {
    pub addr: SocketAddr,
    cut: Arc<watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(upstream: &str) -> Relay {
        let upstream: SocketAddr = upstream.split(',').next().unwrap().parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(watch::channel(0u64).0);
        let cuts = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut_rx = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Relay { addr, cut, task }
    }

    /// Closes every current connection (new ones are relayed as before).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// Cuts every relay's connections and waits until the client reports its
/// session back on a new connection (`Reconnected`).
pub async fn cut_and_await_reconnect(
    relays: &[&Relay],
    states: &mut (impl futures::Stream<Item = ConnectionState> + Unpin),
) {
    use futures::StreamExt;
    for relay in relays {
        relay.cut();
    }
    loop {
        match states.next().await {
            Some(ConnectionState::Reconnected) => break,
            Some(ConnectionState::Suspended | ConnectionState::Connected) => {}
            other => panic!("unexpected state {other:?}"),
        }
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
