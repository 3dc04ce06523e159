//! A five-minute tour of zk-rs: locks with fencing tokens, a leader latch,
//! service discovery, a watched typed config, and a leader failure that the
//! client rides out with its session.
//!
//! ```sh
//! cargo run -p examples --bin quickstart                      # in-process 3-member ensemble
//! cargo run -p examples --bin quickstart -- --connect HOSTS   # an existing ensemble
//! ```

use examples::target::Target;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let target = match Target::from_args(3).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("quickstart: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match examples::quickstart::run(&target).await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
