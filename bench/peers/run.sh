#!/usr/bin/env bash
# bench/peers/run.sh — Dealwire and its peers side by side: the same durable
# append and full-read workloads on dealwired, Redis 7 (streams, AOF with
# appendfsync always), NATS JetStream (nats-server, file storage) and
# PostgreSQL 15 (a table, synchronous_commit on), interleaved, plus RocksDB's
# own db_bench (fillseq, synced batches of 100) as the limit of our engine.
#
#   bench/peers/run.sh                                  # 3 rounds, the defaults below
#   bench/peers/run.sh --rounds 1 --duration 3 --events 100000
#   bench/peers/run.sh --only dealwire,redis --workloads single,batch
#
# Workloads (the same on every system; records of a stream name, a fresh UUID,
# a type and 200 bytes of data; Dealwire's events are 200 bytes serialized):
#   single  each of 8, then 64, callers keeps one 1-event append in flight and
#           waits for its durable acknowledgement, for --duration s (after 1 s
#           of warm-up); the better of the two counts is the figure
#   batch   8 callers, 100 events per append, likewise; db_bench fillseq
#           --sync=1 --batch_size=100 --value_size=200 runs with it
#   read    the log is filled with --events events (not timed), then read
#           from the start in pages of 1000, one page at a time
# Dealwire runs each write workload twice: with one EventStore.Append call
# per append ("dealwire") and over EventStore.AppendStream ("dealwire-stream":
# one call per connection, each caller still keeping one append in flight).
# Each round runs Dealwire's workloads, then each peer's, in the same order,
# so that the systems share the machine's noise. Dealwire runs through
# bench/run_server_bench.sh (a fresh dealwired per workload); each peer gets
# a fresh server in a new temporary directory per round, on 127.0.0.1 only,
# stopped (by its PID, bounded waits) after its workloads. The peers are
# driven by dealwire-peer-bench (bench/peers/, over libhiredis, libpq and
# libnats). Prints every run's line as it comes, then per workload the
# median over the rounds of each system, the ratios Dealwire/peer (with
# Append / with AppendStream), and the server CPU per event. Missing Debian
# packages are installed with apt-get.
# Exits non-zero, naming the system, when a server does not start or a
# workload fails. A benchmark, never a test: take the machine for it alone
# (e.g. flock /tmp/dealwire-bench.lock bench/peers/run.sh).
#
# Flags:
#   --rounds R        rounds (default 3)
#   --duration S      seconds of each write run (default 10)
#   --events N        events of the full read (default 1000000)
#   --only LIST       systems, of dealwire,redis,nats,postgres,rocksdb (default all)
#   --workloads LIST  of single,batch,read (default all)
#   -h, --help        this text
#
# Environment:
#   BUILD_DIR         build directory (default <repo>/build; configured with
#                     Ninja and RelWithDebInfo when it has no CMakeCache.txt)
#   DEALWIRED         a dealwired binary to use instead of building one
#   DEALWIRE_BENCH    a dealwire-bench binary to use instead of building one
#                     (dealwired is then started by this script, as
#                     run_server_bench.sh would)
#   TMPDIR            where the temporary directories go (default /tmp)

# Functions reached only through the trap and "start_$system", arrays read
# through namerefs:
# shellcheck disable=SC2317,SC2034
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

rounds=3
duration=10
events=1000000
only=dealwire,redis,nats,postgres,rocksdb
workloads=single,batch,read
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --events) events=${2:?--events needs a value}; shift 2 ;;
    --only) only=${2:?--only needs a value}; shift 2 ;;
    --workloads) workloads=${2:?--workloads needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds must be a positive integer" >&2; exit 2; }
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --duration must be a positive integer" >&2; exit 2; }
[[ $events =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --events must be a positive integer" >&2; exit 2; }

declare -A want_system=() want_workload=()
IFS=, read -r -a list <<<"$only"
for s in "${list[@]}"; do
  case $s in
    dealwire|redis|nats|postgres|rocksdb) want_system[$s]=1 ;;
    *) echo "run.sh: unknown system '$s' in --only (dealwire,redis,nats,postgres,rocksdb)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a list <<<"$workloads"
for w in "${list[@]}"; do
  case $w in
    single|batch|read) want_workload[$w]=1 ;;
    *) echo "run.sh: unknown workload '$w' in --workloads (single,batch,read)" >&2; exit 2 ;;
  esac
done
has() { [[ -n ${want_system[$1]:-} ]]; }
does() { [[ -n ${want_workload[$1]:-} ]]; }
peers=()
for s in redis nats postgres; do has "$s" && peers+=("$s"); done
has rocksdb && ! does batch && echo "run.sh: rocksdb runs with the batch workload only; skipping it" >&2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$repo/build}
# shellcheck source=../start_line.sh
source "$repo/bench/start_line.sh"

# --- packages: only what is missing, from Debian's archive ---------------------
packages=()
((${#peers[@]} > 0)) && packages+=(pkg-config libnats-dev libhiredis-dev libpq-dev)
has redis && packages+=(redis-server)
has nats && packages+=(nats-server)
has postgres && packages+=(postgresql-15)
has rocksdb && does batch && packages+=(rocksdb-tools)
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "run.sh: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "run.sh: installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- build ------------------------------------------------------------------
targets=()
if has dealwire; then
  [[ -z ${DEALWIRED:-} ]] && targets+=(dealwired)
  [[ -z ${DEALWIRE_BENCH:-} ]] && targets+=(dealwire-bench)
fi
((${#peers[@]} > 0)) && targets+=(dealwire-peer-bench)
if ((${#targets[@]} > 0)); then
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  elif ((${#peers[@]} > 0)) &&
       ! cmake --build "$build" --target help 2>/dev/null | grep -q '^dealwire-peer-bench:'; then
    cmake "$build" >&2  # configured before the client libraries were installed
  fi
  cmake --build "$build" --target "${targets[@]}" >&2
fi
dealwired_bin=${DEALWIRED:-$build/services/dealwired}
bench_bin=${DEALWIRE_BENCH:-$build/bench/dealwire-bench}
peer_bin=$build/bench/peers/dealwire-peer-bench

# --- the servers and the cleanup ----------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/dealwire-peers.XXXXXX")
chmod 711 "$work"  # the postgres user must reach its data directory inside
dw_pid=''  # dealwired, when this script starts it (DEALWIRE_BENCH)
redis_pid='' nats_pid='' pg_pid='' pg_wrapper=''

# Stops process `pid` (a child of this shell) if it runs: `signal`, then
# SIGKILL (saying so) when it has not exited after 30 s; reaps it.
stop_pid() {
  local pid=$1 signal=$2 name=$3
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: $name (pid $pid) did not stop within 30 s of SIG$signal; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
stop_redis() { stop_pid "$redis_pid" TERM redis-server; redis_pid=''; }
stop_nats() { stop_pid "$nats_pid" TERM nats-server; nats_pid=''; }
stop_postgres() {
  # Fast shutdown of the postmaster (the runuser wrapper exits with it).
  if [[ -n $pg_pid ]] && kill -0 "$pg_pid" 2>/dev/null; then
    kill -INT "$pg_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pg_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pg_pid" 2>/dev/null; then
      echo "run.sh: postgres (pid $pg_pid) did not stop within 30 s of SIGINT; killing it" >&2
      kill -KILL "$pg_pid" 2>/dev/null || true
    fi
  fi
  stop_pid "$pg_wrapper" TERM "runuser (postgres)"
  pg_pid='' pg_wrapper=''
}
cleanup() {
  local status=$?
  stop_dealwired "$dw_pid" run.sh
  stop_redis
  stop_nats
  stop_postgres
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints a free TCP port on 127.0.0.1 (nothing accepts connections on it).
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "run.sh: no free port found" >&2
  return 1
}

# Waits (at most 100 tries of <= 1 s each) until `system` answers at `port`
# while `pid` runs; fails naming it, with the end of its log, otherwise.
wait_for_peer() {
  local system=$1 port=$2 pid=$3 log=$4
  for _ in $(seq 1 100); do
    "$peer_bin" --system "$system" --workload ping --port "$port" --connect-timeout 1 \
      >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: $system did not start (pid $pid, port $port); the end of $log:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

# The NATS server's durability: nats-server 2.10 added `sync_interval:
# always` (fsync before each acknowledgement); 2.9's config parser rejects
# it as an unknown field, and its JetStream file store acknowledges once the
# message is written to the OS, syncing on a timer.
nats_sync_always=0
nats_note=
if has nats; then
  nats_version=$(nats-server --version 2>&1 | awk '{print $2}')
  printf 'listen: 127.0.0.1:1\njetstream {\n  store_dir: "%s/probe"\n  sync_interval: always\n}\n' \
    "$work" >"$work/nats-probe.conf"
  if probe=$(nats-server -c "$work/nats-probe.conf" -t 2>&1); then
    nats_sync_always=1
    nats_note="nats: $nats_version with sync_interval: always (fsync before each PubAck)"
  elif grep -q 'unknown field "sync_interval"' <<<"$probe"; then
    nats_note="nats: $nats_version acknowledges before fsync (no sync_interval option: \
the file store writes each message to the OS and fsyncs on a timer), so its figures are \
not durable against power loss or an OS crash"
  else
    echo "run.sh: nats-server -t failed on a minimal configuration: $probe" >&2
    exit 1
  fi
fi

start_redis() {
  local dir=$1
  mkdir -p "$dir"
  redis_port=$(free_port) || return 1
  cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $redis_port
protected-mode yes
daemonize no
dir $dir
logfile $dir/redis.log
save ""
appendonly yes
appendfsync always
auto-aof-rewrite-percentage 0
EOF
  redis-server "$dir/redis.conf" >/dev/null 2>&1 &
  redis_pid=$!
  wait_for_peer redis "$redis_port" "$redis_pid" "$dir/redis.log" || return 1
  server_pid=$redis_pid server_port=$redis_port
}

start_nats() {
  local dir=$1
  mkdir -p "$dir"
  nats_port=$(free_port) || return 1
  {
    echo "listen: 127.0.0.1:$nats_port"
    echo "jetstream {"
    echo "  store_dir: \"$dir/store\""
    ((nats_sync_always)) && echo "  sync_interval: always"
    echo "}"
  } >"$dir/nats.conf"
  nats-server -c "$dir/nats.conf" -l "$dir/nats.log" >/dev/null 2>&1 &
  nats_pid=$!
  wait_for_peer nats "$nats_port" "$nats_pid" "$dir/nats.log" || return 1
  server_pid=$nats_pid server_port=$nats_port
}

pg_bin=/usr/lib/postgresql/15/bin
start_postgres() {
  local dir=$1
  mkdir -p "$dir"
  chown postgres: "$dir"
  pg_port=$(free_port) || return 1
  # initdb and postgres refuse to run as root: Debian's postgres user runs them.
  if ! runuser -u postgres -- "$pg_bin/initdb" -D "$dir/data" --auth=trust --username=postgres \
         -E UTF8 --no-instructions --no-sync >"$dir/initdb.log" 2>&1; then
    echo "run.sh: postgres: initdb failed:" >&2
    tail -n 20 "$dir/initdb.log" >&2
    return 1
  fi
  runuser -u postgres -- "$pg_bin/postgres" -D "$dir/data" \
    -c listen_addresses=127.0.0.1 -c port="$pg_port" -c unix_socket_directories="$dir" \
    -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=100 \
    >"$dir/postgres.log" 2>&1 &
  pg_wrapper=$!
  for _ in $(seq 1 100); do  # the postmaster's pid, from its pid file
    pg_pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    [[ -n $pg_pid ]] && break
    kill -0 "$pg_wrapper" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $pg_pid ]]; then
    echo "run.sh: postgres did not start; the end of $dir/postgres.log:" >&2
    tail -n 20 "$dir/postgres.log" >&2
    return 1
  fi
  wait_for_peer postgres "$pg_port" "$pg_pid" "$dir/postgres.log" || return 1
  server_pid=$pg_pid server_port=$pg_port
}

# Prints the peer's durability settings as the running server reports them.
describe_peer() {
  case $1 in
    redis)
      printf 'redis %s: ' "$(redis-server --version | awk '{print $3}' | sed 's/^v=//')"
      redis-cli -h 127.0.0.1 -p "$server_port" --raw CONFIG GET appendonly appendfsync save \
        | paste -sd' ' | sed 's/\(appendonly\|appendfsync\|save\) /\1=/g'
      ;;
    nats)
      printf 'nats-server %s: JetStream file storage, 1 replica, sync_interval %s\n' \
        "$nats_version" "$( ((nats_sync_always)) && echo always || echo 'not supported')"
      ;;
    postgres)
      printf 'postgres %s: ' "$("$pg_bin/postgres" --version | awk '{print $3}')"
      PGCONNECT_TIMEOUT=5 psql -X -A -t -h 127.0.0.1 -p "$server_port" -U postgres -d postgres -c \
        "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
         WHERE name IN ('fsync','synchronous_commit','wal_sync_method','full_page_writes',
                        'commit_delay','shared_buffers')"
      ;;
  esac
}

# --- the runs -----------------------------------------------------------------
declare -A rate=() cpu_us=()
logs=$work/logs
mkdir -p "$logs"

# Records the figure of the summary line `pattern` of `log` as
# rate[key] (events/s) and cpu_us[key] (server CPU µs per event, when known).
record() {
  local key=$1 log=$2 pattern=$3 line
  line=$(grep -E "^$pattern: " "$log" | tail -n 1) || true
  if [[ -z $line ]]; then
    echo "run.sh: ${key%%|*}: no '$pattern:' line in its output" >&2
    return 1
  fi
  rate[$key]=$(awk '{print $2}' <<<"$line")
  cpu_us[$key]=$(awk '{
      for (i = 1; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (("server_cpu" in f) && f["events"] > 0) printf "%.1f", f["server_cpu"] * f["seconds"] / f["events"] * 1e6
    }' <<<"$line")
  printf '  %-9s %-13s %s\n' "${key%%|*}" "$(cut -d'|' -f2 <<<"$key")" "$line"
}

# Runs dealwire-bench with `args` against a fresh dealwired: through
# run_server_bench.sh, or (DEALWIRE_BENCH) started here the same way.
run_dealwire() {
  local log=$1
  shift
  if [[ -z ${DEALWIRE_BENCH:-} ]]; then
    BUILD_DIR=$build bash "$repo/bench/run_server_bench.sh" "$@" >"$log" 2>&1
    return
  fi
  local dir
  dir=$(mktemp -d "$work/dealwired.XXXXXX")
  "$dealwired_bin" --data-dir "$dir/data" --listen 127.0.0.1:0 2>"$dir/dealwired.log" &
  dw_pid=$!
  local port status=0
  port=$(wait_for_port "$dir/dealwired.log" "$dw_pid" 30 run.sh) &&
    wait_for_serving "$bench_bin" "127.0.0.1:$port" "$dw_pid" run.sh &&
    "$bench_bin" --server "127.0.0.1:$port" --server-pid "$dw_pid" "$@" >"$log" 2>&1 || status=$?
  stop_dealwired "$dw_pid" run.sh
  dw_pid=''
  if ((status != 0)); then tail -n 20 "$dir/dealwired.log" >>"$log"; fi
  rm -rf "$dir"
  return "$status"
}

fail_run() {
  echo "run.sh: $1 failed (round $2); the end of its output ($3):" >&2
  tail -n 20 "$3" >&2
  exit 1
}

# Dealwire's write workloads run twice: "dealwire" with one Append call per
# append (dealwire-bench's default client), "dealwire-stream" over
# EventStore.AppendStream (one call per connection, 2 connections; each
# caller still keeps one append in flight and waits for its durable outcome).
dealwire_round() {
  local r=$1 log name
  local -A client=([dealwire]="" [dealwire-stream]="--client stream --channels 2")
  for name in dealwire dealwire-stream; do
    local extra
    read -r -a extra <<<"${client[$name]}"
    if does single; then
      for c in 8 64; do
        log=$logs/r$r-$name-single$c.log
        run_dealwire "$log" --scenario append --callers "$c" --duration "$duration" "${extra[@]}" ||
          fail_run "$name single x$c" "$r" "$log"
        record "$name|single$c|$r" "$log" "append_1x$c" || fail_run "$name single x$c" "$r" "$log"
      done
    fi
    if does batch; then
      log=$logs/r$r-$name-batch.log
      run_dealwire "$log" --scenario append-batch --batch 100 --batch-callers 8 \
        --duration "$duration" "${extra[@]}" || fail_run "$name batch" "$r" "$log"
      record "$name|batch|$r" "$log" "append_100x8" || fail_run "$name batch" "$r" "$log"
    fi
  done
  if does read; then
    log=$logs/r$r-dealwire-read.log
    run_dealwire "$log" --scenario catchup --catchup-events "$events" ||
      fail_run "dealwire read" "$r" "$log"
    record "dealwire|read|$r" "$log" "catchup" || fail_run "dealwire read" "$r" "$log"
  fi
}

peer_round() {
  local system=$1 r=$2
  local dir=$work/r$r-$system log
  "start_$system" "$dir" || { echo "run.sh: $system did not start (round $r)" >&2; exit 1; }
  if ((r == 1)); then printf '  %-9s %s\n' "$system" "$(describe_peer "$system" 2>&1)"; fi
  local common=(--system "$system" --port "$server_port" --server-pid "$server_pid")
  if does single; then
    for c in 8 64; do
      log=$logs/r$r-$system-single$c.log
      "$peer_bin" "${common[@]}" --workload single --callers "$c" --duration "$duration" \
        >"$log" 2>&1 || fail_run "$system single x$c" "$r" "$log"
      record "$system|single$c|$r" "$log" "append_1x$c" || fail_run "$system single x$c" "$r" "$log"
    done
  fi
  if does batch; then
    log=$logs/r$r-$system-batch.log
    "$peer_bin" "${common[@]}" --workload batch --batch 100 --batch-callers 8 \
      --duration "$duration" >"$log" 2>&1 || fail_run "$system batch" "$r" "$log"
    record "$system|batch|$r" "$log" "append_100x8" || fail_run "$system batch" "$r" "$log"
  fi
  if does read; then
    log=$logs/r$r-$system-read.log
    "$peer_bin" "${common[@]}" --workload read --events "$events" --page 1000 \
      >"$log" 2>&1 || fail_run "$system read" "$r" "$log"
    record "$system|read|$r" "$log" "read" || fail_run "$system read" "$r" "$log"
  fi
  "stop_$system"
  rm -rf "$dir"
}

dbbench_num=$((duration * 100000))  # the same every round (fillseq ignores --duration)
rocksdb_round() {
  local r=$1 log=$logs/r$1-rocksdb.log db=$work/r$1-rocksdb line
  db_bench --benchmarks=fillseq --db="$db" --sync=1 --batch_size=100 --value_size=200 \
    --key_size=16 --compression_type=none --threads=1 --num="$dbbench_num" >"$log" 2>&1 ||
    fail_run "rocksdb db_bench" "$r" "$log"
  line=$(grep -E '^fillseq +:' "$log" | tail -n 1) || true
  [[ -n $line ]] || fail_run "rocksdb db_bench (no fillseq line)" "$r" "$log"
  local ops
  ops=$(sed -n 's/.* \([0-9][0-9]*\) ops\/sec.*/\1/p' <<<"$line")
  [[ -n $ops ]] || fail_run "rocksdb db_bench (no ops/sec)" "$r" "$log"
  rate["rocksdb|batch|$r"]=$ops
  printf '  %-9s %-13s %s\n' rocksdb "db_bench" "$(tr -s ' ' <<<"$line")"
  rm -rf "$db"
}

echo "# Dealwire and its peers: $rounds round(s), $duration s per write run, reads of $events events"
echo "# machine: $(nproc) cores, $(uname -r); work directory $work"
if has dealwire; then
  echo "# dealwire: $dealwired_bin, load from $bench_bin ($([[ -z ${DEALWIRE_BENCH:-} ]] &&
    echo "through bench/run_server_bench.sh" || echo "dealwired started by run.sh"))"
fi
if has rocksdb && does batch; then
  echo "# rocksdb: db_bench $(db_bench --version 2>&1 | awk '{print $3}') --benchmarks=fillseq" \
    "--sync=1 --batch_size=100 --value_size=200 --key_size=16 --compression_type=none" \
    "--threads=1 --num=$dbbench_num"
fi
# Each round starts with the next system (dealwire, the peers, db_bench in
# turn), so that no system always runs first — on this kind of machine the
# order alone moved figures by 10-20 %.
order=()
if has dealwire; then order+=(dealwire); fi
order+=("${peers[@]}")
if has rocksdb && does batch; then order+=(rocksdb); fi
for ((r = 1; r <= rounds; ++r)); do
  echo "== round $r/$rounds"
  n=${#order[@]}
  for ((i = 0; i < n; ++i)); do
    s=${order[$(((r - 1 + i) % n))]}
    case $s in
      dealwire) dealwire_round "$r" ;;
      rocksdb) rocksdb_round "$r" ;;
      *) peer_round "$s" "$r" ;;
    esac
  done
done

# --- the summary --------------------------------------------------------------
# Prints the median of the numbers given.
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Prints the median over the rounds of `array[system|workload|r]`.
median_of() {
  local -n values=$1
  local key=$2 r vals=()
  for ((r = 1; r <= rounds; ++r)); do
    [[ -n ${values[$key|$r]:-} ]] && vals+=("${values[$key|$r]}")
  done
  # Nothing (and success) when no round has it: dealwire-stream has no read.
  if ((${#vals[@]} > 0)); then median "${vals[@]}"; fi
  return 0
}
human() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2fM", v / 1e6; else if (v >= 1e3) printf "%.1fk", v / 1e3; else printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) { r = a / b; printf (r >= 10 ? "%.0fx" : "%.2fx"), r } }'; }

systems=()
has dealwire && systems+=(dealwire dealwire-stream)
systems+=("${peers[@]}")

declare -A med=() med_cpu=() detail=()
# Prints its arguments joined by " / ".
joined() {
  local out="" sep="" x
  for x in "$@"; do out+="$sep$x" sep=" / "; done
  printf '%s' "$out"
}
# Prints the summary of `workload`: each system's median (the better caller
# count for single), the ratios Dealwire / peer (Append first, AppendStream
# second), the caller counts' figures and the server CPU per event.
summary_line() {
  local title=$1 workload=$2 s out="" sep="" best shown=()
  med=() med_cpu=() detail=()
  for s in "${systems[@]}"; do
    if [[ $workload == single ]]; then
      local m8 m64
      m8=$(median_of rate "$s|single8") m64=$(median_of rate "$s|single64")
      [[ -n $m8 || -n $m64 ]] || continue
      if awk -v a="${m8:-0}" -v b="${m64:-0}" 'BEGIN { exit !(a >= b) }'; then
        med[$s]=$m8 best=8
      else
        med[$s]=$m64 best=64
      fi
      med_cpu[$s]=$(median_of cpu_us "$s|single$best")
      detail[$s]="$(human "${m8:-0}") / $(human "${m64:-0}")"
    else
      med[$s]=$(median_of rate "$s|$workload")
      [[ -n ${med[$s]} ]] || continue
      med_cpu[$s]=$(median_of cpu_us "$s|$workload")
    fi
    shown+=("$s")
  done
  local ours=()
  for s in dealwire dealwire-stream; do [[ -n ${med[$s]:-} ]] && ours+=("$s"); done
  for s in "${shown[@]}"; do
    out+="$sep$s $(human "${med[$s]}")"
    if [[ $s == dealwire* ]]; then
      out+=" ev/s"
    elif ((${#ours[@]} > 0)); then
      local ratios=() o
      for o in "${ours[@]}"; do ratios+=("$(ratio "${med[$o]}" "${med[$s]}")"); done
      out+=" ($(joined "${ratios[@]}"))"
    fi
    sep=" | "
  done
  if [[ $workload == batch ]] && has rocksdb; then
    local m ratios=() o
    m=$(median_of rate "rocksdb|batch")
    out+="$sep""rocksdb db_bench fillseq sync batch 100: $(human "$m")"
    for o in "${ours[@]}"; do ratios+=("$(ratio "${med[$o]}" "$m")"); done
    ((${#ratios[@]} > 0)) && out+=" ($(joined "${ratios[@]}"))"
  fi
  echo "$title: $out"
  if [[ $workload == single ]]; then
    out="" sep=""
    for s in "${shown[@]}"; do out+="$sep$s ${detail[$s]}"; sep=" | "; done
    echo "    8 / 64 callers: $out"
  fi
  out="" sep=""
  for s in "${shown[@]}"; do
    [[ -n ${med_cpu[$s]:-} ]] && out+="$sep$s $(printf '%.1f' "${med_cpu[$s]}")" && sep=" | "
  done
  [[ -n $out ]] && echo "    server CPU per event (µs): $out"
  return 0
}

echo
echo "== summary: median of $rounds round(s); (Nx / Mx) = Dealwire / peer, with Append / with AppendStream"
does single && summary_line "single (durable, 1 event/append; best of 8 and 64 callers)" single
does batch && summary_line "batch (durable, 100 events/append, 8 callers)" batch
does read && summary_line "read (full read of $events events, pages of 1000)" read
[[ -n $nats_note ]] && echo "note: $nats_note"
if has postgres; then
  echo "note: postgres: each append is its own transaction, acknowledged after its commit is flushed to the WAL (fdatasync); reads are keyset pages (WHERE position > last ORDER BY position LIMIT 1000)"
fi
if has redis; then
  echo "note: redis: appendfsync always fsyncs the AOF before replying; a 100-event append is 100 pipelined XADDs (not atomic)"
fi
exit 0
