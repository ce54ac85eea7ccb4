-- =============================================================================
-- Profile Builder — the journey rollups on a cadence of their own
--
-- The engine recomputes the rollups of recent days every minute. At 111,000 page views a day
-- the journey rollup was the largest single part of that refresh (3.8 s of 12 s, with the
-- session paths it reads; docs/BENCHMARKS.md, 2026-12-06). `analytics_refresh(from, to,
-- journeys)` leaves the session-path and journey rollups alone when `journeys` is false, so the
-- engine refreshes them less often (ANALYTICS_JOURNEY_REFRESH_SECONDS). Every other rollup is
-- recomputed as before. `analytics_refresh(from, to)` still recomputes everything. A rebuild and
-- the tests call it.
-- =============================================================================

CREATE FUNCTION analytics_refresh(p_from date, p_to date, p_journeys boolean)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    lo      date := date_trunc('week', p_from)::date;
    hi      date := date_trunc('week', p_to - 1)::date + 7;
    lo_at   timestamptz;
    hi_at   timestamptz;
    zone    text;
    site    bigint;
    written bigint := 0;
    n       bigint;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN
        RAISE EXCEPTION 'analytics_refresh: need p_from < p_to (got %, %)', p_from, p_to;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('profile_builder.analytics_refresh'));
    SELECT min(p_from::timestamp AT TIME ZONE time_zone), max(p_to::timestamp AT TIME ZONE time_zone)
      INTO lo_at, hi_at FROM analytics_time_zones;
    IF p_journeys THEN
        DELETE FROM analytics_session_path_rollup WHERE started_at >= lo_at AND started_at < hi_at;
        FOR site IN SELECT id FROM sites ORDER BY 1 LOOP
            INSERT INTO analytics_session_path_rollup (session_id, site_id, started_at, paths, viewed_at, pages, duration_seconds,
                                                       entry_page, exit_page, measured)
            SELECT p.session_id, site, p.started_at, p.paths, p.viewed_at, p.pages, p.duration_seconds, p.entry_page, p.exit_page, p.measured
              FROM analytics_session_paths(site, lo_at, hi_at, NULL) p;
            GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
        END LOOP;
    END IF;
    FOR zone IN SELECT time_zone FROM analytics_time_zones ORDER BY 1 LOOP
        DELETE FROM analytics_traffic_rollup WHERE time_zone = zone AND period_start >= lo AND period_start < hi;
        DELETE FROM analytics_page_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_interest_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_visitor_sketch_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        IF p_journeys THEN
            DELETE FROM analytics_journey_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        END IF;
        FOR site IN SELECT id FROM sites ORDER BY 1 LOOP
            INSERT INTO analytics_traffic_rollup (site_id, time_zone, period, period_start, visitors, sessions,
                                                  bounced_sessions, duration_seconds, page_views)
            SELECT site, zone, t.* FROM analytics_traffic(site, zone, lo, hi, NULL) t;
            GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
            INSERT INTO analytics_page_rollup (site_id, time_zone, day, path, views, entries, exits)
            SELECT site, zone, p.* FROM analytics_pages(site, zone, p_from, p_to, NULL) p;
            GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
            INSERT INTO analytics_interest_rollup (site_id, time_zone, day, target_kind, target_id, profiles, signals)
            SELECT site, zone, i.* FROM analytics_interests(site, zone, p_from, p_to, NULL) i;
            GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
            INSERT INTO analytics_visitor_sketch_rollup (site_id, time_zone, day, registers, ranks)
            SELECT site, zone, v.* FROM analytics_visitor_sketches(site, zone, p_from, p_to) v;
            GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
            IF p_journeys THEN
                INSERT INTO analytics_journey_rollup (site_id, time_zone, day, kind, key, n)
                SELECT site, zone, j.* FROM analytics_journey_rollup_rows(site, zone, p_from, p_to) j;
                GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
            END IF;
        END LOOP;
        UPDATE analytics_time_zones SET refreshed_at = now() WHERE time_zone = zone;
    END LOOP;
    RETURN written;
END;
$$;

CREATE OR REPLACE FUNCTION analytics_refresh(p_from date, p_to date)
RETURNS bigint
LANGUAGE sql
AS $$ SELECT analytics_refresh(p_from, p_to, true) $$;

COMMENT ON FUNCTION analytics_refresh(date, date, boolean) IS 'Recomputes the analytics rollups (every site, every zone of analytics_time_zones) for local days in [p_from, p_to), as analytics_refresh(date, date) does, but the session-path and journey rollups only when p_journeys: the engine refreshes those on their own cadence (ANALYTICS_JOURNEY_REFRESH_SECONDS). Returns the rows written.';
COMMENT ON FUNCTION analytics_refresh(date, date) IS 'Recomputes all analytics rollups, journeys included, for local days in [p_from, p_to): analytics_refresh(p_from, p_to, true). `profile-engine analytics rebuild` calls it for all days.';
