"""shmchan_fuzzer: one harness, three ways to run it (docs/fuzzing.md)."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("//:defs.bzl", "SHMCHAN_COPTS")

def shmchan_fuzzer(name, srcs, deps = [], size = "small"):
    """Defines, for a harness `name` (e.g. "decode"):

    <name>_fuzzer_lib          the harness (LLVMFuzzerTestOneInput), alwayslink
                               so that a driver's reference to it is always met
    <name>_fuzzer              with --config=libfuzzer: the libFuzzer binary
                               (-fsanitize=fuzzer at link); otherwise the same
                               harness with the replay driver. Tagged manual:
                               `bazel build //...` never links it.
    <name>_fuzzer_replay_test  the corpus fuzz/corpus/<name>/ and the crash
                               regressions fuzz/regressions/<name>/ replayed
                               through the harness, in every configuration.
    """
    lib = name + "_fuzzer_lib"
    cc_library(
        name = lib,
        srcs = srcs,
        copts = SHMCHAN_COPTS,
        deps = deps + ["//fuzz:fuzz_harness"],
        alwayslink = True,
    )

    cc_binary(
        name = name + "_fuzzer",
        deps = [lib] + select({
            "//fuzz:engine_libfuzzer": [],
            "//conditions:default": ["//fuzz:replay_main"],
        }),
        linkopts = select({
            "//fuzz:engine_libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["manual"],
    )

    dirs = ["fuzz/corpus/" + name, "fuzz/regressions/" + name]
    cc_test(
        name = name + "_fuzzer_replay_test",
        size = size,
        args = dirs,
        data = native.glob(
            ["corpus/%s/**" % name, "regressions/%s/**" % name],
            allow_empty = False,
        ),
        deps = [lib, "//fuzz:replay_main"],
    )
