-- =============================================================================
-- Profile Builder — rollups per segment, for current members
--
-- A report, journey or funnel filtered by a segment counts the current members' sessions, page
-- views and interest signals. Computed from the raw tables that took 6–30 s at 10,000,000 page
-- views (docs/BENCHMARKS.md, 2026-12-06), because a segment's members are scattered over every
-- day. The traffic, page, interest and journey figures, and the session paths funnels read, are
-- therefore also kept per segment, and stay those of the current members in two ways:
--   * recent days are recomputed every minute, like the other rollups, in one pass for all
--     segments (the analytics_* functions with a segment take one pass per segment);
--   * older days change only when somebody enters or leaves the segment. A trigger logs each
--     change (+1 enter, -1 leave) in analytics_segment_changes, and the refresh adds or
--     subtracts that profile's figures for those days (copies or deletes its session paths).
--     Every figure of these rollups is a sum over profiles (a visitor counts once per day or
--     week), so this is exact.
-- analytics_refresh_segments() does both and must run in one REPEATABLE READ transaction: the
-- changes it consumes and the memberships it recomputes from must be the same snapshot, or a
-- change committed in between would be counted twice or never.
-- Old days drift from the raw tables the same way the other rollups do (late events, profile
-- merges, erasure keep their counts); `profile-engine analytics rebuild` recomputes them.
-- Documented in docs/SQL.md.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Membership changes not yet applied to the rollups
-- -----------------------------------------------------------------------------
-- No foreign keys: deleting a segment or erasing a profile removes memberships in the same
-- statement that logs their removal. The refresh skips changes of segments that are gone and
-- consumes every row within a minute, so an erased profile's id does not linger.
CREATE TABLE analytics_segment_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    segment_id  bigint NOT NULL,
    profile_id  uuid NOT NULL,
    delta       smallint NOT NULL CHECK (delta IN (-1, 1))
);

COMMENT ON TABLE analytics_segment_changes IS 'Entries (+1) into and exits (-1) from segments logged by a trigger on segment_memberships, consumed by analytics_refresh_segments() to keep the per-segment rollups of older days those of the current members.';
COMMENT ON COLUMN analytics_segment_changes.delta IS '+1: a membership opened; -1: one closed or was deleted.';

CREATE FUNCTION analytics_log_segment_changes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_segment_changes (segment_id, profile_id, delta)
        SELECT segment_id, profile_id, 1 FROM new_rows WHERE left_at IS NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics_segment_changes (segment_id, profile_id, delta)
        SELECT segment_id, profile_id, -1 FROM old_rows WHERE left_at IS NULL;
    ELSE
        INSERT INTO analytics_segment_changes (segment_id, profile_id, delta)
        SELECT o.segment_id, o.profile_id, -1 FROM old_rows o JOIN new_rows n USING (id)
         WHERE o.left_at IS NULL AND (n.left_at IS NOT NULL OR n.segment_id <> o.segment_id OR n.profile_id <> o.profile_id)
        UNION ALL
        SELECT n.segment_id, n.profile_id, 1 FROM old_rows o JOIN new_rows n USING (id)
         WHERE n.left_at IS NULL AND (o.left_at IS NOT NULL OR n.segment_id <> o.segment_id OR n.profile_id <> o.profile_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER segment_memberships_log_insert AFTER INSERT ON segment_memberships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_log_segment_changes();
CREATE TRIGGER segment_memberships_log_update AFTER UPDATE ON segment_memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_log_segment_changes();
CREATE TRIGGER segment_memberships_log_delete AFTER DELETE ON segment_memberships
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_log_segment_changes();

-- The memberships that exist now are the first changes: the first refresh fills older days from them.
INSERT INTO analytics_segment_changes (segment_id, profile_id, delta)
SELECT segment_id, profile_id, 1 FROM segment_memberships WHERE left_at IS NULL;

-- -----------------------------------------------------------------------------
-- Rollups per segment (same columns as the site-wide ones, plus the segment)
-- -----------------------------------------------------------------------------
CREATE TABLE analytics_segment_traffic_rollup (
    segment_id          bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    site_id             bigint NOT NULL REFERENCES sites (id),
    time_zone           text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    period              text NOT NULL CHECK (period IN ('day', 'week')),
    period_start        date NOT NULL,
    visitors            bigint NOT NULL,
    sessions            bigint NOT NULL,
    bounced_sessions    bigint NOT NULL,
    duration_seconds    bigint NOT NULL,
    page_views          bigint NOT NULL,
    PRIMARY KEY (segment_id, site_id, time_zone, period, period_start)
);

COMMENT ON TABLE analytics_segment_traffic_rollup IS 'analytics_traffic(site, zone, from, to, segment) per segment, site and rollup zone: the traffic of the segment''s current members, kept by analytics_refresh_segments(). Columns as in analytics_traffic_rollup.';

CREATE TABLE analytics_segment_page_rollup (
    segment_id      bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    path            text NOT NULL,
    views           bigint NOT NULL,
    entries         bigint NOT NULL,
    exits           bigint NOT NULL,
    PRIMARY KEY (segment_id, site_id, time_zone, day, path)
);

COMMENT ON TABLE analytics_segment_page_rollup IS 'analytics_pages(site, zone, from, to, segment) per segment, site and rollup zone: views, entries and exits of the segment''s current members per page and local day, kept by analytics_refresh_segments().';

CREATE TABLE analytics_segment_interest_rollup (
    segment_id      bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    target_kind     text NOT NULL CHECK (target_kind IN ('item', 'category')),
    target_id       bigint NOT NULL,
    profiles        bigint NOT NULL,
    signals         bigint NOT NULL,
    PRIMARY KEY (segment_id, site_id, time_zone, day, target_kind, target_id)
);

COMMENT ON TABLE analytics_segment_interest_rollup IS 'analytics_interests(site, zone, from, to, segment) per segment, site and rollup zone: interest signals of the segment''s current members per catalog target and local day, kept by analytics_refresh_segments().';

-- Journeys and funnels (sql/0007) per segment. The journey figures add up over sessions like the
-- others, and keep every n-gram (a segment's days are small). Funnels need each session's pages:
-- the members' rows of analytics_session_path_rollup are copied per segment, so that a funnel
-- reads only its segment's sessions.
CREATE TABLE analytics_segment_journey_rollup (
    segment_id      bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('entry', 'exit', 'view', 'visited', 'path', 'pages', 'time',
                                                   'sessions', 'pages_sum', 'seconds_sum')),
    key             text[] NOT NULL,
    n               bigint NOT NULL,
    PRIMARY KEY (segment_id, site_id, time_zone, day, kind, key)
);

-- A journeys answer reads the day range's figures and the paths of one length: through these two
-- it reads 460,000 index entries of a quarter of the benchmark's segment instead of 1,340,000.
CREATE INDEX analytics_segment_journey_rollup_figures_idx ON analytics_segment_journey_rollup (segment_id, site_id, time_zone, day)
    WHERE kind <> 'path';
CREATE INDEX analytics_segment_journey_rollup_paths_idx ON analytics_segment_journey_rollup (segment_id, site_id, time_zone, cardinality(key), day)
    WHERE kind = 'path';

COMMENT ON TABLE analytics_segment_journey_rollup IS 'analytics_journeys(site, zone, from, to, segment, true, NULL) per segment, site and rollup zone, from the session-path rollup: the journey figures of the segment''s current members per local day of session start, every n-gram kept. Kept by analytics_refresh_segments().';

CREATE TABLE analytics_segment_session_path_rollup (
    segment_id      bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    profile_id      uuid NOT NULL,
    site_id         bigint NOT NULL REFERENCES sites (id),
    started_at      timestamptz NOT NULL,
    paths           text[] NOT NULL,
    viewed_at       timestamptz[] NOT NULL,
    PRIMARY KEY (segment_id, session_id)
);
CREATE INDEX analytics_segment_session_path_rollup_range_idx ON analytics_segment_session_path_rollup (segment_id, site_id, started_at);
CREATE INDEX analytics_segment_session_path_rollup_profile_idx ON analytics_segment_session_path_rollup (segment_id, profile_id);
-- Erasing a session deletes its copies (the foreign key's cascade looks them up by session).
CREATE INDEX analytics_segment_session_path_rollup_session_idx ON analytics_segment_session_path_rollup (session_id);

COMMENT ON TABLE analytics_segment_session_path_rollup IS 'The rows of analytics_session_path_rollup whose session''s profile is a current member of the segment (paths and view times only), kept by analytics_refresh_segments(); funnels filtered by a segment read it.';
COMMENT ON COLUMN analytics_segment_session_path_rollup.profile_id IS 'sessions.profile_id when the row was copied (an exit from the segment removes the rows by it).';

-- -----------------------------------------------------------------------------
-- Figures of a set of members, the same definitions as analytics_traffic/pages/interests (sql/0005)
-- -----------------------------------------------------------------------------
-- Two uses, chosen by p_window, which callers pass as a literal so that the planner sees only one
-- branch of each CASE (these functions are inlined into the calling statement):
--   * p_window false: the logged changes (net per segment and profile, each figure multiplied by
--     it) for instants outside [p_lo, p_hi), reached profile by profile through the profile
--     indexes: what entries and exits add to or take from older days;
--   * p_window true: every current member of every segment, for site p_site's instants inside
--     [p_lo, p_hi): one pass over the recent days for all segments, not one per segment.
-- Who: the net change per segment and profile of the logged changes (p_window false; changes of
-- deleted segments are skipped), or every current membership with +1 (p_window true).
CREATE FUNCTION analytics_segment_members(p_window boolean)
RETURNS TABLE (segment_id bigint, profile_id uuid, delta bigint)
LANGUAGE sql STABLE
AS $$
    SELECT c.segment_id, c.profile_id, sum(c.delta)::bigint
      FROM analytics_segment_changes c JOIN segments g ON g.id = c.segment_id
     WHERE NOT p_window
     GROUP BY 1, 2 HAVING sum(c.delta) <> 0
    UNION ALL
    SELECT m.segment_id, m.profile_id, 1 FROM segment_memberships m WHERE p_window AND m.left_at IS NULL
$$;

CREATE FUNCTION analytics_segment_members_traffic(p_tz text, p_lo timestamptz, p_hi timestamptz, p_window boolean, p_site bigint)
RETURNS TABLE (segment_id bigint, site_id bigint, period text, period_start date, visitors bigint, sessions bigint,
               bounced_sessions bigint, duration_seconds bigint, page_views bigint)
LANGUAGE sql STABLE
AS $$
    WITH who AS (SELECT * FROM analytics_segment_members(p_window)), s AS (
        SELECT c.segment_id, c.delta, se.site_id, se.profile_id, (se.started_at AT TIME ZONE p_tz)::date AS day,
               coalesce(sa.bounced, se.page_count <= 1) AS bounced,
               coalesce(sa.duration_seconds, floor(extract(epoch FROM se.last_activity_at - se.started_at))::int) AS duration
          FROM who c
          JOIN sessions se ON se.profile_id = c.profile_id
          LEFT JOIN session_analytics sa ON sa.session_id = se.id
         WHERE NOT se.is_bot
           AND CASE WHEN p_window THEN se.site_id = p_site AND se.started_at >= p_lo AND se.started_at < p_hi
                    ELSE se.started_at < p_lo OR se.started_at >= p_hi END
    ), per_visitor AS (
        SELECT segment_id, site_id, 'day'::text AS period, day AS period_start, profile_id, delta,
               count(*) AS sessions, count(*) FILTER (WHERE bounced) AS bounced, sum(duration) AS duration
          FROM s GROUP BY 1, 2, 4, 5, 6
        UNION ALL
        SELECT segment_id, site_id, 'week', date_trunc('week', day)::date, profile_id, delta,
               count(*), count(*) FILTER (WHERE bounced), sum(duration)
          FROM s GROUP BY 1, 2, 4, 5, 6
    ), pv AS (
        SELECT c.segment_id, c.delta, pv.site_id, (pv.viewed_at AT TIME ZONE p_tz)::date AS day
          FROM who c
          JOIN page_views pv ON pv.profile_id = c.profile_id
          JOIN sessions se ON se.id = pv.session_id
         WHERE NOT se.is_bot
           AND CASE WHEN p_window THEN pv.site_id = p_site AND pv.viewed_at >= p_lo AND pv.viewed_at < p_hi
                    ELSE pv.viewed_at < p_lo OR pv.viewed_at >= p_hi END
    ), figures AS (
        SELECT segment_id, site_id, period, period_start, sum(delta) AS visitors, sum(delta * sessions) AS sessions,
               sum(delta * bounced) AS bounced, sum(delta * duration) AS duration, 0::numeric AS views
          FROM per_visitor GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT segment_id, site_id, 'day', day, 0, 0, 0, 0, sum(delta) FROM pv GROUP BY 1, 2, 4
        UNION ALL
        SELECT segment_id, site_id, 'week', date_trunc('week', day)::date, 0, 0, 0, 0, sum(delta) FROM pv GROUP BY 1, 2, 4
    )
    SELECT segment_id, site_id, period, period_start, sum(visitors)::bigint, sum(sessions)::bigint, sum(bounced)::bigint,
           sum(duration)::bigint, sum(views)::bigint
      FROM figures GROUP BY 1, 2, 3, 4
$$;

CREATE FUNCTION analytics_segment_members_pages(p_tz text, p_lo timestamptz, p_hi timestamptz, p_window boolean, p_site bigint)
RETURNS TABLE (segment_id bigint, site_id bigint, day date, path text, views bigint, entries bigint, exits bigint)
LANGUAGE sql STABLE
AS $$
    WITH who AS (SELECT * FROM analytics_segment_members(p_window)), figures AS (
        SELECT c.segment_id, pv.site_id, (pv.viewed_at AT TIME ZONE p_tz)::date AS day, pv.path,
               sum(c.delta) AS views, 0::numeric AS entries, 0::numeric AS exits
          FROM who c
          JOIN page_views pv ON pv.profile_id = c.profile_id
          JOIN sessions se ON se.id = pv.session_id
         WHERE NOT se.is_bot
           AND CASE WHEN p_window THEN pv.site_id = p_site AND pv.viewed_at >= p_lo AND pv.viewed_at < p_hi
                    ELSE pv.viewed_at < p_lo OR pv.viewed_at >= p_hi END
         GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT c.segment_id, se.site_id, (se.started_at AT TIME ZONE p_tz)::date, e.path,
               0, sum(c.delta) FILTER (WHERE e.entry), sum(c.delta) FILTER (WHERE NOT e.entry)
          FROM who c
          JOIN sessions se ON se.profile_id = c.profile_id
          JOIN session_analytics sa ON sa.session_id = se.id
          CROSS JOIN LATERAL (VALUES (true, sa.entry_page), (false, sa.exit_page)) AS e(entry, path)
         WHERE NOT se.is_bot AND e.path IS NOT NULL
           AND CASE WHEN p_window THEN se.site_id = p_site AND se.started_at >= p_lo AND se.started_at < p_hi
                    ELSE se.started_at < p_lo OR se.started_at >= p_hi END
         GROUP BY 1, 2, 3, 4
    )
    SELECT segment_id, site_id, day, path, sum(views)::bigint, coalesce(sum(entries), 0)::bigint, coalesce(sum(exits), 0)::bigint
      FROM figures GROUP BY 1, 2, 3, 4
$$;

CREATE FUNCTION analytics_segment_members_interests(p_tz text, p_lo timestamptz, p_hi timestamptz, p_window boolean, p_site bigint)
RETURNS TABLE (segment_id bigint, site_id bigint, day date, target_kind text, target_id bigint, profiles bigint, signals bigint)
LANGUAGE sql STABLE
AS $$
    WITH who AS (SELECT * FROM analytics_segment_members(p_window)), signals AS (
        SELECT c.segment_id, c.delta, pi.site_id, pi.profile_id, pi.catalog_item_id, pi.category_id, pi.viewed_at AS at
          FROM who c JOIN page_interests pi ON pi.profile_id = c.profile_id
         WHERE CASE WHEN p_window THEN pi.site_id = p_site AND pi.viewed_at >= p_lo AND pi.viewed_at < p_hi
                    ELSE pi.viewed_at < p_lo OR pi.viewed_at >= p_hi END
        UNION ALL
        SELECT c.segment_id, c.delta, pr.site_id, pr.profile_id, pr.catalog_item_id, pr.category_id, pr.detected_at
          FROM who c JOIN product_interests pr ON pr.profile_id = c.profile_id
         WHERE NOT pr.negated
           AND CASE WHEN p_window THEN pr.site_id = p_site AND pr.detected_at >= p_lo AND pr.detected_at < p_hi
                    ELSE pr.detected_at < p_lo OR pr.detected_at >= p_hi END
    ), per_profile AS (
        SELECT segment_id, site_id, (at AT TIME ZONE p_tz)::date AS day,
               CASE WHEN catalog_item_id IS NOT NULL THEN 'item' ELSE 'category' END AS target_kind,
               coalesce(catalog_item_id, category_id) AS target_id, profile_id, delta, count(*) AS signals
          FROM signals GROUP BY 1, 2, 3, 4, 5, 6, 7
    )
    SELECT segment_id, site_id, day, target_kind, target_id, sum(delta)::bigint, sum(delta * signals)::bigint
      FROM per_profile GROUP BY 1, 2, 3, 4, 5
$$;

-- The journey figures of analytics_journeys() (sql/0007, from the session-path rollup, every
-- n-gram length 2-10) per segment, for the members and instants chosen as above.
CREATE FUNCTION analytics_segment_members_journeys(p_tz text, p_lo timestamptz, p_hi timestamptz, p_window boolean, p_site bigint)
RETURNS TABLE (segment_id bigint, site_id bigint, day date, kind text, key text[], n bigint)
LANGUAGE sql STABLE
AS $$
    WITH who AS (SELECT * FROM analytics_segment_members(p_window)), d AS (
        SELECT c.segment_id, c.delta, r.site_id, (r.started_at AT TIME ZONE p_tz)::date AS day, r.paths, r.pages,
               r.duration_seconds, r.entry_page, r.exit_page, r.measured
          FROM who c
          JOIN sessions se ON se.profile_id = c.profile_id
          JOIN analytics_session_path_rollup r ON r.session_id = se.id
         WHERE CASE WHEN p_window THEN r.site_id = p_site AND r.started_at >= p_lo AND r.started_at < p_hi
                    ELSE r.started_at < p_lo OR r.started_at >= p_hi END
    ), views AS (
        SELECT d.segment_id, d.site_id, d.day, u.path, sum(d.delta) AS views,
               coalesce(sum(d.delta) FILTER (WHERE array_position(d.paths, u.path) = u.i), 0) AS visits
          FROM d, unnest(d.paths) WITH ORDINALITY AS u(path, i) GROUP BY 1, 2, 3, 4
    ), measured AS (
        SELECT segment_id, site_id, day, sum(delta) AS sessions, sum(delta * pages) AS pages_sum, sum(delta * duration_seconds) AS seconds_sum
          FROM d WHERE measured GROUP BY 1, 2, 3
    ), figures AS (
        SELECT v.segment_id, v.site_id, v.day, k.kind, ARRAY[v.path] AS key, k.n
          FROM views v, LATERAL (VALUES ('view', v.views), ('visited', v.visits)) AS k(kind, n)
        UNION ALL
        SELECT d.segment_id, d.site_id, d.day, 'path', d.paths[i:i + len - 1], sum(d.delta)
          FROM d, generate_subscripts(d.paths, 1) i, generate_series(2, least(10, cardinality(d.paths) - i + 1)) len
         GROUP BY 1, 2, 3, 5
        UNION ALL
        SELECT segment_id, site_id, day, 'entry', ARRAY[entry_page], sum(delta) FROM d WHERE measured GROUP BY 1, 2, 3, 5
        UNION ALL
        SELECT segment_id, site_id, day, 'exit', ARRAY[exit_page], sum(delta) FROM d WHERE measured GROUP BY 1, 2, 3, 5
        UNION ALL
        SELECT segment_id, site_id, day, 'pages', ARRAY[pages::text], sum(delta) FROM d WHERE measured GROUP BY 1, 2, 3, 5
        UNION ALL
        SELECT segment_id, site_id, day, 'time', ARRAY[analytics_time_on_site_bucket(duration_seconds)::text], sum(delta)
          FROM d WHERE measured GROUP BY 1, 2, 3, 5
        UNION ALL
        SELECT m.segment_id, m.site_id, m.day, t.kind, '{}', t.n
          FROM measured m, LATERAL (VALUES ('sessions', m.sessions), ('pages_sum', m.pages_sum), ('seconds_sum', m.seconds_sum)) AS t(kind, n)
    )
    SELECT segment_id, site_id, day, kind, key, n::bigint FROM figures
$$;

-- -----------------------------------------------------------------------------
-- The refresh
-- -----------------------------------------------------------------------------
-- Applies the logged membership changes to the days outside [p_from, p_to) (traffic: outside the
-- whole ISO weeks, as analytics_refresh widens it), then recomputes those days for every segment;
-- a rebuild passes the whole history. Returns the rows written or changed.
CREATE FUNCTION analytics_refresh_segments(p_from date, p_to date, p_journeys boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    lo      date := date_trunc('week', p_from)::date;
    hi      date := date_trunc('week', p_to - 1)::date + 7;
    zone    text;
    site    bigint;
    written bigint := 0;
    counted bigint;
    changed boolean;
    lo_at   timestamptz;
    hi_at   timestamptz;
    -- Bounds of the instants whose journey figures and session paths are recomputed: none without
    -- p_journeys (changes then reach every day, the recent ones too, until the next recompute).
    jlo_at  timestamptz := '-infinity';
    jhi_at  timestamptz := '-infinity';
    hashjoin  text := current_setting('enable_hashjoin');
    mergejoin text := current_setting('enable_mergejoin');
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN
        RAISE EXCEPTION 'analytics_refresh_segments: need p_from < p_to (got %, %)', p_from, p_to;
    END IF;
    IF current_setting('transaction_isolation') = 'read committed' THEN
        RAISE EXCEPTION 'analytics_refresh_segments must run in a REPEATABLE READ transaction'
              USING HINT = 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT analytics_refresh_segments(...); COMMIT;';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('profile_builder.analytics_refresh_segments'));
    changed := EXISTS (SELECT 1 FROM analytics_segment_changes);
    -- Session paths are kept by instant: the window is the zones' earliest and latest midnights.
    SELECT min(p_from::timestamp AT TIME ZONE time_zone), max(p_to::timestamp AT TIME ZONE time_zone)
      INTO lo_at, hi_at FROM analytics_time_zones;
    IF p_journeys THEN
        jlo_at := lo_at;
        jhi_at := hi_at;
    END IF;
    IF changed THEN
        PERFORM set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true);
        DELETE FROM analytics_segment_session_path_rollup p USING analytics_segment_members(false) c
         WHERE c.delta < 0 AND p.segment_id = c.segment_id AND p.profile_id = c.profile_id
           AND (p.started_at < jlo_at OR p.started_at >= jhi_at);
        GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
        INSERT INTO analytics_segment_session_path_rollup (segment_id, session_id, profile_id, site_id, started_at, paths, viewed_at)
        SELECT c.segment_id, r.session_id, se.profile_id, r.site_id, r.started_at, r.paths, r.viewed_at
          FROM analytics_segment_members(false) c
          JOIN sessions se ON se.profile_id = c.profile_id
          JOIN analytics_session_path_rollup r ON r.session_id = se.id
         WHERE c.delta > 0 AND (r.started_at < jlo_at OR r.started_at >= jhi_at)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
        PERFORM set_config('enable_hashjoin', hashjoin, true), set_config('enable_mergejoin', mergejoin, true);
    END IF;
    IF p_journeys THEN
        DELETE FROM analytics_segment_session_path_rollup WHERE started_at >= lo_at AND started_at < hi_at;
        INSERT INTO analytics_segment_session_path_rollup (segment_id, session_id, profile_id, site_id, started_at, paths, viewed_at)
        SELECT c.segment_id, r.session_id, se.profile_id, r.site_id, r.started_at, r.paths, r.viewed_at
          FROM analytics_segment_members(true) c
          JOIN sessions se ON se.profile_id = c.profile_id
          JOIN analytics_session_path_rollup r ON r.session_id = se.id
         WHERE r.started_at >= lo_at AND r.started_at < hi_at;
        GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
    END IF;

    FOR zone IN SELECT time_zone FROM analytics_time_zones ORDER BY 1 LOOP
        IF changed THEN
            -- Older days: add or subtract the figures of who entered or left. A minute's changes
            -- are a few profiles, to be reached through the profile indexes: with hash or merge
            -- joins the planner read all of page_views (5 s for 1,600 changes at 10M page views).
            PERFORM set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true);
            INSERT INTO analytics_segment_traffic_rollup AS r (segment_id, site_id, time_zone, period, period_start, visitors, sessions,
                                                               bounced_sessions, duration_seconds, page_views)
            SELECT c.segment_id, c.site_id, zone, c.period, c.period_start, c.visitors, c.sessions, c.bounced_sessions,
                   c.duration_seconds, c.page_views
              FROM analytics_segment_members_traffic(zone, lo::timestamp AT TIME ZONE zone, hi::timestamp AT TIME ZONE zone, false, NULL) c
            ON CONFLICT (segment_id, site_id, time_zone, period, period_start) DO UPDATE
               SET visitors = r.visitors + EXCLUDED.visitors, sessions = r.sessions + EXCLUDED.sessions,
                   bounced_sessions = r.bounced_sessions + EXCLUDED.bounced_sessions,
                   duration_seconds = r.duration_seconds + EXCLUDED.duration_seconds, page_views = r.page_views + EXCLUDED.page_views;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            INSERT INTO analytics_segment_page_rollup AS r (segment_id, site_id, time_zone, day, path, views, entries, exits)
            SELECT c.segment_id, c.site_id, zone, c.day, c.path, c.views, c.entries, c.exits
              FROM analytics_segment_members_pages(zone, p_from::timestamp AT TIME ZONE zone, p_to::timestamp AT TIME ZONE zone, false, NULL) c
            ON CONFLICT (segment_id, site_id, time_zone, day, path) DO UPDATE
               SET views = r.views + EXCLUDED.views, entries = r.entries + EXCLUDED.entries, exits = r.exits + EXCLUDED.exits;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            INSERT INTO analytics_segment_interest_rollup AS r (segment_id, site_id, time_zone, day, target_kind, target_id, profiles, signals)
            SELECT c.segment_id, c.site_id, zone, c.day, c.target_kind, c.target_id, c.profiles, c.signals
              FROM analytics_segment_members_interests(zone, p_from::timestamp AT TIME ZONE zone, p_to::timestamp AT TIME ZONE zone, false, NULL) c
            ON CONFLICT (segment_id, site_id, time_zone, day, target_kind, target_id) DO UPDATE
               SET profiles = r.profiles + EXCLUDED.profiles, signals = r.signals + EXCLUDED.signals;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            INSERT INTO analytics_segment_journey_rollup AS r (segment_id, site_id, time_zone, day, kind, key, n)
            SELECT c.segment_id, c.site_id, zone, c.day, c.kind, c.key, c.n
              FROM analytics_segment_members_journeys(zone, CASE WHEN p_journeys THEN p_from::timestamp AT TIME ZONE zone ELSE jlo_at END,
                                                      CASE WHEN p_journeys THEN p_to::timestamp AT TIME ZONE zone ELSE jhi_at END, false, NULL) c
            ON CONFLICT (segment_id, site_id, time_zone, day, kind, key) DO UPDATE SET n = r.n + EXCLUDED.n;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            PERFORM set_config('enable_hashjoin', hashjoin, true), set_config('enable_mergejoin', mergejoin, true);
            -- Rows everybody left hold only zeros; the functions return no such rows.
            DELETE FROM analytics_segment_traffic_rollup
             WHERE time_zone = zone AND visitors = 0 AND sessions = 0 AND bounced_sessions = 0 AND duration_seconds = 0 AND page_views = 0;
            DELETE FROM analytics_segment_page_rollup WHERE time_zone = zone AND views = 0 AND entries = 0 AND exits = 0;
            DELETE FROM analytics_segment_interest_rollup WHERE time_zone = zone AND profiles = 0 AND signals = 0;
            -- (A day's seconds_sum is 0 when its sessions lasted 0 s: that row stays while the day has sessions.)
            DELETE FROM analytics_segment_journey_rollup j
             WHERE j.time_zone = zone AND j.n = 0
               AND (j.kind <> 'seconds_sum' OR NOT EXISTS (
                    SELECT 1 FROM analytics_segment_journey_rollup s
                     WHERE s.segment_id = j.segment_id AND s.site_id = j.site_id AND s.time_zone = j.time_zone AND s.day = j.day
                       AND s.kind = 'sessions' AND s.key = '{}' AND s.n <> 0));
        END IF;

        -- Recent days: recompute from the current members, one pass per site for all segments.
        DELETE FROM analytics_segment_traffic_rollup WHERE time_zone = zone AND period_start >= lo AND period_start < hi;
        DELETE FROM analytics_segment_page_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_segment_interest_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        IF p_journeys THEN
            DELETE FROM analytics_segment_journey_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        END IF;
        FOR site IN SELECT id FROM sites ORDER BY 1 LOOP
            INSERT INTO analytics_segment_traffic_rollup (segment_id, site_id, time_zone, period, period_start, visitors, sessions,
                                                          bounced_sessions, duration_seconds, page_views)
            SELECT c.segment_id, c.site_id, zone, c.period, c.period_start, c.visitors, c.sessions, c.bounced_sessions,
                   c.duration_seconds, c.page_views
              FROM analytics_segment_members_traffic(zone, lo::timestamp AT TIME ZONE zone, hi::timestamp AT TIME ZONE zone, true, site) c;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            INSERT INTO analytics_segment_page_rollup (segment_id, site_id, time_zone, day, path, views, entries, exits)
            SELECT c.segment_id, c.site_id, zone, c.day, c.path, c.views, c.entries, c.exits
              FROM analytics_segment_members_pages(zone, p_from::timestamp AT TIME ZONE zone, p_to::timestamp AT TIME ZONE zone, true, site) c;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            INSERT INTO analytics_segment_interest_rollup (segment_id, site_id, time_zone, day, target_kind, target_id, profiles, signals)
            SELECT c.segment_id, c.site_id, zone, c.day, c.target_kind, c.target_id, c.profiles, c.signals
              FROM analytics_segment_members_interests(zone, p_from::timestamp AT TIME ZONE zone, p_to::timestamp AT TIME ZONE zone, true, site) c;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
            CONTINUE WHEN NOT p_journeys;
            INSERT INTO analytics_segment_journey_rollup (segment_id, site_id, time_zone, day, kind, key, n)
            SELECT c.segment_id, c.site_id, zone, c.day, c.kind, c.key, c.n
              FROM analytics_segment_members_journeys(zone, p_from::timestamp AT TIME ZONE zone, p_to::timestamp AT TIME ZONE zone, true, site) c;
            GET DIAGNOSTICS counted = ROW_COUNT; written := written + counted;
        END LOOP;
    END LOOP;
    -- Exactly the changes this snapshot saw (later ones stay for the next refresh).
    DELETE FROM analytics_segment_changes;
    RETURN written;
END;
$$;

COMMENT ON FUNCTION analytics_refresh_segments(date, date, boolean) IS 'Keeps the per-segment rollups those of the current members: applies the membership changes logged in analytics_segment_changes to every day outside [p_from, p_to) (traffic: outside the whole ISO weeks) and recomputes the days inside for every segment, site and rollup zone. The journey figures and session paths only when p_journeys (else the changes reach their recent days too), as analytics_refresh(from, to, journeys) does. Must run in a REPEATABLE READ transaction. The engine calls it every minute after analytics_refresh(); `profile-engine analytics rebuild` over all days.';
COMMENT ON FUNCTION analytics_segment_members(boolean) IS 'The members analytics_segment_members_traffic/pages/interests() compute figures for: the net logged changes (p_window false) or every current membership with delta 1 (p_window true).';
COMMENT ON FUNCTION analytics_segment_members_traffic(text, timestamptz, timestamptz, boolean, bigint) IS 'analytics_traffic() figures per segment of the logged changes outside [p_lo, p_hi) (p_window false), or of all current members of site p_site inside it (p_window true). Used by analytics_refresh_segments().';
COMMENT ON FUNCTION analytics_segment_members_pages(text, timestamptz, timestamptz, boolean, bigint) IS 'analytics_pages() figures per segment, as analytics_segment_members_traffic() chooses its members and instants.';
COMMENT ON FUNCTION analytics_segment_members_journeys(text, timestamptz, timestamptz, boolean, bigint) IS 'analytics_journeys() figures per segment (from the session-path rollup, every n-gram of length 2-10), as analytics_segment_members_traffic() chooses its members and instants.';
COMMENT ON FUNCTION analytics_segment_members_interests(text, timestamptz, timestamptz, boolean, bigint) IS 'analytics_interests() figures per segment, as analytics_segment_members_traffic() chooses its members and instants.';
