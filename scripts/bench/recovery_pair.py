#!/usr/bin/env python3
"""Recovery time, two builds paired (BENCHMARKS L): the time from exec of
`zk-testserver --members 1 --data-dir DATA` to its first `srvr` answer,
polled every 5 ms, alternating the builds (order swapped every round).

Usage: scripts/bench/recovery_pair.py --old DIR --new DIR --data DATA
       [--rounds N] [--port P]
DIR holds a release `zk-testserver`; DATA was filled beforehand (zk-fill).
"""
import argparse
import socket
import statistics
import subprocess
import time


def srvr(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"srvr")
            out = b""
            while chunk := s.recv(4096):
                out += chunk
            return out.decode()
    except OSError:
        return None


def one(binary, data, port):
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [binary, "--members", "1", "--port", str(port), "--data-dir", data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            out = srvr(port)
            if out and "Node count" in out:
                break
            if proc.poll() is not None:
                raise SystemExit(f"recovery_pair: {binary} exited {proc.returncode}")
            time.sleep(0.005)
        ms = (time.monotonic() - t0) * 1000
    finally:
        proc.terminate()
        proc.wait()
    nodes = next(l for l in out.splitlines() if "Node count" in l)
    return ms, nodes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--port", type=int, default=26182)
    a = ap.parse_args()
    builds = {"old": a.old + "/zk-testserver", "new": a.new + "/zk-testserver"}
    times = {"old": [], "new": []}
    for r in range(a.rounds):
        for label in (["old", "new"] if r % 2 == 0 else ["new", "old"]):
            ms, nodes = one(builds[label], a.data, a.port)
            load = open("/proc/loadavg").read().split()[0]
            print(f"{r + 1}\t{label}\t{ms:.0f} ms\t{nodes}\tload={load}", flush=True)
            times[label].append(ms)
    ratios = [n / o for o, n in zip(times["old"], times["new"])]
    for r, (o, n) in enumerate(zip(times["old"], times["new"])):
        print(f"round {r + 1}: old {o:.0f} ms new {n:.0f} ms new/old {n / o:.2f}")
    print(f"median new/old {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
