#!/usr/bin/env python3
"""bench/runs.py - ipcbench N times, the median and spread of every figure
and of every ratio (docs/benchmarks.md, "Method").

Timings drift with the host, so a ratio is only taken between cells of one
run (shmchan against spin_ring, socketpair and memcpy measured minutes
apart on the same machine state); this script then reports, per cell, the
median [min-max] over the runs of the value and of each ratio.

Usage: bench/runs.py --runs 3 --ipcbench PATH [--out FILE.md] -- [ipcbench options]
(--csv is added; the machine facts are read once, before the first run.)
Exits non-zero if any run fails.
"""
import argparse
import csv
import io
import statistics
import subprocess
import sys

REFS = [("spin_ring", "vs spin_ring"), ("socketpair", "vs socketpair"), ("memcpy", "vs memcpy")]


def run_once(ipcbench, args):
    out = subprocess.run([ipcbench, "--csv"] + args, check=True, capture_output=True, text=True)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    cells = {}
    for r in rows:
        key = (r["transport"], r["mode"], int(r["size"]))
        cells[key] = {"msgs_per_s": float(r["msgs_per_s"]), "mb_per_s": float(r["mb_per_s"]),
                      "p50_ns": float(r["p50_ns"]) if r["p50_ns"] else None}
    return cells


def spread(values):
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    med = statistics.median(v)
    fmt = (lambda x: f"{x:.3g}")
    return f"{fmt(med)} [{fmt(min(v))}-{fmt(max(v))}]"


def machine_facts(ipcbench):
    # The table mode prints the facts first; a 1-cell run is enough.
    out = subprocess.run([ipcbench, "--sizes", "64", "--transports", "spin_ring", "--modes",
                          "stream", "--seconds", "0.01", "--reps", "1"],
                         check=True, capture_output=True, text=True)
    return [ln for ln in out.stdout.splitlines() if ln.startswith("# ")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ipcbench", required=True)
    ap.add_argument("--out")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    rest = a.rest[1:] if a.rest[:1] == ["--"] else a.rest
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    facts = machine_facts(a.ipcbench)
    runs = []
    for i in range(a.runs):
        print(f"runs.py: run {i + 1}/{a.runs}", file=sys.stderr)
        runs.append(run_once(a.ipcbench, rest))
    keys = sorted(set().union(*[r.keys() for r in runs]),
                  key=lambda k: (k[1], k[2], k[0] != "memcpy", k[0]))
    lines = facts + ["", f"median [min-max] of {a.runs} runs; ratios taken within each run", ""]
    lines.append("| mode | size | transport | msgs/s | MB/s | p50 us | "
                 + " | ".join(r[1] for r in REFS) + " |")
    lines.append("|---|---:|---|---:|---:|---:|" + "---:|" * len(REFS))
    for k in keys:
        t, mode, size = k
        vals = [r.get(k) for r in runs]
        msgs = spread([v["msgs_per_s"] if v else None for v in vals])
        mbs = spread([v["mb_per_s"] if v else None for v in vals])
        p50 = spread([v["p50_ns"] / 1e3 if v and v["p50_ns"] is not None else None
                      for v in vals])
        ratios = []
        for ref, _ in REFS:
            rs = []
            for r in runs:
                c, b = r.get(k), r.get((ref, mode, size))
                if c is None or b is None:
                    continue
                if mode == "pingpong":
                    if c["p50_ns"] and b["p50_ns"]:
                        rs.append(c["p50_ns"] / b["p50_ns"])
                elif b["msgs_per_s"] > 0:
                    rs.append(c["msgs_per_s"] / b["msgs_per_s"])
            ratios.append(spread(rs) if rs else "-")
        lines.append(f"| {mode} | {size} | {t} | {msgs} | {mbs} | {p50} | "
                     + " | ".join(ratios) + " |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
