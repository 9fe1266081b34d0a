#!/usr/bin/env bash
# Builds and tests examples/consumer/, a separate Bazel workspace that uses
# shmchan through `local_repository` the way another project would
# (docs/build.md, "Using shmchan from your workspace"), then checks that
# shmchan's internal layers are not visible to it.
#
# Usage: ci/consumer.sh      (prints bazel's per-target test summary lines,
#                             which ci/test.sh counts)
# Its own output base (a second workspace cannot share the main one's; one
# per checkout, ci/output_base.sh); the
# Bazel server it starts exits after 10 idle minutes. No convenience
# symlinks are made: examples/consumer/ lies inside the shmchan repository
# the consumer loads.
set -uo pipefail
cd "$(dirname "$0")/../examples/consumer"

# shellcheck source=../../ci/output_base.sh
. ../../ci/output_base.sh
BAZEL=(bazel --output_base="${CONSUMER_OUTPUT_BASE:-$(shmchan_output_base consumer)}" --max_idle_secs=600)
status=0

"${BAZEL[@]}" test --symlink_prefix=/ --test_summary=short //... 2>&1
rc=$?
[ "$rc" -eq 0 ] || status=1

# The program runs and prints its decoded frame.
demo="$("${BAZEL[@]}" run --symlink_prefix=/ //:frame_demo 2>/dev/null)"
case "$demo" in
  "50-byte frame, seq 1, crc32c 0x"????????": Hello from the other side!")
    echo "//:frame_demo PASSED: $demo" ;;
  *)
    echo "//:frame_demo FAILED: printed '$demo'"
    status=1 ;;
esac

# Depending on an internal layer must be refused by Bazel's visibility check.
probe_log="$(mktemp)"
trap 'rm -f "$probe_log"' EXIT
if "${BAZEL[@]}" build --symlink_prefix=/ //:internal_layer_probe >"$probe_log" 2>&1; then
  echo "//:internal_layer_probe FAILED: @shmchan//src:codec is visible outside shmchan"
  status=1
elif grep -q "is not visible from target '//:internal_layer_probe'" "$probe_log"; then
  echo "//:internal_layer_probe PASSED: @shmchan//src:codec is not visible to consumers"
else
  tail -20 "$probe_log"
  echo "//:internal_layer_probe FAILED: the build failed, but not on visibility"
  status=1
fi
exit "$status"
