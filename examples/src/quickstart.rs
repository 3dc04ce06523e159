//! The quickstart tour, as a function that narrates what it does and
//! returns the facts it observed, so tests can check them.

use crate::target::Target;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use zk_client::ConnectionState;
use zk_recipes::{ConfigNode, LeaderLatch, Lock, ServiceDiscovery, ServiceInstance};

/// The typed configuration the tour stores and watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    /// How many replicas to run.
    pub replicas: u32,
    /// A feature switch.
    pub beta: bool,
}

/// What the tour observed.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Fencing tokens of the lock holders, in the order they held it.
    pub fencing_tokens: Vec<i64>,
    /// The largest number of latch participants that were leader at once.
    pub max_simultaneous_leaders: usize,
    /// Latch leaders in the order they led.
    pub leaders: Vec<String>,
    /// Instance ids discovery returned.
    pub discovered: Vec<String>,
    /// Config values the watcher saw, in order.
    pub config_seen: Vec<AppConfig>,
    /// The client's session before the leader failure.
    pub session_before: i64,
    /// The client's session after it reconnected.
    pub session_after: i64,
    /// Whether the lock taken before the failure was still held after it.
    pub lock_survived: bool,
    /// Whether the latch leader before the failure still led after it.
    pub leadership_survived: bool,
    /// Whether the failure step ran (only on an in-process ensemble).
    pub failover_ran: bool,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn say(out: &mut String, line: impl AsRef<str>) {
    let _ = writeln!(out, "{}", line.as_ref());
    println!("{}", line.as_ref());
}

/// Runs the tour on `target`, printing the narrative, and returns what it saw.
pub async fn run(target: &Target) -> Result<Report, Failure> {
    let mut report = Report::default();
    let mut log = String::new();
    let out = &mut log;
    say(out, format!("zk-rs quickstart on an {}", target.describe()));
    let client = target
        .client("/quickstart")
        .await
        .map_err(|e| e.to_string())?;
    say(
        out,
        format!(
            "1. connected: session {:#x} via {}",
            client.session_id(),
            client
                .connected_server()
                .map(|a| a.to_string())
                .unwrap_or_default()
        ),
    );

    // --- A lock handed from one task to another, with fencing tokens.
    let lock = Lock::new(&client, "/locks/reindex");
    let first = lock.acquire().await?;
    say(
        out,
        format!(
            "2. task A holds /locks/reindex (fencing token {:#x})",
            first.fencing_token()
        ),
    );
    report.fencing_tokens.push(first.fencing_token());
    let waiter = {
        let lock = Lock::new(&client, "/locks/reindex");
        tokio::spawn(async move { lock.acquire().await })
    };
    // Task B is queued behind A (it watches A's node only).
    let queued_until = Instant::now() + Duration::from_secs(10);
    while lock.participants().await?.len() < 2 && Instant::now() < queued_until {
        tokio::task::yield_now().await;
    }
    first.release().await?;
    let second = waiter.await??;
    say(
        out,
        format!(
            "   task A released; task B now holds it (fencing token {:#x}, larger: stale holders can be fenced off)",
            second.fencing_token()
        ),
    );
    report.fencing_tokens.push(second.fencing_token());

    // --- Leader latch across three participants.
    let latches: Vec<LeaderLatch> = (1..=3)
        .map(|i| LeaderLatch::new(&client, "/leader", format!("worker-{i}")))
        .collect();
    // Watch every participant's leadership for the rest of the tour and
    // remember the most leaders seen at once.
    let max_leaders = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let monitor = {
        let mut receivers: Vec<_> = latches.iter().map(|l| l.leadership()).collect();
        let max_leaders = max_leaders.clone();
        tokio::spawn(async move {
            loop {
                let now = receivers.iter().filter(|r| *r.borrow()).count();
                max_leaders.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                let changed = futures::future::select_all(
                    receivers.iter_mut().map(|r| Box::pin(r.changed())),
                );
                if changed.await.0.is_err() {
                    return;
                }
            }
        })
    };
    for l in &latches {
        l.start();
    }
    let leader_index = wait_for_one_leader(&latches).await?;
    report.leaders.push(latches[leader_index].id().to_string());
    say(
        out,
        format!(
            "3. leader latch: 3 participants, leader is {}",
            latches[leader_index].id(),
        ),
    );
    latches[leader_index].close().await?;
    let next_index = wait_for_one_leader(&latches).await?;
    report.leaders.push(latches[next_index].id().to_string());
    say(
        out,
        format!(
            "   {} left; {} took over (never two leaders at once)",
            latches[leader_index].id(),
            latches[next_index].id()
        ),
    );

    // --- Service discovery.
    let discovery = ServiceDiscovery::new(&client, "/services");
    for (id, port) in [("api-1", 8080), ("api-2", 8081)] {
        let instance = ServiceInstance::new("api")
            .with_id(id)
            .with_address("10.0.0.1", port);
        discovery.register(&instance).await?;
    }
    let cache = discovery.cache("api").await?;
    let mut instances = cache.instances();
    instances.sort_by(|a, b| a.id.cmp(&b.id));
    report.discovered = instances.iter().map(|i| i.id.clone()).collect();
    say(
        out,
        format!(
            "4. service discovery: registered api-1 and api-2; the cache sees {:?}",
            report.discovered
        ),
    );

    // --- A watched, typed config node.
    let config: ConfigNode<AppConfig> = ConfigNode::start(&client, "/config/app").await?;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = {
        let mut changes = Box::pin(config.changes());
        tokio::spawn(async move {
            while let Some(change) = changes.next().await {
                if let Ok(Some(v)) = change {
                    if seen_tx.send(v.value).is_err() {
                        return;
                    }
                }
            }
        })
    };
    config
        .set(&AppConfig {
            replicas: 3,
            beta: false,
        })
        .await?;
    let first_seen = wait_for_replicas(3, &mut seen_rx)
        .await
        .ok_or("watcher missed replicas=3")?;
    report.config_seen.push(first_seen);
    let updated = config
        .update(|old| AppConfig {
            replicas: 5,
            beta: old.is_some_and(|c| c.beta),
        })
        .await?;
    let second_seen = wait_for_replicas(5, &mut seen_rx)
        .await
        .ok_or("watcher missed replicas=5")?;
    report.config_seen.push(second_seen);
    watcher.abort();
    say(
        out,
        format!(
            "5. typed config: a watcher saw {{replicas: 3}}, then a compare-and-set update to {{replicas: 5}} (version {})",
            updated.version
        ),
    );

    // --- A leader failure.
    report.session_before = client.session_id();
    match &target.ensemble {
        Some(ensemble) => {
            let leader = ensemble.wait_for_leader().await?;
            let mut states = client.state_stream();
            let started = Instant::now();
            ensemble.kill(leader).await?;
            say(
                out,
                format!("6. killed the ensemble's leader (member {leader})"),
            );
            let next = ensemble.wait_for_leader().await?;
            say(
                out,
                format!(
                    "   member {next} elected leader after {} ms",
                    started.elapsed().as_millis()
                ),
            );
            // Every client connection of a member that lost its leader is
            // dropped; the client reconnects with its session.
            let reconnected = tokio::time::timeout(Duration::from_secs(20), async {
                let mut seen_suspended = false;
                while let Some(state) = states.next().await {
                    match state {
                        ConnectionState::Suspended => seen_suspended = true,
                        ConnectionState::Reconnected => return true,
                        ConnectionState::Connected if seen_suspended => return true,
                        s if s.is_terminal() => return false,
                        _ => {}
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            client.sync("/").await?;
            report.session_after = client.session_id();
            report.failover_ran = true;
            say(
                out,
                format!(
                    "   client {}: session {:#x} (same session: {}) via {}",
                    if reconnected {
                        "reconnected"
                    } else {
                        "stayed connected"
                    },
                    report.session_after,
                    report.session_after == report.session_before,
                    client
                        .connected_server()
                        .map(|a| a.to_string())
                        .unwrap_or_default()
                ),
            );
            ensemble.restart(leader).await?;
        }
        None => {
            report.session_after = client.session_id();
            say(
                out,
                "6. (skipped the leader failure: it needs the in-process ensemble)",
            );
        }
    }
    report.lock_survived = second.lost_reason().is_none()
        && client
            .exists(second.node_path())
            .await?
            .is_some_and(|s| s.ephemeral_owner == client.session_id());
    report.leadership_survived = latches[next_index].is_leader();
    say(
        out,
        format!(
            "   task B still holds the lock: {}; {} still leads: {}",
            report.lock_survived,
            latches[next_index].id(),
            report.leadership_survived
        ),
    );

    second.release().await?;
    monitor.abort();
    report.max_simultaneous_leaders = max_leaders.load(std::sync::atomic::Ordering::SeqCst);
    for l in &latches {
        let _ = l.close().await;
    }
    client.close().await?;
    say(out, "7. done: session closed, its ephemeral nodes are gone");
    Ok(report)
}

/// Waits until exactly one running latch leads and returns its index.
async fn wait_for_one_leader(latches: &[LeaderLatch]) -> Result<usize, Failure> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut receivers: Vec<_> = latches.iter().map(|l| l.leadership()).collect();
    loop {
        let leaders: Vec<usize> = (0..latches.len())
            .filter(|&i| latches[i].is_leader())
            .collect();
        if let [only] = leaders[..] {
            return Ok(only);
        }
        let changed =
            futures::future::select_all(receivers.iter_mut().map(|r| Box::pin(r.changed())));
        if tokio::time::timeout_at(deadline.into(), changed)
            .await
            .is_err()
        {
            return Err("no single leader within 20 s".into());
        }
    }
}

/// Waits until the config watcher reports `replicas`.
async fn wait_for_replicas(
    replicas: u32,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<AppConfig>,
) -> Option<AppConfig> {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(v) = rx.recv().await {
            if v.replicas == replicas {
                return Some(v);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}
