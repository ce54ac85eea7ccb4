"""Pieces of the fault scenarios (test_faults.py): the running stack, a load generator whose events
leave countable traces in profiles, a TCP proxy that can cut Postgres off, and the invariant check
every scenario ends with."""
import collections
import socket
import subprocess
import threading
import time
import types
import uuid

import requests

from conftest import service_env
from test_collector_crash import LoadGenerator

FAST_LIMITS = dict(RATE_LIMIT_IP_PER_SECOND=1_000_000, RATE_LIMIT_IP_BURST=1_000_000,
                   RATE_LIMIT_KEY_PER_SECOND=1_000_000, RATE_LIMIT_KEY_BURST=1_000_000, SITE_CACHE_SECONDS=1)


class Stack:
    """collector + profile-engine + profile-api on one database, with a site and an API key.
    `database_url` lets the services reach Postgres some other way (through a proxy)."""

    def __init__(self, bin_dir, start_service, database, database_url=None, collector=None, engine=None, api=None):
        self.bin_dir = bin_dir
        self.start_service = start_service
        self.database = database
        self.target = types.SimpleNamespace(url=database_url or database.url)
        self.slug = "faults-" + uuid.uuid4().hex[:6]
        self.write_key = "wk_faults_" + uuid.uuid4().hex[:8]
        self.site_id = database.query("INSERT INTO sites (slug, name, write_key) VALUES (%s, 'Faults', %s) RETURNING id",
                                      (self.slug, self.write_key))[0][0]
        created = subprocess.run([str(bin_dir / "profile-api"), "keys", "create", "--name", "faults", "--scopes", "profiles:read",
                                  "--rate-limit", "1000000"], env=service_env(database.url), capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        self.token = created.stdout.strip().splitlines()[-1]
        # A batch stuck on a broken connection is abandoned after 10 s instead of the default 30 (bounded test time).
        self.settings = {"collector": {**FAST_LIMITS, **(collector or {})},
                         "profile-engine": {"ENGINE_BATCH_DEADLINE_SECONDS": 10, **(engine or {})}, "profile-api": api or {}}
        self.services = {}
        for name in ("collector", "profile-engine", "profile-api"):
            self.services[name] = start_service(name, self.target, **self.settings[name])
        for service in self.services.values():
            service.wait_ready()

    @property
    def collector(self):
        return self.services["collector"]

    def restart(self, name):
        """Starts `name` again on the same port (after it was killed) and waits until it is ready."""
        old = self.services[name]
        self.services[name] = self.start_service(name, self.target, port=old.port, **self.settings[name])
        return self.services[name].wait_ready()

    def all_ready(self, timeout=60):
        for service in self.services.values():
            assert service.process.poll() is None, f"{service.name} exited: {service.logs()}"
            service.wait_ready(timeout=timeout)

    def api_get(self, path, **params):
        return requests.get(self.services["profile-api"].url + path, params=params,
                            headers={"Authorization": f"Bearer {self.token}"}, timeout=5)


class PageLoad(LoadGenerator):
    """The crash test's load generator (SDK-like retries of unacknowledged batches) sending pairs of
    a page view and its `Page Dwell` event: every applied page event leaves a page_views row and
    every applied dwell event adds its dwell_ms to that row, so applying an event twice (or not at
    all) shows in the profile."""

    PAIRS = 5

    def batch(self, worker):
        events = []
        for n in range(self.PAIRS):
            visitor = f"visitor-{worker}-{n}"
            page_id = f"pv-{worker}-{uuid.uuid4().hex}"
            events.append({"type": "page", "messageId": page_id, "anonymousId": visitor, "name": "Pricing",
                           "properties": {"url": f"https://faults.example/p{n}", "path": f"/p{n}"}})
            events.append({"type": "track", "messageId": f"dw-{uuid.uuid4().hex}", "anonymousId": visitor, "event": "Page Dwell",
                           "properties": {"page_view_id": page_id, "dwell_ms": 1000 + n}})
        return events


class PostgresProxy:
    """A TCP proxy in front of Postgres. `cut()` closes every proxied connection and stops listening
    (new connections are refused, as when the server is down); `restore()` listens again."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.lock = threading.Lock()
        self.sockets = set()
        self.listener = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.restore()

    def restore(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        with self.lock:
            listener, self.listener = self.listener, None
            sockets, self.sockets = self.sockets, set()
        if listener is not None:
            # close() alone leaves the socket listening while another thread sits in accept() (Linux).
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    close = cut

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                cut = self.listener is not listener  # cut while this connection was being set up
                if not cut:
                    self.sockets.update((client, server))
            if cut:
                client.close()
                server.close()
                return
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def wait_until(condition, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"{what} not reached after {timeout} s")
        time.sleep(interval)


def check_invariants(stack, acknowledged, expect_dead_letters=0, drain_timeout=90, receipts=None):
    """The promises after a fault: every acknowledged event stored exactly once, every stored event
    applied exactly once, no stuck work, every service ready. Returns a one-line summary."""
    db, site = stack.database, stack.site_id
    stack.all_ready()
    wait_until(lambda: db.query("SELECT count(*) FROM event_queue WHERE site_id = %s", (site,))[0][0] == 0,
               drain_timeout, "empty event_queue")

    stored = collections.Counter(row[0] for row in db.query("SELECT message_id FROM events WHERE site_id = %s", (site,)))
    lost = acknowledged - stored.keys()
    twice = [message for message, n in stored.items() if n > 1]
    assert not lost, (f"{len(lost)} acknowledged events are not stored, e.g. {sorted(lost)[:3]}; how they were acknowledged: "
                      f"{sorted({(receipts or {}).get(message, 'unknown') for message in lost})}")
    assert not twice, f"{len(twice)} events stored more than once, e.g. {twice[:3]}"

    dead = db.query("SELECT count(*) FROM dead_letters WHERE site_id = %s", (site,))[0][0]
    assert dead == expect_dead_letters, f"{dead} dead letters (expected {expect_dead_letters})"

    # Page events: exactly one page view each (no page view without its event).
    pages, views, unviewed = db.query("""
        SELECT (SELECT count(*) FROM events WHERE site_id = %(s)s AND type = 'page'),
               (SELECT count(*) FROM page_views WHERE site_id = %(s)s),
               (SELECT count(*) FROM events e WHERE e.site_id = %(s)s AND e.type = 'page'
                  AND NOT EXISTS (SELECT 1 FROM page_views v WHERE v.site_id = e.site_id AND v.event_id = e.id))""", {"s": site})[0]
    assert unviewed == 0 and views == pages, f"{pages} page events stored, {views} page views, {unviewed} page events without one"

    # Dwell events add to their page view: per page view, dwell_ms must be the sum of the stored
    # dwell events that name it (twice the sum if applied twice, less if one was skipped).
    wrong_dwell = db.query("""
        SELECT v.client_page_view_id, v.dwell_ms, coalesce(d.total, 0)
        FROM page_views v
        LEFT JOIN (SELECT properties->>'page_view_id' AS pv, sum((properties->>'dwell_ms')::bigint) AS total
                   FROM events WHERE site_id = %(s)s AND type = 'track' AND event = 'Page Dwell' GROUP BY 1) d
               ON d.pv = v.client_page_view_id
        WHERE v.site_id = %(s)s AND v.dwell_ms <> coalesce(d.total, 0)""", {"s": site})
    assert not wrong_dwell, f"{len(wrong_dwell)} page views whose dwell time is not the sum of their events, e.g. {wrong_dwell[:3]}"
    dwell_events = db.query("SELECT count(*) FROM events WHERE site_id = %s AND event = 'Page Dwell'", (site,))[0][0]

    # One profile per visitor, whose page view counter matches its page events.
    wrong_counts = db.query("""
        SELECT i.value, m.page_views_count, (SELECT count(*) FROM events e WHERE e.site_id = %(s)s AND e.type = 'page' AND e.anonymous_id = i.value)
        FROM profile_identities i JOIN engagement_metrics m ON m.profile_id = i.profile_id
        WHERE i.site_id = %(s)s AND i.kind = 'anonymous_id'
          AND m.page_views_count <> (SELECT count(*) FROM events e WHERE e.site_id = %(s)s AND e.type = 'page' AND e.anonymous_id = i.value)""",
        {"s": site})
    assert not wrong_counts, f"profile page view counters differ from their events: {wrong_counts[:3]}"
    profiles = db.query("SELECT count(*) FROM visitor_profiles WHERE site_id = %s AND merged_into IS NULL", (site,))[0][0]
    visitors = db.query("SELECT count(DISTINCT anonymous_id) FROM events WHERE site_id = %s", (site,))[0][0]
    assert profiles == visitors, f"{profiles} profiles for {visitors} visitors"

    return (f"{len(acknowledged)} acknowledged events all stored once ({sum(stored.values())} stored); "
            f"{pages} page views and {dwell_events} dwell events applied once each to {profiles} profiles; "
            f"queue empty, {dead} dead letters; collector, engine and API ready")
