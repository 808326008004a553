#!/usr/bin/env bash
# A third-party gRPC client talks to dealwired: `buf curl` (npm package
# @bufbuild/buf) lists the services through server reflection and calls
# Append and ReadAll with JSON, using nothing of ours but the server.
#
# It also lints the public contract with `buf lint` (STANDARD rules, see
# proto/buf.yaml) and asks MarketIntel and Admin in JSON.
#
# usage: buf_curl_test.sh DEALWIRED NPM_CACHE_DIR PROTO_DIR
set -euo pipefail
dealwired=$1
cache=$2
proto_dir=$3
buf_version=1.75.0

buf="$cache/node_modules/.bin/buf"
if [ ! -x "$buf" ] || [ "$("$buf" --version 2>/dev/null)" != "$buf_version" ]; then
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-audit --no-fund --silent "@bufbuild/buf@$buf_version" >/dev/null
fi

(cd "$proto_dir" && "$buf" lint) || { echo "FAIL: buf lint"; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$dealwired" --data-dir "$work/data" --listen 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
address=
for _ in $(seq 1 300); do  # up to 30 s
  address=$(grep -o 'started .* listen=[^ ]*' "$work/server.log" | sed 's/.*listen=//' || true)
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "FAIL: server exited"; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { cat "$work/server.log"; echo "FAIL: no start line"; exit 1; }
url="http://$address"
call() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

services=$(call --list-services "$url")
echo "$services"
grep -qx 'dealwire.v1.EventStore' <<<"$services" || fail "EventStore not listed by reflection"
grep -qx 'grpc.health.v1.Health' <<<"$services" || fail "health service not listed"
grep -qx 'dealwire.v1.MarketIntel' <<<"$services" || fail "MarketIntel not listed by reflection"
grep -qx 'dealwire.v1.Admin' <<<"$services" || fail "Admin not listed by reflection"

event='{"eventId":"0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a",
        "effective":{"date":{"year":2015},"precision":"DATE_PRECISION_YEAR"},
        "confidence":"CONFIDENCE_OFFICIAL",
        "sources":[{"publisher":"OpenAI","url":"https://openai.com/about"}],
        "payload":{"organizationRegistered":{"orgId":"openai","name":"OpenAI",
                   "kind":"ORGANIZATION_KIND_COMPANY"}}}'
appended=$(call -d "{\"stream\":\"org/openai\",\"events\":[$event]}" "$url/dealwire.v1.EventStore/Append")
echo "$appended"
grep -q '"firstPosition": "1"' <<<"$appended" || fail "Append did not return position 1"

# The same event again is an idempotent repeat.
again=$(call -d "{\"stream\":\"org/openai\",\"events\":[$event]}" "$url/dealwire.v1.EventStore/Append")
grep -q '"duplicate": true' <<<"$again" || fail "re-append was not a duplicate: $again"

read_all=$(call -d '{"pageSize":10}' "$url/dealwire.v1.EventStore/ReadAll")
echo "$read_all"
grep -q '"eventId": "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a"' <<<"$read_all" || fail "ReadAll misses the event"
grep -q '"orgId": "openai"' <<<"$read_all" || fail "ReadAll misses the payload"
grep -q '"lastPosition": "1"' <<<"$read_all" || fail "ReadAll lastPosition is not 1"

# Errors come back as gRPC status codes naming the field.
if refused=$(call -d '{"stream":"org/openai","events":[{"eventId":"not-a-uuid"}]}' \
    "$url/dealwire.v1.EventStore/Append" 2>&1); then
  fail "a bad event id was accepted"
fi
echo "$refused"
grep -q 'invalid_argument' <<<"$refused" || fail "bad event id is not INVALID_ARGUMENT"
grep -q 'events\[0\].event_id' <<<"$refused" || fail "the error does not name the field"
# MarketIntel answers in JSON; min_position waits for the projections.
org=$(call -d '{"orgId":"openai","minPosition":"1"}' "$url/dealwire.v1.MarketIntel/GetOrganization")
echo "$org"
grep -q '"name": "OpenAI"' <<<"$org" || fail "GetOrganization does not return OpenAI"
table=$(call -d '{"companyId":"openai","minPosition":"1","asOf":{"effectiveOn":{"year":2026,"month":1,"day":31}}}' \
  "$url/dealwire.v1.MarketIntel/GetCapTable")
echo "$table"
grep -q '"companyName": "OpenAI"' <<<"$table" || fail "GetCapTable does not name the company"
stats=$(call -d '{}' "$url/dealwire.v1.Admin/GetStats")
echo "$stats"
grep -q '"lastPosition": "1"' <<<"$stats" || fail "GetStats lastPosition is not 1"
if missing=$(call -d '{"companyId":"nobody"}' "$url/dealwire.v1.MarketIntel/GetCapTable" 2>&1); then
  fail "an unknown company was answered"
fi
grep -q 'not_found' <<<"$missing" || fail "unknown company is not NOT_FOUND: $missing"
echo "PASS"
