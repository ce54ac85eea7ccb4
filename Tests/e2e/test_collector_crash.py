"""Rule 1 under fire: while a load generator sends batches and records every acknowledged
messageId, the collector is killed with SIGKILL and restarted on the same port, then PostgreSQL
is restarted with `pg_ctl restart -m immediate` (a crash: no checkpoint, WAL replay at start).
Afterwards every acknowledged messageId is in `events` exactly once, with exactly one
`event_queue` row.

The load generator behaves like an SDK: a batch that was not acknowledged (connection error,
timeout, 503) is sent again with the same messageIds, so a batch committed just before the
kill and retried afterwards must come out as duplicates, not as a second copy.

The test restarts the whole test cluster (TEST_PGDATA from scripts/test); pytest runs tests one
at a time, and the cluster is up again before this test returns."""
import collections
import os
import pathlib
import signal
import subprocess
import threading
import time
import uuid

import psycopg
import pytest
import requests

PG_BIN = pathlib.Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
WORKERS = 6
EVENTS_PER_BATCH = 20
PHASE_SECONDS = 3.0


def pg_ctl(*args, timeout=90):
    pgdata = os.environ.get("TEST_PGDATA")
    if not pgdata:
        pytest.fail("TEST_PGDATA is not set: run the tests with scripts/test, which starts a throwaway cluster "
                    "this test may restart", pytrace=False)
    command = [str(PG_BIN / "pg_ctl"), "-D", pgdata, *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    # The restarted postmaster must not inherit our pipes (pytest would wait for it): log to its file.
    return subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def postgres_log():
    return pathlib.Path(os.environ["TEST_PGDATA"]).parent / "postgres.log"


def restart_postgres_immediately():
    result = pg_ctl("restart", "-m", "immediate", "-w", "-t", "180", "-l", str(postgres_log()), timeout=200)
    assert result.returncode == 0, (f"pg_ctl restart failed: {result.stderr} (a cluster not made by scripts/lib/pg.sh may "
                                    f"need recovery_init_sync_method = syncfs; see {postgres_log()})")


def ensure_postgres_running(server_url, timeout=60):
    """Leaves the cluster accepting connections, whatever happened during the test."""
    if pg_ctl("status").returncode != 0:
        pg_ctl("start", "-w", "-t", "180", "-l", str(postgres_log()), timeout=200)
    deadline = time.time() + timeout
    while True:
        try:
            with psycopg.connect(server_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class LoadGenerator:
    """Threads POSTing /v1/batch with unique messageIds; remembers every messageId a 2xx acknowledged."""

    def __init__(self, url, write_key):
        self.url = url + "/v1/batch"
        self.write_key = write_key
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged = set()
        self.receipts = {}  # messageId -> how it was acknowledged (for the failure message of a lost event)
        self.answers = collections.Counter()
        self.acked_in_phase = collections.Counter()
        self.duplicates = 0
        self.unexpected = []
        self.phase = "warm-up"
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(WORKERS)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        assert not any(thread.is_alive() for thread in self.threads), "a load thread hung"

    def batch(self, worker):
        return [{"type": "track", "messageId": f"crash-{worker}-{uuid.uuid4().hex}", "anonymousId": f"visitor-{worker}-{n % 5}",
                 "event": "Crash Test", "properties": {"worker": worker, "n": n}} for n in range(EVENTS_PER_BATCH)]

    def run(self, worker):
        session = requests.Session()
        pending = None
        attempts = 0
        while not self.stop.is_set():
            if pending is None:
                pending = self.batch(worker)
                attempts = 0
            attempts += 1
            sent_at = time.time()
            try:
                response = session.post(self.url, json={"batch": pending}, auth=(self.write_key, ""), timeout=5)
            except requests.RequestException as error:
                self.count(type(error).__name__)
                session = requests.Session()
                time.sleep(0.05)
                continue  # not acknowledged: send the same batch again
            self.count(response.status_code)
            if not 200 <= response.status_code < 300:
                time.sleep(0.05)
                continue
            answer = response.json()
            with self.lock:
                if answer.get("stored", 0) + answer.get("duplicates", 0) != len(pending) or answer.get("rejected"):
                    self.unexpected.append(answer)
                rejected = {item.get("messageId") for item in answer.get("rejected", [])}
                ids = [event["messageId"] for event in pending if event["messageId"] not in rejected]
                self.acknowledged.update(ids)
                receipt = (f"phase {self.phase!r}, attempt {attempts}, sent {sent_at:.3f}, answered {time.time():.3f}, "
                           f"request id {response.headers.get('x-request-id')}, answer {answer}")
                self.receipts.update((message, receipt) for message in ids)
                self.acked_in_phase[self.phase] += len(ids)
                self.duplicates += answer.get("duplicates", 0)
            pending = None

    def count(self, what):
        with self.lock:
            self.answers[str(what)] += 1

    def run_phase(self, name, seconds=PHASE_SECONDS, patience=20.0):
        """Sends load for `seconds`, and longer (up to `patience` more) until something was acknowledged
        in this phase: a request caught by a fault can take the collector's whole write deadline (5 s)
        to fail, longer than a phase. Callers assert afterwards that every phase had acknowledgements."""
        with self.lock:
            self.phase = name
        time.sleep(seconds)
        deadline = time.time() + patience
        while time.time() < deadline:
            with self.lock:
                if self.acked_in_phase[name] > 0:
                    return
            time.sleep(0.1)


def test_no_acknowledged_event_is_lost_across_collector_kill_and_postgres_crash(migrated, start_service, server_url):
    write_key = "wk_crash_" + uuid.uuid4().hex[:8]
    site_id = migrated.query(
        "INSERT INTO sites (slug, name, write_key) VALUES ('crash', 'Crash test', %s) RETURNING id", (write_key,))[0][0]
    settings = dict(RATE_LIMIT_IP_PER_SECOND=1_000_000, RATE_LIMIT_IP_BURST=1_000_000,
                    RATE_LIMIT_KEY_PER_SECOND=1_000_000, RATE_LIMIT_KEY_BURST=1_000_000,
                    WRITE_TIMEOUT_SECONDS=2, SITE_CACHE_SECONDS=1)
    # Earlier tests wrote a lot of WAL (every test creates and drops databases): checkpoint first so
    # that crash recovery replays only what this test writes, as it would on a steady server.
    with migrated.connect() as conn:
        conn.execute("CHECKPOINT")
    collector = start_service("collector", migrated, **settings).wait_ready()
    load = LoadGenerator(collector.url, write_key).start()
    try:
        load.run_phase("before the kill")

        code, _ = collector.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL
        with load.lock:
            load.phase = "collector down"
        collector = start_service("collector", migrated, port=collector.port, **settings).wait_ready()
        load.run_phase("after the collector restart")

        restart_postgres_immediately()
        with load.lock:
            load.phase = "postgres restarted"
        collector.wait_ready()
        load.run_phase("after the postgres restart")
    finally:
        load.finish()
        ensure_postgres_running(server_url)

    stored = collections.Counter(row[0] for row in migrated.query(
        "SELECT message_id FROM events WHERE site_id = %s", (site_id,)))
    queue_rows = collections.Counter(row[0] for row in migrated.query(
        "SELECT e.message_id FROM event_queue q JOIN events e ON e.id = q.event_id WHERE q.site_id = %s", (site_id,)))
    orphan_queue_rows = migrated.query(
        "SELECT count(*) FROM event_queue q WHERE q.site_id = %s AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = q.event_id)",
        (site_id,))[0][0]

    acknowledged = load.acknowledged
    lost = acknowledged - stored.keys()
    twice = [message for message, n in stored.items() if n > 1]
    bad_queue = [message for message in stored if queue_rows[message] != 1]
    summary = (f"acknowledged {len(acknowledged)} events ({dict(load.acked_in_phase)}); stored {sum(stored.values())} "
               f"({len(stored.keys() - acknowledged)} stored but never acknowledged); duplicates answered {load.duplicates}; "
               f"answers {dict(load.answers)}")
    print("\ncrash test:", summary)

    assert not lost, f"{len(lost)} acknowledged events lost, e.g. {sorted(lost)[:3]}; {summary}"
    assert not twice, f"{len(twice)} events stored more than once, e.g. {twice[:3]}"
    assert not bad_queue and orphan_queue_rows == 0, f"queue rows wrong for {len(bad_queue)} events, {orphan_queue_rows} orphans"
    assert not load.unexpected, f"2xx answers that did not account for every event: {load.unexpected[:3]}"
    # The run really went through both failures and came back from each.
    for phase in ("before the kill", "after the collector restart", "after the postgres restart"):
        assert load.acked_in_phase[phase] > 0, f"nothing acknowledged {phase}: {summary}\n{collector.logs()}"
    assert collector.process.poll() is None, "the collector must survive the Postgres restart"
