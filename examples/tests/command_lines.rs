//! Every program's command line, as a user meets it: `--help` succeeds,
//! an unknown flag or a bad value fails with status 2 and names the flag.
//! The flags scripts pass are checked against the parsers' own unit tests
//! (`bench`, `lock_bench`, `interop`, `target`, `zk-fill`).

use std::process::{Command, Output};

/// Every binary of the crate: user-facing examples, then tools.
const PROGRAMS: &[(&str, &str)] = &[
    ("acl", env!("CARGO_BIN_EXE_acl")),
    ("atomic_long", env!("CARGO_BIN_EXE_atomic_long")),
    ("barrier", env!("CARGO_BIN_EXE_barrier")),
    ("children_cache", env!("CARGO_BIN_EXE_children_cache")),
    ("config_watch", env!("CARGO_BIN_EXE_config_watch")),
    ("delay_queue", env!("CARGO_BIN_EXE_delay_queue")),
    ("leader_election", env!("CARGO_BIN_EXE_leader_election")),
    ("leader_latch", env!("CARGO_BIN_EXE_leader_latch")),
    ("lock", env!("CARGO_BIN_EXE_lock")),
    ("multi", env!("CARGO_BIN_EXE_multi")),
    ("persistent_node", env!("CARGO_BIN_EXE_persistent_node")),
    ("queue", env!("CARGO_BIN_EXE_queue")),
    ("quickstart", env!("CARGO_BIN_EXE_quickstart")),
    ("reentrant_lock", env!("CARGO_BIN_EXE_reentrant_lock")),
    ("rwlock", env!("CARGO_BIN_EXE_rwlock")),
    ("semaphore", env!("CARGO_BIN_EXE_semaphore")),
    ("service_discovery", env!("CARGO_BIN_EXE_service_discovery")),
    ("service_provider", env!("CARGO_BIN_EXE_service_provider")),
    ("simple_queue", env!("CARGO_BIN_EXE_simple_queue")),
    ("watch_tree", env!("CARGO_BIN_EXE_watch_tree")),
    ("work_sharing", env!("CARGO_BIN_EXE_work_sharing")),
    ("zk-bench", env!("CARGO_BIN_EXE_zk-bench")),
    ("zk-fill", env!("CARGO_BIN_EXE_zk-fill")),
    ("zk-interop", env!("CARGO_BIN_EXE_zk-interop")),
    ("zk-lock-bench", env!("CARGO_BIN_EXE_zk-lock-bench")),
    ("zk-lock-floor", env!("CARGO_BIN_EXE_zk-lock-floor")),
];

fn run(exe: &str, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .output()
        .expect("run the program")
}

#[test]
fn every_program_answers_help_with_success() {
    for (name, exe) in PROGRAMS {
        let out = run(exe, &["--help"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name} --help: {out:?}");
        assert!(stdout.contains("Usage:"), "{name} --help:\n{stdout}");
        if !name.starts_with("zk-") {
            assert!(
                stdout.contains("--connect <HOSTS>"),
                "{name} --help:\n{stdout}"
            );
        }
    }
}

#[test]
fn every_program_rejects_an_unknown_flag() {
    for (name, exe) in PROGRAMS {
        let out = run(exe, &["--no-such-flag"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        assert!(stderr.contains("--no-such-flag"), "{name}:\n{stderr}");
    }
}

#[test]
fn a_bad_value_fails_naming_its_flag() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("atomic_long", &["--hits", "many"], "--hits"),
        ("queue", &["--count", "-"], "--count"),
        ("simple_queue", &["--count", "ten"], "--count"),
        (
            "zk-bench",
            &[
                "--connect",
                "h:1",
                "--op",
                "get",
                "--ops",
                "0",
                "--concurrency",
                "1",
            ],
            "--ops",
        ),
        (
            "zk-fill",
            &["--connect", "h:1", "--fanout", "0"],
            "--fanout",
        ),
        (
            "zk-interop",
            &[
                "--connect",
                "h:1",
                "--ns",
                "/i",
                "--scenario",
                "mutex",
                "--rounds",
                "x",
            ],
            "--rounds",
        ),
        (
            "zk-lock-bench",
            &["--connect", "h:1", "--seconds", "0"],
            "--seconds",
        ),
        (
            "zk-lock-floor",
            &["--connect", "h:1", "--contenders", "0"],
            "--contenders",
        ),
    ];
    for (name, args, flag) in cases {
        let exe = PROGRAMS.iter().find(|(n, _)| n == name).expect("known").1;
        let out = run(exe, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {out:?}");
        assert!(stderr.contains(flag), "{name} {args:?}:\n{stderr}");
    }
}
