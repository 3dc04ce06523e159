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

use clap::Parser as _;
use examples::interop::{self, Args};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let h = args.harness();
    let (scenario, phase) = (&args.scenario, &args.phase);
    let deadline = Duration::from_secs(args.deadline_s);
    match tokio::time::timeout(deadline, interop::run(&h, scenario, phase)).await {
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
