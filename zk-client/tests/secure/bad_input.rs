//! What a misconfigured or hostile TLS peer gets: a typed error within the
//! connect timeout, never a hang or a panic.

use crate::common::{builder, error_chain, Identity, SecureTarget};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use zk_client::{Client, Error, ErrorKind, TlsConfig};
use zk_testserver::tls::TestPki;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects with `tls` (or plaintext) and returns the error, checking that
/// it came within the connect timeout (plus scheduling slack).
async fn connect_error(connect: &str, tls: Option<TlsConfig>) -> Error {
    let mut b = builder(connect).connect_timeout(CONNECT_TIMEOUT);
    if let Some(tls) = tls {
        b = b.tls(tls);
    }
    let started = Instant::now();
    let err = b.connect().await.expect_err("the connection must fail");
    let took = started.elapsed();
    assert!(
        took < CONNECT_TIMEOUT + Duration::from_millis(1500),
        "took {took:?}: {err}"
    );
    err
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let target = SecureTarget::get().await;
    let stranger = TestPki::named("some other CA");
    let tls = TlsConfig::builder()
        .ca_pem(stranger.ca_pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let err = connect_error(&target.tls, Some(tls)).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(error_chain(&err).contains("UnknownIssuer"), "{err:?}");
}

#[tokio::test]
async fn a_client_certificate_the_server_does_not_trust_is_refused() {
    let target = SecureTarget::get().await;
    let stranger = TestPki::named("some other CA").client_cert("intruder");
    let id = Identity {
        cert: stranger.cert_pem.into_bytes(),
        key: stranger.key_pem.into_bytes(),
    };
    let err = connect_error(&target.mtls, Some(target.tls_with(&id))).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused() {
    let target = SecureTarget::get().await;
    let err = connect_error(&target.mtls, Some(target.tls_with(&target.expired))).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn no_client_certificate_where_one_is_required_is_refused() {
    let target = SecureTarget::get().await;
    let err = connect_error(&target.mtls, Some(target.tls_config())).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn a_plaintext_client_on_the_tls_port_gets_a_tls_error() {
    let target = SecureTarget::get().await;
    let err = connect_error(&target.tls, None).await;
    // zk-testserver (rustls) answers with a TLS alert: a TLS error. Real
    // ZooKeeper (Netty) closes the connection without a byte, which could
    // have other causes: the I/O error of that close (or a timeout, if the
    // server said nothing at all), naming the likely cause.
    match err.kind() {
        ErrorKind::Tls => assert!(
            error_chain(&err).contains("expects a TLS client"),
            "{err:?}"
        ),
        ErrorKind::Io | ErrorKind::Timeout => {
            assert!(error_chain(&err).contains("TLS port"), "{err:?}")
        }
        other => panic!("{other:?}: {err}"),
    }
}

#[tokio::test]
async fn a_tls_client_on_the_plaintext_port_gets_a_tls_error() {
    let target = SecureTarget::get().await;
    let err = connect_error(&target.plain, Some(target.tls_config())).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

/// A server that reads the ClientHello, then either closes the connection
/// or goes silent with it open.
async fn cut_handshake(close: bool) -> Error {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            let mut hello = [0u8; 5];
            let _ = s.read_exact(&mut hello).await;
            assert_eq!(hello[0], 0x16, "a TLS handshake record");
            if !close {
                held.push(s);
            }
        }
    });
    let pki = TestPki::generate();
    let tls = TlsConfig::builder()
        .ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let err = connect_error(&addr.to_string(), Some(tls)).await;
    server.abort();
    err
}

#[tokio::test]
async fn a_handshake_cut_midway_is_a_tls_error() {
    let err = cut_handshake(true).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn a_handshake_that_stalls_ends_at_the_connect_timeout() {
    let err = cut_handshake(false).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let text = error_chain(&err);
    assert!(text.contains("TLS handshake"), "{text}");
    assert!(text.contains("timed out"), "{text}");
}

#[tokio::test]
async fn unusable_tls_settings_are_refused_up_front() {
    let e = TlsConfig::builder().build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = TlsConfig::builder().ca_pem(b"not pem").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let pki = TestPki::generate();
    let cert = pki.client_cert("x");
    let e = TlsConfig::builder()
        .client_identity_pem(
            cert.cert_pem.as_bytes(),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .and_then(|b| b.ca_pem(pki.ca_pem().as_bytes()))
        .and_then(|b| b.build());
    let e = e.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // The message never quotes key material.
    assert!(!e.to_string().contains("AAAA"), "{e}");
    let missing = Client::builder("127.0.0.1:1").tls(
        TlsConfig::builder()
            .ca_pem(pki.ca_pem().as_bytes())
            .unwrap()
            .build()
            .unwrap(),
    );
    drop(missing);
}
