//! Differential test: the same randomized operation sequences against real
//! ZooKeeper (`ZK_CONNECT`) and against zk-testserver must produce the same
//! observations — errors, data, children (in order), every Stat field, ACLs, ephemeral
//! lists and watch events — once times, session ids and absolute zxids are
//! normalized (zxids relative to the run's first one, session ids by order of
//! creation, times reduced to `mtime == ctime`).
//!
//! The test is `#[ignore]`d, so plain `cargo test` lists it as ignored;
//! `.ci/run` runs it with `--ignored` against the real standalone server
//! (`scripts/conformance.sh differential`). Run by hand without
//! `ZK_CONNECT`, it fails and says why.
//! `DIFF_SEEDS=n` sets the number of seeds, `DIFF_SEED=s` replays one,
//! `DIFF_MEMBERS=3` runs zk-testserver as a 3-member ensemble.
//! `ZK_REFERENCE_VERSION` (3.8 or 3.9, exported by `conformance.sh` from
//! `ZK_REF_VERSION`) is the release of the reference; zk-testserver imitates
//! that release ([`zk_testserver::ZkVersion`]), so the test proves both.

use futures::{FutureExt, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::fmt::Write as _;
use std::time::Duration;
use zk_client::proto::MultiResult;
use zk_client::{
    Acl, AddWatchMode, Client, CreateMode, CreateOptions, Error, Id, OneshotWatch, Op, OpResult,
    Perms, PersistentWatch, ReadOp, ReadResult, Stat, WatchEvent,
};

const CLIENTS: usize = 3;
const OPS_PER_SEED: usize = 150;

/// Paths the generator uses. Containers and TTL nodes get their own leaves,
/// never parents, so the server never deletes them on its own schedule
/// (which would make zxids differ between the two servers).
const PATHS: &[&str] = &[
    "/a", "/a", "/a", "/e", "/e", "/e", "/a/b", "/a/b", "/a/d", "/a/d", "/e/f", "/e/f", "/a/b/c",
    "/e/f/g",
];
const SEQ_PREFIXES: &[&str] = &["/a/s-", "/e/q-", "/n-"];
const CONTAINERS: &[&str] = &["/k1", "/k2"];
const TTLS: &[&str] = &["/t1", "/t2"];
const USERS: &[(&str, &str)] = &[("u1", "p1"), ("u2", "p2")];

#[derive(Debug, Clone)]
enum AclChoice {
    Open,
    ReadOnly,
    Digest(usize),
    Creator,
    Ip,
}

impl AclChoice {
    fn acl(&self) -> Vec<Acl> {
        match self {
            AclChoice::Open => Acl::open_unsafe(),
            AclChoice::ReadOnly => Acl::read_unsafe(),
            AclChoice::Digest(u) => {
                vec![Acl::new(Perms::ALL, Id::digest(USERS[*u].0, USERS[*u].1))]
            }
            AclChoice::Creator => Acl::creator_all(),
            AclChoice::Ip => vec![
                Acl::new(Perms::READ | Perms::WRITE, Id::new("ip", "127.0.0.1")),
                Acl::new(Perms::READ, Id::anyone()),
            ],
        }
    }
}

#[derive(Debug, Clone)]
enum Action {
    Create(usize, String, Vec<u8>, CreateMode, AclChoice),
    Delete(usize, String, Option<i32>),
    SetData(usize, String, Vec<u8>, Option<i32>),
    GetData(usize, String, bool),
    Exists(usize, String, bool),
    GetChildren(usize, String, bool),
    GetAcl(usize, String),
    SetAcl(usize, String, AclChoice, Option<i32>),
    AddAuth(usize, usize),
    Multi(usize, Vec<Op>),
    MultiRead(usize, Vec<ReadOp>),
    AddWatch(usize, String, bool),
    GetEphemerals(usize, String),
    AllChildren(usize, String),
    Sync(usize),
    Reopen(usize),
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn version(rng: &mut StdRng) -> Option<i32> {
    match rng.random_range(0..4) {
        0 | 1 => None,
        n => Some(n - 2),
    }
}

fn data(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.random_range(0..6);
    (0..len).map(|_| rng.random_range(b'a'..=b'z')).collect()
}

fn acl_choice(rng: &mut StdRng) -> AclChoice {
    match rng.random_range(0..10) {
        0 => AclChoice::ReadOnly,
        1 => AclChoice::Digest(rng.random_range(0..USERS.len())),
        2 => AclChoice::Creator,
        3 => AclChoice::Ip,
        _ => AclChoice::Open,
    }
}

fn node_path(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => pick(rng, CONTAINERS).to_string(),
        1 => pick(rng, TTLS).to_string(),
        2 if rng.random_bool(0.3) => "/missing/x".to_string(),
        _ => pick(rng, PATHS).to_string(),
    }
}

fn create_action(rng: &mut StdRng, c: usize) -> Action {
    let roll = rng.random_range(0..10);
    let (path, mode) = if roll < 2 {
        (pick(rng, CONTAINERS).to_string(), CreateMode::Container)
    } else if roll < 3 {
        let mode = if rng.random_bool(0.5) {
            CreateMode::PersistentWithTtl
        } else {
            CreateMode::PersistentSequentialWithTtl
        };
        (pick(rng, TTLS).to_string(), mode)
    } else if roll < 5 {
        let mode = if rng.random_bool(0.5) {
            CreateMode::PersistentSequential
        } else {
            CreateMode::EphemeralSequential
        };
        (pick(rng, SEQ_PREFIXES).to_string(), mode)
    } else {
        let mode = if rng.random_bool(0.3) {
            CreateMode::Ephemeral
        } else {
            CreateMode::Persistent
        };
        (pick(rng, PATHS).to_string(), mode)
    };
    Action::Create(c, path, data(rng), mode, acl_choice(rng))
}

fn multi_op(rng: &mut StdRng) -> Op {
    match rng.random_range(0..4) {
        0 => {
            let mode = if rng.random_bool(0.5) {
                CreateMode::Persistent
            } else {
                CreateMode::PersistentSequential
            };
            let path = if mode.is_sequential() {
                pick(rng, SEQ_PREFIXES)
            } else {
                pick(rng, PATHS)
            };
            Op::create(path, data(rng), mode)
        }
        1 => Op::delete(pick(rng, PATHS), version(rng)),
        2 => Op::set_data(pick(rng, PATHS), data(rng), version(rng)),
        _ => Op::check(pick(rng, PATHS), version(rng)),
    }
}

/// The kind of watch one client keeps on one path. ZooKeeper 3.8 keeps one
/// watch mode per path and connection (a later addWatch replaces an earlier
/// watch of another kind); 3.9 and zk-testserver keep them side by side.
/// The generator never mixes kinds on a path within a session, so the
/// comparison with the 3.8 reference stays about shared behaviour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WatchClass {
    Standard,
    Persistent,
    Recursive,
}

fn generate(seed: u64) -> Vec<Action> {
    let mut rng = StdRng::seed_from_u64(seed);
    let raw: Vec<Action> = (0..OPS_PER_SEED)
        .map(|_| {
            let c = rng.random_range(0..CLIENTS);
            match rng.random_range(0..100) {
                0..=29 => create_action(&mut rng, c),
                30..=34 => Action::Delete(c, node_path(&mut rng), version(&mut rng)),
                35..=44 => {
                    Action::SetData(c, node_path(&mut rng), data(&mut rng), version(&mut rng))
                }
                45..=52 => Action::GetData(c, node_path(&mut rng), rng.random_bool(0.5)),
                53..=58 => Action::Exists(c, node_path(&mut rng), rng.random_bool(0.6)),
                59..=64 => {
                    Action::GetChildren(c, pick(&mut rng, PATHS).into(), rng.random_bool(0.5))
                }
                65..=67 => Action::GetAcl(c, node_path(&mut rng)),
                68..=71 => Action::SetAcl(
                    c,
                    node_path(&mut rng),
                    acl_choice(&mut rng),
                    version(&mut rng),
                ),
                72..=74 => Action::AddAuth(c, rng.random_range(0..USERS.len())),
                75..=81 => {
                    let n = rng.random_range(1..4);
                    Action::Multi(c, (0..n).map(|_| multi_op(&mut rng)).collect())
                }
                82..=84 => Action::MultiRead(
                    c,
                    (0..rng.random_range(1..4))
                        .map(|_| {
                            let p = node_path(&mut rng);
                            if rng.random_bool(0.5) {
                                ReadOp::GetData(p)
                            } else {
                                ReadOp::GetChildren(p)
                            }
                        })
                        .collect(),
                ),
                85..=88 => Action::AddWatch(c, pick(&mut rng, PATHS).into(), rng.random_bool(0.5)),
                89..=90 => {
                    Action::GetEphemerals(c, pick(&mut rng, &["/", "/a", "/e/f", "/n"]).into())
                }
                91..=92 => Action::AllChildren(c, pick(&mut rng, PATHS).into()),
                93..=95 => Action::Sync(c),
                _ => Action::Reopen(c),
            }
        })
        .collect();
    let mut classes: std::collections::HashMap<(usize, String), WatchClass> = Default::default();
    let mut out = Vec::with_capacity(raw.len());
    for action in raw {
        let mut claim = |c: usize, path: &str, class: WatchClass| -> bool {
            *classes.entry((c, path.to_string())).or_insert(class) == class
        };
        let action = match action {
            Action::GetData(c, p, true) if !claim(c, &p, WatchClass::Standard) => {
                Action::GetData(c, p, false)
            }
            Action::Exists(c, p, true) if !claim(c, &p, WatchClass::Standard) => {
                Action::Exists(c, p, false)
            }
            Action::GetChildren(c, p, true) if !claim(c, &p, WatchClass::Standard) => {
                Action::GetChildren(c, p, false)
            }
            Action::AddWatch(c, p, recursive) => {
                let class = if recursive {
                    WatchClass::Recursive
                } else {
                    WatchClass::Persistent
                };
                if claim(c, &p, class) {
                    Action::AddWatch(c, p, recursive)
                } else {
                    Action::Sync(c)
                }
            }
            other => other,
        };
        if let Action::Reopen(c) = action {
            classes.retain(|(owner, _), _| *owner != c);
        }
        out.push(action);
    }
    out
}

/// One side of the comparison: clients on one server, and what they saw.
struct Side {
    connect: String,
    clients: Vec<Client>,
    oneshots: Vec<Vec<(String, OneshotWatch)>>,
    streams: Vec<Vec<(String, PersistentWatch)>>,
    sessions: Vec<i64>,
    base_zxid: i64,
}

impl Side {
    async fn new(connect: String) -> Side {
        let mut side = Side {
            connect,
            clients: Vec::new(),
            oneshots: (0..CLIENTS).map(|_| Vec::new()).collect(),
            streams: (0..CLIENTS).map(|_| Vec::new()).collect(),
            sessions: Vec::new(),
            base_zxid: 0,
        };
        for _ in 0..CLIENTS {
            let c = side.open().await;
            side.clients.push(c);
        }
        side
    }

    async fn open(&mut self) -> Client {
        let c = Client::builder(&self.connect)
            .retry(zk_client::retry::NoRetry)
            .connect()
            .await
            .expect("connect");
        self.sessions.push(c.session_id());
        c
    }

    fn zxid(&self, z: i64) -> String {
        if z <= 0 {
            z.to_string()
        } else {
            format!("+{}", z - self.base_zxid)
        }
    }

    fn owner(&self, owner: i64) -> String {
        match self.sessions.iter().position(|&s| s == owner) {
            _ if owner == 0 => "0".into(),
            Some(i) => format!("s{i}"),
            None => "other".into(),
        }
    }

    fn stat(&self, s: &Stat) -> String {
        format!(
            "cz={} mz={} pz={} v={} cv={} av={} eo={} dl={} nc={} times={}",
            self.zxid(s.czxid),
            self.zxid(s.mzxid),
            self.zxid(s.pzxid),
            s.version,
            s.cversion,
            s.aversion,
            self.owner(s.ephemeral_owner),
            s.data_length,
            s.num_children,
            if s.ctime == s.mtime { "same" } else { "moved" },
        )
    }

    fn err(e: &Error) -> String {
        let mut out = format!("err {}", e.raw_code());
        if let Some(results) = e.multi_results() {
            let _ = write!(
                out,
                " {:?}",
                results.iter().map(MultiResult::error).collect::<Vec<_>>()
            );
        }
        out
    }

    /// Runs one action and renders what it returned.
    async fn run(&mut self, action: &Action) -> String {
        let out = self.run_inner(action).await;
        let lz = match action {
            Action::Reopen(c) | Action::Create(c, ..) | Action::Delete(c, ..) => *c,
            Action::SetData(c, ..) | Action::GetData(c, ..) | Action::Exists(c, ..) => *c,
            Action::GetChildren(c, ..) | Action::GetAcl(c, ..) | Action::SetAcl(c, ..) => *c,
            Action::AddAuth(c, _) | Action::Multi(c, _) | Action::MultiRead(c, _) => *c,
            Action::AddWatch(c, ..) | Action::GetEphemerals(c, _) | Action::AllChildren(c, _) => *c,
            Action::Sync(c) => *c,
        };
        format!("{out} | lz={}", self.zxid(self.clients[lz].last_zxid()))
    }

    async fn run_inner(&mut self, action: &Action) -> String {
        match action {
            Action::Create(c, path, data, mode, acl) => {
                let mut opts = CreateOptions::new(*mode).acl(acl.acl());
                if mode.is_ttl() {
                    opts = opts.ttl(Duration::from_secs(3600));
                }
                match self.clients[*c].create(path, data.clone(), opts).await {
                    Ok((p, s)) => format!("ok {p} {}", self.stat(&s)),
                    Err(e) => Self::err(&e),
                }
            }
            Action::Delete(c, path, v) => match self.clients[*c].delete(path, *v).await {
                Ok(()) => "ok".into(),
                Err(e) => Self::err(&e),
            },
            Action::SetData(c, path, data, v) => {
                match self.clients[*c].set_data(path, data.clone(), *v).await {
                    Ok(s) => format!("ok {}", self.stat(&s)),
                    Err(e) => Self::err(&e),
                }
            }
            Action::GetData(c, path, watch) => {
                let client = self.clients[*c].clone();
                if *watch {
                    match client.get_data_watch(path).await {
                        Ok((d, s, w)) => {
                            self.oneshots[*c].push((format!("data {path}"), w));
                            format!("ok {d:?} {}", self.stat(&s))
                        }
                        Err(e) => Self::err(&e),
                    }
                } else {
                    match client.get_data(path).await {
                        Ok((d, s)) => format!("ok {d:?} {}", self.stat(&s)),
                        Err(e) => Self::err(&e),
                    }
                }
            }
            Action::Exists(c, path, watch) => {
                let client = self.clients[*c].clone();
                if *watch {
                    match client.exists_watch(path).await {
                        Ok((s, w)) => {
                            self.oneshots[*c].push((format!("exists {path}"), w));
                            format!("ok {:?}", s.map(|s| self.stat(&s)))
                        }
                        Err(e) => Self::err(&e),
                    }
                } else {
                    match client.exists(path).await {
                        Ok(s) => format!("ok {:?}", s.map(|s| self.stat(&s))),
                        Err(e) => Self::err(&e),
                    }
                }
            }
            Action::GetChildren(c, path, watch) => {
                let client = self.clients[*c].clone();
                if *watch {
                    match client.get_children2_watch(path).await {
                        Ok((k, s, w)) => {
                            self.oneshots[*c].push((format!("children {path}"), w));
                            format!("ok {:?} {}", k, self.stat(&s))
                        }
                        Err(e) => Self::err(&e),
                    }
                } else {
                    match client.get_children2(path).await {
                        Ok((k, s)) => format!("ok {:?} {}", k, self.stat(&s)),
                        Err(e) => Self::err(&e),
                    }
                }
            }
            Action::GetAcl(c, path) => match self.clients[*c].get_acl(path).await {
                Ok((acl, s)) => format!("ok {acl:?} {}", self.stat(&s)),
                Err(e) => Self::err(&e),
            },
            Action::SetAcl(c, path, acl, v) => {
                match self.clients[*c].set_acl(path, acl.acl(), *v).await {
                    Ok(s) => format!("ok {}", self.stat(&s)),
                    Err(e) => Self::err(&e),
                }
            }
            Action::AddAuth(c, u) => {
                let (user, pw) = USERS[*u];
                match self.clients[*c]
                    .add_auth("digest", format!("{user}:{pw}"))
                    .await
                {
                    Ok(()) => "ok".into(),
                    Err(e) => Self::err(&e),
                }
            }
            Action::Multi(c, ops) => match self.clients[*c].multi(ops.clone()).await {
                Ok(results) => {
                    let rendered: Vec<String> = results
                        .iter()
                        .map(|r| match r {
                            OpResult::Create { path, stat } => {
                                format!("create {path} {:?}", stat.as_ref().map(|s| self.stat(s)))
                            }
                            OpResult::SetData(s) => format!("set {}", self.stat(s)),
                            other => format!("{other:?}"),
                        })
                        .collect();
                    format!("ok {rendered:?}")
                }
                Err(e) => Self::err(&e),
            },
            Action::MultiRead(c, ops) => match self.clients[*c].multi_read(ops.clone()).await {
                Ok(results) => {
                    let rendered: Vec<String> = results
                        .iter()
                        .map(|r| match r {
                            Ok(ReadResult::Data(d, s)) => format!("data {d:?} {}", self.stat(s)),
                            Ok(ReadResult::Children(k)) => {
                                format!("children {:?}", k)
                            }
                            Err(e) => Self::err(e),
                        })
                        .collect();
                    format!("ok {rendered:?}")
                }
                Err(e) => Self::err(&e),
            },
            Action::AddWatch(c, path, recursive) => {
                let mode = if *recursive {
                    AddWatchMode::PersistentRecursive
                } else {
                    AddWatchMode::Persistent
                };
                match self.clients[*c].add_watch(path, mode).await {
                    Ok(w) => {
                        self.streams[*c].push((format!("{mode:?} {path}"), w));
                        "ok".into()
                    }
                    Err(e) => Self::err(&e),
                }
            }
            Action::GetEphemerals(c, prefix) => match self.clients[*c].get_ephemerals(prefix).await
            {
                Ok(list) => format!("ok {:?}", list),
                Err(e) => Self::err(&e),
            },
            Action::AllChildren(c, path) => {
                match self.clients[*c].get_all_children_number(path).await {
                    Ok(n) => format!("ok {n}"),
                    Err(e) => Self::err(&e),
                }
            }
            Action::Sync(c) => match self.clients[*c].sync("/").await {
                Ok(()) => "ok".into(),
                Err(e) => Self::err(&e),
            },
            Action::Reopen(c) => {
                let old = self.clients[*c].clone();
                let _ = old.close().await;
                self.oneshots[*c].clear();
                self.streams[*c].clear();
                let fresh = self.open().await;
                self.clients[*c] = fresh;
                "ok".into()
            }
        }
    }

    /// Every watch event each client has received so far, after a sync
    /// and a round trip on each connection (the sync brings a follower up
    /// to date; a notification precedes later replies).
    async fn events(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for c in 0..CLIENTS {
            let _ = self.clients[c].sync("/").await;
            let _ = self.clients[c].exists("/").await;
            let mut still = Vec::new();
            for (label, mut w) in std::mem::take(&mut self.oneshots[c]) {
                match (&mut w).now_or_never() {
                    Some(WatchEvent::Node(e)) => {
                        out.push(format!("c{c} {label}: {:?} {}", e.event_type, e.path))
                    }
                    Some(other) => out.push(format!("c{c} {label}: {other:?}")),
                    None => still.push((label, w)),
                }
            }
            self.oneshots[c] = still;
            for (label, s) in self.streams[c].iter_mut() {
                while let Some(Some(ev)) = s.next().now_or_never() {
                    match ev {
                        WatchEvent::Node(e) => {
                            out.push(format!("c{c} {label}: {:?} {}", e.event_type, e.path))
                        }
                        other => out.push(format!("c{c} {label}: {other:?}")),
                    }
                }
            }
        }
        out
    }

    async fn shutdown(self) {
        for c in self.clients {
            let _ = c.close().await;
        }
    }
}

/// The release of the reference server (`ZK_REFERENCE_VERSION`, default 3.8:
/// Debian bookworm's package, the reference the script runs by default).
fn reference_version() -> zk_testserver::ZkVersion {
    match std::env::var("ZK_REFERENCE_VERSION") {
        Ok(v) => v.parse().expect("ZK_REFERENCE_VERSION"),
        Err(_) => zk_testserver::ZkVersion::V3_8,
    }
}

async fn prepare_root(connect: &str, root: &str) -> i64 {
    let admin = Client::connect(connect).await.expect("connect");
    let stat = admin
        .create_all(root, "", CreateMode::Persistent)
        .await
        .expect("create root");
    admin.close().await.expect("close");
    stat.czxid
}

async fn run_seed(reference: &str, seed: u64) -> Result<usize, String> {
    let members = std::env::var("DIFF_MEMBERS")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1);
    let ours = zk_testserver::Ensemble::builder()
        .members(members)
        .extended_types(true)
        .zookeeper_version(reference_version())
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let root = format!("/differential/{seed}-{:x}", std::process::id());
    let real_base = prepare_root(reference, &root).await;
    let ours_base = prepare_root(&ours.connect_string(), &root).await;
    let mut real = Side::new(format!("{reference}{root}")).await;
    let mut mine = Side::new(format!("{}{root}", ours.connect_string())).await;
    real.base_zxid = real_base;
    mine.base_zxid = ours_base;
    let actions = generate(seed);
    let mut history = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let a = real.run(action).await;
        let b = mine.run(action).await;
        let ea = real.events().await;
        let eb = mine.events().await;
        history.push(format!("#{i} {action:?} -> {a} {ea:?}"));
        if std::env::var("DIFF_TRACE").is_ok() {
            eprintln!("#{i} {action:?}\n   real {a} {ea:?}\n   ours {b} {eb:?}");
        }
        if a != b || ea != eb {
            let start = history.len().saturating_sub(8);
            return Err(format!(
                "seed {seed} diverged at op #{i}: {action:?}\n  real ZooKeeper: {a}\n                  events {ea:?}\n  zk-testserver:  {b}\n                  events {eb:?}\nrecent history:\n{}",
                history[start..].join("\n")
            ));
        }
    }
    real.shutdown().await;
    mine.shutdown().await;
    Ok(actions.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs real ZooKeeper in ZK_CONNECT; scripts/conformance.sh runs it"]
async fn same_observations_as_real_zookeeper() {
    let Ok(reference) = std::env::var("ZK_CONNECT") else {
        panic!("the differential test needs real ZooKeeper (standalone) in ZK_CONNECT");
    };
    assert_ne!(
        std::env::var("ZK_REFERENCE").as_deref(),
        Ok("ensemble"),
        "the differential test compares against a standalone reference"
    );
    let seeds: Vec<u64> = match std::env::var("DIFF_SEED") {
        Ok(s) => vec![s.parse().expect("DIFF_SEED")],
        Err(_) => {
            let n: u64 = std::env::var("DIFF_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(12);
            (1..=n).collect()
        }
    };
    let mut ops = 0;
    for seed in &seeds {
        match run_seed(&reference, *seed).await {
            Ok(n) => ops += n,
            Err(report) => panic!("{report}\nreplay with DIFF_SEED={seed}"),
        }
    }
    eprintln!(
        "differential: ZooKeeper {} imitated, {} seeds, {ops} operations, no divergence",
        reference_version(),
        seeds.len()
    );
}
