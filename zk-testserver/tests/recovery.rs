//! Catching up after time away: by SNAP past the leader's DIFF retention,
//! from a wiped disk, and from a data directory after every member stopped.

mod common;

use common::cluster::*;
use zk_client::CreateMode;

async fn write(c: &zk_client::Client, prefix: &str, n: usize) -> Vec<String> {
    let mut paths = Vec::new();
    for i in 0..n {
        let p = format!("/{prefix}{i}");
        c.create(&p, "x", CreateMode::Persistent).await.unwrap();
        paths.push(p);
    }
    paths
}

#[tokio::test]
async fn member_away_past_the_retention_catches_up_by_snap() {
    let zk = builder(3).diff_retention(10).start().await.unwrap();
    let leader = zk.wait_for_leader().await.unwrap();
    let away = (1..=3).find(|&m| m != leader).unwrap();
    zk.kill(away).await.unwrap();
    let c = client_of(&zk, leader).await;
    let paths = write(&c, "s", 40).await;
    zk.restart(away).await.unwrap();
    zk.wait_for_serving(away).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    let s = zk.status(away).unwrap();
    assert!(s.syncs.snap >= 1, "caught up by SNAP: {s:?}");
    assert_everywhere(&zk, &paths).await;
    // A member whose disk was replaced catches up the same way.
    zk.restart_wiped(away).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    assert!(zk.status(away).unwrap().syncs.snap >= 1);
    assert_everywhere(&zk, &paths).await;
}

#[tokio::test]
async fn members_with_a_data_directory_recover_from_disk() {
    let dir = std::env::temp_dir().join(format!(
        "zk-testserver-recovery-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let zk = builder(3)
        .data_dir(&dir)
        .fsync(false)
        .snapshot_every(25)
        .start()
        .await
        .unwrap();
    let c = client(&zk).await;
    let paths = write(&c, "d", 60).await;
    c.close().await.unwrap();
    let digest = zk.wait_until_converged().await.unwrap();
    let zxid = zk.last_zxid(1).await.unwrap();
    // One member restarts from its directory and rejoins.
    let follower = (1..=3).find(|&m| Some(m) != zk.leader()).unwrap();
    zk.kill(follower).await.unwrap();
    zk.restart(follower).await.unwrap();
    assert_eq!(zk.wait_until_converged().await.unwrap(), digest);
    // Everyone stops; all state comes back from the directories.
    zk.restart_all().await.unwrap();
    assert_eq!(zk.wait_until_converged().await.unwrap(), digest);
    assert!(zk.last_zxid(1).await.unwrap() >= zxid);
    assert_everywhere(&zk, &paths).await;
    // Periodic snapshots were written.
    let snaps = std::fs::read_dir(dir.join("member1"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .flat_map(|gen| std::fs::read_dir(gen.path()).unwrap())
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
        .count();
    assert!(snaps >= 1, "no snapshot in {}", dir.display());
    zk.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
