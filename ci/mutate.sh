#!/usr/bin/env bash
# Mutation testing of src/ (see ci/mutate.py for the options and
# docs/testing.md, "Mutation testing", for the method and the latest table).
# Niced: the runner compiles and runs tests for many minutes on a shared machine.
set -uo pipefail
cd "$(dirname "$0")/.."
exec nice -n 10 python3 ci/mutate.py "$@"
