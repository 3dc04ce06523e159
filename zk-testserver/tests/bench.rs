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
//!
//! Each is timed on plain voters and on 3 voters with observers or with
//! reconfig on and a spare (the client's connect string names every member).

use std::time::{Duration, Instant};
use zk_client::{Client, CreateMode};
use zk_testserver::{Ensemble, EnsembleBuilder};

const TICK: Duration = Duration::from_millis(100);

/// An ensemble timed: voters, observers, spares, reconfig on or off.
#[derive(Debug, Clone, Copy)]
struct Shape {
    members: usize,
    observers: usize,
    spares: usize,
    reconfig: bool,
}

impl Shape {
    const fn voters(members: usize) -> Shape {
        Shape {
            members,
            observers: 0,
            spares: 0,
            reconfig: false,
        }
    }

    fn builder(self, seed: u64) -> EnsembleBuilder {
        Ensemble::builder()
            .members(self.members)
            .observers(self.observers)
            .spares(self.spares)
            .reconfig_enabled(self.reconfig)
            .tick(TICK)
            .seed(seed)
    }

    /// `members=3`, then what it has besides (the plain names stay those
    /// of the earlier figures).
    fn name(self) -> String {
        let mut name = format!("members={}", self.members);
        if self.observers > 0 {
            name += &format!(" observers={}", self.observers);
        }
        if self.reconfig {
            name += &format!(" reconfig spares={}", self.spares);
        }
        name
    }
}

const WITH_OBSERVERS: Shape = Shape {
    observers: 2,
    ..Shape::voters(3)
};
const WITH_RECONFIG: Shape = Shape {
    spares: 1,
    reconfig: true,
    ..Shape::voters(3)
};

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
    for shape in [
        Shape::voters(1),
        Shape::voters(3),
        WITH_OBSERVERS,
        WITH_RECONFIG,
    ] {
        start_to_first_write(shape).await;
    }
}

async fn start_to_first_write(shape: Shape) {
    let mut samples = Vec::new();
    for i in 0..50 {
        let t0 = Instant::now();
        let zk = shape.builder(i).start().await.unwrap();
        let c = Client::connect(zk.connect_string()).await.unwrap();
        c.create("/first", "", CreateMode::Persistent)
            .await
            .unwrap();
        samples.push(t0.elapsed());
        c.close().await.unwrap();
        zk.stop().await;
    }
    summary(&format!("start_to_first_write {}", shape.name()), samples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn leader_kill_to_next_acknowledged_write() {
    for shape in [Shape::voters(3), WITH_OBSERVERS, WITH_RECONFIG] {
        leader_kill_to_next_write(shape).await;
    }
}

async fn leader_kill_to_next_write(shape: Shape) {
    let mut samples = Vec::new();
    for i in 0..30 {
        let zk = shape.builder(i).start().await.unwrap();
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
    let name = match shape.name().as_str() {
        "members=3" => "leader_kill_to_next_write".to_string(),
        other => format!("leader_kill_to_next_write {other}"),
    };
    summary(&name, samples);
}
