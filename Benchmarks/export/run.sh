#!/usr/bin/env bash
# Export benchmark: throughput (profiles/s) and the profile-api process's peak RSS while it
# streams an export of N profiles generated in SQL.
#
#   Benchmarks/export/run.sh [N=100000] [BUILD=debug|release]
#
# Starts its own throwaway PostgreSQL 15 cluster (port from pg_free_port) and its own profile-api,
# and stops both at the end. Prints one line per format/mapping measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-100000}"
BUILD="${2:-debug}"
source scripts/lib/pg.sh
pg_require_binaries

swift build -c "$BUILD" --product profile-api >/dev/null
BIN="$(swift build -c "$BUILD" --show-bin-path)/profile-api"

WORK="$(mktemp -d /tmp/pb-export-bench.XXXXXX)"
chmod 755 "$WORK"
PGPORT="$(pg_free_port)"
API_PID=""
cleanup() {
  [ -n "$API_PID" ] && kill -TERM "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  pg_as_owner "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
pg_start_cluster "$WORK/pg" "$PGPORT"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export LOG_LEVEL=warning WEBHOOK_WORKER=false EXPORT_SCHEDULER=false
export API_PORT="$(pg_free_port)"
"$BIN" migrate >/dev/null

echo "generating $N profiles..." >&2
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres <<SQL
INSERT INTO sites (slug, name, write_key) VALUES ('bench', 'Bench', 'wk_bench');
INSERT INTO visitor_profiles (site_id, fields, stage, lead_score, engagement_score, first_seen_at, last_seen_at)
SELECT (SELECT id FROM sites WHERE slug = 'bench'),
       jsonb_build_object('email', 'person' || g || '@example.com', 'name', 'Person Number' || g,
                          'phone', '+1415555' || lpad((g % 10000)::text, 4, '0'), 'job_title', 'Engineer',
                          'company', jsonb_build_object('name', 'Company ' || (g % 500)), 'industry', 'software', 'country', 'US'),
       (ARRAY['anonymous','known','engaged','mql','sql','customer'])[1 + g % 6], g % 100, g % 50, now() - interval '30 days', now()
FROM generate_series(1, $N) g;
INSERT INTO profile_identities (site_id, kind, value, profile_id)
SELECT site_id, 'email', fields->>'email', id FROM visitor_profiles;
ANALYZE;
SQL
TOKEN=$("$BIN" keys create --name bench --scopes profiles:export --rate-limit 1000000 2>/dev/null | tail -1)
"$BIN" serve >"$WORK/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$API_PORT/ready" >/dev/null && break; sleep 0.2; done
BASE_RSS=$(awk '/VmRSS/ {print $2}' /proc/$API_PID/status)

measure() {
  local query="$1"
  local start end bytes rows
  start=$(date +%s.%N)
  bytes=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/v1/exports/profiles?$query" | tee "$WORK/out" | wc -c)
  end=$(date +%s.%N)
  case "$query" in
    *format=json*) rows=$(python3 -c "import json,sys; print(len(json.load(open('$WORK/out'))))") ;;
    *format=csv*) rows=$(( $(wc -l <"$WORK/out") - 1 )) ;;
    *) rows=$(wc -l <"$WORK/out") ;;
  esac
  local peak; peak=$(awk '/VmHWM/ {print $2}' /proc/$API_PID/status)
  python3 -c "
s=$end-$start
print(f'{\"$query\":<45} rows={$rows:>8}  {s:7.2f} s  {$rows/s:9.0f} profiles/s  {$bytes/s/1e6:6.1f} MB/s  peak RSS so far {$peak/1024:6.1f} MiB (idle {$BASE_RSS/1024:.1f} MiB)')"
}
measure "format=csv&mapping=hubspot&site=bench"
measure "format=ndjson&site=bench"
measure "format=json&mapping=salesforce&site=bench"
