-- =============================================================================
-- Profile Builder — analytics: rollups for reports, personalization exposures
--
-- Reports over millions of page views must answer in under a second, so the heavy
-- aggregates are kept per local day in rollup tables that the engine refreshes
-- (recent days every minute, everything on `profile-engine analytics rebuild`).
-- A rollup is exactly the result of the analytics_* function of the same name
-- over the raw tables: reports with a segment filter, or in a time zone without
-- rollups, call the function directly and get the same figures, only slower.
-- Documented in docs/SQL.md.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Time zones the rollups are kept in (days are local days of the zone)
-- -----------------------------------------------------------------------------
CREATE TABLE analytics_time_zones (
    time_zone       text PRIMARY KEY CHECK (now() AT TIME ZONE time_zone IS NOT NULL),
    added_at        timestamptz NOT NULL DEFAULT now(),
    refreshed_at    timestamptz
);
INSERT INTO analytics_time_zones (time_zone) VALUES ('UTC');

COMMENT ON TABLE analytics_time_zones IS 'IANA time zones in which the analytics rollups are kept (the engine adds those of ANALYTICS_TIME_ZONES at start). Reports in other zones are computed from the raw tables.';
COMMENT ON COLUMN analytics_time_zones.time_zone IS 'IANA name known to PostgreSQL, e.g. UTC or Europe/Berlin.';
COMMENT ON COLUMN analytics_time_zones.refreshed_at IS 'When the rollups of this zone were last refreshed.';

-- -----------------------------------------------------------------------------
-- The figures, computed from the raw tables (one function per rollup)
-- -----------------------------------------------------------------------------
-- Sessions count on the local day they started, page views on the day they were viewed; bot
-- sessions and their page views are left out. p_to is exclusive. Segment = current members.
CREATE FUNCTION analytics_traffic(p_site bigint, p_tz text, p_from date, p_to date, p_segment bigint)
RETURNS TABLE (period text, period_start date, visitors bigint, sessions bigint, bounced_sessions bigint,
               duration_seconds bigint, page_views bigint)
LANGUAGE sql STABLE
AS $$
    WITH s AS (
        SELECT se.id, se.profile_id,
               (se.started_at AT TIME ZONE p_tz)::date                              AS day,
               coalesce(sa.bounced, se.page_count <= 1)                             AS bounced,
               coalesce(sa.duration_seconds,
                        floor(extract(epoch FROM se.last_activity_at - se.started_at))::int) AS duration
          FROM sessions se
          LEFT JOIN session_analytics sa ON sa.session_id = se.id
         WHERE se.site_id = p_site AND NOT se.is_bot
           AND se.started_at >= (p_from::timestamp AT TIME ZONE p_tz)
           AND se.started_at <  (p_to::timestamp AT TIME ZONE p_tz)
           AND (p_segment IS NULL OR EXISTS (
                SELECT 1 FROM segment_memberships m
                 WHERE m.segment_id = p_segment AND m.profile_id = se.profile_id AND m.left_at IS NULL))
    ), pv AS (
        SELECT (pv.viewed_at AT TIME ZONE p_tz)::date AS day
          FROM page_views pv
          JOIN sessions se ON se.id = pv.session_id
         WHERE pv.site_id = p_site AND NOT se.is_bot
           AND pv.viewed_at >= (p_from::timestamp AT TIME ZONE p_tz)
           AND pv.viewed_at <  (p_to::timestamp AT TIME ZONE p_tz)
           AND (p_segment IS NULL OR EXISTS (
                SELECT 1 FROM segment_memberships m
                 WHERE m.segment_id = p_segment AND m.profile_id = pv.profile_id AND m.left_at IS NULL))
    ), periods AS (
        SELECT 'day'::text AS period, day AS period_start, profile_id, bounced, duration FROM s
        UNION ALL
        SELECT 'week', date_trunc('week', day)::date, profile_id, bounced, duration FROM s
    ), session_figures AS (
        SELECT period, period_start, count(DISTINCT profile_id) AS visitors, count(*) AS sessions,
               count(*) FILTER (WHERE bounced) AS bounced_sessions, sum(duration)::bigint AS duration_seconds
          FROM periods GROUP BY 1, 2
    ), view_figures AS (
        SELECT 'day'::text AS period, day AS period_start, count(*) AS page_views FROM pv GROUP BY 2
        UNION ALL
        SELECT 'week', date_trunc('week', day)::date, count(*) FROM pv GROUP BY 2
    )
    SELECT coalesce(sf.period, vf.period), coalesce(sf.period_start, vf.period_start),
           coalesce(sf.visitors, 0), coalesce(sf.sessions, 0), coalesce(sf.bounced_sessions, 0),
           coalesce(sf.duration_seconds, 0), coalesce(vf.page_views, 0)
      FROM session_figures sf
      FULL JOIN view_figures vf ON vf.period = sf.period AND vf.period_start = sf.period_start
$$;

COMMENT ON FUNCTION analytics_traffic(bigint, text, date, date, bigint) IS 'Traffic per local day and per ISO week (Monday) of p_tz in [p_from, p_to): distinct visitors, sessions (by start), bounced sessions, summed session seconds, page views (by view time). Bots excluded; p_segment (segments.id) limits to its current members. The source of analytics_traffic_rollup.';

-- Views per page on the local day viewed; entries and exits on the day their session started.
CREATE FUNCTION analytics_pages(p_site bigint, p_tz text, p_from date, p_to date, p_segment bigint)
RETURNS TABLE (day date, path text, views bigint, entries bigint, exits bigint)
LANGUAGE sql STABLE
AS $$
    WITH v AS (
        SELECT (pv.viewed_at AT TIME ZONE p_tz)::date AS day, pv.path, count(*) AS views
          FROM page_views pv
          JOIN sessions se ON se.id = pv.session_id
         WHERE pv.site_id = p_site AND NOT se.is_bot
           AND pv.viewed_at >= (p_from::timestamp AT TIME ZONE p_tz)
           AND pv.viewed_at <  (p_to::timestamp AT TIME ZONE p_tz)
           AND (p_segment IS NULL OR EXISTS (
                SELECT 1 FROM segment_memberships m
                 WHERE m.segment_id = p_segment AND m.profile_id = pv.profile_id AND m.left_at IS NULL))
         GROUP BY 1, 2
    ), s AS (
        SELECT (se.started_at AT TIME ZONE p_tz)::date AS day, sa.entry_page, sa.exit_page
          FROM sessions se
          JOIN session_analytics sa ON sa.session_id = se.id
         WHERE se.site_id = p_site AND NOT se.is_bot
           AND se.started_at >= (p_from::timestamp AT TIME ZONE p_tz)
           AND se.started_at <  (p_to::timestamp AT TIME ZONE p_tz)
           AND (p_segment IS NULL OR EXISTS (
                SELECT 1 FROM segment_memberships m
                 WHERE m.segment_id = p_segment AND m.profile_id = se.profile_id AND m.left_at IS NULL))
    ), e AS (
        SELECT day, entry_page AS path, count(*) AS entries FROM s WHERE entry_page IS NOT NULL GROUP BY 1, 2
    ), x AS (
        SELECT day, exit_page AS path, count(*) AS exits FROM s WHERE exit_page IS NOT NULL GROUP BY 1, 2
    )
    SELECT day, path, coalesce(v.views, 0), coalesce(e.entries, 0), coalesce(x.exits, 0)
      FROM v FULL JOIN e USING (day, path) FULL JOIN x USING (day, path)
$$;

COMMENT ON FUNCTION analytics_pages(bigint, text, date, date, bigint) IS 'Per local day of p_tz and page path in [p_from, p_to): page views (by view time), sessions entering and leaving on that page (by session start; from session_analytics). Bots excluded. The source of analytics_page_rollup.';

-- An interest signal is a page view matched to a catalog target or a (non-negated) chat mention.
CREATE FUNCTION analytics_interests(p_site bigint, p_tz text, p_from date, p_to date, p_segment bigint)
RETURNS TABLE (day date, target_kind text, target_id bigint, profiles bigint, signals bigint)
LANGUAGE sql STABLE
AS $$
    WITH signals AS (
        SELECT pi.profile_id, pi.catalog_item_id, pi.category_id, pi.viewed_at AS at
          FROM page_interests pi
         WHERE pi.site_id = p_site
           AND pi.viewed_at >= (p_from::timestamp AT TIME ZONE p_tz) AND pi.viewed_at < (p_to::timestamp AT TIME ZONE p_tz)
        UNION ALL
        SELECT pr.profile_id, pr.catalog_item_id, pr.category_id, pr.detected_at
          FROM product_interests pr
         WHERE pr.site_id = p_site AND NOT pr.negated
           AND pr.detected_at >= (p_from::timestamp AT TIME ZONE p_tz) AND pr.detected_at < (p_to::timestamp AT TIME ZONE p_tz)
    )
    SELECT (at AT TIME ZONE p_tz)::date,
           CASE WHEN catalog_item_id IS NOT NULL THEN 'item' ELSE 'category' END,
           coalesce(catalog_item_id, category_id),
           count(DISTINCT profile_id), count(*)
      FROM signals
     WHERE p_segment IS NULL OR EXISTS (
           SELECT 1 FROM segment_memberships m
            WHERE m.segment_id = p_segment AND m.profile_id = signals.profile_id AND m.left_at IS NULL)
     GROUP BY 1, 2, 3
$$;

COMMENT ON FUNCTION analytics_interests(bigint, text, date, date, bigint) IS 'Per local day of p_tz and catalog item or category in [p_from, p_to): distinct profiles showing interest and the number of signals (page_interests rows by view time plus non-negated product_interests rows by detection time). The source of analytics_interest_rollup.';

-- Distinct visitors over an arbitrary range cannot be added up from daily counts, and counting
-- them exactly over millions of sessions takes seconds. Each day therefore keeps a HyperLogLog
-- sketch of its visitors (4096 registers: about 1.6 % standard error); the sketches of any range
-- merge by taking each register's maximum. Registers are stored sparse (index, value) because
-- most days of small sites fill only a few.
CREATE FUNCTION analytics_visitor_sketches(p_site bigint, p_tz text, p_from date, p_to date)
RETURNS TABLE (day date, registers smallint[], ranks smallint[])
LANGUAGE sql STABLE
AS $$
    WITH v AS (
        SELECT DISTINCT (se.started_at AT TIME ZONE p_tz)::date AS day, hashtextextended(se.profile_id::text, 0) AS h
          FROM sessions se
         WHERE se.site_id = p_site AND NOT se.is_bot
           AND se.started_at >= (p_from::timestamp AT TIME ZONE p_tz)
           AND se.started_at <  (p_to::timestamp AT TIME ZONE p_tz)
    ), r AS (
        -- Register: the low 12 bits; rank: 1 + leading zeros of the next 51 bits (52 when all are 0).
        SELECT day, (h & 4095)::smallint AS register,
               max(CASE WHEN (h >> 12) & 2251799813685247 = 0 THEN 52
                        ELSE position('1' IN ((h >> 12) & 2251799813685247)::bit(64)::text) - 13 END)::smallint AS rank
          FROM v GROUP BY 1, 2
    )
    SELECT day, array_agg(register ORDER BY register), array_agg(rank ORDER BY register) FROM r GROUP BY day
$$;

COMMENT ON FUNCTION analytics_visitor_sketches(bigint, text, date, date) IS 'Per local day of p_tz in [p_from, p_to): a HyperLogLog sketch (4096 registers, sparse) of the distinct profiles with a non-bot session starting that day. The source of analytics_visitor_sketch_rollup; analytics_estimate_visitors() merges and counts them.';

-- -----------------------------------------------------------------------------
-- Rollups
-- -----------------------------------------------------------------------------
CREATE TABLE analytics_traffic_rollup (
    site_id             bigint NOT NULL REFERENCES sites (id),
    time_zone           text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    period              text NOT NULL CHECK (period IN ('day', 'week')),
    period_start        date NOT NULL,
    visitors            bigint NOT NULL,
    sessions            bigint NOT NULL,
    bounced_sessions    bigint NOT NULL,
    duration_seconds    bigint NOT NULL,
    page_views          bigint NOT NULL,
    refreshed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, time_zone, period, period_start)
);

COMMENT ON TABLE analytics_traffic_rollup IS 'analytics_traffic() per site and rollup time zone, kept by analytics_refresh(). Sum sessions, bounces, seconds and page views over any range of days; visitors are distinct only within one row (day or week).';
COMMENT ON COLUMN analytics_traffic_rollup.period IS 'day, or week (ISO week starting Monday, local time).';
COMMENT ON COLUMN analytics_traffic_rollup.period_start IS 'The local day, or the Monday of the week.';
COMMENT ON COLUMN analytics_traffic_rollup.visitors IS 'Distinct profiles with a session starting in the period.';
COMMENT ON COLUMN analytics_traffic_rollup.sessions IS 'Sessions starting in the period (bots excluded).';
COMMENT ON COLUMN analytics_traffic_rollup.bounced_sessions IS 'Of those, sessions that bounced (session_analytics.bounced, else at most one page).';
COMMENT ON COLUMN analytics_traffic_rollup.duration_seconds IS 'Summed duration of those sessions; divide by sessions for the average time on site.';
COMMENT ON COLUMN analytics_traffic_rollup.page_views IS 'Page views viewed in the period (of non-bot sessions).';
COMMENT ON COLUMN analytics_traffic_rollup.refreshed_at IS 'When the row was computed.';

CREATE TABLE analytics_page_rollup (
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    path            text NOT NULL,
    views           bigint NOT NULL,
    entries         bigint NOT NULL,
    exits           bigint NOT NULL,
    PRIMARY KEY (site_id, time_zone, day, path)
);

COMMENT ON TABLE analytics_page_rollup IS 'analytics_pages() per site and rollup time zone, kept by analytics_refresh(): views, entries and exits per page and local day.';
COMMENT ON COLUMN analytics_page_rollup.views IS 'Page views of the path viewed that day (non-bot sessions).';
COMMENT ON COLUMN analytics_page_rollup.entries IS 'Sessions started that day whose first page was the path.';
COMMENT ON COLUMN analytics_page_rollup.exits IS 'Sessions started that day whose last page was the path.';

CREATE TABLE analytics_interest_rollup (
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    target_kind     text NOT NULL CHECK (target_kind IN ('item', 'category')),
    target_id       bigint NOT NULL,
    profiles        bigint NOT NULL,
    signals         bigint NOT NULL,
    PRIMARY KEY (site_id, time_zone, day, target_kind, target_id)
);

COMMENT ON TABLE analytics_interest_rollup IS 'analytics_interests() per site and rollup time zone, kept by analytics_refresh(): interest signals per catalog item or category and local day.';
COMMENT ON COLUMN analytics_interest_rollup.target_kind IS 'item (catalog_items.id) or category (catalog_categories.id).';
COMMENT ON COLUMN analytics_interest_rollup.target_id IS 'catalog_items.id or catalog_categories.id, by target_kind (no FK: a deleted target leaves its history).';
COMMENT ON COLUMN analytics_interest_rollup.profiles IS 'Distinct profiles with a signal that day.';
COMMENT ON COLUMN analytics_interest_rollup.signals IS 'Signals that day: matched page views plus non-negated chat mentions.';

CREATE TABLE analytics_visitor_sketch_rollup (
    site_id         bigint NOT NULL REFERENCES sites (id),
    time_zone       text NOT NULL REFERENCES analytics_time_zones (time_zone) ON DELETE CASCADE,
    day             date NOT NULL,
    registers       smallint[] NOT NULL,
    ranks           smallint[] NOT NULL CHECK (cardinality(ranks) = cardinality(registers)),
    PRIMARY KEY (site_id, time_zone, day)
);

COMMENT ON TABLE analytics_visitor_sketch_rollup IS 'analytics_visitor_sketches() per site and rollup time zone, kept by analytics_refresh(): a HyperLogLog sketch of each local day''s distinct visitors, merged by analytics_estimate_visitors() for ranges.';
COMMENT ON COLUMN analytics_visitor_sketch_rollup.registers IS 'Indexes (0-4095) of the non-empty registers, ascending.';
COMMENT ON COLUMN analytics_visitor_sketch_rollup.ranks IS 'The rank held by each of those registers (1-52).';

-- The standard HyperLogLog estimate with the small-range (linear counting) correction.
CREATE FUNCTION analytics_estimate_visitors(p_site bigint, p_tz text, p_from date, p_to date)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    WITH merged AS (
        SELECT u.register, max(u.rank) AS rank
          FROM analytics_visitor_sketch_rollup s, unnest(s.registers, s.ranks) AS u(register, rank)
         WHERE s.site_id = p_site AND s.time_zone = p_tz AND s.day >= p_from AND s.day < p_to
         GROUP BY u.register
    ), sums AS (
        SELECT (0.7213 / (1 + 1.079 / 4096)) * 4096.0 * 4096.0 / (coalesce(sum(power(2.0, -rank)), 0) + (4096 - count(*))) AS raw,
               4096 - count(*) AS zeros
          FROM merged
    )
    SELECT round(CASE WHEN raw <= 2.5 * 4096 AND zeros > 0 THEN 4096 * ln(4096.0 / zeros) ELSE raw END)::bigint FROM sums
$$;

COMMENT ON FUNCTION analytics_estimate_visitors(bigint, text, date, date) IS 'Estimated distinct visitors of site p_site over the local days [p_from, p_to) of rollup zone p_tz, from analytics_visitor_sketch_rollup (HyperLogLog, about 1.6 % standard error).';

-- Recomputes every rollup of every site and rollup zone for the local days in [p_from, p_to).
-- Traffic is widened to whole ISO weeks, so that week rows (distinct visitors per week) stay
-- exact; the other rollups have only day rows and are recomputed for exactly those days.
-- Serialized by an advisory lock, so several engines (or a rebuild next to the every-minute
-- refresh) never interleave.
CREATE FUNCTION analytics_refresh(p_from date, p_to date)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    lo      date := date_trunc('week', p_from)::date;
    hi      date := date_trunc('week', p_to - 1)::date + 7;
    zone    text;
    site    bigint;
    written bigint := 0;
    n       bigint;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN
        RAISE EXCEPTION 'analytics_refresh: need p_from < p_to (got %, %)', p_from, p_to;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('profile_builder.analytics_refresh'));
    FOR zone IN SELECT time_zone FROM analytics_time_zones ORDER BY 1 LOOP
        DELETE FROM analytics_traffic_rollup WHERE time_zone = zone AND period_start >= lo AND period_start < hi;
        DELETE FROM analytics_page_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_interest_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
        DELETE FROM analytics_visitor_sketch_rollup WHERE time_zone = zone AND day >= p_from AND day < p_to;
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
        END LOOP;
        UPDATE analytics_time_zones SET refreshed_at = now() WHERE time_zone = zone;
    END LOOP;
    RETURN written;
END;
$$;

COMMENT ON FUNCTION analytics_refresh(date, date) IS 'Recomputes all analytics rollups (every site, every zone of analytics_time_zones) for local days in [p_from, p_to) (traffic widened to whole ISO weeks); returns the rows written. The engine calls it every minute for the recent days; `profile-engine analytics rebuild` for all days.';

-- Sessions by start with the columns the traffic figures read, so the range scans stay in the index.
CREATE INDEX sessions_site_started_profile_idx ON sessions (site_id, started_at) INCLUDE (profile_id, is_bot);

-- -----------------------------------------------------------------------------
-- Personalization exposures (for the ROI report)
-- -----------------------------------------------------------------------------
CREATE TABLE personalization_exposures (
    profile_id          uuid PRIMARY KEY REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    site_id             bigint NOT NULL REFERENCES sites (id),
    holdout             boolean NOT NULL,
    first_served_at     timestamptz NOT NULL DEFAULT now(),
    last_served_at      timestamptz NOT NULL DEFAULT now(),
    served_count        int NOT NULL DEFAULT 1 CHECK (served_count >= 1),
    items_shown         int NOT NULL DEFAULT 0 CHECK (items_shown >= 0),
    CONSTRAINT personalization_exposures_order CHECK (last_served_at >= first_served_at)
);
CREATE INDEX personalization_exposures_site_first_idx ON personalization_exposures (site_id, first_served_at);

COMMENT ON TABLE personalization_exposures IS 'One row per profile that the recommendation or context endpoint served: whether it was in the holdout group (served no recommendations) or shown them. The ROI report compares the conversion of both groups after first_served_at.';
COMMENT ON COLUMN personalization_exposures.holdout IS 'True when the profile was in the deterministic holdout (PERSONALIZATION_HOLDOUT_PERCENT) at its first serving; kept from then on.';
COMMENT ON COLUMN personalization_exposures.first_served_at IS 'First time the profile was served (start of its observation).';
COMMENT ON COLUMN personalization_exposures.last_served_at IS 'Latest time it was served.';
COMMENT ON COLUMN personalization_exposures.served_count IS 'How many calls served it.';
COMMENT ON COLUMN personalization_exposures.items_shown IS 'Recommendations shown in total (0 for the holdout group).';
