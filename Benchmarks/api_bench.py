#!/usr/bin/env python3
"""Profile API benchmark (not a test): GET and lookup latency at a fixed request rate, and search
latency, with 1,000,000 profiles.

    python3 Benchmarks/api_bench.py                        # release build, 1M profiles, record figures
    python3 Benchmarks/api_bench.py --no-build --profiles 100000 --seconds 10 --no-record

  1. `swift build -c release --scratch-path .build-release --product profile-api` (skip with --no-build);
  2. a throwaway PostgreSQL 15 cluster (scripts/lib/pg.sh), migrated by the real `profile-api migrate`;
  3. --profiles profiles written with generate_series: JSONB fields (name, email, job title, company
     object, industry, country, size) for the known ~60%, stages, lead/engagement scores, first/last
     seen over a year, an anonymous_id (and email) identity each, ~1 item interest per profile from a
     200-item catalog, and memberships of 4 segments; then VACUUM ANALYZE and CHECKPOINT;
  4. the release profile-api serves it (one process, default pool); a key is made with `keys create`;
  5. `wrk` drives each scenario at a fixed rate: every connection waits between requests
     (Benchmarks/wrk/api.lua) 1000 x connections / rate ms minus the mean latency of a 5 s warm-up
     on average (random waits, so requests arrive spread out; --arrivals fixed for bursts), so
     that the offered rate is close to the target; the achieved rate is printed too. GET by id and lookup by email run at --rate; each search at --search-rate,
     with values drawn from lists so that the cache does not answer one query;
  6. before/after: the searches run first without the indexes that --index-migration creates
     (dropped after migrating), then again once they are re-created, so each index's effect is
     measured on the same data (skip with --no-compare);
  7. with --explain-ms N, auto_explain logs the plan of every statement slower than N ms; the slowest
     plan per search and pass is printed (and recorded). Off by default: its log_analyze times every
     node of every statement, not only the slow ones, so the latencies measured with it are inflated;
  8. prints a table and appends a dated section (machine, date, commit) to docs/BENCHMARKS.md.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import psycopg

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from engine_bench import bash_pg, free_port, log, wait_ready  # noqa: E402  (shared bench helpers)

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/BENCHMARKS.md"
LUA = ROOT / "Benchmarks/wrk/api.lua"

# Realistic-looking values; each list's length is coprime with the others so combinations vary.
FIRST = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hugo", "ines", "jonas", "karin", "lukas", "maria", "niko",
         "olga", "paul", "rosa", "simon", "tanja", "uwe", "vera", "walter", "yara", "zoe", "adam", "bella", "chris", "dora",
         "emil", "frida", "georg", "hanna", "ivan", "julia", "kai", "lena", "max", "nora", "oskar", "petra", "quinn"]
LAST = ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann", "koch",
        "richter", "klein", "wolf", "schroeder", "neumann", "schwarz", "braun", "hofmann", "zimmermann", "krueger", "hartmann",
        "lange", "schmitt", "werner", "krause", "meier", "lehmann", "schmid", "schulze", "maier", "koehler", "herrmann",
        "walter", "koenig", "mayer", "huber", "kaiser", "fuchs", "peters", "lang", "scholz", "moeller", "weiss", "jung",
        "hahn", "vogel", "friedrich", "keller", "guenther", "frank", "berger", "winkler", "roth", "beck", "lorenz", "baumann"]
COMPANY_A = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne", "wonka", "tyrell", "cyberdyne",
             "soylent", "oscorp", "gringotts", "monarch", "nakatomi", "aperture", "blackmesa", "duff", "sterling", "pied", "massive",
             "dunder", "prestige", "cogswell", "spacely", "krusty", "zorg", "virtucon"]
COMPANY_B = ["systems", "labs", "industries", "software", "logistics", "health", "capital", "media", "energy", "foods", "robotics"]
TITLES = ["ceo", "cto", "head of marketing", "marketing manager", "software engineer", "sales director", "buyer", "analyst",
          "operations manager", "product manager", "consultant", "procurement lead", "it administrator"]
INDUSTRIES = ["software", "finance", "healthcare", "retail", "manufacturing", "education", "government", "media", "telecom", "other"]
COUNTRIES = ["DE", "AT", "CH", "FR", "NL", "BE", "IT", "ES", "PL", "SE", "DK", "GB", "US", "CA", "IE", "CZ", "PT", "FI", "NO"]
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"]
SEGMENTS = ["hot-leads", "newsletter", "enterprise", "churn-risk"]


def sql_array(values):
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def generate_sql(profiles):
    """One statement per table; integer arithmetic on g picks list members, hashes spread scores."""
    first, last, ca, cb = sql_array(FIRST), sql_array(LAST), sql_array(COMPANY_A), sql_array(COMPANY_B)
    titles, industries, countries, sizes = sql_array(TITLES), sql_array(INDUSTRIES), sql_array(COUNTRIES), sql_array(SIZES)
    return [
        "INSERT INTO sites (slug, name, write_key) VALUES ('bench', 'Bench', 'wk_bench')",
        "INSERT INTO catalog_categories (site_id, slug, name) SELECT 1, 'category-' || g, 'Category ' || g FROM generate_series(1, 20) g",
        """INSERT INTO catalog_items (site_id, slug, name, category_id)
           SELECT 1, 'item-' || g, 'Item ' || g, (SELECT id FROM catalog_categories WHERE slug = 'category-' || (g % 20 + 1))
           FROM generate_series(1, 200) g""",
        # p(g) below: a stable pseudo-random number in [0, 1) per profile and purpose.
        f"""CREATE TEMP TABLE bench_people AS
           SELECT g, gen_random_uuid() AS id,
                  (hashint4(g) & 2147483647) / 2147483648.0 AS r1,
                  (hashint4(g * 7 + 1) & 2147483647) / 2147483648.0 AS r2,
                  (hashint4(g * 13 + 5) & 2147483647) / 2147483648.0 AS r3,
                  (hashint4(g * 31 + 7) & 2147483647) / 2147483648.0 AS r4,
                  ({first})[1 + g % {len(FIRST)}] AS first_name,
                  ({last})[1 + (g / {len(FIRST)}) % {len(LAST)}] AS last_name,
                  ({ca})[1 + g % {len(COMPANY_A)}] || ' ' || ({cb})[1 + (g / 7) % {len(COMPANY_B)}] AS company
           FROM generate_series(1, {profiles}) g""",
        f"""INSERT INTO visitor_profiles (id, site_id, fields, lead_score, engagement_score, stage, interest_tags,
                                          first_seen_at, last_seen_at, created_at, updated_at)
           SELECT id, 1,
                  CASE WHEN r1 < 0.6 THEN jsonb_build_object(
                      'email', first_name || '.' || last_name || '.' || g || '@' || replace(company, ' ', '-') || '.example',
                      'name', initcap(first_name) || ' ' || initcap(last_name),
                      'job_title', ({titles})[1 + g % {len(TITLES)}],
                      'company', jsonb_build_object('name', initcap(company), 'domain', replace(company, ' ', '-') || '.example'),
                      'industry', ({industries})[1 + (g / 3) % {len(INDUSTRIES)}],
                      'country', ({countries})[1 + (g / 11) % {len(COUNTRIES)}],
                      'company_size', ({sizes})[1 + (g / 5) % {len(SIZES)}])
                  ELSE jsonb_build_object('country', ({countries})[1 + (g / 11) % {len(COUNTRIES)}]) END,
                  CASE WHEN r1 < 0.6 THEN least(100, floor(r2 * r2 * 100 + r1 * 20))::int ELSE floor(r2 * 15)::int END,
                  floor(r3 * 100)::int,
                  CASE WHEN r1 >= 0.6 THEN 'anonymous' WHEN r2 < 0.5 THEN 'known' WHEN r2 < 0.75 THEN 'engaged'
                       WHEN r2 < 0.9 THEN 'mql' WHEN r2 < 0.97 THEN 'sql' ELSE 'customer' END,
                  ARRAY['item-' || (1 + g % 200)],
                  now() - make_interval(secs => r4 * 365 * 86400) - interval '30 days',
                  now() - make_interval(secs => r4 * 365 * 86400) + make_interval(secs => r2 * 30 * 86400) - interval '30 days',
                  now() - make_interval(secs => r4 * 365 * 86400) - interval '30 days',
                  now()
           FROM bench_people""",
        """INSERT INTO profile_identities (site_id, kind, value, profile_id)
           SELECT 1, 'anonymous_id', 'anon-' || g, id FROM bench_people
           UNION ALL
           SELECT 1, 'email', p.fields->>'email', p.id FROM visitor_profiles p WHERE p.fields ? 'email'""",
        # About one item interest per profile, confidence spread over 0.2-1.
        """INSERT INTO interests (site_id, profile_id, catalog_item_id, confidence, evidence_count, first_evidence_at, last_evidence_at)
           SELECT 1, b.id, i.id, 0.2 + 0.8 * b.r3, 1 + floor(b.r2 * 5)::int, now() - interval '40 days', now() - interval '10 days'
           FROM bench_people b JOIN catalog_items i ON i.slug = 'item-' || (1 + b.g % 200)
           WHERE b.r2 < 0.9""",
        "INSERT INTO segments (site_id, slug, name) SELECT 1, s, initcap(s) FROM unnest(" + sql_array(SEGMENTS) + ") s",
        # Segment sizes 5%, 30%, 10%, 20% of profiles.
        """INSERT INTO segment_memberships (segment_id, site_id, profile_id, entered_at)
           SELECT sg.id, 1, b.id, now() - interval '5 days'
           FROM bench_people b JOIN segments sg ON
                (sg.slug = 'hot-leads' AND b.r3 < 0.05) OR (sg.slug = 'newsletter' AND b.r2 < 0.30)
             OR (sg.slug = 'enterprise' AND (b.r1 + b.r3) % 1 < 0.10) OR (sg.slug = 'churn-risk' AND (b.r2 + b.r3) % 1 < 0.20)""",
    ]


def short_plan(entry):
    """An auto_explain entry without the long select list: the WHERE/ORDER BY lines, then the plan."""
    lines = entry.strip().splitlines()
    plan_start = next((i for i, l in enumerate(lines) if re.match(r"^\s*[A-Z][A-Za-z ]+\s+\(cost=", l)), len(lines))
    query = [l for l in lines[1:plan_start] if re.match(r"^\t(WHERE|ORDER BY|LIMIT)", l)]
    # The document's per-row SubPlans (identities, interests, segments of 51 rows) are the same in
    # every search: leave them out.
    plan_end = next((i for i, l in enumerate(lines) if i > plan_start and l.strip().startswith("SubPlan")), len(lines))
    return "\n".join([re.sub(r"^.*LOG:  ", "", lines[0])] + query + lines[plan_start:plan_end])


def wrk(url, token, paths, rate, seconds, connections, latency_ms=0.0, arrivals="poisson"):
    """Runs wrk paced to `rate` requests/s, given the mean latency of a warm-up run (each connection
    waits between an answer and its next request); returns its JSON summary (latencies in ms)."""
    connections = max(1, min(connections, rate))
    delay_ms = max(0.0, 1000.0 * connections / rate - latency_ms)
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as out:
        out.write("\n".join(paths) + "\n")
    env = dict(os.environ, BENCH_PATHS=out.name, BENCH_TOKEN=token, BENCH_DELAY_MS=f"{delay_ms:.3f}", BENCH_ARRIVALS=arrivals)
    result = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s", "-s", str(LUA), url],
                            env=env, text=True, capture_output=True, check=True)
    os.unlink(out.name)
    line = next(l for l in result.stdout.splitlines() if l.startswith("BENCH "))
    return json.loads(line[len("BENCH "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--bin-dir", help="where profile-api is (default: .build-release's release bin path)")
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=1000, help="requests/s for GET by id and lookup by email")
    parser.add_argument("--search-rate", type=int, default=20, help="requests/s for each search")
    parser.add_argument("--seconds", type=int, default=30, help="duration of each GET/lookup run")
    parser.add_argument("--search-seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--explain-ms", type=int, default=0,
                        help="log plans of statements slower than this with auto_explain (0: off; it slows every statement)")
    parser.add_argument("--only", help="comma-separated scenario names to run")
    parser.add_argument("--arrivals", choices=["poisson", "fixed"], default="poisson",
                        help="random waits between a connection's requests (requests arrive spread out, as from independent "
                             "clients), or fixed waits (the connections stay in step: bursts of --connections requests; "
                             "the runs recorded before 2026-12-06 evening)")
    parser.add_argument("--index-migration", default="sql/0006_api_hardening.sql", help="migration whose CREATE INDEXes are compared")
    parser.add_argument("--no-compare", action="store_true", help="measure with every index only")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (prints its URL)")
    parser.add_argument("--shared-buffers", help="PostgreSQL shared_buffers for the throwaway cluster (default: scripts/lib/pg.sh's 256MB)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    scratch = ["--scratch-path", str(ROOT / ".build-release")]
    if not args.no_build:
        log("building release profile-api...")
        subprocess.run(["swift", "build", "-c", "release", *scratch, "--product", "profile-api"], cwd=ROOT, check=True)
    bin_dir = pathlib.Path(args.bin_dir) if args.bin_dir else pathlib.Path(subprocess.run(
        ["swift", "build", "-c", "release", *scratch, "--show-bin-path"], cwd=ROOT, check=True, text=True, capture_output=True).stdout.strip())

    cluster = tempfile.mkdtemp(prefix="pb-apibench-pg-")
    os.chmod(cluster, 0o755)
    port = bash_pg("pg_free_port")
    bash_pg(f"pg_require_binaries; pg_start_cluster {cluster} {port}")
    if args.shared_buffers:
        # The last setting in postgresql.conf wins; shared_buffers needs a restart.
        with open(f"{cluster}/data/postgresql.conf", "a") as conf:
            conf.write(f"shared_buffers = {args.shared_buffers}\n")
        bash_pg(f"pg_stop_cluster {cluster}; pg_start_cluster {cluster} {port}")
    load_before = os.getloadavg()[0]
    server = f"postgres://postgres@127.0.0.1:{port}"
    url = f"{server}/apibench"
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": url, "SQL_DIR": str(ROOT / "sql"),
           "PROFILE_FIELDS_FILE": str(ROOT / "config/profile_fields.yaml"), "OPENAPI_FILE": str(ROOT / "docs/openapi.json"),
           "EXPORT_MAPPINGS_DIR": str(ROOT / "config/crm-mappings"), "LOG_LEVEL": "warning",
           "WEBHOOK_WORKER": "false", "EXPORT_SCHEDULER": "false"}
    api = None
    try:
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE apibench")
            if args.explain_ms > 0:
                conn.execute("ALTER DATABASE apibench SET session_preload_libraries = 'auto_explain'")
                conn.execute(f"ALTER DATABASE apibench SET auto_explain.log_min_duration = '{args.explain_ms}ms'")
                conn.execute("ALTER DATABASE apibench SET auto_explain.log_analyze = on")
                conn.execute("ALTER DATABASE apibench SET auto_explain.log_buffers = on")
        subprocess.run([str(bin_dir / "profile-api"), "migrate"], env=env, check=True, capture_output=True)
        started = time.time()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET auto_explain.log_min_duration = -1")
            for statement in generate_sql(args.profiles):
                t = time.time()
                conn.execute(statement)
                log(f"  {statement.split()[0]} {statement.split()[2] if statement.startswith('INSERT') else ''}: {time.time() - t:.0f} s")
            conn.execute("VACUUM ANALYZE")
            # Write the generated data out now, so that the first scenario does not share the
            # machine with the checkpoint of a bulk load (a steady server has no such backlog).
            conn.execute("CHECKPOINT")
            ids = [r[0] for r in conn.execute("SELECT id::text FROM visitor_profiles TABLESAMPLE SYSTEM (2) LIMIT 20000")]
            emails = [r[0] for r in conn.execute("SELECT value FROM profile_identities TABLESAMPLE SYSTEM (2) WHERE kind = 'email' LIMIT 20000")]
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        generation = time.time() - started
        log(f"{args.profiles:,} profiles generated in {generation:.0f} s; database {size}")

        api_port = free_port()
        api = subprocess.Popen([str(bin_dir / "profile-api"), "serve"], env=dict(env, API_PORT=str(api_port)),
                               stdout=open("/tmp/apibench-api.log", "w"), stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{api_port}"
        wait_ready(base, api, timeout=120)
        token = subprocess.run([str(bin_dir / "profile-api"), "keys", "create", "--name", "bench", "--scopes", "profiles:read",
                                "--rate-limit", "1000000"], env=env, check=True, text=True, capture_output=True).stdout.strip().splitlines()[-1]

        rnd = random.Random(1)
        stages = ["mql", "sql", "engaged", "customer"]
        scenarios = [
            ("get_by_id", "GET /v1/profiles/{id}", [f"/v1/profiles/{i}" for i in ids], args.rate, args.seconds),
            ("lookup_email", "GET /v1/profiles/lookup?email=", [f"/v1/profiles/lookup?site=bench&email={e}" for e in emails], args.rate, args.seconds),
            ("search_fields", "fields.industry & fields.country (JSONB @>, GIN)",
             [f"/v1/profiles?site=bench&fields.industry={rnd.choice(INDUSTRIES)}&fields.country={rnd.choice(COUNTRIES)}&limit=50" for _ in range(500)],
             args.search_rate, args.search_seconds),
            ("search_interest", "interest=item-N&min_confidence=0.7",
             [f"/v1/profiles?site=bench&interest=item-{rnd.randint(1, 200)}&min_confidence=0.7&limit=50" for _ in range(500)],
             args.search_rate, args.search_seconds),
            ("search_score", "min/max_lead_score, sort=-lead_score",
             [f"/v1/profiles?site=bench&min_lead_score={lo}&max_lead_score={lo + 10}&sort=-lead_score&limit=50"
              for lo in (rnd.randint(40, 90) for _ in range(500))], args.search_rate, args.search_seconds),
            ("search_text", "q=<last name> / q=<company> (full text)",
             [f"/v1/profiles?site=bench&q={rnd.choice(LAST + COMPANY_A)}&limit=50" for _ in range(500)], args.search_rate, args.search_seconds),
            ("search_segment", "segment=<slug>",
             [f"/v1/profiles?site=bench&segment={rnd.choice(SEGMENTS)}&limit=50" for _ in range(500)], args.search_rate, args.search_seconds),
            ("search_stage_seen", "stage=<s>&sort=-last_seen_at",
             [f"/v1/profiles?site=bench&stage={rnd.choice(stages)}&sort=-last_seen_at&limit=50" for _ in range(500)],
             args.search_rate, args.search_seconds),
        ]
        only = set(args.only.split(",")) if args.only else None
        log_path = pathlib.Path(cluster) / "postgres.log"
        index_sql = re.findall(r"CREATE INDEX (\w+) ON [^;]+;", (ROOT / args.index_migration).read_text())
        index_statements = re.findall(r"CREATE INDEX \w+ ON [^;]+;", (ROOT / args.index_migration).read_text())
        passes = [("with", [])] if args.no_compare or not index_sql else [("without", index_sql), ("with", [])]
        results = []
        for pass_name, dropped in passes:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SET auto_explain.log_min_duration = -1")
                if dropped:
                    for index in dropped:
                        conn.execute(f"DROP INDEX {index}")
                    log(f"pass without {', '.join(dropped)}")
                elif len(passes) > 1:
                    t = time.time()
                    for statement in index_statements:
                        conn.execute(statement)
                    conn.execute("VACUUM ANALYZE")
                    log(f"indexes of {args.index_migration} re-created in {time.time() - t:.0f} s")
            for name, label, paths, rate, seconds in scenarios:
                if only and name not in only:
                    continue
                if pass_name == "with" and len(passes) > 1 and not name.startswith("search"):
                    continue  # GET and lookup use primary keys only: measured once
                # Warm up (connections, caches) for a few seconds, not measured; its mean latency
                # tunes the pacing so that the offered rate is close to `rate`.
                warm = wrk(base, token, paths, rate, 5, args.connections, arrivals=args.arrivals)
                log_offset = log_path.stat().st_size
                summary = wrk(base, token, paths, rate, seconds, args.connections, latency_ms=warm["mean"], arrivals=args.arrivals)
                with open(log_path, errors="replace") as f:
                    f.seek(log_offset)
                    plans = re.split(r"\n(?=\S.*LOG:  duration: )", f.read())
                slow = [p for p in plans if re.search(r"LOG:  duration: [\d.]+ ms  plan:", p)]
                slowest = max(slow, key=lambda p: float(re.search(r"duration: ([\d.]+) ms", p).group(1)), default=None)
                summary.update(name=name, label=label, rate=rate, slow_statements=len(slow), slowest_plan=slowest and short_plan(slowest),
                               indexes="" if len(passes) == 1 or not name.startswith("search") else pass_name + " 0006 indexes")
                results.append(summary)
                log(f"{name} ({pass_name}): {summary['achieved']:.0f} req/s, p50 {summary['p50']:.2f} ms, p95 {summary['p95']:.2f} ms, "
                    f"p99 {summary['p99']:.2f} ms, non-2xx {summary['non2xx']}, errors {summary['errors']}, plans > {args.explain_ms} ms: {len(slow)}")
    finally:
        if api is not None:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)
        if args.keep:
            log(f"cluster kept: {url} (stop with: source scripts/lib/pg.sh; pg_stop_cluster {cluster})")
        else:
            bash_pg(f"pg_stop_cluster {cluster}")
            subprocess.run(["rm", "-rf", cluster])

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    rows = ["| scenario | indexes | offered / achieved req/s | p50 | p95 | p99 | max | non-2xx | %s |"
            % (f"plans > {args.explain_ms} ms" if args.explain_ms > 0 else "plans logged (auto_explain off)"),
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in sorted(results, key=lambda r: [x[0] for x in scenarios].index(r["name"])):
        rows.append(f"| {r['label']} | {r['indexes']} | {r['rate']} / {r['achieved']:.0f} | {r['p50']:.2f} ms | {r['p95']:.2f} ms | {r['p99']:.2f} ms | "
                    f"{r['max']:.1f} ms | {r['non2xx'] + r['errors']} | {r['slow_statements']} |")
    table = "\n".join(rows)
    print(table)
    # Plans of the scenarios over the filtered-search target (p95 100 ms) only.
    plans = "\n".join(f"\nSlowest plan during `{r['name']}` ({r['indexes'] or 'all indexes'}):\n\n```\n{r['slowest_plan'].strip()[:3000]}\n```"
                      for r in results if r["slowest_plan"] and r["p95"] > 100)
    print(plans)
    if not args.no_record:
        with open(RESULTS, "a") as out:
            out.write(f"\n## Profile API — {datetime.date.today().isoformat()}, commit {commit}{' (with uncommitted changes)' if dirty else ''}\n\n")
            out.write(f"Machine: {os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
                      f"load average {load_before:.1f} when the run began; PostgreSQL 15 (shared_buffers {args.shared_buffers or '256MB'}), "
                      f"the API and wrk on the same machine; wrk's arrivals {args.arrivals}. {args.profiles:,} profiles generated in {generation:.0f} s (database {size}). Command: "
                      "`python3 Benchmarks/api_bench.py " + " ".join(sys.argv[1:]) + "`\n\n" + table + "\n" + plans + "\n")


if __name__ == "__main__":
    main()
