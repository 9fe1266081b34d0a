"""The one list of fuzz harnesses (docs/fuzzing.md, "One list").

Read by two builds that must not drift apart:
  * Bazel: fuzz/BUILD makes, per entry, the shmchan_fuzzer targets
    (<name>_fuzzer, <name>_fuzzer_replay_test, <name>_run) from `deps`, and
    //fuzz:<name>_fuzzer_sources_test checks that `lib_srcs` is exactly the
    set of .c files those deps link.
  * OSS-Fuzz / ClusterFuzzLite: .clusterfuzzlite/build.sh compiles, per
    entry, fuzz/<name>_fuzzer.c + `lib_srcs` with $CC $CFLAGS, links with
    $LIB_FUZZING_ENGINE and installs <name>_fuzzer, its seed corpus zip
    (fuzz/corpus/<name>/ + the generated seeds + fuzz/regressions/<name>/),
    fuzz/<name>.dict and an .options file with `max_len`.
build.sh reads this file with Python's ast module, so it must stay plain
literals: no function calls, no variables, no string concatenation.

Per entry (the key is the harness name; its source is fuzz/<name>_fuzzer.c):
  deps      Bazel labels of the library code the harness tests
  lib_srcs  the workspace-relative .c files of those deps (checked by Bazel)
  max_len   libFuzzer -max_len for campaigns (.options); above the largest
            input the harness gives meaning to
"""

FUZZ_HARNESSES = {
    "args": {
        "deps": ["//src:prog_common"],
        "lib_srcs": ["src/prog/args.c"],
        "max_len": 1024,
    },
    "crc32c": {
        "deps": ["//src:codec"],
        "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c"],
        "max_len": 1024,
    },
    "decode": {
        "deps": ["//src:codec"],
        "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c"],
        "max_len": 8192,
    },
    "fragments": {
        "deps": ["//src:codec", "//src:lane"],
        "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c", "src/lane.c", "src/layout.c"],
        "max_len": 4096,
    },
    "lane": {
        "deps": ["//src:codec", "//src:lane"],
        "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c", "src/lane.c", "src/layout.c"],
        "max_len": 16384,
    },
    "layout": {
        "deps": ["//src:lane", "//src:layout"],
        "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c", "src/lane.c", "src/layout.c"],
        "max_len": 4096,
    },
    "roundtrip": {
        "deps": ["//src:codec"],
        "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c"],
        "max_len": 8192,
    },
}

# fuzz/gen_corpus.c, which writes the seed-* inputs: build.sh runs it too,
# so the seed corpora it ships are those of the sources it builds.
FUZZ_CORPUS_GENERATOR = {
    "deps": ["//src:codec", "//src:layout"],
    "lib_srcs": ["src/codec.c", "src/crc32c.c", "src/error.c", "src/layout.c"],
}
