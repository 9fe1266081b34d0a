#!/usr/bin/env bash
# The launcher behind `bazel run --config=libfuzzer //fuzz:<name>_run`, in
# rules_fuzzing's convention (docs/fuzzing.md, "Campaign conveniences"):
#
#   bazel run --config=libfuzzer //fuzz:lane_run -- [--timeout_secs N]
#       [--fuzzing_output_root DIR] [--clean] [--regression] [-- ENGINE_ARGS...]
#
#   --timeout_secs N          stop after N seconds (0, the default: until ^C)
#   --fuzzing_output_root DIR where the campaign writes (default
#                             /tmp/fuzzing, as rules_fuzzing): DIR/<name>/corpus
#                             (new inputs), DIR/<name>/artifacts (crashes)
#   --clean                   empty DIR/<name> first
#   --regression              only replay the corpus (no fuzzing)
#   -- ENGINE_ARGS            passed to libFuzzer as they are
#
# The campaign starts from fuzz/corpus/<name>/ (read only: new inputs go to
# DIR/<name>/corpus) with fuzz/<name>.dict. Exits with libFuzzer's status
# (0: nothing found; non-zero: a crash, saved under DIR/<name>/artifacts/).
# Arguments from the BUILD rule: NAME BINARY DICT CORPUS (runfiles paths).
set -euo pipefail

name="$1" bin="$2" dict="$3" corpus="$4"
shift 4
bin="$PWD/$bin" dict="$PWD/$dict" corpus="$PWD/$corpus"

timeout_secs=0
root=/tmp/fuzzing
clean=0
regression=0
engine_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout_secs) timeout_secs="$2"; shift 2 ;;
    --timeout_secs=*) timeout_secs="${1#*=}"; shift ;;
    --fuzzing_output_root) root="$2"; shift 2 ;;
    --fuzzing_output_root=*) root="${1#*=}"; shift ;;
    --clean) clean=1; shift ;;
    --regression) regression=1; shift ;;
    --) shift; engine_args=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "${name}_run: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$timeout_secs" =~ ^[0-9]+$ ]]; then
  echo "${name}_run: --timeout_secs needs a number of seconds" >&2
  exit 2
fi

# Without --config=libfuzzer, //fuzz:<name>_fuzzer is the replay driver:
# it would treat every libFuzzer flag as an input file. (The help text is
# read whole: grep -q closing the pipe early would SIGPIPE the binary.)
help="$("$bin" -help=1 2>&1 || true)"
if ! grep -q -- '-max_total_time' <<<"$help"; then
  echo "${name}_run: $bin is not a libFuzzer binary;" \
    "run: bazel run --config=libfuzzer //fuzz:${name}_run -- ..." >&2
  exit 2
fi

case "$root" in
  /*) ;;
  *) root="${BUILD_WORKING_DIRECTORY:-$PWD}/$root" ;;
esac
out="$root/$name"
if [ "$clean" -eq 1 ]; then
  rm -rf "$out"
fi
mkdir -p "$out/corpus" "$out/artifacts"

flags=(-dict="$dict" -artifact_prefix="$out/artifacts/" -timeout=25 -rss_limit_mb=2560)
if [ "$regression" -eq 1 ]; then
  echo "${name}_run: replaying $corpus and $out/corpus"
  exec "$bin" "${flags[@]}" -runs=0 "${engine_args[@]}" "$out/corpus" "$corpus"
fi
if [ "$timeout_secs" -gt 0 ]; then
  flags+=(-max_total_time="$timeout_secs")
fi
echo "${name}_run: corpus $corpus -> new inputs in $out/corpus, crashes in $out/artifacts"
exec "$bin" "${flags[@]}" "${engine_args[@]}" "$out/corpus" "$corpus"
