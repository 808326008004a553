#!/usr/bin/env bash
# run_intel_bench.sh — measures the query side of dealwired on a synthetic
# data set: append rate with domain validation, initial projection rate,
# GetCapTable latency (now and point-in-time) and a full projection rebuild.
#
#   bench/run_intel_bench.sh [--events N] [--companies N] [--investors N] [--seed S]
#                            [--duration S] [--concurrency C] [--query-companies N]
#                            [--keep-data]
#   bench/run_intel_bench.sh --events 100000
#
# Steps:
#   1. dealwire-gen --data-dir: generates --events events (--companies,
#      --investors, --seed as dealwire-gen's) into a new temporary data
#      directory, in process through the server's write path minus gRPC
#      (EncodeEvent, AppendAsync, DomainValidator). Its rate is the durable
#      append rate with domain validation on.
#   2. starts dealwired on that directory, listening on 127.0.0.1:0 (the port
#      is read from its start line), and waits (bounded) for its health check;
#   3. dealwire-bench --scenario projection-catchup: the rate at which the
#      projections fold the log they find at start; then --scenario catchup
#      (one Subscribe over the whole log): the raw log read rate of the same
#      run, which the catch-up goal is a fraction of;
#   4. dealwire-bench --scenario captable: GetCapTable from --concurrency
#      callers over --query-companies companies, --duration s per phase
#      (current, known_at_position, effective_on);
#   5. dealwire-bench --scenario rebuild: Admin.RebuildProjections; then the
#      live projector under load: --scenario append (closed-loop one-event
#      appends for --duration s) while the projections follow, and
#      --scenario projection-catchup again: how far they trailed when the
#      load stopped and how fast they caught up;
#   6. reads the server's RSS (VmRSS, VmHWM) and the data directory's size,
#      stops dealwired (SIGTERM, then SIGKILL after 30 s) and removes the
#      directory unless --keep-data, also on failure or Ctrl-C; prints a
#      summary, each figure beside its goal (docs/storage.md).
# Exits non-zero when a step failed (a refused event, a scenario error,
# rebuilt digests that differ), after running the remaining benchmark steps.
#
# Environment:
#   BUILD_DIR      build directory (default: <repo>/build; configured with
#                  Ninja and RelWithDebInfo when it has no CMakeCache.txt)
#   DEALWIRED      a dealwired binary to use instead of building one
#   TMPDIR         where the temporary data directory goes (default: /tmp)
#   START_TIMEOUT  seconds dealwired may take to open the log and print its
#                  start line (default: 600; opening reads the whole log)
#   KEEP_LOG=1     print the tail of the server's log at the end, not only on
#                  failure
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/start_line.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

events=1000000
companies=
investors=
seed=
duration=10
concurrency=8
query_companies=200
keep_data=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --events) events=$2; shift 2 ;;
    --companies) companies=$2; shift 2 ;;
    --investors) investors=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --query-companies) query_companies=$2; shift 2 ;;
    --keep-data) keep_data=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_intel_bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
start_timeout=${START_TIMEOUT:-600}

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
if [[ -n ${DEALWIRED:-} ]]; then
  cmake --build "$build" --target dealwire-gen dealwire-bench >&2
  server_bin=$DEALWIRED
else
  cmake --build "$build" --target dealwire-gen dealwire-bench dealwired >&2
  server_bin=$build/services/dealwired
fi
gen_bin=$build/bench/dealwire-gen
bench_bin=$build/bench/dealwire-bench

work=$(mktemp -d "${TMPDIR:-/tmp}/dealwire-intel-bench.XXXXXX")
data=$work/data
log=$work/dealwired.log
results=$work/results.txt
server_pid=
failed=0

stop_server() {
  stop_dealwired "$server_pid" run_intel_bench
  server_pid=
}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local status=$?
  stop_server
  if [[ $status -ne 0 || ${KEEP_LOG:-0} == 1 ]] && [[ -s $log ]]; then
    echo "--- dealwired log ($log) ---" >&2
    tail -n 50 "$log" >&2
  fi
  if [[ $keep_data == 1 ]]; then
    echo "run_intel_bench: data kept in $data (dealwired --data-dir $data)" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Generate straight into the log.
gen_args=(--events "$events" --data-dir "$data")
[[ -n $companies ]] && gen_args+=(--companies "$companies")
[[ -n $investors ]] && gen_args+=(--investors "$investors")
[[ -n $seed ]] && gen_args+=(--seed "$seed")
echo "run_intel_bench: dealwire-gen ${gen_args[*]}" >&2
"$gen_bin" "${gen_args[@]}" 2>&1 | tee "$work/gen.log" >&2
gen_line=$(grep -m1 ' appended to ' "$work/gen.log")

# 2. Start dealwired on the data set.
start_ns=$(date +%s%N)
"$server_bin" --data-dir "$data" --listen 127.0.0.1:0 2>"$log" &
server_pid=$!
# The start line: "dealwired <version> started data_dir=<dir> listen=<host>:<port> pid=<pid>".
port=$(wait_for_port "$log" "$server_pid" "$start_timeout" run_intel_bench) || exit 1
server=127.0.0.1:$port
started_ms=$((($(date +%s%N) - start_ns) / 1000000))
started_s=$((started_ms / 1000)).$(printf %03d $((started_ms % 1000)))

wait_for_serving "$bench_bin" "$server" "$server_pid" run_intel_bench || exit 1
printf 'run_intel_bench: dealwired pid=%s at %s started in %s s (opening the log of %s events)\n' \
  "$server_pid" "$server" "$started_s" "$events" >&2

# 3-5. The query-side scenarios; a failing one does not stop the others.
run_bench() {
  local status=0
  "$bench_bin" --server "$server" --server-pid "$server_pid" "$@" | tee -a "$results" || status=$?
  if [[ $status -ne 0 ]]; then
    echo "run_intel_bench: dealwire-bench $* exited with status $status" >&2
    failed=1
  fi
}
run_bench --scenario projection-catchup --catchup-timeout 3600
run_bench --scenario catchup --catchup-events "$events"
run_bench --scenario captable --companies "$query_companies" --concurrency "$concurrency" \
  --duration "$duration"
run_bench --scenario rebuild
run_bench --scenario append --duration "$duration"
run_bench --scenario projection-catchup --catchup-timeout 3600

rss_mib=$(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || true)
hwm_mib=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || true)
stop_server
data_bytes=$(du -sb "$data" | awk '{print $1}')
state_bytes=$(du -sb "$data/state" | awk '{print $1}')

# 6. Summary.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
echo
echo "=== run_intel_bench summary: $events events${seed:+, seed $seed} ==="
echo "dealwire-gen --data-dir: $(sed -n 's/.*: \([0-9]*\) events\/s.*/\1/p' <<<"$gen_line") events/s" \
  "(durable, 1 event per append, domain validation on, in process)"
echo "dealwired start (opens the log): $started_s s"
read_rate=
if line=$(grep -m1 '^catchup:' "$results"); then
  read_rate=$(awk '{print $2}' <<<"$line")
  echo "raw log read (Subscribe): $read_rate events/s"
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "?" }'; }
if line=$(grep -m1 '^projection_catchup:' "$results"); then
  rate=$(awk '{print $2}' <<<"$line")
  echo "projection catch-up:      $rate events/s" \
    "($(field basis "$line"); applied=$(field applied "$line") in $(field seconds "$line") s)" \
    "= $(ratio "$rate" "${read_rate:-0}")x the log read; goal >= 1000000 events/s or >= 0.5x"
fi
for phase in current known_at_position effective_on; do
  if line=$(grep -m1 "^captable_${phase}_x" "$results"); then
    goal='p99 <= 10 ms'
    [[ $phase == current ]] && goal='p99 <= 1 ms'
    printf 'GetCapTable %-18s %s calls/s p50=%s p99=%s max=%s not_found=%s errors=%s; goal %s\n' \
      "$phase:" "$(awk '{print $2}' <<<"$line")" "$(field p50 "$line")" "$(field p99 "$line")" \
      "$(field max "$line")" "$(field not_found "$line")" "$(field errors "$line")" "$goal"
  fi
done
if line=$(grep -m1 '^rebuild:' "$results"); then
  echo "rebuild:                  $(awk '{print $2}' <<<"$line") events/s" \
    "events=$(field events "$line") elapsed=$(field elapsed_s "$line") s" \
    "identical=$(field identical "$line"); goal as catch-up"
fi
if line=$(grep -m1 '^append_1x' "$results"); then
  after=$(grep '^projection_catchup:' "$results" | tail -n 1)
  lag=$(field initial_lag "$after")
  if [[ $lag == 0 ]]; then
    behind="they had kept up (lag 0 when the load stopped)"
  else
    behind="they trailed by $lag events when the load stopped and caught up at $(awk '{print $2}' <<<"$after") events/s"
  fi
  echo "under load: appends $(awk '{print $2}' <<<"$line") events/s p99=$(field p99 "$line")" \
    "while the projections followed; $behind"
fi
echo "dealwired memory at the end: rss=${rss_mib:-?} MiB peak=${hwm_mib:-?} MiB; goal <= 512 MiB at 10M events"
echo "data directory: $data_bytes bytes = $((data_bytes / events)) bytes/event" \
  "(state space $state_bytes bytes = $((state_bytes / events)) bytes/event)"
[[ $failed == 0 ]] || echo "run_intel_bench: some steps failed (see above)" >&2
exit "$failed"
