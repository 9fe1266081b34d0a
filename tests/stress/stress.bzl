"""stress_test: a default target plus a manual `_long` one from the same source."""

load("//:defs.bzl", "shmchan_cc_test")

def stress_test(
        name,
        srcs,
        size = "medium",
        timeout = None,
        long_scale = 20,
        long_size = "large",
        long_timeout = "eternal",
        tags = [],
        **kwargs):
    """Declares `name` (run by `bazel test //...`) and `name_long` (manual).

    The long variant runs the same binary with --scale=long_scale, which
    multiplies every iteration count (tests/stress/stress_util.h).
    """
    shmchan_cc_test(
        name = name,
        srcs = srcs,
        size = size,
        timeout = timeout,
        tags = tags,
        **kwargs
    )
    shmchan_cc_test(
        name = name + "_long",
        srcs = srcs,
        size = long_size,
        timeout = long_timeout,
        args = ["--scale=%d" % long_scale],
        tags = tags + ["manual"],
        **kwargs
    )
