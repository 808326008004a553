#!/usr/bin/env bash
# The benchmarks, end to end: install what is missing, build, then the event
# log's own benchmark; a real dealwired on a fresh data directory measured
# over gRPC by dealwire-bench (appends, batch appends, catch-up, live
# fan-out); and the market-intelligence projections on a synthetic data set
# (validated load, projection catch-up, cap-table queries now and as of the
# past, a rebuild checked by digest). Every server it starts is stopped at
# the end. Extra arguments go to the gRPC benchmark (dealwire-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export CCACHE_DIR="${CCACHE_DIR:-$PWD/build/.ccache}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target dealwire-store-bench dealwired dealwire-bench dealwire-gen

echo "== the event log, in process (dealwire-store-bench)"
data_dir=build/demo-data/store-bench
rm -rf "$data_dir"
mkdir -p "$(dirname "$data_dir")"
build/bench/dealwire-store-bench --dir "$data_dir"
rm -rf "$data_dir"

echo
echo "== dealwired over gRPC (dealwire-bench)"
bash bench/run_server_bench.sh --scenario append,append-batch,catchup,live \
  --duration 5 --catchup-events 300000 --subscribers 100 --rate 5000 "$@"

echo
echo "== market intelligence on 100,000 synthetic events (run_intel_bench.sh)"
bash bench/run_intel_bench.sh --events 100000
