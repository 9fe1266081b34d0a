#!/bin/sh
echo "remote_coverage_tools stub: bazel coverage is not supported offline; use ci/coverage.sh" >&2
exit 0
