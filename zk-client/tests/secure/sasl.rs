//! SASL DIGEST-MD5: authentication, `sasl:` ACLs, re-authentication after
//! reconnects, rejected credentials, and secrets kept out of the logs.

use crate::common::{builder, cut_and_await_reconnect, Relay, SecureTarget};
use std::time::Duration;
use zk_client::{Acl, CreateMode, CreateOptions, ErrorKind, Id, Perms, SaslConfig};

#[tokio::test]
async fn digest_md5_names_the_session_and_guards_sasl_acls() {
    let target = SecureTarget::get().await;
    let root = target.namespace().await;
    let client = builder(&format!("{}{root}", target.plain))
        .sasl(SaslConfig::digest_md5(
            &target.sasl_user,
            &target.sasl_password,
        ))
        .connect()
        .await
        .expect("SASL connect");
    let who = client.who_am_i().await.unwrap();
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "sasl" && c.user == target.sasl_user),
        "{who:?}"
    );
    let acl = vec![Acl::new(Perms::ALL, Id::new("sasl", &target.sasl_user))];
    client
        .create(
            "/s",
            "only bob",
            CreateOptions::new(CreateMode::Persistent).acl(acl),
        )
        .await
        .unwrap();
    assert_eq!(&client.get_data("/s").await.unwrap().0[..], b"only bob");
    let anon = builder(&format!("{}{root}", target.plain))
        .connect()
        .await
        .unwrap();
    let err = anon.get_data("/s").await.unwrap_err();
    assert!(err.is(zk_client::ErrorCode::NoAuth), "{err}");
    anon.close().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn sasl_and_x509_together_over_mutual_tls() {
    let target = SecureTarget::get().await;
    let client = builder(&target.mtls)
        .tls(target.mtls_config())
        .sasl(SaslConfig::digest_md5(
            &target.sasl_user,
            &target.sasl_password,
        ))
        .connect()
        .await
        .unwrap();
    let who = client.who_am_i().await.unwrap();
    let schemes: Vec<&str> = who.iter().map(|c| c.auth_scheme.as_str()).collect();
    assert!(
        schemes.contains(&"x509") && schemes.contains(&"sasl"),
        "{who:?}"
    );
    client.close().await.unwrap();
}

#[tokio::test]
async fn every_reconnect_authenticates_again() {
    let target = SecureTarget::get().await;
    let root = target.namespace().await;
    let relay = Relay::start(&target.tls).await;
    let client = builder(&format!("{}{root}", relay.connect_string()))
        .tls(target.tls_config())
        .sasl(SaslConfig::digest_md5(
            &target.sasl_user,
            &target.sasl_password,
        ))
        .connect()
        .await
        .unwrap();
    let acl = vec![Acl::new(Perms::ALL, Id::new("sasl", &target.sasl_user))];
    client
        .create(
            "/r",
            "x",
            CreateOptions::new(CreateMode::Persistent).acl(acl),
        )
        .await
        .unwrap();
    let mut states = client.state_stream();
    for _ in 0..3 {
        cut_and_await_reconnect(&[&relay], &mut states).await;
        // The new connection is `sasl:<user>` again: the guarded node reads.
        assert_eq!(&client.get_data("/r").await.unwrap().0[..], b"x");
        let who = client.who_am_i().await.unwrap();
        assert!(who.iter().any(|c| c.auth_scheme == "sasl"), "{who:?}");
    }
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_is_a_terminal_auth_failure() {
    let target = SecureTarget::get().await;
    for (user, password) in [
        (target.sasl_user.as_str(), "not the password"),
        ("nobody", "whatever"),
    ] {
        let started = std::time::Instant::now();
        let err = builder(&target.plain)
            .connect_timeout(Duration::from_secs(3))
            .sasl(SaslConfig::digest_md5(user, password))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AuthFailed, "{err}");
        assert!(err.to_string().contains("SASL"), "{err}");
        assert!(!err.to_string().contains(password), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

/// Everything the client logs at TRACE while authenticating (SASL and
/// mutual TLS) and working must not contain the password or the key.
#[test]
fn secrets_never_reach_the_logs() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (password, key) = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let target = SecureTarget::get().await;
            let client = builder(&target.mtls)
                .tls(target.mtls_config())
                .sasl(SaslConfig::digest_md5(
                    &target.sasl_user,
                    &target.sasl_password,
                ))
                .connect()
                .await
                .unwrap();
            tracing::debug!(builder = ?builder(&target.mtls)
                .tls(target.mtls_config())
                .sasl(SaslConfig::digest_md5(&target.sasl_user, &target.sasl_password)),
                "the builder, as a user might log it");
            client.exists("/").await.unwrap();
            client.close().await.unwrap();
            // A failing login logs its failure.
            let _ = builder(&target.plain)
                .sasl(SaslConfig::digest_md5(
                    &target.sasl_user,
                    "wrong-password-123",
                ))
                .connect()
                .await;
            let key = String::from_utf8(target.client.key.clone()).unwrap();
            (target.sasl_password.clone(), key)
        })
    });
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).to_string();
    assert!(logs.contains("SASL"), "nothing logged about SASL:\n{logs}");
    for secret in [password.as_str(), "wrong-password-123"] {
        assert!(!logs.contains(secret), "a password reached the logs");
    }
    // The key's base64 body, line by line.
    for line in key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
    {
        assert!(!logs.contains(line), "key material reached the logs");
    }
}
