//! The Rust side of the interop suite with real Apache Curator
//! (`scripts/interop/run.sh`): each scenario is the twin of a Java program
//! under `scripts/interop/java/`, with the same znode names, markers and
//! checks, so that a herd of Curator contenders and a herd of zk-recipes
//! contenders can share one ensemble.

pub mod caches;
pub mod coordination;
pub mod discovery;
pub mod harness;
pub mod kazoo;
pub mod leaders;
pub mod locks;
pub mod nodes;
pub mod queues;

pub use harness::Harness;

/// The command line of `zk-interop`: one scenario phase per run, flag for
/// flag what `scripts/interop/run.sh` passes the Java twin.
#[derive(Debug, Clone, PartialEq, clap::Parser)]
pub struct Args {
    /// The connect string.
    #[arg(long, value_name = "HOSTS")]
    pub connect: String,
    /// The namespace the scenario works under (shared with the other side).
    #[arg(long, value_name = "PATH")]
    pub ns: String,
    /// The scenario (`mutex`, `leader-latch`, `queue`, ...).
    #[arg(long, value_name = "NAME")]
    pub scenario: String,
    /// The phase (`layout`, `mixed`, `directional`, ...).
    #[arg(long, value_name = "P", default_value = "mixed")]
    pub phase: String,
    /// This side's name in markers.
    #[arg(long, value_name = "SIDE", default_value = "rust")]
    pub side: String,
    /// Contenders this side runs.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub contenders: usize,
    /// Rounds each contender runs.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: usize,
    /// Sides taking part.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub peers: usize,
    /// This side's role in a directional phase.
    #[arg(long, value_name = "R", default_value = "")]
    pub role: String,
    /// Seconds before the run is called failed.
    #[arg(long = "deadline-s", value_name = "S", default_value_t = 120)]
    pub deadline_s: u64,
}

impl Args {
    /// The harness these arguments describe.
    pub fn harness(&self) -> Harness {
        Harness::new(
            self.connect.clone(),
            self.ns.clone(),
            self.side.clone(),
            self.contenders,
            self.rounds,
            self.peers,
            self.role.clone(),
        )
    }
}

/// Runs one scenario phase.
pub async fn run(h: &Harness, scenario: &str, phase: &str) -> harness::Result<()> {
    match scenario {
        "mutex" => locks::mutex(h, phase).await,
        "semaphore" => locks::semaphore(h, phase, 2).await,
        "semaphore-mutex" => locks::semaphore(h, phase, 1).await,
        "rwlock" => locks::rwlock(h, phase).await,
        "multilock" => locks::multilock(h, phase).await,
        "reentrant-mutex" => locks::reentrant(h, phase).await,
        "revocation" => locks::revocation(h, phase).await,
        "leader-latch" => leaders::latch(h, phase).await,
        "leader-selector" => leaders::selector(h, phase).await,
        "discovery" => discovery::run(h, phase).await,
        "persistent-node" => nodes::run(h, phase).await,
        "kazoo-lease" => kazoo::lease(h).await,
        "kazoo-partitioner" => kazoo::partitioner(h).await,
        "queue" | "locked-queue" | "priority-queue" | "simple-queue" | "delay-queue"
        | "id-queue" => queues::run(h, scenario, phase).await,
        "barrier" => coordination::barrier(h, phase).await,
        "double-barrier" => coordination::double_barrier(h, phase).await,
        "shared-count" => coordination::shared_count(h, phase).await,
        "shared-value" => coordination::shared_value(h, phase).await,
        "atomic-long" => coordination::atomic(h, phase).await,
        "group-member" => coordination::group_member(h, phase).await,
        "node-cache" | "path-cache" | "tree-cache" | "tree-cache-one-shot" => {
            caches::run(h, scenario, phase).await
        }
        other => Err(format!("unknown scenario {other}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::{CommandFactory, Parser};

    fn parse(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("zk-interop").chain(line.split_whitespace()))
    }

    /// The command lines `scripts/interop/run.sh` builds.
    #[test]
    fn every_invocation_of_run_sh_parses() {
        Args::command().debug_assert();
        for line in [
            "--connect h:1 --side rust --ns /interop/x/mutex --scenario mutex --phase layout --peers 1",
            "--connect h:1 --side rust --ns /i/m --scenario mutex --contenders 4",
            "--connect h:1 --side rust --ns /i/m --scenario mutex --contenders 4 --rounds 3",
            "--connect h:1 --side rust --ns /i/m/java-a --scenario mutex --phase directional --role a",
            "--connect h:1 --ns /i --scenario queue --deadline-s 30",
        ] {
            if let Err(e) = parse(line) {
                panic!("{line:?}: {e}");
            }
        }
        let a = parse("--connect h:1 --ns /i --scenario mutex").unwrap();
        assert_eq!((a.phase.as_str(), a.side.as_str()), ("mixed", "rust"));
        assert_eq!(
            (a.contenders, a.rounds, a.peers, a.deadline_s),
            (4, 3, 2, 120)
        );
    }

    #[test]
    fn a_bad_value_is_an_error_naming_its_flag() {
        for (line, flag) in [
            ("--contenders four", "--contenders"),
            ("--rounds -", "--rounds"),
            ("--deadline-s soon", "--deadline-s"),
        ] {
            let e = parse(&format!("--connect h:1 --ns /i --scenario mutex {line}")).unwrap_err();
            assert!(e.to_string().contains(flag), "{line}: {e}");
        }
        assert!(
            parse("--connect h:1 --ns /i").is_err(),
            "--scenario is required"
        );
    }
}
