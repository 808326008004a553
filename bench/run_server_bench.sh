#!/usr/bin/env bash
# run_server_bench.sh — runs dealwire-bench against a fresh dealwired.
#
#   bench/run_server_bench.sh [dealwire-bench flags...]
#   bench/run_server_bench.sh --scenario append --callers 64 --duration 10
#
# Builds dealwired and dealwire-bench if needed (cmake --build), starts
# dealwired on a new temporary data directory listening on 127.0.0.1:0, reads
# the port from its start line, waits (bounded) until its health check answers
# SERVING, runs dealwire-bench with the given flags plus --server and
# --server-pid, then stops the server with SIGTERM and removes the directory
# (also on failure or Ctrl-C). Exits with dealwire-bench's status.
#
# Environment:
#   BUILD_DIR     build directory (default: <repo>/build; configured with
#                 Ninja and RelWithDebInfo when it has no CMakeCache.txt)
#   DEALWIRED     a dealwired binary to use instead of building one (e.g. an
#                 older build, to compare)
#   TMPDIR        where the temporary data directory goes (default: /tmp)
#   KEEP_LOG=1    print the server's log at the end, not only on failure
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/start_line.sh"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
if [[ -n ${DEALWIRED:-} ]]; then
  cmake --build "$build" --target dealwire-bench >&2
  server_bin=$DEALWIRED
else
  cmake --build "$build" --target dealwired dealwire-bench >&2
  server_bin=$build/services/dealwired
fi
bench_bin=$build/bench/dealwire-bench

work=$(mktemp -d "${TMPDIR:-/tmp}/dealwire-server-bench.XXXXXX")
log=$work/dealwired.log
server_pid=

cleanup() {
  local status=$?
  stop_dealwired "$server_pid" run_server_bench
  if [[ $status -ne 0 || ${KEEP_LOG:-0} == 1 ]] && [[ -s $log ]]; then
    echo "--- dealwired log ($log) ---" >&2
    tail -n 50 "$log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$server_bin" --data-dir "$work/data" --listen 127.0.0.1:0 2>"$log" &
server_pid=$!

# The start line: "dealwired <version> started data_dir=<dir> listen=<host>:<port> pid=<pid>".
port=$(wait_for_port "$log" "$server_pid" 30 run_server_bench) || exit 1
server=127.0.0.1:$port

wait_for_serving "$bench_bin" "$server" "$server_pid" run_server_bench || exit 1
echo "run_server_bench: dealwired pid=$server_pid at $server, data in $work/data" >&2

"$bench_bin" --server "$server" --server-pid "$server_pid" "$@"
