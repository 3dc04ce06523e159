#!/usr/bin/env python3
"""Draw the cost curves measured by scripts/bench/curves.sh (issue 21).

Usage: python3 scripts/bench/draw.py RUN_DIR [RUN_DIR...] [--out docs/bench] [--format svg|png]

RUN_DIR is a curves.sh output directory (target/bench/curves-<timestamp>).
With several, each TSV file is taken from the last directory that has it
(e.g. a later run of `--parts fanout` with a longer range); the two sides
of every curve always come from one run.
Writes one SVG per figure into --out (default docs/bench/, committed) and
prints the ratios read off the same run as Markdown (also written to
RUN_DIR/ratios.md). Files whose part was not run are skipped.

Needs matplotlib (pip install matplotlib, or apt-get install
python3-matplotlib).
"""

import argparse
import csv
import os
import statistics
import sys
from collections import defaultdict

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(
        "draw.py needs matplotlib: pip install matplotlib "
        "(or apt-get install python3-matplotlib)"
    )

# Reproducible SVGs: no date, fixed ids, text kept as text.
matplotlib.rcParams["svg.hashsalt"] = "zk-rs-curves"
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["font.size"] = 8
SVG_META = {"Date": None}

CLIENTS = {"ours": ("zk-client", "tab:blue"), "peer": ("zookeeper-client crate", "tab:orange")}
SERVERS = {
    "zk1": ("real ZooKeeper 3.8", "tab:red"),
    "ts1": ("zk-testserver", "tab:green"),
    "ts1-disk": ("zk-testserver --data-dir", "tab:olive"),
    "zookeeper": ("real ZooKeeper 3.8", "tab:red"),
    "zk-testserver": ("zk-testserver", "tab:green"),
}
TARGET_NAMES = {
    "zk1": "real ZooKeeper standalone",
    "zk3": "real ZooKeeper, 3 members (one follower)",
    "ts1": "zk-testserver (1 member)",
    "ts3": "zk-testserver, 3 members (one follower)",
    "null": "zk-null-server (client cost only)",
}


def read_tsv(run_dirs, name):
    found = [os.path.join(d, name) for d in run_dirs if os.path.exists(os.path.join(d, name))]
    if not found:
        return []
    path = found[-1]
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def median_by(rows, keys, field):
    """{key tuple: median of field} over rows with a numeric field."""
    groups = defaultdict(list)
    for r in rows:
        v = num(r.get(field))
        if v is not None:
            groups[tuple(r[k] for k in keys)].append(v)
    return {k: statistics.median(v) for k, v in groups.items()}


FORMAT = "svg"


def save(fig, out_dir, name, written):
    path = os.path.join(out_dir, name)
    if FORMAT == "png":  # for a quick look; the committed figures are SVG
        path = path[: -len(".svg")] + ".png"
        fig.savefig(path, format="png", dpi=80, bbox_inches="tight")
    else:
        fig.savefig(path, format="svg", metadata=SVG_META, bbox_inches="tight")
    plt.close(fig)
    written.append(path)


def series(med, fixed, xkey_index):
    """Sorted (x, y) of the entries of med whose key matches fixed (None = any)."""
    pts = []
    for key, y in med.items():
        if all(f is None or f == k for f, k in zip(fixed, key)):
            pts.append((float(key[xkey_index]), y))
    return sorted(pts)


CLIENT_METRICS = [
    ("ops_per_sec", "ops/s", "throughput"),
    ("p50_us", "µs", "latency p50 (solid) / p99 (dashed)"),
    ("cpu_us_per_op", "client CPU µs/op", "client CPU per op (user+sys)"),
]


OP_ORDER = ["get", "create", "set", "multi", "mixed"]


def draw_client(rows, out_dir, written, ratios):
    """Client curves: one figure per target and sweep (concurrency, payload)."""
    if not rows:
        return
    keys = ("sweep", "target", "op", "conc", "size", "client")
    fields = ("ops_per_sec", "p50_us", "p99_us", "cpu_us_per_op")
    med = {f: median_by(rows, keys, f) for f in fields}
    for sweep, target in sorted({(r["sweep"], r["target"]) for r in rows}):
        subset = [r for r in rows if r["sweep"] == sweep and r["target"] == target]
        ops = sorted({r["op"] for r in subset}, key=lambda o: OP_ORDER.index(o) if o in OP_ORDER else 9)
        xi = 3 if sweep == "conc" else 4
        fixed_other = sorted({r["size" if sweep == "conc" else "conc"] for r in subset})[0]
        fig, axes = plt.subplots(len(ops), 3, figsize=(11, 2.6 * len(ops)), squeeze=False)
        for i, op in enumerate(ops):
            for j, (field, unit, title) in enumerate(CLIENT_METRICS):
                ax = axes[i][j]
                for client, (label, color) in CLIENTS.items():
                    fixed = (sweep, target, op, None, None, client)
                    pts = series(med[field], fixed, xi)
                    if not pts:
                        continue
                    ax.plot(*zip(*pts), marker="o", color=color, label=label)
                    if field == "p50_us":
                        p99 = series(med["p99_us"], fixed, xi)
                        ax.plot(*zip(*p99), marker=".", linestyle="--", color=color)
                ax.set_xscale("log", base=2 if sweep == "conc" else 10)
                if sweep == "conc":
                    steps = sorted({float(r["conc"]) for r in subset})
                    ax.set_xticks(steps, [f"{x:g}" for x in steps])
                    ax.minorticks_off()
                if field == "cpu_us_per_op":
                    ax.set_ylim(bottom=0)
                else:
                    ax.set_yscale("log")
                ax.set_title(f"{op}: {title}")
                ax.set_ylabel(unit)
                ax.set_xlabel(f"requests in flight ({fixed_other}-byte payload)" if sweep == "conc"
                              else f"payload bytes ({fixed_other} in flight)")
                ax.grid(True, alpha=0.3)
                if i == 0 and j == 0:
                    ax.legend()
        fig.suptitle(f"zk-client vs the zookeeper-client crate on {TARGET_NAMES.get(target, target)}")
        fig.tight_layout()
        save(fig, out_dir, f"client-{sweep}-{target}.svg", written)
    # Ratios ours / peer of the same run.
    lines = ["| sweep | target | op | in flight | payload | throughput ours / peer | "
             "CPU/op ours / peer | p50 ours / peer | CPU µs/op ours, peer |",
             "|---|---|---|---|---|---|---|---|---|"]
    cases = sorted({k[:5] for k in med["ops_per_sec"]},
                   key=lambda k: (k[0], k[1], OP_ORDER.index(k[2]) if k[2] in OP_ORDER else 9,
                                  int(k[3]), int(k[4])))
    for case in cases:
        o, p = case + ("ours",), case + ("peer",)

        def ratio(field):
            a, b = med[field].get(o), med[field].get(p)
            return f"{a / b:.2f}" if a is not None and b else "–"

        cpu = f"{med['cpu_us_per_op'].get(o, 0):.1f}, {med['cpu_us_per_op'].get(p, 0):.1f}"
        lines.append(f"| {' | '.join(case)} | {ratio('ops_per_sec')} | "
                     f"{ratio('cpu_us_per_op')} | {ratio('p50_us')} | {cpu} |")
    ratios.append("### Client: ours / peer (medians over rounds)\n\n" + "\n".join(lines))


def slope(pts):
    """Per-unit growth from the first to the last point (KiB per unit)."""
    if len(pts) < 2 or pts[-1][0] == pts[0][0]:
        return None
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


UNIT = {"sessions": "session", "watches": "watch"}


def draw_footprint(rows, out_dir, written, ratios):
    rows = [r for r in rows if r.get("step") != "final"]
    if not rows:
        return
    keys = ("target", "mode", "client", "count")
    client_rss = median_by(rows, keys, "client_rss_kib")
    server_rss = median_by(rows, keys, "server_rss_kib")
    targets = sorted({r["target"] for r in rows})
    styles = {t: s for t, s in zip(targets, ["-", "--", ":"])}
    lines = ["| figure | target | ours | peer | ours / peer |", "|---|---|---|---|---|"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, mode in zip(axes, ("sessions", "watches")):
        for target in targets:
            per = {}
            for client, (label, color) in CLIENTS.items():
                pts = series(client_rss, (target, mode, client, None), 3)
                pts = [(x, y / 1024) for x, y in pts if x > 0]
                if pts:
                    ax.plot(*zip(*pts), marker="o", color=color, linestyle=styles[target],
                            label=f"{label} ({TARGET_NAMES.get(target, target)})")
                s = slope(series(client_rss, (target, mode, client, None), 3))
                per[client] = s
            if per.get("ours") is not None and per.get("peer"):
                lines.append(f"| client KiB per {UNIT[mode]} | {target} | {per['ours']:.2f} | "
                             f"{per['peer']:.2f} | {per['ours'] / per['peer']:.2f} |")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("idle sessions in one process" if mode == "sessions" else "watches on one session")
        ax.set_ylabel("client RSS MiB")
        ax.set_title(f"client memory vs {mode}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save(fig, out_dir, "footprint-client.svg", written)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    per_server = {}
    for ax, mode in zip(axes, ("sessions", "watches")):
        for target in targets:
            label, color = SERVERS.get(target, (target, None))
            pts = series(server_rss, (target, mode, "ours", None), 3)
            if pts:
                ax.plot(*zip(*[(x, y / 1024) for x, y in pts if x > 0]), marker="o",
                        color=color, label=label)
                per_server[(mode, target)] = slope(pts)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sessions connected (zk-client)" if mode == "sessions" else "watches (one session, zk-client)")
        ax.set_ylabel("server RSS MiB")
        ax.set_title(f"server memory vs {mode}")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save(fig, out_dir, "footprint-server.svg", written)
    for mode in ("sessions", "watches"):
        a, b = per_server.get((mode, "ts1")), per_server.get((mode, "zk1"))
        if a is not None and b:
            lines.append(f"| server KiB per {UNIT[mode]} | ts1 vs zk1 | {a:.2f} | {b:.2f} | {a / b:.2f} |")
    ratios.append("### Memory: growth from the first to the last step (KiB per unit; "
                  "server rows: zk-testserver / real ZooKeeper)\n\n" + "\n".join(lines))


def draw_server(run_dir, out_dir, written, ratios):
    lines = []
    pings = [r for r in read_tsv(run_dir, "pings.tsv") if num(r["ops_per_sec"]) is not None]
    fanout = read_tsv(run_dir, "fanout.tsv")
    children = read_tsv(run_dir, "children.tsv")
    znodes = read_tsv(run_dir, "znodes.tsv")
    panels = [p for p in (("pings", pings), ("fanout", fanout), ("children", children)) if p[1]]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
        for ax, (name, rows) in zip(axes[0], panels):
            xkey, ykey, xl, yl, title = {
                "pings": ("sessions", "ops_per_sec", "idle sessions pinging (2 s timeout)",
                          "get ops/s (conc 64, one more session)", "reads beside idle sessions"),
                "fanout": ("watchers", "last_p50_ms", "watcher sessions", "ms, set → last event (p50)",
                           "one change to N watchers"),
                "children": ("children", "p50_ms", "children of one node", "getChildren ms (p50)",
                             "getChildren vs children"),
            }[name]
            med = median_by(rows, ("target", xkey), ykey)
            for target in sorted({r["target"] for r in rows}):
                label, color = SERVERS.get(target, (target, None))
                pts = series(med, (target, None), 1)
                if pts:
                    ax.plot(*zip(*pts), marker="o", color=color, label=label)
            if name == "pings":
                ax.set_xscale("symlog", linthresh=1)  # starts at 0 sessions
            else:
                ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(xl)
            ax.set_ylabel(yl)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            ax.legend()
            lines += ratio_lines(name, med, ykey)
        fig.tight_layout()
        save(fig, out_dir, "server-scale.svg", written)
    if znodes:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for ax, field, yl in ((axes[0], "server_rss_kib", "server RSS MiB"),
                              (axes[1], "restart_ms", "restart → first write ms")):
            med = median_by(znodes, ("target", "znodes"), field)
            for target in sorted({r["target"] for r in znodes}):
                label, color = SERVERS.get(target, (target, None))
                pts = series(med, (target, None), 1)
                if field == "server_rss_kib":
                    pts = [(x, y / 1024) for x, y in pts]
                if pts:
                    ax.plot(*zip(*pts), marker="o", color=color, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("znodes (100 bytes each)")
            ax.set_ylabel(yl)
            ax.grid(True, alpha=0.3)
            ax.legend()
            lines += ratio_lines("znodes " + field, med, field)
        fig.tight_layout()
        save(fig, out_dir, "server-znodes.svg", written)
    if lines:
        ratios.append("### Server: zk-testserver / real ZooKeeper, same client\n\n"
                      "| figure | N | zk-testserver | real ZooKeeper | ratio |\n|---|---|---|---|---|\n"
                      + "\n".join(lines))


def ratio_lines(name, med, field):
    out = []
    for key in sorted({k[1] for k in med}, key=float):
        for ts in ("ts1", "ts1-disk"):
            a, b = med.get((ts, key)), med.get(("zk1", key))
            if a is not None and b:
                out.append(f"| {name} ({ts}) | {key} | {a:.1f} | {b:.1f} | {a / b:.2f} |")
    return out


def draw_ensemble(rows, out_dir, written, ratios):
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    lines = ["| figure | members | zk-testserver ms | real ZooKeeper ms | ratio |", "|---|---|---|---|---|"]
    for ax, field, title in ((axes[0], "start_to_write_ms", "start → first acknowledged write"),
                             (axes[1], "kill_to_write_ms", "leader kill → next acknowledged write")):
        med = median_by(rows, ("server", "members"), field)
        for server in ("zk-testserver", "zookeeper"):
            label, color = SERVERS[server]
            pts = series(med, (server, None), 1)
            if pts:
                ax.plot(*zip(*pts), marker="o", color=color, label=label)
        for m in sorted({k[1] for k in med}, key=int):
            a, b = med.get(("zk-testserver", m)), med.get(("zookeeper", m))
            if a is not None and b:
                lines.append(f"| {title} | {m} | {a:.1f} | {b:.1f} | {a / b:.3f} |")
        ax.set_yscale("log")
        ax.set_xticks([int(m) for m in sorted({r["members"] for r in rows}, key=int)])
        ax.set_xlabel("ensemble members (tick 100 ms)")
        ax.set_ylabel("ms (median of rounds)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save(fig, out_dir, "ensemble.svg", written)
    ratios.append("### Ensemble: medians over rounds\n\n" + "\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="+")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "docs", "bench"))
    ap.add_argument("--format", choices=["svg", "png"], default="svg")
    a = ap.parse_args()
    global FORMAT
    FORMAT = a.format
    for d in a.run_dir:
        if not os.path.isdir(d):
            sys.exit(f"draw.py: {d} is not a directory")
    os.makedirs(a.out, exist_ok=True)
    written, ratios = [], []
    draw_client(read_tsv(a.run_dir, "client.tsv"), a.out, written, ratios)
    draw_footprint(read_tsv(a.run_dir, "footprint.tsv"), a.out, written, ratios)
    draw_server(a.run_dir, a.out, written, ratios)
    draw_ensemble(read_tsv(a.run_dir, "ensemble.tsv"), a.out, written, ratios)
    text = "\n\n".join(ratios) + "\n"
    with open(os.path.join(a.run_dir[-1], "ratios.md"), "w") as f:
        f.write(text)
    print(text)
    for p in written:
        print(f"wrote {os.path.normpath(p)}", file=sys.stderr)


if __name__ == "__main__":
    main()
