//! SASL authentication of a session (ZooKeeper's `zookeeper.sasl.client`):
//! which mechanism and credentials a [`crate::ClientBuilder::sasl`] client
//! uses.
//!
//! The exchange runs on every connection right after the handshake and
//! before any other request (as ZooKeeper's Java client orders it): the
//! client reports [`crate::ConnectionState::Connected`] (or `Reconnected`)
//! only once the server accepted the credentials, and every later request
//! runs as `sasl:<user>`. A rejection ends the session with
//! [`crate::ConnectionState::AuthFailed`] and an
//! [`crate::ErrorKind::AuthFailed`] error that says why.

#[cfg(feature = "gssapi")]
mod gssapi;

use crate::proto::sasl::{ClientStep, DigestMd5Client, SaslError};
use base64::Engine as _;

/// The SASL mechanism and credentials of a client.
#[derive(Clone)]
pub struct SaslConfig {
    mechanism: Mechanism,
}

#[derive(Clone)]
enum Mechanism {
    DigestMd5 {
        username: String,
        password: String,
    },
    #[cfg(feature = "gssapi")]
    Gssapi {
        service: String,
        host: String,
    },
}

impl std::fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        match &self.mechanism {
            Mechanism::DigestMd5 { username, .. } => f
                .debug_struct("SaslConfig")
                .field("mechanism", &"DIGEST-MD5")
                .field("username", username)
                .finish_non_exhaustive(),
            #[cfg(feature = "gssapi")]
            Mechanism::Gssapi { service, host } => f
                .debug_struct("SaslConfig")
                .field("mechanism", &"GSSAPI")
                .field("service", service)
                .field("host", host)
                .finish(),
        }
    }
}

impl SaslConfig {
    /// DIGEST-MD5 with a user name and password: what a ZooKeeper server
    /// whose JAAS `Server` section uses `DigestLoginModule`
    /// (`user_<name>="<password>"`) accepts. The password never leaves the
    /// client; the server sees a keyed digest of it.
    pub fn digest_md5(username: impl Into<String>, password: impl Into<String>) -> SaslConfig {
        SaslConfig {
            mechanism: Mechanism::DigestMd5 {
                username: username.into(),
                password: password.into(),
            },
        }
    }

    /// GSSAPI (Kerberos v5), what a ZooKeeper whose JAAS `Server` section
    /// uses `Krb5LoginModule` accepts. The server's principal is
    /// `<service>/<host>@<REALM>` (ZooKeeper: service `zookeeper`, the
    /// member's host name; one fixed host for every member, as with
    /// ZooKeeper's `zookeeper.server.principal`). The client's credentials
    /// come from the environment, as for any MIT Kerberos program: the
    /// credential cache (`kinit`, `KRB5CCNAME`) or a client keytab
    /// (`KRB5_CLIENT_KTNAME`). The session is then `sasl:<principal's
    /// short name>`. Needs the `gssapi` feature (MIT Kerberos libraries).
    #[cfg(feature = "gssapi")]
    pub fn gssapi(service: impl Into<String>, host: impl Into<String>) -> SaslConfig {
        SaslConfig {
            mechanism: Mechanism::Gssapi {
                service: service.into(),
                host: host.into(),
            },
        }
    }

    /// The mechanism's SASL name.
    pub fn mechanism(&self) -> &'static str {
        match self.mechanism {
            Mechanism::DigestMd5 { .. } => "DIGEST-MD5",
            #[cfg(feature = "gssapi")]
            Mechanism::Gssapi { .. } => "GSSAPI",
        }
    }

    /// A fresh exchange for one connection.
    pub(crate) fn start(&self) -> Result<Box<dyn SaslExchange>, SaslError> {
        match &self.mechanism {
            Mechanism::DigestMd5 { username, password } => {
                let cnonce: [u8; 16] = rand::random();
                let cnonce = base64::engine::general_purpose::STANDARD.encode(cnonce);
                Ok(Box::new(DigestMd5Client::new(username, password, &cnonce)))
            }
            #[cfg(feature = "gssapi")]
            Mechanism::Gssapi { service, host } => {
                Ok(Box::new(gssapi::GssapiClient::new(service, host)?))
            }
        }
    }
}

/// What the client sends next in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaslStep {
    /// Send this token; the server answers with the next challenge.
    Send(Vec<u8>),
    /// Send this last token; the exchange is over once the server accepts it.
    #[cfg_attr(not(feature = "gssapi"), allow(dead_code))]
    SendLast(Vec<u8>),
    /// Authenticated.
    Done,
}

/// One connection's run of a mechanism, fed the server's tokens.
pub(crate) trait SaslExchange: Send {
    /// The next step, given the server's last token (`None` to start, or
    /// when the server sent a null token).
    fn step(&mut self, server_token: Option<&[u8]>) -> Result<SaslStep, SaslError>;
}

impl SaslExchange for DigestMd5Client {
    fn step(&mut self, server_token: Option<&[u8]>) -> Result<SaslStep, SaslError> {
        match DigestMd5Client::step(self, server_token)? {
            ClientStep::Send(token) => Ok(SaslStep::Send(token)),
            ClientStep::Done => Ok(SaslStep::Done),
        }
    }
}
