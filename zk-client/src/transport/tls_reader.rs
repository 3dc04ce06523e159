//! The reading side of a TLS connection, shaped for the connection task.
//!
//! Two costs of reading through rustls are avoidable:
//! - rustls asks its transport for at most 4 KiB at a time, one `recv` per
//!   4 KiB of a batch of replies (or of a large reply). The TCP stream under
//!   it is read through a buffer of one maximal TLS record
//!   ([`buffered_tcp`]), so a burst costs one system call per 16 KiB.
//! - a TLS read hands back the plaintext of one record. ZooKeeper servers
//!   send each reply in its own record, so a batch of pipelined replies
//!   would cost the connection task one turn per reply. [`DrainingReader`]
//!   keeps reading what is already decrypted or readable without waiting,
//!   so one turn takes the whole batch.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, BufReader, ReadBuf};
use tokio::net::TcpStream;

/// The largest TLS record on the wire: 16 KiB of plaintext plus header,
/// padding and authentication tag (TLS 1.2 and 1.3 allow 2 KiB of expansion).
const MAX_RECORD: usize = 16 * 1024 + 2048 + 5;

/// A TCP stream whose reads go through a buffer of one maximal TLS record.
/// Writes pass straight through (vectored, as rustls issues them).
pub(crate) fn buffered_tcp(stream: TcpStream) -> BufReader<TcpStream> {
    BufReader::with_capacity(MAX_RECORD, stream)
}

/// Reads as much as is available without waiting: after the first read
/// that returns data, it goes on until the next read would wait, the
/// caller's buffer is full, or the stream ends (reported by the next call).
pub(crate) struct DrainingReader<R> {
    inner: R,
}

impl<R> DrainingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        DrainingReader { inner }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for DrainingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let start = buf.filled().len();
        while buf.remaining() > 0 {
            let before = buf.filled().len();
            match Pin::new(&mut self.inner).poll_read(cx, buf) {
                // An error ends the connection; what this call read of it
                // is dropped with it (the requests fail with the error).
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if buf.filled().len() == before => break,
                Poll::Ready(Ok(())) => {}
                // The waker is registered: if something was read, the
                // caller gets it now and may be woken once more for nothing.
                Poll::Pending if buf.filled().len() == start => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Hands out one chunk per read, like a TLS stream with several records
    /// decrypted; a chunk marked `true` is preceded by a read that waits.
    struct Chunks {
        chunks: Vec<(&'static [u8], bool)>,
    }

    fn chunks(list: &[(&'static str, bool)]) -> Chunks {
        Chunks {
            chunks: list.iter().map(|&(c, w)| (c.as_bytes(), w)).collect(),
        }
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let Some((chunk, wait_first)) = self.chunks.first_mut() else {
                return Poll::Ready(Ok(()));
            };
            if *wait_first {
                *wait_first = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            buf.put_slice(chunk);
            self.chunks.remove(0);
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn one_read_takes_every_chunk_available_without_waiting() {
        let mut reader = DrainingReader::new(chunks(&[
            ("ab", false),
            ("cd", false),
            ("ef", true),
            ("gh", false),
        ]));
        let mut buf = Vec::with_capacity(64);
        assert_eq!(reader.read_buf(&mut buf).await.unwrap(), 4, "ab and cd");
        assert_eq!(reader.read_buf(&mut buf).await.unwrap(), 4, "ef and gh");
        assert_eq!(reader.read_buf(&mut buf).await.unwrap(), 0, "the end");
        assert_eq!(buf, b"abcdefgh");
    }

    #[tokio::test]
    async fn a_full_buffer_stops_the_read() {
        let mut reader = DrainingReader::new(chunks(&[("ab", false), ("cd", false)]));
        let mut buf = [0u8; 2];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 2);
        assert_eq!(&buf, b"ab");
        assert_eq!(reader.read(&mut buf).await.unwrap(), 2);
        assert_eq!(&buf, b"cd");
    }
}
