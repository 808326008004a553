# shellcheck shell=bash
# Sourced by the bench scripts: waits for dealwired's start line, then for
# its health check, and stops it at the end.
#
#   source bench/start_line.sh
#   port=$(wait_for_port "$log" "$server_pid" 30 run_server_bench) || exit 1
#   wait_for_serving "$bench_bin" "127.0.0.1:$port" "$server_pid" run_server_bench || exit 1
#   stop_dealwired "$server_pid" run_server_bench
#
# The start line is "dealwired <version> started data_dir=<dir>
# listen=<host>:<port> pid=<pid>". Prints the port; fails (with a message on
# stderr naming the caller) when the server exits first or prints no start
# line within the timeout.
wait_for_port() {
  local log=$1 pid=$2 timeout_s=$3 who=$4 line port
  for _ in $(seq 1 $((timeout_s * 10))); do
    if line=$(grep -m1 ' started ' "$log" 2>/dev/null); then
      port=$(sed -n 's/.* listen=[^ ]*:\([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' <<<"$line")
      [[ -n $port ]] && { echo "$port"; return 0; }
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$who: dealwired exited before it started" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$who: no start line with a port from dealwired within $timeout_s s" >&2
  return 1
}

# Waits (at most 100 checks of <= 1 s each) until dealwire-bench's health
# scenario succeeds against `server`; fails with a message naming the caller
# when it never does or the server exits.
wait_for_serving() {
  local bench_bin=$1 server=$2 pid=$3 who=$4
  for _ in $(seq 1 100); do
    if "$bench_bin" --server "$server" --scenario health --connect-timeout 1 >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$who: dealwired at $server does not answer its health check" >&2
  return 1
}

# Stops dealwired `pid` (a child of the calling shell) if it still runs:
# SIGTERM, then SIGKILL (with a message naming the caller) when it has not
# exited 30 s later; reaps it.
stop_dealwired() {
  local pid=$1 who=$2
  if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do  # 30 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$who: dealwired did not stop within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
