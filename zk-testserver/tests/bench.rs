//! Timing of the replicated ensemble (ignored by default; run in release):
//!
//! ```sh
//! cargo test --release -p zk-testserver --test bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - start → first acknowledged write: building a 1- and a 3-member ensemble (until
//!   every member serves), connecting a client and creating a node;
//! - leader kill → next acknowledged write: a client creates nodes one after
//!   another; the leader is killed; the time from the kill to the first
//!   create acknowledged after it (election, client reconnection and retry
//!   included), with the 100 ms tick the client suite uses.

use std::time::{Duration, Instant};
use zk_client::{Client, CreateMode};
use zk_testserver::Ensemble;

const TICK: Duration = Duration::from_millis(100);

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} min_ms={:.2} p50_ms={:.2} p90_ms={:.2} max_ms={:.2}",
        samples.len(),
        ms(samples[0]),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(samples[samples.len() - 1]),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn start_to_first_acknowledged_write() {
    for members in [1, 3] {
        start_to_first_write(members).await;
    }
}

async fn start_to_first_write(members: usize) {
    let mut samples = Vec::new();
    for i in 0..50 {
        let t0 = Instant::now();
        let zk = Ensemble::builder()
            .members(members)
            .tick(TICK)
            .seed(i)
            .start()
            .await
            .unwrap();
        let c = Client::connect(zk.connect_string()).await.unwrap();
        c.create("/first", "", CreateMode::Persistent)
            .await
            .unwrap();
        samples.push(t0.elapsed());
        c.close().await.unwrap();
        zk.stop().await;
    }
    summary(&format!("start_to_first_write members={members}"), samples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn leader_kill_to_next_acknowledged_write() {
    let mut samples = Vec::new();
    for i in 0..30 {
        let zk = Ensemble::builder()
            .members(3)
            .tick(TICK)
            .seed(i)
            .start()
            .await
            .unwrap();
        let c = Client::builder(zk.connect_string())
            .session_timeout(Duration::from_secs(4))
            .connect()
            .await
            .unwrap();
        for n in 0..20 {
            c.create(&format!("/before{n}"), "", CreateMode::Persistent)
                .await
                .unwrap();
        }
        let leader = zk.wait_for_leader().await.unwrap();
        let t0 = Instant::now();
        zk.kill(leader).await.unwrap();
        c.create("/after", "", CreateMode::Persistent)
            .await
            .unwrap();
        samples.push(t0.elapsed());
        c.close().await.unwrap();
        zk.stop().await;
    }
    summary("leader_kill_to_next_write", samples);
}
