-- =============================================================================
-- Profile Builder — rollups for journeys and funnels (issues #7 and #9)
--
-- /v1/journeys, /v1/funnels and the journeys report read every page view of every session in
-- their range; over millions of page views that takes minutes. Two rollups make them fast:
--   * analytics_session_path_rollup: each non-bot session once, its pages as two small arrays
--     (paths, view times). Funnels with any steps scan these instead of joining page_views.
--   * analytics_journey_rollup: per site, zone and local day of session start, the figures the
--     journeys answers add up (entries, exits, views, distributions, path n-grams).
-- Both are exactly what the analytics_* function of the same name returns (the live answers call
-- those functions too, so rollup and live figures come from one definition), except that a
-- day keeps its 1000 most frequent n-grams of each length (see analytics_refresh below).
-- analytics_refresh() is replaced so that the engine's refresh and rebuild keep them too.
-- Documented in docs/SQL.md.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Sessions as page sequences
-- -----------------------------------------------------------------------------
-- Non-bot sessions of p_site started in [p_from, p_to), segment = current members (or NULL).
-- Pages are in the order the journeys queries read them: by view time, then page view id.
-- The session_analytics figures are NULL when the engine has not measured the session yet.
CREATE FUNCTION analytics_session_paths(p_site bigint, p_from timestamptz, p_to timestamptz, p_segment bigint)
RETURNS TABLE (session_id uuid, started_at timestamptz, paths text[], viewed_at timestamptz[],
               pages int, duration_seconds int, entry_page text, exit_page text, measured boolean)
LANGUAGE sql STABLE
AS $$
    -- One index lookup of page_views per session: the engine refreshes a few days every minute,
    -- and a join would read all of page_views each time.
    SELECT se.id, se.started_at, coalesce(v.paths, '{}'), coalesce(v.viewed_at, '{}'),
           sa.pages, sa.duration_seconds, sa.entry_page, sa.exit_page, sa.session_id IS NOT NULL
      FROM sessions se
      LEFT JOIN session_analytics sa ON sa.session_id = se.id
     CROSS JOIN LATERAL (
           SELECT array_agg(pv.path ORDER BY pv.viewed_at, pv.id) AS paths, array_agg(pv.viewed_at ORDER BY pv.viewed_at, pv.id) AS viewed_at
             FROM page_views pv WHERE pv.session_id = se.id) v
     WHERE se.site_id = p_site AND NOT se.is_bot AND se.started_at >= p_from AND se.started_at < p_to
       AND (p_segment IS NULL OR EXISTS (
            SELECT 1 FROM segment_memberships m
             WHERE m.segment_id = p_segment AND m.profile_id = se.profile_id AND m.left_at IS NULL))
$$;

COMMENT ON FUNCTION analytics_session_paths(bigint, timestamptz, timestamptz, bigint) IS 'Non-bot sessions of p_site started in [p_from, p_to) (p_segment: current members only, or NULL), each with its page paths and view times in view order and its session_analytics figures (NULL when not measured yet). The source of analytics_session_path_rollup.';

CREATE TABLE analytics_session_path_rollup (
    session_id          uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    site_id             bigint NOT NULL REFERENCES sites (id),
    started_at          timestamptz NOT NULL,
    paths               text[] NOT NULL,
    viewed_at           timestamptz[] NOT NULL CHECK (cardinality(viewed_at) = cardinality(paths)),
    pages               int,
    duration_seconds    int,
    entry_page          text,
    exit_page           text,
    measured            boolean NOT NULL
);
CREATE INDEX analytics_session_path_rollup_site_started_idx ON analytics_session_path_rollup (site_id, started_at);
-- A funnel's later steps can only be reached by sessions that viewed its first two pages.
CREATE INDEX analytics_session_path_rollup_paths_idx ON analytics_session_path_rollup USING gin (paths);

COMMENT ON TABLE analytics_session_path_rollup IS 'analytics_session_paths() of every site, kept by analytics_refresh(): one row per non-bot session with its pages in view order. Funnels read it instead of page_views; independent of time zones (sessions are kept by start instant).';
COMMENT ON COLUMN analytics_session_path_rollup.session_id IS 'sessions.id (erasing the session deletes the row).';
COMMENT ON COLUMN analytics_session_path_rollup.started_at IS 'sessions.started_at.';
COMMENT ON COLUMN analytics_session_path_rollup.paths IS 'page_views.path of the session, ordered by viewed_at, then page view id.';
COMMENT ON COLUMN analytics_session_path_rollup.viewed_at IS 'page_views.viewed_at of the same page views, same order.';
COMMENT ON COLUMN analytics_session_path_rollup.pages IS 'session_analytics.pages (NULL when the session has no session_analytics row).';
COMMENT ON COLUMN analytics_session_path_rollup.duration_seconds IS 'session_analytics.duration_seconds (NULL likewise).';
COMMENT ON COLUMN analytics_session_path_rollup.entry_page IS 'session_analytics.entry_page.';
COMMENT ON COLUMN analytics_session_path_rollup.exit_page IS 'session_analytics.exit_page.';
COMMENT ON COLUMN analytics_session_path_rollup.measured IS 'True when the session has a session_analytics row (entries, exits and distributions count only those).';

-- Time on site in the journeys' buckets: 0 for under 10 s ... 5 for 30 minutes and more.
CREATE FUNCTION analytics_time_on_site_bucket(p_seconds int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT width_bucket(p_seconds, ARRAY[10, 60, 180, 600, 1800]) $$;

CREATE FUNCTION analytics_time_on_site_label(p_bucket int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (ARRAY['0-10s', '10-60s', '1-3m', '3-10m', '10-30m', '30m+'])[p_bucket + 1] $$;

COMMENT ON FUNCTION analytics_time_on_site_bucket(int) IS 'Time-on-site bucket of a session duration in seconds: 0 (under 10 s), 1 (10-60 s), 2 (1-3 min), 3 (3-10 min), 4 (10-30 min), 5 (30 min and more).';
COMMENT ON FUNCTION analytics_time_on_site_label(int) IS 'The label of a time-on-site bucket: 0-10s, 10-60s, 1-3m, 3-10m, 10-30m, 30m+.';

-- -----------------------------------------------------------------------------
-- Journey figures per local day
-- -----------------------------------------------------------------------------
-- Every figure of /v1/journeys is a count over sessions, so it adds up over days. Rows are
-- (day, kind, key, n); the kinds:
--   entry / exit {path}: measured sessions entering / leaving on the path (session_analytics)
--   view {path}: page views of the path; visited {path}: sessions that viewed it at least once
--   path {p1, ..., pL}: occurrences of L consecutive pages (2 <= L <= 10), every L if p_length is NULL
--   pages {n}: measured sessions with n pages; time {bucket}: measured sessions by time on site
--   sessions, pages_sum, seconds_sum {}: measured sessions, their pages and seconds (for averages)
-- Sessions come from analytics_session_path_rollup (p_live false) or from the raw tables through
-- analytics_session_paths() (p_live true; p_segment applies only there).
CREATE FUNCTION analytics_journeys(p_site bigint, p_tz text, p_from timestamptz, p_to timestamptz,
                                   p_segment bigint, p_live boolean, p_length int)
RETURNS TABLE (day date, kind text, key text[], n bigint)
LANGUAGE sql STABLE
AS $$
    WITH s AS (
        SELECT l.started_at, l.paths, l.pages, l.duration_seconds, l.entry_page, l.exit_page, l.measured
          FROM analytics_session_paths(p_site, p_from, p_to, p_segment) l WHERE p_live
        UNION ALL
        SELECT r.started_at, r.paths, r.pages, r.duration_seconds, r.entry_page, r.exit_page, r.measured
          FROM analytics_session_path_rollup r
         WHERE NOT p_live AND r.site_id = p_site AND r.started_at >= p_from AND r.started_at < p_to
    ), d AS (
        SELECT (started_at AT TIME ZONE p_tz)::date AS day, * FROM s
    ), views AS (
        -- A view is a session's visit of the path at the path's first position in the session.
        SELECT d.day, u.path, count(*) AS views, count(*) FILTER (WHERE array_position(d.paths, u.path) = u.i) AS visits
          FROM d, unnest(d.paths) WITH ORDINALITY AS u(path, i) GROUP BY 1, 2
    ), measured AS (
        SELECT day, count(*) AS sessions, sum(pages) AS pages_sum, sum(duration_seconds) AS seconds_sum FROM d WHERE measured GROUP BY 1
    )
    SELECT v.day, k.kind, ARRAY[v.path], k.n FROM views v, LATERAL (VALUES ('view', v.views), ('visited', v.visits)) AS k(kind, n)
    UNION ALL
    SELECT d.day, 'path', d.paths[i:i + len - 1], count(*)
      FROM d, generate_subscripts(d.paths, 1) i,
           generate_series(greatest(coalesce(p_length, 2), 2), least(coalesce(p_length, 10), cardinality(d.paths) - i + 1)) len
     GROUP BY 1, 3
    UNION ALL
    SELECT day, 'entry', ARRAY[entry_page], count(*) FROM d WHERE measured GROUP BY 1, 3
    UNION ALL
    SELECT day, 'exit', ARRAY[exit_page], count(*) FROM d WHERE measured GROUP BY 1, 3
    UNION ALL
    SELECT day, 'pages', ARRAY[pages::text], count(*) FROM d WHERE measured GROUP BY 1, 3
    UNION ALL
    SELECT day, 'time', ARRAY[analytics_time_on_site_bucket(duration_seconds)::text], count(*) FROM d WHERE measured GROUP BY 1, 3
    UNION ALL
    SELECT m.day, t.kind, '{}', t.n
      FROM measured m, LATERAL (VALUES ('sessions', m.sessions), ('pages_sum', m.pages_sum), ('seconds_sum', m.seconds_sum)) AS t(kind, n)
$$;

COMMENT ON FUNCTION analytics_journeys(bigint, text, timestamptz, timestamptz, bigint, boolean, int) IS 'Journey figures per local day of p_tz (day of session start) for non-bot sessions of p_site started in [p_from, p_to), as (day, kind, key, n) rows that add up over days: entry, exit, view, visited {path}; path {n-gram} (length p_length, or 2-10 when NULL); pages {n}; time {bucket}; sessions, pages_sum, seconds_sum {}. Sessions from analytics_session_path_rollup, or (p_live) from the raw tables with p_segment. The source of analytics_journey_rollup.';

CREATE TABLE analytics_journey_rollup (
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('entry', 'exit', 'view', 'visited', 'path', 'path_omitted', 'pages', 'time',
                                                   'sessions', 'pages_sum', 'seconds_sum')),
    key             text[] NOT NULL,
    n               bigint NOT NULL,
    PRIMARY KEY (site_id, time_zone, day, kind, key)
);

COMMENT ON TABLE analytics_journey_rollup IS 'analytics_journeys() per site and rollup time zone, kept by analytics_refresh(): the journeys figures of the sessions started on each local day. Path n-grams: the 1000 most frequent of each length per day, and a path_omitted row {length} with the largest count left out.';
COMMENT ON COLUMN analytics_journey_rollup.day IS 'Local day on which the sessions started.';
COMMENT ON COLUMN analytics_journey_rollup.kind IS 'entry, exit, view, visited, path, path_omitted, pages, time, sessions, pages_sum or seconds_sum (see docs/SQL.md).';
COMMENT ON COLUMN analytics_journey_rollup.key IS 'The path ({path}), the n-gram ({p1, ..., pL}), the page count or time bucket ({n}), the n-gram length (path_omitted) or {} for the totals.';
COMMENT ON COLUMN analytics_journey_rollup.n IS 'Sessions, page views or occurrences, by kind; adds up over days.';

-- A day keeps this many of its most frequent n-grams of each length (all of them when it has
-- fewer): sites with long sessions have almost as many distinct n-grams as page views, and a
-- top-200 list over a range never needs more. A range whose days all kept every n-gram answers
-- exactly; otherwise each count may be short by at most the summed path_omitted of its days.
CREATE FUNCTION analytics_journey_paths_per_day() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1000 $$;

COMMENT ON FUNCTION analytics_journey_paths_per_day() IS 'How many path n-grams of each length analytics_journey_rollup keeps per day (1000).';

-- Rows of analytics_journeys() as stored: n-grams beyond the day's top analytics_journey_paths_per_day()
-- of their length are replaced by one path_omitted row holding the largest count left out.
CREATE FUNCTION analytics_journey_rollup_rows(p_site bigint, p_tz text, p_from date, p_to date)
RETURNS TABLE (day date, kind text, key text[], n bigint)
LANGUAGE sql STABLE
AS $$
    WITH j AS (
        SELECT j.*, CASE WHEN j.kind = 'path' THEN count(*) OVER (PARTITION BY j.day, j.kind, cardinality(j.key) ORDER BY j.n DESC) END AS at_least
          FROM analytics_journeys(p_site, p_tz, p_from::timestamp AT TIME ZONE p_tz, p_to::timestamp AT TIME ZONE p_tz, NULL, false, NULL) j
    )
    SELECT day, kind, key, n FROM j WHERE at_least IS NULL OR at_least <= analytics_journey_paths_per_day()
    UNION ALL
    SELECT day, 'path_omitted', ARRAY[cardinality(key)::text], max(n) FROM j WHERE at_least > analytics_journey_paths_per_day() GROUP BY 1, 3
$$;

COMMENT ON FUNCTION analytics_journey_rollup_rows(bigint, text, date, date) IS 'analytics_journeys() of the local days [p_from, p_to) of p_tz from analytics_session_path_rollup, with each day''s n-grams of a length cut to the most frequent analytics_journey_paths_per_day() (count ties kept or left out together) and a path_omitted row per cut length. What analytics_refresh() stores in analytics_journey_rollup.';

-- -----------------------------------------------------------------------------
-- The refresh keeps the journey rollups too
-- -----------------------------------------------------------------------------
-- As in 0005, plus: first the session paths of every session that starts on one of the days in
-- some rollup zone (they are kept by instant, so the zones' earliest and latest midnights bound
-- them), then the journey figures of each zone's days from those session paths.
CREATE OR REPLACE FUNCTION analytics_refresh(p_from date, p_to date)
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
    DELETE FROM analytics_session_path_rollup WHERE started_at >= lo_at AND started_at < hi_at;
    FOR site IN SELECT id FROM sites ORDER BY 1 LOOP
        INSERT INTO analytics_session_path_rollup (session_id, site_id, started_at, paths, viewed_at, pages, duration_seconds,
                                                   entry_page, exit_page, measured)
        SELECT p.session_id, site, p.started_at, p.paths, p.viewed_at, p.pages, p.duration_seconds, p.entry_page, p.exit_page, p.measured
          FROM analytics_session_paths(site, lo_at, hi_at, NULL) p;
        GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
    END LOOP;
    FOR zone IN SELECT time_zone FROM analytics_time_zones ORDER BY 1 LOOP
        DELETE FROM analytics_traffic_rollup WHERE time_zone = zone AND period_start >= lo AND period_start < hi;
        DELETE FROM analytics_page_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_interest_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_visitor_sketch_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_journey_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
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
            INSERT INTO analytics_journey_rollup (site_id, time_zone, day, kind, key, n)
            SELECT site, zone, j.* FROM analytics_journey_rollup_rows(site, zone, p_from, p_to) j;
            GET DIAGNOSTICS n = ROW_COUNT; written := written + n;
        END LOOP;
        UPDATE analytics_time_zones SET refreshed_at = now() WHERE time_zone = zone;
    END LOOP;
    RETURN written;
END;
$$;

COMMENT ON FUNCTION analytics_refresh(date, date) IS 'Recomputes all analytics rollups (every site, every zone of analytics_time_zones) for local days in [p_from, p_to) (traffic widened to whole ISO weeks; session paths for every session starting on those days in any rollup zone); returns the rows written. The engine calls it every minute for the recent days; `profile-engine analytics rebuild` for all days.';
