"""The table at the end of a mutation run, and the exit status it implies."""
from targets import FAST_FILES

PURE = set(FAST_FILES)


def _ratio(k, s):
    return f"{100.0 * k / (k + s):.1f} %" if k + s else "-"


def print_table(results, elapsed, args):
    files = sorted({r["file"] for r in results})
    rows = []
    tot = {"n": 0, "killed": 0, "survived": 0, "equivalent": 0, "nocompile": 0, "stale": 0}
    ok = True
    for f in files:
        rs = [r for r in results if r["file"] == f]
        c = {k: sum(1 for r in rs if r["status"] == k) for k in tot if k != "n"}
        c["n"] = len(rs)
        for k in tot:
            tot[k] += c[k]
        rows.append((f, c))
        if f in PURE and c["survived"]:
            ok = False
    md = args.markdown
    head = ("file", "mutants", "killed", "survived", "equivalent", "not compiling", "stale",
            "kill ratio")
    print()
    if md:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print("%-28s %8s %7s %9s %11s %14s %6s %11s" % head)
    for f, c in rows + [("total", tot)]:
        cells = (f, c["n"], c["killed"], c["survived"], c["equivalent"], c["nocompile"],
                 c["stale"], _ratio(c["killed"], c["survived"]))
        if md:
            print("| " + " | ".join(str(x) for x in cells) + " |")
        else:
            print("%-28s %8d %7d %9d %11d %14d %6d %11s" % cells)
    print(f"\nrun time: {elapsed / 60:.1f} min")
    surv = [r for r in results if r["status"] == "survived"]
    if surv:
        print("\nSURVIVED (no test failed):")
        for r in surv:
            print(f"  {r['id']} {r['file']}:{r['line']} {r['rule']}\n"
                  f"      - {r['orig'].strip()}\n      + {r['mut'].strip()}")
    eq = [r for r in results if r["status"] == "equivalent"]
    if eq:
        print("\nEQUIVALENT (survived; listed in ci/mutants/equivalent.txt):")
        for r in eq:
            print(f"  {r['id']} {r['file']}:{r['line']}: {r['why']}")
    stale = [r for r in results if r["status"] == "stale"]
    if stale:
        print("\nSTALE (line no longer in the file; regenerate with --generate):")
        for r in stale:
            print(f"  {r['id']} {r['file']}:{r['line']}")
    if args.all:
        src = [r for r in results if r["file"].startswith("src/")]
        k = sum(1 for r in src if r["status"] == "killed")
        s = sum(1 for r in src if r["status"] == "survived")
        ok = ok and (k + s == 0 or k / (k + s) >= 0.95)
    else:
        ok = not surv
    print(f"\nmutation: {tot['killed']} killed, {tot['survived']} survived, "
          f"{tot['equivalent']} equivalent, {tot['nocompile']} not compiling "
          f"({_ratio(tot['killed'], tot['survived'])} killed) -> {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1
