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

use std::process::ExitCode;
use std::time::{Duration, Instant};
use zk_testserver::chaos::{self, RealConfig};
use zk_testserver::sim::{self, SimConfig};
use zk_testserver::workload::Summary;

struct Args {
    real: bool,
    first: u64,
    count: u64,
    duration: Option<Duration>,
    trace: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        real: false,
        first: 1,
        count: 1,
        duration: None,
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what} needs a number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sim" => args.real = false,
            "--real" => args.real = true,
            "--seeds" => args.count = num(it.next(), "--seeds")?,
            "--first" => args.first = num(it.next(), "--first")?,
            "--seed" => {
                args.first = num(it.next(), "--seed")?;
                args.count = 1;
            }
            "--duration" => {
                args.duration = Some(Duration::from_secs(num(it.next(), "--duration")?));
            }
            "--trace" => args.trace = true,
            "-h" | "--help" => {
                return Err(
                    "usage: chaos --seeds N [--sim|--real] [--seed S] [--first F] \
                            [--duration SECS] [--trace]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
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
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let started = Instant::now();
    let mut totals = Totals::default();
    let single = args.count == 1;
    for seed in args.first..args.first.saturating_add(args.count) {
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
    if let Some(d) = args.duration {
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
    if let Some(d) = args.duration {
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
