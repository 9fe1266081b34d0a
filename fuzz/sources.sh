# fuzz/sources.sh - sourced by ci/afl_build.sh and ci/coverage.sh, which
# compile the harnesses outside Bazel. fuzz/harnesses.bzl is the one list
# of harnesses; fuzz/BUILD makes its targets from it, and both scripts ask
# Bazel (a query, no build) instead of keeping a second list that could
# drift. (.clusterfuzzlite/build.sh, which cannot run Bazel, reads the list
# itself; //fuzz:<name>_fuzzer_sources_test keeps the two views equal.)
#
# Needs: cwd = workspace root, $BAZEL (e.g. "bazel --output_base=...").

# Names of every harness: the cc_binary targets //fuzz:<name>_fuzzer.
fuzz_harnesses() {
  $BAZEL query --noshow_progress 'filter("_fuzzer$", kind("cc_binary", //fuzz:*))' 2>/dev/null |
    sed -e 's|^//fuzz:||' -e 's|_fuzzer$||' | sort
}

# Workspace-relative .c files a harness links (harness + library code).
fuzz_sources() {
  $BAZEL query --noshow_progress \
    "filter('^//(src|fuzz)[:/].*\\.c\$', kind('source file', deps(//fuzz:$1_fuzzer_lib)))" \
    2>/dev/null | sed -e 's|^//||' -e 's|:|/|' | sort
}

# The project's compile flags (//:defs.bzl SHMCHAN_COPTS) minus -Werror:
# warnings are enforced by the Bazel build; an out-of-Bazel build should
# not fail on a warning a wrapper compiler adds.
FUZZ_CFLAGS=(-std=c11 -D_XOPEN_SOURCE=700 -Wall -Wextra -Wpedantic -Wshadow -Wconversion
  -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes -Wvla -I.)
