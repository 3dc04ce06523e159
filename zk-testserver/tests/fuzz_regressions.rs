//! Replays every committed fuzz input through the fuzz targets' bodies
//! (`zk_testserver::fuzzing`): the seed corpora under `fuzz/seeds/<target>/`
//! and the inputs that once crashed a target, kept under
//! `fuzz/regressions/<target>/`. A fixed crash stays fixed.
//!
//! `ZK_FUZZ_WRITE_SEEDS=1 cargo test -p zk-testserver --test fuzz_regressions`
//! regenerates the derived seed corpora (transactions, snapshots and data
//! files made by replaying the real ZooKeeper frames in the
//! `server_requests` seeds).

use std::fs;
use std::path::{Path, PathBuf};
use zk_testserver::fuzzing;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let data = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

#[test]
fn committed_fuzz_inputs_replay_cleanly() {
    let mut replayed = 0;
    for target in fuzzing::TARGETS {
        for kind in ["seeds", "regressions"] {
            for (path, data) in inputs(kind, target) {
                let ok = std::panic::catch_unwind(|| fuzzing::run(target, &data));
                assert!(
                    matches!(ok, Ok(true)),
                    "{target} failed on {}",
                    path.display()
                );
                replayed += 1;
            }
        }
    }
    // The real-ZooKeeper frames are there at least.
    assert!(
        !inputs("seeds", "server_requests").is_empty(),
        "no server_requests seeds"
    );
    eprintln!("replayed {replayed} inputs");
}

#[test]
fn derived_seeds_are_accepted() {
    let frames: Vec<Vec<u8>> = inputs("seeds", "server_requests")
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let derived = fuzzing::derived_seeds(&frames);
    for target in ["txn_decode", "snapshot_decode", "storage_files"] {
        assert!(
            derived.iter().any(|(t, _)| *t == target),
            "no derived seed for {target}"
        );
    }
    for (target, data) in &derived {
        fuzzing::run(target, data);
    }
    if std::env::var_os("ZK_FUZZ_WRITE_SEEDS").is_some() {
        for (i, (target, data)) in derived.iter().enumerate() {
            let dir = fuzz_dir().join("seeds").join(target);
            fs::create_dir_all(&dir).expect("seed dir");
            fs::write(dir.join(format!("derived-{i:04}")), data).expect("write seed");
        }
    }
}
