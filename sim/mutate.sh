#!/usr/bin/env bash
# sim/mutate.sh - does the simulator find the defects it should?
#
# Applies each sim/mutants/<name>.patch (a defect that issue 13 fixed, or a
# model/ mutant's counterpart in the C code) to a scratch copy of src/, one
# at a time, builds the simulator against it with clang directly (no Bazel:
# seconds per mutant) and runs seeds until the first failure, up to a
# budget. Then runs the unmutated code for ten times the largest budget
# used. Prints one table row per mutant (docs/simulation.md has the last).
#
# Usage: sim/mutate.sh [--budget SEEDS] [--fixed-factor F] [NAME...]
# Exit status: 1 if a mutant survived its budget, or the fixed code failed.
set -uo pipefail
cd "$(dirname "$0")/.."

budget=20000
factor=10
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget="$2"; shift 2 ;;
    --fixed-factor) factor="$2"; shift 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ "${#names[@]}" -eq 0 ]; then
  for p in sim/mutants/*.patch; do names+=("$(basename "$p" .patch)"); done
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
wraps=""
for f in semget semctl semtimedop shmget shmat shmdt shmctl clock_gettime time getrandom \
         geteuid getpid calloc free; do
  wraps="$wraps -Wl,--wrap=$f"
done

# build DIR: the simulator from DIR/src and DIR/sim.
build() {
  local dir="$1"
  local srcs
  srcs="$(ls "$dir"/src/*.c) $dir/sim/actors.c $dir/sim/kernel.c $dir/sim/sched.c \
        $dir/sim/sysv_wrap.c $dir/sim/world.c $dir/sim/simulate_main.c"
  # shellcheck disable=SC2086
  clang -std=c11 -D_XOPEN_SOURCE=700 -DSHMCHAN_SIM_SHM_SWITCH -O1 -g -w -I "$dir" $srcs $wraps -o "$dir/simulate"
}

# run DIR N: seeds 1..N; prints "found SEED SECONDS" or "survived N SECONDS".
run() {
  local dir="$1" n="$2" out start end
  start=$(date +%s.%N)
  out="$("$dir/simulate" --announce --seeds "$n" 2>&1)"
  local rc=$?
  end=$(date +%s.%N)
  local secs
  secs=$(echo "$end - $start" | bc)
  if echo "$out" | grep -q 'FAILED'; then
    local seed why
    seed=$(echo "$out" | sed -n 's/^simulate: seed \([0-9]*\) FAILED.*/\1/p' | head -n 1)
    why=$(echo "$out" | sed -n 's/^simulate: seed [0-9]* FAILED after [^:]*: //p' | head -n 1)
    echo "found $seed $secs $why"
  elif [ "$rc" -ge 128 ]; then
    # Killed by a signal (a mutant that writes through a dead mapping): the
    # last seed announced is the one that crashed.
    local seed
    seed=$(echo "$out" | sed -n 's/^simulate: seed \([0-9]*\)$/\1/p' | tail -n 1)
    echo "found $seed $secs the process crashed (signal $((rc - 128)))"
  else
    echo "survived $n $secs"
  fi
}

status=0
printf '| mutant | found at seed | seconds | oracle that fired |\n|---|---|---|---|\n'
for name in "${names[@]}"; do
  rm -rf "$scratch/m"
  mkdir -p "$scratch/m"
  cp -r src sim "$scratch/m/"
  if ! patch -s -p1 -d "$scratch/m" < "sim/mutants/$name.patch"; then
    printf '| %s | patch does not apply (stale) | | |\n' "$name"
    status=1
    continue
  fi
  if ! build "$scratch/m" 2> "$scratch/build.log"; then
    printf '| %s | does not compile | | |\n' "$name"
    status=1
    continue
  fi
  read -r verdict seed secs why <<< "$(run "$scratch/m" "$budget")"
  if [ "$verdict" = found ]; then
    printf '| %s | %s | %.1f | %s |\n' "$name" "$seed" "$secs" "$why"
  else
    printf '| %s | SURVIVED %s seeds | %.1f | |\n' "$name" "$seed" "$secs"
    status=1
  fi
done

rm -rf "$scratch/f"
mkdir -p "$scratch/f"
cp -r src sim "$scratch/f/"
build "$scratch/f" || exit 1
fixed=$((budget * factor))
read -r verdict seed secs why <<< "$(run "$scratch/f" "$fixed")"
if [ "$verdict" = found ]; then
  echo "fixed code FAILED at seed $seed: $why"
  status=1
else
  printf 'fixed code: %s seeds passed in %.1f s\n' "$fixed" "$secs"
fi
exit "$status"
