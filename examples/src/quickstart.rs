//! The quickstart tour, as a function that narrates what it does and
//! returns the facts it observed, so tests can check them.

use crate::target::Target;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zk_client::{Client, ConnectionState};
use zk_recipes::{
    ConfigNode, LeaderLatch, Lock, LockGuard, ServiceDiscovery, ServiceInstance, Versioned,
};

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

/// How long any one step may wait for an event before the tour fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Prints one line of the narrative.
fn say(line: impl AsRef<str>) {
    println!("{}", line.as_ref());
}

/// Runs the tour on `target`, printing the narrative, and returns what it saw.
pub async fn run(target: &Target) -> Result<Report, Failure> {
    let mut report = Report::default();
    say(format!("zk-rs quickstart on an {}", target.describe()));
    let client = connect(target).await?;
    let held = lock_handoff(&client, &mut report).await?;
    let latches = Latches::elect(&client, &mut report).await?;
    service_discovery(&client, &mut report).await?;
    typed_config(&client, &mut report).await?;
    leader_failure(target, &client, &mut report).await?;
    report.lock_survived = held.lost_reason().is_none()
        && client
            .exists(held.node_path())
            .await?
            .is_some_and(|s| s.ephemeral_owner == client.session_id());
    report.leadership_survived = latches.leader().is_leader();
    say(format!(
        "   task B still holds the lock: {}; {} still leads: {}",
        report.lock_survived,
        latches.leader().id(),
        report.leadership_survived
    ));
    held.release().await?;
    report.max_simultaneous_leaders = latches.close().await;
    client.close().await?;
    say("7. done: session closed, its ephemeral nodes are gone");
    Ok(report)
}

/// Step 1: a session, chrooted at `/quickstart`.
async fn connect(target: &Target) -> Result<Client, Failure> {
    let client = target
        .client("/quickstart")
        .await
        .map_err(|e| e.to_string())?;
    say(format!(
        "1. connected: session {:#x} via {}",
        client.session_id(),
        server_of(&client)
    ));
    Ok(client)
}

/// Step 2: a lock handed from one task to another, with fencing tokens.
/// Returns the second holder's guard.
async fn lock_handoff(client: &Client, report: &mut Report) -> Result<LockGuard, Failure> {
    const PATH: &str = "/locks/reindex";
    let lock = Lock::new(client, PATH);
    let first = lock.acquire().await?;
    say(format!(
        "2. task A holds {PATH} (fencing token {:#x})",
        first.fencing_token()
    ));
    report.fencing_tokens.push(first.fencing_token());
    let waiter = {
        let lock = Lock::new(client, PATH);
        tokio::spawn(async move { lock.acquire().await })
    };
    // Task B queues behind A (it watches A's node only).
    wait_for_participants(client, &lock, PATH, 2).await?;
    first.release().await?;
    let second = waiter.await??;
    say(format!(
        "   task A released; task B now holds it (fencing token {:#x}, larger: stale holders can be fenced off)",
        second.fencing_token()
    ));
    report.fencing_tokens.push(second.fencing_token());
    Ok(second)
}

/// Waits, on a children watch of the lock's node, until `n` contenders
/// queue for `lock`.
async fn wait_for_participants(
    client: &Client,
    lock: &Lock,
    path: &str,
    n: usize,
) -> Result<(), Failure> {
    loop {
        // The watch is set before counting, so no arrival is missed.
        let (_, changed) = client.get_children_watch(path).await?;
        if lock.participants().await?.len() >= n {
            return Ok(());
        }
        tokio::time::timeout(STEP_TIMEOUT, changed)
            .await
            .map_err(|_| format!("fewer than {n} contenders on {path} after 20 s"))?;
    }
}

/// Step 3: a leader latch across three participants, and a handover.
struct Latches {
    latches: Vec<LeaderLatch>,
    /// The current leader's index.
    leader: usize,
    /// Records the most leaders seen at once, for the rest of the tour.
    monitor: tokio::task::JoinHandle<()>,
    max_leaders: Arc<AtomicUsize>,
}

impl Latches {
    /// Starts three participants, waits for a leader, closes it and waits
    /// for the next.
    async fn elect(client: &Client, report: &mut Report) -> Result<Latches, Failure> {
        let latches: Vec<LeaderLatch> = (1..=3)
            .map(|i| LeaderLatch::new(client, "/leader", format!("worker-{i}")))
            .collect();
        let max_leaders = Arc::new(AtomicUsize::new(0));
        let monitor = tokio::spawn(count_leaders(&latches, max_leaders.clone()));
        for l in &latches {
            l.start();
        }
        let first = wait_for_one_leader(&latches).await?;
        report.leaders.push(latches[first].id().to_string());
        say(format!(
            "3. leader latch: 3 participants, leader is {}",
            latches[first].id(),
        ));
        latches[first].close().await?;
        let next = wait_for_one_leader(&latches).await?;
        report.leaders.push(latches[next].id().to_string());
        say(format!(
            "   {} left; {} took over (never two leaders at once)",
            latches[first].id(),
            latches[next].id()
        ));
        Ok(Latches {
            latches,
            leader: next,
            monitor,
            max_leaders,
        })
    }

    fn leader(&self) -> &LeaderLatch {
        &self.latches[self.leader]
    }

    /// Closes every participant; returns the most leaders seen at once.
    async fn close(self) -> usize {
        self.monitor.abort();
        for l in &self.latches {
            let _ = l.close().await;
        }
        self.max_leaders.load(Ordering::SeqCst)
    }
}

/// Follows every participant's leadership and records in `max` the most
/// leaders at once, until a latch goes away.
fn count_leaders(
    latches: &[LeaderLatch],
    max: Arc<AtomicUsize>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut receivers: Vec<_> = latches.iter().map(|l| l.leadership()).collect();
    async move {
        loop {
            let now = receivers.iter().filter(|r| *r.borrow()).count();
            max.fetch_max(now, Ordering::SeqCst);
            let changed =
                futures::future::select_all(receivers.iter_mut().map(|r| Box::pin(r.changed())));
            if changed.await.0.is_err() {
                return;
            }
        }
    }
}

/// Step 4: two instances registered; a discovery cache sees both.
async fn service_discovery(client: &Client, report: &mut Report) -> Result<(), Failure> {
    let discovery = ServiceDiscovery::new(client, "/services");
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
    say(format!(
        "4. service discovery: registered api-1 and api-2; the cache sees {:?}",
        report.discovered
    ));
    Ok(())
}

/// Step 5: a typed config node, written twice; its change stream sees both.
async fn typed_config(client: &Client, report: &mut Report) -> Result<(), Failure> {
    let config: ConfigNode<AppConfig> = ConfigNode::start(client, "/config/app").await?;
    let mut changes = Box::pin(config.changes());
    let initial = AppConfig {
        replicas: 3,
        beta: false,
    };
    config.set(&initial).await?;
    report
        .config_seen
        .push(next_with_replicas(&mut changes, 3).await?);
    let updated = config
        .update(|old| AppConfig {
            replicas: 5,
            beta: old.is_some_and(|c| c.beta),
        })
        .await?;
    report
        .config_seen
        .push(next_with_replicas(&mut changes, 5).await?);
    say(format!(
        "5. typed config: a watcher saw {{replicas: 3}}, then a compare-and-set update to {{replicas: 5}} (version {})",
        updated.version
    ));
    Ok(())
}

/// The first value of `changes` with `replicas` replicas.
async fn next_with_replicas<S, E>(changes: &mut S, replicas: u32) -> Result<AppConfig, Failure>
where
    S: Stream<Item = Result<Option<Versioned<AppConfig>>, E>> + Unpin,
{
    let seen = tokio::time::timeout(STEP_TIMEOUT, async {
        while let Some(change) = changes.next().await {
            if let Ok(Some(v)) = change {
                if v.value.replicas == replicas {
                    return Some(v.value);
                }
            }
        }
        None
    });
    match seen.await {
        Ok(Some(value)) => Ok(value),
        _ => Err(format!("the watcher missed replicas={replicas}").into()),
    }
}

/// Step 6: the ensemble's leader killed; the client keeps its session.
/// Needs the in-process ensemble.
async fn leader_failure(
    target: &Target,
    client: &Client,
    report: &mut Report,
) -> Result<(), Failure> {
    report.session_before = client.session_id();
    let Some(ensemble) = &target.ensemble else {
        report.session_after = client.session_id();
        say("6. (skipped the leader failure: it needs the in-process ensemble)");
        return Ok(());
    };
    let leader = ensemble.wait_for_leader().await?;
    let states = client.state_stream();
    let started = Instant::now();
    ensemble.kill(leader).await?;
    say(format!("6. killed the ensemble's leader (member {leader})"));
    let next = ensemble.wait_for_leader().await?;
    say(format!(
        "   member {next} elected leader after {} ms",
        started.elapsed().as_millis()
    ));
    let reconnected = reconnected(states).await;
    client.sync("/").await?;
    report.session_after = client.session_id();
    report.failover_ran = true;
    say(format!(
        "   client {}: session {:#x} (same session: {}) via {}",
        if reconnected {
            "reconnected"
        } else {
            "stayed connected"
        },
        report.session_after,
        report.session_after == report.session_before,
        server_of(client)
    ));
    ensemble.restart(leader).await?;
    Ok(())
}

/// Whether the client reconnected: every client connection of a member
/// that lost its leader is dropped, and the client comes back with its
/// session. False if it stayed connected (or gave up) within the timeout.
async fn reconnected(mut states: impl Stream<Item = ConnectionState> + Unpin) -> bool {
    let seen = tokio::time::timeout(STEP_TIMEOUT, async {
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
    });
    seen.await.unwrap_or(false)
}

/// The server the client is connected to, for the narrative.
fn server_of(client: &Client) -> String {
    client
        .connected_server()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// Waits until exactly one running latch leads and returns its index.
async fn wait_for_one_leader(latches: &[LeaderLatch]) -> Result<usize, Failure> {
    let deadline = Instant::now() + STEP_TIMEOUT;
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
