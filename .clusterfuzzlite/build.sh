#!/bin/bash -eu
# Builds every shmchan fuzz harness for OSS-Fuzz or ClusterFuzzLite
# (docs/fuzzing.md, "OSS-Fuzz and ClusterFuzzLite"). Also OSS-Fuzz's
# projects/shmchan/build.sh, unchanged.
#
# Straight from the sources, without Bazel and without the network:
#   $CC $CFLAGS                compiles fuzz/<name>_fuzzer.c and the library
#                              files the harness links
#   $CXX $CXXFLAGS $LIB_FUZZING_ENGINE
#                              links it (C++: every engine's driver is C++)
#   $OUT/<name>_fuzzer                 the fuzzer
#   $OUT/<name>_fuzzer_seed_corpus.zip fuzz/corpus/<name>/, the seeds
#                                      fuzz/gen_corpus.c writes now, and the
#                                      crash regressions fuzz/regressions/<name>/
#   $OUT/<name>_fuzzer.dict            fuzz/<name>.dict
#   $OUT/<name>_fuzzer.options         [libfuzzer] dict and max_len
# The harnesses and their library sources come from fuzz/harnesses.bzl, the
# list fuzz/BUILD makes its Bazel targets from (read with python3's ast
# module: base-builder has python3, zip and clang).
#
# Run from the repository root (the Dockerfile's WORKDIR, $SRC/shmchan);
# SHMCHAN_ROOT overrides that. Fails, naming the file, if a harness of the
# list lacks its source, dictionary or corpus.

ROOT="${SHMCHAN_ROOT:-$PWD}"
cd "$ROOT"
if [ ! -f fuzz/harnesses.bzl ]; then
  echo "build.sh: run me from the shmchan checkout (no fuzz/harnesses.bzl in $PWD)" >&2
  exit 1
fi
: "${OUT:?OUT must be set}" "${CC:?CC must be set}" "${LIB_FUZZING_ENGINE:?LIB_FUZZING_ENGINE must be set}"
CFLAGS="${CFLAGS:-}"
CXX="${CXX:-$CC}"
CXXFLAGS="${CXXFLAGS:-$CFLAGS}"
WORK_DIR="${WORK:-$(mktemp -d)}/shmchan-build"
rm -rf "$WORK_DIR"
mkdir -p "$WORK_DIR/obj" "$WORK_DIR/gen" "$OUT"

# The project's language flags (//:defs.bzl SHMCHAN_COPTS without -Werror:
# warnings are the Bazel build's job, and a service's compiler may be newer).
PROJECT_CFLAGS=(-std=c11 -D_XOPEN_SOURCE=700 -I.)

# One line per entry: name<TAB>max_len<TAB>lib sources (space-separated);
# then "generator<TAB>-<TAB>lib sources" for fuzz/gen_corpus.c.
read_list() {
  python3 - fuzz/harnesses.bzl <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read(), sys.argv[1])
values = {}
for node in tree.body:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        values[node.targets[0].id] = ast.literal_eval(node.value)
for name, h in values["FUZZ_HARNESSES"].items():
    print("%s\t%d\t%s" % (name, h["max_len"], " ".join(h["lib_srcs"])))
print("generator\t-\t%s" % " ".join(values["FUZZ_CORPUS_GENERATOR"]["lib_srcs"]))
PY
}
LIST="$(read_list)"

# Compiles a source once per build; prints its object.
compile() {
  local src="$1" obj
  obj="$WORK_DIR/obj/$(echo "$src" | tr '/.' '__').o"
  if [ ! -f "$obj" ]; then
    # shellcheck disable=SC2086  # CFLAGS is a list of flags
    $CC $CFLAGS "${PROJECT_CFLAGS[@]}" -c "$src" -o "$obj"
  fi
  echo "$obj"
}

# The seed generator is a build tool: compiled without the sanitizer and
# coverage flags (they are for the fuzzers).
gen_srcs="$(awk -F'\t' '$1 == "generator" { print $3 }' <<<"$LIST")"
# shellcheck disable=SC2086
$CC "${PROJECT_CFLAGS[@]}" -O1 fuzz/gen_corpus.c $gen_srcs -o "$WORK_DIR/gen_corpus"
"$WORK_DIR/gen_corpus" "$WORK_DIR/gen" >/dev/null

built=0
while IFS=$'\t' read -r name max_len lib_srcs; do
  [ "$name" = generator ] && continue
  harness="fuzz/${name}_fuzzer.c"
  for need in "$harness" "fuzz/$name.dict"; do
    if [ ! -f "$need" ]; then
      echo "build.sh: harness $name (fuzz/harnesses.bzl): $need is missing" >&2
      exit 1
    fi
  done
  if [ -z "$(find "fuzz/corpus/$name" -maxdepth 1 -type f 2>/dev/null | head -1)" ]; then
    echo "build.sh: harness $name (fuzz/harnesses.bzl): fuzz/corpus/$name/ is missing or empty" >&2
    exit 1
  fi

  objs=("$(compile "$harness")")
  for src in $lib_srcs; do
    objs+=("$(compile "$src")")
  done
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS "${objs[@]}" $LIB_FUZZING_ENGINE -o "$OUT/${name}_fuzzer"

  # Seed corpus: committed inputs, fresh seeds (same names as the committed
  # seed-* files when the generator is unchanged) and crash regressions.
  seeds="$WORK_DIR/seeds/$name"
  mkdir -p "$seeds"
  find "fuzz/corpus/$name" -maxdepth 1 -type f -exec cp -t "$seeds" {} +
  if [ -d "$WORK_DIR/gen/$name" ]; then
    find "$WORK_DIR/gen/$name" -maxdepth 1 -type f -exec cp -f -t "$seeds" {} +
  fi
  if [ -d "fuzz/regressions/$name" ]; then
    find "fuzz/regressions/$name" -maxdepth 1 -type f ! -name 'README*' -exec cp -t "$seeds" {} +
  fi
  rm -f "$OUT/${name}_fuzzer_seed_corpus.zip"
  (cd "$seeds" && zip -q -X "$OUT/${name}_fuzzer_seed_corpus.zip" ./*)

  cp "fuzz/$name.dict" "$OUT/${name}_fuzzer.dict"
  printf '[libfuzzer]\ndict = %s_fuzzer.dict\nmax_len = %s\n' "$name" "$max_len" \
    >"$OUT/${name}_fuzzer.options"
  echo "build.sh: $OUT/${name}_fuzzer ($(find "$seeds" -type f | wc -l) seeds; $harness $lib_srcs)"
  built=$((built + 1))
done <<<"$LIST"
echo "build.sh: $built fuzzers in $OUT"
