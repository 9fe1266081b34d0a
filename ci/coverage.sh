#!/usr/bin/env bash
# Line and branch coverage of the pure parsers, from the fuzz corpora.
#
# Usage: ci/coverage.sh [REPORT_DIR]      (default: coverage/, gitignored)
#
# Builds every harness with clang's source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping) and the replay driver
# (fuzz/replay_main.c), outside Bazel (Bazel 4.2's `bazel coverage` wants
# gcov/lcov tooling this offline workspace stubs out; see docs/build.md),
# with the source list taken from Bazel (fuzz/sources.sh). Replays
# fuzz/corpus/<name>/ and fuzz/regressions/<name>/, merges the profiles
# with llvm-profdata-14, prints the per-file line and branch coverage of
# the parsers with llvm-cov-14 and writes an HTML report (with branch
# counts) to REPORT_DIR/index.html.
#
# Exits 1 if a replay fails or line coverage is below the bar:
# >= 95% for src/codec.c and src/layout.c, >= 90% for src/lane.c, and
# >= 90% for src/crc32c.c, whose other lines cannot run here: the table
# fallback of shmchan_crc32c_update runs only on a CPU without SSE4.2, and
# shmchan_crc32c_hardware_available is a probe for tests/crc32c_test.c
# (docs/fuzzing.md, "Coverage").
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

# shellcheck source=output_base.sh
. ci/output_base.sh
BAZEL="${BAZEL:-bazel --output_base=$(shmchan_output_base fuzz)}"
# shellcheck source=../fuzz/sources.sh
. fuzz/sources.sh

REPORT="${1:-coverage}"
case "$REPORT" in /*) ;; *) REPORT="$ROOT/$REPORT" ;; esac
CC="${CC_COVERAGE:-clang}"
PROFDATA=llvm-profdata-14
LLVMCOV=llvm-cov-14
for tool in "$CC" "$PROFDATA" "$LLVMCOV"; do
  command -v "$tool" >/dev/null || {
    echo "coverage.sh: $tool not found (Debian package llvm-14; add it to ci/setup.sh)" >&2
    exit 1
  }
done

# The files whose coverage is reported, with the minimum line coverage.
declare -A BAR=([src/codec.c]=95 [src/crc32c.c]=90 [src/layout.c]=95 [src/lane.c]=90)
FILES=(src/codec.c src/crc32c.c src/layout.c src/lane.c)
# Also shown, without a bar: the programs' number parsers.
EXTRA=(src/prog/args.c)

WORK="$ROOT/fuzz/out/coverage"
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/prof"

mapfile -t harnesses < <(fuzz_harnesses)
[ "${#harnesses[@]}" -gt 0 ] || { echo "coverage.sh: no harness (bazel query failed?)" >&2; exit 1; }

status=0
objects=()
for h in "${harnesses[@]}"; do
  mapfile -t srcs < <(fuzz_sources "$h")
  bin="$WORK/bin/${h}_replay"
  echo "=== $h: build (${#srcs[@]} sources) and replay"
  if ! nice -n 19 "$CC" "${FUZZ_CFLAGS[@]}" -O0 -g -fprofile-instr-generate -fcoverage-mapping \
       "${srcs[@]}" fuzz/replay_main.c -o "$bin"; then
    echo "coverage.sh: $h: build failed" >&2
    exit 1
  fi
  if ! LLVM_PROFILE_FILE="$WORK/prof/$h.profraw" nice -n 19 "$bin" \
       "fuzz/corpus/$h" "fuzz/regressions/$h" 2>"$WORK/$h.replay.log"; then
    echo "coverage.sh: $h: replay FAILED (log: $WORK/$h.replay.log)" >&2
    tail -3 "$WORK/$h.replay.log" >&2
    status=1
  fi
  tail -1 "$WORK/$h.replay.log"
  objects+=(-object "$bin")
done

"$PROFDATA" merge -sparse "$WORK/prof"/*.profraw -o "$WORK/merged.profdata" || exit 1

# `objects` starts with "-object BIN"; llvm-cov wants the first binary bare.
first="${objects[1]}"
rest=("${objects[@]:2}")
present_extra=()
for f in "${EXTRA[@]}"; do [ -f "$f" ] && present_extra+=("$f"); done

echo
"$LLVMCOV" report "$first" "${rest[@]}" -instr-profile="$WORK/merged.profdata" \
  "${FILES[@]}" "${present_extra[@]}" | tee "$WORK/report.txt"

rm -rf "$REPORT"
"$LLVMCOV" show "$first" "${rest[@]}" -instr-profile="$WORK/merged.profdata" \
  -format=html -show-branches=count -show-line-counts-or-regions \
  -output-dir="$REPORT" "${FILES[@]}" "${present_extra[@]}" >/dev/null || status=1

# Per-file figures from the JSON export: lines and branches covered/total.
echo
printf '%-18s %16s %18s\n' file "line coverage" "branch coverage"
"$LLVMCOV" export "$first" "${rest[@]}" -instr-profile="$WORK/merged.profdata" \
  -summary-only "${FILES[@]}" "${present_extra[@]}" >"$WORK/summary.json"
while IFS=$'\t' read -r file lc lt lp bc bt bp; do
  printf '%-18s %6s/%-4s %5s%% %7s/%-4s %5s%%\n' "$file" "$lc" "$lt" "$lp" "$bc" "$bt" "$bp"
  bar="${BAR[$file]:-}"
  if [ -n "$bar" ] && ! awk -v p="$lp" -v b="$bar" 'BEGIN { exit !(p >= b) }'; then
    echo "coverage.sh: $file line coverage $lp% is below $bar%" >&2
    status=1
  fi
done < <(python3 - "$WORK/summary.json" "$ROOT" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
root = sys.argv[2].rstrip("/") + "/"
for f in data["data"][0]["files"]:
    name = f["filename"]
    name = name[len(root):] if name.startswith(root) else name
    s = f["summary"]
    l, b = s["lines"], s["branches"]
    print("\t".join(str(x) for x in (name, l["covered"], l["count"], "%.2f" % l["percent"],
                                     b["covered"], b["count"], "%.2f" % b["percent"])))
PY
)
echo
echo "coverage.sh: HTML report in $REPORT/index.html"
exit "$status"
