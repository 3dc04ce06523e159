//! Server options.

use super::ZkVersion;

/// Options of one server (member).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Member id; the top byte of the session ids this server creates.
    pub server_id: u8,
    /// ZooKeeper's tickTime in ms: expiry bucket width and timeout unit.
    pub tick_ms: u64,
    /// Smallest negotiated session timeout, ms (default 2 ticks).
    pub min_session_timeout_ms: i32,
    /// Largest negotiated session timeout, ms (default 20 ticks).
    pub max_session_timeout_ms: i32,
    /// Whether TTL nodes are allowed (`zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// Superuser digest id, `super:<base64 sha1>` (`DigestAuthenticationProvider.superDigest`).
    pub super_digest: Option<String>,
    /// Secret mixed into session passwords (equal on every member). A fixed
    /// value by default; an `Ensemble` draws a random one (see
    /// `EnsembleBuilder::session_secret`).
    pub secret: u64,
    /// How often empty containers and expired TTL nodes are looked for, ms.
    pub container_check_ms: u64,
    /// Users SASL DIGEST-MD5 accepts (empty: no SASL served).
    pub sasl_users: SaslUsers,
    /// Whether the server has a secure client port (and so the `x509`
    /// authentication provider).
    pub x509: bool,
    /// The ZooKeeper release imitated where releases differ (default 3.9).
    pub version: ZkVersion,
    /// Whether `reconfig` is allowed (ZooKeeper's `reconfigEnabled`; off by
    /// default, when every reconfig fails with ReconfigDisabled).
    pub reconfig_enabled: bool,
    /// Whether ACL checks are skipped (ZooKeeper's `zookeeper.skipACL=yes`;
    /// off by default): every client may do anything, and `reconfig` needs
    /// no superuser.
    pub skip_acl: bool,
}

impl ServerConfig {
    /// Defaults for a tick: timeouts clamped to [2, 20] ticks, containers
    /// checked every 5 ticks.
    pub fn with_tick(tick_ms: u64) -> ServerConfig {
        let tick = i32::try_from(tick_ms).unwrap_or(i32::MAX);
        ServerConfig {
            server_id: 1,
            tick_ms,
            min_session_timeout_ms: tick.saturating_mul(2),
            max_session_timeout_ms: tick.saturating_mul(20),
            extended_types: false,
            super_digest: None,
            secret: 0x00B3_415C_0000_0000,
            container_check_ms: tick_ms.saturating_mul(5).max(1),
            sasl_users: SaslUsers::default(),
            x509: false,
            version: ZkVersion::default(),
            reconfig_enabled: false,
            skip_acl: false,
        }
    }

    /// The optional auth schemes ACLs may name.
    pub fn auth_providers(&self) -> crate::tree::acl::Providers {
        crate::tree::acl::Providers {
            x509: self.x509,
            sasl: !self.sasl_users.is_empty(),
        }
    }

    /// Clamps a requested session timeout to [min, max].
    pub fn negotiate_timeout(&self, requested: i32) -> i32 {
        requested
            .max(self.min_session_timeout_ms)
            .min(self.max_session_timeout_ms)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::with_tick(2000)
    }
}

/// The user table of SASL DIGEST-MD5 (a JAAS `DigestLoginModule`'s
/// `user_<name>="<password>"` entries). Its `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SaslUsers(std::collections::BTreeMap<String, String>);

impl SaslUsers {
    /// Adds (or replaces) a user.
    pub fn insert(&mut self, user: impl Into<String>, password: impl Into<String>) {
        self.0.insert(user.into(), password.into());
    }

    /// A user's password.
    pub fn get(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }

    /// Whether no user is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SaslUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
