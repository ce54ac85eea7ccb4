#!/usr/bin/env python3
"""Collector benchmark (not a test): how many events/s the collector commits, how fast it answers
single calls, how much memory it takes, next to a bare Hummingbird server on the same machine.

    python3 Benchmarks/collector_bench.py                  # build release, run everything, append to docs/BENCHMARKS.md
    python3 Benchmarks/collector_bench.py --no-build --duration 5 --no-record
    python3 Benchmarks/collector_bench.py --env WRITER_CONCURRENCY=4 --env BATCH_MAX_WAIT_MS=5

What it does, all on this machine (Postgres, the collector and the load generator share its cores):
  1. `swift build -c release` of `collector` and `bench-bare-http` (skip with --no-build);
  2. a throwaway PostgreSQL 15 cluster (scripts/lib/pg.sh: fsync on, synchronous_commit on, as in tests),
     migrated, with one site;
  3. the release collector with rate limits out of the way (plus any --env settings);
  4. wrk (Benchmarks/wrk/events.lua: unique messageIds per event) runs each scenario for --duration s:
     a. /v1/batch with 100 events per request at several connection counts: events/s counted in the
        `events` table (committed), not from wrk's answers;
     b. single /v1/track calls: requests/s, p50/p99 latency;
     c. the same single-call load against bench-bare-http (204, no database): the HTTP ceiling;
     d. pgbench on the same cluster: the insert ceiling (100-row INSERTs, 1-row commits, and the
        collector's own insert statement with a generated batch: the SQL part of its write path);
  5. collector RSS (peak VmRSS sampled from /proc during each scenario) and the CPU split between
     the collector, Postgres and wrk;
  6. prints a table, and appends a dated section with the machine, date and commit to docs/BENCHMARKS.md.
"""
import argparse
import base64
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
LUA = ROOT / "Benchmarks/wrk/events.lua"
RESULTS = ROOT / "docs/BENCHMARKS.md"
TARGETS = {"batched events/s": 20_000, "single req/s": 5_000, "single p99 ms": 50, "RSS MB": 150}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(command, **kwargs):
    return subprocess.run(command, check=True, text=True, **kwargs)


def bash_pg(snippet):
    """Runs a snippet with scripts/lib/pg.sh sourced (the same helpers the tests use)."""
    return run(["bash", "-c", f"set -euo pipefail; source scripts/lib/pg.sh; {snippet}"], cwd=ROOT,
               stdout=subprocess.PIPE).stdout.strip()


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pb-bench-pg.")
        os.chmod(self.dir, 0o755)
        self.port = int(bash_pg("pg_free_port"))
        bash_pg(f"pg_require_binaries && pg_start_cluster {self.dir} {self.port}")
        bash_pg(f"pg_create_db {self.port} bench")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/bench"

    def psql(self, sql, database="bench"):
        return run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-qAtX",
                    "-v", "ON_ERROR_STOP=1", "-c", sql], stdout=subprocess.PIPE).stdout.strip()

    def backend_pids(self):
        """The postmaster and all its children: Postgres's whole CPU use."""
        postmaster = int(pathlib.Path(self.dir, "data/postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], text=True, stdout=subprocess.PIPE).stdout.split()
        return [postmaster] + [int(pid) for pid in children]

    def stop(self):
        bash_pg(f"pg_stop_cluster {self.dir}")
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_seconds(pid):
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def machine_busy_seconds():
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def busy_elsewhere(seconds=2.0):
    """Cores used by other processes right now (a build running beside the benchmark spoils it)."""
    start = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - start) / seconds


def rss_mb(pid, field="VmRSS"):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


class Server:
    def __init__(self, name, command, env, port, log_dir):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log_dir / f"{name}.log", "w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, path):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not become ready; see {self.log.name}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Sampler:
    """Samples the collector's RSS and the CPU of collector, Postgres and wrk while a scenario runs."""

    def __init__(self, server_pid, cluster):
        self.server_pid, self.cluster = server_pid, cluster
        self.peak_rss = 0.0
        self.stop_event = threading.Event()

    def __enter__(self):
        self.pg_pids = self.cluster.backend_pids() if self.cluster else []
        self.cpu_start = {"server": cpu_seconds(self.server_pid), "postgres": self._pg_cpu(), "machine": machine_busy_seconds()}
        self.wall_start = time.time()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _pg_cpu(self):
        # Backends come and go with the pool; count those alive at the end too.
        if self.cluster:
            self.pg_pids = sorted(set(self.pg_pids) | set(self.cluster.backend_pids()))
        return sum(cpu_seconds(pid) for pid in self.pg_pids)

    def _sample(self):
        while not self.stop_event.wait(0.25):
            self.peak_rss = max(self.peak_rss, rss_mb(self.server_pid))

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()
        wall = time.time() - self.wall_start
        self.cpu = {"server": (cpu_seconds(self.server_pid) - self.cpu_start["server"]) / wall,
                    "machine": (machine_busy_seconds() - self.cpu_start["machine"]) / wall}
        if self.cluster:
            # Backends that started during the run count from zero, which is what they used.
            self.cpu["postgres"] = (self._pg_cpu() - self.cpu_start["postgres"]) / wall
        self.peak_rss = max(self.peak_rss, rss_mb(self.server_pid))


def wrk(url, path, per_request, connections, duration, authorization, run_id):
    return run_wrk(url + path, connections, duration, LUA, [path, str(per_request), authorization, run_id])


def run_wrk(url, connections, duration, script, script_args):
    """Runs wrk with a Lua script whose done() prints "RESULT {json}" (Benchmarks/wrk/*.lua); returns that json."""
    threads = min(2, connections)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
               "-s", str(script), url, "--", *script_args]
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=duration + 60)
    match = re.search(r"^RESULT (\{.*\})$", output, re.M)
    if not match:
        raise SystemExit(f"wrk gave no result:\n{output}")
    result = json.loads(match.group(1))
    result["wall"] = time.time() - started
    return result


def children_cpu():
    usage = os.times()
    return usage.children_user + usage.children_system


def scenario(name, server, cluster, path, per_request, connections, args, authorization, counter=None):
    log(f"  {name}: {connections} connections, {args.duration}s ...")
    before = counter() if counter else 0
    wrk_cpu = children_cpu()
    with Sampler(server.process.pid, cluster) as sampler:
        result = wrk(server.url, path, per_request, connections, args.duration, authorization,
                     run_id=f"{name.replace(' ', '')}{connections}x{int(time.time() * 1000)}")
    wall = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    row = {
        "scenario": name, "connections": connections, "requests/s": result["requests"] / wall,
        "p50 ms": result["p50_us"] / 1000, "p99 ms": result["p99_us"] / 1000, "max ms": result["max_us"] / 1000,
        "errors": errors, "RSS MB": sampler.peak_rss,
        "cpu server": sampler.cpu["server"], "cpu postgres": sampler.cpu.get("postgres"),
        "cpu wrk": (children_cpu() - wrk_cpu) / result["wall"],
    }
    # Whatever else ran on the machine meanwhile (should be ~0; a parallel build spoils the figures).
    row["cpu other"] = max(0.0, sampler.cpu["machine"] - row["cpu server"] - (row["cpu postgres"] or 0) - row["cpu wrk"])
    if counter:
        committed = counter() - before
        row["events/s"] = committed / wall
        row["committed"] = committed
    elif per_request:
        row["events/s"] = None
    return row


def collector_statement(events):
    """The collector's own insert_event_batch statement, read from EventStore.swift, fed a generated batch."""
    source = (ROOT / "Services/collector/App/EventStore.swift").read_text()
    sql = re.search(r'struct InsertEventBatch: PostgresPreparedStatement \{\s*static let sql = """\n(.*?)\n\s*"""', source, re.S).group(1)
    batch = ("(SELECT jsonb_agg(jsonb_build_object('ord', g, 'site_id', (SELECT id FROM sites WHERE slug = 'bench'), "
             "'message_id', md5(random()::text || clock_timestamp()::text || g), 'type', 'track', "
             "'anonymous_id', 'anon-' || (g % 50), 'event', 'Product Viewed', "
             "'properties', '{\"sku\":\"SKU-1234\",\"price\":19.99,\"currency\":\"EUR\",\"category\":\"shoes\"}'::jsonb, "
             "'traits', '{}'::jsonb, 'context', '{\"page\":{\"url\":\"https://shop.example/p/1234\",\"title\":\"Running shoe\"},"
             "\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0\",\"locale\":\"de-DE\"}'::jsonb, "
             "'integrations', '{}'::jsonb, 'occurred_at', now(), 'received_at', now(), 'client_ip', '203.0.113.0', "
             f"'is_bot', false, 'consent', '{{\"analytics\":true}}'::jsonb, 'shard', g % 256)) FROM generate_series(1, {events}) g)")
    sql = sql.replace("$1::jsonb", batch)
    if "$1" in sql:
        raise SystemExit("EventStore.InsertEventBatch has changed shape: update collector_statement()")
    return " ".join(line.strip() for line in sql.splitlines()) + ";"


def pgbench(cluster, duration, events_per_request):
    """The insert ceilings of this Postgres on this machine: plain INSERTs into a narrow table, and the
    collector's own statement (with its dedupe, queue rows, indexes and foreign keys) run by pgbench."""
    cluster.psql("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, message_id text UNIQUE, "
                 "props jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())")
    rows = []
    scripts = {
        "pgbench 100-row INSERT": ("INSERT INTO bench_rows (message_id, props) SELECT md5(random()::text || g), "
                                   "'{\"sku\":\"SKU-1234\",\"price\":19.99}'::jsonb FROM generate_series(1, 100) g;", 100, 2),
        "pgbench 1-row commit": ("INSERT INTO bench_rows (message_id, props) VALUES (md5(random()::text), "
                                 "'{\"sku\":\"SKU-1234\",\"price\":19.99}'::jsonb);", 1, 8),
        f"pgbench collector SQL, {events_per_request} events": (collector_statement(events_per_request), events_per_request, 2),
    }
    for name, (sql, per_txn, clients) in scripts.items():
        log(f"  {name}: {clients} clients, {duration}s ...")
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(sql + "\n")
        output = run(["pgbench", "-n", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-c", str(clients),
                      "-j", "2", "-T", str(duration), "-f", script.name, "bench"], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT).stdout
        os.unlink(script.name)
        tps = float(re.search(r"tps = ([0-9.]+)", output).group(1))
        latency = re.search(r"latency average = ([0-9.]+) ms", output)
        rows.append({"scenario": name, "connections": clients, "requests/s": tps, "events/s": tps * per_txn,
                     "p50 ms": None, "p99 ms": None, "max ms": None, "errors": 0, "RSS MB": None,
                     "cpu server": None, "cpu postgres": None, "cpu wrk": None, "cpu other": None,
                     "note": f"average latency {latency.group(1)} ms" if latency else ""})
    return rows


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = subprocess.run(["free", "-g"], text=True, stdout=subprocess.PIPE).stdout.splitlines()[1].split()[1]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, stdout=subprocess.PIPE).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, text=True,
                           stdout=subprocess.PIPE).stdout.strip()
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": memory, "kernel": platform.release(),
            "commit": commit + ("+uncommitted changes" if dirty else ""),
            "postgres": subprocess.run(["psql", "--version"], text=True, stdout=subprocess.PIPE).stdout.strip()}


def fmt(value, digits=0):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows):
    header = ["scenario", "conns", "req/s", "events/s", "p50 ms", "p99 ms", "max ms", "errors", "peak RSS MB",
              "CPU server", "CPU postgres", "CPU wrk", "CPU other", "server CPU µs/req"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["scenario"], fmt(row["connections"]), fmt(row["requests/s"]), fmt(row.get("events/s")),
                 fmt(row["p50 ms"], 1), fmt(row["p99 ms"], 1), fmt(row["max ms"], 1), fmt(row["errors"]),
                 fmt(row["RSS MB"]), fmt(row["cpu server"], 2), fmt(row["cpu postgres"], 2), fmt(row["cpu wrk"], 2),
                 fmt(row["cpu other"], 2),
                 fmt(row["cpu server"] / row["requests/s"] * 1e6 if row["cpu server"] and row["requests/s"] else None)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(rows, idle_rss, hwm):
    batched = max((r["events/s"] for r in rows if r["scenario"] == "collector /v1/batch"), default=0)
    singles = [r for r in rows if r["scenario"] == "collector /v1/track"]
    ok_singles = [r for r in singles if r["p99 ms"] < TARGETS["single p99 ms"] and r["errors"] == 0]
    best = max(ok_singles, key=lambda r: r["requests/s"], default=None)
    lines = [
        f"- batched: best {batched:,.0f} committed events/s (target ≥ {TARGETS['batched events/s']:,}): "
        f"{'met' if batched >= TARGETS['batched events/s'] else 'MISSED'}",
        (f"- single calls: best {best['requests/s']:,.0f} req/s with p99 {best['p99 ms']:.1f} ms at {best['connections']} "
         f"connections (target ≥ {TARGETS['single req/s']:,} req/s at p99 < {TARGETS['single p99 ms']} ms): "
         f"{'met' if best['requests/s'] >= TARGETS['single req/s'] else 'MISSED'}") if best else
        "- single calls: no run had p99 under 50 ms without errors: MISSED",
        f"- collector RSS: {idle_rss:.0f} MB idle, {hwm:.0f} MB peak (VmHWM) (target < {TARGETS['RSS MB']} MB): "
        f"{'met' if hwm < TARGETS['RSS MB'] else 'MISSED'}",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true", help="use the existing release build")
    parser.add_argument("--bin-dir", type=pathlib.Path, help="use the executables in this folder (implies --no-build)")
    parser.add_argument("--configuration", default="release", choices=["release", "debug"],
                        help="swift build configuration (debug only to try the script out)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    parser.add_argument("--batch-connections", default="2,8,32", help="connection counts for /v1/batch")
    parser.add_argument("--single-connections", default="16,64,256", help="connection counts for single calls")
    parser.add_argument("--events-per-request", type=int, default=100)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra collector setting")
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--no-record", action="store_true", help=f"do not append to {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--note", default="", help="a line added to the recorded section")
    args = parser.parse_args()

    if not shutil.which("wrk"):
        run(["bash", "-c", "source scripts/lib/deps.sh && deps_apt_install wrk"], cwd=ROOT)
    swift_env = dict(os.environ, PATH="/opt/swift/usr/bin:" + os.environ.get("PATH", ""))
    if not args.no_build and not args.bin_dir:
        log(f"building {args.configuration} (collector, bench-bare-http) ...")
        for product in ("collector", "bench-bare-http"):
            run(["swift", "build", "-c", args.configuration, "--product", product], cwd=ROOT, env=swift_env, stdout=subprocess.DEVNULL)
    bin_dir = args.bin_dir or pathlib.Path(run(["swift", "build", "-c", args.configuration, "--show-bin-path"], cwd=ROOT,
                                               env=swift_env, stdout=subprocess.PIPE).stdout.strip())
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="pb-bench-logs."))

    elsewhere = busy_elsewhere()
    if elsewhere > 0.25:
        log(f"warning: other processes keep {elsewhere:.2f} cores busy; the figures will be low (see the 'CPU other' column)")
    cluster = Cluster()
    servers = []
    rows = []
    try:
        settings = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": cluster.url,
            "SQL_DIR": str(ROOT / "sql"), "PROFILE_FIELDS_FILE": str(ROOT / "config/profile_fields.yaml"),
            "WEB_DIR": str(ROOT / "web"), "LOG_LEVEL": "info",
            "RATE_LIMIT_IP_PER_SECOND": "1000000", "RATE_LIMIT_IP_BURST": "10000000",
            "RATE_LIMIT_KEY_PER_SECOND": "1000000", "RATE_LIMIT_KEY_BURST": "10000000",
        }
        settings.update(item.split("=", 1) for item in args.env)
        run([str(bin_dir / "collector"), "migrate"], env=settings, stdout=subprocess.DEVNULL)
        write_key = "wk_bench"
        cluster.psql(f"INSERT INTO sites (slug, name, write_key) VALUES ('bench', 'Benchmark', '{write_key}')")
        authorization = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        port = int(bash_pg("pg_free_port"))
        collector = Server("collector", [str(bin_dir / "collector"), "serve"], dict(settings, COLLECTOR_PORT=str(port)),
                           port, log_dir).wait("/ready")
        servers.append(collector)
        idle_rss = rss_mb(collector.process.pid)
        count_events = lambda: int(cluster.psql("SELECT count(*) FROM events"))  # noqa: E731

        log("collector, /v1/batch:")
        scenario("warm-up", collector, cluster, "/v1/batch", args.events_per_request, 8, argparse.Namespace(duration=2),
                 authorization)
        for connections in map(int, args.batch_connections.split(",")):
            rows.append(scenario("collector /v1/batch", collector, cluster, "/v1/batch", args.events_per_request,
                                 connections, args, authorization, counter=count_events))
            rows[-1]["scenario"] = "collector /v1/batch"
        log("collector, single /v1/track:")
        for connections in map(int, args.single_connections.split(",")):
            rows.append(scenario("collector /v1/track", collector, cluster, "/v1/track", 1, connections, args,
                                 authorization, counter=count_events))
        hwm = rss_mb(collector.process.pid, "VmHWM")
        metrics = urllib.request.urlopen(collector.url + "/metrics", timeout=5).read().decode()
        collector.stop()

        log("bench-bare-http (204, no database), single POST /v1/track:")
        bare_port = int(bash_pg("pg_free_port"))
        bare = Server("bench-bare-http", [str(bin_dir / "bench-bare-http")], {"PORT": str(bare_port)}, bare_port,
                      log_dir).wait("/health")
        servers.append(bare)
        for connections in map(int, args.single_connections.split(",")):
            rows.append(scenario("bare Hummingbird 204", bare, None, "/v1/track", 1, connections, args, authorization))
        bare.stop()

        if not args.no_pgbench:
            log("pgbench insert ceiling:")
            rows.extend(pgbench(cluster, args.duration, args.events_per_request))
    finally:
        for server in servers:
            server.stop()
        cluster.stop()

    info = machine()
    batch_sizes = re.findall(r'collector_batch_events_(sum|count) ([0-9.e+]+)', metrics)
    sizes = dict(batch_sizes)
    mean_batch = float(sizes.get("sum", 0)) / max(float(sizes.get("count", 1)), 1)
    tuning = {k: v for k, v in (item.split("=", 1) for item in args.env)}
    summary = verdict(rows, idle_rss, hwm)
    text = table(rows)
    print(text)
    print(summary)
    print(f"mean events per collector transaction: {mean_batch:.1f}")
    if args.no_record:
        return
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""
## Collector run, {now} — commit {info['commit']}

Machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory_gb']} GB RAM (`free -g`), Linux {info['kernel']}, {info['postgres']}.
Everything on this one machine: PostgreSQL (fsync and synchronous_commit on), the release collector and wrk.
{args.duration} s per scenario; {args.events_per_request} events per /v1/batch request; collector settings: defaults{
    ''.join(f', {k}={v}' for k, v in sorted(tuning.items()))} (rate limits raised out of the way).
Mean events per collector transaction over the run: {mean_batch:.1f}. Other processes used {elsewhere:.2f} cores just before the run.{(chr(10) + args.note) if args.note else ''}

{text}

{summary}

"server CPU µs/req" is the collector's (or bare server's) CPU time per request, the figure least
disturbed by other load on the machine (divide by the events per request for µs per event).
"CPU" columns are cores used on average (2.0 = both cores busy; "server" is the collector or the bare
server, "other" is everything else on the machine); events/s for the collector counts rows committed to
`events` during the scenario.
"""
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmarks\n")
    with RESULTS.open("a") as out:
        out.write(section)
    log(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
