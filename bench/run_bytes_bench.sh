#!/usr/bin/env bash
# run_bytes_bench.sh — the bytes each appended event costs dealwired: what its
# threads write (the write-ahead log, flushes, compactions, the event-id
# index's files, the projections' own log) and what the log's table files
# hold per column family.
#
#   bench/run_bytes_bench.sh                       # single (1x64) and batch (100x8), 8 s each
#   bench/run_bytes_bench.sh --duration 20
#   DEALWIRED=old/dealwired DEALWIRE_BENCH=old/dealwire-bench bench/run_bytes_bench.sh
#
# For each workload: a fresh dealwired on a new temporary data directory
# (127.0.0.1:0), dealwire-bench's append scenario for --duration seconds,
# 3 s to settle, then the bytes each server thread wrote (/proc/<pid>/task/
# <tid>/io wchar: the bytes it handed to write(2)) divided by the events
# appended. dw-log-writer's figure is the write-ahead log; rocksdb:high
# (flushes) and rocksdb:low (compactions) serve both databases of the data
# directory, the log's and the projections'. After a clean stop, the log's
# table files are read with sst_dump (from rocksdb-tools, installed when
# missing; read-only): keys and key+value bytes per column family, per event
# of the events family's files. What is still in memtables (in the write-
# ahead log) is not counted, and the ids of the events after the event-id
# index's last full run (up to 131072) live in memory, read back from the
# log on open: short runs under-count event_ids.
#
# Prints per workload:
#   bytes_<workload>: events=N written: wal=… flush=… compaction=… ids=… projector=… B/event
#       tables: <family>=<keys> keys <bytes> B, … total … B (per event, …)
# A benchmark, never a test: take the machine for it alone.
#
# Flags:
#   --duration S     seconds of each workload (default 8)
#   --only LIST      of single,batch (default both)
#   -h, --help       this text
#
# Environment:
#   BUILD_DIR        build directory (default <repo>/build)
#   DEALWIRED        a dealwired binary to measure instead of the build's
#   DEALWIRE_BENCH   a dealwire-bench binary to use instead of the build's
#   TMPDIR           where the data directories go (default /tmp)
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

duration=8
only=single,batch
while (($# > 0)); do
  case $1 in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --only) only=${2:?--only needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_bytes_bench: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "run_bytes_bench: --duration must be a positive integer" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
# shellcheck source=start_line.sh
source "$repo/bench/start_line.sh"

if ! command -v sst_dump >/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "run_bytes_bench: sst_dump is missing (apt-get install rocksdb-tools, as root)" >&2
    exit 1
  fi
  echo "run_bytes_bench: installing rocksdb-tools" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rocksdb-tools >&2
fi

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
targets=()
[[ -z ${DEALWIRED:-} ]] && targets+=(dealwired)
[[ -z ${DEALWIRE_BENCH:-} ]] && targets+=(dealwire-bench)
((${#targets[@]} > 0)) && cmake --build "$build" --target "${targets[@]}" >&2
server_bin=${DEALWIRED:-$build/services/dealwired}
bench_bin=${DEALWIRE_BENCH:-$build/bench/dealwire-bench}

work=$(mktemp -d "${TMPDIR:-/tmp}/dealwire-bytes-bench.XXXXXX")
server_pid=
cleanup() {
  local status=$?
  stop_dealwired "$server_pid" run_bytes_bench
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints "<thread name> <bytes written>" for each thread of `pid`, summed by name.
thread_writes() {
  local pid=$1 t
  for t in /proc/"$pid"/task/*; do
    printf '%s %s\n' "$(cat "$t/comm")" "$(awk '/^wchar:/ { print $2 }' "$t/io" 2>/dev/null || echo 0)"
  done | awk '{ b[$1] += $2 } END { for (n in b) print n, b[n] }'
}

measure() {
  local name=$1
  shift
  local dir=$work/$name log=$work/$name.log out=$work/$name.out port events
  mkdir -p "$dir"
  "$server_bin" --data-dir "$dir/data" --listen 127.0.0.1:0 2>"$log" &
  server_pid=$!
  port=$(wait_for_port "$log" "$server_pid" 30 run_bytes_bench)
  wait_for_serving "$bench_bin" "127.0.0.1:$port" "$server_pid" run_bytes_bench
  if ! "$bench_bin" --server "127.0.0.1:$port" --server-pid "$server_pid" --duration "$duration" \
    "$@" >"$out" 2>&1; then
    echo "run_bytes_bench: $name: dealwire-bench failed:" >&2
    tail -n 20 "$out" >&2
    exit 1
  fi
  sleep 3
  events=$(sed -n 's/^append[^ ]*: .* events=\([0-9][0-9]*\) .*/\1/p' "$out" | tail -n 1)
  [[ -n $events && $events -gt 0 ]] || { echo "run_bytes_bench: $name: no events in:" >&2; cat "$out" >&2; exit 1; }
  local written
  written=$(thread_writes "$server_pid" | awk -v ev="$events" '
    { b[$1] = $2 }
    END {
      printf "wal=%.1f flush=%.1f compaction=%.1f ids=%.1f projector=%.1f",
        b["dw-log-writer"] / ev, b["rocksdb:high"] / ev, b["rocksdb:low"] / ev,
        b["dw-log-ids"] / ev, b["dw-projector"] / ev
    }')
  stop_dealwired "$server_pid" run_bytes_bench
  server_pid=
  # What the log's table files hold, read with sst_dump (read-only): keys and
  # key+value bytes per family, per event in the events family's files.
  local tables
  tables=$(for f in "$dir"/data/*.sst; do
    [[ -e $f ]] || continue
    sst_dump --file="$f" --show_properties 2>/dev/null |
      awk '/# entries:/ { n = $3 } /raw key size:/ { k = $4 } /raw value size:/ { v = $4 }
           /column family name:/ { cf = $4 } END { if (cf != "") print cf, n, k + v }'
  done | awk '
    { n[$1] += $2; b[$1] += $3 }
    END {
      ev = n["events"]
      if (ev == 0) { print "no events in table files yet"; exit }
      out = ""
      for (c in n) if (c != "default" && c != "metadata")
        out = out sprintf("%s=%.2f keys %.1f B, ", c, n[c] / ev, b[c] / ev)
      total = 0
      for (c in b) total += b[c]
      printf "%stotal %.1f B (per event, over %d events in table files)", out, total / ev, ev
    }')
  echo "bytes_$name: events=$events written: $written B/event"
  echo "    tables: $tables"
}

echo "# bytes per appended event: $server_bin, load from $bench_bin, $duration s per workload"
if [[ ,$only, == *,single,* ]]; then
  measure single --scenario append --callers 64
fi
if [[ ,$only, == *,batch,* ]]; then
  measure batch --scenario append-batch --batch 100 --batch-callers 8
fi
