#!/usr/bin/env python3
"""Report benchmark (not a test): how fast the report endpoints answer over millions of page views.

    python3 Benchmarks/reports_bench.py                          # 10M page views, release build, record figures
    python3 Benchmarks/reports_bench.py --page-views 1000000 --no-record

  1. `swift build -c release --scratch-path .build-release --product profile-api` (skip with --no-build);
  2. a throwaway PostgreSQL 15 cluster (scripts/lib/pg.sh), or --server URL of an existing one;
  3. generates, in SQL (generate_series), --page-views page views in sessions over --days days for
     --visitors visitors: visitors picked with a skew (a few return often), ~2.8 pages per session,
     500 paths with a Zipf-like skew, 2 % bot sessions, session_analytics with entry/exit pages, page
     interests for 20 catalog items, stage transitions, one segment's membership history and
     personalization exposures with a 10 % holdout (secondary indexes are dropped during the load
     and rebuilt after it);
  4. times the rollup rebuild (`analytics_refresh` over every day, what `profile-engine analytics
     rebuild` runs) and the every-minute refresh of recent days, the same for the segment rollups
     (`analytics_refresh_segments`), and that refresh after a minute's churn of memberships;
  5. starts the release profile-api and times every report endpoint over the whole range
     (--repeat requests each, median and max), from the rollups, for a segment (from the segment
     rollups)
     and in a time zone without rollups (live), plus the existing /v1/journeys and /v1/funnels;
  6. prints a table and appends a dated section (machine, date, commit) to docs/BENCHMARKS.md.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import psycopg

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/BENCHMARKS.md"

# Secondary indexes slow a bulk load down several times; they are rebuilt after it.
BULK_TABLES = ("page_views", "sessions", "session_analytics", "page_interests")

GENERATE = """
INSERT INTO sites (slug, name, write_key) VALUES ('bench', 'Bench', 'wk_reports_bench');
INSERT INTO catalog_items (site_id, slug, name) SELECT 1, 'item-' || i, 'Item ' || i FROM generate_series(1, 20) i;

-- Visitors: ids derived from their number, so sessions can pick one without a lookup.
INSERT INTO visitor_profiles (id, site_id, fields, stage, lead_score, first_seen_at, last_seen_at)
SELECT md5('bench-v' || v)::uuid, 1, jsonb_build_object('name', 'Visitor ' || v, 'email', 'v' || v || '@example.com'),
       CASE WHEN mod(v, 200) = 0 THEN 'customer' WHEN mod(v, 50) = 0 THEN 'mql' WHEN mod(v, 20) = 0 THEN 'known' ELSE 'anonymous' END,
       mod(v, 100), now() - interval '%(days)s days', now()
FROM generate_series(0, %(visitors)s - 1) v;

-- Sessions: a skewed pick of visitors, geometric page counts (mean ~2.8), spread over the days.
INSERT INTO sessions (id, site_id, profile_id, started_at, last_activity_at, page_count, event_count, is_bot)
SELECT md5('bench-s' || s)::uuid, 1, md5('bench-v' || floor(%(visitors)s * power(random(), 2))::int)::uuid,
       t, t + (pages - 1) * interval '40 seconds', pages, pages, random() < 0.02
FROM (SELECT s, now() - random() * interval '%(days)s days' AS t, 1 + floor(-ln(1 - random()) * 2.3)::int AS pages
      FROM generate_series(1, %(sessions)s) s) x;

INSERT INTO page_views (site_id, session_id, profile_id, url, path, viewed_at, sequence_no)
SELECT 1, se.id, se.profile_id, 'https://bench.example' || p.path, p.path, se.started_at + (n - 1) * interval '40 seconds', n
FROM sessions se, generate_series(1, se.page_count) n,
     LATERAL (SELECT '/p/' || floor(500 * power(random(), 3) + 0 * n)::int AS path) p;

INSERT INTO session_analytics (session_id, site_id, profile_id, pages, unique_pages, duration_seconds, entry_page, exit_page, bounced)
SELECT se.id, 1, se.profile_id, se.page_count, se.page_count, (se.page_count - 1) * 40,
       min(pv.path) FILTER (WHERE pv.sequence_no = 1), min(pv.path) FILTER (WHERE pv.sequence_no = se.page_count), se.page_count = 1
FROM sessions se JOIN page_views pv ON pv.session_id = se.id GROUP BY se.id;

-- Pages /p/1 ... /p/20 show catalog items 1 ... 20.
INSERT INTO page_interests (site_id, profile_id, page_view_id, catalog_item_id, weight, viewed_at)
SELECT 1, profile_id, id, substr(path, 4)::int, 1, viewed_at FROM page_views WHERE path IN (SELECT '/p/' || i FROM generate_series(1, 20) i);

INSERT INTO stage_transitions (site_id, profile_id, from_stage, to_stage, reason, transitioned_at)
SELECT 1, id, f, t, 'bench', at FROM (
    SELECT p.id, s.f, s.t, p.first_seen_at + random() * interval '%(days)s days' * s.k AS at, p.stage, s.ord
    FROM visitor_profiles p
    JOIN (VALUES ('anonymous', 'known', 0.3, 1), ('known', 'mql', 0.6, 2), ('mql', 'customer', 0.9, 3)) AS s(f, t, k, ord) ON true
    WHERE p.stage <> 'anonymous'
) x
WHERE (stage = 'known' AND ord = 1) OR (stage = 'mql' AND ord <= 2) OR (stage = 'customer');

INSERT INTO segments (site_id, slug, name) VALUES (1, 'returning', 'Returning visitors');
INSERT INTO segment_memberships (segment_id, site_id, profile_id, entered_at, left_at)
SELECT 1, 1, id, e, CASE WHEN random() < 0.3 THEN e + random() * interval '20 days' END
FROM (SELECT id, now() - random() * interval '%(days)s days' AS e FROM visitor_profiles WHERE random() < 0.1) x;

INSERT INTO personalization_exposures (profile_id, site_id, holdout, first_served_at, last_served_at, items_shown)
SELECT id, 1, random() < 0.1, t, t, 3 FROM (SELECT id, now() - random() * interval '%(days)s days' AS t FROM visitor_profiles WHERE random() < 0.2) x;
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def bash_pg(snippet):
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source scripts/lib/pg.sh; {snippet}"], cwd=ROOT,
                          check=True, text=True, stdout=subprocess.PIPE).stdout.strip()


def timed(conn, sql, params=None):
    started = time.monotonic()
    conn.execute(sql, params)
    return time.monotonic() - started


def timed_segments(conn, first, last, journeys=True):
    """analytics_refresh_segments (sql/0012) in the REPEATABLE READ transaction it requires."""
    started = time.monotonic()
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    conn.execute(f"SELECT analytics_refresh_segments({first}, {last}, {journeys})")
    conn.execute("COMMIT")
    return time.monotonic() - started


def generate(conn, args):
    sessions = int(args.page_views / 2.836)  # mean pages per session of the geometric draw
    params = {"visitors": args.visitors, "sessions": sessions, "days": args.days}
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = ANY(%s) AND NOT i.indisprimary AND NOT i.indisunique",
        (list(BULK_TABLES),)).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    started = time.monotonic()
    for statement in [s.strip() for s in GENERATE.split(";\n") if s.strip()]:
        sql = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
        log(f"  {sql.split(chr(10))[0][:90]} ...")
        step = timed(conn, sql % params)
        log(f"    {step:.1f} s")
    load_seconds = time.monotonic() - started
    started = time.monotonic()
    for _, definition in indexes:
        conn.execute(definition)
    conn.execute("VACUUM ANALYZE")
    index_seconds = time.monotonic() - started
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("visitor_profiles", "sessions", "page_views", "page_interests", "stage_transitions",
                        "segment_memberships", "personalization_exposures")}
    return {"load_seconds": load_seconds, "index_seconds": index_seconds, "counts": counts}


def request(url, token, timeout):
    started = time.monotonic()
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        body = response.read()
        assert response.status == 200, (url, response.status, body[:300])
    return time.monotonic() - started, body


def ms(seconds):
    return "timed out" if seconds == float("inf") else f"{seconds * 1000:,.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--bin", help="profile-api executable (default: the release build in .build-release)")
    parser.add_argument("--server", help="postgres://… of an existing server (default: a throwaway cluster)")
    parser.add_argument("--page-views", type=int, default=10_000_000)
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5, help="requests per endpoint (one when the first takes over 20 s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a request counts as failed")
    parser.add_argument("--database", help="reuse this database if it exists (generated by an earlier run with --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the generated database (with --server)")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--reuse-rollups", action="store_true",
                        help="with a reused --database that has rollups, time the requests only (no rebuild and refresh timings)")
    parser.add_argument("--only", help="time only the requests whose label contains this text")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    if not args.no_build:
        log("building the release profile-api...")
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", ".build-release", "--product", "profile-api"], cwd=ROOT, check=True)
    binary = pathlib.Path(args.bin) if args.bin else ROOT / ".build-release/release/profile-api"

    cluster = None
    if args.server:
        server = args.server.rstrip("/").rsplit("/", 1)[0] if args.server.count("/") > 2 else args.server
    else:
        cluster = tempfile.mkdtemp(prefix="pb-reports-bench-")
        os.chmod(cluster, 0o755)
        port = bash_pg("pg_free_port")
        bash_pg(f"pg_require_binaries; pg_start_cluster {cluster} {port}")
        server = f"postgres://postgres@127.0.0.1:{port}"
    database = args.database or f"pb_reports_bench_{os.getpid()}"
    api = None
    try:
        with psycopg.connect(server + "/postgres", autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                admin.execute(f"CREATE DATABASE {database}")
        url = f"{server}/{database}"
        env = {"PATH": os.environ["PATH"], "DATABASE_URL": url, "SQL_DIR": str(ROOT / "sql"),
               "PROFILE_FIELDS_FILE": str(ROOT / "config/profile_fields.yaml"), "OPENAPI_FILE": str(ROOT / "docs/openapi.json"),
               "DASHBOARD_ASSETS_DIR": str(ROOT / "web/dashboard"), "LOG_LEVEL": "warning", "DATABASE_POOL_SIZE": "8"}
        subprocess.run([str(binary), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        with psycopg.connect(url, autocommit=True) as conn:
            if exists:
                log(f"reusing {database}; the generation figures are those of the run that made it")
                generated = json.loads(conn.execute("SELECT obj_description('sites'::regclass)").fetchone()[0])
            else:
                log(f"generating {args.page_views:,} page views for {args.visitors:,} visitors over {args.days} days...")
                generated = generate(conn, args)
                conn.execute(f"COMMENT ON TABLE sites IS '{json.dumps(generated)}'")
                log(f"  {generated}")
            if args.generate_only:
                return
            reuse = exists and args.reuse_rollups and conn.execute("SELECT EXISTS (SELECT 1 FROM analytics_session_path_rollup)").fetchone()[0]
            if reuse:
                log("reusing the rollups of an earlier run")
                rebuild = recent = recent_without_journeys = segments = None
            else:
                rebuild = timed(conn, "SELECT analytics_refresh((SELECT min(started_at) FROM sessions)::date - 1, current_date + 2)")
                recent = timed(conn, "SELECT analytics_refresh(current_date - 3, current_date + 2)")
                recent_without_journeys = timed(conn, "SELECT analytics_refresh(current_date - 3, current_date + 2, false)")
                segments = {"rebuild": timed_segments(conn, "(SELECT min(started_at) FROM sessions)::date - 1", "current_date + 2"),
                            "recent": timed_segments(conn, "current_date - 3", "current_date + 2"),
                            "recent_without_journeys": timed_segments(conn, "current_date - 3", "current_date + 2", False)}
                # A minute's churn: 1 % of the members leave and as many visitors enter.
                conn.execute("UPDATE segment_memberships SET left_at = now() WHERE left_at IS NULL AND random() < 0.01")
                segments["changes"] = conn.execute("""
                    WITH entered AS (
                        INSERT INTO segment_memberships (segment_id, site_id, profile_id)
                        SELECT 1, 1, id FROM visitor_profiles p
                        WHERE random() < 0.001 AND NOT EXISTS (SELECT 1 FROM segment_memberships m WHERE m.profile_id = p.id AND m.left_at IS NULL)
                        RETURNING 1)
                    SELECT (SELECT count(*) FROM entered) + (SELECT count(*) FROM analytics_segment_changes)""").fetchone()[0]
                segments["churn"] = timed_segments(conn, "current_date - 3", "current_date + 2", False)
            rollup_rows = conn.execute("SELECT (SELECT count(*) FROM analytics_traffic_rollup) + (SELECT count(*) FROM analytics_page_rollup)"
                                       " + (SELECT count(*) FROM analytics_interest_rollup)").fetchone()[0]
            journey_rows = conn.execute("SELECT (SELECT count(*) FROM analytics_session_path_rollup), (SELECT count(*) FROM analytics_journey_rollup)").fetchone()
            conn.execute("VACUUM ANALYZE")
        token = subprocess.run([str(binary), "keys", "create", "--name", "bench", "--scopes", "admin", "--rate-limit", "1000000"],
                               env=env, check=True, text=True, capture_output=True).stdout.strip().splitlines()[-1]
        port = bash_pg("pg_free_port")
        api = subprocess.Popen([str(binary), "serve"], env={**env, "API_PORT": port}, stdout=open("/tmp/pb-reports-bench-api.log", "w"),
                               stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/ready", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        today = datetime.date.today()
        first = (today - datetime.timedelta(days=args.days - 1)).isoformat()
        days = f"site=bench&from={first}&to={today.isoformat()}"
        tomorrow = (today + datetime.timedelta(days=1)).isoformat()
        since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=args.days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cases = [(f"/v1/reports/{name}", f"/v1/reports/{name}?{days}") for name in
                 ("summary", "traffic", "pages", "interests", "pipeline", "segments", "personalization")]
        cases += [
            ("/v1/reports/traffic, interval=week", f"/v1/reports/traffic?{days}&interval=week"),
            ("/v1/reports/traffic as CSV", f"/v1/reports/traffic?{days}&format=csv"),
            ("/v1/reports/traffic, segment (rollup)", f"/v1/reports/traffic?{days}&segment=returning"),
            ("/v1/reports/pages, segment (rollup)", f"/v1/reports/pages?{days}&segment=returning"),
            ("/v1/reports/interests, segment (rollup)", f"/v1/reports/interests?{days}&segment=returning"),
            ("/v1/reports/pipeline, segment", f"/v1/reports/pipeline?{days}&segment=returning"),
            ("/v1/reports/personalization, segment", f"/v1/reports/personalization?{days}&segment=returning"),
            ("/v1/funnels /p/0 → /p/1 → /p/2, segment (rollup)", f"/v1/funnels?site=bench&from={first}&to={tomorrow}&steps=/p/0,/p/1,/p/2&segment=returning"),
            ("/v1/journeys, segment (rollup)", f"/v1/journeys?site=bench&from={first}&to={tomorrow}&segment=returning"),
            ("/v1/reports/journeys (drop-offs), segment (rollup)", f"/v1/reports/journeys?{days}&segment=returning"),
            ("/v1/reports/traffic, tz without rollups (live)", f"/v1/reports/traffic?{days}&tz=America/New_York"),
            ("/v1/reports/pages, tz without rollups (live)", f"/v1/reports/pages?{days}&tz=America/New_York"),
            ("/v1/reports/journeys (drop-offs)", f"/v1/reports/journeys?{days}"),
            ("/v1/reports/journeys (funnel /p/0 → /p/1 → /p/2)", f"/v1/reports/journeys?{days}&steps=/p/0,/p/1,/p/2"),
            ("/v1/journeys (whole days: rollup)", f"/v1/journeys?site=bench&from={first}&to={tomorrow}"),
            ("/v1/journeys, length=2 (rollup)", f"/v1/journeys?site=bench&from={first}&to={tomorrow}&length=2"),
            ("/v1/funnels /p/0 → /p/1 → /p/2 (rollup)", f"/v1/funnels?site=bench&from={first}&to={tomorrow}&steps=/p/0,/p/1,/p/2"),
            ("/v1/funnels /p/3 → /p/0 (rollup)", f"/v1/funnels?site=bench&from={first}&to={tomorrow}&steps=/p/3,/p/0"),
            ("/v1/journeys, last 7 days (rollup)", f"/v1/journeys?site=bench&from={(today - datetime.timedelta(days=6)).isoformat()}&to={tomorrow}"),
            ("/v1/funnels (/p/0 → /p/1 → /p/2), from an instant (live)", f"/v1/funnels?site=bench&from={since}&steps=/p/0,/p/1,/p/2"),
            ("/v1/journeys, from an instant (live)", f"/v1/journeys?site=bench&from={since}"),
        ]
        results = []
        load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        cases = [case for case in cases if not args.only or args.only in case[0]]
        for label, path in cases:
            times = []
            for _ in range(args.repeat):
                try:
                    seconds, _ = request(base + path, token, args.timeout)
                except Exception as error:  # noqa: BLE001 - a timeout is a result too
                    log(f"  {label}: {error}")
                    seconds = float("inf")
                times.append(seconds)
                if seconds > 20:
                    break
            results.append((label, statistics.median(times), max(times)))
            log(f"  {label}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    finally:
        if api:
            api.terminate()
            api.wait()
        if args.server and not args.keep and not args.generate_only:
            with psycopg.connect(server + "/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        if cluster:
            bash_pg(f"pg_stop_cluster {cluster}")
            subprocess.run(["rm", "-rf", cluster])

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    counts = generated["counts"]
    lines = [
        f"Data: {counts['page_views']:,} page views in {counts['sessions']:,} sessions of {counts['visitor_profiles']:,} "
        f"visitors over {args.days} days, {counts['page_interests']:,} page interests, {counts['stage_transitions']:,} stage transitions, "
        f"{counts['segment_memberships']:,} segment memberships, {counts['personalization_exposures']:,} exposures. "
        f"Generated in {generated['load_seconds']:.0f} s (+ {generated['index_seconds']:.0f} s indexes and ANALYZE). "
        + (f"Rollup rebuild (all days, UTC): {rebuild:.1f} s, {rollup_rows:,} rollup rows plus {journey_rows[0]:,} session paths and "
           f"{journey_rows[1]:,} journey rows; refresh of recent days: {recent:.1f} s, {recent_without_journeys:.1f} s without the journey "
           f"rollups (what the engine runs every minute; sql/0011). "
           f"Segment rollups (sql/0012): rebuild {segments['rebuild']:.1f} s, refresh of recent days {segments['recent']:.1f} s, "
           f"{segments['recent_without_journeys']:.1f} s without journeys (every minute), "
           f"and {segments['churn']:.1f} s without journeys with {segments['changes']:,} membership changes to apply."
           if rebuild is not None else
           f"Rollups of an earlier run reused (--reuse-rollups; not re-timed): {rollup_rows:,} rollup rows plus "
           f"{journey_rows[0]:,} session paths and {journey_rows[1]:,} journey rows."),
        "",
        f"Requests over the whole {args.days}-day range, {args.repeat} each, one at a time, from `{binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary}`; "
        f"load average before the requests {load_before}:",
        "",
        "| request | median | max |",
        "| --- | --- | --- |",
    ] + [f"| {label} | {ms(median)} | {ms(worst)} |" for label, median, worst in results]
    table = "\n".join(lines)
    print(table)
    if not args.no_record:
        with open(RESULTS, "a") as out:
            out.write(f"\n## Reports — {datetime.date.today().isoformat()}, commit {commit}\n\n")
            out.write(f"Machine: {os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB; "
                      "PostgreSQL 15 on the same machine (fsync on). Command: `python3 Benchmarks/reports_bench.py "
                      + " ".join(sys.argv[1:]) + "`\n\n" + table + "\n")


if __name__ == "__main__":
    main()
