//! The administrative four-letter words answer with real values: `gtmk` /
//! `stmk` (the trace mask, 306 by default as ZooKeeper's), `srst` / `crst`
//! (counters really reset), `dirs` (bytes of snapshots and log), `hash` (the
//! tree's digest at the last zxid).

mod common;

use common::{four_letter, Raw};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_client::{Client, CreateMode};
use zk_testserver::{Ensemble, FourLetterWords};

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"))
}

async fn stmk(addr: &str, mask: i64) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"stmk").await.unwrap();
    s.write_all(&mask.to_be_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn trace_mask_and_counter_resets() {
    let zk = Ensemble::builder()
        .four_letter_words(FourLetterWords::all())
        .start()
        .await
        .unwrap();
    let addr = zk.connect_string();
    assert_eq!(four_letter(&addr, "gtmk").await, "306");
    assert_eq!(stmk(&addr, 511).await, "511");
    assert_eq!(four_letter(&addr, "gtmk").await, "511");

    let mut raw = Raw::connect(&addr).await;
    for _ in 0..5 {
        raw.call(&zk_client::proto::Request::Ping).await;
    }
    let before = four_letter(&addr, "srvr").await;
    assert!(line(&before, "Received: ").parse::<u64>().unwrap() >= 6);
    let cons = four_letter(&addr, "cons").await;
    assert!(cons.contains("recved=6,"), "{cons}");
    assert_eq!(
        four_letter(&addr, "crst").await,
        "Connection stats reset.\n"
    );
    let cons = four_letter(&addr, "cons").await;
    assert!(cons.contains("recved=0,sent=0,"), "{cons}");
    assert_eq!(four_letter(&addr, "srst").await, "Server stats reset.\n");
    let after = four_letter(&addr, "srvr").await;
    assert_eq!(line(&after, "Received: "), "0");
    assert_eq!(line(&after, "Latency min/avg/max: "), "0/0.0/0");
}

#[tokio::test]
async fn dirs_and_hash_report_the_storage_and_the_digest() {
    let dir = std::env::temp_dir().join(format!("zk-admin-words-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let zk = Ensemble::builder()
        .data_dir(&dir)
        .four_letter_words(FourLetterWords::all())
        .fsync(false)
        .snapshot_every(10)
        .start()
        .await
        .unwrap();
    let addr = zk.connect_string();
    let c = Client::builder(&addr)
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    for i in 0..25 {
        c.create(&format!("/n{i}"), "x", CreateMode::Persistent)
            .await
            .unwrap();
    }
    let dirs = four_letter(&addr, "dirs").await;
    let data: u64 = line(&dirs, "datadir_size: ").parse().unwrap();
    let log: u64 = line(&dirs, "logdir_size: ").parse().unwrap();
    let on_disk = |prefix: &str| -> u64 {
        walk(&dir)
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, len)| len)
            .sum()
    };
    assert!(data > 0 && data == on_disk("snap."), "{dirs}");
    assert!(log > 0, "{dirs}");

    let hash = four_letter(&addr, "hash").await;
    let zxid = zk.last_zxid(1).await.unwrap();
    let digest = zk.digest(1).await.unwrap();
    assert_eq!(hash, format!("{zxid:x}: {digest}\n"));
    drop(zk);
    let _ = std::fs::remove_dir_all(&dir);
}

/// (file name, length) of every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push((entry.file_name().to_string_lossy().into_owned(), meta.len()));
        }
    }
    out
}
