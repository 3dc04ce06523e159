//! Settings of one session machine.

use crate::connect_string::Chroot;
use crate::proto::DEFAULT_MAX_BUFFER;
use std::time::Duration;

/// What the session machine needs to know; built by [`crate::ClientBuilder`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Requested session timeout (the server clamps it to its tick bounds).
    pub session_timeout: Duration,
    /// How long a connection may take to complete the handshake.
    pub connect_timeout: Duration,
    /// Whether a read-only server is acceptable.
    pub read_only: bool,
    /// The chroot applied to every path.
    pub chroot: Chroot,
    /// Largest frame accepted from a server (jute.maxbuffer).
    pub max_frame: usize,
    /// An existing session to attach to (id and password) instead of
    /// starting a new one.
    pub attach: Option<(i64, bytes::Bytes)>,
    /// SASL credentials to authenticate every connection with, right after
    /// its handshake.
    pub sasl: Option<crate::sasl::SaslConfig>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            session_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_only: false,
            chroot: Chroot::default(),
            max_frame: DEFAULT_MAX_BUFFER,
            attach: None,
            sasl: None,
        }
    }
}
