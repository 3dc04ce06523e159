//! The task that drives one [`MemberMachine`]: it feeds it client frames,
//! peer messages and timer expiries, carries out its effects (peer sends on
//! the [`Network`], storage operations with group commit), routes client
//! frames to connection tasks, and publishes the member's status.
//!
//! Storage runs on the member's own thread ([`StorageWorker`]), never on the
//! runtime's: after each input the task also takes every input already
//! waiting (up to a bound), carries out the resulting effects and hands all
//! of their log appends to the storage thread as one operation. The thread
//! makes them durable with a single flush (group commit, together with
//! whatever else queued meanwhile) and reports them; only then does the
//! task tell the machine ([`MemberMachine::persisted`]), so acknowledgements
//! and commits follow the fsync while clients and peers go on being served.

use super::links::{Network, PeerInput};
use crate::failpoint::{Action, Failpoint};
use crate::member::{Effect, MemberMachine, Status, SyncCounts};
use crate::server::stats::{ServerStats, StatsDetail};
use crate::server::{ConnId, ConnOutput, Time};
use crate::storage::Storage;
use crate::storage::{LogEntry, StorageError, StorageWorker};
use crate::zab::MemberId;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

/// Inputs taken without waiting before their effects are carried out.
const BATCH: usize = 256;

/// Where the member task sends one connection's outputs.
///
/// A `futures` channel rather than tokio's: tokio's unbounded channel
/// allocates a block of 32 slots and cache-padded state when it is made
/// (about 1.6 KiB), which every idle connection would hold; this one holds
/// about a tenth of that and allocates per message. What it carries is
/// bounded as before: the connection stops reading requests while its
/// replies wait (see [`super::limits`]).
pub type OutputSender = futures::channel::mpsc::UnboundedSender<ConnOutput>;

/// The connection's end of an [`OutputSender`].
pub type OutputReceiver = futures::channel::mpsc::UnboundedReceiver<ConnOutput>;

/// A channel for one connection's outputs.
pub fn output_channel() -> (OutputSender, OutputReceiver) {
    futures::channel::mpsc::unbounded()
}

/// A message to the member task.
#[derive(Debug)]
pub enum Command {
    /// A connection was accepted; its outputs go to `tx`.
    Open {
        /// Connection id.
        conn: ConnId,
        /// Peer address.
        peer: SocketAddr,
        /// Where to send its outputs.
        tx: OutputSender,
    },
    /// A TLS connection's client certificate names it `x509:<dn>` (sent
    /// right after `Open`).
    X509Identity {
        /// Connection id.
        conn: ConnId,
        /// The certificate's subject, RFC 2253.
        dn: String,
    },
    /// A frame read from a connection (without its length prefix).
    Frame {
        /// Connection id.
        conn: ConnId,
        /// The frame.
        frame: Bytes,
    },
    /// The connection's socket closed.
    Closed {
        /// Connection id.
        conn: ConnId,
    },
    /// Stats for a four-letter word, with the member's notion of now.
    Stats(StatsDetail, oneshot::Sender<(ServerStats, Time)>),
    /// Expire a session now (true if this member could).
    ExpireSession(i64, oneshot::Sender<bool>),
    /// Close every client connection.
    DropConnections(oneshot::Sender<()>),
    /// Read-only facts about the member.
    Inspect(oneshot::Sender<Inspection>),
    /// Arm a failpoint (`None`: disarm it); answered once it is in force.
    Failpoint(Failpoint, Option<Action>, oneshot::Sender<()>),
    /// The member's state for the checkers.
    View(oneshot::Sender<crate::member::MemberView>),
}

/// Facts the `Ensemble` reports about one member, taken at one instant.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Last applied zxid.
    pub last_zxid: i64,
    /// Tree digest.
    pub digest: u64,
    /// Sessions and their timeouts (ms).
    pub sessions: Vec<(i64, i32)>,
    /// Role and leader.
    pub status: Status,
    /// The text of its `/zookeeper/config` (None when empty).
    pub config: Option<String>,
}

/// What a member task publishes after every batch of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Role, leader, epoch, serving.
    pub status: Status,
    /// Last applied zxid.
    pub last_zxid: i64,
    /// Last logged zxid.
    pub last_logged_zxid: i64,
    /// Last committed zxid.
    pub last_committed_zxid: i64,
    /// Syncs with a leader since the member started.
    pub syncs: SyncCounts,
    /// Failpoints fired since the member started.
    pub failpoint_hits: u32,
    /// Whether it serves read-only sessions (cut off, read-only mode on).
    pub read_only: bool,
}

/// Where a member task publishes its reports: slot `index` of a shared
/// vector (`None` while the member is down).
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The shared reports of every member.
    pub tx: watch::Sender<Vec<Option<Report>>>,
    /// This member's slot.
    pub index: usize,
}

impl Publisher {
    /// Publishes `report` if it changed.
    pub fn publish(&self, report: Option<Report>) {
        self.tx.send_if_modified(|v| match v.get_mut(self.index) {
            Some(slot) if *slot != report => {
                *slot = report;
                true
            }
            _ => false,
        });
    }
}

/// Why a member's task stopped.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Its storage failed.
    #[error("storage failed")]
    Storage(#[from] StorageError),
    /// The machine could not go on.
    #[error("halted: {0}")]
    Halt(String),
    /// An armed failpoint crashed it.
    #[error("crashed at failpoint {0}")]
    Crash(Failpoint),
}

/// One member's driver.
pub struct Driver {
    machine: MemberMachine,
    storage: StorageWorker,
    network: Network,
    peers: mpsc::UnboundedReceiver<PeerInput>,
    commands: mpsc::UnboundedReceiver<Command>,
    senders: HashMap<ConnId, OutputSender>,
    publisher: Publisher,
    /// Appends not yet handed to storage (kept across a pause).
    appends: Vec<LogEntry>,
    /// A failpoint paused the member: stall this long before going on.
    pause: Option<std::time::Duration>,
    /// Where to announce the client port the member's configuration gives
    /// it (see [`Driver::announce_client_port`]).
    client_port: Option<watch::Sender<u16>>,
}

impl Driver {
    /// A driver for `machine`, built from what `storage` recovered.
    pub fn new(
        machine: MemberMachine,
        storage: Box<dyn Storage>,
        network: Network,
        peers: mpsc::UnboundedReceiver<PeerInput>,
        commands: mpsc::UnboundedReceiver<Command>,
        publisher: Publisher,
    ) -> Driver {
        let name = format!("zk-storage-{}", machine.id());
        Driver {
            machine,
            storage: StorageWorker::for_storage(storage, name),
            network,
            peers,
            commands,
            senders: HashMap::new(),
            publisher,
            appends: Vec::new(),
            pause: None,
            client_port: None,
        }
    }

    /// Announces on `tx` every change of the client port the member's
    /// configuration gives it ([`MemberMachine::client_port`]), so whoever
    /// runs the client listener can move it there.
    pub fn announce_client_port(mut self, tx: watch::Sender<u16>) -> Driver {
        self.client_port = Some(tx);
        self
    }

    fn id(&self) -> MemberId {
        self.machine.id()
    }

    /// Runs until the command channel closes (the member is stopped) or the
    /// member fails (a storage error, or the machine halts).
    /// A failed member's storage stops as at a crash (what was not flushed
    /// is lost); a stopped member's storage first carries out what it was
    /// given.
    pub async fn run(mut self) {
        let result = self.run_inner().await;
        match result {
            Err(e) if self.machine.is_crashed() => {
                tracing::warn!(member = self.id(), reason = %e, "member stops");
            }
            Err(e) => {
                let e: &(dyn std::error::Error + 'static) = &e;
                tracing::error!(member = self.id(), error = e, "member failed and stops");
            }
            Ok(()) => {
                let Driver {
                    storage, publisher, ..
                } = self;
                storage.shutdown().await;
                publisher.publish(None);
                return;
            }
        }
        self.publisher.publish(None);
    }

    async fn run_inner(&mut self) -> Result<(), Stop> {
        loop {
            self.settle().await?;
            if let Some(pause) = self.pause.take() {
                // A stalled process: inputs wait in their channels.
                tokio::time::sleep(pause).await;
                continue;
            }
            let deadline = self.machine.poll_timeout();
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await?,
                    None => return Ok(()),
                },
                input = self.peers.recv() => match input {
                    Some(input) => self.peer(input),
                    None => return Ok(()),
                },
                durable = self.storage.durable() => {
                    self.machine.persisted(Instant::now(), durable?);
                }
                _ = sleep_until(deadline) => self.machine.handle_timeout(Instant::now()),
            }
            for _ in 0..BATCH {
                if let Ok(cmd) = self.commands.try_recv() {
                    self.command(cmd).await?;
                } else if let Ok(input) = self.peers.try_recv() {
                    self.peer(input);
                } else {
                    break;
                }
            }
        }
    }

    fn peer(&mut self, input: PeerInput) {
        let now = Instant::now();
        match input {
            PeerInput::Message { from, msg } => self.machine.handle_peer_message(now, from, msg),
            PeerInput::Reset { from } => self.machine.handle_peer_reset(now, from),
        }
    }

    async fn command(&mut self, cmd: Command) -> Result<(), Stop> {
        let now = Instant::now();
        match cmd {
            Command::Open { conn, peer, tx } => {
                self.senders.insert(conn, tx);
                self.machine.handle_client_open(conn, peer);
            }
            Command::X509Identity { conn, dn } => self.machine.handle_client_x509(conn, dn),
            Command::Frame { conn, frame } => self.machine.handle_client_frame(now, conn, frame),
            Command::Closed { conn } => {
                self.senders.remove(&conn);
                self.machine.handle_client_closed(conn);
            }
            Command::Stats(detail, reply) => {
                self.machine.apply_admin(&detail);
                let mut stats = self.machine.stats(now, detail);
                stats.storage = self.storage.usage();
                let _ = reply.send((stats, self.machine_time(now)));
            }
            Command::ExpireSession(id, reply) => {
                let done = self.machine.expire_session(now, id);
                self.settle().await?;
                let _ = reply.send(done);
            }
            Command::DropConnections(reply) => {
                self.machine.drop_client_connections();
                self.settle().await?;
                let _ = reply.send(());
            }
            Command::Failpoint(point, action, reply) => {
                match action {
                    Some(action) => self.machine.set_failpoint(point, action),
                    None => self.machine.clear_failpoint(point),
                }
                let _ = reply.send(());
            }
            Command::View(reply) => {
                let _ = reply.send(self.machine.view());
            }
            Command::Inspect(reply) => {
                let _ = reply.send(Inspection {
                    last_zxid: self.machine.last_zxid(),
                    digest: self.machine.digest(),
                    sessions: self.machine.sessions(),
                    status: self.machine.status(),
                    config: self.machine.server().ensemble_config_text(),
                });
            }
        }
        Ok(())
    }

    fn machine_time(&self, now: Instant) -> Time {
        self.machine.time(now)
    }

    /// Carries out every effect (all appends go to storage as one
    /// operation, after the storage operations before them), routes client
    /// frames and publishes the status. Stops early at a failpoint's pause
    /// (recorded in `self.pause`) or crash (an error).
    async fn settle(&mut self) -> Result<(), Stop> {
        let id = self.id();
        if self.pause.is_some() {
            return Ok(());
        }
        while let Some(effect) = self.machine.poll_effect() {
            match effect {
                Effect::Send { to, msg } => self.network.send(id, to, msg),
                Effect::Append(entries) => self.appends.extend(entries),
                Effect::Truncate(zxid) => {
                    self.hand_over_appends().await?;
                    self.storage.truncate_after(zxid).await?;
                }
                Effect::SaveEpochs(epochs) => {
                    self.hand_over_appends().await?;
                    self.storage.save_epochs(epochs).await?;
                }
                Effect::SaveSnapshot(s) => {
                    self.hand_over_appends().await?;
                    self.storage.save_snapshot(s).await?;
                }
                Effect::InstallSnapshot(s) => {
                    self.hand_over_appends().await?;
                    self.storage.install_snapshot(s).await?;
                }
                Effect::Halt(reason) => return Err(Stop::Halt(reason)),
                Effect::Crash(point) => {
                    // Peers see the reset at once, as after a kill.
                    self.network.detach(id);
                    return Err(Stop::Crash(point));
                }
                Effect::Pause {
                    failpoint,
                    duration,
                } => {
                    tracing::warn!(member = id, %failpoint, ?duration, "paused by a failpoint");
                    self.pause = Some(duration);
                    self.publish();
                    return Ok(());
                }
            }
        }
        self.hand_over_appends().await?;
        self.route();
        self.publish();
        Ok(())
    }

    /// Gives the appends collected so far to the storage thread.
    async fn hand_over_appends(&mut self) -> Result<(), Stop> {
        let entries = std::mem::take(&mut self.appends);
        self.storage.append(entries).await?;
        Ok(())
    }

    fn publish(&self) {
        self.publisher.publish(Some(Report {
            status: self.machine.status(),
            last_zxid: self.machine.last_zxid(),
            last_logged_zxid: self.machine.last_logged_zxid(),
            last_committed_zxid: self.machine.last_committed_zxid(),
            syncs: self.machine.sync_counts(),
            failpoint_hits: self.machine.failpoints().hits(),
            read_only: self.machine.is_read_only(),
        }));
        if let (Some(tx), Some(port)) = (&self.client_port, self.machine.client_port()) {
            tx.send_if_modified(|current| std::mem::replace(current, port) != port);
        }
    }

    fn route(&mut self) {
        while let Some((conn, out)) = self.machine.poll_client() {
            let close = out == ConnOutput::Close;
            if let Some(tx) = self.senders.get(&conn) {
                let _ = tx.unbounded_send(out);
            }
            if close {
                self.senders.remove(&conn);
                self.machine.handle_client_closed(conn);
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::MemberConfig;
    use crate::server::ServerConfig;
    use crate::storage::MemoryStorage;
    use futures::StreamExt as _;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;
    use zk_client::proto::{
        encode_record, encode_request, Acl, ConnectRequest, CreateRequest, PathWatchRequest,
        Request,
    };

    #[tokio::test]
    async fn pipelined_writes_share_one_flush() {
        let disk = MemoryStorage::new();
        let config = MemberConfig::standalone(ServerConfig::with_tick(100));
        let machine = MemberMachine::new(config, Default::default(), Instant::now(), 0).unwrap();
        let network = Network::new(&[1], 1);
        let peers = network.attach(1);
        let (commands, rx) = mpsc::unbounded_channel();
        let (reports, _) = watch::channel(vec![None]);
        let publisher = Publisher {
            tx: reports,
            index: 0,
        };
        let driver = Driver::new(
            machine,
            Box::new(disk.clone()),
            network,
            peers,
            rx,
            publisher,
        );
        // Everything is queued before the driver first runs.
        let (tx, mut out) = output_channel();
        let peer = "127.0.0.1:1".parse().unwrap();
        commands.send(Command::Open { conn: 1, peer, tx }).unwrap();
        let hs = encode_record(&ConnectRequest {
            timeout_ms: 1000,
            password: Bytes::from_static(&[0; 16]),
            ..Default::default()
        });
        commands
            .send(Command::Frame {
                conn: 1,
                frame: hs.slice(4..),
            })
            .unwrap();
        for xid in 1..=50 {
            let create = Request::Create(CreateRequest {
                path: format!("/n{xid}"),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            });
            let frame = encode_request(xid, &create).slice(4..);
            commands.send(Command::Frame { conn: 1, frame }).unwrap();
        }
        let task = tokio::spawn(driver.run());
        let mut frames = 0;
        while frames < 51 {
            match out.next().await {
                Some(ConnOutput::Frame(_)) => frames += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(disk.last_zxid(), 51, "session + 50 creates logged");
        assert!(
            disk.flush_count() <= 3,
            "{} flushes for 51 appends",
            disk.flush_count()
        );
        drop(commands);
        task.await.unwrap();
    }

    /// Storage whose flush, once `hold` is set, waits for the test to let it
    /// go: a disk whose fsync takes as long as the test wants.
    #[derive(Clone, Default)]
    struct HeldFlush {
        disk: MemoryStorage,
        gate: Arc<Gate>,
    }

    #[derive(Default)]
    struct Gate {
        state: Mutex<GateState>,
        changed: Condvar,
        /// Woken when a flush starts waiting.
        waiting: tokio::sync::Notify,
    }

    #[derive(Default)]
    struct GateState {
        hold: bool,
        /// A flush is waiting for the go-ahead.
        held: bool,
    }

    impl Gate {
        fn set_hold(&self, hold: bool) {
            self.state.lock().unwrap().hold = hold;
            self.changed.notify_all();
        }

        fn is_holding_a_flush(&self) -> bool {
            self.state.lock().unwrap().held
        }
    }

    impl Storage for HeldFlush {
        fn recover(&mut self) -> std::io::Result<crate::storage::Recovered> {
            self.disk.recover()
        }
        fn append(&mut self, entries: &[crate::storage::LogEntry]) -> std::io::Result<()> {
            self.disk.append(entries)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            let mut state = self.gate.state.lock().unwrap();
            if state.hold {
                state.held = true;
                self.gate.waiting.notify_one();
                // The bound only keeps a broken driver (one that flushes on
                // the runtime's thread) from hanging the test forever.
                let (mut state, _) = self
                    .gate
                    .changed
                    .wait_timeout_while(state, Duration::from_secs(5), |s| s.hold)
                    .unwrap();
                state.held = false;
            }
            self.disk.flush()
        }
        fn truncate_after(&mut self, zxid: i64) -> std::io::Result<()> {
            self.disk.truncate_after(zxid)
        }
        fn save_epochs(&mut self, epochs: crate::storage::Epochs) -> std::io::Result<()> {
            self.disk.save_epochs(epochs)
        }
        fn save_snapshot(&mut self, s: &crate::storage::Snapshot) -> std::io::Result<()> {
            self.disk.save_snapshot(s)
        }
        fn install_snapshot(&mut self, s: &crate::storage::Snapshot) -> std::io::Result<()> {
            self.disk.install_snapshot(s)
        }
    }

    /// Opens connection `conn` and sends its handshake.
    fn open(
        commands: &mpsc::UnboundedSender<Command>,
        conn: ConnId,
    ) -> OutputReceiver {
        let (tx, out) = output_channel();
        let peer = "127.0.0.1:1".parse().unwrap();
        commands.send(Command::Open { conn, peer, tx }).unwrap();
        let hs = encode_record(&ConnectRequest {
            timeout_ms: 1000,
            password: Bytes::from_static(&[0; 16]),
            ..Default::default()
        });
        commands
            .send(Command::Frame {
                conn,
                frame: hs.slice(4..),
            })
            .unwrap();
        out
    }

    async fn next_frame(out: &mut OutputReceiver) -> Bytes {
        match out.next().await {
            Some(ConnOutput::Frame(frame)) => frame,
            other => panic!("{other:?}"),
        }
    }

    /// On a current-thread runtime (`#[tokio::test]`), a flush that takes
    /// long stalls neither the runtime nor other clients: a read is answered
    /// while the fsync of a create is under way, and the create is answered
    /// only after that fsync completes.
    #[tokio::test]
    async fn a_slow_fsync_stalls_no_client() {
        let storage = HeldFlush::default();
        let gate = storage.gate.clone();
        let config = MemberConfig::standalone(ServerConfig::with_tick(100));
        let machine = MemberMachine::new(config, Default::default(), Instant::now(), 0).unwrap();
        let network = Network::new(&[1], 1);
        let peers = network.attach(1);
        let (commands, rx) = mpsc::unbounded_channel();
        let (reports, _) = watch::channel(vec![None]);
        let publisher = Publisher {
            tx: reports,
            index: 0,
        };
        let driver = Driver::new(
            machine,
            Box::new(storage.clone()),
            network,
            peers,
            rx,
            publisher,
        );
        let task = tokio::spawn(driver.run());
        let mut writer = open(&commands, 1);
        let mut reader = open(&commands, 2);
        next_frame(&mut writer).await;
        next_frame(&mut reader).await;

        gate.set_hold(true);
        let create = Request::Create(CreateRequest {
            path: "/slow".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        });
        let frame = encode_request(1, &create).slice(4..);
        commands.send(Command::Frame { conn: 1, frame }).unwrap();
        gate.waiting.notified().await;

        let read = Request::Exists(PathWatchRequest {
            path: "/".into(),
            watch: false,
        });
        let frame = encode_request(1, &read).slice(4..);
        commands.send(Command::Frame { conn: 2, frame }).unwrap();
        next_frame(&mut reader).await;
        assert!(
            gate.is_holding_a_flush(),
            "the read was answered only after the flush ended"
        );
        assert!(
            writer.try_recv().is_err(),
            "the create was answered before its fsync completed"
        );

        gate.set_hold(false);
        next_frame(&mut writer).await;
        assert_eq!(
            storage.disk.last_zxid(),
            3,
            "two sessions and the create logged"
        );
        drop(commands);
        task.await.unwrap();
    }
}
