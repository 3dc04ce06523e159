//! The Rust side of the interop suite with real Apache Curator; run by
//! `scripts/interop/run.sh` next to its Java twin
//! (`scripts/interop/java/zkrs/interop/Main.java`), one scenario phase per
//! run:
//!
//! `zk-interop --connect HOSTS --ns /interop/x/mutex --scenario mutex
//! --phase mixed [--side rust] [--contenders 4] [--rounds 3] [--peers 2]
//! [--role R] [--deadline-s 120]`
//!
//! Prints `LAYOUT ...` lines (layout phase), `VIOLATION ...` lines and then
//! `OK` or `FAILED`; exits 0 only if nothing was violated.

use examples::interop::{self, Harness};
use examples::target::{arg, arg_or};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let (Some(connect), Some(ns), Some(scenario)) =
        (arg("--connect"), arg("--ns"), arg("--scenario"))
    else {
        eprintln!("usage: zk-interop --connect HOSTS --ns PATH --scenario NAME [--phase P] ...");
        return ExitCode::from(2);
    };
    let phase = arg("--phase").unwrap_or_else(|| "mixed".into());
    let h = Harness::new(
        connect,
        ns,
        arg("--side").unwrap_or_else(|| "rust".into()),
        arg_or("--contenders", 4),
        arg_or("--rounds", 3),
        arg_or("--peers", 2),
        arg("--role").unwrap_or_default(),
    );
    let deadline = Duration::from_secs(arg_or("--deadline-s", 120));
    match tokio::time::timeout(deadline, interop::run(&h, &scenario, &phase)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => h.violation(format!("{scenario}/{phase} failed: {e}")),
        Err(_) => h.violation(format!(
            "{scenario}/{phase} still running after {}s",
            deadline.as_secs()
        )),
    }
    h.close_all().await;
    if h.failed() {
        println!("FAILED");
        ExitCode::FAILURE
    } else {
        println!("OK");
        ExitCode::SUCCESS
    }
}
