//! Client TLS: server authentication, mutual TLS and x509 identities,
//! reconnects, pings and watches over TLS.

use crate::common::{builder, cut_and_await_reconnect, error_chain, Relay, SecureTarget};
use futures::StreamExt;
use std::time::Duration;
use zk_client::{Acl, ConnectionState, CreateMode, CreateOptions, Id, Perms, WatchEvent};

#[tokio::test]
async fn every_operation_watch_and_ping_over_tls() {
    let target = SecureTarget::get().await;
    let root = target.namespace().await;
    let client = builder(&format!("{}{root}", target.tls))
        .tls(target.tls_config())
        .session_timeout(Duration::from_millis(1200))
        .connect()
        .await
        .expect("connect over TLS");
    client
        .create("/n", "v1", CreateMode::Persistent)
        .await
        .unwrap();
    let (data, stat, watch) = client.get_data_watch("/n").await.unwrap();
    assert_eq!(&data[..], b"v1");
    client
        .set_data("/n", "v2", Some(stat.version))
        .await
        .unwrap();
    match watch.await {
        WatchEvent::Node(e) => assert_eq!(e.path, "/n"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client.get_children("/").await.unwrap(),
        vec!["n".to_string()]
    );
    // Idle for more than two session timeouts: only pings keep it alive.
    let mut states = client.state_stream();
    assert_eq!(states.next().await, Some(ConnectionState::Connected));
    let idle = tokio::time::timeout(Duration::from_millis(3000), states.next()).await;
    assert!(idle.is_err(), "state changed while idle: {idle:?}");
    assert_eq!(client.state(), ConnectionState::Connected);
    client.delete("/n", None).await.unwrap();
    // whoAmI over server-auth TLS: no x509 identity.
    let who = client.who_am_i().await.unwrap();
    assert!(who.iter().all(|c| c.auth_scheme != "x509"), "{who:?}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn reconnects_over_tls_keep_the_session_and_its_watches() {
    let target = SecureTarget::get().await;
    let root = target.namespace().await;
    let relay = Relay::start(&target.tls).await;
    // The relay is on 127.0.0.1, which the server certificate names.
    let client = builder(&format!("{}{root}", relay.connect_string()))
        .tls(target.tls_config())
        .connect()
        .await
        .unwrap();
    client
        .create("/w", "a", CreateMode::Persistent)
        .await
        .unwrap();
    let (_, _, watch) = client.get_data_watch("/w").await.unwrap();
    let session = client.session_id();
    let mut states = client.state_stream();
    cut_and_await_reconnect(&[&relay], &mut states).await;
    assert_eq!(client.session_id(), session);
    let other = builder(&format!("{}{root}", target.tls))
        .tls(target.tls_config())
        .connect()
        .await
        .unwrap();
    other.set_data("/w", "b", None).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), watch).await {
        Ok(WatchEvent::Node(e)) => assert_eq!(e.path, "/w"),
        other => panic!("{other:?}"),
    }
    other.close().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_names_the_client_by_its_certificate() {
    let target = SecureTarget::get().await;
    let root = target
        .namespace_on(&target.mtls, Some(target.mtls_config()))
        .await;
    let client = builder(&format!("{}{root}", target.mtls))
        .tls(target.mtls_config())
        .connect()
        .await
        .expect("connect with a client certificate");
    let who = client.who_am_i().await.unwrap();
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "x509" && c.user == target.client_dn),
        "whoAmI {who:?}, expected x509:{}",
        target.client_dn
    );
    // A node only this certificate may read.
    let acl = vec![Acl::new(Perms::ALL, Id::new("x509", &target.client_dn))];
    client
        .create(
            "/mine",
            "secret",
            CreateOptions::new(CreateMode::Persistent).acl(acl.clone()),
        )
        .await
        .unwrap();
    assert_eq!(&client.get_data("/mine").await.unwrap().0[..], b"secret");
    assert_eq!(client.get_acl("/mine").await.unwrap().0, acl);
    // Anyone else (a plaintext client) is refused.
    let anon = builder(&format!("{}{root}", target.mtls_plain))
        .connect()
        .await
        .unwrap();
    let err = anon.get_data("/mine").await.unwrap_err();
    assert!(err.is(zk_client::ErrorCode::NoAuth), "{err}");
    // `auth` ACLs expand to the certificate's id.
    client
        .create(
            "/auth",
            "",
            CreateOptions::new(CreateMode::Persistent).acl(Acl::creator_all()),
        )
        .await
        .unwrap();
    let (acl, _) = client.get_acl("/auth").await.unwrap();
    assert!(
        acl.iter()
            .any(|a| a.id.scheme == "x509" && a.id.id == target.client_dn),
        "{acl:?}"
    );
    anon.close().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn hostname_verification_and_its_override() {
    let target = SecureTarget::get().await;
    let port = target
        .tls
        .split(',')
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    // `localhost` is in the certificate too.
    let by_name = builder(&format!("localhost:{port}"))
        .tls(target.tls_config())
        .connect()
        .await
        .expect("connect by name");
    by_name.close().await.unwrap();
    // A name the certificate does not carry fails...
    let wrong = zk_client::TlsConfig::builder()
        .ca_pem(&target.ca)
        .unwrap()
        .server_name("zk.invalid")
        .build()
        .unwrap();
    let err = builder(&target.tls)
        .tls(wrong)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), zk_client::ErrorKind::Tls, "{err}");
    assert!(error_chain(&err).contains("not valid for"), "{err:?}");
    // ...unless hostname verification is off (the chain still counts).
    let lenient = zk_client::TlsConfig::builder()
        .ca_pem(&target.ca)
        .unwrap()
        .server_name("zk.invalid")
        .verify_hostname(false)
        .build()
        .unwrap();
    let client = builder(&target.tls).tls(lenient).connect().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn every_host_of_the_connect_string_speaks_tls() {
    let target = SecureTarget::get().await;
    // Two hosts (relays to one TLS port); the client moves between them
    // when its connection is cut, and must speak TLS to each.
    let a = Relay::start(&target.tls).await;
    let b = Relay::start(&target.tls).await;
    let connect = format!("{},{}", a.connect_string(), b.connect_string());
    let client = builder(&connect)
        .tls(target.tls_config())
        .connect()
        .await
        .unwrap();
    let mut states = client.state_stream();
    for _ in 0..4 {
        // Each cut leads to a new connection on either host.
        cut_and_await_reconnect(&[&a, &b], &mut states).await;
        client.exists("/").await.unwrap();
    }
    client.close().await.unwrap();
}

/// Every member of an in-process ensemble serves its own TLS port (the
/// same certificate), and a client certificate names the session on each.
#[tokio::test]
async fn every_member_of_a_tls_ensemble_serves_tls() {
    use zk_testserver::tls::{ClientAuth, TestPki};
    let pki = TestPki::generate();
    let zk = zk_testserver::Ensemble::builder()
        .members(3)
        .tls(pki.server_tls(ClientAuth::Need))
        .start()
        .await
        .unwrap();
    let cert = pki.client_cert("member-check");
    let tls = zk_client::TlsConfig::builder()
        .ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .client_identity_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let members = zk.secure_addresses();
    assert_eq!(members.len(), 3);
    let writer = builder(&members[0].to_string())
        .tls(tls.clone())
        .connect()
        .await
        .unwrap();
    writer
        .create("/m", "x", CreateMode::Persistent)
        .await
        .unwrap();
    for addr in members {
        let client = builder(&addr.to_string())
            .tls(tls.clone())
            .connect()
            .await
            .unwrap();
        client.sync("/m").await.unwrap();
        assert_eq!(&client.get_data("/m").await.unwrap().0[..], b"x");
        let who = client.who_am_i().await.unwrap();
        assert!(
            who.iter()
                .any(|c| c.auth_scheme == "x509" && c.user == TestPki::client_id("member-check")),
            "{addr}: {who:?}"
        );
        client.close().await.unwrap();
    }
    writer.close().await.unwrap();
}
