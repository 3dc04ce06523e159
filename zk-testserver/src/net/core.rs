//! The task that owns one server machine: it receives frames and control
//! commands, ticks the clock, and routes outputs to connection tasks.

use crate::server::stats::ServerStats;
use crate::server::{ConnId, Output, Server, Time};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// A message to the core task.
#[derive(Debug)]
pub enum Command {
    /// A connection was accepted; its outputs go to `tx`.
    Open {
        /// Connection id.
        conn: ConnId,
        /// Peer address.
        peer: SocketAddr,
        /// Where to send its outputs.
        tx: mpsc::UnboundedSender<Output>,
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
    /// Stats for a four-letter word.
    Stats(oneshot::Sender<(ServerStats, Time)>),
    /// Expire a session now.
    ExpireSession(i64, oneshot::Sender<()>),
    /// Close every client connection.
    DropConnections(oneshot::Sender<()>),
    /// Read-only facts about the server.
    Inspect(oneshot::Sender<Inspection>),
}

/// Facts the `Ensemble` reports.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Last applied zxid.
    pub last_zxid: i64,
    /// Tree digest.
    pub digest: u64,
    /// Sessions and their timeouts (ms).
    pub sessions: Vec<(i64, i32)>,
}

/// The clock shared by the tasks of one member (monotonic base fixed at creation).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock whose monotonic zero is now.
    pub fn new() -> Clock {
        Clock {
            base: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Time {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        // Start at 1 s so bucket arithmetic never needs negative times.
        let mono_ms = 1_000 + u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        Time { wall_ms, mono_ms }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Runs the core loop until the command channel closes.
pub async fn run(mut server: Server, mut rx: mpsc::UnboundedReceiver<Command>, clock: Clock) {
    let tick = Duration::from_millis((server.config().tick_ms / 2).max(1));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut senders: HashMap<ConnId, mpsc::UnboundedSender<Output>> = HashMap::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                let now = clock.now();
                match cmd {
                    Command::Open { conn, peer, tx } => {
                        senders.insert(conn, tx);
                        server.open_connection(conn, peer);
                    }
                    Command::Frame { conn, frame } => server.handle_frame(conn, frame, now),
                    Command::Closed { conn } => {
                        senders.remove(&conn);
                        server.connection_closed(conn);
                    }
                    Command::Stats(reply) => {
                        let _ = reply.send((server.stats(), now));
                    }
                    Command::ExpireSession(id, reply) => {
                        server.expire_session(id, now);
                        route(&mut server, &mut senders);
                        let _ = reply.send(());
                    }
                    Command::DropConnections(reply) => {
                        server.drop_connections();
                        route(&mut server, &mut senders);
                        let _ = reply.send(());
                    }
                    Command::Inspect(reply) => {
                        let _ = reply.send(Inspection {
                            last_zxid: server.last_zxid(),
                            digest: server.digest(),
                            sessions: server.sessions(),
                        });
                    }
                }
            }
            _ = ticker.tick() => server.handle_tick(clock.now()),
        }
        route(&mut server, &mut senders);
    }
}

fn route(server: &mut Server, senders: &mut HashMap<ConnId, mpsc::UnboundedSender<Output>>) {
    while let Some((conn, out)) = server.poll_output() {
        let close = out == Output::Close;
        if let Some(tx) = senders.get(&conn) {
            let _ = tx.send(out);
        }
        if close {
            senders.remove(&conn);
            server.connection_closed(conn);
        }
    }
}
