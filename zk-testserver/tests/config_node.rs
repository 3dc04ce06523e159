//! `/zookeeper/config` as real ZooKeeper publishes it: a replicated
//! ensemble lists every member with its client address and `version=0`
//! (reconfigEnabled off), data version -1, ACL read-only for everyone; a
//! standalone server leaves it empty. Clients following it
//! (`follow_ensemble`, Curator's EnsembleTracker) get the members' client
//! addresses.

mod common;

use common::cluster::{builder, client_of, within};
use zk_client::ensemble_config::{EnsembleConfig, ServerRole};
use zk_client::{Acl, Client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_publishes_the_membership() {
    let zk = builder(3).start().await.expect("start");
    let expected = zk.ensemble_config();
    for member in zk.members() {
        let c = client_of(&zk, member).await;
        let (data, stat) = c.get_config().await.unwrap();
        let text = String::from_utf8(data.to_vec()).unwrap();
        assert_eq!(text, expected.to_string());
        assert!(!text.ends_with('\n'), "no trailing newline, as ZooKeeper");
        let config = EnsembleConfig::parse(&text).unwrap();
        assert_eq!(config.version, 0);
        assert_eq!(config.servers.len(), 3);
        for (server, addr) in config.servers.iter().zip(zk.addresses()) {
            assert_eq!(server.role, ServerRole::Participant);
            assert_eq!(
                server.client_address(),
                Some((addr.ip().to_string(), addr.port()))
            );
        }
        assert_eq!((stat.version, stat.aversion, stat.czxid), (-1, -1, 0));
        assert_eq!(
            c.get_acl("/zookeeper/config").await.unwrap().0,
            Acl::read_unsafe()
        );
    }
    // A client that knows one member learns the others from the config.
    let c = client_of(&zk, 2).await;
    let mut follower = c.follow_ensemble();
    let seen = within("config applied", follower.wait_for_change(-1))
        .await
        .unwrap();
    assert_eq!(seen.connect_string(), zk.connect_string());
}

#[tokio::test]
async fn standalone_config_is_empty() {
    let zk = builder(1).start().await.expect("start");
    let c = Client::connect(zk.connect_string()).await.unwrap();
    let (data, stat) = c.get_config().await.unwrap();
    assert!(data.is_empty());
    assert_eq!(stat.version, 0);
    assert_eq!(zk.ensemble_config(), EnsembleConfig::default());
}

/// The follower's task holds only a weak handle: dropping the last
/// `Client` closes the session even while the follower lives.
#[tokio::test]
async fn a_follower_does_not_keep_the_session_open() {
    let zk = builder(3).start().await.expect("start");
    let c = client_of(&zk, 1).await;
    let mut follower = c.follow_ensemble();
    within("config applied", follower.wait_for_change(-1))
        .await
        .unwrap();
    let id = c.session_id();
    assert!(zk.sessions().await.unwrap().iter().any(|s| s.id == id));
    drop(c);
    within("the session to close", async {
        while zk.sessions().await.unwrap().iter().any(|s| s.id == id) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    drop(follower);
}
