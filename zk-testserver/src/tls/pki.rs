//! Throwaway certificates for tests: a CA, a server certificate for the
//! loopback names, and client certificates, generated in-process.

use super::{ClientAuth, ServerTls};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::Path;

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A test certificate authority that signs a server certificate valid for
/// `localhost`, `127.0.0.1` and `::1`, and client certificates on demand.
///
/// ```
/// let pki = zk_testserver::tls::TestPki::generate();
/// let client = pki.client_cert("app");
/// assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(client.cert_pem.contains("CERTIFICATE"));
/// ```
pub struct TestPki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    server: CertifiedKey,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// The organisation every test certificate names.
pub const TEST_ORG: &str = "zk-rs";

impl TestPki {
    /// A fresh CA (`CN=zk-rs test CA,O=zk-rs`) and server certificate
    /// (`CN=localhost,O=zk-rs`). ECDSA P-256 keys.
    pub fn generate() -> TestPki {
        TestPki::named("zk-rs test CA")
    }

    /// Like [`TestPki::generate`], with the CA's common name chosen (two
    /// CAs with different names do not trust each other's certificates).
    pub fn named(ca_name: &str) -> TestPki {
        let ca_key = KeyPair::generate().expect("generate a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name = dn(ca_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_pem = params.self_signed(&ca_key).expect("self-sign the CA").pem();
        let issuer = Issuer::new(params, ca_key);
        let mut pki = TestPki {
            ca_pem,
            issuer,
            server: CertifiedKey {
                cert_pem: String::new(),
                key_pem: String::new(),
            },
        };
        pki.server = pki.issue(
            "localhost",
            &["localhost", "127.0.0.1", "::1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            false,
        );
        pki
    }

    /// The CA certificate (PEM), what clients and servers trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server's certificate and key.
    pub fn server_cert(&self) -> &CertifiedKey {
        &self.server
    }

    /// A server certificate for other names (e.g. one not valid for the
    /// address a client connects to).
    pub fn server_cert_for(&self, names: &[&str]) -> CertifiedKey {
        let cn = names.first().copied().unwrap_or("server");
        self.issue(cn, names, ExtendedKeyUsagePurpose::ServerAuth, false)
    }

    /// A client certificate with subject `CN=<common_name>,O=zk-rs`; real
    /// ZooKeeper and zk-testserver name its holder
    /// `x509:CN=<common_name>,O=zk-rs`.
    pub fn client_cert(&self, common_name: &str) -> CertifiedKey {
        self.issue(common_name, &[], ExtendedKeyUsagePurpose::ClientAuth, false)
    }

    /// A client certificate that expired in 2001.
    pub fn expired_client_cert(&self, common_name: &str) -> CertifiedKey {
        self.issue(common_name, &[], ExtendedKeyUsagePurpose::ClientAuth, true)
    }

    /// The x509 id ZooKeeper gives the holder of [`TestPki::client_cert`].
    pub fn client_id(common_name: &str) -> String {
        format!("CN={common_name},O={TEST_ORG}")
    }

    /// Server TLS settings with this PKI's server certificate, trusting this
    /// CA for client certificates.
    pub fn server_tls(&self, client_auth: ClientAuth) -> ServerTls {
        ServerTls::from_pem(
            self.server.cert_pem.as_bytes(),
            self.server.key_pem.as_bytes(),
        )
        .and_then(|t| t.client_ca_pem(self.ca_pem.as_bytes()))
        .map(|t| t.client_auth(client_auth))
        .expect("the generated certificates are valid")
    }

    /// Writes `ca.pem`, `server.pem`, `server.key` (and nothing secret
    /// beyond these throwaway keys) into `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        std::fs::write(dir.join("server.pem"), &self.server.cert_pem)?;
        std::fs::write(dir.join("server.key"), &self.server.key_pem)?;
        Ok(())
    }

    fn issue(
        &self,
        common_name: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        expired: bool,
    ) -> CertifiedKey {
        let key = KeyPair::generate().expect("generate a key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params.distinguished_name = dn(common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign a certificate");
        CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, TEST_ORG);
    dn.push(DnType::CommonName, common_name);
    dn
}
