//! Four-letter words: recognised from the first four bytes of a connection,
//! answered with ZooKeeper's text formats, then the connection is closed.

use crate::server::stats::{ReplicaRole, ServerStats, StatsDetail};
use std::fmt::Write as _;

/// The version string reported by srvr/stat/mntr/envi.
pub const VERSION: &str = concat!(
    "3.9.5-zk-testserver-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);

/// Every word real ZooKeeper knows.
const WORDS: [&str; 19] = [
    "conf",
    "cons",
    "crst",
    "dirs",
    "dump",
    "envi",
    "gtmk",
    "hash",
    "isro",
    "mntr",
    "ruok",
    "srst",
    "srvr",
    "stat",
    "stmk",
    "wchc",
    "wchp",
    "wchs",
    "telnet close",
];

/// The word, if the first four bytes of a connection are one.
pub fn recognise(first: [u8; 4]) -> Option<&'static str> {
    WORDS
        .iter()
        .copied()
        .find(|w| w.len() == 4 && w.as_bytes() == first)
}

/// The four-letter words a client port answers (ZooKeeper's
/// `4lw.commands.whitelist`); the others get ZooKeeper's "not in the
/// whitelist" line. As in ZooKeeper, `srvr` is always allowed (its scripts
/// depend on it), and the default allows nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FourLetterWords {
    /// Bit i: `WORDS[i]` is allowed.
    mask: u32,
}

impl Default for FourLetterWords {
    fn default() -> Self {
        FourLetterWords::none()
    }
}

impl FourLetterWords {
    fn bit(word: &str) -> u32 {
        WORDS.iter().position(|w| *w == word).map_or(0, |i| 1 << i)
    }

    /// Only `srvr` (ZooKeeper's default).
    pub fn none() -> FourLetterWords {
        FourLetterWords {
            mask: Self::bit("srvr"),
        }
    }

    /// Every word (`4lw.commands.whitelist=*`).
    pub fn all() -> FourLetterWords {
        FourLetterWords {
            mask: (1 << WORDS.len()) - 1,
        }
    }

    /// The words of a ZooKeeper whitelist: comma-separated words, or `*` for
    /// all; blanks around words are ignored. Fails on a word ZooKeeper does
    /// not know (ZooKeeper ignores it; a typo here is better reported).
    pub fn parse(list: &str) -> Result<FourLetterWords, String> {
        let mut words = FourLetterWords::none();
        for w in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if w == "*" {
                return Ok(FourLetterWords::all());
            }
            match Self::bit(w) {
                0 => return Err(format!("unknown four-letter word {w:?}")),
                b => words.mask |= b,
            }
        }
        Ok(words)
    }

    /// Adds `word` (ignored unless ZooKeeper knows it).
    pub fn with(mut self, word: &str) -> FourLetterWords {
        self.mask |= Self::bit(word);
        self
    }

    /// Whether `word` is answered.
    pub fn allows(&self, word: &str) -> bool {
        let b = Self::bit(word);
        b != 0 && self.mask & b == b
    }
}

/// ZooKeeper's answer to a word that is not in the whitelist.
pub fn not_allowed(word: &str) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

/// What the server knows beyond its stats when answering.
#[derive(Debug, Clone)]
pub struct Context {
    /// Peer address of the asking connection (`ip:port`).
    pub peer: String,
    /// Client port.
    pub port: u16,
    /// Wall clock now, ms since the epoch.
    pub now_wall_ms: i64,
    /// Monotonic clock now, ms (same base as the stats' expiry buckets).
    pub now_mono_ms: u64,
    /// Uptime, ms.
    pub uptime_ms: u64,
}

/// What ZooKeeper answers to most words while it does not serve.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// What `word` prints of the costly statistics and what it changes (see
/// [`StatsDetail`]); `stmk` carries its mask separately
/// ([`StatsDetail::set_trace_mask`]).
pub fn detail(word: &str) -> StatsDetail {
    StatsDetail {
        data_size: word == "mntr",
        ephemerals: word == "dump",
        watches: matches!(word, "wchs" | "wchc" | "wchp"),
        digest: word == "hash",
        reset_server: word == "srst",
        reset_connections: word == "crst",
        set_trace_mask: None,
    }
}

/// The text for `word` (needs the server's stats, with at least
/// [`detail`]`(word)`; `ruok` does not use them).
pub fn answer(word: &str, s: &ServerStats, ctx: &Context) -> String {
    match word {
        "ruok" => return "imok".into(),
        "isro" if !s.serving => return "null".into(),
        "envi" | "isro" => {}
        _ if !s.serving => return NOT_SERVING.into(),
        _ => {}
    }
    match word {
        "isro" if s.read_only => "ro".into(),
        "isro" => "rw".into(),
        "srvr" => server_lines(s, false, ctx),
        "stat" => server_lines(s, true, ctx),
        "mntr" => mntr(s, ctx),
        "cons" => cons(s, ctx),
        "dump" => dump(s, ctx),
        "envi" => envi(ctx),
        "conf" => conf(s, ctx),
        "wchs" => wchs(s),
        "wchc" => wchc(s),
        "wchp" => wchp(s),
        "crst" => "Connection stats reset.\n".into(),
        "srst" => "Server stats reset.\n".into(),
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            s.storage.snapshots, s.storage.log
        ),
        "gtmk" | "stmk" => s.trace_mask.to_string(),
        // ZooKeeper lists the digests it recorded (every 128 transactions,
        // none before); this server gives its tree's digest now.
        "hash" => match s.digest {
            Some((zxid, digest)) => format!("{zxid:x}: {digest}\n"),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// Java's `Double.toString` for the values ZooKeeper prints (4 decimals at most).
fn java_double(x: f64) -> String {
    let rounded = (x * 10_000.0).round() / 10_000.0;
    let s = format!("{rounded}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

fn server_lines(s: &ServerStats, with_clients: bool, ctx: &Context) -> String {
    let c = &s.counters;
    let mut out = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        out.push_str("Clients:\n");
        for conn in &s.connections {
            let _ = writeln!(
                out,
                " /{}[1](queued={},recved={},sent={})",
                conn.peer, conn.queued, conn.counters.received, conn.counters.sent
            );
        }
        let _ = writeln!(out, " /{}[0](queued=0,recved=1,sent=0)", ctx.peer);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        c.min_latency,
        java_double(c.avg_latency()),
        c.max_latency
    );
    let _ = writeln!(out, "Received: {}", c.received);
    let _ = writeln!(out, "Sent: {}", c.sent);
    let _ = writeln!(out, "Connections: {}", s.connections.len() + 1);
    let _ = writeln!(out, "Outstanding: {}", s.outstanding);
    let _ = writeln!(out, "Zxid: {:#x}", s.zxid);
    let _ = writeln!(out, "Mode: {}", mode(s));
    let _ = writeln!(out, "Node count: {}", s.node_count);
    if is_leader(s) {
        let (last, min, max) = proposal_sizes(s);
        let _ = writeln!(out, "Proposal sizes last/min/max: {last}/{min}/{max}");
    }
    out
}

/// `standalone`, `leader` or `follower` (srvr's Mode, mntr's zk_server_state).
pub fn mode(s: &ServerStats) -> &'static str {
    if s.read_only {
        return "read-only";
    }
    match s.replica.map(|r| r.role) {
        None => "standalone",
        Some(ReplicaRole::Leader) => "leader",
        Some(ReplicaRole::Follower) => "follower",
        Some(ReplicaRole::Observer) => "observer",
        // Not reached: a member that does not serve answers NOT_SERVING.
        Some(ReplicaRole::Looking) => "looking",
    }
}

fn is_leader(s: &ServerStats) -> bool {
    s.replica.is_some_and(|r| r.role == ReplicaRole::Leader)
}

/// Last, smallest and largest proposal sizes, -1 before the first proposal.
fn proposal_sizes(s: &ServerStats) -> (i64, i64, i64) {
    match s.proposal_sizes {
        Some(p) => (p.last as i64, p.min as i64, p.max as i64),
        None => (-1, -1, -1),
    }
}

/// `mntr`'s text (`zk_<key>\t<value>` lines).
pub fn mntr(s: &ServerStats, ctx: &Context) -> String {
    let c = &s.counters;
    let mut pairs: Vec<(&str, String)> = vec![
        ("zk_version", VERSION.to_string()),
        ("zk_server_state", mode(s).into()),
    ];
    if let Some(r) = s.replica {
        let peer = match r.role {
            ReplicaRole::Leader => "leading - broadcast",
            ReplicaRole::Observer => "observing - broadcast",
            _ => "following - broadcast",
        };
        pairs.push(("zk_peer_state", peer.into()));
    }
    pairs.extend([
        ("zk_ephemerals_count", s.ephemerals_count.to_string()),
        (
            "zk_num_alive_connections",
            (s.connections.len() + 1).to_string(),
        ),
        ("zk_avg_latency", java_double(c.avg_latency())),
        ("zk_outstanding_requests", s.outstanding.to_string()),
        ("zk_znode_count", s.node_count.to_string()),
        ("zk_global_sessions", s.sessions.len().to_string()),
        ("zk_local_sessions", "0".into()),
        ("zk_packets_sent", c.sent.to_string()),
        ("zk_packets_received", c.received.to_string()),
        ("zk_watch_count", s.watch_count.to_string()),
        ("zk_min_latency", c.min_latency.to_string()),
        ("zk_max_latency", c.max_latency.to_string()),
        ("zk_approximate_data_size", s.data_size.to_string()),
        ("zk_uptime", ctx.uptime_ms.to_string()),
    ]);
    if let Some(r) = s.replica {
        pairs.push(("zk_quorum_size", r.quorum_size.to_string()));
        if r.role == ReplicaRole::Leader {
            let (last, min, max) = proposal_sizes(s);
            pairs.extend([
                ("zk_learners", r.learners.to_string()),
                ("zk_synced_followers", r.synced_followers.to_string()),
                ("zk_synced_non_voting_followers", "0".into()),
                ("zk_synced_observers", r.synced_observers.to_string()),
                ("zk_pending_syncs", s.pending_syncs.to_string()),
                ("zk_leader_uptime", r.leader_uptime_ms.to_string()),
                ("zk_last_proposal_size", last.to_string()),
                ("zk_min_proposal_size", min.to_string()),
                ("zk_max_proposal_size", max.to_string()),
            ]);
        }
    }
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k}\t{v}");
    }
    out
}

fn op_abbrev(name: &str) -> String {
    if name == "NA" {
        return name.into();
    }
    name.chars().take(4).collect::<String>().to_uppercase()
}

fn cons(s: &ServerStats, ctx: &Context) -> String {
    let mut out = String::new();
    for conn in &s.connections {
        let c = &conn.counters;
        let _ = writeln!(
            out,
            " /{}[1](queued={},recved={},sent={},sid={:#x},lop={},to={},lcxid={:#x},lzxid={:#x},minlat={},avglat={},maxlat={})",
            conn.peer,
            conn.queued,
            c.received,
            c.sent,
            conn.session_id,
            op_abbrev(conn.last_op),
            conn.timeout_ms,
            conn.last_cxid,
            conn.last_zxid,
            c.min_latency,
            c.total_latency.checked_div(c.count).unwrap_or(0),
            c.max_latency
        );
    }
    let _ = writeln!(out, " /{}[0](queued=0,recved=1,sent=0)", ctx.peer);
    out.push('\n');
    out
}

fn dump(s: &ServerStats, ctx: &Context) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    let _ = writeln!(
        out,
        "Session Sets ({})/({}):",
        s.buckets.len(),
        s.sessions.len()
    );
    for (deadline, ids) in &s.buckets {
        let wall = ctx.now_wall_ms + (*deadline as i64 - ctx.now_mono_ms as i64);
        let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date(wall));
        for id in ids {
            let _ = writeln!(out, "\t{id:#x}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", s.ephemerals.len());
    for (id, paths) in &s.ephemerals {
        let _ = writeln!(out, "{id:#x}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push_str("Connections dump:\n");
    let _ = writeln!(out, "Connections Sets (1)/({}):", s.connections.len());
    for conn in &s.connections {
        let _ = writeln!(
            out,
            "\tip: /{} sessionId: {:#x}",
            conn.peer, conn.session_id
        );
    }
    out
}

fn envi(ctx: &Context) -> String {
    let mut out = String::from("Environment:\n");
    let _ = writeln!(out, "zookeeper.version={VERSION}");
    let _ = writeln!(out, "host.name=localhost");
    let _ = writeln!(out, "os.name={}", std::env::consts::OS);
    let _ = writeln!(out, "os.arch={}", std::env::consts::ARCH);
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let _ = writeln!(out, "user.dir={dir}");
    let _ = writeln!(out, "zk_testserver.uptime_ms={}", ctx.uptime_ms);
    out
}

fn conf(s: &ServerStats, ctx: &Context) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={}", ctx.port);
    out.push_str("secureClientPort=-1\n");
    out.push_str("dataDir=memory\n");
    out.push_str("dataLogDir=memory\n");
    let _ = writeln!(out, "tickTime={}", s.tick_ms);
    out.push_str("maxClientCnxns=0\n");
    let _ = writeln!(out, "minSessionTimeout={}", s.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", s.max_session_timeout_ms);
    let _ = writeln!(out, "serverId={}", s.server_id);
    out
}

fn wchs(s: &ServerStats) -> String {
    let paths: std::collections::BTreeSet<&String> = s
        .watches_by_session
        .iter()
        .flat_map(|(_, p)| p.iter())
        .collect();
    let total: usize = s.watches_by_session.iter().map(|(_, p)| p.len()).sum();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        s.watches_by_session.len(),
        paths.len(),
        total
    )
}

fn wchc(s: &ServerStats) -> String {
    let mut out = String::new();
    for (id, paths) in &s.watches_by_session {
        let _ = writeln!(out, "{id:#x}");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push('\n');
    out
}

fn wchp(s: &ServerStats) -> String {
    let mut by_path: std::collections::BTreeMap<&String, Vec<i64>> = Default::default();
    for (id, paths) in &s.watches_by_session {
        for p in paths {
            by_path.entry(p).or_default().push(*id);
        }
    }
    let mut out = String::new();
    for (p, ids) in by_path {
        let _ = writeln!(out, "{p}");
        for id in ids {
            let _ = writeln!(out, "\t{id:#x}");
        }
    }
    out.push('\n');
    out
}

/// `java.util.Date.toString()` in UTC: `Wed Nov 25 15:54:51 UTC 2026`.
fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = WD[days.rem_euclid(7) as usize];
    let mo = MO[((month - 1).clamp(0, 11)) as usize];
    format!("{wd} {mo} {d:02} {h:02}:{m:02}:{s:02} UTC {year}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelists_as_zookeeper_reads_them() {
        let default = FourLetterWords::default();
        assert!(default.allows("srvr"));
        assert!(!default.allows("ruok") && !default.allows("cons") && !default.allows("isro"));
        let some = FourLetterWords::parse(" ruok , mntr,").unwrap();
        assert!(some.allows("ruok") && some.allows("mntr") && some.allows("srvr"));
        assert!(!some.allows("dump"));
        let all = FourLetterWords::parse("ruok,*").unwrap();
        assert!(WORDS.iter().filter(|w| w.len() == 4).all(|w| all.allows(w)));
        assert_eq!(all, FourLetterWords::all());
        assert!(FourLetterWords::parse("ruok,nope").is_err());
        assert!(!all.allows("nope"));
        assert!(default.with("isro").allows("isro"));
        assert_eq!(
            not_allowed("cons"),
            "cons is not executed because it is not in the whitelist.\n"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.406_78), "1.4068");
        assert_eq!(java_date(1_795_622_091_000), "Wed Nov 25 15:54:51 UTC 2026");
        assert_eq!(recognise(*b"ruok"), Some("ruok"));
        assert_eq!(recognise([0, 0, 0, 44]), None);
    }
}
