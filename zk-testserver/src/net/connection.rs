//! One client connection: four-letter word detection, framing, and copying
//! outputs from the core back to the socket.

use super::core::Command;
use super::four_letter;
use crate::server::{ConnId, Output};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use zk_client::proto::FrameDecoder;

/// Static facts a connection needs for four-letter words.
#[derive(Debug, Clone, Copy)]
pub struct PortInfo {
    /// The client port.
    pub port: u16,
    /// Largest accepted frame (`jute.maxbuffer`).
    pub max_frame: usize,
    /// When the member started (for uptime).
    pub started: std::time::Instant,
}

/// Serves one accepted socket until either side closes it.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    core: mpsc::UnboundedSender<Command>,
    info: PortInfo,
) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 4];
    if stream.read_exact(&mut first).await.is_err() {
        return;
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
        let _ = stream.shutdown().await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    if core.send(Command::Open { conn, peer, tx }).is_err() {
        return;
    }
    let mut decoder = FrameDecoder::new(info.max_frame);
    decoder.extend(&first);
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = vec![0u8; 64 * 1024];
    'outer: loop {
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if core.send(Command::Frame { conn, frame }).is_err() {
                        break 'outer;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "closing connection: bad frame");
                    break 'outer;
                }
            }
        }
        tokio::select! {
            n = reader.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => decoder.extend(&buf[..n]),
            },
            out = rx.recv() => match out {
                Some(Output::Frame(f)) => {
                    if writer.write_all(&f).await.is_err() {
                        break;
                    }
                }
                Some(Output::Close) | None => {
                    // Flush whatever was queued before the close.
                    while let Ok(Output::Frame(f)) = rx.try_recv() {
                        let _ = writer.write_all(&f).await;
                    }
                    let _ = writer.shutdown().await;
                    let _ = core.send(Command::Closed { conn });
                    return;
                }
            },
        }
    }
    let _ = core.send(Command::Closed { conn });
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
