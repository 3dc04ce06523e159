//! One client connection: four-letter word detection, framing, and copying
//! outputs from the core back to the socket, with the bounds of
//! [`super::limits`]: the first frame must arrive within the handshake
//! timeout, and requests stay in the socket while too many replies wait to be
//! written.
//!
//! The connection works over any byte stream (plain TCP, or TLS around it).

use super::core::{output_channel, Command, OutputReceiver};
use super::four_letter::{self, FourLetterWords};
use super::limits::{ConnectionLimits, Flow, OutboundBudget};
use crate::server::{ConnId, ConnOutput};
use bytes::{Buf, Bytes};
use futures::StreamExt as _;
use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use zk_client::proto::FrameDecoder;

/// Bytes asked of the socket per read while no frame says how long it is.
/// Small, so that an idle connection holds little: the buffer is released
/// whenever everything read has been handed on.
const READ_CHUNK: usize = 2048;

/// Bytes asked of the socket by a quiet connection (its last read was
/// smaller than this) that has nothing buffered: enough for a ping or a
/// short request, so that the thousands of idle sessions a server holds
/// do not each keep a [`READ_CHUNK`] buffer while they wait. A read that
/// fills it makes the connection busy again (one more read call when a
/// quiet connection starts streaming).
const QUIET_READ: usize = 64;

/// Frames written with one vectored write, at most.
const WRITE_BATCH: usize = 32;

/// Static facts a connection needs.
#[derive(Debug, Clone, Copy)]
pub struct PortInfo {
    /// The client port.
    pub port: u16,
    /// Largest accepted frame (`jute.maxbuffer`).
    pub max_frame: usize,
    /// When the member started (for uptime).
    pub started: std::time::Instant,
    /// Bounds on each connection.
    pub limits: ConnectionLimits,
    /// The four-letter words answered.
    pub four_letter_words: FourLetterWords,
}

/// Serves one accepted stream (plain TCP, or TLS after its handshake,
/// `x509` naming the client's certificate) until either side closes it,
/// drawing on the port's `budget` for the replies it holds.
///
/// # Cancel safety
///
/// Dropping the future closes the connection: replies not yet written are
/// lost (the client sees the connection drop, as when a server dies), and
/// the member is not told (its connection state stays until the session
/// expires or the member stops); the bytes it held are returned to `budget`.
/// The ensemble only drops it when the member stops.
pub async fn serve<S>(
    mut stream: S,
    peer: SocketAddr,
    conn: ConnId,
    core: mpsc::UnboundedSender<Command>,
    info: PortInfo,
    x509: Option<String>,
    budget: &OutboundBudget,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let deadline = Instant::now() + info.limits.handshake_timeout;
    let mut first = [0u8; 4];
    match tokio::time::timeout_at(deadline, stream.read_exact(&mut first)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return,
        Err(_) => {
            tracing::debug!(%peer, "closing connection: nothing sent within the handshake timeout");
            return;
        }
    }
    if let Some(word) = four_letter::recognise(first) {
        tracing::debug!(%peer, word, "four-letter word");
        let mut detail = four_letter::detail(word);
        if word == "stmk" {
            // The new mask follows as a big-endian long.
            let mut mask = [0u8; 8];
            let read = tokio::time::timeout(STMK_READ, stream.read_exact(&mut mask)).await;
            if !matches!(read, Ok(Ok(_))) {
                let _ = stream.shutdown().await;
                return;
            }
            detail.set_trace_mask = Some(i64::from_be_bytes(mask));
        }
        let text = four_letter_text(word, detail, peer, &core, info).await;
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.flush().await;
        let _ = stream.shutdown().await;
        return;
    }
    let (tx, rx) = output_channel();
    if core.send(Command::Open { conn, peer, tx }).is_err() {
        return;
    }
    if let Some(dn) = x509 {
        let _ = core.send(Command::X509Identity { conn, dn });
    }
    let mut decoder = FrameDecoder::new(info.max_frame);
    decoder.extend(&first);
    let (reader, writer) = tokio::io::split(stream);
    let pump = Pump {
        conn,
        peer,
        core: &core,
        reader,
        writer,
        rx,
        decoder,
        flow: Flow::new(budget, info.limits),
        outbox: VecDeque::new(),
        handshake_deadline: Some(deadline),
        quiet: true,
    };
    pump.run().await;
    let _ = core.send(Command::Closed { conn });
}

/// Why a connection's pump stopped.
enum End {
    /// The member closed it: write what is queued, then shut down.
    Close,
    /// The peer went away, or a write failed: nothing more to do.
    Gone,
}

/// Moves frames between one socket and the member, under the bounds.
struct Pump<'a, S> {
    conn: ConnId,
    peer: SocketAddr,
    core: &'a mpsc::UnboundedSender<Command>,
    reader: ReadHalf<S>,
    writer: WriteHalf<S>,
    rx: OutputReceiver,
    decoder: FrameDecoder,
    flow: Flow<'a>,
    /// Frames from the member not yet written (the front may be partly
    /// written).
    outbox: VecDeque<Bytes>,
    /// Until the first frame is complete: when the connection is closed.
    handshake_deadline: Option<Instant>,
    /// The last read was shorter than [`QUIET_READ`].
    quiet: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Pump<'_, S> {
    async fn run(mut self) {
        let end = loop {
            if let Err(end) = self.forward_frames() {
                break end;
            }
            if let Err(end) = self.step().await {
                break end;
            }
        };
        if let End::Close = end {
            // Whatever the member queued before the close goes out first.
            while let Ok(ConnOutput::Frame(f)) = self.rx.try_recv() {
                self.flow.produced(f.len(), is_reply(&f));
                self.outbox.push_back(f);
            }
            while !self.outbox.is_empty() {
                if self.write().await.is_err() {
                    return;
                }
            }
            let _ = self.writer.shutdown().await;
        }
    }

    /// Hands complete frames to the member while the bounds allow.
    fn forward_frames(&mut self) -> Result<(), End> {
        while self.flow.may_forward() {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    self.handshake_deadline = None;
                    self.flow.forwarded();
                    let conn = self.conn;
                    if self.core.send(Command::Frame { conn, frame }).is_err() {
                        return Err(End::Gone);
                    }
                }
                Ok(None) => {
                    if self.decoder.buffered() == 0 {
                        // Release the read buffer while idle.
                        *self.decoder.buffer_mut() = Default::default();
                    }
                    break;
                }
                Err(e) => {
                    tracing::info!(peer = %self.peer, error = %e, "closing connection: bad frame");
                    return Err(End::Gone);
                }
            }
        }
        Ok(())
    }

    /// Waits for one thing to do: bytes to read (if the bounds allow), a
    /// frame from the member, room to write, the port's budget to drain, or
    /// the handshake timeout.
    async fn step(&mut self) -> Result<(), End> {
        let budget_drained = self.flow.budget().drained();
        let reading = self.flow.may_forward();
        let waiting_for_budget = self.flow.waits_for_budget();
        if reading {
            let chunk = if self.quiet && self.decoder.buffered() == 0 {
                QUIET_READ
            } else {
                READ_CHUNK
            };
            self.decoder.buffer_mut().reserve(chunk);
        }
        let deadline = self.handshake_deadline;
        let writing = !self.outbox.is_empty();
        tokio::select! {
            n = self.reader.read_buf(self.decoder.buffer_mut()), if reading => match n {
                Ok(0) | Err(_) => Err(End::Gone),
                Ok(n) => {
                    self.quiet = n < QUIET_READ;
                    Ok(())
                }
            },
            out = self.rx.next() => match out {
                Some(ConnOutput::Frame(f)) => {
                    self.flow.produced(f.len(), is_reply(&f));
                    self.outbox.push_back(f);
                    Ok(())
                }
                Some(ConnOutput::Close) | None => Err(End::Close),
            },
            w = write_some(&mut self.writer, &self.outbox), if writing => match w {
                Ok(n) => {
                    self.advance(n);
                    self.flush_if_idle().await
                }
                Err(_) => Err(End::Gone),
            },
            _ = budget_drained, if waiting_for_budget => Ok(()),
            _ = sleep_until(deadline), if deadline.is_some() => {
                tracing::debug!(peer = %self.peer, "closing connection: no handshake within the timeout");
                Err(End::Gone)
            }
        }
    }

    async fn write(&mut self) -> Result<(), End> {
        match write_some(&mut self.writer, &self.outbox).await {
            Ok(n) => {
                self.advance(n);
                self.flush_if_idle().await
            }
            Err(_) => Err(End::Gone),
        }
    }

    async fn flush_if_idle(&mut self) -> Result<(), End> {
        if self.outbox.is_empty() && self.writer.flush().await.is_err() {
            return Err(End::Gone);
        }
        Ok(())
    }

    /// Drops `n` written bytes from the front of the outbox.
    fn advance(&mut self, mut n: usize) {
        self.flow.written(n);
        while n > 0 {
            let Some(front) = self.outbox.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.outbox.pop_front();
        }
    }
}

/// Writes from the front of `outbox` (several frames at once where the
/// stream supports it); fails on a closed stream.
async fn write_some<W: AsyncWrite + Unpin>(
    writer: &mut W,
    outbox: &VecDeque<Bytes>,
) -> std::io::Result<usize> {
    let slices: Vec<IoSlice<'_>> = outbox
        .iter()
        .take(WRITE_BATCH)
        .map(|b| IoSlice::new(b))
        .collect();
    let n = writer.write_vectored(&slices).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::WriteZero.into());
    }
    Ok(n)
}

/// Whether a frame from the member answers a request (anything but a watch
/// notification, whose xid is -1). The handshake reply starts with the
/// protocol version, 0.
fn is_reply(frame: &Bytes) -> bool {
    frame.get(4..8) != Some(&(-1i32).to_be_bytes()[..])
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How long `stmk` may take to send its mask.
const STMK_READ: std::time::Duration = std::time::Duration::from_secs(2);

async fn four_letter_text(
    word: &'static str,
    detail: crate::server::stats::StatsDetail,
    peer: SocketAddr,
    core: &mpsc::UnboundedSender<Command>,
    info: PortInfo,
) -> String {
    if !info.four_letter_words.allows(word) {
        return four_letter::not_allowed(word);
    }
    let (tx, rx) = oneshot::channel();
    if core.send(Command::Stats(detail, tx)).is_err() {
        return String::new();
    }
    let Ok((stats, now)) = rx.await else {
        return String::new();
    };
    let ctx = four_letter::Context {
        peer: peer.to_string(),
        port: info.port,
        now_wall_ms: now.wall_ms,
        now_mono_ms: now.mono_ms,
        uptime_ms: u64::try_from(info.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    four_letter::answer(word, &stats, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_not_replies() {
        let notification = Bytes::from_static(&[0, 0, 0, 20, 0xff, 0xff, 0xff, 0xff, 0]);
        let reply = Bytes::from_static(&[0, 0, 0, 16, 0, 0, 0, 7, 0]);
        let handshake = Bytes::from_static(&[0, 0, 0, 36, 0, 0, 0, 0]);
        assert!(!is_reply(&notification));
        assert!(is_reply(&reply) && is_reply(&handshake));
        assert!(
            is_reply(&Bytes::from_static(&[0, 0])),
            "no panic on a short frame"
        );
    }
}
