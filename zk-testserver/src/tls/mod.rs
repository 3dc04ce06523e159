//! TLS on a member's secure client port (ZooKeeper's `secureClientPort`):
//! the server certificate, whether clients must present one, and the
//! `x509:<subject DN>` identity a client certificate gives its connection.
//!
//! [`TestPki`] makes the certificates a test needs in-process.

mod dn;
mod pki;

pub use dn::subject_dn;
pub use pki::{CertifiedKey, TestPki, TEST_ORG};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use std::sync::Arc;

/// Whether a TLS client must present a certificate (ZooKeeper's
/// `ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Never asked for; connections have no x509 identity.
    None,
    /// Asked for and verified if presented; optional.
    Want,
    /// Required: a client without a trusted certificate fails the
    /// handshake (ZooKeeper's default).
    #[default]
    Need,
}

impl std::str::FromStr for ClientAuth {
    type Err = TlsSetupError;

    /// `none`, `want` or `need`, as in ZooKeeper's configuration.
    fn from_str(s: &str) -> Result<ClientAuth, TlsSetupError> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "want" => Ok(ClientAuth::Want),
            "need" => Ok(ClientAuth::Need),
            other => Err(TlsSetupError(format!(
                "client auth must be none, want or need, not {other:?}"
            ))),
        }
    }
}

/// A TLS setting that cannot be used (unreadable PEM, no CA for client
/// certificates). Never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS setup: {0}")]
pub struct TlsSetupError(String);

/// What a member's secure client port serves: its certificate chain and
/// key, the CAs it trusts for client certificates, and [`ClientAuth`].
pub struct ServerTls {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: RootCertStore,
    client_auth: ClientAuth,
}

impl Clone for ServerTls {
    fn clone(&self) -> ServerTls {
        ServerTls {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            client_roots: self.client_roots.clone(),
            client_auth: self.client_auth,
        }
    }
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("chain", &self.chain.len())
            .field("client_roots", &self.client_roots.len())
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// A certificate chain and private key (PKCS#8, PKCS#1 or SEC1), both
    /// PEM. Client certificates are not asked for until a CA is added with
    /// [`ServerTls::client_ca_pem`].
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<ServerTls, TlsSetupError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError(format!("server certificate PEM: {e}")))?;
        if chain.is_empty() {
            return Err(TlsSetupError("no server certificate in the PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| TlsSetupError(format!("server key PEM: {e}")))?;
        Ok(ServerTls {
            chain,
            key,
            client_roots: RootCertStore::empty(),
            client_auth: ClientAuth::None,
        })
    }

    /// Like [`ServerTls::from_pem`], reading both files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> Result<ServerTls, TlsSetupError> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| TlsSetupError(format!("{}: {e}", p.display())))
        };
        ServerTls::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    /// Trusts the CA certificates in this PEM for client certificates, and
    /// requires one ([`ClientAuth::Need`]) unless [`ServerTls::client_auth`]
    /// says otherwise.
    pub fn client_ca_pem(mut self, pem: &[u8]) -> Result<ServerTls, TlsSetupError> {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsSetupError(format!("client CA PEM: {e}")))?;
            self.client_roots
                .add(cert)
                .map_err(|e| TlsSetupError(format!("client CA: {e}")))?;
        }
        if self.client_roots.is_empty() {
            return Err(TlsSetupError(
                "no CA certificate in the client CA PEM".into(),
            ));
        }
        if self.client_auth == ClientAuth::None {
            self.client_auth = ClientAuth::Need;
        }
        Ok(self)
    }

    /// Whether clients must present a certificate.
    pub fn client_auth(mut self, mode: ClientAuth) -> ServerTls {
        self.client_auth = mode;
        self
    }

    /// The rustls acceptor for connections.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, TlsSetupError> {
        let provider = crypto_provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(e.to_string()))?;
        let builder = match self.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            mode => {
                if self.client_roots.is_empty() {
                    return Err(TlsSetupError(
                        "client certificates are asked for but no client CA is set".into(),
                    ));
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(self.client_roots.clone()),
                    provider,
                );
                let verifier = if mode == ClientAuth::Want {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsSetupError(format!("client verifier: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsSetupError(format!("server certificate or key: {e}")))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// The x509 identity of a verified TLS client: the RFC 2253 subject of its
/// end-entity certificate, as ZooKeeper's `X509AuthenticationProvider`
/// names it.
pub fn client_identity(conn: &rustls::ServerConnection) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    subject_dn(cert.as_ref())
}

/// The rustls crypto provider of the secure client port: *ring*, the one
/// `zk_client::TlsConfig::crypto_provider` gives clients (no C toolchain,
/// no OpenSSL). Named here so the server needs only rustls, not the
/// client's runtime.
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    // rustls 0.23.48 marks the ring provider deprecated to steer users to
    // aws-lc-rs (post-quantum key exchange, which ZooKeeper's JVMs do not
    // offer, at the cost of a cmake + C build).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}
