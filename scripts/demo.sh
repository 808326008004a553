#!/usr/bin/env bash
# README quick start, command 1: install what is missing, build, start
# dealwired on a local data directory (build/demo-data/server), import the
# seed story (demo/seed_story.jsonl) with the CLI and tell it back through the
# CLI: OpenAI's cap table closed and pro forma, Amazon's portfolio and
# competitive exposure, OpenAI's timeline and valuations, the Amazon–OpenAI
# deal, Anthropic's partners. Then it says how to keep exploring and stops the
# server it started.
#
#   bash scripts/demo.sh          # the story; the server is stopped at the end
#   bash scripts/demo.sh --keep   # leave the server running to keep exploring
#
# The server listens on 127.0.0.1:50051 (the CLI's default) when that port is
# free, else on a free port it prints. Each run starts from a fresh data
# directory (a server left running by --keep is stopped first).
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
export CCACHE_DIR="${CCACHE_DIR:-$PWD/build/.ccache}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target dealwired dealwire >/dev/null
source bench/start_line.sh

data=build/demo-data/server
log=build/demo-data/dealwired.log
pid_file=build/demo-data/dealwired.pid
cli=build/clients/cli/dealwire
mkdir -p build/demo-data
# A server kept by an earlier run holds the data directory: stop it (bounded).
if [[ -f $pid_file ]] && old=$(cat "$pid_file") && kill -0 "$old" 2>/dev/null &&
   grep -q dealwired "/proc/$old/cmdline" 2>/dev/null; then
  echo "demo: stopping the server an earlier run left running (pid $old)"
  kill -TERM "$old"
  for _ in $(seq 1 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$old" 2>/dev/null && kill -KILL "$old"
fi
rm -rf "$data" "$pid_file"

listen=127.0.0.1:50051
if (exec 3<>/dev/tcp/127.0.0.1/50051) 2>/dev/null; then listen=127.0.0.1:0; fi
server_pid=
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}
on_exit() {
  local status=$?
  if [[ $status -ne 0 ]]; then
    [[ -s $log ]] && { echo "--- dealwired log ($log) ---" >&2; tail -n 30 "$log" >&2; }
    stop_server
  elif [[ $keep == 0 ]]; then
    stop_server
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

build/services/dealwired --data-dir "$data" --listen "$listen" 2>"$log" &
server_pid=$!
echo "$server_pid" >"$pid_file"
port=$(wait_for_port "$log" "$server_pid" 30 demo) || exit 1
export DEALWIRE_SERVER=127.0.0.1:$port

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
dw() {
  printf '$ dealwire %s\n' "$*"
  "$cli" "$@"
}

say "dealwired $DEALWIRE_SERVER (data in $data); importing the seed story"
dw import demo/seed_story.jsonl
# Read-your-writes: the first answer waits until the projections hold the import.
last=$("$cli" -o json events read --backwards --limit 1 | sed -n 's/.*"position":"\{0,1\}\([0-9]*\).*/\1/p' | head -n 1)

say "OpenAI's cap table: closed deals"
dw cap-table openai --min-position "${last:-0}"
say "OpenAI's cap table, pro forma: as if the deals in talks had closed (Amazon's \$50B among them)"
dw cap-table openai --include-pending
say "Amazon's portfolio (AWS rolled up to Amazon)"
dw portfolio amazon
say "Amazon's competitive exposure: Anthropic and OpenAI share a sector"
dw exposure amazon
say "OpenAI's timeline, by effective date"
dw timeline openai
say "OpenAI's valuation history"
dw valuations openai
say "The Amazon–OpenAI deal: stage and expected close"
dw deal amazon-openai-2026
say "Anthropic's partners"
dw partners anthropic

say "Keep exploring"
cat <<MSG
The server is $DEALWIRE_SERVER. Try:
  export DEALWIRE_SERVER=$DEALWIRE_SERVER
  $cli org list a
  $cli cap-table openai --as-of-position 20 --effective-on 2025-12-31
  $cli deals --overdue
  $cli summary
  $cli -o json portfolio microsoft
  $cli tail --from-start          # Ctrl-C to stop
  $cli record investment --help
Every command has --help; docs/cli.md has them all.
MSG
if [[ $keep == 1 ]]; then
  echo "The server keeps running (pid $server_pid, log $log); stop it with: kill $server_pid"
else
  echo "Stopping the server (run 'bash scripts/demo.sh --keep' to leave it running)."
fi
