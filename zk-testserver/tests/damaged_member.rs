//! A member whose storage is damaged does not stop the ensemble: it stays
//! out with an error while the others form a quorum, and rejoins once its
//! storage is wiped; a deleted log segment is an error, never a silently
//! shorter history.

mod common;

use common::cluster::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use zk_client::CreateMode;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("zk-{tag}-{}-{nanos}", std::process::id()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The log segments of member `m`, sorted.
fn segments(dir: &Path, m: u64) -> Vec<PathBuf> {
    let member = dir.join(format!("member{m}"));
    let mut out = Vec::new();
    for generation in std::fs::read_dir(&member).unwrap().flatten() {
        if generation.path().is_dir() {
            for f in std::fs::read_dir(generation.path()).unwrap().flatten() {
                if f.file_name().to_string_lossy().starts_with("log.") {
                    out.push(f.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// Flips one byte in the middle of member `m`'s newest log segment.
fn flip_mid_log(dir: &Path, m: u64) {
    let path = segments(dir, m).pop().expect("a log segment");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
}

/// A 3-member ensemble in `dir` holding /p0../p{n-1}, then stopped.
async fn fill(dir: &Path, n: usize) -> Vec<String> {
    let zk = builder(3).data_dir(dir).fsync(false).start().await.unwrap();
    let c = client(&zk).await;
    let mut paths = Vec::new();
    for i in 0..n {
        let p = format!("/p{i}");
        c.create(&p, "x", CreateMode::Persistent).await.unwrap();
        paths.push(p);
    }
    c.close().await.unwrap();
    zk.wait_until_converged().await.unwrap();
    zk.stop().await;
    paths
}

#[tokio::test]
async fn a_member_with_a_damaged_log_stays_out_until_wiped() {
    let dir = TempDir::new("damaged");
    let paths = fill(&dir.0, 60).await;
    flip_mid_log(&dir.0, 2);
    let zk = builder(3)
        .data_dir(&dir.0)
        .fsync(false)
        .start()
        .await
        .unwrap();
    assert!(
        !zk.is_running(2).await.unwrap(),
        "the damaged member stays out"
    );
    assert!(zk.is_running(1).await.unwrap() && zk.is_running(3).await.unwrap());
    let c = client(&zk).await;
    c.create("/after", "y", CreateMode::Persistent)
        .await
        .unwrap();
    // Restarting it as it is fails again, with the reason.
    let err = zk.restart(2).await.unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    // Wiped, it catches up from the leader.
    zk.restart_wiped(2).await.unwrap();
    zk.wait_for_serving(2).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    let mut all = paths;
    all.push("/after".into());
    assert_everywhere(&zk, &all).await;
}

#[tokio::test]
async fn without_a_quorum_of_intact_members_the_start_fails() {
    let dir = TempDir::new("damaged-two");
    fill(&dir.0, 20).await;
    flip_mid_log(&dir.0, 2);
    // Member 3's newest segment deleted: its acknowledged entries are gone.
    for s in segments(&dir.0, 3) {
        std::fs::remove_file(s).unwrap();
    }
    let err = builder(3)
        .data_dir(&dir.0)
        .fsync(false)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    // Member 3 alone is reported too.
    let store = zk_testserver::storage::DirStorage::open(
        dir.0.join("member3"),
        zk_testserver::storage::DirOptions::default(),
    );
    let Err(err) = store else {
        panic!("a missing segment is an error");
    };
    let err = err.to_string();
    assert!(err.contains("newest log segment is missing"), "{err}");
}

#[tokio::test]
async fn the_binary_keeps_a_damaged_member_out_and_restarts_it_once_wiped() {
    let dir = TempDir::new("damaged-bin");
    fill(&dir.0, 30).await;
    flip_mid_log(&dir.0, 1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-testserver"))
        .args(["--members", "3", "--tick-ms", "100", "--data-dir"])
        .arg(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addrs: Vec<String> = line.trim().split(',').map(str::to_string).collect();
    assert_eq!(addrs.len(), 3, "the binary serves: {line:?}");
    assert!(
        tokio::net::TcpStream::connect(&addrs[0]).await.is_err(),
        "member 1 is down"
    );
    let c = zk_client::Client::builder(addrs[1..].join(","))
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    assert!(c.exists("/p29").await.unwrap().is_some());
    std::fs::remove_dir_all(dir.0.join("member1")).unwrap();
    let back = within("member 1 to serve again", async {
        loop {
            if let Ok(c) = zk_client::Client::builder(addrs[0].clone())
                .session_timeout(Duration::from_secs(4))
                .connect()
                .await
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    back.sync("/").await.unwrap();
    assert!(back.exists("/p29").await.unwrap().is_some());
    let _ = child.kill();
    let _ = child.wait();
}
