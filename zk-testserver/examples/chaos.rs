//! Randomized fault runs over many seeds, judged by the history checkers.
//!
//! ```text
//! cargo run --release -p zk-testserver --example chaos -- --seeds N [--sim|--real] [--seed S]
//!     [--first F] [--duration SECS] [--trace]
//! ```
//!
//! - `--sim` (default): the deterministic simulator; `--real`: a real
//!   in-process ensemble over TCP with real clients and tokio time.
//! - `--seeds N`: run seeds F..F+N (F from `--first`, default 1).
//! - `--seed S`: run seed S alone (a replay); with `--trace` (simulator
//!   only) every event is printed.
//! - `--duration SECS`: how long the workload and the faults run per seed
//!   (simulated seconds with `--sim`, default 20; real seconds with
//!   `--real`, default 3).
//!
//! Each violation prints its seed, the broken promise and an excerpt of the
//! history (with `--sim`, also the last events); the program then exits
//! non-zero. The last line is always
//! `seeds=… ops=… faults=… violations=…`.

use clap::Parser;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use zk_testserver::chaos::{self, RealConfig};
use zk_testserver::sim::{self, SimConfig};
use zk_testserver::workload::Summary;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "chaos",
    about = "Randomized fault runs over many seeds, judged by the history checkers"
)]
struct Args {
    /// The deterministic simulator (the default).
    #[arg(long, conflicts_with = "real")]
    sim: bool,
    /// A real in-process ensemble over TCP with real clients and tokio time.
    #[arg(long)]
    real: bool,
    /// How many seeds to run, from --first on.
    #[arg(long = "seeds", value_name = "N", default_value_t = 1)]
    count: u64,
    /// The first seed.
    #[arg(long, value_name = "F", default_value_t = 1)]
    first: u64,
    /// Run seed S alone (a replay); overrides --first and --seeds.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Seconds of workload and faults per seed (simulated with --sim,
    /// default 20; real with --real, default 3).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Print every event (simulator only; with --seed).
    #[arg(long)]
    trace: bool,
}

impl Args {
    /// The seeds to run.
    fn seeds(&self) -> std::ops::Range<u64> {
        match self.seed {
            Some(seed) => seed..seed.saturating_add(1),
            None => self.first..self.first.saturating_add(self.count),
        }
    }

    fn duration(&self) -> Option<Duration> {
        self.duration.map(Duration::from_secs)
    }
}

#[derive(Default)]
struct Totals {
    seeds: u64,
    ops: u64,
    faults: u64,
    violations: u64,
    /// What the checkers judged, summed over the passing seeds.
    checked: Summary,
}

const MAX_VIOLATIONS: u64 = 5;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let started = Instant::now();
    let mut totals = Totals::default();
    let seeds = args.seeds();
    let single = seeds.end - seeds.start == 1;
    for seed in seeds {
        let verdict = if args.real {
            run_real(seed, &args)
        } else {
            run_sim(seed, &args, single)
        };
        totals.seeds += 1;
        totals.ops += verdict.ops;
        totals.faults += verdict.faults;
        if let Some(s) = &verdict.summary {
            totals.checked += s;
        }
        if !verdict.ok {
            totals.violations += 1;
            if totals.violations >= MAX_VIOLATIONS {
                eprintln!("stopping after {MAX_VIOLATIONS} violations");
                break;
            }
        }
        if totals.seeds % 100 == 0 {
            eprintln!(
                "progress: seeds={} ops={} faults={} violations={} elapsed={:.0?}",
                totals.seeds,
                totals.ops,
                totals.faults,
                totals.violations,
                started.elapsed()
            );
        }
    }
    let c = &totals.checked;
    eprintln!(
        "checked: linearized={} inconclusive={} unknown={} reads={} watch_events={} ids={} \
         delivered={} acquisitions={} ephemerals={}",
        c.linearized,
        c.inconclusive,
        c.unknown,
        c.reads,
        c.watch_events,
        c.ids,
        c.delivered,
        c.acquisitions,
        c.ephemerals
    );
    println!(
        "seeds={} ops={} faults={} violations={}",
        totals.seeds, totals.ops, totals.faults, totals.violations
    );
    if totals.violations > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

struct Verdict {
    ok: bool,
    summary: Option<Summary>,
    ops: u64,
    faults: u64,
}

fn run_sim(seed: u64, args: &Args, single: bool) -> Verdict {
    let mut cfg = SimConfig::for_seed(seed);
    if let Some(d) = args.duration() {
        cfg.duration = d;
    }
    cfg.print_events = args.trace;
    cfg.keep_events = 80;
    let out = sim::run(cfg);
    if single {
        eprintln!(
            "seed={seed} ops={} faults={} events={} hash={:#018x} simulated={:.1?}",
            out.ops, out.faults, out.events, out.hash, out.simulated
        );
    }
    let summary = out.result.as_ref().ok().cloned();
    let ok = match &out.result {
        Ok(summary) => {
            if single {
                eprintln!("{summary:?}");
            }
            true
        }
        Err(v) => {
            println!("VIOLATION seed={seed} (replay: --sim --seed {seed})\n{v}");
            println!("last events:");
            for line in &out.tail {
                println!("  {line}");
            }
            false
        }
    };
    Verdict {
        ok,
        summary,
        ops: out.ops as u64,
        faults: out.faults,
    }
}

fn run_real(seed: u64, args: &Args) -> Verdict {
    let mut cfg = RealConfig::for_seed(seed);
    if let Some(d) = args.duration() {
        cfg.duration = d;
    }
    let out = chaos::run_blocking(cfg);
    let summary = out.result.as_ref().ok().cloned();
    let ok = match &out.result {
        Ok(_) => true,
        Err(v) => {
            println!("VIOLATION seed={seed} (replay: --real --seed {seed})\n{v}");
            false
        }
    };
    Verdict {
        ok,
        summary,
        ops: out.ops as u64,
        faults: out.faults,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("chaos").chain(line.split_whitespace()))
    }

    /// The command lines README.md, RELIABILITY.md and CI run.
    #[test]
    fn documented_command_lines_parse() {
        let a = parse("--sim --seeds 10000").unwrap();
        assert!(!a.real && a.seeds() == (1..10_001));
        let a = parse("--real --seeds 1000").unwrap();
        assert!(a.real && a.seeds() == (1..1001));
        let a = parse("--sim --seed 1234 --trace").unwrap();
        assert!(a.trace && a.seeds() == (1234..1235));
        let a = parse("--seeds 5 --first 40 --duration 7").unwrap();
        assert_eq!(a.seeds(), 40..45);
        assert_eq!(a.duration(), Some(Duration::from_secs(7)));
        assert_eq!(parse("").unwrap().seeds(), 1..2);
    }

    #[test]
    fn bad_command_lines_name_the_flag() {
        let e = parse("--seeds many").unwrap_err();
        assert!(e.to_string().contains("--seeds"), "{e}");
        assert!(parse("--sim --real").is_err());
        assert!(parse("--bogus").is_err());
        assert_eq!(
            parse("--help").unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
    }
}
