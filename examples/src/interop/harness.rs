//! What every scenario shares, mirroring the Curator side
//! (`scripts/interop/java/zkrs/interop/Harness.java`): sessions, the start
//! gate, the event log, exclusion markers, the layout dump and the item
//! generator. Both sides must agree on every name and byte here.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zk_client::{Client, CreateMode, Stat};

/// An error of the harness or a recipe.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The harness's result.
pub type Result<T> = std::result::Result<T, BoxError>;

/// One scenario phase's settings and the violations it found.
#[derive(Clone)]
pub struct Harness {
    /// Connect string.
    pub connect: String,
    /// The scenario's namespace (`/interop/<run>/<scenario>`).
    pub ns: String,
    /// This side's label (`rust`).
    pub side: String,
    /// Contenders in this process.
    pub contenders: usize,
    /// Rounds per contender.
    pub rounds: usize,
    /// Processes meeting at each gate.
    pub peers: usize,
    /// A role for directional scenarios (producer, consumer, setter, ...).
    pub role: String,
    violations: Arc<Mutex<Vec<String>>>,
    clients: Arc<Mutex<Vec<Client>>>,
}

impl Harness {
    /// A harness from the settings.
    pub fn new(
        connect: String,
        ns: String,
        side: String,
        contenders: usize,
        rounds: usize,
        peers: usize,
        role: String,
    ) -> Harness {
        Harness {
            connect,
            ns,
            side,
            contenders,
            rounds,
            peers,
            role,
            violations: Arc::default(),
            clients: Arc::default(),
        }
    }

    /// A new session (one per contender), renewing itself after expiry as
    /// recipes expect.
    pub async fn new_client(&self) -> Result<Client> {
        let client = Client::builder(self.connect.clone())
            .session_timeout(Duration::from_secs(10))
            .renew_session_on_expiry(true)
            .connect()
            .await?;
        self.clients.lock().expect("clients").push(client.clone());
        Ok(client)
    }

    /// Closes every session opened by [`Harness::new_client`].
    pub async fn close_all(&self) {
        let clients = std::mem::take(&mut *self.clients.lock().expect("clients"));
        for c in clients {
            let _ = c.close().await;
        }
    }

    /// `ns/rel`.
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.ns)
    }

    /// Records (and prints) a violation.
    pub fn violation(&self, what: impl std::fmt::Display) {
        let line = format!("VIOLATION [{}] {what}", self.side);
        println!("{line}");
        self.violations.lock().expect("violations").push(line);
    }

    /// Whether anything was violated.
    pub fn failed(&self) -> bool {
        !self.violations.lock().expect("violations").is_empty()
    }

    /// A violation unless `ok`.
    pub fn check(&self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.violation(what());
        }
    }

    /// Waits until `peers` sides have reached the gate `name`.
    pub async fn gate(&self, c: &Client, name: &str) -> Result<()> {
        self.gate_as(c, name, &self.side, self.peers).await
    }

    /// Waits until `count` members (this one as `member`) have reached the
    /// gate `name`.
    pub async fn gate_as(&self, c: &Client, name: &str, member: &str, count: usize) -> Result<()> {
        let dir = self.path(&format!("gates/{name}"));
        match c
            .create_all(&format!("{dir}/{member}"), "", CreateMode::Persistent)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_node_exists() => {}
            Err(e) => return Err(e.into()),
        }
        loop {
            let (here, watch) = c.get_children_watch(&dir).await?;
            if here.len() >= count {
                return Ok(());
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), watch).await;
        }
    }

    /// Appends an entry to the scenario's event log (`log/e-`).
    pub async fn log(&self, c: &Client, entry: &str) -> Result<()> {
        self.log_to(c, "log", entry.as_bytes().to_vec()).await
    }

    /// Appends to the log directory `dir`.
    pub async fn log_to(&self, c: &Client, dir: &str, entry: Vec<u8>) -> Result<()> {
        let path = self.path(&format!("{dir}/e-"));
        match c
            .create(&path, entry.clone(), CreateMode::PersistentSequential)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_no_node() => {
                let _ = c
                    .create_all(&self.path(dir), "", CreateMode::Persistent)
                    .await;
                c.create(&path, entry, CreateMode::PersistentSequential)
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Once both sides are done: the event log must hold `expected`
    /// entries.
    pub async fn expect_log(&self, c: &Client, expected: usize) -> Result<()> {
        self.gate(c, "done").await?;
        let n = self.count(c, "log").await?;
        self.check(n == expected, || {
            format!("the event log has {n} entries, expected {expected}")
        });
        Ok(())
    }

    /// Children of `ns/dir` (0 if it does not exist).
    pub async fn count(&self, c: &Client, dir: &str) -> Result<usize> {
        match c.get_children(&self.path(dir)).await {
            Ok(v) => Ok(v.len()),
            Err(e) if e.is_no_node() => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the exclusion marker `rel` (ephemeral); one already there
    /// is a violation.
    pub async fn enter(&self, c: &Client, rel: &str, who: &str) -> Result<()> {
        match c
            .create(&self.path(rel), who.to_string(), CreateMode::Ephemeral)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_node_exists() => {
                let other = c.get_data(&self.path(rel)).await.map(|(d, _)| d);
                self.violation(format!("{who} entered {rel} held by {other:?}"));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the marker `rel`.
    pub async fn leave(&self, c: &Client, rel: &str) -> Result<()> {
        c.delete(&self.path(rel), None).await?;
        Ok(())
    }

    /// The layout probe's root for this side, created persistent here so
    /// that only what a recipe creates shows.
    pub async fn layout_root(&self, c: &Client) -> Result<String> {
        let root = self.path(&format!("layout/{}", self.side));
        c.create_all(&root, "", CreateMode::Persistent).await?;
        Ok(root)
    }

    /// Prints `LAYOUT held <path> <kind>` for every node under `root`.
    pub async fn dump(&self, c: &Client, root: &str) -> Result<()> {
        self.dump_as(c, root, "held").await
    }

    async fn dump_as(&self, c: &Client, root: &str, when: &str) -> Result<()> {
        for line in walk(c, root).await? {
            println!("LAYOUT {when} {line}");
        }
        Ok(())
    }

    /// Once the recipe let go of everything: waits until the server's
    /// container reaper has run passes enough to remove every empty
    /// container, then prints what is left as `LAYOUT after ...` (see the
    /// Java twin for the canary that observes a pass).
    pub async fn dump_after_reaping(&self, c: &Client, root: &str) -> Result<()> {
        let canary = format!("{root}-canary");
        let mut before: Option<BTreeSet<String>> = None;
        let mut stable = 0;
        for _ in 0..12 {
            c.create(&canary, "", CreateMode::Container).await?;
            c.create(&format!("{canary}/c"), "", CreateMode::Persistent)
                .await?;
            c.delete(&format!("{canary}/c"), None).await?;
            let until = tokio::time::Instant::now() + Duration::from_secs(30);
            while c.exists(&canary).await?.is_some() {
                if tokio::time::Instant::now() > until {
                    return Err(format!("the server never reaped the canary {canary}").into());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let now = walk(c, root).await?;
            // The reaper deletes a pass's candidates in no particular
            // order, so the canary may go before another container of the
            // same pass: the walk must stay the same over two more passes.
            stable = if before.as_ref() == Some(&now) {
                stable + 1
            } else {
                0
            };
            if stable == 2 {
                break;
            }
            before = Some(now);
        }
        for line in before.unwrap_or_default() {
            println!("LAYOUT after {line}");
        }
        Ok(())
    }

    /// Runs `task(k)` for each contender concurrently and waits for all; a
    /// contender's error is a violation.
    pub async fn herd<F, Fut>(&self, task: F)
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let tasks: Vec<_> = (0..self.contenders)
            .map(|k| (k, tokio::spawn(task(k))))
            .collect();
        for (k, t) in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.violation(format!("contender {k} failed: {e}")),
                Err(e) => self.violation(format!("contender {k} panicked: {e}")),
            }
        }
    }

    /// This side's name for contender `k`.
    pub fn who(&self, k: usize) -> String {
        format!("{}-{k}", self.side)
    }
}

/// The layout lines of every node under `root` (not `root` itself).
async fn walk(c: &Client, root: &str) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut todo = vec![(root.to_string(), String::new())];
    while let Some((path, rel)) = todo.pop() {
        let children = match c.get_children(&path).await {
            Ok(v) => v,
            Err(e) if e.is_no_node() => continue,
            Err(e) => return Err(e.into()),
        };
        for child in children {
            let child_path = format!("{path}/{child}");
            let Some(stat) = c.exists(&child_path).await? else {
                continue;
            };
            let child_rel = format!("{rel}/{}", normalize(&child));
            out.insert(format!("{child_rel} {}", kind(&stat)));
            todo.push((child_path, child_rel));
        }
    }
    Ok(out)
}

/// ZooKeeper shows containers and TTL nodes with ephemeralOwner 0, like
/// persistent nodes; the reaping pass tells them apart.
fn kind(stat: &Stat) -> &'static str {
    if stat.ephemeral_owner != 0 {
        "ephemeral"
    } else if stat.num_children == 0 {
        // An empty container may be reaped at any moment: run.sh leaves
        // these out of the "held" comparison ("after" shows them).
        "durable-empty"
    } else {
        "durable"
    }
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

/// A node name with uuids and the sequence suffix replaced (`<uuid>`,
/// `<seq>`), as the Java side does.
pub fn normalize(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len() && is_uuid(&bytes[i..i + 36]) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let ch = name[i..].chars().next().expect("char");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    // A delay queue's due time between separators.
    if let (Some(a), Some(b)) = (out.find('|'), out.rfind('|')) {
        let inside = &out[a + 1..b];
        if b > a
            && inside.len() >= 8
            && inside
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
        {
            out.replace_range(a + 1..b, "<time>");
        }
    }
    let tail = out.len().checked_sub(10).and_then(|s| out.get(s..));
    if let Some(tail) = tail {
        let t = tail.as_bytes();
        if (t[0] == b'-' || t[0].is_ascii_digit()) && t[1..].iter().all(u8::is_ascii_digit) {
            let keep = out.len() - 10;
            out.truncate(keep);
            out.push_str("<seq>");
        }
    }
    out
}

/// Item `i` of producer `producer`: a text head and a binary tail (item 3
/// is empty). Same bytes as `Harness.item` in Java.
pub fn item(producer: &str, i: usize) -> Vec<u8> {
    if i == 3 {
        return Vec::new();
    }
    let mut out = format!("{producer}-{i}:").into_bytes();
    let tail = (i * 7) % 50;
    out.extend((0..tail).map(|k| (i + k * 31) as u8));
    out
}

/// Hex of bytes, for messages.
pub fn show(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A short random hold (2..12 ms) inside a critical section.
pub async fn hold() {
    let ms = rand::random_range(2..12);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_like_the_java_side() {
        assert_eq!(
            normalize("_c_0f1e2d3c-4b5a-6978-8a9b-acbdcedf0011-lock-0000000012"),
            "_c_<uuid>-lock-<seq>"
        );
        assert_eq!(
            normalize("queue-1000000030000000001"),
            "queue-100000003<seq>"
        );
        assert_eq!(normalize("dyn"), "dyn");
        assert_eq!(
            normalize("queue-|1A24A637AEE|0000000001"),
            "queue-|<time>|<seq>"
        );
        assert_eq!(normalize("queue-|id-1|0000000001"), "queue-|id-1|<seq>");
        assert_eq!(item("java-0", 3), Vec::<u8>::new());
        assert_eq!(&item("p", 1)[..4], b"p-1:");
        assert_eq!(item("p", 1).len(), 4 + 7);
    }
}
