#!/usr/bin/env bash
# Runs the two seed demos end to end, in one terminal, with the real programs:
#
#   seed 000 (greet): `server --greet` in the background, `client` in front;
#                     the server notices the read, cleans up and exits 0.
#   seed 004 (chat):  `server` in the background, two lines and `exit` piped
#                     into `client`; the server prints each line and stops.
#   scene 3 (multi-user, as root): `server --allow-uid nobody --verbose` as
#                     root, the chat client as `nobody`; the server's log
#                     names the client by the uid the kernel recorded.
#
# Installs what is missing (ci/setup.sh), builds the three programs with Bazel,
# shows both transcripts, checks them line by line against the seeds' strings,
# and checks that no System V object is left at the demo's key. Exits non-zero
# if anything failed.
#
# Usage: ci/demo.sh [--key KEY]
#   KEY  decimal or 0x hex; default: a key derived from this shell's pid, so
#        the demo never collides with a channel already running (the seeds'
#        own key is 1234: `ci/demo.sh --key 1234` to use it).
# Environment: BAZEL (default: bazel), BAZEL_OUTPUT_BASE (a separate Bazel
# output base; then no bazel-* symlinks are created in the workspace).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

key=""
while [ $# -gt 0 ]; do
  case "$1" in
    --key) [ $# -ge 2 ] || { echo "demo.sh: --key needs a value" >&2; exit 2; }; key="$2"; shift 2 ;;
    --key=*) key="${1#--key=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -z "$key" ]; then
  # 0x5d......: pid-derived, far from the seeds' 1234 and from the tests'.
  key=$(printf '0x%08x' $(( 0x5d000000 | (($$ & 0xffff) << 8) )))
fi
if ! [[ "$key" =~ ^(0[xX][0-9a-fA-F]+|[1-9][0-9]*)$ ]] || [ $((key)) -le 0 ] || [ $((key)) -gt 4294967295 ]; then
  echo "demo.sh: invalid key '$key': expected 1..4294967295 in decimal or 0x hex" >&2
  exit 2
fi
key_hex=$(printf '0x%08x' $((key)))

echo "=== setup"
ci/setup.sh

echo "=== build"
bazel_cmd=("${BAZEL:-bazel}")
build_flags=()
if [ -n "${BAZEL_OUTPUT_BASE:-}" ]; then
  bazel_cmd+=("--output_base=$BAZEL_OUTPUT_BASE")
  build_flags+=("--symlink_prefix=/")
fi
"${bazel_cmd[@]}" build "${build_flags[@]}" //src:server //src:client //src:shmchanctl
bin="$("${bazel_cmd[@]}" info bazel-bin 2>/dev/null)/src"
for p in server client shmchanctl; do
  [ -x "$bin/$p" ] || { echo "demo.sh: $bin/$p was not built" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=""
server_rc=""
cleanup() {
  # Only the server this script started, by its pid.
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Waits (at most ~10 s) until file $1 contains the line $2; gives up at once
# if the background server has exited.
wait_for_line() {
  local i
  for i in $(seq 100); do
    if grep -qxF -- "$2" "$1" 2>/dev/null; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Starts `server --key KEY $2...` in the background, output in $1.{out,err},
# and waits for its "Waiting for client..." line. Returns non-zero (after
# reaping it) if it does not get there.
start_server() {
  local out="$1" line="$2"
  shift 2
  "$bin/server" --key "$key_hex" "$@" >"$out.out" 2>"$out.err" &
  server_pid=$!
  if wait_for_line "$out.out" "$line"; then
    show "$out.out"
    return 0
  fi
  wait_server_exit
  fail "server --key $key_hex $* did not start (exit status $server_rc; its stderr follows)"
  return 1
}

# Waits (at most ~10 s) for the background server to exit and sets server_rc
# to its exit status (a server still running then is stopped with SIGTERM).
# Not run in $(...): only this shell can wait for its own child.
wait_server_exit() {
  local i
  server_rc=""
  for i in $(seq 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    fail "server (pid $server_pid) still running after 10 s: stopping it"
    kill -TERM "$server_pid" 2>/dev/null || true
  fi
  server_rc=0
  wait "$server_pid" || server_rc=$?
  server_pid=""
}

# Compares file $1 with the expected text $2, line by line.
expect_file() {
  if ! diff -u <(printf '%s' "$2") "$1" >"$work/diff"; then
    fail "$3 differs from the seed:"
    cat "$work/diff" >&2
  fi
}

show() { sed 's/^/    /' "$1"; }

# --------------------------------------------------------------- seed 000
echo
echo "=== seed 000: shared memory greet (key $key_hex)"
echo "\$ server --key $key_hex --greet &"
if start_server "$work/greet_server" "Waiting for client..." --greet; then
  echo "\$ client --key $key_hex"
  client_rc=0
  "$bin/client" --key "$key_hex" >"$work/greet_client.out" 2>"$work/greet_client.err" || client_rc=$?
  show "$work/greet_client.out"
  show "$work/greet_client.err"
  wait_server_exit
  echo "[server exited: $server_rc; client exited: $client_rc]"
  [ "$client_rc" = 0 ] || fail "greet client exited $client_rc"
  [ "$server_rc" = 0 ] || fail "greet server exited $server_rc"
  expect_file "$work/greet_server.out" $'Data written in memory: Hello from the other side!\nWaiting for client...\n' "greet server output"
  expect_file "$work/greet_client.out" $'Data read from memory: Hello from the other side!\n' "greet client output"
fi
[ ! -s "$work/greet_server.err" ] || { fail "greet server wrote to stderr:"; cat "$work/greet_server.err" >&2; }

# --------------------------------------------------------------- seed 004
echo
echo "=== seed 004: shared memory chat (key $key_hex)"
echo "\$ server --key $key_hex &"
if start_server "$work/chat_server" "Server: Waiting for client..."; then
  echo "\$ printf 'Hello, server!\\nshared memory, done right\\nexit\\n' | client --key $key_hex"
  client_rc=0
  printf 'Hello, server!\nshared memory, done right\nexit\n' |
    "$bin/client" --key "$key_hex" >"$work/chat_client.out" 2>"$work/chat_client.err" || client_rc=$?
  show "$work/chat_client.out"
  show "$work/chat_client.err"
  wait_server_exit
  echo "[server exited: $server_rc; client exited: $client_rc] server's whole transcript:"
  show "$work/chat_server.out"
  [ "$client_rc" = 0 ] || fail "chat client exited $client_rc"
  [ "$server_rc" = 0 ] || fail "chat server exited $server_rc"
  expect_file "$work/chat_server.out" $'Server: Shared memory created.\nServer: Waiting for client...\nServer received: Hello, server!\nServer received: shared memory, done right\nServer received: exit\nServer shutting down...\n' "chat server output"
  expect_file "$work/chat_client.out" $'Client: Connected to shared memory. Type your messages (type \'exit\' to quit):\nClient exiting...\n' "chat client output"
fi
[ ! -s "$work/chat_server.err" ] || { fail "chat server wrote to stderr:"; cat "$work/chat_server.err" >&2; }

# ---------------------------------------------------------------- scene 3
echo
echo "=== scene 3: a client of another uid (key $key_hex)"
if [ "$(id -u)" != 0 ]; then
  fail "scene 3 needs root (the server runs as root, the client as nobody)"
else
  nobody_uid=$(id -u nobody)
  nobody_gid=$(id -g nobody)
  # nobody cannot reach Bazel's output under /root: a copy it may run.
  pub=$(mktemp -d)
  chmod 0755 "$pub"
  install -m 0755 "$bin/client" "$pub/client"
  echo "\$ server --key $key_hex --allow-uid nobody --verbose &"
  if start_server "$work/mu_server" "Server: Waiting for client..." --allow-uid nobody --verbose; then
    echo "\$ printf 'Hello from nobody\\nexit\\n' | setpriv --reuid=nobody --regid=$nobody_gid --clear-groups client --key $key_hex --server-uid root"
    client_rc=0
    printf 'Hello from nobody\nexit\n' |
      setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
        "$pub/client" --key "$key_hex" --server-uid root >"$work/mu_client.out" 2>"$work/mu_client.err" ||
      client_rc=$?
    show "$work/mu_client.out"
    show "$work/mu_client.err"
    wait_server_exit
    echo "[server exited: $server_rc; client exited: $client_rc] server's transcript and log:"
    show "$work/mu_server.out"
    show "$work/mu_server.err"
    [ "$client_rc" = 0 ] || fail "multi-user client exited $client_rc"
    [ "$server_rc" = 0 ] || fail "multi-user server exited $server_rc"
    grep -qxF "Server received: Hello from nobody" "$work/mu_server.out" ||
      fail "the server did not receive nobody's line"
    grep -qxF "server: client 0 connected: uid $nobody_uid (nobody)" "$work/mu_server.err" ||
      fail "the server's log does not name the client as uid $nobody_uid (nobody)"
  fi
  rm -rf "$pub"
  # The client's connection objects (created by nobody: cuid is column 7
  # of /proc/sysvipc/sem, 10 of .../shm) must be gone with the channel.
  mine=$(( $(awk -v u="$nobody_uid" 'NR > 1 && $7 == u' /proc/sysvipc/sem | wc -l) +
           $(awk -v u="$nobody_uid" 'NR > 1 && $10 == u' /proc/sysvipc/shm | wc -l) ))
  echo "objects created by nobody left: $mine"
  [ "$mine" -eq 0 ] || fail "$mine object(s) created by nobody left behind"
fi

# ---------------------------------------------------------------- leftovers
echo
echo "=== leftovers"
# /proc/sysvipc prints keys as signed decimal.
signed_key=$(( key > 2147483647 ? key - 4294967296 : key ))
left=0
for f in /proc/sysvipc/shm /proc/sysvipc/sem; do
  n=$(awk -v k="$signed_key" 'NR > 1 && $1 == k' "$f" | wc -l)
  echo "$f: $n object(s) at key $key_hex"
  left=$((left + n))
done
[ "$left" -eq 0 ] || fail "$left SysV object(s) left at key $key_hex"
"$bin/shmchanctl" list

echo
if [ "$failures" -ne 0 ]; then
  echo "demo: $failures failure(s)"
  exit 1
fi
echo "demo: both seed demos and the multi-user scene ran end to end; nothing left behind"
