#!/usr/bin/env bash
# Builds every fuzz harness (or those named) for AFL++, outside Bazel:
#   fuzz/out/afl/<name>_fuzzer         afl-clang-fast, ASan + UBSan, persistent
#   fuzz/out/afl/<name>_fuzzer.cmplog  afl-clang-fast with CmpLog, no sanitizer
#
# Usage: ci/afl_build.sh [harness...]
#
# Why outside Bazel (docs/fuzzing.md has the long form):
#  - `--repo_env=CC=afl-clang-fast` re-runs Bazel's C toolchain detection,
#    which invalidates every other configuration of the output base on each
#    switch, and afl-cc's own `-fsanitize=fuzzer` breaks on Bazel's
#    @params link files. The harnesses are a handful of C files: compiling
#    them directly takes seconds.
#  - The source list still comes from Bazel (fuzz/sources.sh queries the
#    harness's deps), so nothing here can drift from fuzz/BUILD.
# Why these choices:
#  - libAFLDriver.a supplies main(): persistent mode (__AFL_LOOP, thousands
#    of inputs per fork) and shared-memory test cases (__AFL_FUZZ_TESTCASE_BUF,
#    no file I/O per input). The harness copies each input into an exactly
#    sized heap block itself, so ASan still sees overreads.
#  - AFL_USE_ASAN/AFL_USE_UBSAN: the same sanitizers as --config=libfuzzer, so
#    both engines report the same bugs the same way.
#  - A separate CmpLog binary (afl-fuzz -c): AFL++'s input-to-state solver for
#    magic numbers and checksums ("SHCF", "SHMCHAN1", CRC-32C fields), the
#    counterpart of libFuzzer's -use_cmp tracing. It runs without sanitizers,
#    as AFL++ recommends (it only observes comparisons).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=output_base.sh
. ci/output_base.sh
BAZEL="${BAZEL:-bazel --output_base=$(shmchan_output_base fuzz)}"
# shellcheck source=../fuzz/sources.sh
. fuzz/sources.sh

OUT=fuzz/out/afl
DRIVER=/usr/lib/afl/libAFLDriver.a
command -v afl-clang-fast >/dev/null || { echo "afl_build: afl-clang-fast missing (ci/setup.sh installs afl++)" >&2; exit 1; }
[ -f "$DRIVER" ] || { echo "afl_build: $DRIVER missing" >&2; exit 1; }

harnesses=("$@")
if [ "${#harnesses[@]}" -eq 0 ]; then
  mapfile -t harnesses < <(fuzz_harnesses)
fi
mkdir -p "$OUT"

for h in "${harnesses[@]}"; do
  h="${h%_fuzzer}"
  mapfile -t srcs < <(fuzz_sources "$h")
  if [ "${#srcs[@]}" -eq 0 ]; then
    echo "afl_build: no harness named $h" >&2
    exit 1
  fi
  echo "afl_build: $h: ${srcs[*]}"
  AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 nice -n 19 afl-clang-fast \
    "${FUZZ_CFLAGS[@]}" -g -O1 -fno-omit-frame-pointer \
    "${srcs[@]}" "$DRIVER" -o "$OUT/${h}_fuzzer"
  AFL_QUIET=1 AFL_LLVM_CMPLOG=1 nice -n 19 afl-clang-fast \
    "${FUZZ_CFLAGS[@]}" -g -O1 \
    "${srcs[@]}" "$DRIVER" -o "$OUT/${h}_fuzzer.cmplog"
done
echo "afl_build: binaries in $OUT/"
