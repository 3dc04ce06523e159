//! Digest authentication and ACLs: a node only its owner may change, that
//! everyone may read, and a secret node nobody else may read.
//!
//! `cargo run -p examples --bin acl [-- --connect HOSTS]`

use examples::target::Target;
use zk_client::{Acl, CreateMode, CreateOptions, Id, Perms};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("auth and ACL example on an {}", target.describe());
    let owner = target.client("/examples/acl").await?;
    owner.add_auth("digest", "deployer:s3cret").await?;
    let who: Vec<String> = owner
        .who_am_i()
        .await?
        .into_iter()
        .map(|c| format!("{}:{}", c.auth_scheme, c.user))
        .collect();
    println!("owner authenticated as {who:?}");
    let public_read = vec![
        Acl::new(Perms::ALL, Id::digest("deployer", "s3cret")),
        Acl::new(Perms::READ, Id::anyone()),
    ];
    owner
        .create(
            "/release",
            "v1.4",
            CreateOptions::new(CreateMode::Persistent).acl(public_read),
        )
        .await?;
    owner
        .create(
            "/secret",
            "token",
            CreateOptions::new(CreateMode::Persistent).acl(Acl::creator_all()),
        )
        .await?;
    let stranger = target.client("/examples/acl").await?;
    let (data, _) = stranger.get_data("/release").await?;
    println!(
        "stranger reads /release: {}",
        String::from_utf8_lossy(&data)
    );
    match stranger.set_data("/release", "v9.9", None).await {
        Err(e) => println!("stranger may not change /release: {e}"),
        Ok(_) => println!("unexpected: stranger changed /release"),
    }
    match stranger.get_data("/secret").await {
        Err(e) => println!("stranger may not read /secret: {e}"),
        Ok(_) => println!("unexpected: stranger read /secret"),
    }
    owner.set_data("/release", "v1.5", None).await?;
    println!("owner updated /release");
    stranger.close().await?;
    owner.close().await?;
    Ok(())
}
