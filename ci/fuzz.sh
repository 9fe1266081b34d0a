#!/usr/bin/env bash
# Fuzzing campaigns over the harnesses in fuzz/ (docs/fuzzing.md).
#
# Usage: ci/fuzz.sh [--engine libfuzzer|afl|both] [--seconds N] [--smoke]
#                   [--no-merge] [--minimize] [harness...]
#   --engine     libfuzzer (default), afl, or both (libFuzzer first)
#   --seconds    campaign length per harness and engine (default 60)
#   --smoke      for CI: 10 s per harness with both engines, corpus untouched,
#                and 2 s of `bazel run --config=libfuzzer //fuzz:<first>_run`
#   --no-merge   do not merge new inputs into fuzz/corpus/
#   --minimize   no campaign: re-minimise fuzz/corpus/<name>/ with libFuzzer
#                (-merge=1; seed-* files kept) and print files, bytes and
#                coverage (libFuzzer cov: edges, ft: features, from
#                replaying the corpus) before and after; a harness that
#                would lose an edge (or over 1% of its features) keeps its
#                old corpus and fails the run.
#                (--merge-only is the old name.)
#   harness      as listed in fuzz/harnesses.bzl (default: all of them)
#
# For each harness and engine, one campaign at a time under `nice -n 19`
# (the machine is shared): starting from fuzz/corpus/<name>/ (both engines
# use the same corpus) with fuzz/<name>.dict, then
#  - new inputs are minimised and merged into fuzz/corpus/<name>/:
#    libFuzzer: `-merge=1` re-minimises the whole corpus against the seeds
#    (seed-* files from fuzz/gen_corpus.c are always kept);
#    AFL++: `afl-cmin` over corpus + queue, and the queue entries that
#    survive are added;
#  - every crash (libFuzzer crash-/leak-/timeout-/oom-, AFL++ crashes and
#    hangs that still hang when re-run alone) is copied to
#    fuzz/regressions/<name>/ and a one-line reproduce command is printed;
#  - one line of figures is printed: executions, exec/s and coverage
#    (libFuzzer cov:/ft: from its final stats, AFL++ execs_done,
#    execs_per_sec and bitmap_cvg from fuzzer_stats).
# Exits 1 if any campaign found a crash or could not run. Work files are
# in fuzz/out/ (gitignored); figures are also appended to
# fuzz/out/summary.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

# shellcheck source=output_base.sh
. ci/output_base.sh
BAZEL="${BAZEL:-bazel --output_base=$(shmchan_output_base fuzz)}"
# shellcheck source=../fuzz/sources.sh
. fuzz/sources.sh

engine=libfuzzer
seconds=60
merge=1
merge_only=0
smoke=0
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine="$2"; shift 2 ;;
    --engine=*) engine="${1#*=}"; shift ;;
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --smoke) engine=both; seconds=10; merge=0; smoke=1; shift ;;
    --no-merge) merge=0; shift ;;
    --minimize|--merge-only) merge_only=1; engine=libfuzzer; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("${1%_fuzzer}"); shift ;;
  esac
done
case "$engine" in
  libfuzzer) engines=(libfuzzer) ;;
  afl) engines=(afl) ;;
  both) engines=(libfuzzer afl) ;;
  *) echo "fuzz.sh: --engine must be libfuzzer, afl or both" >&2; exit 2 ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: --seconds must be a positive integer" >&2
  exit 2
fi
if [ "${#harnesses[@]}" -eq 0 ]; then
  mapfile -t harnesses < <(fuzz_harnesses)
fi
OUT="$ROOT/fuzz/out"
mkdir -p "$OUT"
if [ "${#harnesses[@]}" -eq 0 ]; then
  echo "fuzz.sh: no harness found (bazel query failed?)" >&2
  exit 1
fi

SUMMARY="$OUT/summary.tsv"
status=0
MAX_CORPUS="${FUZZ_MAX_CORPUS:-300}"

sha1_of() { sha1sum "$1" | cut -c1-40; }

# --------------------------------------------------------------- builds
LF_BIN=""
for e in "${engines[@]}"; do
  if [ "$e" = libfuzzer ]; then
    echo "=== building libFuzzer harnesses (bazel --config=libfuzzer //fuzz:all)"
    if ! $BAZEL build --config=libfuzzer --symlink_prefix=/ //fuzz:all >"$OUT/build.log" 2>&1; then
      tail -30 "$OUT/build.log" >&2
      echo "fuzz.sh: libFuzzer build failed (log: $OUT/build.log)" >&2
      exit 1
    fi
    LF_BIN="$($BAZEL info --config=libfuzzer bazel-bin 2>/dev/null)/fuzz"
  else
    echo "=== building AFL++ harnesses (ci/afl_build.sh)"
    if ! BAZEL="$BAZEL" ci/afl_build.sh "${harnesses[@]}" >"$OUT/afl_build.log" 2>&1; then
      tail -30 "$OUT/afl_build.log" >&2
      echo "fuzz.sh: AFL++ build failed (log: $OUT/afl_build.log)" >&2
      exit 1
    fi
  fi
done

# Saves a finding as fuzz/regressions/<h>/<prefix>-<sha1> and prints how to
# replay it.
save_finding() {
  local h="$1" file="$2" prefix="$3"
  local dest
  dest="fuzz/regressions/$h/$prefix-$(sha1_of "$file")"
  cp "$file" "$dest"
  echo "FINDING $h: $dest"
  echo "  reproduce: bazel run --config=libfuzzer //fuzz:${h}_fuzzer -- $ROOT/$dest"
  echo "  (or: bazel test //fuzz:${h}_fuzzer_replay_test, which now replays it)"
  status=1
}

# -------------------------------------------------------- libFuzzer merge
# Re-minimises fuzz/corpus/<h>/ plus `extra` (a directory or "") against
# the seed-* files, which are always kept; everything else in the corpus is
# replaced by libFuzzer's selection (named by SHA-1). If that is still over
# MAX_CORPUS files, hit counts are ignored (-use_counters=0: edges only).
libfuzzer_merge() {
  local h="$1" extra="$2" bin="$LF_BIN/${h}_fuzzer"
  local work="$OUT/libfuzzer/$h/merge"
  rm -rf "$work"
  mkdir -p "$work/base" "$work/pool"
  local f
  for f in "fuzz/corpus/$h"/*; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in
      seed-*) cp "$f" "$work/base/" ;;
      *) cp "$f" "$work/pool/" ;;
    esac
  done
  if [ -n "$extra" ] && [ -d "$extra" ]; then
    find "$extra" -maxdepth 1 -type f -exec cp -t "$work/pool/" {} +
  fi
  local before after counters=1
  before=$(find "fuzz/corpus/$h" -maxdepth 1 -type f | wc -l)
  while :; do
    rm -rf "$work/out"
    cp -r "$work/base" "$work/out"
    if ! (cd "$work" && nice -n 19 "$bin" -merge=1 -use_counters=$counters -timeout=30 \
          -rss_limit_mb=4096 "$work/out" "$work/pool" >"$work/merge.log" 2>&1); then
      echo "fuzz.sh: $h: libFuzzer merge failed (log: $work/merge.log)" >&2
      status=1
      return
    fi
    after=$(find "$work/out" -maxdepth 1 -type f | wc -l)
    if [ "$after" -le "$MAX_CORPUS" ] || [ "$counters" -eq 0 ]; then
      break
    fi
    counters=0
  done
  find "fuzz/corpus/$h" -maxdepth 1 -type f ! -name 'seed-*' -delete
  find "$work/out" -maxdepth 1 -type f ! -name 'seed-*' -exec cp -t "fuzz/corpus/$h/" {} +
  after=$(find "fuzz/corpus/$h" -maxdepth 1 -type f | wc -l)
  echo "  corpus fuzz/corpus/$h: $before -> $after files ($(du -sh "fuzz/corpus/$h" | cut -f1)$([ "$counters" -eq 0 ] && echo ', edges only'))"
}

# ---------------------------------------------------------- libFuzzer run
run_libfuzzer() {
  local h="$1" bin="$LF_BIN/${h}_fuzzer"
  local work="$OUT/libfuzzer/$h"
  rm -rf "$work"
  mkdir -p "$work/new" "$work/artifacts"
  local dict=()
  [ -f "fuzz/$h.dict" ] && dict=(-dict="$ROOT/fuzz/$h.dict")
  echo "=== libFuzzer $h: ${seconds}s"
  # -timeout: a single input taking 10 s is a hang (nothing here loops on
  # input); -rss_limit_mb: the layout harness allocates up to 4 MiB images.
  (cd "$work" && nice -n 19 "$bin" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -print_final_stats=1 "${dict[@]}" \
      -artifact_prefix="$work/artifacts/" "$work/new" "$ROOT/fuzz/corpus/$h" \
      >"$work/log" 2>&1)
  local rc=$?
  local f found=0
  for f in "$work/artifacts"/*; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in
      crash-*|leak-*|timeout-*|oom-*)
        found=1
        save_finding "$h" "$f" "libfuzzer-$(basename "$f" | cut -d- -f1)"
        ;;
    esac
  done
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
    echo "fuzz.sh: $h: libFuzzer exited $rc without an artifact (log: $work/log)" >&2
    tail -5 "$work/log" >&2
    status=1
  fi
  local execs eps cov ft last
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  last=$(grep -E '^#[0-9]+.* cov: ' "$work/log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-10s libfuzzer  execs=%s exec/s=%s cov=%s ft=%s crashes=%s\n' \
    "$h" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$found"
  printf '%s\t%s\tlibfuzzer\t%s\t%s\t%s\tcov=%s ft=%s\t%s\n' "$(date -u +%FT%TZ)" "$h" \
    "$seconds" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$found" >>"$SUMMARY"
  if [ "$merge" -eq 1 ]; then
    libfuzzer_merge "$h" "$work/new"
  fi
}

# ----------------------------------------------------------------- AFL++
AFL_ENV=(AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
  AFL_NO_AFFINITY=1 AFL_QUIET=1)

afl_merge() {
  local h="$1" queue="$2" bin="$OUT/afl/${h}_fuzzer"
  local work="$OUT/afl-runs/$h/cmin"
  rm -rf "$work"
  mkdir -p "$work/in"
  declare -A have=()
  local f s
  for f in "fuzz/corpus/$h"/*; do
    [ -f "$f" ] || continue
    s=$(sha1_of "$f")
    have[$s]=1
    cp "$f" "$work/in/$s"
  done
  for f in "$queue"/id:*; do
    [ -f "$f" ] || continue
    s=$(sha1_of "$f")
    [ -n "${have[$s]:-}" ] || cp "$f" "$work/in/$s"
  done
  if ! env "${AFL_ENV[@]}" nice -n 19 afl-cmin -i "$work/in" -o "$work/out" -m none -t 5000 \
       -- "$bin" >"$work/cmin.log" 2>&1; then
    echo "fuzz.sh: $h: afl-cmin failed (log: $work/cmin.log)" >&2
    status=1
    return
  fi
  local added=0
  for f in "$work/out"/*; do
    [ -f "$f" ] || continue
    s=$(basename "$f")
    if [ -z "${have[$s]:-}" ]; then
      cp "$f" "fuzz/corpus/$h/$s"
      added=$((added + 1))
    fi
  done
  echo "  corpus fuzz/corpus/$h: +$added files from afl-cmin ($(find "fuzz/corpus/$h" -maxdepth 1 -type f | wc -l) files, $(du -sh "fuzz/corpus/$h" | cut -f1))"
}

# Re-runs an AFL++ hang alone with a generous limit: on a loaded, shared
# machine a 1 s AFL++ timeout is not proof of a hang.
afl_hang_is_real() {
  local h="$1" file="$2"
  timeout 60 "$OUT/afl/${h}_fuzzer" "$file" >/dev/null 2>&1
  local rc=$?
  [ "$rc" -ne 0 ]
}

run_afl() {
  local h="$1" bin="$OUT/afl/${h}_fuzzer"
  local work="$OUT/afl-runs/$h"
  rm -rf "$work"
  mkdir -p "$work"
  local dict=()
  [ -f "fuzz/$h.dict" ] && dict=(-x "$ROOT/fuzz/$h.dict")
  echo "=== AFL++ $h: ${seconds}s"
  # -V: stop after that many seconds (afl-fuzz exits 0 even after a crash:
  # the verdict comes from fuzzer_stats and crashes/). `timeout` is a
  # backstop in case calibration on a loaded machine takes very long.
  env "${AFL_ENV[@]}" timeout $((seconds + 300)) nice -n 19 afl-fuzz -V "$seconds" -t 1000 \
    -m none -i "$ROOT/fuzz/corpus/$h" -o "$work/out" "${dict[@]}" -c "$bin.cmplog" \
    -- "$bin" >"$work/log" 2>&1
  local rc=$?
  local stats="$work/out/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "fuzz.sh: $h: afl-fuzz did not start (exit $rc, log: $work/log)" >&2
    tail -5 "$work/log" >&2
    status=1
    return
  fi
  stat_of() { sed -n "s/^$1 *: *//p" "$stats" | tail -1; }
  local found=0 hangs=0 f
  for f in "$work/out/default/crashes"/id:*; do
    [ -f "$f" ] || continue
    found=$((found + 1))
    save_finding "$h" "$f" afl-crash
  done
  for f in "$work/out/default/hangs"/id:*; do
    [ -f "$f" ] || continue
    if afl_hang_is_real "$h" "$f"; then
      hangs=$((hangs + 1))
      save_finding "$h" "$f" afl-hang
    else
      echo "  note: AFL++ hang $(basename "$f") runs fine alone (machine load): ignored"
    fi
  done
  printf '%-10s afl        execs=%s exec/s=%s bitmap_cvg=%s crashes=%s (saved_crashes=%s saved_hangs=%s, real hangs=%s)\n' \
    "$h" "$(stat_of execs_done)" "$(stat_of execs_per_sec)" "$(stat_of bitmap_cvg)" "$found" \
    "$(stat_of saved_crashes)" "$(stat_of saved_hangs)" "$hangs"
  printf '%s\t%s\tafl\t%s\t%s\t%s\tbitmap_cvg=%s\t%s\n' "$(date -u +%FT%TZ)" "$h" "$seconds" \
    "$(stat_of execs_done)" "$(stat_of execs_per_sec)" "$(stat_of bitmap_cvg)" \
    "$((found + hangs))" >>"$SUMMARY"
  if [ "$merge" -eq 1 ]; then
    afl_merge "$h" "$work/out/default/queue"
  fi
}

# ------------------------------------------------------------------ main
for h in "${harnesses[@]}"; do
  if [ ! -d "fuzz/corpus/$h" ]; then
    echo "fuzz.sh: no corpus fuzz/corpus/$h (harnesses: $(fuzz_harnesses | tr '\n' ' '))" >&2
    exit 2
  fi
done
# "files bytes cov ft" of a corpus directory: every input replayed once
# (-runs=0); cov and ft from libFuzzer's INITED line.
corpus_figures() {
  local h="$1" dir="$2" log
  log="$OUT/libfuzzer/$h/figures.log"
  mkdir -p "$(dirname "$log")"
  (cd "$(dirname "$log")" && nice -n 19 "$LF_BIN/${h}_fuzzer" -runs=0 -timeout=30 \
     -rss_limit_mb=4096 "$dir" >"$log" 2>&1) || return 1
  local inited
  inited=$(grep -E '^#[0-9]+[[:space:]]+INITED ' "$log" | tail -1)
  printf '%s %s %s %s\n' "$(find "$dir" -maxdepth 1 -type f | wc -l)" \
    "$(find "$dir" -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')" \
    "$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$inited")" \
    "$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$inited")"
}

if [ "$merge_only" -eq 1 ]; then
  printf '%-10s %22s   %22s\n' harness "before: files bytes cov ft" "after: files bytes cov ft"
  for h in "${harnesses[@]}"; do
    backup="$OUT/libfuzzer/$h/corpus-before"
    rm -rf "$backup"
    mkdir -p "$backup"
    cp -p "fuzz/corpus/$h"/* "$backup/"
    if ! before=$(corpus_figures "$h" "$ROOT/fuzz/corpus/$h"); then
      echo "fuzz.sh: $h: replaying the corpus failed (log: $OUT/libfuzzer/$h/figures.log)" >&2
      status=1
      continue
    fi
    libfuzzer_merge "$h" "" >/dev/null
    after=$(corpus_figures "$h" "$ROOT/fuzz/corpus/$h") || after="0 0 0 0"
    read -r _ _ cov0 ft0 <<<"$before"
    read -r _ _ cov1 ft1 <<<"$after"
    if [ -z "$cov0" ] || [ -z "$ft0" ]; then
      echo "fuzz.sh: $h: no coverage figures (log: $OUT/libfuzzer/$h/figures.log)" >&2
      status=1
    fi
    printf '%-10s %22s   %22s\n' "$h" "$before" "$after"
    # Edges must all stay. Features (edge x hit-count bucket) may move by
    # a few: the inputs run in another order and a first-call-only path
    # (lazy initialisation) lands in a different bucket; more than 1% is a loss.
    if [ "${cov1:-0}" -lt "${cov0:-0}" ] || [ $(( ${ft1:-0} * 100 )) -lt $(( ${ft0:-0} * 99 )) ]; then
      echo "fuzz.sh: $h: minimising lost coverage (cov $cov0 -> $cov1, ft $ft0 -> $ft1): old corpus kept" >&2
      find "fuzz/corpus/$h" -maxdepth 1 -type f -delete
      cp -p "$backup"/* "fuzz/corpus/$h/"
      status=1
    fi
  done
  exit "$status"
fi
for e in "${engines[@]}"; do
  for h in "${harnesses[@]}"; do
    if [ "$e" = libfuzzer ]; then
      run_libfuzzer "$h"
    else
      run_afl "$h"
    fi
  done
done
# The rules_fuzzing-style launcher (fuzz/run_fuzzer.sh) starts a campaign
# with its dictionary and corpus and writes where it says.
if [ "$smoke" -eq 1 ]; then
  h="${harnesses[0]}"
  rm -rf "$OUT/run"
  if $BAZEL run --config=libfuzzer --symlink_prefix=/ "//fuzz:${h}_run" -- --timeout_secs 2 \
       --fuzzing_output_root "$OUT/run" >"$OUT/run.log" 2>&1 &&
     grep -q "^Done [0-9]* runs" "$OUT/run.log" && [ -d "$OUT/run/$h/corpus" ]; then
    echo "${h}_run   bazel run //fuzz:${h}_run -- --timeout_secs 2: ok ($(find "$OUT/run/$h/corpus" -type f | wc -l) new inputs)"
  else
    tail -10 "$OUT/run.log" >&2
    echo "fuzz.sh: bazel run //fuzz:${h}_run failed (log: $OUT/run.log)" >&2
    status=1
  fi
fi
if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: FAILED: findings saved under fuzz/regressions/ (or an engine failed)"
else
  echo "fuzz.sh: no crash"
fi
exit "$status"
