//! Mutual exclusion under faults, judged by fencing tokens.
//!
//! Several clients, each behind its own fault proxy, run several contenders
//! that take the same [`Lock`] again and again while a seeded schedule of
//! faults hits the clients: dropped connections, stalls, short partitions
//! (the session survives), long partitions (the server expires the session)
//! and forced session expiries. A model resource accepts a holder only with
//! a fencing token larger than every token it accepted before (stale
//! holders are fenced off, which is allowed); the property is that an
//! accepted holder is never admitted while another accepted holder is still
//! active — that is, neither released nor told by `lost()` that it lost the
//! lock.
//!
//! `PROP_SEED` replays a schedule; `PROP_SECS` sets the duration (default
//! 20 s). The seed is printed at the start and in every failure.

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use zk_client::{Client, ConnectionState};
use zk_recipes::{Lock, LockGuard};
use zk_testserver::proxy::FaultProxy;

const CLIENTS: usize = 3;
const CONTENDERS: usize = 2;

struct Active {
    token: i64,
    client: usize,
    lost: Arc<AtomicBool>,
}

#[derive(Default)]
struct Resource {
    current: Option<Active>,
    max_token: i64,
    accepted: u64,
    fenced: u64,
    violations: Vec<String>,
}

impl Resource {
    /// A holder presents its token. Returns whether it was accepted.
    fn enter(&mut self, token: i64, client: usize, lost: &Arc<AtomicBool>) -> bool {
        if token <= self.max_token {
            self.fenced += 1;
            return false;
        }
        if let Some(cur) = &self.current {
            if !cur.lost.load(Ordering::SeqCst) {
                self.violations.push(format!(
                    "token {token:#x} (client {client}) admitted while {:#x} (client {}) \
                     was still active",
                    cur.token, cur.client
                ));
            }
        }
        self.max_token = token;
        self.accepted += 1;
        self.current = Some(Active {
            token,
            client,
            lost: lost.clone(),
        });
        true
    }

    fn exit(&mut self, token: i64) {
        if self.current.as_ref().is_some_and(|c| c.token == token) {
            self.current = None;
        }
    }

    fn live_holder_on(&self, client: usize) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.client == client && !c.lost.load(Ordering::SeqCst))
    }
}

async fn contend(
    lock: Lock,
    client: usize,
    resource: Arc<Mutex<Resource>>,
    stop: Arc<AtomicBool>,
    seed: u64,
    errors: Arc<AtomicU64>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::SeqCst) {
        let guard: LockGuard =
            match tokio::time::timeout(Duration::from_secs(5), lock.acquire()).await {
                Ok(Ok(g)) => g,
                Ok(Err(_)) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(_) => continue,
            };
        let lost = Arc::new(AtomicBool::new(false));
        {
            let lost = lost.clone();
            let signal = guard.lost();
            tokio::spawn(async move {
                signal.await;
                lost.store(true, Ordering::SeqCst);
            });
        }
        let token = guard.fencing_token();
        let accepted = resource.lock().unwrap().enter(token, client, &lost);
        if accepted {
            let hold = Duration::from_millis(rng.random_range(0..40));
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = guard.lost() => {}
            }
            resource.lock().unwrap().exit(token);
        }
        let _ = guard.release().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_exclusion_under_random_faults() {
    let env = env().await;
    let seed: u64 = std::env::var("PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let secs: u64 = std::env::var("PROP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    eprintln!("mutual exclusion property: PROP_SEED={seed} PROP_SECS={secs}");
    let mut rng = StdRng::seed_from_u64(seed);

    let resource = Arc::new(Mutex::new(Resource::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut proxies: Vec<FaultProxy> = Vec::new();
    let mut clients: Vec<Client> = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (proxy, builder) = env.proxied().await;
        let client = builder.connect().await.unwrap();
        for k in 0..CONTENDERS {
            tasks.push(tokio::spawn(contend(
                Lock::new(&client, "/mutex"),
                c,
                resource.clone(),
                stop.clone(),
                seed ^ ((c * CONTENDERS + k) as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                errors.clone(),
            )));
        }
        proxies.push(proxy);
        clients.push(client);
    }

    let session = SESSION;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut faults = [0u32; 5];
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..600))).await;
        let k = rng.random_range(0..CLIENTS);
        let proxy = &proxies[k];
        match rng.random_range(0..100) {
            0..=34 => {
                faults[0] += 1;
                proxy.drop_connections();
            }
            35..=49 => {
                faults[1] += 1;
                proxy.stall();
            }
            50..=69 => {
                // Short partition: the session survives.
                faults[2] += 1;
                proxy.partition();
                tokio::time::sleep(session / 4).await;
                proxy.heal();
            }
            70..=89 => {
                // Long partition: the server expires the session.
                faults[3] += 1;
                proxy.partition();
                tokio::time::sleep(session + session / 2).await;
                proxy.heal();
            }
            _ => {
                // Forced expiry of a client that holds nothing: cut it off,
                // make sure no holder of it is active, then end its session
                // from elsewhere.
                proxy.refuse();
                let client = &clients[k];
                within(
                    PATIENCE,
                    client.wait_for_state(|s| {
                        s != ConnectionState::Connected && s != ConnectionState::Reconnected
                    }),
                )
                .await;
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                let busy = resource.lock().unwrap().live_holder_on(k);
                if !busy && client.session_id() != 0 {
                    faults[4] += 1;
                    if let Ok(other) = Client::builder(env.connect_string())
                        .session_timeout(session)
                        .attach_session(client.session_id(), client.session_password())
                        .connect()
                        .await
                    {
                        let _ = other.close().await;
                    }
                }
                proxy.heal();
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for p in &proxies {
        p.heal();
    }
    for t in tasks {
        within(Duration::from_secs(60), t).await.unwrap();
    }
    let r = resource.lock().unwrap();
    eprintln!(
        "seed {seed}: accepted {} holders, fenced off {} stale ones, {} acquire errors; \
         faults: {} drops, {} stalls, {} short partitions, {} long partitions, {} forced expiries",
        r.accepted,
        r.fenced,
        errors.load(Ordering::Relaxed),
        faults[0],
        faults[1],
        faults[2],
        faults[3],
        faults[4]
    );
    assert!(
        r.violations.is_empty(),
        "PROP_SEED={seed}: mutual exclusion violated: {:#?}",
        r.violations
    );
    assert!(
        r.accepted >= 10,
        "PROP_SEED={seed}: too little progress ({} holders)",
        r.accepted
    );
}
