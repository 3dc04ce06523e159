#!/usr/bin/env python3
"""Lock handoffs per second: N contenders, each its own ZooKeeper session, each
looping acquire + release on one lock for a fixed time.

Usage:
  scripts/bench/lock_handoffs.py --connect HOSTS [--contenders 16] [--seconds 10]
                                 [--warmup 2] [--client kazoo]

A handoff is one acquire + release; handoffs_per_sec is the number of
acquisitions completed by all contenders in the measured window divided by
its length. Every contender is a separate process with its own session (as
contenders on different machines would be), so Python's GIL does not couple
them. Contenders start together after connecting, run --warmup seconds
unmeasured, then --seconds measured. The lock lives under a fresh scratch
node /zk-lock-bench-<pid>-<nanos>, removed at the end.

Prints one line:
  recipe=lock client=kazoo contenders=16 seconds=10.0 handoffs=N handoffs_per_sec=X acquire_p50_ms=.. acquire_p99_ms=..
(acquire latency: from calling acquire to holding the lock, measured window only).

Clients:
  kazoo       kazoo's Lock recipe (pip install kazoo)
  zk-recipes  zk_recipes::Lock, through the zk-lock-bench program
              (examples/src/tools/zk-lock-bench.rs: the same loop, the same
              window rules and the same output line, its contenders sessions
              in one process); the binary is $ZK_LOCK_BENCH or
              <repo>/target/release/zk-lock-bench (cargo build --release -p
              examples --bin zk-lock-bench)
  floor       the bare protocol, one blocking thread per session, through
              zk-lock-floor (examples/src/tools/zk-lock-floor.rs; $ZK_LOCK_FLOOR):
              the rate no client of this lock algorithm can beat on the server
"""
import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time


def kazoo_contender(connect, lock_path, ident, start_at, warm_until, stop_at, out):
    """One contender: its own KazooClient session, acquire/release until stop_at."""
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=connect, timeout=10.0)
    zk.start(timeout=15)
    lock = zk.Lock(lock_path, identifier=str(ident))
    count = 0
    waits = []
    try:
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            t0 = time.time()
            if t0 >= stop_at:
                break
            lock.acquire()
            t1 = time.time()
            lock.release()
            if t0 >= warm_until and t1 <= stop_at:
                count += 1
                waits.append(t1 - t0)
        out.put((count, waits, None))
    except Exception as e:  # reported by the parent
        out.put((count, waits, f"contender {ident}: {e!r}"))
    finally:
        zk.stop()
        zk.close()


def run_kazoo(args, lock_path):
    from kazoo.client import KazooClient

    admin = KazooClient(hosts=args.connect, timeout=10.0)
    admin.start(timeout=15)
    scratch = lock_path.rsplit("/", 1)[0]
    admin.create(scratch)
    try:
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        # Leave time for every process to start and connect.
        start_at = time.time() + 3.0 + 0.1 * args.contenders
        warm_until = start_at + args.warmup
        stop_at = warm_until + args.seconds
        procs = [
            ctx.Process(
                target=kazoo_contender,
                args=(args.connect, lock_path, i, start_at, warm_until, stop_at, out),
            )
            for i in range(args.contenders)
        ]
        for p in procs:
            p.start()
        results = []
        deadline = stop_at + 60
        for _ in procs:
            results.append(out.get(timeout=max(1.0, deadline - time.time())))
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
        errors = [e for _, _, e in results if e]
        if errors:
            raise RuntimeError("; ".join(errors))
        total = sum(c for c, _, _ in results)
        waits = sorted(w for _, ws, _ in results for w in ws)
        return total, waits
    finally:
        admin.delete(scratch, recursive=True)
        admin.stop()
        admin.close()


# The Rust programs: client name -> (binary, environment override).
RUST_CLIENTS = {
    "zk-recipes": ("zk-lock-bench", "ZK_LOCK_BENCH"),
    "floor": ("zk-lock-floor", "ZK_LOCK_FLOOR"),
}


def run_rust(args):
    """Runs the client's Rust program with the same settings; returns its line."""
    name, env = RUST_CLIENTS[args.client]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    binary = os.environ.get(env, os.path.join(repo, "target", "release", name))
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"{binary} is missing: cargo build --release -p examples --bin {name}")
    out = subprocess.run(
        [
            binary,
            "--connect", args.connect,
            "--contenders", str(args.contenders),
            "--seconds", str(args.seconds),
            "--warmup", str(args.warmup),
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=args.warmup + args.seconds + 120,
    )
    return out.stdout.strip().splitlines()[-1]


def quantile(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    idx = max(1, min(len(sorted_vals), int(-(-q * len(sorted_vals) // 1)))) - 1
    return sorted_vals[idx]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connect", required=True)
    ap.add_argument("--contenders", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--client", choices=["kazoo", *RUST_CLIENTS], default="kazoo")
    args = ap.parse_args()
    if args.contenders < 1 or args.seconds <= 0 or args.warmup < 0:
        ap.error("--contenders must be >= 1, --seconds > 0, --warmup >= 0")
    lock_path = f"/zk-lock-bench-{os.getpid()}-{time.time_ns()}/lock"
    try:
        if args.client in RUST_CLIENTS:
            print(run_rust(args))
            return 0
        total, waits = run_kazoo(args, lock_path)
    except Exception as e:
        print(f"lock_handoffs: {e}", file=sys.stderr)
        return 1
    print(
        f"recipe=lock client={args.client} contenders={args.contenders} "
        f"seconds={args.seconds:.1f} handoffs={total} "
        f"handoffs_per_sec={total / args.seconds:.1f} "
        f"acquire_p50_ms={quantile(waits, 0.5) * 1e3:.2f} "
        f"acquire_p99_ms={quantile(waits, 0.99) * 1e3:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
