//! Every example program runs on its own in-process ensemble and prints
//! what it promises.

use std::process::Command;

fn run(exe: &str) -> String {
    let out = Command::new(exe).output().expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{exe} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn expect(stdout: &str, needles: &[&str]) {
    for n in needles {
        assert!(stdout.contains(n), "missing {n:?} in:\n{stdout}");
    }
}

#[test]
fn quickstart() {
    let out = run(env!("CARGO_BIN_EXE_quickstart"));
    expect(
        &out,
        &[
            "in-process 3-member",
            "task A released; task B now holds it",
            "never two leaders at once",
            "the cache sees [\"api-1\", \"api-2\"]",
            "a watcher saw {replicas: 3}",
            "killed the ensemble's leader",
            "(same session: true)",
            "task B still holds the lock: true",
            "7. done",
        ],
    );
}

#[test]
fn lock() {
    let out = run(env!("CARGO_BIN_EXE_lock"));
    expect(&out, &["one at a time; fencing tokens increased: true"]);
    assert_eq!(out.matches("acquired the lock").count(), 3);
}

#[test]
fn rwlock() {
    let out = run(env!("CARGO_BIN_EXE_rwlock"));
    expect(
        &out,
        &[
            "both readers are queued behind the writer",
            "3 read locks held at once",
        ],
    );
}

#[test]
fn semaphore() {
    let out = run(env!("CARGO_BIN_EXE_semaphore"));
    expect(&out, &["at most 2 worked at once (limit 2)"]);
}

#[test]
fn leader_latch() {
    let out = run(env!("CARGO_BIN_EXE_leader_latch"));
    expect(&out, &["leads now", "leaders at once: 1"]);
}

#[test]
fn leader_election() {
    let out = run(env!("CARGO_BIN_EXE_leader_election"));
    expect(&out, &["6 terms ran; at most 1 leader at a time"]);
}

#[test]
fn queue() {
    let out = run(env!("CARGO_BIN_EXE_queue"));
    expect(&out, &["processed 20 distinct jobs", "queue empty: true"]);
}

#[test]
fn barrier() {
    let out = run(env!("CARGO_BIN_EXE_barrier"));
    assert_eq!(out.matches("passed the barrier").count(), 3);
    assert_eq!(out.matches("left the round").count(), 3);
    expect(&out, &["all workers finished the round together"]);
}

#[test]
fn service_discovery() {
    let out = run(env!("CARGO_BIN_EXE_service_discovery"));
    expect(
        &out,
        &[
            "round-robin picks: [\"search-1\", \"search-2\", \"search-3\", \"search-1\"]",
            "the cache now sees [\"search-1\", \"search-3\"]",
        ],
    );
}

#[test]
fn config_watch() {
    let out = run(env!("CARGO_BIN_EXE_config_watch"));
    expect(&out, &["no update lost", "requests_per_second: 175"]);
}

#[test]
fn watch_tree() {
    let out = run(env!("CARGO_BIN_EXE_watch_tree"));
    expect(
        &out,
        &[
            "NodeCreated /app/users/ann",
            "NodeDataChanged /app/users/ann",
            "NodeDeleted /app/users/ann",
            "5 events from one persistent watch",
        ],
    );
}

#[test]
fn multi() {
    let out = run(env!("CARGO_BIN_EXE_multi"));
    expect(
        &out,
        &[
            "transfer applied atomically: 3 ops",
            "per-op results: [failed: bad version (-103), not applied: another op failed]",
            "alice=70 bob=30",
        ],
    );
}

#[test]
fn acl() {
    let out = run(env!("CARGO_BIN_EXE_acl"));
    expect(
        &out,
        &[
            "stranger reads /release: v1.4",
            "stranger may not change /release: not authorized",
            "stranger may not read /secret: not authorized",
        ],
    );
}
