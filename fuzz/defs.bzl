"""shmchan_fuzzer: one harness, three ways to run it (docs/fuzzing.md)."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("//:defs.bzl", "SHMCHAN_COPTS")

def shmchan_fuzzer(name, srcs, deps = [], size = "small", lib_srcs = None):
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
    <name>_run                 a campaign, in rules_fuzzing's convention:
                               `bazel run --config=libfuzzer //fuzz:<name>_run
                               -- [--timeout_secs N]` (fuzz/run_fuzzer.sh)
    <name>_fuzzer_sources_test (if lib_srcs is given) fails unless lib_srcs
                               is exactly the set of .c files `deps` link:
                               the list .clusterfuzzlite/build.sh compiles.
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

    native.sh_binary(
        name = name + "_run",
        srcs = ["//fuzz:run_fuzzer.sh"],
        args = [
            name,
            "$(rootpath :%s_fuzzer)" % name,
            "$(rootpath :%s.dict)" % name,
            "fuzz/corpus/" + name,
        ],
        data = [
            ":%s_fuzzer" % name,
            ":%s.dict" % name,
        ] + native.glob(["corpus/%s/**" % name], allow_empty = False),
        tags = ["manual"],
    )

    if lib_srcs != None:
        fuzz_sources_test(
            name = name + "_fuzzer_sources_test",
            deps = deps,
            expected = lib_srcs,
            size = "small",
            tags = ["config_independent"],
        )

# ------------------------------------------------------ sources_test

_CSrcsInfo = provider(fields = ["files"])

def _c_srcs_aspect_impl(target, ctx):
    own = []
    for src in getattr(ctx.rule.attr, "srcs", []):
        own.extend([f for f in src.files.to_list() if f.extension == "c"])
    deps = [d[_CSrcsInfo].files for d in getattr(ctx.rule.attr, "deps", []) if _CSrcsInfo in d]
    return [_CSrcsInfo(files = depset(own, transitive = deps))]

_c_srcs_aspect = aspect(
    implementation = _c_srcs_aspect_impl,
    attr_aspects = ["deps"],
)

def _fuzz_sources_test_impl(ctx):
    got = sorted({f.short_path: True for d in ctx.attr.deps for f in d[_CSrcsInfo].files.to_list()}.keys())
    want = sorted({p: True for p in ctx.attr.expected}.keys())
    missing = [p for p in got if p not in want]
    extra = [p for p in want if p not in got]
    lines = ["#!/bin/sh"]
    if missing or extra:
        lines.append("echo '%s: lib_srcs in fuzz/harnesses.bzl differs from the .c files of %s:' >&2" %
                     (ctx.label.name, " ".join([str(d.label) for d in ctx.attr.deps])))
        for p in missing:
            lines.append("echo '  missing from lib_srcs: %s' >&2" % p)
        for p in extra:
            lines.append("echo '  in lib_srcs but not linked by deps: %s' >&2" % p)
        lines.append("exit 1")
    else:
        lines.append("echo '%s: lib_srcs = %s'" % (ctx.label.name, " ".join(got)))
    out = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(out, "\n".join(lines) + "\n", is_executable = True)
    return [DefaultInfo(executable = out)]

fuzz_sources_test = rule(
    implementation = _fuzz_sources_test_impl,
    attrs = {
        "deps": attr.label_list(aspects = [_c_srcs_aspect]),
        "expected": attr.string_list(),
    },
    test = True,
    doc = "Fails unless `expected` is the set of .c files `deps` link (transitively).",
)

def fuzz_list_test(name, harnesses):
    """Fails unless the harness list, the fuzz/*_fuzzer.c files, the
    fuzz/*.dict files and the fuzz/corpus/* directories name the same
    harnesses (deleting one of them, or an entry of the list, is caught)."""
    sources = [f[:-len("_fuzzer.c")] for f in native.glob(["*_fuzzer.c"])]
    dicts = [f[:-len(".dict")] for f in native.glob(["*.dict"])]
    corpora = {f.split("/")[1]: True for f in native.glob(["corpus/*/*"])}.keys()
    problems = []
    for label, names in [("fuzz/<name>_fuzzer.c", sources), ("fuzz/<name>.dict", dicts),
                         ("fuzz/corpus/<name>/ (non-empty)", corpora)]:
        for n in harnesses:
            if n not in names:
                problems.append("%s: no %s" % (n, label.replace("<name>", n)))
        for n in names:
            if n not in harnesses:
                problems.append("%s: %s is not in fuzz/harnesses.bzl" % (n, label.replace("<name>", n)))
    native.genrule(
        name = name + "_script",
        outs = [name + ".sh"],
        cmd = "\n".join(["cat > $@ <<'EOF'", "#!/bin/sh"] +
                        ["echo 'fuzz/harnesses.bzl: %s' >&2" % p for p in sorted(problems)] +
                        ["exit %d" % (1 if problems else 0), "EOF"]),
        executable = True,
    )
    native.sh_test(
        name = name,
        size = "small",
        srcs = [name + ".sh"],
        tags = ["config_independent"],
    )
