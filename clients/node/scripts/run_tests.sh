#!/usr/bin/env bash
# Runs the Node client's tests against a real dealwired, keeping every
# generated file in the build tree (nothing is written under clients/node).
#
# 1. npm ci from package-lock.json into WORK_DIR (only when the lock changed
#    or node_modules is missing; needs the npm registry the first time);
# 2. generates the TypeScript types (proto-loader-gen-types) into
#    WORK_DIR/generated and type-checks the sources' JSDoc against them (tsc);
# 3. runs `node --test` with NODE_PATH pointing at WORK_DIR/node_modules.
#
# usage: run_tests.sh DEALWIRED WORK_DIR [PROTO_DIR]
set -euo pipefail
dealwired=$1
work=$2
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
proto_dir=${3:-$(cd "$src/../../proto" && pwd)}

command -v npm >/dev/null || { echo "FAIL: npm not found (scripts/setup.sh installs nodejs and npm)"; exit 1; }
mkdir -p "$work"
if [ ! -d "$work/node_modules" ] || ! cmp -s "$src/package-lock.json" "$work/package-lock.json" \
    || ! cmp -s "$src/package.json" "$work/package.json"; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
bin="$work/node_modules/.bin"

rm -rf "$work/generated"
"$bin/proto-loader-gen-types" --longs=String --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js \
  --outDir="$work/generated" --includeDirs="$proto_dir" -- \
  dealwire/v1/event_store.proto dealwire/v1/market_intel.proto dealwire/v1/admin.proto >/dev/null 2>&1 \
  || { echo "FAIL: proto-loader-gen-types"; exit 1; }

# The same checks as `npm run typecheck`, with the build tree's types and modules.
cat >"$work/tsconfig.json" <<JSON
{
  "extends": "$src/tsconfig.json",
  "compilerOptions": {
    "typeRoots": ["$work/node_modules/@types"],
    "paths": {
      "@dealwire/generated/*": ["$work/generated/*"],
      "@grpc/*": ["$work/node_modules/@grpc/*"]
    }
  },
  "include": ["$src/src/**/*.js", "$src/examples/**/*.js"]
}
JSON
"$bin/tsc" -p "$work/tsconfig.json" || { echo "FAIL: tsc type check"; exit 1; }
echo "type check: ok"

export DEALWIRED="$dealwired" DEALWIRE_PROTO_DIR="$proto_dir" NODE_PATH="$work/node_modules"
cd "$work"
exec node --test --test-concurrency=1 --test-reporter=spec "$src"/test/*.test.js
