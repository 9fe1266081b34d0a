#!/usr/bin/env bash
# Runs the whole test suite (`bazel test //...`) in the default configuration
# and under ASan, UBSan and TSan, then the consumer workspace
# (examples/consumer/, ci/consumer.sh: its test, its program and the
# visibility probe count as three targets), then prints one line
#   N passed, N failed
# counting test targets over all of them. Exits non-zero if any test failed
# or any configuration did not build.
#
# Usage: ci/test.sh [CONFIG...]     (default: default asan ubsan tsan consumer)
set -uo pipefail
cd "$(dirname "$0")/.."

configs=("$@")
if [ "${#configs[@]}" -eq 0 ]; then
  configs=(default asan ubsan tsan consumer)
fi

total_pass=0
total_fail=0
status=0
logdir="$(mktemp -d)"
trap 'rm -rf "$logdir"' EXIT

for cfg in "${configs[@]}"; do
  flags=()
  if [ "$cfg" != "default" ] && [ "$cfg" != "consumer" ]; then
    # Targets tagged config_independent (the spin model check) build
    # nothing with the configured toolchain: one run, in the default
    # configuration, checks all there is.
    flags+=("--config=$cfg" "--test_tag_filters=-config_independent")
  fi
  log="$logdir/$cfg.log"
  if [ "$cfg" = "consumer" ]; then
    echo "=== ci/consumer.sh (examples/consumer, a separate workspace)"
    bash ci/consumer.sh 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  else
    echo "=== bazel test ${flags[*]} //..."
    bazel test "${flags[@]}" --test_summary=short //... 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  fi
  # One summary line per test target, e.g.
  #   //tests:codec_test      PASSED in 0.4s
  #   //tests:codec_test      (cached) PASSED in 0.4s
  pass=$(grep -cE '^//[^ ]+ +(\(cached\) )?(PASSED|FLAKY)' "$log" || true)
  fail=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|INCOMPLETE|REMOTE FAILURE|FAILED TO BUILD)' "$log" || true)
  echo "=== $cfg: $pass passed, $fail failed (bazel exit $rc)"
  if [ "$rc" -ne 0 ]; then
    status=1
    # A build failure reports no per-target lines: count it as one failure so
    # the summary can never read "0 failed" for a red run.
    if [ "$fail" -eq 0 ]; then
      fail=1
    fi
  fi
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
done

echo "${total_pass} passed, ${total_fail} failed"
exit "$status"
