#!/usr/bin/env python3
"""Engine benchmark (not a test): how fast the profile engine drains a backlog, and how fresh
profiles are when events arrive at a steady rate.

    python3 Benchmarks/engine_bench.py                      # release build, full scale, record figures
    python3 Benchmarks/engine_bench.py --no-build --visitors 10000 --no-record

  1. `swift build -c release` of collector and profile-engine (skip with --no-build);
  2. a throwaway PostgreSQL 15 cluster (scripts/lib/pg.sh; fsync and synchronous_commit on);
  3. drain: a backlog of --visitors x 10 events (8 page views in two sessions, a dwell interaction,
     an identify with an email; one visitor in ten shares the email of another, so profiles merge)
     is written with SQL, then --engines engine processes (ENGINE_WORKERS each) apply it; the
     figure is events applied per second from the first claim to an empty queue;
  4. freshness: the collector and one engine run while a load generator sends --rate events/s
     (/v1/batch, 10 events per request, each event a new visitor) for --seconds; each event's
     latency is from the collector's 2xx to the engine's `profile_updated` notification for the
     profile it created (LISTEN on a separate connection); p50/p95/p99 are printed;
  5. prints a table and appends a dated section (machine, date, commit) to docs/BENCHMARKS.md.
"""
import argparse
import base64
import concurrent.futures
import datetime
import json
import os
import pathlib
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import psycopg

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/BENCHMARKS.md"
sys.path.insert(0, str(ROOT / "Tests/e2e"))

BACKLOG_SQL = (ROOT / "Tests/e2e/test_engine_crash.py").read_text().split('BACKLOG_SQL = """')[1].split('"""')[0]


def log(message):
    print(message, file=sys.stderr, flush=True)


def bash_pg(snippet):
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source scripts/lib/pg.sh; {snippet}"], cwd=ROOT,
                          check=True, text=True, stdout=subprocess.PIPE).stdout.strip()


def start(binary, env, log_path):
    process = subprocess.Popen([str(binary), "serve"], env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    return process


def wait_ready(url, process, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid, children=False):
    """CPU seconds used by a process (and its reaped children, for the postmaster)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / TICKS


def cluster_cpu(datadir):
    """CPU seconds of one PostgreSQL cluster: the postmaster with its exited children, plus the live ones.
    Other clusters on the machine (other benchmarks, tests) are not counted."""
    postmaster = int(pathlib.Path(datadir, "postmaster.pid").read_text().split()[0])
    total = process_cpu(postmaster, children=True)
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    total += process_cpu(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    return total


def cpu_probe():
    """Seconds for a fixed 10M-step Python loop: this machine is a VM whose speed varies with its
    host's load (0.67 s to 1.16 s within minutes was seen), so each record says how fast it was."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def migrated_database(prefix, bin_dir, server, base_env):
    """A new database on the bench cluster, migrated by the real `migrate` command."""
    db = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = f"{server}/{db}"
    env = dict(base_env, DATABASE_URL=url)
    subprocess.run([str(bin_dir / "collector"), "migrate"], env=env, check=True, capture_output=True)
    return url, env


def drain(args, bin_dir, server, base_env):
    url, env = migrated_database("bench_drain", bin_dir, server, base_env)
    log(f"writing a backlog of {args.visitors * 10} events...")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BACKLOG_SQL.replace("{visitors}", str(args.visitors)))
        # Only the tables the backlog filled: statistics of an empty `sessions` would make every
        # connection plan its foreign-key checks as sequential scans (see the engine findings).
        conn.execute("VACUUM ANALYZE events, event_queue")
        if args.statements:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
    total = args.visitors * 10
    engines = []
    pg_cpu_before = cluster_cpu(args.datadir)
    started = time.time()
    for index in range(args.engines):
        engine_env = dict(env, ENGINE_PORT=str(free_port()), ENGINE_WORKERS=str(args.workers), ENGINE_BATCH_SIZE=str(args.batch))
        engines.append(start(bin_dir / "profile-engine", engine_env, f"/tmp/bench-engine-{index}.log"))
    # The probes are index lookups, not count(*): counting a million-row queue every second took
    # ~2% of the drain's database time away from the engines.
    first = None
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            now = time.time()
            # Start the clock at the first committed batch (process start-up is not throughput).
            if first is None and conn.execute("SELECT EXISTS (SELECT 1 FROM engagement_metrics)").fetchone()[0]:
                first = now
            if conn.execute("SELECT id FROM event_queue ORDER BY id LIMIT 1").fetchone() is None:
                break
            if now - started > args.timeout:
                raise RuntimeError(f"backlog not drained after {args.timeout}s")
            time.sleep(0.2 if first is None else 0.5)
        elapsed = now - (first or now)
        profiles = conn.execute("SELECT count(*) FROM visitor_profiles WHERE merged_into IS NULL").fetchone()[0]
        if args.statements:
            print_statements(conn, args.statements, total)
    engine_cpu = sum(process_cpu(engine.pid) for engine in engines)
    pg_cpu = cluster_cpu(args.datadir) - pg_cpu_before
    for engine in engines:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
    return {"events": total, "seconds": elapsed, "events_per_s": total / elapsed if elapsed > 0 else float("nan"), "profiles": profiles,
            "engine_us": engine_cpu / total * 1e6, "postgres_us": pg_cpu / total * 1e6}


def print_statements(conn, limit, events):
    """The statements the drain spent its database time on (pg_stat_statements), costliest first."""
    rows = conn.execute(
        "SELECT total_exec_time, calls, rows, sum(total_exec_time) OVER (), regexp_replace(query, '\\s+', ' ', 'g'), "
        "sum(total_plan_time) OVER () "
        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY total_exec_time DESC LIMIT %s", (limit,)).fetchall()
    if not rows:
        return
    log(f"database time: {rows[0][3] / 1000:,.1f} s executing and {rows[0][5] / 1000:,.1f} s planning "
        f"({rows[0][5] * 1000 / events:.1f} µs per event); top {limit} statements by execution (µs per event, share, calls, rows):")
    for total_ms, calls, count, all_ms, query, _ in rows:
        log(f"  {total_ms * 1000 / events:7.1f} µs {total_ms / all_ms:6.1%} {calls:>9,} {count:>10,}  {query[:240]}")


def freshness(args, bin_dir, server, base_env):
    url, env = migrated_database("bench_fresh", bin_dir, server, base_env)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (slug, name, write_key) VALUES ('bench', 'Bench', 'wk-bench')")
    collector_port, engine_port = free_port(), free_port()
    collector = start(bin_dir / "collector", dict(env, COLLECTOR_PORT=str(collector_port), RATE_LIMIT_IP_BURST="1000000",
                                                  RATE_LIMIT_IP_PER_SECOND="1000000", RATE_LIMIT_KEY_BURST="1000000",
                                                  RATE_LIMIT_KEY_PER_SECOND="1000000"), "/tmp/bench-fresh-collector.log")
    engine = start(bin_dir / "profile-engine", dict(env, ENGINE_PORT=str(engine_port)), "/tmp/bench-fresh-engine.log")
    wait_ready(f"http://127.0.0.1:{collector_port}", collector)
    wait_ready(f"http://127.0.0.1:{engine_port}", engine)

    notified = {}
    stop = threading.Event()

    def listen():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("LISTEN profile_updated")
            while not stop.is_set():
                for note in conn.notifies(timeout=0.5, stop_after=1000):
                    notified.setdefault(note.payload, time.time())
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1)

    acked = {}
    auth = "Basic " + base64.b64encode(b"wk-bench:").decode()
    per_request = 10
    requests_per_second = args.rate / per_request

    def send(index):
        visitors = [f"v-{index}-{n}-{uuid.uuid4().hex[:6]}" for n in range(per_request)]
        body = json.dumps({"batch": [{"type": "page", "anonymousId": v, "properties": {"url": "https://bench.example/", "path": "/"}}
                                     for v in visitors]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{collector_port}/v1/batch", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "Authorization": auth})
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status == 200:
                now = time.time()
                for v in visitors:
                    acked[v] = now

    def load(seconds):
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            began = time.time()
            futures = []
            for index in range(int(seconds * requests_per_second)):
                target = began + index / requests_per_second
                delay = target - time.time()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(send, index))
            for future in futures:
                future.result()

    # Warm-up: a freshly migrated database has no planner statistics, and the plans made without
    # them (an unsuitable partial index for `id = ANY(...)`, sequential scans in foreign-key checks)
    # are not what a running installation sees once autovacuum has analysed its tables (within a
    # minute). So: load for --warmup seconds, let the engine catch up, ANALYZE, then measure.
    if args.warmup > 0:
        load(args.warmup)
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.time() + 120
            while conn.execute("SELECT count(*) FROM event_queue").fetchone()[0] > 0 and time.time() < deadline:
                time.sleep(0.5)
            conn.execute("ANALYZE")
        time.sleep(1)
        acked.clear()
        notified.clear()
    pg_cpu_before, collector_cpu_before, engine_cpu_before = cluster_cpu(args.datadir), process_cpu(collector.pid), process_cpu(engine.pid)
    load(args.seconds)
    time.sleep(3)
    cpu = {"collector_us": (process_cpu(collector.pid) - collector_cpu_before) / max(len(acked), 1) * 1e6,
           "engine_us": (process_cpu(engine.pid) - engine_cpu_before) / max(len(acked), 1) * 1e6,
           "postgres_us": (cluster_cpu(args.datadir) - pg_cpu_before) / max(len(acked), 1) * 1e6}
    stop.set()
    listener.join(timeout=5)
    with psycopg.connect(url, autocommit=True) as conn:
        owners = dict(conn.execute("SELECT profile_id::text, value FROM profile_identities WHERE kind = 'anonymous_id'").fetchall())
    latencies = [(notified[p] - acked[v]) * 1000 for p, v in owners.items() if p in notified and v in acked]
    for process in (collector, engine):
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    return {"rate": args.rate, "events": len(acked), "measured": len(latencies), "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95), "p99": percentile(latencies, 99), "max": max(latencies) if latencies else float("nan"), **cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--bin-dir", help="where the executables are (default: the release build)")
    parser.add_argument("--visitors", type=int, default=100_000, help="backlog visitors (10 events each)")
    parser.add_argument("--engines", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="ENGINE_WORKERS per engine")
    parser.add_argument("--batch", type=int, default=500, help="ENGINE_BATCH_SIZE")
    parser.add_argument("--rate", type=int, default=1000, help="events/s for the freshness run")
    parser.add_argument("--seconds", type=float, default=20, help="duration of the freshness run")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before the freshness run, followed by ANALYZE")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--statements", type=int, default=0, metavar="N",
                        help="after the drain, print the N statements that took the most database time (pg_stat_statements)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra environment variable for the services (repeatable), e.g. ENGINE_SYNCHRONOUS_COMMIT=true")
    parser.add_argument("--drain-only", action="store_true", help="skip the freshness run")
    args = parser.parse_args()

    if not args.no_build:
        log("building release executables...")
        subprocess.run(["swift", "build", "-c", "release", "--product", "collector"], cwd=ROOT, check=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", "profile-engine"], cwd=ROOT, check=True)
    bin_dir = pathlib.Path(args.bin_dir) if args.bin_dir else pathlib.Path(
        subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True, text=True, capture_output=True).stdout.strip())

    cluster = tempfile.mkdtemp(prefix="pb-bench-pg-")
    os.chmod(cluster, 0o755)
    port = bash_pg("pg_free_port")
    bash_pg(f"pg_require_binaries; pg_start_cluster {cluster} {port}")
    if args.statements:
        with open(f"{cluster}/data/postgresql.conf", "a") as conf:
            conf.write("shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n"
                       "pg_stat_statements.track_planning = on\n")
        bash_pg(f"pg_stop_cluster {cluster}; pg_start_cluster {cluster} {port}")
    server = f"postgres://postgres@127.0.0.1:{port}"
    args.datadir = f"{cluster}/data"
    base_env = {"PATH": os.environ["PATH"], "SQL_DIR": str(ROOT / "sql"), "PROFILE_FIELDS_FILE": str(ROOT / "config/profile_fields.yaml"),
                "LEAD_SCORING_FILE": str(ROOT / "config/lead_scoring.yaml"), "SEGMENTS_FILE": str(ROOT / "config/segments.yaml"),
                "LOG_LEVEL": "warning", "DATABASE_POOL_SIZE": "20"}
    base_env.update(item.split("=", 1) for item in args.env)
    probe_before = cpu_probe()
    try:
        drained = drain(args, bin_dir, server, base_env)
        fresh = None if args.drain_only else freshness(args, bin_dir, server, base_env)
    finally:
        bash_pg(f"pg_stop_cluster {cluster}")
        subprocess.run(["rm", "-rf", cluster])

    probe_after = cpu_probe()
    probes = f"CPU probe (10M-step Python loop, lower is faster): {probe_before:.2f} s before, {probe_after:.2f} s after"
    log(probes)
    if fresh is None:
        print(f"drained {drained['events']:,} events in {drained['seconds']:.0f} s: {drained['events_per_s']:,.0f} events/s; "
              f"CPU per event: engine {drained['engine_us']:.0f} µs, PostgreSQL {drained['postgres_us']:.0f} µs (not recorded)")
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    table = "\n".join([
        "| measure | value | target |",
        "| --- | --- | --- |",
        f"| backlog drained ({drained['events']:,} events, {args.engines} engine x {args.workers} workers, batch {args.batch}) | "
        f"{drained['events_per_s']:,.0f} events/s ({drained['seconds']:.0f} s, {drained['profiles']:,} profiles) | ≥ 10,000 events/s |",
        f"| freshness at {fresh['rate']} events/s: collector 2xx → profile_updated, p50 / p95 / p99 / max | "
        f"{fresh['p50']:.0f} / {fresh['p95']:.0f} / {fresh['p99']:.0f} / {fresh['max']:.0f} ms ({fresh['measured']:,} of {fresh['events']:,} events) | p95 < 250 ms |",
        f"| CPU per event, drain: engine / PostgreSQL | {drained['engine_us']:.0f} / {drained['postgres_us']:.0f} µs "
        f"(CPU-bound ceiling on {os.cpu_count()} idle cores: {os.cpu_count() * 1e6 / (drained['engine_us'] + drained['postgres_us']):,.0f} events/s) | |",
        f"| CPU per event, freshness (new visitors): collector / engine / PostgreSQL | "
        f"{fresh['collector_us']:.0f} / {fresh['engine_us']:.0f} / {fresh['postgres_us']:.0f} µs | |",
    ])
    print(table)
    if not args.no_record:
        with open(RESULTS, "a") as out:
            out.write(f"\n## Profile engine — {datetime.date.today().isoformat()}, commit {commit}\n\n")
            out.write(f"Machine: {os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB; "
                      "PostgreSQL 15 on the same machine (fsync on). " + probes + ". Command: `python3 Benchmarks/engine_bench.py "
                      + " ".join(sys.argv[1:]) + "`\n\n" + table + "\n")


if __name__ == "__main__":
    main()
