#!/usr/bin/env python3
"""Summarise compare.sh results: medians per (target, case, client) and ours/peer ratios.

Usage: scripts/bench/summarize.py results.tsv [more.tsv ...]

Several files are pooled (e.g. the same cases run at different times): every
row counts, and rounds are paired within their own file.

Throughput ratio = median(ours ops/s) / median(peer ops/s): above 1 means zk-client is faster.
Latency ratios = median(ours) / median(peer): below 1 means zk-client is faster.
"paired" is the median (and range) over rounds of ours/peer within the same round (robust to drift).
"best p50" is the lowest p50 of any round: the least disturbed run of each client.
"""
import csv
import statistics
import sys
from collections import defaultdict


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = defaultdict(list)
    order = []
    for n, path in enumerate(sys.argv[1:]):
        with open(path, newline="") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                r["round"] = f"{n}:{r['round']}"
                key = (r["target"], r["case"])
                if key not in order:
                    order.append(key)
                rows[key + (r["client"],)].append(r)
    if not order:
        print("no results", file=sys.stderr)
        return 1

    def med(key, field):
        vals = [float(r[field]) for r in rows[key]]
        return statistics.median(vals) if vals else float("nan")

    def best(key, field):
        vals = [float(r[field]) for r in rows[key]]
        return min(vals) if vals else float("nan")

    def paired(target, case, field):
        ours = {r["round"]: float(r[field]) for r in rows[(target, case, "ours")]}
        peer = {r["round"]: float(r[field]) for r in rows[(target, case, "peer")]}
        ratios = sorted(ours[k] / peer[k] for k in ours if k in peer and peer[k] > 0)
        if not ratios:
            return "n/a"
        return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})"

    print(
        "| target | op:conc | rounds | ours ops/s | peer ops/s | ratio | paired (range) | "
        "ours p50 µs | peer p50 µs | p50 ratio | best p50 µs ours / peer | ours p99 µs | peer p99 µs | "
        "ours CPU µs/op | peer CPU µs/op | load1 |"
    )
    print("|" + "---|" * 16)
    for target, case in order:
        o, p = (target, case, "ours"), (target, case, "peer")
        ot, pt = med(o, "ops_per_sec"), med(p, "ops_per_sec")
        o50, p50 = med(o, "p50_us"), med(p, "p50_us")
        loads = [float(r["load1"]) for r in rows[o] + rows[p]]
        print(
            f"| {target} | {case} | {len(rows[o])} | {ot:.0f} | {pt:.0f} | {ot / pt:.2f} | "
            f"{paired(target, case, 'ops_per_sec')} | {o50:.1f} | {p50:.1f} | {o50 / p50:.2f} | "
            f"{best(o, 'p50_us'):.1f} / {best(p, 'p50_us'):.1f} | "
            f"{med(o, 'p99_us'):.1f} | {med(p, 'p99_us'):.1f} | "
            f"{med(o, 'cpu_us_per_op'):.1f} | {med(p, 'cpu_us_per_op'):.1f} | "
            f"{min(loads):.2f}–{max(loads):.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
