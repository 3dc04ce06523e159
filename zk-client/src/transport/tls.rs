//! TLS settings of a client: trusted roots, an optional client certificate
//! for mutual TLS, and how the server's name is checked.

use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// How a [`crate::Client`] speaks TLS to every server of its connect string
/// (ZooKeeper's `secureClientPort`).
///
/// Built with [`TlsConfig::builder`] from PEM roots (and, for mutual TLS, a
/// client certificate and key), or wrapped around a ready
/// [`rustls::ClientConfig`] with [`TlsConfig::from_rustls`]. Cheap to clone.
///
/// The server's certificate must be valid for the host name (or IP address)
/// of the connect-string entry being connected to, unless a fixed name is set
/// with [`TlsConfigBuilder::server_name`] (useful when every member presents
/// one certificate) or hostname verification is turned off with
/// [`TlsConfigBuilder::verify_hostname`] (the chain is still verified).
///
/// ```no_run
/// # async fn demo() -> Result<(), zk_client::Error> {
/// let tls = zk_client::TlsConfig::builder()
///     .ca_pem_file("/etc/zk/ca.pem")?
///     .client_identity_pem_files("/etc/zk/client.pem", "/etc/zk/client.key")?
///     .build()?;
/// let client = zk_client::Client::builder("zk1.example:2281,zk2.example:2281")
///     .tls(tls)
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key: only what identifies the setup.
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .field(
                "client_auth",
                &self.config.client_auth_cert_resolver.has_certs(),
            )
            .finish()
    }
}

impl TlsConfig {
    /// Starts a configuration; at least one trusted root is required.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder {
            roots: RootCertStore::empty(),
            identity: None,
            server_name: None,
            verify_hostname: true,
        }
    }

    /// Uses a ready rustls configuration as it is (its verifier, client
    /// certificate, protocol versions). Connections verify the server
    /// against each connect-string host name.
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> TlsConfig {
        TlsConfig {
            config,
            server_name: None,
        }
    }

    /// The rustls crypto provider this crate builds configurations with:
    /// *ring* (pure Rust and assembly, no C toolchain beyond what `cc`
    /// needs, no OpenSSL). Servers (zk-testserver) use it too.
    pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
        // rustls 0.23.48 marks the ring provider deprecated to steer users
        // to aws-lc-rs, whose only gain is post-quantum key exchange. The
        // JVMs ZooKeeper runs on (Debian's 17) offer none, and aws-lc-rs
        // would add a cmake + C build to every build of this crate.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        Arc::new(provider)
    }

    /// The rustls configuration connections use.
    pub fn rustls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }

    /// The name the server's certificate must carry when connecting to `host`.
    pub(crate) fn server_name_for(&self, host: &str) -> std::io::Result<ServerName<'static>> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        ServerName::try_from(host.to_string()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{host:?} is not a valid TLS server name: {e}"),
            )
        })
    }
}

/// Builds a [`TlsConfig`]; see [`TlsConfig::builder`].
pub struct TlsConfigBuilder {
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    server_name: Option<String>,
    verify_hostname: bool,
}

impl std::fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("roots", &self.roots.len())
            .field("client_identity", &self.identity.is_some())
            .field("server_name", &self.server_name)
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

impl TlsConfigBuilder {
    /// Trusts every certificate in a PEM file (a CA bundle).
    pub fn ca_pem_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = read_file(path, "CA file")?;
        self.ca_pem(&pem)
            .map_err(|e| e.with_message(format!("in {}", path.display())))
    }

    /// Trusts every certificate in PEM text held in memory.
    pub fn ca_pem(mut self, pem: &[u8]) -> Result<Self> {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| bad_pem("CA certificate", e))?;
            self = self.ca_der(cert)?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::invalid_argument(
                "no CERTIFICATE block in the CA PEM text",
            ));
        }
        Ok(self)
    }

    /// Trusts one DER-encoded certificate.
    pub fn ca_der(mut self, der: CertificateDer<'static>) -> Result<Self> {
        self.roots
            .add(der)
            .map_err(|e| Error::invalid_argument(format!("unusable CA certificate: {e}")))?;
        Ok(self)
    }

    /// Presents a client certificate chain and its private key (mutual TLS;
    /// ZooKeeper then knows the client as `x509:<subject DN>`), both read
    /// from PEM files.
    pub fn client_identity_pem_files(
        self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self> {
        let chain = read_file(cert_chain.as_ref(), "client certificate file")?;
        let key_pem = read_file(key.as_ref(), "client key file")?;
        self.client_identity_pem(&chain, &key_pem)
    }

    /// Presents a client certificate chain and its private key (PKCS#8,
    /// PKCS#1 or SEC1), both as PEM text held in memory.
    ///
    /// An EC key must carry its public key: Java's `keytool` exports EC
    /// keys as PKCS#8 without it, which *ring* refuses ("failed to parse
    /// private key"); `openssl ec -in key.pem -out key.sec1.pem` adds it.
    pub fn client_identity_pem(mut self, cert_chain: &[u8], key: &[u8]) -> Result<Self> {
        let chain = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad_pem("client certificate", e))?;
        if chain.is_empty() {
            return Err(Error::invalid_argument(
                "no CERTIFICATE block in the client certificate PEM text",
            ));
        }
        // The error never quotes the key's bytes.
        let key =
            PrivateKeyDer::from_pem_slice(key).map_err(|e| bad_pem("client private key", e))?;
        self.identity = Some((chain, key));
        Ok(self)
    }

    /// Checks every server's certificate against this one name (DNS name or
    /// IP address) instead of the connect-string host, and sends it as SNI.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Whether the server's certificate must be valid for the name connected
    /// to (default true). With false, the chain is still verified against
    /// the trusted roots, but any name is accepted (ZooKeeper's
    /// `zookeeper.ssl.hostnameVerification=false`).
    pub fn verify_hostname(mut self, verify: bool) -> Self {
        self.verify_hostname = verify;
        self
    }

    /// Checks the settings and builds the rustls configuration (ring
    /// provider, TLS 1.2 and 1.3).
    pub fn build(self) -> Result<TlsConfig> {
        if self.roots.is_empty() {
            return Err(Error::invalid_argument(
                "TLS needs at least one trusted CA certificate",
            ));
        }
        let provider = TlsConfig::crypto_provider();
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(self.roots), provider.clone())
                .build()
                .map_err(|e| Error::invalid_argument(format!("TLS verifier: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = if self.verify_hostname {
            verifier
        } else {
            Arc::new(AnyNameVerifier(verifier))
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid_argument(format!("TLS protocol versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match self.identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::invalid_argument(format!("client certificate or key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        let server_name = match self.server_name {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|e| {
                Error::invalid_argument(format!("{name:?} is not a valid TLS server name: {e}"))
            })?),
            None => None,
        };
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name,
        })
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::invalid_argument(format!("cannot read {what} {}: {e}", path.display())))
}

fn bad_pem(what: &str, e: rustls::pki_types::pem::Error) -> Error {
    // pem::Error's Display names the problem (missing section, bad base64),
    // never the decoded bytes.
    Error::invalid_argument(format!("bad PEM for the {what}: {e}"))
}

/// Verifies the chain like WebPKI but accepts a certificate issued for any
/// name (hostname verification off).
#[derive(Debug)]
struct AnyNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
