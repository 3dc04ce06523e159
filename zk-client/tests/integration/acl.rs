//! ACLs, authentication and the errors they produce.

use crate::common::zookeeper_version;
use crate::ns;
use zk_client::proto::digest_id;
use zk_client::{Acl, CreateMode, CreateOptions, ErrorCode, Id, Perms};

/// The reference servers' super user (`superpw`), overridable by the environment.
fn super_credentials() -> String {
    std::env::var("ZK_REFERENCE_SUPER_AUTH").unwrap_or_else(|_| "super:superpw".into())
}

#[tokio::test]
async fn digest_acl_enforced_per_permission() {
    let ns = ns!();
    let owner = ns.client().await;
    owner.add_auth("digest", "alice:secret").await.unwrap();
    let stranger = ns.client().await;
    let alice = Id::digest("alice", "secret");
    let acl = vec![
        Acl::new(Perms::ALL, alice.clone()),
        Acl::new(Perms::READ, Id::anyone()),
    ];
    owner
        .create(
            "/doc",
            "v",
            CreateOptions::new(CreateMode::Persistent).acl(acl.clone()),
        )
        .await
        .unwrap();
    // Reads are open, writes are not.
    assert_eq!(&stranger.get_data("/doc").await.unwrap().0[..], b"v");
    let err = stranger.set_data("/doc", "x", None).await.unwrap_err();
    assert!(err.is(ErrorCode::NoAuth), "{err}");
    let err = stranger
        .create("/doc/child", "", CreateMode::Persistent)
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NoAuth));
    let err = stranger
        .set_acl("/doc", Acl::open_unsafe(), None)
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NoAuth));
    owner.set_data("/doc", "w", None).await.unwrap();
    owner
        .create("/doc/child", "", CreateMode::Persistent)
        .await
        .unwrap();
    let err = stranger.delete("/doc/child", None).await.unwrap_err();
    assert!(
        err.is(ErrorCode::NoAuth),
        "delete needs DELETE on the parent"
    );
    // A wrong password is not an auth failure: it is another identity.
    stranger.add_auth("digest", "alice:wrong").await.unwrap();
    assert!(stranger
        .set_data("/doc", "x", None)
        .await
        .unwrap_err()
        .is(ErrorCode::NoAuth));
    stranger.add_auth("digest", "alice:secret").await.unwrap();
    stranger.set_data("/doc", "x", None).await.unwrap();

    let (got, st) = owner.get_acl("/doc").await.unwrap();
    assert_eq!(got, acl);
    assert_eq!(st.aversion, 0);
    let st = owner
        .set_acl("/doc", Acl::open_unsafe(), Some(0))
        .await
        .unwrap();
    assert_eq!(st.aversion, 1);
    let err = owner
        .set_acl("/doc", Acl::open_unsafe(), Some(0))
        .await
        .unwrap_err();
    assert!(err.is_bad_version());
}

#[tokio::test]
async fn no_read_permission_hides_data_and_children() {
    let ns = ns!();
    let owner = ns.client().await;
    owner.add_auth("digest", "bob:pw").await.unwrap();
    let acl = vec![Acl::new(Perms::ALL, Id::digest("bob", "pw"))];
    owner
        .create(
            "/secret",
            "s",
            CreateOptions::new(CreateMode::Persistent).acl(acl),
        )
        .await
        .unwrap();
    let other = ns.client().await;
    for err in [
        other.get_data("/secret").await.unwrap_err(),
        other.get_children("/secret").await.unwrap_err(),
        other.get_acl("/secret").await.err().unwrap_or_else(|| {
            // getACL needs READ or ADMIN in 3.9; 3.8 lets anyone read ACLs.
            zk_client::Error::code_error(ErrorCode::NoAuth)
        }),
    ] {
        assert!(err.is(ErrorCode::NoAuth), "{err}");
    }
    // exists needs READ from 3.9 on; 3.8 answers anyone.
    let exists = other.exists("/secret").await;
    if zookeeper_version().exists_checks_read() {
        assert!(exists.unwrap_err().is(ErrorCode::NoAuth));
    } else {
        assert!(exists.unwrap().is_some());
    }
}

#[tokio::test]
async fn invalid_acls_are_refused() {
    let ns = ns!();
    let c = ns.client().await;
    let create = |acl: Vec<Acl>| {
        let c = c.clone();
        async move {
            c.create(
                "/a",
                "",
                CreateOptions::new(CreateMode::Persistent).acl(acl),
            )
            .await
            .unwrap_err()
        }
    };
    // No authenticated identity to stand in for `auth:`.
    assert!(create(Acl::creator_all()).await.is(ErrorCode::InvalidAcl));
    // Empty ACL, unknown scheme, malformed digest id.
    assert!(create(vec![]).await.is(ErrorCode::InvalidAcl));
    assert!(create(vec![Acl::new(Perms::ALL, Id::new("nope", "x"))])
        .await
        .is(ErrorCode::InvalidAcl));
    assert!(
        create(vec![Acl::new(Perms::ALL, Id::new("digest", "no-colon"))])
            .await
            .is(ErrorCode::InvalidAcl)
    );
    let err = c.set_acl("/", vec![], None).await.unwrap_err();
    assert!(err.is(ErrorCode::InvalidAcl), "{err}");
    // With an identity, `auth:` becomes that identity.
    c.add_auth("digest", "carol:pw").await.unwrap();
    c.create(
        "/mine",
        "",
        CreateOptions::new(CreateMode::Persistent).acl(Acl::creator_all()),
    )
    .await
    .unwrap();
    let (acl, _) = c.get_acl("/mine").await.unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(
            Perms::ALL,
            Id::new("digest", digest_id("carol", "pw"))
        )]
    );
}

#[tokio::test]
async fn ip_acl_matches_the_connection_address() {
    let ns = ns!();
    let c = ns.client().await;
    let local = vec![Acl::new(Perms::ALL, Id::new("ip", "127.0.0.1"))];
    c.create(
        "/local",
        "",
        CreateOptions::new(CreateMode::Persistent).acl(local),
    )
    .await
    .unwrap();
    c.set_data("/local", "ok", None).await.unwrap();
    let elsewhere = vec![Acl::new(Perms::ALL, Id::new("ip", "10.1.2.3"))];
    c.create(
        "/remote",
        "",
        CreateOptions::new(CreateMode::Persistent).acl(elsewhere),
    )
    .await
    .unwrap();
    assert!(c
        .get_data("/remote")
        .await
        .unwrap_err()
        .is(ErrorCode::NoAuth));
    let subnet = vec![Acl::new(Perms::ALL, Id::new("ip", "127.0.0.0/8"))];
    c.create(
        "/subnet",
        "",
        CreateOptions::new(CreateMode::Persistent).acl(subnet),
    )
    .await
    .unwrap();
    c.get_data("/subnet").await.unwrap();
}

#[tokio::test]
async fn super_user_passes_every_check() {
    let ns = ns!();
    let owner = ns.client().await;
    owner.add_auth("digest", "dave:pw").await.unwrap();
    let acl = vec![Acl::new(Perms::ALL, Id::digest("dave", "pw"))];
    owner
        .create(
            "/locked",
            "",
            CreateOptions::new(CreateMode::Persistent).acl(acl),
        )
        .await
        .unwrap();
    let admin = ns.client().await;
    assert!(admin
        .get_data("/locked")
        .await
        .unwrap_err()
        .is(ErrorCode::NoAuth));
    admin.add_auth("digest", super_credentials()).await.unwrap();
    admin.get_data("/locked").await.unwrap();
    admin.set_data("/locked", "x", None).await.unwrap();
    admin.delete("/locked", None).await.unwrap();
}

#[tokio::test]
async fn unknown_auth_scheme_fails_the_session() {
    let ns = ns!();
    let c = ns.client().await;
    let err = c.add_auth("no-such-scheme", "x").await.unwrap_err();
    assert_eq!(err.kind(), zk_client::ErrorKind::AuthFailed, "{err}");
    assert_eq!(c.state(), zk_client::ConnectionState::AuthFailed);
    let err = c.get_data("/").await.unwrap_err();
    assert_eq!(err.kind(), zk_client::ErrorKind::AuthFailed);
    // Builder credentials that fail make connect fail.
    let err = ns
        .builder()
        .auth("no-such-scheme", "x")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), zk_client::ErrorKind::AuthFailed, "{err}");
}
