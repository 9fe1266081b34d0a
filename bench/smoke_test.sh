#!/bin/sh
# smoke_test.sh - runs ipcbench once, tiny, and checks the CSV's shape:
# exact header, one row per transport x mode x size, numbers where numbers
# belong and empty cells where a figure does not apply. No speed assertion:
# speed depends on the machine and belongs in docs/benchmarks.md.
# Also checks that a bad option fails, so the test can tell a broken parser.
set -eu

bench="$1"
out="${TEST_TMPDIR:-/tmp}/ipcbench_smoke.csv"
err="${TEST_TMPDIR:-/tmp}/ipcbench_smoke.err"

fail() {
    echo "FAIL: $*" >&2
    echo "--- stdout:" >&2
    cat "$out" >&2 || true
    echo "--- stderr:" >&2
    cat "$err" >&2 || true
    exit 1
}

if ! "$bench" --csv --sizes 64 --seconds 0.005 --reps 2 --spin-ns 20000 >"$out" 2>"$err"; then
    fail "ipcbench exited with status $?"
fi

header=$(head -n 1 "$out")
[ "$header" = "transport,mode,size,msgs_per_s,mb_per_s,p50_ns,p99_ns,p999_ns" ] ||
    fail "wrong header: $header"

# 9 transports x 2 modes x 1 size, plus the memcpy reference row (stream),
# nothing else on stdout.
rows=$(tail -n +2 "$out" | wc -l)
[ "$rows" -eq 19 ] || fail "expected 19 rows, got $rows"
grep -q '^memcpy,stream,64,' "$out" || fail "no memcpy reference row"

awk -F, '
    function num(x) { return x ~ /^[0-9]+(\.[0-9]+)?$/ && x + 0 > 0 }
    NR == 1 { next }
    NF != 8 { printf "line %d: %d fields\n", NR, NF; bad = 1; next }
    $1 !~ /^(shmchan|shmchan_spin|shmchan_sleep|shmchan_multiuser|pipe|socketpair|sysv_mq|posix_mq|spin_ring|memcpy)$/ {
        printf "line %d: unknown transport %s\n", NR, $1; bad = 1 }
    $2 !~ /^(stream|pingpong)$/ { printf "line %d: unknown mode %s\n", NR, $2; bad = 1 }
    $1 == "memcpy" && $2 != "stream" { printf "line %d: memcpy is a stream row only\n", NR; bad = 1 }
    $3 != "64" { printf "line %d: size %s\n", NR, $3; bad = 1 }
    !num($4) || !num($5) { printf "line %d: rate cells not positive numbers\n", NR; bad = 1 }
    # MB/s is msgs/s x size / 10^6 (to the 3 decimals printed).
    num($4) && num($5) && ($5 - $4 * 64 / 1e6 > 0.002 || $4 * 64 / 1e6 - $5 > 0.002) {
        printf "line %d: mb_per_s %s != msgs_per_s %s x 64 / 1e6\n", NR, $5, $4; bad = 1 }
    $2 == "stream" && ($6 != "" || $7 != "" || $8 != "") {
        printf "line %d: stream row has latency cells\n", NR; bad = 1 }
    $2 == "pingpong" && !(num($6) && num($7) && num($8) && $6 <= $7 && $7 <= $8) {
        printf "line %d: pingpong latencies not positive and ordered p50<=p99<=p999\n", NR; bad = 1 }
    { seen[$1 "," $2]++ }
    END {
        for (k in seen) if (seen[k] != 1) { printf "%s appears %d times\n", k, seen[k]; bad = 1 }
        exit bad
    }
' "$out" || fail "malformed CSV"

# Every cell verified its messages (progress lines on stderr say how many).
checked=$(grep -c ' checked, ' "$err" || true)
[ "$checked" -eq 18 ] || fail "expected 18 progress lines, got $checked"

# A bad option must fail with status 2 and print nothing on stdout.
status=0
"$bench" --csv --transports nosuch >"$out" 2>"$err" || status=$?
[ "$status" -eq 2 ] || fail "unknown transport: status $status, expected 2"
[ ! -s "$out" ] || fail "unknown transport: stdout not empty"

# The verification must catch a transport that damages data: side A flips
# one bit of a message (caught by the byte-for-byte check) or skips one
# (caught by the sequence check); the run must stop with status 1 and name
# the cell.
expect_caught() {
    fault="$1"
    pattern="$2"
    shift 2
    status=0
    IPCBENCH_INJECT_FAULT="$fault" "$bench" --csv --sizes 64 --seconds 0.005 --reps 1 "$@" \
        >"$out" 2>"$err" || status=$?
    [ "$status" -eq 1 ] || fail "fault $fault ($*): status $status, expected 1"
    grep -q "FAILED" "$err" || fail "fault $fault ($*): no FAILED line"
    grep -q "$pattern" "$err" || fail "fault $fault ($*): no '$pattern' in the report"
}
expect_caught flip "byte 32 is" --transports shmchan --modes stream
expect_caught flip "byte 32 is" --transports socketpair --modes pingpong
expect_caught drop "expected seq 3, got 4" --transports spin_ring --modes stream
expect_caught drop "expected seq 3, got 4" --transports shmchan_spin --modes pingpong

# A bad --lane-bytes (not a power of two) fails like any bad option.
status=0
"$bench" --csv --lane-bytes 1000 >"$out" 2>"$err" || status=$?
[ "$status" -eq 2 ] || fail "--lane-bytes 1000: status $status, expected 2"

# shmchan through a lane far smaller than its messages (fragments, docs/
# protocol.md 3.1) verifies every message like any other cell.
"$bench" --csv --sizes 65536 --transports shmchan,shmchan_spin --seconds 0.005 --reps 1 \
    --lane-bytes 4096 >"$out" 2>"$err" || fail "fragmented cells: status $?"
[ "$(grep -c ' checked, ' "$err" || true)" -eq 4 ] || fail "fragmented cells: not 4 verified cells"

echo "PASS: 19 rows, well-formed; injected faults caught; fragmented cells verified"
