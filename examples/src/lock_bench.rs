//! What the two lock benchmark programs share (`zk-lock-bench`, on
//! zk_recipes::Lock, and `zk-lock-floor`, the bare protocol): their
//! arguments, the timeline of an acquisition, and their output lines.

use crate::bench;
use std::time::Instant;

/// The command line both programs take.
#[derive(Debug, Clone, PartialEq, clap::Parser)]
pub struct LockArgs {
    /// The connect string.
    #[arg(long, value_name = "HOSTS")]
    pub connect: String,
    /// Contenders, each with its own session.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = bench::positive)]
    pub contenders: usize,
    /// The measured window, in seconds (> 0).
    #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = seconds(false),
          allow_negative_numbers = true)]
    pub seconds: f64,
    /// The unmeasured start, in seconds (>= 0).
    #[arg(long, value_name = "S", default_value_t = 2.0, value_parser = seconds(true),
          allow_negative_numbers = true)]
    pub warmup: f64,
}

/// A parser of a finite number of seconds, above zero (or zero too).
fn seconds(zero_ok: bool) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |v| match v.parse::<f64>() {
        Ok(s) if s.is_finite() && (s > 0.0 || (zero_ok && s == 0.0)) => Ok(s),
        _ if zero_ok => Err("must be a number of seconds >= 0".into()),
        _ => Err("must be a number of seconds > 0".into()),
    }
}

/// The timeline of one counted acquisition.
#[derive(Debug, Clone, Copy)]
pub struct Acquisition {
    /// When acquire was called.
    pub started: Instant,
    /// When the lock was held.
    pub held: Instant,
    /// When the release returned.
    pub released: Instant,
}

/// The result line (stdout) and the `breakdown:` line (stderr) for
/// `acquisitions`, the counted acquisitions of every contender:
///
/// `recipe=lock client=CLIENT contenders=N seconds=S handoffs=N
/// handoffs_per_sec=X acquire_p50_ms=.. acquire_p99_ms=..`
///
/// `breakdown: gap_p50_us=.. release_p50_us=.. release_to_held_p50_us=..`,
/// from consecutive holders ordered by when they held: `gap` is from one
/// holder holding to the next holding, `release` the holder's release, and
/// `release_to_held` from the end of that release to the next holder holding.
pub fn report(client: &str, args: &LockArgs, acquisitions: &mut [Acquisition]) -> (String, String) {
    let mut ns: Vec<u64> = acquisitions
        .iter()
        .map(|a| (a.held - a.started).as_nanos() as u64)
        .collect();
    ns.sort_unstable();
    let ms = |q| bench::quantile_us(&ns, q) / 1000.0;
    let line = format!(
        "recipe=lock client={client} contenders={} seconds={:.1} handoffs={} \
         handoffs_per_sec={:.1} acquire_p50_ms={:.2} acquire_p99_ms={:.2}",
        args.contenders,
        args.seconds,
        ns.len(),
        ns.len() as f64 / args.seconds,
        ms(0.5),
        ms(0.99)
    );
    acquisitions.sort_by_key(|a| a.held);
    let (mut gap, mut release, mut release_to_held) = (Vec::new(), Vec::new(), Vec::new());
    for pair in acquisitions.windows(2) {
        let (before, next) = (pair[0], pair[1]);
        gap.push((next.held - before.held).as_nanos() as u64);
        release.push((before.released - before.held).as_nanos() as u64);
        // A watch may fire before the delete's own reply arrives.
        release_to_held.push(
            next.held
                .saturating_duration_since(before.released)
                .as_nanos() as u64,
        );
    }
    let p50 = |v: &mut Vec<u64>| {
        v.sort_unstable();
        bench::quantile_us(v, 0.5)
    };
    let breakdown = format!(
        "breakdown: gap_p50_us={:.1} release_p50_us={:.1} release_to_held_p50_us={:.1}",
        p50(&mut gap),
        p50(&mut release),
        p50(&mut release_to_held),
    );
    (line, breakdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use clap::{CommandFactory, Parser};

    fn args(list: &[&str]) -> Result<LockArgs, clap::Error> {
        LockArgs::try_parse_from(std::iter::once("prog").chain(list.iter().copied()))
    }

    #[test]
    fn arguments_have_defaults_and_are_checked() {
        LockArgs::command().debug_assert();
        let a = args(&["--connect", "h:1"]).unwrap();
        assert_eq!((a.contenders, a.seconds, a.warmup), (16, 10.0, 2.0));
        // scripts/bench/lock_handoffs.py, BENCHMARKS.md
        let line = [
            "--connect",
            "h:1",
            "--contenders",
            "16",
            "--seconds",
            "10",
            "--warmup",
            "2",
        ];
        assert!(args(&line).is_ok());
        let a = args(&["--connect", "h:1", "--contenders", "4", "--seconds", "1.5"]).unwrap();
        assert_eq!((a.contenders, a.seconds), (4, 1.5));
        assert!(args(&["--connect", "h:1", "--warmup", "0"]).is_ok());
        assert!(args(&[]).unwrap_err().to_string().contains("--connect"));
        for (bad, flag) in [
            (["--contenders", "0"], "--contenders"),
            (["--contenders", "x"], "--contenders"),
            (["--seconds", "NaN"], "--seconds"),
            (["--seconds", "0"], "--seconds"),
            (["--warmup", "-1"], "--warmup"),
        ] {
            let e = args(&["--connect", "h:1", bad[0], bad[1]]).unwrap_err();
            assert!(e.to_string().contains(flag), "{bad:?}: {e}");
        }
        assert!(args(&["--bogus"]).is_err());
        assert_eq!(args(&["--help"]).unwrap_err().exit_code(), 0);
    }

    #[test]
    fn the_report_counts_handoffs_and_splits_the_gap() {
        let t = Instant::now();
        let at = |us| t + Duration::from_micros(us);
        // Two holders: the second holds 300 µs after the first, whose
        // release took 100 µs.
        let mut acquisitions = vec![
            Acquisition {
                started: at(1000),
                held: at(1300),
                released: at(1400),
            },
            Acquisition {
                started: at(0),
                held: at(1000),
                released: at(1100),
            },
        ];
        let a = args(&["--connect", "h:1", "--seconds", "2"]).unwrap();
        let (line, breakdown) = report("floor", &a, &mut acquisitions);
        assert!(line.starts_with("recipe=lock client=floor contenders=16 seconds=2.0 handoffs=2 handoffs_per_sec=1.0 "), "{line}");
        assert_eq!(
            breakdown,
            "breakdown: gap_p50_us=300.0 release_p50_us=100.0 release_to_held_p50_us=200.0"
        );
    }
}
