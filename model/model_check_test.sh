#!/usr/bin/env bash
# model_check_test.sh - model-checks model/shmchan.pml (the protocol the code
# implements) and model/multiuser.pml (the multi-user design of
# docs/multiuser.md) with spin (docs/model.md).
#
# For every configuration below: spin -a generates the verifier, the system
# C compiler builds pan, pan searches the whole state space. The test fails
#   - if a property run reports any error, or its search was not complete
#     (depth limit, memory limit) or pan did not run to the end;
#   - if a mutant (one ordering bug) or a witness (a scenario that must be
#     reachable) is NOT reported by the property named for it.
# Tools come from PATH (the Bazel sandbox sees /usr/bin): spin (Debian
# package spin) and cc. Nothing here depends on the build configuration.
#
# Usage outside Bazel: model/model_check_test.sh [name-filter-regex]
set -euo pipefail

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- inputs
if [[ -n "${TEST_SRCDIR:-}" ]]; then
    model_dir="${TEST_SRCDIR}/${TEST_WORKSPACE:-shmchan}/model"
else
    model_dir="$(cd "$(dirname "$0")" && pwd)"
fi
# The model the runs below check (switched once, before the multi-user runs).
model="$model_dir/shmchan.pml"
for m in shmchan.pml multiuser.pml; do
    [[ -r "$model_dir/$m" ]] || fail "model not found: $model_dir/$m"
done

spin_bin="$(command -v spin || true)"
[[ -n "$spin_bin" ]] || fail "spin not on PATH (${PATH}); install the Debian package spin"
cc_bin="$(command -v cc || command -v gcc || command -v clang || true)"
[[ -n "$cc_bin" ]] || fail "no C compiler (cc/gcc/clang) on PATH (${PATH})"

work="${TEST_TMPDIR:-$(mktemp -d)}/model_check"
logs="${TEST_UNDECLARED_OUTPUTS_DIR:-$work}"
rm -rf "$work"
mkdir -p "$work" "$logs"
filter="${1:-.}"

# Memory bound for each pan (MB); the largest run below needs ~0.5 GB.
memlim=3072
# pan's maximum search depth; the deepest run reaches ~800.
depth=100000

total_states=0
started=$(date +%s)

# ---------------------------------------------------------------- one run
# check NAME KIND EXPECT PATTERN SPIN_DEFINES
#   KIND    safety (assertions + invalid end states) | ltl (acceptance cycles
#           of the model's LTL formula `reoffer`)
#   EXPECT  pass | fail
#   PATTERN for EXPECT=fail: extended regex the error line must match (the
#           bug must be caught by the property meant to catch it)
check() {
    local name="$1" kind="$2" expect="$3" pattern="$4" defines="$5"
    [[ "$name" =~ $filter ]] || return 0
    local dir="$work/$name"
    mkdir -p "$dir"
    local pml
    pml="$(basename "$model")"
    cp "$model" "$dir/$pml"
    # Runs expected to fail stop at the first error, after few states:
    # -O0 compiles in a fifth of the time and loses nothing there.
    local opt=-O2
    [[ "$expect" == "fail" ]] && opt=-O0
    local ccflags=("$opt" -w -DVECTORSZ=1024 "-DMEMLIM=${memlim}" -DCOLLAPSE)
    local panflags=("-m${depth}" -n)
    if [[ "$kind" == "ltl" ]]; then
        defines="$defines -DLTL_REOFFER"
        panflags+=(-a -N reoffer)
    else
        ccflags+=(-DSAFETY)
    fi
    local t0 t1
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086  # defines is a word list on purpose
    if ! (cd "$dir" && "$spin_bin" "-P${cc_bin} -E -x c" -a $defines "$pml" >spin.log 2>&1); then
        cat "$dir/spin.log" >&2
        fail "$name: spin -a failed"
    fi
    [[ -f "$dir/pan.c" ]] || { cat "$dir/spin.log" >&2; fail "$name: spin wrote no pan.c"; }
    if ! (cd "$dir" && "$cc_bin" "${ccflags[@]}" -o pan pan.c >cc.log 2>&1); then
        cat "$dir/cc.log" >&2
        fail "$name: compiling pan failed"
    fi
    local rc=0
    (cd "$dir" && ./pan "${panflags[@]}" >pan.log 2>&1) || rc=$?
    t1=$(date +%s.%N)
    cp "$dir/pan.log" "$logs/$name.pan.log" 2>/dev/null || true

    local log="$dir/pan.log"
    # pan ran to its summary?
    local errors states
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
    states=$(awk '/states, stored/ {print $1; exit}' "$log")
    if [[ -z "$errors" || -z "$states" ]]; then
        tail -n 30 "$log" >&2
        fail "$name: pan did not run to completion (exit $rc)"
    fi
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    total_states=$((total_states + states))

    if [[ "$expect" == "pass" ]]; then
        if grep -Eq 'max search depth too small|Search not completed|reached -DMEMLIM bound|out of memory|[Tt]runcated' "$log"; then
            grep -E 'max search depth|Search not completed|MEMLIM|out of memory|runcated' "$log" >&2
            fail "$name: search incomplete: the result would prove nothing"
        fi
        if [[ "$errors" != "0" ]]; then
            grep -E 'assertion violated|invalid end state|acceptance cycle|error' "$log" >&2 || true
            # shellcheck disable=SC2086
            (cd "$dir" && "$spin_bin" "-P${cc_bin} -E -x c" -t -p $defines "$pml" 2>&1 | tail -n 60) >&2 || true
            fail "$name: $errors error(s); trail above, full log in $logs/$name.pan.log"
        fi
        printf '%-28s pass    %10s states  %6ss\n' "$name" "$states" "$secs"
    else
        if [[ "$errors" == "0" ]]; then
            fail "$name: NOT caught (0 errors in $states states): the model cannot see this bug"
        fi
        local what
        what=$(grep -E 'assertion violated|invalid end state|acceptance cycle|non-progress cycle' "$log" | head -n1 || true)
        if ! grep -Eq "$pattern" <<<"$what"; then
            echo "$what" >&2
            fail "$name: caught, but not by the expected property /$pattern/"
        fi
        printf '%-28s caught  %10s states  %6ss  %s\n' "$name" "$states" "$secs" "${what#pan:1: }"
    fi
}

# ---------------------------------------------------------------- properties
# All safety runs check every assertion of the model (delivery of committed
# frames only, exactly once, in order; no lost wakeup in either direction,
# nor of a connect or release (docs/model.md, "Finding");
# drain before reset; one live owner per slot; READY implies a complete,
# marked channel; detection of a dead server within one liveness period;
# a reclaimer never removes a live server's set) and the absence of invalid
# end states. Crash sets: CRASHERS bit 0 = server, bit i = client i.
L1="-DNCLIENTS=1 -DNSLOTS=1"
C2="-DNCLIENTS=2 -DNSLOTS=1"

check three_clients_handshake safety pass "" \
    "-DNCLIENTS=3 -DNSLOTS=1 -DC2S_MSGS=0 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=2"
check lane_c2s_full safety pass "" \
    "$L1 -DC2S_MSGS=3 -DRECVS=1 -DS2C_MSGS=0 -DSLEEPS=2 -DCRASHERS=3"
check lane_s2c_full safety pass "" \
    "$L1 -DC2S_MSGS=0 -DRECVS=3 -DS2C_MSGS=3 -DSLEEPS=2 -DCRASHERS=3"
check lanes_both_directions safety pass "" \
    "$L1 -DC2S_MSGS=2 -DRECVS=3 -DS2C_MSGS=3"
check two_clients_client_crash safety pass "" \
    "$C2 -DC2S_MSGS=1 -DRECVS=1 -DS2C_MSGS=0 -DCRASHERS=2"
check two_clients_server_crash safety pass "" \
    "$C2 -DC2S_MSGS=1 -DRECVS=1 -DS2C_MSGS=0 -DCRASHERS=1"
check two_clients_two_slots safety pass "" \
    "-DNCLIENTS=2 -DNSLOTS=2 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DATTEMPTS=1 -DCRASHERS=2 -DMAYCLOSE=0"
check ipcrm_from_outside safety pass "" \
    "$C2 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=2 -DMAYRMID=1"
check stale_reclaim safety pass "" \
    "$C2 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=1 -DMAYRMID=2"
# Liveness: a released or dead client's slot is offered again (unless the
# server is gone).
check reoffer_liveness ltl pass "" \
    "$C2 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=2"

# ---------------------------------------------------------------- mutants
# Each must be reported, by the property that names its bug.
check mutant_a_publish_first safety fail 't_a' \
    "$L1 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DMUT_PUBLISH_BEFORE_WRITE"
check mutant_b_no_recheck safety fail 'hpend' \
    "$L1 -DC2S_MSGS=0 -DRECVS=1 -DS2C_MSGS=1 -DMUT_NO_RECHECK"
check mutant_c_reoffer_undrained safety fail 'head\[|rxpos' \
    "$C2 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DMUT_REOFFER_BEFORE_DRAIN"
check mutant_d_split_first_semop safety fail 'srv_dead' \
    "$L1 -DC2S_MSGS=0 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=1 -DMAYRMID=2 -DMUT_SPLIT_FIRST_SEMOP"
check mutant_e_no_periodic_scan ltl fail 'acceptance cycle' \
    "$C2 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=2 -DMUT_NO_PERIODIC_SCAN"
check mutant_f_unbounded_wait safety fail 'invalid end state' \
    "$L1 -DC2S_MSGS=0 -DRECVS=1 -DS2C_MSGS=0 -DCRASHERS=1 -DMUT_UNBOUNDED_WAIT"

# (g) is the code before the fix of docs/model.md "Finding": the server's
# "I was woken" flag dies with the shmchan_server_wait call that took the
# SERVER_WAKE token, so a claim whose post merged with a data post waits
# for the periodic scan.
check mutant_g_local_woke safety fail 'cpend' \
    "$L1 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DMAYCLOSE=0 -DMUT_LOCAL_WOKE"

# ---------------------------------------------------------------- witnesses
# Anti-vacuity: each scenario happens. A smaller budget allows a subset of
# the behaviours of a larger one (every loop may stop early, every crash
# and timeout is optional), so a witness found here is also reachable in
# the property runs above.
check witness_1_drain_departed safety fail 'violated 0 ' \
    "-DWITNESS=1 $L1 -DC2S_MSGS=1 -DRECVS=0 -DS2C_MSGS=0 -DCRASHERS=2"
check witness_2_slot_reused safety fail 'used_before' \
    "-DWITNESS=2 $C2 -DC2S_MSGS=0 -DRECVS=0 -DS2C_MSGS=0"
check witness_3_recv_woken safety fail 'head\[' \
    "-DWITNESS=3 $L1 -DC2S_MSGS=0 -DRECVS=1 -DS2C_MSGS=1"
check witness_4_send_woken safety fail 'tail\[' \
    "-DWITNESS=4 $L1 -DC2S_MSGS=3 -DRECVS=0 -DS2C_MSGS=0"
check witness_5_dead_server_seen safety fail 'sem_alive' \
    "-DWITNESS=5 $L1 -DC2S_MSGS=0 -DRECVS=1 -DS2C_MSGS=0 -DCRASHERS=1"
check witness_6_server_woken safety fail 'sem_free' \
    "-DWITNESS=6 $L1 -DC2S_MSGS=0 -DRECVS=0 -DS2C_MSGS=0"
check witness_7_retry_no_slot safety fail 'attempts' \
    "-DWITNESS=7 $C2 -DC2S_MSGS=0 -DRECVS=0 -DS2C_MSGS=0"
check witness_8_server_send_woken safety fail 'tail\[' \
    "-DWITNESS=8 $L1 -DC2S_MSGS=0 -DRECVS=1 -DS2C_MSGS=3"

# ------------------------------------------------ the multi-user design
# model/multiuser.pml (docs/multiuser.md, docs/model.md "The multi-user
# design model"): its assertions are IDENTITY, NO LIVE REMOVAL, NO LOST
# HELLO, NO LEFTOVER HELD, NO DEAD KEY HELD, NO ADOPTION and NO FALSE DEATH.
# Alice and Xavier may crash at every step; Xavier's uid is not allowed;
# Mallory is allowed and hostile; with RESTART the server may be killed at
# every step and a second one follows.
model="$model_dir/multiuser.pml"
check mu_alice_xavier safety pass "" "-DWITH_MALLORY=0"
check mu_alice_mallory safety pass "" "-DWITH_XAVIER=0 -DMOVES=2"
check mu_mutant_clear_hello_late safety fail 'hello_pending' "-DWITH_MALLORY=0 -DMUT_CLEAR_HELLO_LATE"
check mu_mutant_no_allow_check safety fail 'scuid' "-DWITH_MALLORY=0 -DMUT_NO_ALLOW_CHECK"
check mu_mutant_by_key safety fail 'owner|creator|cuid' "-DWITH_XAVIER=0 -DMOVES=2 -DMUT_BY_KEY"
check mu_mutant_remove_unchecked safety fail 'owner' "-DWITH_MALLORY=0 -DMUT_REMOVE_UNCHECKED"
check mu_mutant_uid_before_dead safety fail 'o!=0' "-DWITH_MALLORY=0 -DMUT_UID_BEFORE_DEAD"
check mu_witness_1_accepted safety fail 'scuid!=2' "-DWITNESS=1 -DWITH_MALLORY=0"
check mu_witness_2_refused safety fail 'scuid!=3' "-DWITNESS=2 -DWITH_MALLORY=0"
check mu_witness_3_dead_removed safety fail 'violated 0 ' "-DWITNESS=3 -DWITH_MALLORY=0"
check mu_witness_4_robbed_then_accepted safety fail 'robbed' "-DWITNESS=4 -DWITH_XAVIER=0 -DMOVES=2"
# The restart alone (Alice): the larger restart runs (with Xavier, 61 M
# states, or Mallory, 63 M, ~3 GB and ~2 min each) were run once and are
# recorded in docs/model.md; they do not fit this test's share of CI.
R1="-DWITH_XAVIER=0 -DWITH_MALLORY=0 -DRESTART=1"
check mu_restart_alice safety pass "" "$R1 -DROUNDS=4"
check mu_mutant_adopt safety fail 'acc_by' "$R1 -DMUT_ADOPT"
check mu_mutant_verdict_before_token safety fail 'srv_up' "$R1 -DMUT_VERDICT_BEFORE_TOKEN"
check mu_witness_5_restarted_accepts safety fail 'inst!=2' "$R1 -DWITNESS=5"

echo "model check OK: ${total_states} states stored in total, $(( $(date +%s) - started ))s"
