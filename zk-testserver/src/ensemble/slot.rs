//! One member slot of an ensemble: its client address, its storage (which
//! outlives kills), and the tasks of its running incarnation.

use super::client_addr::{follow_port, ClientAddr};
use super::{Error, Result};
use crate::failpoint::Failpoints;
use crate::member::{MemberConfig, MemberMachine};
use crate::net::connection::PortInfo;
use crate::net::core::{Command, Driver, Publisher};
use crate::net::four_letter::FourLetterWords;
use crate::net::limits::ConnectionLimits;
use crate::net::links::{Network, PeerInput};
use crate::net::listener::{accept_loop, accept_moving};
use crate::storage::{DirOptions, DirStorage, MemoryStorage, Storage};
use crate::zab::MemberId;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use zk_client::ensemble_config::EnsembleConfig;
use zk_client::proto::DEFAULT_MAX_BUFFER;

/// Where a member keeps its log, snapshots and epochs.
#[derive(Debug)]
pub(super) enum Store {
    /// In memory, shared with the running member; survives kill/restart.
    Memory(MemoryStorage),
    /// In a directory.
    Dir { path: PathBuf, options: DirOptions },
}

impl Store {
    fn open(&self) -> io::Result<Box<dyn Storage>> {
        Ok(match self {
            Store::Memory(m) => Box::new(m.clone()),
            Store::Dir { path, options } => {
                std::fs::create_dir_all(path)?;
                Box::new(DirStorage::open(path, options.clone())?)
            }
        })
    }

    /// What a killed process loses: appends not yet flushed. (A directory
    /// store loses its buffer when the member's handle is dropped.)
    fn crash(&self) {
        if let Store::Memory(m) = self {
            m.crash();
        }
    }

    fn wipe(&mut self) -> io::Result<()> {
        match self {
            Store::Memory(m) => *m = MemoryStorage::new(),
            Store::Dir { path, .. } => match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        Ok(())
    }
}

struct Running {
    commands: mpsc::UnboundedSender<Command>,
    driver: JoinHandle<()>,
    /// Accepts on the client port (and the secure one, if any).
    listener: JoinHandle<()>,
    admin: Option<JoinHandle<()>>,
}

/// A bound client port and a connected mailbox: a member about to run.
pub(super) struct Prepared {
    listener: std::net::TcpListener,
    secure_listener: Option<std::net::TcpListener>,
    peers: mpsc::UnboundedReceiver<PeerInput>,
    admin: Option<std::net::TcpListener>,
}

/// A member's TLS client port (ZooKeeper's `secureClientPort`).
pub(super) struct SecurePort {
    pub(super) addr: SocketAddr,
    pub(super) acceptor: tokio_rustls::TlsAcceptor,
}

/// What a member takes from its ensemble to start, gathered beforehand so
/// that the start can finish on the members' runtime.
pub(super) struct Launch {
    /// The members' runtime, where its tasks run.
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) config: MemberConfig,
    /// What its admin endpoint knows of the ensemble.
    pub(super) admin_ensemble: EnsembleConfig,
    pub(super) network: Network,
    pub(super) publisher: Publisher,
    pub(super) port: ClientPort,
}

/// How a member's client port treats its connections.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientPort {
    pub(super) limits: ConnectionLimits,
    pub(super) four_letter_words: FourLetterWords,
}

/// One member of the ensemble, running or not.
pub(super) struct Slot {
    pub(super) id: MemberId,
    /// Its client address (the port moves if a reconfig moves it).
    pub(super) addr: ClientAddr,
    store: Store,
    starts: u64,
    running: Option<Running>,
    /// Failpoints to arm when the member next starts.
    pub(super) armed_on_start: Failpoints,
    secure: Option<SecurePort>,
    /// Where its AdminServer-compatible endpoint listens, if enabled (port 0
    /// until first bound).
    pub(super) admin_addr: Option<SocketAddr>,
}

impl Slot {
    pub(super) fn new(id: MemberId, addr: SocketAddr, store: Store) -> Slot {
        Slot {
            id,
            addr: ClientAddr::new(addr),
            store,
            starts: 0,
            running: None,
            armed_on_start: Failpoints::default(),
            secure: None,
            admin_addr: None,
        }
    }

    /// Also serves TLS clients on `port`.
    pub(super) fn with_secure_port(mut self, port: SecurePort) -> Slot {
        self.secure = Some(port);
        self
    }

    /// The secure client address (once bound), if the member has one.
    pub(super) fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure.as_ref().map(|s| s.addr)
    }

    pub(super) fn is_running(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| !r.driver.is_finished())
    }

    pub(super) fn commands(&self) -> Result<mpsc::UnboundedSender<Command>> {
        match &self.running {
            Some(r) if !r.driver.is_finished() => Ok(r.commands.clone()),
            _ => Err(Error::Stopped(self.id)),
        }
    }

    /// Binds the client port (the same one on every start, unless a
    /// reconfig moved it) and connects the member's mailbox.
    pub(super) fn prepare(&mut self, network: &Network) -> Result<Prepared> {
        // Bound here, registered with the ensemble's runtime at launch.
        let listener = std::net::TcpListener::bind(self.addr.get())?;
        listener.set_nonblocking(true)?;
        self.addr.set_port(listener.local_addr()?.port());
        let secure_listener = match &mut self.secure {
            Some(secure) => {
                let l = std::net::TcpListener::bind(secure.addr)?;
                l.set_nonblocking(true)?;
                secure.addr = l.local_addr()?;
                Some(l)
            }
            None => None,
        };
        let admin = match self.admin_addr {
            Some(addr) => {
                let admin = std::net::TcpListener::bind(addr)?;
                admin.set_nonblocking(true)?;
                self.admin_addr = Some(admin.local_addr()?);
                Some(admin)
            }
            None => None,
        };
        let peers = network.attach(self.id);
        Ok(Prepared {
            listener,
            secure_listener,
            peers,
            admin,
        })
    }

    /// Recovers storage, builds the member machine and spawns its tasks.
    pub(super) fn launch(&mut self, launch: Launch, prepared: Prepared) -> Result<()> {
        let Launch {
            runtime,
            mut config,
            admin_ensemble,
            network,
            publisher,
            port,
        } = launch;
        for (point, action) in std::mem::take(&mut self.armed_on_start).armed() {
            config.failpoints.arm(point, action);
        }
        let mut storage = self.store.open()?;
        let recovered = storage.recover()?;
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let logged = recovered.log.len();
        let machine = MemberMachine::new(config, recovered, Instant::now(), wall_ms)?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (port_tx, ports) = watch::channel(self.addr.get().port());
        let driver = Driver::new(machine, storage, network, prepared.peers, rx, publisher)
            .announce_client_port(port_tx);
        // Everything of the member runs on the ensemble's own runtime.
        let _entered = runtime.enter();
        let driver = tokio::spawn(driver.run());
        let info = PortInfo {
            port: self.addr.get().port(),
            max_frame: DEFAULT_MAX_BUFFER,
            started: Instant::now(),
            limits: port.limits,
            four_letter_words: port.four_letter_words,
        };
        let listener = TcpListener::from_std(prepared.listener)?;
        let (moves_tx, moves) = mpsc::channel(1);
        let plain = accept_moving(listener, Some(moves), commands.clone(), info, None);
        let mover = follow_port(self.id, self.addr.clone(), ports, moves_tx);
        let secure = match (prepared.secure_listener, &self.secure) {
            (Some(l), Some(port)) => {
                let info = PortInfo {
                    port: port.addr.port(),
                    ..info
                };
                Some(accept_loop(
                    TcpListener::from_std(l)?,
                    commands.clone(),
                    info,
                    Some(port.acceptor.clone()),
                ))
            }
            _ => None,
        };
        let listener = tokio::spawn(async move {
            let serve = async move {
                match secure {
                    Some(secure) => {
                        tokio::join!(plain, secure);
                    }
                    None => plain.await,
                }
            };
            tokio::join!(serve, mover);
        });
        let admin = match prepared.admin {
            Some(admin) => {
                let ctx = crate::admin::AdminContext {
                    id: self.id,
                    client_port: self.addr.get().port(),
                    ensemble: admin_ensemble,
                    started: info.started,
                };
                let admin = TcpListener::from_std(admin)?;
                Some(tokio::spawn(crate::admin::serve(
                    admin,
                    commands.clone(),
                    ctx,
                )))
            }
            None => None,
        };
        self.starts += 1;
        tracing::info!(member = self.id, addr = %self.addr.get(), logged, "member started");
        self.running = Some(Running {
            commands,
            driver,
            listener,
            admin,
        });
        Ok(())
    }

    /// How many times the member was started.
    pub(super) fn starts(&self) -> u64 {
        self.starts
    }

    /// Stops the member as a crash would: its tasks end, its connections
    /// drop, its peers see a reset, unflushed appends are lost.
    ///
    /// Not cancel safe (dropped half way, the tasks are aborted but the
    /// member is neither detached nor crashed): the ensemble runs it to its
    /// end in a task of its own.
    pub(super) async fn kill(&mut self, network: &Network) {
        if let Some(r) = self.running.take() {
            r.listener.abort();
            r.driver.abort();
            if let Some(admin) = r.admin {
                admin.abort();
                let _ = admin.await;
            }
            let _ = r.listener.await;
            let _ = r.driver.await;
            network.detach(self.id);
            self.store.crash();
            tracing::info!(member = self.id, "member killed");
        }
    }

    /// Replaces the member's storage with an empty one (only while stopped).
    pub(super) fn wipe(&mut self) -> Result<()> {
        if self.running.is_some() {
            return Err(Error::Unsupported("wiping a running member"));
        }
        self.store.wipe()?;
        Ok(())
    }
}

impl Slot {
    /// Stops the member's tasks without waiting for them.
    pub(super) fn abort(&mut self) {
        if let Some(r) = self.running.take() {
            r.listener.abort();
            r.driver.abort();
            if let Some(admin) = r.admin {
                admin.abort();
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.abort();
    }
}
