//! The TLS step of a secure client port: the handshake (bounded in time),
//! then the connection is served like a plain one, named by its client
//! certificate if it presented one.

use super::connection::{serve, PortInfo};
use super::core::Command;
use super::limits::OutboundBudget;
use crate::server::ConnId;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How long a client may take to complete the TLS handshake (Netty's
/// `SslHandler` default, which ZooKeeper's secure port keeps).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves an accepted socket: directly, or after a TLS handshake when the
/// port is a secure one. A failed or stalled handshake closes the socket.
pub async fn accepted(
    stream: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    core: mpsc::UnboundedSender<Command>,
    info: PortInfo,
    tls: Option<tokio_rustls::TlsAcceptor>,
    budget: &OutboundBudget,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        serve(stream, peer, conn, core, info, None, budget).await;
        return;
    };
    // The handshake and the TLS connection are boxed: their futures hold a
    // TLS session, and unboxed they would make every connection's task,
    // plain ones included, as large as a TLS one's.
    let handshake = Box::pin(acceptor.accept(stream));
    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            // rustls names the failure (bad certificate, not TLS, ...);
            // nothing secret is in it.
            tracing::info!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let x509 = crate::tls::client_identity(stream.get_ref().1);
    tracing::debug!(%peer, conn, x509 = ?x509, "TLS connection");
    Box::pin(serve(stream, peer, conn, core, info, x509, budget)).await;
}
