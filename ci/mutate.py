#!/usr/bin/env python3
"""Mutation testing of src/: does some test fail when the code is wrong?

  ci/mutate.sh --generate      rewrite ci/mutants/generated.jsonl from the rules
  ci/mutate.sh --fast          the CI subset: pure layers + the trust checks
  ci/mutate.sh --all           every mutant (by hand; its table goes to docs/testing.md)
  ci/mutate.sh --file src/x.c  the mutants of some files;  --id ID  single mutants
  ci/mutate.sh --list          the selected mutants, nothing run

Each mutant (ci/mutants/*.jsonl: one changed line) is applied to a scratch
copy of the tree, the affected test binaries are rebuilt and the tests that
cover the file (ci/mutation/targets.py) run one by one until one fails. A
mutant no test notices has survived; ci/mutants/equivalent.txt lists the
survivors that cannot be noticed, each with the reason. Before any mutant,
every selected test must pass on the unmutated tree (the baseline).
Exit status: 1 if the baseline fails or a survivor is not listed as
equivalent (--fast, --file, --id) or the kill ratio misses its target
(--all: 100 % per pure file, 95 % over src/).
"""
import argparse
import concurrent.futures
import json
import os
import queue
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "mutation"))
sys.dont_write_bytecode = True  # no __pycache__ in the work tree

import rules  # noqa: E402
import report  # noqa: E402
from runner import Scratch  # noqa: E402
from targets import COVERS, FAST_FILES, FAST_TRUST, FAST_TRUST_TESTS  # noqa: E402

REPO = os.path.dirname(HERE)
MUTANTS = os.path.join(HERE, "mutants")
GENERATED = os.path.join(MUTANTS, "generated.jsonl")
HAND = os.path.join(MUTANTS, "hand.jsonl")
EQUIVALENT = os.path.join(MUTANTS, "equivalent.txt")
RULE_FILES = ["src/codec.c", "src/crc32c.c", "src/layout.c", "src/lane.c", "src/judge.c",
              "src/slot_fsm.c", "src/spin_adapt.c", "src/sysv.c", "src/wake.c", "src/probe.c",
              "src/client.c",
              "src/server.c", "src/inspect.c", "src/error.c", "src/prog/escape.c",
              "src/conn.c", "src/conn_probe.c", "src/account.c", "src/prog/resolve.c"]


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.strip() and not ln.startswith("#")]


def load_equivalent():
    eq = {}
    with open(EQUIVALENT) as f:
        for ln in f:
            if ln.strip() and not ln.startswith("#"):
                mid, reason = ln.rstrip("\n").split(None, 1)
                eq[mid] = reason.strip()
    return eq


def generate():
    out = []
    for path in RULE_FILES:
        with open(os.path.join(REPO, path)) as f:
            out += rules.file_mutants(path, f.read())
    with open(GENERATED, "w") as f:
        for m in out:
            f.write(json.dumps(m, sort_keys=True) + "\n")
    print(f"{len(out)} mutants written to {os.path.relpath(GENERATED, REPO)}")


def locate(lines, m):
    """Index of the mutant's original line in the current file, or None
    (stale: the line changed since the list was made)."""
    hits = [i for i, ln in enumerate(lines) if ln == m["orig"]]
    if not hits:
        return None
    return min(hits, key=lambda i: abs(i + 1 - m["line"]))


def select(args, mutants):
    if args.id:
        return [m for m in mutants if m["id"] in args.id]
    if args.file:
        return [m for m in mutants if m["file"] in args.file]
    if args.fast:
        return [m for m in mutants if m["file"] in FAST_FILES or is_fast_trust(m)]
    return mutants


def is_fast_trust(m):
    return "fast" in m.get("tags", []) or any(
        s in m["orig"] for s in FAST_TRUST.get(m["file"], []))


def tests_for(m, fast):
    named = m.get("tests", [])
    if fast and m["file"] not in FAST_FILES:
        return named or FAST_TRUST_TESTS
    if fast and named:
        return named
    return named + [t for t in COVERS[m["file"]] if t not in named]


def run_one(scratch, m, fast, log, wdir):
    """Applies one mutant in wdir (a worker's own directory: the scratch
    tree itself is never edited, so workers can run side by side)."""
    with open(os.path.join(scratch.ws, m["file"])) as f:
        lines = f.read().split("\n")
    i = locate(lines, m)
    if i is None:
        return {"status": "stale"}
    lines[i] = m["mut"]
    src = os.path.join(wdir, "src", m["file"])
    os.makedirs(os.path.dirname(src), exist_ok=True)
    with open(src, "w") as f:
        f.write("\n".join(lines))
    obj = os.path.join(wdir, "mutant.o")
    rc, out = scratch.compile(src, obj, log=log)
    if rc != 0:
        return {"status": "nocompile"}
    names = tests_for(m, fast)
    # Linked one at a time, right before it runs: most mutants die in the
    # first test, and a link under ASan costs as much as a pure test run.
    mdir = os.path.join(wdir, "m")
    scratch.reset_links(mdir)
    for n in names:
        rc, out = scratch.link(mdir, [n], {m["file"]: obj}, log=log)
        if rc != 0:
            return {"status": "nocompile"}
        dur = scratch.durations[n]
        verdict, dt, failed = scratch.run_test(mdir, n, max(4 * dur, dur + 5), log)
        if verdict != "pass":
            return {"status": "killed", "by": n, "how": verdict, "failed": failed[:3]}
    return {"status": "survived"}


def run_all(scratch, mutants, equivalent, args, log):
    """Every mutant, `args.jobs` at a time; results in the list's order."""
    done = [0]
    lock = threading.Lock()
    free = queue.Queue()
    for w in range(args.jobs):
        free.put(os.path.join(scratch.dir, f"w{w}"))

    def one(m):
        if args.fast and m["id"] in equivalent:
            # Listed as equivalent: --all checks that it still survives;
            # the CI subset does not spend its minutes on it.
            r = {"status": "equivalent", "why": equivalent[m["id"]]}
        else:
            wdir = free.get()
            try:
                r = run_one(scratch, m, args.fast, log, wdir)
            finally:
                free.put(wdir)
            if r["status"] == "survived" and m["id"] in equivalent:
                r = {"status": "equivalent", "why": equivalent[m["id"]]}
        r.update({k: m[k] for k in ("id", "file", "line", "rule", "orig", "mut")})
        with lock:
            if out is not None:
                # As each mutant ends: a run stopped half-way still has a
                # table (--table FILE).
                out.write(json.dumps(r, sort_keys=True) + "\n")
                out.flush()
            done[0] += 1
            by = f" by {r['by']} ({r['how']})" if "by" in r else ""
            print(f"[{done[0]}/{len(mutants)}] {m['id']:22s} {m['file']}:{m['line']} "
                  f"{m['rule']}: {r['status']}{by}", flush=True)
        return r

    out = open(args.results, "w") if args.results else None
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            return list(ex.map(one, mutants))
    finally:
        if out is not None:
            out.close()


def baseline(scratch, names, log):
    rc, out = scratch.link(os.path.join(scratch.dir, "base"), names, {}, log=log)
    if rc != 0:
        raise SystemExit(f"baseline: link failed:\n{out}")
    for n in sorted(names):
        verdict, dt, failed = scratch.run_test(os.path.join(scratch.dir, "base"), n, 600, log)
        print(f"  baseline {n:24s} {verdict} {dt:6.1f}s", flush=True)
        if verdict != "pass":
            raise SystemExit(f"baseline: {n} fails on the unmutated tree ({failed}); "
                             f"see {log}: no mutant result would mean anything")
        scratch.durations[n] = dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--generate", action="store_true")
    g.add_argument("--all", action="store_true")
    g.add_argument("--fast", action="store_true")
    g.add_argument("--file", action="append")
    g.add_argument("--id", action="append")
    g.add_argument("--table", nargs="+", metavar="RESULTS",
                   help="print the table of earlier runs' --results files, run nothing")
    ap.add_argument("--list", action="store_true", help="print the selection, run nothing")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--results", help="also write one JSON line per mutant here")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--jobs", type=int, default=1,
                    help="mutants at a time (each in its own directory; default 1)")
    args = ap.parse_args()
    if args.generate:
        generate()
        return 0
    if args.table:
        # A later file's result for the same mutant replaces an earlier one
        # (a re-run after a test was added).
        by_id = {}
        equivalent = load_equivalent()
        for path in args.table:
            for r in load_jsonl(path):
                if r["status"] == "survived" and r["id"] in equivalent:
                    r = dict(r, status="equivalent", why=equivalent[r["id"]])
                by_id[r["id"]] = r
        return report.print_table(list(by_id.values()), 0.0, args)
    mutants = select(args, load_jsonl(GENERATED) + load_jsonl(HAND))
    if args.list:
        for m in mutants:
            print(f"{m['id']:22s} {m['file']}:{m['line']} {m['rule']}: {m['mut'].strip()}")
        print(f"{len(mutants)} mutants")
        return 0
    equivalent = load_equivalent()
    t0 = time.monotonic()
    scratch = Scratch(REPO, keep=args.keep)
    log = os.path.join(scratch.dir, "mutate.log")
    print(f"=== mutate: {len(mutants)} mutants, scratch {scratch.dir}", flush=True)
    try:
        scratch.build_base()
        needed = sorted({t for m in mutants for t in tests_for(m, args.fast)})
        baseline(scratch, needed, log)
        results = run_all(scratch, mutants, equivalent, args, log)
        elapsed = time.monotonic() - t0
        return report.print_table(results, elapsed, args)
    finally:
        if args.keep:
            print(f"scratch kept: {scratch.dir}")
        scratch.close()


if __name__ == "__main__":
    sys.exit(main())
