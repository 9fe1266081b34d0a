#!/usr/bin/env bash
# sim/campaign.sh - a long seeded campaign on the code as it is.
#
# Builds the simulator with clang -O2 outside Bazel (as sim/mutate.sh does,
# optimised: a campaign is CPU-bound), splits seeds FIRST .. FIRST+N-1 into
# chunks, runs the chunks over J processes (each `nice`d), and reports the
# seeds per second and every failing seed (each chunk stops at its first
# failure; the seed replays with `simulate --seed S --trace`).
#
# Usage: sim/campaign.sh [-n SEEDS] [-j JOBS] [-f FIRST] [-c CHUNK] [--nice N]
#   defaults: -n 1000000 -j 1 -f 1 -c 50000 --nice 19
# Exit status: 0 if every seed passed, 1 if a seed failed, 2 on a usage or
# build error.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

n=1000000
jobs=1
first=1
chunk=50000
niceness=19
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift 2 ;;
    -j) jobs="$2"; shift 2 ;;
    -f) first="$2"; shift 2 ;;
    -c) chunk="$2"; shift 2 ;;
    --nice) niceness="$2"; shift 2 ;;
    *) echo "usage: sim/campaign.sh [-n SEEDS] [-j JOBS] [-f FIRST] [-c CHUNK] [--nice N]" >&2
       exit 2 ;;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
wraps=""
for f in semget semctl semtimedop shmget shmat shmdt shmctl clock_gettime time getrandom \
         geteuid getpid calloc free; do
  wraps="$wraps -Wl,--wrap=$f"
done
# shellcheck disable=SC2086
if ! clang -std=c11 -D_XOPEN_SOURCE=700 -DSHMCHAN_SIM_SHM_SWITCH -O2 -g -w -I . src/*.c \
     sim/actors.c sim/kernel.c sim/sched.c sim/sysv_wrap.c sim/world.c sim/simulate_main.c \
     $wraps -o "$work/simulate"; then
  echo "campaign: build failed" >&2
  exit 2
fi
echo "campaign: commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)'), seeds $first..$((first + n - 1)), $jobs job(s), chunks of $chunk"

# One line per chunk: "START COUNT" (the last chunk may be shorter).
: > "$work/chunks"
s="$first"
end=$((first + n))
while [ "$s" -lt "$end" ]; do
  c=$((end - s < chunk ? end - s : chunk))
  echo "$s $c" >> "$work/chunks"
  s=$((s + c))
done

start=$(date +%s.%N)
# Each chunk writes its log to $work/log.START; xargs keeps J running.
# shellcheck disable=SC2016
xargs -P "$jobs" -L 1 sh -c \
  'nice -n "$0" "$1" --seed "$2" --seeds "$3" > "$4/log.$2" 2>&1; echo "$?" > "$4/rc.$2"' \
  "$niceness" "$work/simulate" < <(sed "s|\$| $work|" "$work/chunks")
end_t=$(date +%s.%N)
secs=$(echo "$end_t - $start" | bc)

status=0
ran=0
while read -r cs cn; do
  rc=$(cat "$work/rc.$cs" 2>/dev/null || echo 99)
  if [ "$rc" = 0 ]; then
    ran=$((ran + cn))
  else
    status=1
    line=$(grep -m1 'FAILED' "$work/log.$cs" || tail -n 1 "$work/log.$cs")
    echo "campaign: chunk from seed $cs (exit $rc): $line"
  fi
done < "$work/chunks"
printf 'campaign: %d of %d seeds passed in %.1f s (%.0f seeds/s over %d jobs)\n' \
  "$ran" "$n" "$secs" "$(echo "$ran / $secs" | bc -l)" "$jobs"
[ "$status" -eq 0 ] && echo "campaign: 0 failures"
exit "$status"
