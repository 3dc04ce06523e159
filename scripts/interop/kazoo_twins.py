#!/usr/bin/env python3
"""The kazoo side of the interop suite (scripts/interop/run.sh): kazoo's
NonBlockingLease and SetPartitioner next to zk-recipes' twins (the Rust side
is the zk-interop example binary, scenarios kazoo-lease and
kazoo-partitioner). Same contract as the Java side: VIOLATION lines, then OK
or FAILED; exit 0 only if nothing was violated.

  kazoo_twins.py --connect HOSTS --ns PATH --scenario kazoo-lease|kazoo-partitioner
                 [--side kazoo] [--contenders 4] [--peers 2]
"""
import argparse
import datetime
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError

VIOLATIONS = []


def violation(side, what):
    line = "VIOLATION [%s] %s" % (side, what)
    print(line, flush=True)
    VIOLATIONS.append(line)


def client(connect):
    zk = KazooClient(hosts=connect, timeout=10.0)
    zk.start(timeout=30)
    return zk


def gate(zk, ns, name, side, peers):
    path = "%s/gates/%s" % (ns, name)
    zk.ensure_path(path)
    try:
        zk.create("%s/%s" % (path, side))
    except NodeExistsError:
        pass
    deadline = time.time() + 120
    while len(zk.get_children(path)) < peers:
        if time.time() > deadline:
            raise RuntimeError("gate %s: peers missing" % name)
        time.sleep(0.02)


def herd(n, fn):
    errors = []

    def run(k):
        try:
            fn(k)
        except Exception as e:  # noqa: BLE001 - reported as a violation
            errors.append("contender %d failed: %r" % (k, e))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def lease(args):
    """4 + 4 contenders obtain the same one-hour lease under different ids at once:
    exactly one may get it (kazoo's lock and zk-recipes' must exclude each other)."""
    first = client(args.connect)
    gate(first, args.ns, "start", args.side, args.peers)

    def contend(k):
        zk = client(args.connect)
        ident = "%s-%d" % (args.side, k)
        if zk.NonBlockingLease(args.ns + "/lease", datetime.timedelta(hours=1), identifier=ident):
            zk.create(args.ns + "/log/e-", ident.encode(), sequence=True, makepath=True)
        zk.stop()

    for e in herd(args.contenders, contend):
        violation(args.side, e)
    gate(first, args.ns, "done", args.side, args.peers)
    winners = first.get_children(args.ns + "/log") if first.exists(args.ns + "/log") else []
    if len(winners) != 1:
        violation(args.side, "%d contenders obtained the lease, expected 1" % len(winners))
    raw, _ = first.get(args.ns + "/lease/lease_holder")
    print("INFO lease holder: %s" % raw.decode(), flush=True)
    first.stop()


def partitioner(args):
    """2 + 2 members share 10 items; every item is owned by exactly one member."""
    items = ["item-%d" % i for i in range(10)]
    first = client(args.connect)
    gate(first, args.ns, "start", args.side, args.peers)
    members = args.peers * args.contenders

    def member(k):
        zk = client(args.connect)
        ident = "%s-%d" % (args.side, k)
        p = zk.SetPartitioner(args.ns + "/work", set(items), identifier=ident, time_boundary=1)
        deadline = time.time() + 90
        while True:
            if p.failed:
                raise RuntimeError("partitioner failed")
            if p.release:
                p.release_set()
            elif p.acquired:
                mine = sorted(p)
                # A division made before everyone joined is released later.
                if len(zk.get_children(args.ns + "/work/party")) == members:
                    break
            if time.time() > deadline:
                raise RuntimeError("never acquired a division of the full group")
            p.wait_for_acquire(0.2)
        zk.create(args.ns + "/parts/" + ident, ",".join(mine).encode(), makepath=True)
        gate(zk, args.ns, "parts", ident, members)
        p.finish()
        zk.stop()

    for e in herd(args.contenders, member):
        violation(args.side, e)
    gate(first, args.ns, "done", args.side, args.peers)
    owned = []
    for ident in first.get_children(args.ns + "/parts"):
        raw, _ = first.get(args.ns + "/parts/" + ident)
        owned.extend(x for x in raw.decode().split(",") if x)
    if sorted(owned) != sorted(items):
        violation(args.side, "items owned %s, expected each of %s once" % (sorted(owned), items))
    first.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--ns", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--side", default="kazoo")
    ap.add_argument("--contenders", type=int, default=4)
    ap.add_argument("--peers", type=int, default=2)
    ap.add_argument("--phase", default="mixed")
    args = ap.parse_args()
    try:
        {"kazoo-lease": lease, "kazoo-partitioner": partitioner}[args.scenario](args)
    except Exception as e:  # noqa: BLE001 - reported as a violation
        violation(args.side, "%s failed: %r" % (args.scenario, e))
    print("FAILED" if VIOLATIONS else "OK", flush=True)
    sys.exit(1 if VIOLATIONS else 0)


if __name__ == "__main__":
    main()
