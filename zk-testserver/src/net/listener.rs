//! The client port: accepts connections and spawns a task for each.

use super::connection::PortInfo;
use super::core::Command;
use super::tls;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Accepts until the task is dropped or aborted; connection tasks end with it.
/// With an `acceptor`, every connection is a TLS one (a secure client port).
pub async fn accept_loop(
    listener: TcpListener,
    core: mpsc::UnboundedSender<Command>,
    info: PortInfo,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let next = Arc::new(AtomicU64::new(1));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, conn = id, "accepted");
                    conns.spawn(tls::accepted(stream, peer, id, core.clone(), info, acceptor.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}
