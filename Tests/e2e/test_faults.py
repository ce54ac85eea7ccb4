"""Fault scenarios against the whole stack (collector, profile-engine, profile-api on one database),
each under load from an SDK-like client that retries what was not acknowledged, and each ending
with the same invariants (faultkit.check_invariants): every acknowledged event stored exactly
once, every stored event applied to its profile exactly once, no stuck work or dead letters,
every service ready again. The summary at the end of the run says what each scenario checked.

Scenarios that restart Postgres use the test cluster (TEST_PGDATA, as test_collector_crash.py
does); pytest runs them one at a time and the cluster is up again before each returns."""
import signal
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

from faultkit import PageLoad, PostgresProxy, Stack, check_invariants, wait_until
from test_collector_crash import ensure_postgres_running, restart_postgres_immediately

PHASE = 2.0


def abandoned_batches(stack):
    """Engine batches given up by the deadline (a database call that never answered; see withDeadline)."""
    return stack.services["profile-engine"].log_path.read_text().count("batch abandoned")


def phases_acknowledged(load, phases):
    for phase in phases:
        assert load.acked_in_phase[phase] > 0, f"nothing acknowledged {phase}: answers {dict(load.answers)}"


def post_batch(stack, events, timeout=30, **envelope):
    start = time.time()
    response = requests.post(stack.collector.url + "/v1/batch", json={"batch": events, **envelope},
                             auth=(stack.write_key, ""), timeout=timeout)
    return response, time.time() - start


def survived_or_crashed(service, request):
    """Makes `request`; None when the connection broke because the service crashed meanwhile (the known
    postgres-nio defect described below, which a supervisor answers with a restart). A broken
    connection from a service that is still running is a failure."""
    try:
        return request()
    except requests.ConnectionError:
        try:
            service.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{service.name} broke the connection but is still running") from None
        return None


def test_sigkill_of_each_service_during_load(bin_dir, migrated, start_service, report):
    stack = Stack(bin_dir, start_service, migrated)
    reads = {"ok": 0, "failed": 0}
    stop_reading = threading.Event()

    def read_profiles():
        while not stop_reading.is_set():
            try:
                ok = stack.api_get("/v1/profiles", site=stack.slug, limit=5).status_code == 200
            except requests.RequestException:
                ok = False
            reads["ok" if ok else "failed"] += 1
            time.sleep(0.05)

    reader = threading.Thread(target=read_profiles, daemon=True)
    reader.start()
    load = PageLoad(stack.collector.url, stack.write_key).start()
    phases = ["before the kills"]
    try:
        load.run_phase(phases[0], PHASE)
        for name in ("collector", "profile-engine", "profile-api"):
            code, _ = stack.services[name].stop(signal.SIGKILL)
            assert code == -signal.SIGKILL
            stack.restart(name)
            phases.append(f"after the {name} restart")
            load.run_phase(phases[-1], PHASE)
    finally:
        load.finish()
        stop_reading.set()
        reader.join(timeout=10)

    summary = check_invariants(stack, load.acknowledged, receipts=load.receipts)
    phases_acknowledged(load, phases)
    assert not load.unexpected, load.unexpected[:3]
    listed = stack.api_get("/v1/profiles", site=stack.slug, limit=5)
    assert listed.status_code == 200 and listed.json()["data"], listed.text
    report(f"SIGKILL of collector, engine and API in turn under load, each restarted; {summary}; "
           f"API reads during the run: {reads['ok']} ok, {reads['failed']} failed (the API was down between kill and restart)")


def test_postgres_immediate_restart_during_load(bin_dir, migrated, start_service, server_url, report):
    stack = Stack(bin_dir, start_service, migrated)
    with migrated.connect() as conn:
        conn.execute("CHECKPOINT")  # replay only this test's WAL at recovery
    load = PageLoad(stack.collector.url, stack.write_key).start()
    try:
        load.run_phase("before the restart", PHASE)
        started = time.time()
        restart_postgres_immediately()
        with load.lock:
            load.phase = "postgres restarting"
        stack.all_ready()
        recovered = time.time() - started
        load.run_phase("after the restart", PHASE)
    finally:
        load.finish()
        ensure_postgres_running(server_url)

    summary = check_invariants(stack, load.acknowledged, receipts=load.receipts)
    phases_acknowledged(load, ["before the restart", "after the restart"])
    for service in stack.services.values():
        assert service.process.poll() is None, f"{service.name} did not survive the Postgres restart"
    report(f"pg_ctl restart -m immediate under load; all three services ready again {recovered:.1f} s after it began, "
           f"none restarted; engine batches abandoned by the deadline: {abandoned_batches(stack)}; {summary}")


def test_postgres_unreachable_for_ten_seconds(bin_dir, migrated, start_service, server_url, report):
    """Postgres cut off by a proxy for 10 s: the collector answers 503 quickly and recovers by
    itself; the engine reconnects and LISTENs again, so events are applied on notification long
    before its (deliberately slow) polling would find them."""
    poll_ms = 60_000
    proxy = PostgresProxy(int(server_url.rsplit(":", 1)[1].split("/")[0]))
    proxied = migrated.url.replace(f":{migrated.url.rsplit(':', 1)[1].split('/')[0]}/", f":{proxy.port}/")
    try:
        stack = Stack(bin_dir, start_service, migrated, database_url=proxied,
                      engine={"ENGINE_POLL_INTERVAL_MS": poll_ms})
        load = PageLoad(stack.collector.url, stack.write_key).start()
        probes = []
        crashes = []
        try:
            load.run_phase("before the outage", PHASE)
            proxy.cut()
            cut_at = time.time()
            with load.lock:
                load.phase = "postgres unreachable"
            while time.time() - cut_at < 10:
                if stack.collector.process.poll() is None:
                    answer = survived_or_crashed(stack.collector, lambda: post_batch(
                        stack, [{"type": "track", "messageId": f"probe-{uuid.uuid4().hex}", "anonymousId": "probe",
                                 "event": "Probe"}]))
                    if answer is not None:
                        response, seconds = answer
                        probes.append((response.status_code, seconds, response.headers.get("content-type", ""),
                                       response.json()))
                ready = {}
                for name, service in stack.services.items():
                    if service.process.poll() is None:
                        answer = survived_or_crashed(service, lambda: requests.get(service.url + "/ready", timeout=10))
                        if answer is not None:
                            ready[name] = answer.status_code
                assert all(code == 503 for code in ready.values()), f"/ready while Postgres is unreachable: {ready}"
                time.sleep(0.5)
            with load.lock:
                load.phase = "recovering"
            restored_at = time.time()
            proxy.restore()
            # Known defect, reported rather than hidden: postgres-nio (1.33) can stop the process with a
            # precondition failure (RowStreamStateMachine: "How can we receive a body part, after a
            # channelReadComplete…") when a connection closes while a row stream is waiting for
            # demand. The deployment restarts a crashed service (docker-compose `restart:`); so does
            # this test, and the invariants below must still hold.
            for name, service in list(stack.services.items()):
                if service.process.poll() is not None:
                    fatal = next((line for line in service.logs().splitlines() if "Fatal error" in line), "no fatal line")
                    crashes.append(f"{name} exited with {service.process.returncode} ({fatal.strip()[:160]})")
                    stack.restart(name)
            stack.all_ready(timeout=30)
            ready_after = time.time() - restored_at
            # The engine's listener is back: a LISTEN session opened after the restore.
            wait_until(lambda: migrated.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%%' "
                "AND backend_start > to_timestamp(%s)", (restored_at,))[0][0] > 0, 30, "a new LISTEN session")
            listening_after = time.time() - restored_at
            load.run_phase("after the outage", PHASE)
        finally:
            load.finish()

        assert probes and all(status == 503 for status, *_ in probes), f"answers during the outage: {probes[:3]}"
        assert all("json" in kind and body.get("code") for _, _, kind, body in probes), probes[:3]
        slowest = max(seconds for _, seconds, _, _ in probes)
        # Bounded by WRITE_TIMEOUT_SECONDS (5 s) or the write-key lookup's 3 s; generous for a loaded CI machine.
        assert slowest < 8, f"the collector took {slowest:.1f} s to answer while Postgres was unreachable"
        assert load.answers["503"] > 0, f"the load saw no 503 during the outage: {dict(load.answers)}"

        summary = check_invariants(stack, load.acknowledged, receipts=load.receipts)
        phases_acknowledged(load, ["before the outage", "after the outage"])

        # Applied on notification: sooner than the 60 s poll interval. Workers whose calls hung during
        # the outage are freed by the 10 s batch deadline, so allow a few deadlines, not a poll.
        page_id = f"late-{uuid.uuid4().hex}"
        response, _ = post_batch(stack, [{"type": "page", "messageId": page_id, "anonymousId": "late-visitor",
                                          "properties": {"url": "https://faults.example/late", "path": "/late"}}])
        assert response.status_code == 200, response.text
        sent = time.time()
        wait_until(lambda: migrated.query("SELECT count(*) FROM page_views WHERE client_page_view_id = %s", (page_id,))[0][0],
                   40, "the page view of an event sent after the outage (the engine did not hear the notification)")
        applied_after = time.time() - sent
        report(f"Postgres unreachable 10 s (proxy refusing connections): {len(probes)} probe requests all 503 with a JSON "
               f"error, slowest {slowest:.2f} s; /ready 503 on all three meanwhile; ready {ready_after:.1f} s and engine "
               f"LISTENing again {listening_after:.1f} s after the restore; an event sent afterwards applied in "
               f"{applied_after:.2f} s (poll interval {poll_ms // 1000} s); engine batches abandoned by the deadline: "
               f"{abandoned_batches(stack)}; services that crashed and were restarted as a supervisor would: "
               f"{'; '.join(crashes) if crashes else 'none'}; {summary}")
    finally:
        proxy.close()


DISK_FULL_SQL = """
CREATE FUNCTION faults_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file "base/16384/16385": No space left on device'
        USING ERRCODE = 'disk_full', HINT = 'Check free disk space.';
END $$;
CREATE TRIGGER faults_disk_full BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION faults_disk_full();
"""
LIFT_SQL = "DROP TRIGGER faults_disk_full ON {table}; DROP FUNCTION faults_disk_full();"


def test_disk_full_on_insert(bin_dir, migrated, start_service, report):
    """A full disk, as Postgres reports it (SQLSTATE 53100 from a trigger): first where the collector
    inserts, then where the engine inserts. The collector answers 5xx with a JSON error and
    acknowledges nothing; the engine keeps the events queued without counting the failure against
    them (it is not the event's fault), so nothing is dead-lettered; both recover when it is lifted."""
    stack = Stack(bin_dir, start_service, migrated,
                  engine={"ENGINE_MAX_ATTEMPTS": 2, "ENGINE_RETRY_BASE_MS": 100, "ENGINE_POLL_INTERVAL_MS": 200})
    load = PageLoad(stack.collector.url, stack.write_key).start()
    try:
        load.run_phase("before", PHASE)
        with migrated.connect() as conn:
            conn.execute(DISK_FULL_SQL.replace("{table}", "event_dedupe"))
        with load.lock:
            load.phase = "collector disk full"
        response, seconds = post_batch(stack, PageLoad.batch(load, "probe"))
        load.run_phase("collector disk full", PHASE)
        assert requests.get(stack.collector.url + "/ready", timeout=10).status_code == 200
        with migrated.connect() as conn:
            conn.execute(LIFT_SQL.replace("{table}", "event_dedupe"))
            conn.execute(DISK_FULL_SQL.replace("{table}", "page_views"))
        load.run_phase("engine disk full", PHASE * 1.5)
        queued, attempts = migrated.query("SELECT count(*), coalesce(max(attempts), 0) FROM event_queue WHERE site_id = %s",
                                          (stack.site_id,))[0]
        with migrated.connect() as conn:
            conn.execute(LIFT_SQL.replace("{table}", "page_views"))
        load.run_phase("after", PHASE)
    finally:
        load.finish()

    assert 500 <= response.status_code < 600, response.text
    assert "json" in response.headers["content-type"] and response.json()["code"], response.text
    # An event acknowledged while no insert could succeed would be missing from the invariants below.
    assert load.answers["503"] > 0, f"the load saw no 503 while the disk was full: {dict(load.answers)}"
    assert queued > 0, "the engine's disk-full phase left nothing queued: it did not take effect"
    assert attempts == 0, f"a disk-full error counted as an attempt of the event ({attempts})"
    summary = check_invariants(stack, load.acknowledged, receipts=load.receipts)
    phases_acknowledged(load, ["before", "engine disk full", "after"])
    report(f"disk full (SQLSTATE 53100) on the collector's insert: answered {response.status_code} with a JSON error "
           f"in {seconds:.2f} s, /ready still 200; on the engine's insert: {queued} events kept "
           f"queued with 0 attempts counted; both recovered when lifted; {summary}")


def test_client_clock_skew(bin_dir, migrated, start_service, report):
    """Clients whose clocks are days off: the event time is corrected by (receivedAt − sentAt) as
    Segment does, a future time without sentAt is clamped to the arrival time, and the profile's
    page views and last_seen_at carry the corrected times."""
    stack = Stack(bin_dir, start_service, migrated)
    now = datetime.now(timezone.utc)
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    cases = {
        # messageId: (client clock offset, event age on the client's clock, sentAt given, expected age at arrival)
        "ahead-2d": (timedelta(days=2), timedelta(seconds=30), True, timedelta(seconds=30)),
        "behind-3y": (-timedelta(days=3 * 365), timedelta(minutes=5), True, timedelta(minutes=5)),
        "future-no-sentat": (timedelta(days=1), timedelta(0), False, timedelta(0)),
    }
    acknowledged = set()
    for case, (offset, age, with_sent_at, _) in cases.items():
        client_now = now + offset
        page_id = f"{case}-{uuid.uuid4().hex[:8]}"
        events = [{"type": "page", "messageId": page_id, "anonymousId": f"skew-{case}", "timestamp": iso(client_now - age),
                   "properties": {"url": f"https://faults.example/{case}", "path": f"/{case}"}}]
        envelope = {"sentAt": iso(client_now)} if with_sent_at else {}
        response, _ = post_batch(stack, events, **envelope)
        assert response.status_code == 200 and response.json()["stored"] == 1, response.text
        acknowledged.add(page_id)
        cases[case] = (*cases[case], page_id)
    # A timestamp before 2000 is refused with the field named, the rest of the batch kept.
    response, _ = post_batch(stack, [{"type": "track", "messageId": "ancient", "anonymousId": "skew-ancient", "event": "Old",
                                      "timestamp": "1970-01-01T00:00:10Z"}])
    assert response.status_code in (200, 400, 422), response.text
    assert "timestamp" in response.text

    summary = check_invariants(stack, acknowledged)
    checked = []
    for case, (_, _, _, expected_age, page_id) in cases.items():
        occurred, received, viewed, last_seen = migrated.query("""
            SELECT e.occurred_at, e.received_at, v.viewed_at, p.last_seen_at
            FROM events e JOIN page_views v ON v.event_id = e.id JOIN visitor_profiles p ON p.id = v.profile_id
            WHERE e.site_id = %s AND e.message_id = %s""", (stack.site_id, page_id))[0]
        error = abs((received - occurred) - expected_age)
        assert error < timedelta(seconds=5), f"{case}: occurred {occurred}, received {received}, expected age {expected_age}"
        # (page views keep milliseconds)
        assert abs(viewed - occurred) <= timedelta(milliseconds=1) and last_seen <= received + timedelta(seconds=1), (case, viewed, last_seen)
        checked.append(f"{case} → {(received - occurred).total_seconds():.0f} s before arrival")
    report(f"client clocks days off: {', '.join(checked)} (as sent on the client's clock); a pre-2000 timestamp refused "
           f"naming the field; page views and last_seen_at carry the corrected times; {summary}")
