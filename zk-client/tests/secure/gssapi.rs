//! SASL GSSAPI (Kerberos) against real ZooKeeper: run by
//! `scripts/conformance.sh kerberos` (a local MIT KDC, a server with
//! `Krb5LoginModule`), with the `gssapi` feature and `--include-ignored`
//! (zk-testserver serves no Kerberos).

use crate::common::{builder, cut_and_await_reconnect, Relay};
use zk_client::{Acl, CreateMode, CreateOptions, Id, Perms, SaslConfig};

fn target() -> String {
    std::env::var("ZK_KRB_CONNECT")
        .ok()
        .filter(|c| !c.is_empty())
        .expect(
            "ZK_KRB_CONNECT is not set: run scripts/conformance.sh kerberos \
             (a local KDC and a Kerberized ZooKeeper)",
        )
}

#[tokio::test]
#[ignore = "needs a local KDC and a Kerberized ZooKeeper: scripts/conformance.sh kerberos runs it"]
async fn gssapi_authenticates_with_the_kdc_and_guards_sasl_acls() {
    let connect = target();
    let principal = std::env::var("ZK_KRB_CLIENT_PRINCIPAL").unwrap();
    // Through a relay, to cut the connection later; the service principal
    // names the host, whatever address the client dials.
    let relay = Relay::start(&connect.replace("localhost", "127.0.0.1")).await;
    let client = builder(&relay.connect_string())
        .sasl(SaslConfig::gssapi("zookeeper", "localhost"))
        .connect()
        .await
        .expect("GSSAPI connect");
    let who = client.who_am_i().await.unwrap();
    // ZooKeeper names a Kerberos client by its whole principal (unless
    // told to drop the realm).
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "sasl" && c.user == principal),
        "{who:?}"
    );
    let root = format!("/gssapi-{:016x}", rand::random::<u64>());
    let acl = vec![Acl::new(Perms::ALL, Id::new("sasl", &principal))];
    client
        .create(
            &root,
            "kerberos only",
            CreateOptions::new(CreateMode::Persistent).acl(acl),
        )
        .await
        .unwrap();
    let anon = builder(&connect).connect().await.unwrap();
    let err = anon.get_data(&root).await.unwrap_err();
    assert!(err.is(zk_client::ErrorCode::NoAuth), "{err}");
    anon.close().await.unwrap();
    // A dropped connection authenticates again on the next one.
    let mut states = client.state_stream();
    cut_and_await_reconnect(&[&relay], &mut states).await;
    assert_eq!(
        &client.get_data(&root).await.unwrap().0[..],
        b"kerberos only"
    );
    client.delete(&root, None).await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a local KDC and a Kerberized ZooKeeper: scripts/conformance.sh kerberos runs it"]
async fn gssapi_with_an_unknown_service_principal_is_an_auth_failure() {
    let connect = target();
    let err = builder(&connect)
        .connect_timeout(std::time::Duration::from_secs(3))
        .sasl(SaslConfig::gssapi("zookeeper", "no-such-host.invalid"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), zk_client::ErrorKind::AuthFailed, "{err}");
    assert!(err.to_string().contains("GSSAPI"), "{err}");
}
