#!/usr/bin/env bash
# proofs_test.sh - runs the Frama-C proofs of docs/proofs.md and fails on
# anything not proved.
#
#   EVA  codec.c + crc32c.c, layout.c, lane.c (+ the codec it calls; its ring
#        copies apart, against contracts), each
#        with its driver in proofs/drivers: 0 alarms, 0 unknown and 0
#        invalid properties required.
#   WP   the contracts in proofs/wp/lane_spec.h on lane.c's index checks:
#        every goal proved (Qed and z3), for all inputs.
#   Mutants (proofs/mutants/*.patch, applied to a scratch copy of src/):
#        each must be reported, at the line and by the property meant to
#        catch it, by an analysis that otherwise ran to the end.
#
# Tools come from PATH (the Bazel sandbox sees /usr/bin): frama-c (Debian
# package frama-c-base), why3 and z3. src/ is only read; every analysis
# runs on its own copy.
#
# Usage outside Bazel: proofs/proofs_test.sh [name-filter-regex]
set -euo pipefail

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- inputs
if [[ -n "${TEST_SRCDIR:-}" ]]; then
    root="${TEST_SRCDIR}/${TEST_WORKSPACE:-shmchan}"
else
    root="$(cd "$(dirname "$0")/.." && pwd)"
fi
proofs="$root/proofs"
[[ -r "$root/src/codec.c" && -r "$proofs/drivers/driver.h" ]] || fail "sources not found under $root"
for tool in frama-c why3 z3 patch; do
    command -v "$tool" >/dev/null || fail "$tool not on PATH (${PATH}); run ci/setup.sh"
done

work="${TEST_TMPDIR:-$(mktemp -d)}/proofs"
logs="${TEST_UNDECLARED_OUTPUTS_DIR:-$work}"
rm -rf "$work"
mkdir -p "$work/home" "$logs"
# Frama-C and Why3 keep caches and the prover list under HOME, which the
# sandbox may not let us write: give them one of our own.
export HOME="$work/home"
why3 config detect >"$work/why3-detect.log" 2>&1 || { cat "$work/why3-detect.log" >&2; fail "why3 config detect"; }
filter="${1:-.}"
started=$(date +%s)

# ---------------------------------------------------------------- bounds
# docs/proofs.md, "Bounds", says why these and what they do not cover.
SRC_MAX=40    # codec: source buffers, encoder output
PAY_MAX=20    # codec: payloads, decoder output
IMG_MAX=1280  # layout: segment image (the smallest real segments are 960 and 1216 bytes)
CAP=${PROOF_LANE_CAP:-128}  # lane: every capacity from 64 (the floor) to 128 (256 fits, not in CI's budget)
MSG_MAX=${PROOF_MSG_MAX:-8}  # lane: messages up to 8 bytes (fragment_max of the 64-byte ring: one frame each)

# ---------------------------------------------------------------- analyses
# Flags common to every EVA run. An undeclared function (an unmodelled
# builtin) or a function without a specification aborts the run: EVA would
# otherwise invent a meaning for it (docs/proofs.md, "Trusted base").
eva_common=(
    -machdep x86_64
    -kernel-warn-key typing:implicit-function-declaration=abort
    -kernel-warn-key annot:missing-spec=abort
    -eva -eva-no-show-progress
    # Loops of up to 32 turns (crc32c's 32-bit basis, the 24-byte header
    # loads) are unrolled: exact, and cheap.
    -eva-auto-loop-unroll 32
    # Keep a callee's success and failure states apart in the caller: after
    # GUARD(f(..., out)), `out` is initialised on the success path only.
    -eva-split-return full
)

# analysis NAME SRCDIR -> prints the frama-c arguments of that analysis
analysis() {
    local name="$1" dir="$2"
    local cpp="-I$proofs/stubs/include -I$dir/src -I$proofs/drivers -include $proofs/stubs/fc_shim.h"
    local lane_cpp="-DCAP=$CAP -DMSG_MAX=$MSG_MAX -DFC_RING_CAP=$CAP -include $proofs/stubs/lane_ring_spec.h"
    case "$name" in
    codec)
        printf '%s\n' "-cpp-extra-args=$cpp -DSRC_MAX=$SRC_MAX -DPAY_MAX=$PAY_MAX" \
            "$dir/src/codec.c" "$proofs/stubs/crc32c_ctor.c" "$proofs/drivers/codec_driver.c" \
            -eva-slevel-function \
            "drive_decode:2000,drive_encode:4000,drive_encode_header:200,drive_checksum:100,drive_crc32c:100,crc32c_update_sse42:5000,shmchan_codec_encode:100,shmchan_codec_encode_header:100,shmchan_codec_decode:100,shmchan_codec_parse_header:100"
        ;;
    layout)
        printf '%s\n' "-cpp-extra-args=$cpp -DIMG_MAX=$IMG_MAX" \
            "$dir/src/layout.c" "$proofs/drivers/layout_driver.c" \
            -eva-slevel-function "drive_read_header:$((IMG_MAX + 100)),shmchan_layout_read_header:100"
        ;;
    lane_ring)
        # The two ring copies against their contracts (lane_ring_spec.h),
        # for every capacity, offset and length: one state per wrapping
        # offset. -from-verify-assigns checks their `assigns` clauses. The
        # `if (n > first)` after first = n needs a relation: the octagon
        # domain, there only.
        printf '%s\n' "-cpp-extra-args=$cpp $lane_cpp" \
            "$proofs/drivers/lane_ring_driver.c" "$dir/src/codec.c" "$proofs/stubs/crc32c_ctor.c" \
            -main eva_lane_ring -from-verify-assigns \
            -eva-domains-function "octagon:ring_copy_out,octagon:ring_copy_in" \
            -eva-slevel-function "eva_lane_ring:1000000,ring_copy_out:4,ring_copy_in:4"
        ;;
    lane_*)
        # An entry point of lane.c (eva_lane_init, _others, _send, _recv in
        # the driver), with the ring copies replaced by their contracts:
        # EVA checks the preconditions at every call, so the callers need
        # no state per ring offset (docs/proofs.md, "The lane, in two halves").
        printf '%s\n' "-cpp-extra-args=$cpp $lane_cpp" \
            "$dir/src/lane.c" "$dir/src/codec.c" "$proofs/stubs/crc32c_ctor.c" \
            "$proofs/drivers/lane_driver.c" \
            -main "eva_$name" -eva-use-spec ring_copy_out,ring_copy_in \
            -eva-slevel-function \
            "eva_$name:100000,drive_try_send:100000,drive_try_recv:100000,drive_others:100,shmchan_lane_try_send:300,shmchan_lane_try_recv:300,publish_frame:100,ring_sum_then_copy_in:100,ring_copy_out_then_sum:100,fragment_judge:100,consumer_available:100,deliver_stash:100,crc32c_update_sse42:5000,shmchan_codec_build_header:100,shmchan_codec_encode_header:100,shmchan_codec_parse_header:100"
        ;;
    *) fail "unknown analysis $name" ;;
    esac
}

# scratch NAME [PATCH] -> a copy of src/ in $work/NAME, mutated by PATCH
scratch() {
    local dir="$work/$1" patch="${2:-}"
    mkdir -p "$dir/src"
    cp "$root"/src/*.c "$root"/src/*.h "$root"/src/*.inc "$dir/src/"
    if [[ -n "$patch" ]]; then
        (cd "$dir" && patch -s -p1 <"$proofs/mutants/$patch") || fail "$1: $patch does not apply to src/ any more"
    fi
    echo "$dir"
}

# One alarm per line: "[eva:alarm] file:line: Warning: <text>".
alarms_of() {
    awk '/^\[eva:alarm\]/ { if (a) print a; a = $0; next }
         /^  / && a      { a = a " " $0; next }
                         { if (a) print a; a = "" }
         END             { if (a) print a }' "$1" | tr -s ' '
}

# The entry-point analyses of the lane use the ring copies' contracts
# (-eva-use-spec): there the copies' postcondition `initialized` is assumed,
# so report-classify calls it unknown. It is proved, with the bodies, by
# eva_lane_ring (which must pass, postconditions included). Exit status 1
# with these as the only errors is a pass.
assumed_only() {
    local errs
    errs=$(grep -E '^\[ERROR' "$1" || true)
    [[ -n "$errs" ]] || return 1
    ! grep -qvE '^\[ERROR:unclassified\.unknown\] ring_copy_(in|out)_ensures_initialized$' <<<"$errs" &&
        grep -q 'User Error: Classified errors found' "$1" &&
        [[ $(grep -c 'User Error\|Fatal error\|\[kernel\] .*[Aa]bort' "$1") -le 2 ]]
}

# eva NAME ANALYSIS EXPECT PATTERN [PATCH]
#   EXPECT pass: exit 0, 0 alarms, every property valid (report-classify
#          turns any unknown or invalid one into an error).
#   EXPECT fail: the run completed and an alarm matching PATTERN (an
#          extended regex over "file:line: Warning: text") was raised.
eva() {
    local name="$1" what="$2" expect="$3" pattern="$4" patch="${5:-}"
    [[ "$name" =~ $filter ]] || return 0
    local dir log rc=0 t0
    dir="$(scratch "$name" "$patch")"
    log="$logs/$name.eva.log"
    t0=$(date +%s)
    mapfile -t args < <(analysis "$what" "$dir")
    # CPU seconds too (bash's `times` in the subshell: its children's user
    # + system time): the machine is shared, wall time alone misleads.
    (cd "$dir" && frama-c "${eva_common[@]}" "${args[@]}" \
        -then -report-classify -report-unclassified-unknown ERROR \
        -report-unclassified-invalid ERROR >"$log" 2>&1; r=$?; times >"$dir/times"; exit $r) || rc=$?
    local cpu
    cpu=$(sed -n 2p "$dir/times" | tr -d s | awk '{split($1, u, "m"); split($2, y, "m");
        printf "%d", u[1] * 60 + u[2] + y[1] * 60 + y[2] + 0.5}')
    local secs="$(($(date +%s) - t0))s/${cpu}cpu"
    grep -q 'ANALYSIS SUMMARY' "$log" || { tail -n 30 "$log" >&2; fail "$name: EVA did not run to the end (exit $rc)"; }
    local n props
    n=$(sed -n 's/^ *\([0-9][0-9]*\) alarms\{0,1\} generated by the analysis.*/\1/p' "$log" | head -n1)
    [[ -n "$n" ]] || n=0
    props=$(grep -E '^ +(Assertions|Preconditions) ' "$log" | awk '{v += $2; u += $4; i += $6} END {printf "%d valid, %d unknown, %d invalid", v, u, i}')
    if [[ "$expect" == "pass" ]]; then
        if [[ "$rc" -ne 0 && "$what" == lane_* && "$what" != lane_ring ]] && assumed_only "$log"; then
            rc=0
        fi
        if [[ "$rc" -ne 0 || "$n" != "0" ]]; then
            alarms_of "$log" >&2
            grep -E 'ERROR|User Error' "$log" >&2 || true
            fail "$name: $n alarm(s), exit $rc; full log: $log"
        fi
        printf '%-34s proved   %3s alarms  %-40s %11s\n' "$name" "$n" "($props)" "$secs"
    else
        local hit
        hit=$(alarms_of "$log" | sed 's/^\[eva:alarm\] [^ ]*\/src\//src\//' | grep -E "$pattern" | head -n1 || true)
        [[ "$rc" -ne 0 && -n "$hit" ]] || { alarms_of "$log" >&2; fail "$name: NOT reported as /$pattern/ (exit $rc, $n alarms)"; }
        printf '%-34s reported %3s alarms  %11s  %s\n' "$name" "$n" "$secs" "$hit"
    fi
}

# wp NAME EXPECT PATTERN [PATCH]
#   pass: every goal of the contracts in proofs/wp proved; fail: a goal
#   whose name matches PATTERN is not proved.
wp() {
    local name="$1" expect="$2" pattern="$3" patch="${4:-}"
    [[ "$name" =~ $filter ]] || return 0
    local dir log rc=0 t0
    dir="$(scratch "$name" "$patch")"
    log="$logs/$name.wp.log"
    t0=$(date +%s)
    # wp_atomic.h replaces shm_atomic.h (WP's typed memory model cannot
    # follow its pointer casts); lane_spec.h attaches the contracts.
    local common=(-machdep x86_64 -wp -wp-rte -wp-prover z3 -wp-timeout 10 -wp-par 1
        -wp-session "$dir/wp-session")
    (cd "$dir" && frama-c "${common[@]}" \
        "-cpp-extra-args=-I$dir/src -include $proofs/wp/wp_atomic.h -include $proofs/wp/lane_spec.h" \
        "$dir/src/lane.c" -wp-fct producer_refresh,producer_used) >"$log" 2>&1 || rc=$?
    local secs=$(($(date +%s) - t0))
    local proved total
    proved=$(sed -n 's/.*Proved goals: *\([0-9]*\) *\/ *\([0-9]*\).*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
    total=$(sed -n 's/.*Proved goals: *\([0-9]*\) *\/ *\([0-9]*\).*/\2/p' "$log" | awk '{s += $1} END {print s + 0}')
    [[ "$rc" -eq 0 && $(grep -c 'Proved goals' "$log") -eq 1 ]] || { tail -n 30 "$log" >&2; fail "$name: WP did not run to the end (exit $rc)"; }
    if [[ "$expect" == "pass" ]]; then
        [[ "$total" -gt 0 && "$proved" == "$total" ]] || {
            grep -E 'Goal .*(Timeout|Unknown|Failed)|\[wp\].*(Timeout|Unknown|Failed)' "$log" >&2 || true
            fail "$name: $proved of $total goals proved; full log: $log"
        }
        printf '%-34s proved   %3s/%-3s goals (z3) %28s %4ss\n' "$name" "$proved" "$total" "" "$secs"
    else
        local hit
        hit=$(grep -E '^\[wp\] \[(Timeout|Unknown|Failed|Failure)\]|Goal .* : (Timeout|Unknown|Failed)' "$log" | grep -E "$pattern" | head -n1 || true)
        [[ -n "$hit" && "$proved" != "$total" ]] || { grep -E 'Timeout|Unknown|Failed' "$log" >&2 || true; fail "$name: NOT reported as /$pattern/ ($proved/$total proved)"; }
        printf '%-34s reported %3s/%-3s goals  %4ss  %s\n' "$name" "$proved" "$total" "$secs" "$hit"
    fi
}

# ---------------------------------------------------------------- proofs
eva eva_codec codec pass ""
eva eva_layout layout pass ""
# The lane (docs/proofs.md, "The lane, in two halves"): the ring copies
# against their contracts, then each entry point using those contracts.
eva eva_lane_ring lane_ring pass ""
eva eva_lane_init lane_init pass ""
eva eva_lane_others lane_others pass ""
eva eva_lane_send lane_send pass ""
eva eva_lane_recv lane_recv pass ""
wp wp_contracts pass ""

# ---------------------------------------------------------------- mutants
# Each must be reported at its line, by the property that names its bug.
eva mutant_decode_reads_one_past codec fail \
    "src/codec\.c:[0-9]+: .*memcpy.*valid_src" decode_reads_one_past.patch
# try_recv without its capacity check: the payload copy's call to
# ring_copy_out can no longer show that its destination holds n bytes.
# (At capacity 64 only: the same driver and property, half the time.)
CAP=64 eva mutant_lane_recv_no_capacity_check lane_recv fail \
    "src/lane\.c:[0-9]+: .*ring_copy_out: precondition 'dst'" lane_recv_no_capacity_check.patch
eva mutant_layout_header_one_short layout fail \
    "src/layout\.c:[0-9]+: .*memcpy.*valid_src" layout_header_one_short.patch
wp mutant_wp_lane_refresh_off_by_one fail \
    "producer_refresh.*bounded" lane_refresh_off_by_one.patch

echo "proofs OK: $(($(date +%s) - started))s; logs in $logs"
