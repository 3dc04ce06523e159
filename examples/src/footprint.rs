//! The workload behind `zk-footprint`: what idle sessions and registered
//! watches cost, written once for any ZooKeeper client.
//!
//! `zk-footprint` (zk-client) and `zk-footprint-peer` in
//! `scripts/bench/peer/` (the `zookeeper-client` crate) both compile this
//! file, as they do [`mod@crate::bench`], so the two measure exactly the
//! same thing. A client implements [`Footprint`]. The file depends on `std`,
//! `tokio`, `futures` and `clap` alone.
//!
//! # Workload
//!
//! `--mode sessions --steps 1,10,100`: opens sessions one step at a time
//! until the process holds 1, then 10, then 100 of them (each with
//! `--session-timeout-ms`, each idle apart from the client's own pings).
//!
//! `--mode watches --steps 1,1000,100000`: opens one session, then registers
//! one-shot watches with `exists` on distinct absent paths
//! `/zk-footprint-<pid>-<nanos>/w<i>` (nothing is created, so nothing is left
//! behind; the server keeps an exists watch on an absent node like any data
//! watch) until the session holds 1, then 1000, then 100 000 of them,
//! `--concurrency` registrations in flight.
//!
//! After each step (and once before the first, count 0, step 0) the process
//! prints one line on stdout,
//! `mode=sessions step=3 count=100 rss_kib=12345 hwm_kib=13000 not_connected=0 secs=0.42`:
//! its own resident memory (`VmRSS`, and the peak `VmHWM`, from
//! `/proc/self/status`), how many sessions are not connected with the
//! session they started with at that moment (reconnecting, expired or
//! replaced), and the seconds the step took. With `--pause` it then waits
//! for a line on standard input before the next step (so a script can
//! measure the server, or load it, at each step; end of input stops the
//! pausing), and after the last step's pause prints the line once more with
//! `step=final` (what the held sessions went through meanwhile). Finally
//! every session is closed.

use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::io::BufRead as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What grows from step to step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Idle sessions in one process.
    Sessions,
    /// One-shot watches on one session.
    Watches,
}

impl Mode {
    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sessions => "sessions",
            Mode::Watches => "watches",
        }
    }
}

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
pub struct Args {
    /// ZooKeeper connect string, host:port[,host:port...].
    #[arg(long, value_name = "HOSTS")]
    pub connect: String,
    /// What grows.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Mode,
    /// Cumulative counts to stop at, ascending, comma-separated.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', required = true)]
    pub steps: Vec<usize>,
    /// Session timeout asked for, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub session_timeout_ms: u64,
    /// Connections or watch registrations in flight at once (> 0).
    #[arg(long, value_name = "C", default_value_t = 64, value_parser = crate::bench::positive)]
    pub concurrency: usize,
    /// Wait for a line on standard input after each step.
    #[arg(long)]
    pub pause: bool,
}

impl Args {
    /// Checks that the steps ascend.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err("--steps must be strictly ascending".into());
        }
        Ok(())
    }
}

/// What the footprint workload needs from a client.
pub trait Footprint: Send + Sync + 'static {
    /// One session of the client.
    type Session: Send + Sync + 'static;
    /// What a registered watch is held as (dropped at the end).
    type Watch: Send + 'static;
    /// Opens a session with the given timeout.
    fn open(&self, timeout: Duration)
        -> impl Future<Output = Result<Self::Session, String>> + Send;
    /// Registers a one-shot watch on `path` with `exists`.
    fn watch(
        session: &Self::Session,
        path: &str,
    ) -> impl Future<Output = Result<Self::Watch, String>> + Send;
    /// Whether the session is connected right now.
    fn connected(session: &Self::Session) -> bool;
    /// Closes the session.
    fn close(session: Self::Session) -> impl Future<Output = ()> + Send;
}

/// `VmRSS` and `VmHWM` of this process in KiB (0 where unknown).
pub fn own_memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Prints the line of one step and, with `--pause`, waits for a line on
/// stdin (returns whether to keep pausing: false once stdin has ended).
async fn report(
    args: &Args,
    step: &str,
    count: usize,
    not_connected: usize,
    took: Duration,
    pausing: bool,
) -> bool {
    let (rss, hwm) = own_memory_kib();
    println!(
        "mode={} step={step} count={count} rss_kib={rss} hwm_kib={hwm} not_connected={not_connected} secs={:.2}",
        args.mode.name(),
        took.as_secs_f64()
    );
    if !pausing {
        return false;
    }
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        matches!(std::io::stdin().lock().read_line(&mut line), Ok(n) if n > 0)
    })
    .await
    .unwrap_or(false)
}

/// Runs the whole workload, printing one line per step.
pub async fn run<F: Footprint>(client: F, args: Args) -> Result<(), String> {
    args.validate()?;
    let timeout = Duration::from_millis(args.session_timeout_ms);
    let mut pausing = args.pause;
    match args.mode {
        Mode::Sessions => {
            let mut sessions: Vec<F::Session> = Vec::new();
            pausing = report(&args, "0", 0, 0, Duration::ZERO, pausing).await;
            let mut outcome = Ok(());
            for (k, &target) in args.steps.iter().enumerate() {
                let t0 = Instant::now();
                if let Err(e) = open_sessions(&client, timeout, target, &args, &mut sessions).await
                {
                    outcome = Err(e);
                    break;
                }
                let down = sessions.iter().filter(|s| !F::connected(s)).count();
                let step = (k + 1).to_string();
                pausing = report(&args, &step, sessions.len(), down, t0.elapsed(), pausing).await;
            }
            if args.pause && outcome.is_ok() {
                let down = sessions.iter().filter(|s| !F::connected(s)).count();
                report(&args, "final", sessions.len(), down, Duration::ZERO, false).await;
            }
            close_all::<F>(sessions).await;
            outcome
        }
        Mode::Watches => {
            let session = client.open(timeout).await?;
            let outcome = hold_watches::<F>(&session, &args, pausing).await;
            F::close(session).await;
            outcome
        }
    }
}

/// Opens sessions until `sessions` holds `target`, `--concurrency` at once.
async fn open_sessions<F: Footprint>(
    client: &F,
    timeout: Duration,
    target: usize,
    args: &Args,
    sessions: &mut Vec<F::Session>,
) -> Result<(), String> {
    let mut inflight = FuturesUnordered::new();
    let mut next = sessions.len();
    loop {
        while next < target && inflight.len() < args.concurrency {
            inflight.push(client.open(timeout));
            next += 1;
        }
        match inflight.next().await {
            Some(Ok(s)) => sessions.push(s),
            Some(Err(e)) => {
                // Keep what did open, so that it is closed.
                while let Some(r) = inflight.next().await {
                    if let Ok(s) = r {
                        sessions.push(s);
                    }
                }
                return Err(format!("opening session {}: {e}", sessions.len() + 1));
            }
            None => return Ok(()),
        }
    }
}

/// The watches mode on one open session.
async fn hold_watches<F: Footprint>(
    session: &F::Session,
    args: &Args,
    mut pausing: bool,
) -> Result<(), String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let base = format!("/zk-footprint-{}-{nanos}", std::process::id());
    let mut watches: Vec<F::Watch> = Vec::new();
    pausing = report(args, "0", 0, 0, Duration::ZERO, pausing).await;
    for (k, &target) in args.steps.iter().enumerate() {
        let t0 = Instant::now();
        let mut inflight = FuturesUnordered::new();
        let mut next = watches.len();
        loop {
            while next < target && inflight.len() < args.concurrency {
                let path = format!("{base}/w{next}");
                inflight.push(async move { F::watch(session, &path).await });
                next += 1;
            }
            match inflight.next().await {
                Some(Ok(w)) => watches.push(w),
                Some(Err(e)) => return Err(format!("watch {}: {e}", watches.len() + 1)),
                None => break,
            }
        }
        let down = usize::from(!F::connected(session));
        let step = (k + 1).to_string();
        pausing = report(args, &step, watches.len(), down, t0.elapsed(), pausing).await;
    }
    if args.pause {
        let down = usize::from(!F::connected(session));
        report(args, "final", watches.len(), down, Duration::ZERO, false).await;
    }
    Ok(())
}

/// Closes every session, 64 at once.
async fn close_all<F: Footprint>(sessions: Vec<F::Session>) {
    const AT_ONCE: usize = 64;
    let mut sessions = sessions.into_iter();
    let mut inflight = FuturesUnordered::new();
    loop {
        while inflight.len() < AT_ONCE {
            match sessions.next() {
                Some(s) => inflight.push(F::close(s)),
                None => break,
            }
        }
        if inflight.next().await.is_none() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    fn parse(s: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("zk-footprint").chain(s.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    /// How scripts/bench/curves.sh runs it.
    #[test]
    fn the_scripts_invocations_parse() {
        let a = parse(
            "--connect h:1 --mode sessions --steps 1,10,100,1000 --session-timeout-ms 2000 --pause",
        )
        .unwrap();
        assert_eq!(a.steps, vec![1, 10, 100, 1000]);
        assert_eq!(
            (a.mode, a.session_timeout_ms, a.pause),
            (Mode::Sessions, 2000, true)
        );
        a.validate().unwrap();
        let a = parse("--connect h:1 --mode watches --steps 1,100000").unwrap();
        assert_eq!((a.mode, a.concurrency, a.pause), (Mode::Watches, 64, false));
    }

    #[test]
    fn bad_steps_are_rejected() {
        assert!(parse("--connect h:1 --mode watches").is_err());
        assert!(parse("--connect h:1 --mode watches --steps 1,x").is_err());
        let a = parse("--connect h:1 --mode watches --steps 10,10").unwrap();
        assert!(a.validate().is_err());
        assert!(parse("--connect h:1 --mode watches --steps 1 --concurrency 0").is_err());
    }

    #[test]
    fn reads_its_own_memory() {
        let (rss, hwm) = own_memory_kib();
        assert!(rss > 0 && hwm >= rss, "{rss} {hwm}");
    }
}
