#!/usr/bin/env bash
# README quick start, command 1: install what is missing, build, and run the
# main job. For now that is the event log's benchmark, on a fresh data
# directory under build/; the full demo (server, seed data, CLI) grows here.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export CCACHE_DIR="${CCACHE_DIR:-$PWD/build/.ccache}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target dealwire-store-bench
data_dir=build/demo-data/store-bench
rm -rf "$data_dir"
mkdir -p "$(dirname "$data_dir")"
build/bench/dealwire-store-bench --dir "$data_dir" "$@"
