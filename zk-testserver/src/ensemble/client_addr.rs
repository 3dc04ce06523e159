//! A member's client address, which a reconfig may move: ZooKeeper's
//! server rebinds its client port when a reconfig gives it a new one,
//! keeping the connections it has.

use crate::zab::MemberId;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// Where a member's client port listens: the IP is the ensemble's bind
/// address, the port may move. Clones share the port, so the ensemble's
/// address list follows a move.
#[derive(Debug, Clone)]
pub(super) struct ClientAddr {
    ip: IpAddr,
    port: Arc<AtomicU16>,
}

impl ClientAddr {
    pub(super) fn new(addr: SocketAddr) -> ClientAddr {
        ClientAddr {
            ip: addr.ip(),
            port: Arc::new(AtomicU16::new(addr.port())),
        }
    }

    /// The address now.
    pub(super) fn get(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port.load(Ordering::Acquire))
    }

    /// Records that the member listens on `port` from now on.
    pub(super) fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::Release);
    }
}

/// Moves `member`'s client listener to every port its configuration gives
/// it (announced on `ports` by the member's driver): binds the new port,
/// records it in `addr` and hands the listener to the accept loop through
/// `moves`. A port that cannot be bound is logged and the member stays
/// where it is. Ends when the driver or the accept loop is gone.
pub(super) async fn follow_port(
    member: MemberId,
    addr: ClientAddr,
    mut ports: watch::Receiver<u16>,
    moves: mpsc::Sender<TcpListener>,
) {
    while ports.changed().await.is_ok() {
        let port = *ports.borrow_and_update();
        if port == addr.get().port() {
            continue;
        }
        let to = SocketAddr::new(addr.ip, port);
        match TcpListener::bind(to).await {
            Ok(listener) => {
                addr.set_port(port);
                tracing::info!(member, %to, "client port moved by a reconfig");
                if moves.send(listener).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(
                member,
                %to,
                error = %e,
                "cannot listen on the client port a reconfig gave; staying"
            ),
        }
    }
}
