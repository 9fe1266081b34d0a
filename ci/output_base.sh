# ci/output_base.sh - sourced by the scripts that run Bazel with an output
# base of their own (ci/fuzz.sh, ci/afl_build.sh, ci/coverage.sh,
# ci/consumer.sh).
#
# Why per workspace: an output base belongs to one workspace directory.
# Shared by two checkouts (a worktree, then CI's fresh clone), Bazel kept
# runfiles symlinks that pointed into the first checkout, because the
# action that makes them had not changed; once that checkout was deleted,
# `bazel run //fuzz:args_run` found no dictionary and the fuzz smoke failed
# in CI. Bazel's own default output base is keyed by the workspace path the
# same way (~/.cache/bazel/_bazel_root/<md5 of the path>).

# shmchan_output_base NAME [DIR]: ~/.cache/shmchan_bazel/NAME-<md5 of DIR's
# absolute path> (DIR defaults to the current directory).
shmchan_output_base() {
  local dir
  dir="$(cd "${2:-.}" && pwd -P)" || return 1
  printf '%s/.cache/shmchan_bazel/%s-%s\n' "${HOME:-/root}" "$1" \
    "$(printf '%s' "$dir" | md5sum | cut -c1-32)"
}
