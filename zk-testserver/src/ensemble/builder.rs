//! [`EnsembleBuilder`]: the settings of an ensemble, and starting it.

use super::slot::{ClientPort, SecurePort, Slot, Store};
use super::{Ensemble, Error, Result};
use crate::member::MemberConfig;
use crate::net::four_letter::FourLetterWords;
use crate::net::limits::ConnectionLimits;
use crate::net::links::Network;
use crate::server::config::SaslUsers;
use crate::server::{ServerConfig, ZkVersion};
use crate::storage::{DirOptions, MemoryStorage};
use crate::tls::ServerTls;
use crate::zab::MemberId;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// Configures and starts an [`Ensemble`].
#[derive(Debug, Clone)]
pub struct EnsembleBuilder {
    pub(super) members: usize,
    pub(super) tick: Duration,
    extended_types: bool,
    super_digest: Option<String>,
    port: u16,
    min_session_timeout: Option<Duration>,
    max_session_timeout: Option<Duration>,
    container_check: Option<Duration>,
    init_limit: u32,
    sync_limit: u32,
    diff_retention: usize,
    snapshot_every: u64,
    seed: u64,
    data_dir: Option<PathBuf>,
    fsync: bool,
    pub(super) wait_timeout: Duration,
    tls: Option<ServerTls>,
    secure_port: u16,
    sasl_users: SaslUsers,
    connection_limits: ConnectionLimits,
    four_letter_words: FourLetterWords,
    session_secret: Option<u64>,
    version: ZkVersion,
    read_only: bool,
    read_only_grace: Option<Duration>,
    admin_port: Option<u16>,
    bind: std::net::IpAddr,
    pub(super) observers: usize,
    /// Non-voting learners outside the published configuration, which a
    /// reconfig may add.
    pub(super) spares: usize,
    /// `reconfigEnabled`.
    pub(super) reconfig_enabled: bool,
    /// `zookeeper.skipACL`.
    skip_acl: bool,
}

impl Default for EnsembleBuilder {
    fn default() -> Self {
        EnsembleBuilder {
            members: 1,
            tick: Duration::from_millis(100),
            extended_types: false,
            super_digest: None,
            port: 0,
            min_session_timeout: None,
            max_session_timeout: None,
            container_check: None,
            init_limit: 10,
            sync_limit: 5,
            diff_retention: 500,
            snapshot_every: 100_000,
            seed: 0x5eed,
            data_dir: None,
            fsync: true,
            wait_timeout: Duration::from_secs(20),
            tls: None,
            secure_port: 0,
            sasl_users: SaslUsers::default(),
            connection_limits: ConnectionLimits::default(),
            four_letter_words: FourLetterWords::default(),
            session_secret: None,
            version: ZkVersion::default(),
            read_only: false,
            read_only_grace: None,
            admin_port: None,
            bind: std::net::IpAddr::from([127, 0, 0, 1]),
            observers: 0,
            spares: 0,
            reconfig_enabled: false,
            skip_acl: false,
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ms_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl EnsembleBuilder {
    /// Number of members (default 1). One member runs standalone (srvr says
    /// `standalone`, zxids stay in epoch 0); two or more replicate with ZAB.
    pub fn members(mut self, n: usize) -> Self {
        self.members = n;
        self
    }

    /// ZooKeeper's tickTime (default 100 ms): the session timeout unit and
    /// expiry granularity, and the unit of the replication limits. Negotiated
    /// timeouts are clamped to [2, 20] ticks.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Allows TTL nodes (`zookeeper.extendedTypesEnabled`); off by default.
    pub fn extended_types(mut self, on: bool) -> Self {
        self.extended_types = on;
        self
    }

    /// The superuser digest id, `super:<base64 sha1>` (see
    /// [`zk_client::proto::digest_id`]).
    pub fn super_digest(mut self, digest: impl Into<String>) -> Self {
        self.super_digest = Some(digest.into());
        self
    }

    /// The client port of member 1; member k listens on `port + k - 1`
    /// (default 0: each member on any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Overrides the smallest negotiated session timeout (default 2 ticks).
    pub fn min_session_timeout(mut self, t: Duration) -> Self {
        self.min_session_timeout = Some(t);
        self
    }

    /// Overrides the largest negotiated session timeout (default 20 ticks).
    pub fn max_session_timeout(mut self, t: Duration) -> Self {
        self.max_session_timeout = Some(t);
        self
    }

    /// How often the leader removes empty containers and expired TTL nodes
    /// (default 5 ticks).
    pub fn container_check_interval(mut self, t: Duration) -> Self {
        self.container_check = Some(t);
        self
    }

    /// Ticks a follower may take to sync with a new leader (ZooKeeper's
    /// `initLimit`, default 10).
    pub fn init_limit(mut self, ticks: u32) -> Self {
        self.init_limit = ticks.max(1);
        self
    }

    /// Ticks without hearing from the leader (or, for a leader, from a
    /// quorum) before giving up on it (ZooKeeper's `syncLimit`, default 5).
    pub fn sync_limit(mut self, ticks: u32) -> Self {
        self.sync_limit = ticks.max(1);
        self
    }

    /// Committed transactions a leader keeps to sync followers by DIFF
    /// (default 500); a follower further behind gets a snapshot (SNAP).
    pub fn diff_retention(mut self, entries: usize) -> Self {
        self.diff_retention = entries;
        self
    }

    /// Committed transactions between two snapshots of a member's state
    /// (default 100 000, ZooKeeper's `snapCount`; 0: never).
    pub fn snapshot_every(mut self, txns: u64) -> Self {
        self.snapshot_every = txns;
        self
    }

    /// Seed of every random choice (election jitter, link drops), so a
    /// failing run can be replayed (default fixed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Keeps each member's transaction log and snapshots in
    /// `dir/member<k>` (created if needed) instead of memory; a restarted
    /// member recovers from there.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Whether a data directory is synced to disk (default true; tests may
    /// turn it off: the data still survives a killed member, not a machine
    /// crash).
    pub fn fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// Bound of every `wait_*` of the ensemble (default 20 s).
    pub fn wait_timeout(mut self, t: Duration) -> Self {
        self.wait_timeout = t;
        self
    }

    /// Serves TLS on a second client port of every member (ZooKeeper's
    /// `secureClientPort`), with these certificates; the plaintext port
    /// stays. See [`crate::tls::TestPki`] for test certificates and
    /// [`Ensemble::secure_connect_string`](super::Ensemble::secure_connect_string)
    /// for the addresses. A client certificate names its connection
    /// `x509:<subject DN>`.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The secure client port of member 1; member k listens on
    /// `port + k - 1` (default 0: any free port). Only with [`Self::tls`].
    pub fn secure_port(mut self, port: u16) -> Self {
        self.secure_port = port;
        self
    }

    /// Serves SASL DIGEST-MD5 for this user (call once per user), as a
    /// ZooKeeper whose JAAS `Server` section has `user_<name>="<password>"`;
    /// an authenticated connection is `sasl:<name>`.
    pub fn sasl_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.sasl_users.insert(name, password);
        self
    }

    /// Connections one client address may hold on a member at once
    /// (ZooKeeper's `maxClientCnxns`, default 60; 0: no limit). Every client
    /// of an ensemble inside a test comes from 127.0.0.1: raise it for tests
    /// that open more connections than that to one member.
    pub fn max_client_cnxns(mut self, n: usize) -> Self {
        self.connection_limits.max_per_address = n;
        self
    }

    /// Every bound on client connections at once (see [`ConnectionLimits`]:
    /// connections per address, handshake timeout, replies held for a client
    /// that does not read).
    pub fn connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.connection_limits = limits;
        self
    }

    /// The four-letter words the members answer (ZooKeeper's
    /// `4lw.commands.whitelist`; default: only `srvr`, as ZooKeeper).
    /// [`FourLetterWords::all`] answers every word.
    pub fn four_letter_words(mut self, words: FourLetterWords) -> Self {
        self.four_letter_words = words;
        self
    }

    /// The secret session passwords are derived from (with the session id),
    /// equal on every member. By default each ensemble draws a random one
    /// (kept in `data_dir/session-secret` with a data directory, so that
    /// sessions outlive a restart of the whole ensemble); ZooKeeper's own
    /// passwords follow from the session id alone, so anyone who can read a
    /// session id (`cons`, `dump`) could take the session over. Fix it only
    /// to replay a run exactly.
    pub fn session_secret(mut self, secret: u64) -> Self {
        self.session_secret = Some(secret);
        self
    }

    /// Settles the session secret before any member starts: the one given,
    /// the one kept in the data directory, or a new random one (kept there).
    fn resolve_session_secret(&mut self) -> Result<()> {
        if self.session_secret.is_some() {
            return Ok(());
        }
        let secret = match &self.data_dir {
            Some(dir) => super::secret::load_or_create(dir)?,
            None => rand::random(),
        };
        self.session_secret = Some(secret);
        Ok(())
    }

    pub(super) fn client_port(&self) -> ClientPort {
        ClientPort {
            limits: self.connection_limits,
            four_letter_words: self.four_letter_words,
        }
    }

    /// The ZooKeeper release to imitate where 3.8 and 3.9 differ (default
    /// 3.9; see [`ZkVersion`] for the differences).
    pub fn zookeeper_version(mut self, version: ZkVersion) -> Self {
        self.version = version;
        self
    }

    /// Read-only mode (ZooKeeper's `readonlymode.enabled`, off by default): a
    /// member of a replicated ensemble that has looked for a leader for the
    /// grace period ([`EnsembleBuilder::read_only_grace`]) serves read-only
    /// sessions until it joins a quorum again (ZooKeeper's read-only
    /// server: reads answered from its own tree, writes refused).
    pub fn read_only_mode(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// How long a member looks for a leader before it turns read-only
    /// (default ZooKeeper's `max(2 s, tick)`). Implies
    /// [`EnsembleBuilder::read_only_mode`].
    pub fn read_only_grace(mut self, grace: Duration) -> Self {
        self.read_only = true;
        self.read_only_grace = Some(grace);
        self
    }

    /// Serves an AdminServer-compatible HTTP endpoint per member
    /// (`GET /commands/<name>`) on 127.0.0.1: member
    /// k on `port + k - 1`, or each on any free port with 0. Off by default.
    pub fn admin_port(mut self, port: u16) -> Self {
        self.admin_port = Some(port);
        self
    }

    /// Adds `n` observers (non-voting members that sync with the leader,
    /// serve reads and forward writes, as ZooKeeper's observers): they get
    /// the ids after the voting members', and their client ports follow.
    /// Default 0.
    pub fn observers(mut self, n: usize) -> Self {
        self.observers = n;
        self
    }

    /// The address the client (and admin) ports bind to (default
    /// 127.0.0.1); `0.0.0.0` serves other hosts or containers. The connect
    /// string names loopback for a wildcard address.
    pub fn bind(mut self, ip: std::net::IpAddr) -> Self {
        self.bind = ip;
        self
    }

    /// Allows `reconfig` (ZooKeeper's `reconfigEnabled`; off by default,
    /// when every reconfig fails with ReconfigDisabled). As in ZooKeeper,
    /// only the superuser (see [`EnsembleBuilder::super_digest`]) may
    /// reconfigure, unless ACL checks are off
    /// ([`EnsembleBuilder::skip_acl`]). A reconfig that gives a member
    /// another client port moves its listener there (connections stay).
    pub fn reconfig_enabled(mut self, on: bool) -> Self {
        self.reconfig_enabled = on;
        self
    }

    /// Adds `n` spare members (ids after the voters' and observers'): they
    /// run, connect to the leader and sync as non-voting learners serving
    /// clients, but `/zookeeper/config` does not list them until a reconfig
    /// adds them (ZooKeeper requires a joining server to be up and
    /// connected). [`Ensemble::server_line`](super::Ensemble::server_line)
    /// gives the `server.N=...` line to add one with.
    pub fn spares(mut self, n: usize) -> Self {
        self.spares = n;
        self
    }

    /// Skips every ACL check (ZooKeeper's `zookeeper.skipACL=yes`; off by
    /// default): any client may read and change any node, and `reconfig`
    /// needs no superuser.
    pub fn skip_acl(mut self, on: bool) -> Self {
        self.skip_acl = on;
        self
    }

    fn server_config(&self) -> ServerConfig {
        let mut c = ServerConfig::with_tick(ms(self.tick).max(1));
        c.reconfig_enabled = self.reconfig_enabled;
        c.skip_acl = self.skip_acl;
        c.version = self.version;
        c.extended_types = self.extended_types;
        c.super_digest = self.super_digest.clone();
        c.sasl_users = self.sasl_users.clone();
        c.x509 = self.tls.is_some();
        if let Some(t) = self.min_session_timeout {
            c.min_session_timeout_ms = ms_i32(t);
        }
        if let Some(t) = self.max_session_timeout {
            c.max_session_timeout_ms = ms_i32(t);
        }
        if let Some(t) = self.container_check {
            c.container_check_ms = ms(t).max(1);
        }
        if let Some(secret) = self.session_secret {
            c.secret = secret;
        }
        c
    }

    /// The configuration of member `id`, for its `incarnation`-th start.
    pub(super) fn member_config(&self, id: MemberId, incarnation: u64) -> MemberConfig {
        let ids: Vec<MemberId> = (1..=self.members as u64).collect();
        let learners = self.members + self.observers + self.spares;
        let observers: Vec<MemberId> = (self.members as u64 + 1..=learners as u64).collect();
        let mut c = MemberConfig::new(id, ids, self.server_config());
        c.zab.observers = observers;
        c.zab.tick = self.tick.max(Duration::from_millis(1));
        c.zab.init_limit = self.init_limit;
        c.zab.sync_limit = self.sync_limit;
        c.zab.diff_retention = self.diff_retention;
        c.zab.seed = self
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(id.wrapping_mul(1_000_003))
            .wrapping_add(incarnation);
        c.snapshot_every = self.snapshot_every;
        c.read_only_grace = self.read_only.then(|| {
            self.read_only_grace
                .unwrap_or_else(|| crate::member::default_read_only_grace(self.tick))
        });
        c
    }

    fn admin_addr(&self, id: MemberId) -> Result<Option<SocketAddr>> {
        let Some(base) = self.admin_port else {
            return Ok(None);
        };
        let port = match base {
            0 => 0,
            p => p
                .checked_add(u16::try_from(id - 1).unwrap_or(u16::MAX))
                .ok_or(Error::Unsupported("admin ports above 65535"))?,
        };
        Ok(Some(SocketAddr::from((self.bind, port))))
    }

    /// Binds the client ports on 127.0.0.1, starts every member, and returns
    /// once each of them serves (a leader is elected and synced with all).
    ///
    /// A member that cannot start (its storage is damaged: a checksum
    /// mismatch before acknowledged records, a missing log segment) is
    /// logged as an error and left down, as long as the others form a
    /// quorum; otherwise `start` fails with its error. Such a member rejoins
    /// with [`Ensemble::restart`] once its storage is repaired, or with
    /// [`Ensemble::restart_wiped`] (it then catches up from the leader).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops whatever it started, as dropping the
    /// [`Ensemble`] does: once the drop returns, the members' tasks, client
    /// ports and threads are gone, so a new `start` on the same ports
    /// succeeds. Only files persist: with a [`data_dir`](Self::data_dir), the
    /// session secret and what the members wrote before the drop.
    pub async fn start(mut self) -> Result<Ensemble> {
        let total = self.members + self.observers + self.spares;
        if self.members == 0 || total > 255 {
            return Err(Error::Unsupported("between 1 and 255 members"));
        }
        self.resolve_session_secret()?;
        let ids: Vec<MemberId> = (1..=total as u64).collect();
        let network = Network::new(&ids, self.seed);
        let (reports, _) = watch::channel(vec![None; total]);
        let acceptor = self.tls.as_ref().map(|t| t.acceptor()).transpose()?;
        let mut slots = Vec::with_capacity(total);
        for &id in &ids {
            let port = member_port(self.port, id)?;
            let store = match &self.data_dir {
                Some(dir) => Store::Dir {
                    path: dir.join(format!("member{id}")),
                    options: DirOptions::default().fsync(self.fsync),
                },
                None => Store::Memory(MemoryStorage::new()),
            };
            let mut slot = Slot::new(id, SocketAddr::from((self.bind, port)), store);
            slot.admin_addr = self.admin_addr(id)?;
            if let Some(acceptor) = &acceptor {
                slot = slot.with_secure_port(SecurePort {
                    addr: SocketAddr::from((self.bind, member_port(self.secure_port, id)?)),
                    acceptor: acceptor.clone(),
                });
            }
            slots.push(slot);
        }
        // Bind every port and connect every mailbox before any member runs,
        // so the first election messages reach everyone.
        let mut prepared = Vec::with_capacity(slots.len());
        for slot in &mut slots {
            prepared.push(slot.prepare(&network)?);
        }
        let runtime = super::runtime::build()?;
        let members = self.members;
        let ensemble = Ensemble::assemble(runtime, self, network, reports, slots);
        let mut down = Vec::new();
        let mut first_error = None;
        for (i, p) in prepared.into_iter().enumerate() {
            if let Err(e) = ensemble.launch_first(i, p) {
                // A member whose storage cannot be recovered stays down; the
                // others go on if they are a quorum (as ZooKeeper's servers
                // would, each started on its own). It can rejoin once its
                // storage is repaired or wiped (Ensemble::restart).
                tracing::error!(
                    member = i + 1,
                    error = %e,
                    "member cannot start; it stays down until its storage is repaired \
                     or wiped and it is restarted"
                );
                down.push(i);
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            // Observers (the ids after the voters) do not count.
            let voters_down = down.iter().filter(|&&i| i < members).count();
            if members - voters_down < members / 2 + 1 {
                return Err(e);
            }
        }
        ensemble.wait_all_serving_but(&down).await?;
        Ok(ensemble)
    }
}

/// Member `id`'s port when member 1 has `base` (0: any free port).
fn member_port(base: u16, id: MemberId) -> Result<u16> {
    match base {
        0 => Ok(0),
        p => p
            .checked_add(u16::try_from(id - 1).unwrap_or(u16::MAX))
            .ok_or(Error::Unsupported("client ports above 65535")),
    }
}
