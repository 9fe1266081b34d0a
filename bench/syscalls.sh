#!/usr/bin/env bash
# bench/syscalls.sh - system calls per message of one ipcbench cell, counted
# with perf's syscall tracepoints over the whole machine (run it on an
# otherwise idle machine: every process's calls are counted), divided by
# the messages the cell moved (its progress line: "N msgs in all").
#
# Usage: bench/syscalls.sh IPCBENCH [ipcbench options for ONE cell]
#   e.g. bench/syscalls.sh bazel-bin/bench/ipcbench --transports shmchan \
#            --modes stream --sizes 64 --seconds 1 --reps 3
# Prints one line per system call that occurred, calls/message, and the
# context switches per message.
set -euo pipefail
bench="$1"
shift
events='syscalls:sys_enter_semtimedop,syscalls:sys_enter_semop,syscalls:sys_enter_semctl'
events+=',syscalls:sys_enter_clock_gettime,syscalls:sys_enter_futex,context-switches'
err="$(mktemp)"
stat="$(mktemp)"
trap 'rm -f "$err" "$stat"' EXIT
perf stat -a -x, -e "$events" -o "$stat" -- "$bench" --csv "$@" >/dev/null 2>"$err"
cells=$(grep -c ' msgs in all' "$err" || true)
if [ "$cells" -ne 1 ]; then
    echo "syscalls.sh: expected exactly one cell, got $cells" >&2
    cat "$err" >&2
    exit 2
fi
msgs=$(sed -n 's/.*(\([0-9]*\) msgs in all.*/\1/p' "$err")
grep -v '^#' "$stat" | awk -F, -v m="$msgs" 'NF > 2 && $1 ~ /^[0-9]+$/ {
    printf "%-40s %12d  %.4f per message\n", $3, $1, $1 / m }'
echo "messages: $msgs"
