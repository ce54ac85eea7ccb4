"""The engine's exactly-once promise under SIGKILL: a large backlog is applied by two engine
processes while one of them is killed again and again; the result must equal a clean run by a
single engine over the same events."""
import signal
import time

import psycopg

from conftest import Database

VISITORS = 10_000
EVENTS_PER_VISITOR = 10  # 100,000 events

BACKLOG_SQL = """
INSERT INTO sites (slug, name, write_key) VALUES ('crash', 'Crash test', 'wk-crash');
WITH visitors AS (
    SELECT v, 'anon-' || v AS anon,
           -- one visitor in ten shares its email with the previous one (a second device): they must merge
           CASE WHEN v % 10 = 0 THEN 'person-' || (v - 1) ELSE 'person-' || v END || '@example.com' AS email,
           timestamptz '2026-01-05 09:00:00+00' + (v % 500) * interval '1 hour' AS t0
    FROM generate_series(1, {visitors}) v
), raw AS (
    -- 8 page views in two sessions (an hour apart), one dwell interaction, one identify
    SELECT v, anon, 'page' AS type, NULL::text AS event, t0 + (n * 3 + CASE WHEN n >= 4 THEN 60 ELSE 0 END) * interval '1 minute' AS at,
           jsonb_build_object('url', 'https://crash.example/p' || (n % 5), 'path', '/p' || (n % 5), 'title', 'Page ' || (n % 5)) AS properties,
           '{}'::jsonb AS traits, 'pv-' || v || '-' || n AS message_id
    FROM visitors, generate_series(0, 7) n
    UNION ALL
    SELECT v, anon, 'interaction', 'dwell', t0 + interval '2 minutes', jsonb_build_object('dwellMs', 1000 * (v % 60), 'path', '/p0'),
           '{}'::jsonb, 'dw-' || v FROM visitors
    UNION ALL
    SELECT v, anon, 'identify', NULL, t0 + interval '30 minutes', '{}'::jsonb,
           jsonb_build_object('email', email, 'name', 'Person ' || v, 'job_title', CASE WHEN v % 3 = 0 THEN 'CTO' ELSE 'Engineer' END),
           'id-' || v FROM visitors
), inserted AS (
    INSERT INTO events (site_id, message_id, type, anonymous_id, event, properties, traits, occurred_at, received_at)
    SELECT 1, message_id, type, anon, event, properties, traits, at, now() FROM raw ORDER BY v, at
    RETURNING id, received_at, anonymous_id
)
INSERT INTO event_queue (event_id, event_received_at, site_id, shard)
SELECT id, received_at, 1, abs(hashtext(anonymous_id)) % 64 FROM inserted ORDER BY id;
"""

# One row per surviving profile, keyed by its identities so that two runs can be compared
# without depending on generated ids.
FINGERPRINT_SQL = """
SELECT (SELECT string_agg(kind || ':' || value, ',' ORDER BY kind, value) FROM profile_identities i WHERE i.profile_id = p.id) AS key,
       p.fields::text, p.stage,
       (SELECT count(*) FROM sessions s WHERE s.profile_id = p.id),
       (SELECT count(*) FROM page_views v WHERE v.profile_id = p.id),
       (SELECT coalesce(sum(dwell_ms), 0) FROM page_views v WHERE v.profile_id = p.id),
       (SELECT row(sessions_count, page_views_count, pages_per_session, total_time_seconds, bounce_count, return_visits)::text
        FROM engagement_metrics m WHERE m.profile_id = p.id)
FROM visitor_profiles p WHERE p.merged_into IS NULL ORDER BY 1
"""


def wait_for_empty_queue(db, timeout, on_tick=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        remaining = db.query("SELECT count(*) FROM event_queue")[0][0]
        if remaining == 0:
            return
        if on_tick:
            on_tick(remaining)
        time.sleep(0.5)
    raise AssertionError(f"queue not drained after {timeout}s ({remaining} left)")


def test_engine_killed_repeatedly_equals_a_clean_run(bin_dir, migrated, server_url, start_service):
    with migrated.connect() as conn:
        conn.execute(BACKLOG_SQL.replace("{visitors}", str(VISITORS)))
    assert migrated.query("SELECT count(*) FROM event_queue")[0][0] == VISITORS * EVENTS_PER_VISITOR

    # The same backlog, copied before anything is applied, for the clean reference run.
    clean = Database(server_url)
    try:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{clean.name}"')
            conn.execute(f'CREATE DATABASE "{clean.name}" TEMPLATE "{migrated.name}"')

        # Crash run: two engines; one is SIGKILLed every ~1.5 s and restarted.
        engine_env = {"ENGINE_POLL_INTERVAL_MS": 200, "ENGINE_BATCH_SIZE": 100, "ENGINE_RETRY_BASE_MS": 10}
        steady = start_service("profile-engine", migrated, **engine_env).wait_ready()
        victim = start_service("profile-engine", migrated, **engine_env).wait_ready()
        kills = 0

        def kill_and_restart(_remaining):
            nonlocal victim, kills
            if time.time() - kill_and_restart.last >= 1.5:
                victim.stop(signal.SIGKILL)
                kills += 1
                victim = start_service("profile-engine", migrated, **engine_env).wait_ready()
                kill_and_restart.last = time.time()
        kill_and_restart.last = time.time()
        wait_for_empty_queue(migrated, timeout=600, on_tick=kill_and_restart)
        steady.stop()
        victim.stop()
        assert kills >= 2, "the engines finished before they could be killed twice; raise the backlog"

        # Reference run: one engine, never disturbed.
        reference = start_service("profile-engine", clean, **engine_env).wait_ready()
        wait_for_empty_queue(clean, timeout=600)
        reference.stop()

        crashed = migrated.query(FINGERPRINT_SQL)
        expected = clean.query(FINGERPRINT_SQL)
        assert len(expected) == VISITORS - VISITORS // 10
        assert crashed == expected
        assert migrated.query("SELECT count(*) FROM dead_letters")[0][0] == 0
        assert migrated.query("SELECT count(*) FROM page_views")[0][0] == VISITORS * 8
        print(f"engine crash test: {VISITORS * EVENTS_PER_VISITOR} events, {kills} SIGKILLs, {len(crashed)} profiles identical to the clean run")
    finally:
        clean.drop()
