#!/usr/bin/env python3
"""Segment re-evaluation and rescoring over many profiles (not a test): how long the engine's
periodic work takes on a large installation.

    python3 Benchmarks/segments_bench.py                          # 1,000,000 profiles, records figures
    python3 Benchmarks/segments_bench.py --profiles 50000 --no-record

  1. a throwaway PostgreSQL 15 cluster (scripts/lib/pg.sh; fsync on), migrated by `profile-engine migrate`;
  2. --profiles profiles generated in SQL: fields (email, job title, company size, industry for
     half of them), stage, engagement metrics with visits spread over 90 days; one profile in ten
     has a session with pricing and product page views (no chat: intents need conversations);
  3. `profile-engine segments reevaluate` (syncs the built-in segments of config/segments.yaml and
     evaluates every profile against each of them, 1,000 profiles per transaction), timed;
  4. `profile-engine scores recompute` (lead and engagement scores with decay, stage), timed,
     twice: the first run writes every profile whose generated scores differ, the second finds
     nothing to change (the hourly steady state);
  5. prints a table and appends it, with machine, date and commit, to docs/BENCHMARKS.md.

The release build is expected at .build-release/release (see --bin-dir).
"""
import argparse
import datetime
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import psycopg

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Benchmarks"))
import engine_bench as bench  # noqa: E402  (cluster helpers and CPU accounting)

GENERATE_SQL = """
INSERT INTO sites (slug, name, write_key) VALUES ('bench', 'Bench', 'wk-bench');
INSERT INTO visitor_profiles (id, site_id, fields, stage, first_seen_at, last_seen_at)
SELECT md5('p' || g)::uuid, 1,
       CASE WHEN g % 2 = 0 THEN jsonb_build_object(
                'email', 'person' || g || '@company' || (g % 5000) || '.com',
                'job_title', (ARRAY['VP Engineering', 'Developer', 'CTO', 'Student', 'Head of Marketing'])[1 + g % 5],
                'company_size', (ARRAY['1-10', '11-50', '51-200', '201-1000', '1000+'])[1 + g % 5],
                'industry', (ARRAY['software', 'retail', 'finance', 'education'])[1 + g % 4])
            ELSE '{}'::jsonb END,
       CASE WHEN g % 2 = 0 THEN 'known' ELSE 'anonymous' END,
       now() - ((g % 90) || ' days')::interval - interval '1 hour', now() - ((g % 90) || ' days')::interval
FROM generate_series(1, {profiles}) AS g;
INSERT INTO engagement_metrics (profile_id, site_id, sessions_count, page_views_count, pages_per_session, total_time_seconds,
                                avg_session_seconds, bounce_count, return_visits, first_visit_at, last_visit_at)
SELECT md5('p' || g)::uuid, 1, 1 + g % 6, 1 + g % 25, (1 + g % 25)::real / (1 + g % 6), 60 * (g % 40), 60 * (g % 40) / (1 + g % 6),
       CASE WHEN g % 25 = 0 THEN 1 ELSE 0 END, g % 6, now() - ((g % 90) || ' days')::interval - interval '1 hour',
       now() - ((g % 90) || ' days')::interval
FROM generate_series(1, {profiles}) AS g;
INSERT INTO sessions (id, site_id, profile_id, anonymous_id, started_at, last_activity_at, page_count)
SELECT md5('s' || g)::uuid, 1, md5('p' || g)::uuid, 'anon-' || g, now() - ((g % 90) || ' days')::interval - interval '10 minutes',
       now() - ((g % 90) || ' days')::interval, 3
FROM generate_series(10, {profiles}, 10) AS g;
INSERT INTO page_views (site_id, session_id, profile_id, url, path, viewed_at)
SELECT 1, md5('s' || g)::uuid, md5('p' || g)::uuid, 'https://bench.example' || p.path, p.path,
       now() - ((g % 90) || ' days')::interval - (p.n || ' minutes')::interval
FROM generate_series(10, {profiles}, 10) AS g,
     (VALUES (1, '/pricing'), (2, '/products/analytics'), (3, '/docs')) AS p(n, path);
"""


def timed(command, env):
    started = time.time()
    result = subprocess.run(command, env=env, check=True, text=True, capture_output=True)
    return time.time() - started, result.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=str(ROOT / ".build-release/release"))
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    bin_dir = pathlib.Path(args.bin_dir)

    cluster = tempfile.mkdtemp(prefix="pb-segments-bench-")
    os.chmod(cluster, 0o755)
    port = bench.bash_pg("pg_free_port")
    bench.bash_pg(f"pg_require_binaries; pg_start_cluster {cluster} {port}")
    datadir = f"{cluster}/data"
    server = f"postgres://postgres@127.0.0.1:{port}"
    base_env = {"PATH": os.environ["PATH"], "SQL_DIR": str(ROOT / "sql"), "PROFILE_FIELDS_FILE": str(ROOT / "config/profile_fields.yaml"),
                "LEAD_SCORING_FILE": str(ROOT / "config/lead_scoring.yaml"), "SEGMENTS_FILE": str(ROOT / "config/segments.yaml"),
                "LOG_LEVEL": "warning"}
    try:
        url = f"{server}/segments_bench"
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE segments_bench")
        env = dict(base_env, DATABASE_URL=url)
        subprocess.run([str(bin_dir / "profile-engine"), "migrate"], env=env, check=True, capture_output=True)
        bench.log(f"generating {args.profiles:,} profiles...")
        started = time.time()
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in GENERATE_SQL.replace("{profiles}", str(args.profiles)).split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("VACUUM ANALYZE")
        bench.log(f"generated in {time.time() - started:.0f} s")
        rows = []
        for label, command in [("segments reevaluate (5 built-in segments)", ["segments", "reevaluate"]),
                               ("scores recompute, first run", ["scores", "recompute"]),
                               ("scores recompute, steady state", ["scores", "recompute"])]:
            cpu_before = bench.cluster_cpu(datadir)
            seconds, output = timed([str(bin_dir / "profile-engine")] + command, env)
            pg_cpu = bench.cluster_cpu(datadir) - cpu_before
            rows.append((label, seconds, output, pg_cpu))
            bench.log(f"{label}: {seconds:.1f} s — {output}")
        with psycopg.connect(url, autocommit=True) as conn:
            members = conn.execute("SELECT count(*) FROM segment_memberships WHERE left_at IS NULL").fetchone()[0]
    finally:
        bench.bash_pg(f"pg_stop_cluster {cluster}")
        subprocess.run(["rm", "-rf", cluster])

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    table = ["| run | time | profiles/s | PostgreSQL CPU | output |", "| --- | --- | --- | --- | --- |"]
    for label, seconds, output, pg_cpu in rows:
        table.append(f"| {label} | {seconds:.1f} s | {args.profiles / seconds:,.0f} | {pg_cpu:.0f} s | {output} |")
    table.append(f"\nOpen segment memberships at the end: {members:,}.")
    text = "\n".join(table)
    print(text)
    if not args.no_record:
        with open(ROOT / "docs/BENCHMARKS.md", "a") as out:
            out.write(f"\n## Segment re-evaluation and rescoring — {datetime.date.today().isoformat()}, commit {commit}\n\n")
            out.write(f"Machine: {os.cpu_count()} cores ({cpu}); PostgreSQL 15 on the same machine (fsync on). "
                      f"{args.profiles:,} generated profiles. Command: `python3 Benchmarks/segments_bench.py "
                      + " ".join(sys.argv[1:]) + "`\n\n" + text + "\n")


if __name__ == "__main__":
    main()
