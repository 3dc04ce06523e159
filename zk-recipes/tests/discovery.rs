//! ServiceDiscovery, ServiceCache, providers (pitfall 7).

mod common;

use common::*;
use futures::StreamExt;
use std::collections::HashSet;
use zk_client::proto::OpCode;
use zk_recipes::{ProviderStrategy, ServiceDiscovery, ServiceInstance, ServiceType};
use zk_testserver::proxy::{Fault, Match};

#[test]
fn curator_json_round_trip_and_unknown_fields() {
    let curator = br#"{"name":"test","id":"a1b2","address":"10.0.0.1","port":1234,
        "sslPort":null,"payload":{"@class":"org.example.Details","description":"x"},
        "registrationTimeUTC":1325129459728,"serviceType":"DYNAMIC",
        "uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false}]},
        "enabled":true,"someFutureField":[1,2,3]}"#;
    let i = ServiceInstance::from_json("/x", curator).unwrap();
    assert_eq!(i.name, "test");
    assert_eq!(i.port, Some(1234));
    assert_eq!(i.ssl_port, None);
    assert_eq!(i.service_type, ServiceType::Dynamic);
    assert_eq!(i.registration_time_utc, 1325129459728);
    let payload = i.payload.as_ref().unwrap();
    assert_eq!(payload.java_class(), Some("org.example.Details"));
    assert_eq!(payload.value(), &serde_json::json!({"description": "x"}));
    let json: serde_json::Value = serde_json::from_slice(&i.to_json().unwrap()).unwrap();
    for key in [
        "name",
        "id",
        "address",
        "port",
        "sslPort",
        "payload",
        "registrationTimeUTC",
        "serviceType",
        "uriSpec",
        "enabled",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert_eq!(json["serviceType"], "DYNAMIC");
    // Minimal documents parse too.
    let min = ServiceInstance::from_json("/x", br#"{"name":"n","id":"i"}"#).unwrap();
    assert!(min.enabled);
    assert!(ServiceInstance::from_json("/x", b"not json").is_err());
}

/// Pitfall 7: after the session expires, registered instances come back
/// with their latest data; unregistered ones stay gone; permanent ones are
/// never re-created.
#[tokio::test]
async fn pitfall7_reregistration_after_expiry_uses_latest_data() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let admin = env.client().await;
    let discovery = ServiceDiscovery::new(&client, "/services");

    let mut a = ServiceInstance::new("api")
        .with_id("a")
        .with_address("10.0.0.1", 80);
    discovery.register(&a).await.unwrap();
    let gone = ServiceInstance::new("api").with_id("gone");
    discovery.register(&gone).await.unwrap();
    let perm = ServiceInstance::new("api")
        .with_id("perm")
        .with_type(ServiceType::Permanent);
    discovery.register(&perm).await.unwrap();
    assert_eq!(discovery.instances("api").await.unwrap().len(), 3);
    assert_eq!(discovery.names().await.unwrap(), vec!["api"]);

    // Update while the connection is down: the write fails, the new data is
    // remembered.
    proxy.refuse();
    a.port = Some(81);
    a.payload = Some(serde_json::json!({"version": 2}).into());
    let update =
        tokio::time::timeout(std::time::Duration::from_millis(300), discovery.update(&a)).await;
    assert!(
        update.is_err() || update.unwrap().is_err(),
        "no server reachable"
    );
    proxy.heal();
    connected(&client).await;
    discovery.unregister(&gone).await.unwrap();
    // Someone removes the permanent instance.
    admin.delete("/services/api/perm", None).await.unwrap();

    let mut passes = discovery.reregistrations();
    env.expire(&proxy, &client).await;
    within(PATIENCE, passes.wait_for(|n| *n >= 1))
        .await
        .unwrap();

    let ids: HashSet<String> = discovery
        .instances("api")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, HashSet::from(["a".to_string()]), "only a is back");
    let back = discovery.instance("api", "a").await.unwrap().unwrap();
    assert_eq!(back.port, Some(81), "latest data");
    assert_eq!(back.payload, Some(serde_json::json!({"version": 2}).into()));
    // The instance was written through `client`; admin's member may be
    // behind until admin syncs.
    admin.sync("/services/api").await.unwrap();
    let stat = admin.exists("/services/api/a").await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id());
}

#[tokio::test]
async fn cache_follows_changes_and_providers_pick() {
    let env = env().await;
    let c1 = env.client().await;
    let c2 = env.client().await;
    let d1 = ServiceDiscovery::new(&c1, "/svc");
    let d2 = ServiceDiscovery::new(&c2, "/svc");
    let cache = d1.cache("web").await.unwrap();
    let mut changes = cache.changes();
    assert!(changes.next().await.unwrap().is_empty());

    let x = ServiceInstance::new("web")
        .with_id("x")
        .with_address("h1", 1);
    d2.register(&x).await.unwrap();
    let seen = within(PATIENCE, changes.next()).await.unwrap();
    assert_eq!(seen.len(), 1);
    let mut y = ServiceInstance::new("web")
        .with_id("y")
        .with_address("h2", 2);
    d2.register(&y).await.unwrap();
    within(PATIENCE, async {
        while changes.next().await.unwrap().len() != 2 {}
    })
    .await;

    let rr = d1
        .provider("web", ProviderStrategy::RoundRobin)
        .await
        .unwrap();
    let picks: Vec<String> = (0..4).map(|_| rr.instance().unwrap().id).collect();
    assert_eq!(picks, vec!["x", "y", "x", "y"]);
    let random = d1.provider("web", ProviderStrategy::Random).await.unwrap();
    for _ in 0..10 {
        assert!(["x", "y"].contains(&random.instance().unwrap().id.as_str()));
    }

    // Data changes and disabling reach the cache.
    y.enabled = false;
    d2.update(&y).await.unwrap();
    within(PATIENCE, async {
        loop {
            let set = changes.next().await.unwrap();
            if set.iter().any(|i| i.id == "y" && !i.enabled) {
                break;
            }
        }
    })
    .await;
    // The provider has a cache of its own: wait for it, not for `changes`.
    let mut rr_changes = rr.cache().subscribe();
    within(PATIENCE, rr_changes.wait_for(|_| rr.instances().len() == 1))
        .await
        .unwrap();
    assert_eq!(rr.instance().unwrap().id, "x");

    // A client going away removes its instances.
    c2.close().await.unwrap();
    within(PATIENCE, async {
        while !changes.next().await.unwrap().is_empty() {}
    })
    .await;
    within(PATIENCE, rr_changes.wait_for(|set| set.is_empty()))
        .await
        .unwrap();
    assert!(rr.instance().is_none());
}

/// A cache whose session expired watches again once a new session is up,
/// even when its first attempt to do so fails (it used to stop following
/// changes for good).
#[tokio::test]
async fn cache_watches_again_after_expiry_when_the_first_attempt_fails() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    // No retries inside the client: the cache sees the failure itself.
    let client = builder
        .retry(zk_client::retry::NoRetry)
        .connect()
        .await
        .unwrap();
    let other = env.client().await;
    let cache = ServiceDiscovery::new(&client, "/svc-rewatch")
        .cache("web")
        .await
        .unwrap();
    let mut changes = cache.changes();
    assert!(changes.next().await.unwrap().is_empty());

    let rewatch = proxy.inject(Match::op(OpCode::AddWatch), Fault::DropBeforeRequest);
    env.expire(&proxy, &client).await;
    within(PATIENCE, rewatch.triggered()).await;

    ServiceDiscovery::new(&other, "/svc-rewatch")
        .register(&ServiceInstance::new("web").with_id("z"))
        .await
        .unwrap();
    within(PATIENCE, async {
        while changes.next().await.unwrap().is_empty() {}
    })
    .await;
    assert_eq!(cache.instances()[0].id, "z");
}
