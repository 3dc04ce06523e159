//! Byte streams to a server: plain TCP or TLS over TCP.
//!
//! The connection task only sees a [`Transport`], a reader and a writer over
//! any `AsyncRead + AsyncWrite` stream; this module opens one to a host
//! (every address it resolves to, each within the connect timeout, TLS
//! handshake included) and says clearly when the two ends disagree about TLS.

pub(crate) mod tls;
mod tls_reader;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use tls::{TlsConfig, TlsConfigBuilder};

/// The reading half of a connection.
pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a connection. Writers may buffer (TLS records): flush
/// once the bytes at hand are written.
pub(crate) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// An open connection to one server.
pub(crate) struct Transport {
    pub(crate) reader: Reader,
    pub(crate) writer: Writer,
    pub(crate) addr: SocketAddr,
}

/// Opens transports: plain TCP, or TLS when configured.
#[derive(Clone, Default)]
pub(crate) struct Connector {
    tls: Option<TlsConfig>,
}

impl Connector {
    pub(crate) fn new(tls: Option<TlsConfig>) -> Connector {
        Connector { tls }
    }

    /// A connection the server closed before the session handshake
    /// completed (`what` says how), with [`Connector::plaintext_hint`].
    pub(crate) fn handshake_failure(&self, what: &str) -> io::Error {
        let hint = self.plaintext_hint();
        io::Error::new(io::ErrorKind::UnexpectedEof, format!("{what}{hint}"))
    }

    /// A ZooKeeper TLS port closes a plaintext client's connection without a
    /// byte (or lets its handshake time out), so a plaintext connector adds
    /// this hint to handshake failures; a TLS connector adds nothing.
    pub(crate) fn plaintext_hint(&self) -> &'static str {
        if self.tls.is_some() {
            ""
        } else {
            " (if it is a TLS port, configure ClientBuilder::tls)"
        }
    }

    /// Resolves `host` afresh and tries each of its addresses in turn, each
    /// attempt (TCP connect and TLS handshake) bounded by `timeout`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> io::Result<Transport> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        let mut last_err = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
        for addr in addrs {
            match tokio::time::timeout(timeout, self.connect_addr(host, addr)).await {
                Ok(Ok(transport)) => return Ok(transport),
                Ok(Err(e)) => last_err = e,
                Err(_) => {
                    last_err = match &self.tls {
                        // A stalled handshake is a TLS failure worth naming.
                        Some(_) => TlsFailure::io(
                            io::ErrorKind::TimedOut,
                            format!("TCP connect or TLS handshake with {addr} timed out"),
                        ),
                        None => io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
                    }
                }
            }
        }
        Err(last_err)
    }

    async fn connect_addr(&self, host: &str, addr: SocketAddr) -> io::Result<Transport> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let Some(tls) = &self.tls else {
            let (reader, writer) = stream.into_split();
            return Ok(Transport {
                reader: Box::new(PlainReader {
                    inner: reader,
                    first: true,
                }),
                writer: Box::new(writer),
                addr,
            });
        };
        let name = tls.server_name_for(host)?;
        let stream = tls
            .connector()
            .connect(name, tls_reader::buffered_tcp(stream))
            .await
            .map_err(|e| handshake_failure(addr, e))?;
        let (reader, writer) = tokio::io::split(stream);
        Ok(Transport {
            reader: Box::new(tls_reader::DrainingReader::new(reader)),
            writer: Box::new(writer),
            addr,
        })
    }
}

/// A failure of the TLS layer (handshake, certificate, or a peer that does
/// not speak the same protocol), carried inside an [`io::Error`] so the
/// connection task can report it as [`crate::ErrorKind::Tls`].
#[derive(Debug)]
pub(crate) struct TlsFailure(String);

impl TlsFailure {
    pub(crate) fn io(kind: io::ErrorKind, message: String) -> io::Error {
        io::Error::new(kind, TlsFailure(message))
    }

    /// Whether `e` was raised by the TLS layer: while connecting, or later
    /// by rustls on an established connection (an alert from the server,
    /// e.g. rejecting the client certificate after a TLS 1.3 handshake).
    pub(crate) fn is_tls(e: &io::Error) -> bool {
        e.get_ref()
            .is_some_and(|inner| inner.is::<TlsFailure>() || inner.is::<rustls::Error>())
    }
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFailure {}

fn handshake_failure(addr: SocketAddr, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
            " (the server closed the connection: is this a plaintext port?)"
        }
        _ => "",
    };
    // rustls errors name the problem (unknown issuer, expired, bad name,
    // alert received); they never include key material.
    TlsFailure::io(
        e.kind(),
        format!("TLS handshake with {addr} failed: {e}{hint}"),
    )
}

/// Whether the first bytes a server sent are a TLS record (handshake or
/// alert, TLS 1.0-1.3) rather than a ZooKeeper frame. A ZooKeeper frame
/// starting with these bytes would claim to be over 300 MB long.
pub(crate) fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, minor, ..] if *minor <= 0x04)
}

/// A plain TCP reader that checks the server's first bytes: a TLS server
/// answers a plaintext handshake with a TLS record, which is reported as
/// a TLS failure instead of an absurd frame length.
struct PlainReader<R> {
    inner: R,
    first: bool,
}

impl<R: AsyncRead + Unpin> AsyncRead for PlainReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if this.first && !read.is_empty() {
            this.first = false;
            if looks_like_tls(read) {
                return Poll::Ready(Err(TlsFailure::io(
                    io::ErrorKind::InvalidData,
                    "the server answered with TLS: it expects a TLS client \
                     (configure ClientBuilder::tls)"
                        .into(),
                )));
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_recognised() {
        // An alert and a ServerHello record header.
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x50]));
        // A ConnectResponse: length 36.
        assert!(!looks_like_tls(&[0x00, 0x00, 0x00, 0x24]));
        assert!(!looks_like_tls(&[0x16]));
        assert!(!looks_like_tls(&[0x16, 0x03, 0x09]));
    }

    #[tokio::test]
    async fn a_tls_answer_on_a_plain_connection_is_a_tls_failure() {
        use tokio::io::AsyncReadExt;
        let alert: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
        let mut reader = PlainReader {
            inner: alert,
            first: true,
        };
        let mut buf = Vec::new();
        let err = reader.read_buf(&mut buf).await.unwrap_err();
        assert!(TlsFailure::is_tls(&err), "{err}");
        assert!(err.to_string().contains("expects a TLS client"), "{err}");
        // A ZooKeeper reply passes through untouched.
        let reply: &[u8] = &[0, 0, 0, 4, 1, 2, 3, 4];
        let mut reader = PlainReader {
            inner: reply,
            first: true,
        };
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, reply);
    }
}
