#!/usr/bin/env bash
# The layering check must fail on a tree with a forbidden include, naming
# the file and the include, and pass once it is gone.
set -euo pipefail
check=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/store" "$work/domain" "$work/tests/store" "$work/services"
printf '#include "rocksdb/db.h"\n#include "store/types.h"\n' >"$work/store/ok.cc"
printf '#include "rocksdb/db.h"\n' >"$work/tests/store/ok_test.cc"
printf '#include "dealwire/v1/event_store.grpc.pb.h"\n' >"$work/services/ok.cc"
/usr/bin/python3 "$check" "$work" >/dev/null || { echo "selftest: a clean tree was refused"; exit 1; }
printf '#include "rocksdb/db.h"\n' >"$work/domain/bad.cc"
printf '#include "grpcpp/grpcpp.h"\n' >"$work/domain/bad.h"
printf '#include "dealwire/v1/events.pb.h"\n' >"$work/store/bad.cc"
if out=$(/usr/bin/python3 "$check" "$work"); then
  echo "selftest: forbidden includes passed:"; echo "$out"; exit 1
fi
for want in "domain/bad.cc:1: domain/ must not include 'rocksdb/db.h'" \
            "domain/bad.h:1: domain/ must not include 'grpcpp/grpcpp.h'" \
            "store/bad.cc:1: store/ must not include 'dealwire/v1/events.pb.h'"; do
  grep -qF "$want" <<<"$out" || { echo "selftest: missing: $want"; echo "$out"; exit 1; }
done
echo "selftest: forbidden includes are refused"
