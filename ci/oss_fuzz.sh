#!/usr/bin/env bash
# Checks .clusterfuzzlite/build.sh the way OSS-Fuzz and ClusterFuzzLite run
# it, without docker (docs/fuzzing.md, "The CI check"):
#
# Usage: ci/oss_fuzz.sh [--seconds N]     (default 3 s of fuzzing per fuzzer)
#
# For each sanitizer, address then undefined:
#  1. copies the working tree (no .git, no bazel-* links, no fuzz/out) to
#     $SRC/shmchan and build.sh to $SRC/build.sh, in fresh temporary
#     folders, and runs `bash -eu $SRC/build.sh` from $SRC/shmchan with the
#     base-builder's variables: CC=clang CXX=clang++, CFLAGS/CXXFLAGS with
#     -fsanitize=address,fuzzer-no-link (resp. -fsanitize=undefined),
#     LIB_FUZZING_ENGINE=-fsanitize=fuzzer, OUT, SRC, WORK, SANITIZER,
#     FUZZING_ENGINE=libfuzzer, ARCHITECTURE=x86_64;
#  2. checks $OUT against the repository, not against the list build.sh
#     read: for every fuzz/<name>_fuzzer.c there must be an executable
#     <name>_fuzzer, <name>_fuzzer.dict identical to fuzz/<name>.dict,
#     <name>_fuzzer.options naming that dictionary, and
#     <name>_fuzzer_seed_corpus.zip holding every file of fuzz/corpus/<name>/
#     byte for byte; and no other fuzzer;
#  3. runs each fuzzer on its unzipped seed corpus (-runs=0: every input
#     once) and then fuzzes for N seconds with its .options, failing on any
#     crash, sanitizer report, leak or timeout.
# Prints one line per fuzzer and sanitizer and exits non-zero on any failure.
# Only the time-bounded fuzzing runs under `nice -n 19`: the build and the
# replays are CI work like a Bazel build, and at nice 19 on a loaded shared
# machine they took minutes instead of seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

seconds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "oss_fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# What the repository says the fuzzers are: one per fuzz/<name>_fuzzer.c.
mapfile -t expected < <(cd fuzz && ls -- *_fuzzer.c 2>/dev/null | sed 's/_fuzzer\.c$//' | sort)
if [ "${#expected[@]}" -eq 0 ]; then
  echo "oss_fuzz.sh: no fuzz/*_fuzzer.c" >&2
  exit 1
fi

# The base-builder's flags (infra/base-images/base-clang), trimmed to what
# clang 14 accepts for C. UBSan does not recover: any report is a failure.
COMMON="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
declare -A SAN_FLAGS=(
  [address]="-fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
  [undefined]="-fsanitize=undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link"
)

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fail() {
  echo "FAIL $*"
  status=1
}

# Build, check and run for one sanitizer; returns 1 on any failure.
check_sanitizer() {
  local san="$1" src out work flags n f seeds committed missing c max_len run rc execs cov bin
  local -a lf
  status=0
  echo "=== OSS-Fuzz build, SANITIZER=$san"
  src="$TMP/$san/src" out="$TMP/$san/out" work="$TMP/$san/work"
  mkdir -p "$src/shmchan" "$out" "$work"
  tar -C "$ROOT" --exclude=./.git --exclude='./bazel-*' --exclude='./examples/*/bazel-*' \
    --exclude=./fuzz/out --exclude=./coverage -cf - . | tar -C "$src/shmchan" -xf -
  cp .clusterfuzzlite/build.sh "$src/build.sh"
  flags="$COMMON ${SAN_FLAGS[$san]}"
  if ! (cd "$src/shmchan" && env CC=clang CXX=clang++ CFLAGS="$flags" CXXFLAGS="$flags" \
        LIB_FUZZING_ENGINE=-fsanitize=fuzzer SANITIZER="$san" FUZZING_ENGINE=libfuzzer \
        ARCHITECTURE=x86_64 OUT="$out" SRC="$src" WORK="$work" \
        bash -eu "$src/build.sh") >"$TMP/$san/build.log" 2>&1; then
    tail -20 "$TMP/$san/build.log"
    fail "$san: build.sh failed (its output is above)"
    return 1
  fi

  # Anything built that the repository does not have a harness for.
  for bin in "$out"/*_fuzzer; do
    [ -f "$bin" ] || continue
    n="$(basename "$bin" _fuzzer)"
    [ -f "fuzz/${n}_fuzzer.c" ] || fail "$san: $bin has no fuzz/${n}_fuzzer.c"
  done

  for n in "${expected[@]}"; do
    f="$out/${n}_fuzzer"
    if [ ! -x "$f" ]; then
      fail "$san: ${n}_fuzzer was not built (is $n in fuzz/harnesses.bzl?)"
      continue
    fi
    if [ ! -f "fuzz/$n.dict" ] || ! cmp -s "fuzz/$n.dict" "$f.dict"; then
      fail "$san: ${n}_fuzzer.dict missing or not fuzz/$n.dict"
    fi
    if ! grep -qx "dict = ${n}_fuzzer.dict" "$f.options" 2>/dev/null ||
       ! grep -q '^\[libfuzzer\]$' "$f.options"; then
      fail "$san: ${n}_fuzzer.options missing or does not name ${n}_fuzzer.dict"
    fi
    seeds="$TMP/$san/seeds/$n"
    mkdir -p "$seeds"
    if ! unzip -q -o "${f}_seed_corpus.zip" -d "$seeds" 2>/dev/null; then
      fail "$san: ${n}_fuzzer_seed_corpus.zip missing or unreadable"
      continue
    fi
    committed=0 missing=0
    for c in "fuzz/corpus/$n"/*; do
      [ -f "$c" ] || continue
      committed=$((committed + 1))
      cmp -s "$c" "$seeds/$(basename "$c")" || missing=$((missing + 1))
    done
    if [ "$committed" -eq 0 ]; then
      fail "$san: fuzz/corpus/$n/ is missing or empty"
    elif [ "$missing" -ne 0 ]; then
      fail "$san: ${n}_fuzzer_seed_corpus.zip lacks $missing of the $committed files of fuzz/corpus/$n/"
    fi

    # The .options as the services apply them, plus limits for a CI box.
    max_len="$(sed -n 's/^max_len = //p' "$f.options")"
    run="$TMP/$san/run/$n"
    mkdir -p "$run/new" "$run/artifacts"
    lf=(-dict="$f.dict" -max_len="${max_len:-4096}" -timeout=25 -rss_limit_mb=2560
        -artifact_prefix="$run/artifacts/")
    (cd "$run" && "$f" "${lf[@]}" -runs=0 "$seeds" >"$run/replay.log" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ]; then
      tail -15 "$run/replay.log"
      fail "$san: ${n}_fuzzer crashed on its seed corpus (exit $rc)"
      continue
    fi
    (cd "$run" && nice -n 19 "$f" "${lf[@]}" -max_total_time="$seconds" -print_final_stats=1 \
       "$run/new" "$seeds" >"$run/fuzz.log" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$run/artifacts")" ]; then
      tail -15 "$run/fuzz.log"
      fail "$san: ${n}_fuzzer failed while fuzzing (exit $rc; artifacts: $(ls "$run/artifacts" | tr '\n' ' '))"
      continue
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/fuzz.log" | tail -1)"
    cov="$(grep -E '^#[0-9]+.* cov: ' "$run/fuzz.log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')"
    printf 'ok   %-9s %-10s seeds=%-4s execs=%-8s cov=%s\n' "$san" "${n}_fuzzer" \
      "$(find "$seeds" -type f | wc -l)" "${execs:-?}" "${cov:-?}"
  done
  return "$status"
}

# The two sanitizers side by side (2 cores): the fuzzing is bounded by wall
# time, so this halves the wall time without using more CPU time.
check_sanitizer address >"$TMP/address.out" 2>&1 &
asan_pid=$!
check_sanitizer undefined >"$TMP/undefined.out" 2>&1 &
ubsan_pid=$!
status=0
wait "$asan_pid" || status=1
wait "$ubsan_pid" || status=1
cat "$TMP/address.out" "$TMP/undefined.out"

if [ "$status" -eq 0 ]; then
  echo "oss_fuzz.sh: OSS-Fuzz build checked: ${#expected[@]} fuzzers x 2 sanitizers, no crash"
else
  echo "oss_fuzz.sh: FAILED"
fi
exit "$status"
