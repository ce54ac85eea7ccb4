-- =============================================================================
-- Profile Builder — DBA / analyst views
--
-- Plain (non-materialised) views over schema v1: they always show current data.
-- Applied by the migration runner in one transaction. Documented in docs/SQL.md.
-- All dates are UTC.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- v_profiles: the common profile fields as columns; merged profiles excluded
-- -----------------------------------------------------------------------------
CREATE VIEW v_profiles AS
SELECT
    p.id,
    p.site_id,
    s.slug                                                  AS site_slug,
    p.fields->>'email'                                      AS email,
    coalesce(p.fields->>'name',
             nullif(btrim(coalesce(p.fields->>'first_name', '') || ' ' ||
                          coalesce(p.fields->>'last_name', '')), ''))
                                                            AS name,
    CASE WHEN jsonb_typeof(p.fields->'company') = 'object'
         THEN p.fields->'company'->>'name'
         ELSE p.fields->>'company' END                      AS company,
    p.fields->>'job_title'                                  AS job_title,
    p.fields->>'phone'                                      AS phone,
    coalesce(p.fields->>'country', p.fields->'address'->>'country')
                                                            AS country,
    p.lead_score,
    p.engagement_score,
    p.stage,
    p.interest_tags,
    p.first_seen_at,
    p.last_seen_at,
    p.anonymized_at,
    p.created_at,
    p.updated_at
FROM visitor_profiles p
JOIN sites s ON s.id = p.site_id
WHERE p.merged_into IS NULL;

COMMENT ON VIEW v_profiles IS 'Live (non-merged) profiles with the common fields as columns: email, name (or first_name + last_name), company (string or company.name), job_title, phone, country (or address.country), scores, stage and first/last seen. Other fields: visitor_profiles.fields.';

-- -----------------------------------------------------------------------------
-- v_top_interests: per site, per catalog item / category
-- -----------------------------------------------------------------------------
CREATE VIEW v_top_interests AS
SELECT
    i.site_id,
    s.slug                                      AS site_slug,
    CASE WHEN i.catalog_item_id IS NOT NULL THEN 'item' ELSE 'category' END
                                                AS target_kind,
    i.catalog_item_id,
    i.category_id,
    coalesce(ci.slug, cc.slug)                  AS target_slug,
    coalesce(ci.name, cc.name)                  AS target_name,
    ci.kind                                     AS item_kind,
    count(DISTINCT i.profile_id)                AS profiles,
    round(avg(i.confidence)::numeric, 3)        AS avg_confidence,
    count(DISTINCT i.profile_id) FILTER (WHERE i.confidence >= 0.7)
                                                AS strong_profiles,
    sum(i.evidence_count)                       AS evidence_count,
    max(i.last_evidence_at)                     AS last_evidence_at
FROM interests i
JOIN visitor_profiles p ON p.id = i.profile_id AND p.merged_into IS NULL
JOIN sites s ON s.id = i.site_id
LEFT JOIN catalog_items ci ON ci.id = i.catalog_item_id
LEFT JOIN catalog_categories cc ON cc.id = i.category_id
WHERE NOT i.negated
GROUP BY i.site_id, s.slug, i.catalog_item_id, i.category_id,
         ci.slug, cc.slug, ci.name, cc.name, ci.kind;

COMMENT ON VIEW v_top_interests IS 'Per site and catalog item or category (target_kind): number of live profiles interested (profiles), those with confidence >= 0.7 (strong_profiles), average confidence, evidence count and latest evidence. Negated (rejected) interests and merged profiles are excluded. ORDER BY profiles DESC for a top list.';

-- -----------------------------------------------------------------------------
-- v_session_summary: one row per session with its analytics
-- -----------------------------------------------------------------------------
CREATE VIEW v_session_summary AS
SELECT
    se.id                                       AS session_id,
    se.site_id,
    s.slug                                      AS site_slug,
    se.profile_id,
    se.anonymous_id,
    se.started_at,
    se.last_activity_at,
    se.ended_at,
    coalesce(sa.duration_seconds,
             floor(extract(epoch FROM se.last_activity_at - se.started_at))::int)
                                                AS duration_seconds,
    coalesce(sa.pages, se.page_count)           AS pages,
    se.event_count,
    se.entry_url,
    se.exit_url,
    sa.entry_page,
    sa.exit_page,
    coalesce(sa.bounced, se.page_count <= 1)    AS bounced,
    sa.max_scroll_pct,
    sa.total_dwell_ms,
    sa.interactions,
    sa.chat_messages,
    se.referrer,
    se.referrer_host,
    se.utm_source,
    se.utm_medium,
    se.utm_campaign,
    se.utm_term,
    se.utm_content,
    se.device_type,
    se.country,
    se.is_bot,
    (se.ended_at IS NULL)                       AS is_open
FROM sessions se
JOIN sites s ON s.id = se.site_id
LEFT JOIN session_analytics sa ON sa.session_id = se.id;

COMMENT ON VIEW v_session_summary IS 'One row per session: timing, pages, entry/exit page, bounce, scroll, dwell, referrer and UTM campaign. entry_url/exit_url are full URLs from sessions; entry_page/exit_page (paths), scroll, dwell, interactions and chat_messages come from session_analytics and are NULL until the engine has computed that row, while duration_seconds, pages and bounced then fall back to the sessions row (bounced = at most one page). Includes bot sessions (filter on is_bot).';

-- -----------------------------------------------------------------------------
-- v_daily_traffic: per site per UTC day
-- -----------------------------------------------------------------------------
CREATE VIEW v_daily_traffic AS
WITH s AS (
    SELECT se.site_id,
           (se.started_at AT TIME ZONE 'UTC')::date            AS day,
           count(DISTINCT se.profile_id)                       AS visitors,
           count(*)                                            AS sessions,
           count(*) FILTER (WHERE coalesce(sa.bounced, se.page_count <= 1))
                                                               AS bounced_sessions,
           avg(coalesce(sa.duration_seconds,
                        extract(epoch FROM se.last_activity_at - se.started_at)))
                                                               AS avg_duration_seconds
      FROM sessions se
      LEFT JOIN session_analytics sa ON sa.session_id = se.id
     WHERE NOT se.is_bot
     GROUP BY 1, 2
), pv AS (
    SELECT pv.site_id,
           (pv.viewed_at AT TIME ZONE 'UTC')::date             AS day,
           count(*)                                            AS page_views
      FROM page_views pv
      JOIN sessions se ON se.id = pv.session_id
     WHERE NOT se.is_bot
     GROUP BY 1, 2
)
SELECT
    coalesce(s.site_id, pv.site_id)                         AS site_id,
    st.slug                                                 AS site_slug,
    coalesce(s.day, pv.day)                                 AS day,
    coalesce(s.visitors, 0)                                 AS visitors,
    coalesce(s.sessions, 0)                                 AS sessions,
    coalesce(pv.page_views, 0)                              AS page_views,
    coalesce(s.bounced_sessions, 0)                         AS bounced_sessions,
    CASE WHEN coalesce(s.sessions, 0) = 0 THEN NULL
         ELSE round(s.bounced_sessions::numeric / s.sessions, 4) END
                                                            AS bounce_rate,
    round(s.avg_duration_seconds::numeric, 1)               AS avg_session_seconds
FROM s
FULL JOIN pv ON pv.site_id = s.site_id AND pv.day = s.day
JOIN sites st ON st.id = coalesce(s.site_id, pv.site_id);

COMMENT ON VIEW v_daily_traffic IS 'Per site and UTC day: distinct visitors (profiles) and sessions started that day, page views viewed that day, bounced sessions, bounce_rate (0..1, NULL without sessions) and average session length. Bot sessions excluded. Filter on day to limit the scan.';

-- -----------------------------------------------------------------------------
-- v_queue_health: ingest queue per shard plus dead letters
-- -----------------------------------------------------------------------------
CREATE VIEW v_queue_health AS
WITH q AS (
    SELECT shard,
           count(*)                                            AS depth,
           count(*) FILTER (WHERE available_at <= now())       AS ready,
           count(*) FILTER (WHERE available_at > now())        AS delayed,
           count(*) FILTER (WHERE attempts > 0)                AS retrying,
           max(attempts)                                       AS max_attempts,
           min(enqueued_at)                                    AS oldest_enqueued_at
      FROM event_queue
     GROUP BY shard
), d AS (
    SELECT shard,
           count(*)                                            AS dead_letters,
           max(failed_at)                                      AS last_dead_letter_at
      FROM dead_letters
     GROUP BY shard
)
SELECT
    coalesce(q.shard, d.shard)                              AS shard,
    coalesce(q.depth, 0)                                    AS depth,
    coalesce(q.ready, 0)                                    AS ready,
    coalesce(q.delayed, 0)                                  AS delayed,
    coalesce(q.retrying, 0)                                 AS retrying,
    coalesce(q.max_attempts, 0)                             AS max_attempts,
    q.oldest_enqueued_at,
    now() - q.oldest_enqueued_at                            AS oldest_age,
    coalesce(d.dead_letters, 0)                             AS dead_letters,
    d.last_dead_letter_at
FROM q
FULL JOIN d ON d.shard = q.shard;

COMMENT ON VIEW v_queue_health IS 'Ingest queue health per shard (only shards that have queued items or dead letters): depth, ready vs delayed (backoff) items, items being retried, oldest item and its age, dead letters. Sum over shards for totals. Counts the whole queue: cheap while the queue is short, which it should be.';
