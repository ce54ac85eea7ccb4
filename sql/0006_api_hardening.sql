-- =============================================================================
-- Profile Builder — API hardening: paused webhook subscriptions hold their deliveries
--
-- A paused subscription (active = false) keeps getting deliveries enqueued by the outbox
-- trigger; the worker only claims those of active subscriptions, so they wait, in order, and
-- are sent when the subscription is resumed. A receiver paused for maintenance therefore misses
-- no change; one that wants nothing any more deletes its subscription. The function is the one
-- of 0004 without the "ws.active" condition.
-- =============================================================================

CREATE OR REPLACE FUNCTION webhook_enqueue_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    enqueued bigint;
BEGIN
    INSERT INTO webhook_deliveries (subscription_id, site_id, profile_change_id, profile_id, event_kind, payload)
    SELECT ws.id, c.site_id, c.id, c.profile_id, c.kind,
           jsonb_build_object('id', c.id, 'type', 'profile.' || c.kind, 'site', s.slug, 'profile_id', c.profile_id,
                              'changes', c.changes, 'occurred_at', c.created_at)
    FROM new_changes c
    JOIN webhook_subscriptions ws
      ON (ws.site_id IS NULL OR ws.site_id = c.site_id)
     AND (cardinality(ws.event_kinds) = 0 OR c.kind = ANY (ws.event_kinds))
    LEFT JOIN sites s ON s.id = c.site_id
    LEFT JOIN visitor_profiles p ON p.id = c.profile_id
    -- Erasure and anonymisation notices skip the profile filters: receivers must forget the
    -- person whatever the profile looked like, and an erased profile no longer exists.
    WHERE c.kind IN ('erased', 'anonymized') OR ws.filter = '{}'::jsonb OR (
          p.id IS NOT NULL
      AND (NOT ws.filter ? 'stage' OR p.stage IN (SELECT jsonb_array_elements_text(ws.filter->'stage')))
      AND (NOT ws.filter ? 'fields' OR p.fields @> (ws.filter->'fields'))
      AND (NOT ws.filter ? 'min_lead_score' OR p.lead_score >= (ws.filter->>'min_lead_score')::numeric)
      AND (NOT ws.filter ? 'changed_fields'
           OR coalesce(c.changes->'fields', '[]'::jsonb) ?| ARRAY(SELECT jsonb_array_elements_text(ws.filter->'changed_fields'))))
    ON CONFLICT (subscription_id, profile_change_id) DO NOTHING;
    GET DIAGNOSTICS enqueued = ROW_COUNT;
    -- One wake-up per transaction: Postgres folds identical notifications of one transaction.
    IF enqueued > 0 THEN
        PERFORM pg_notify('webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION webhook_enqueue_changes() IS 'Outbox trigger: turns new profile_changes rows into webhook_deliveries rows for matching subscriptions (paused ones included: their deliveries are held), in the same transaction, and NOTIFYs webhook_deliveries once.';

COMMENT ON COLUMN webhook_subscriptions.active IS 'false = paused: deliveries are still enqueued but held (not sent) until the subscription is resumed (PATCH active=true).';

-- -----------------------------------------------------------------------------
-- Profile search at scale (Benchmarks/api_bench.py, 1,000,000 profiles; docs/BENCHMARKS.md)
--
-- GET /v1/profiles orders by (<sort column>, id) and stops after a page, so an index in exactly
-- that order lets it read one page of index entries instead of sorting every match. 0004 added
-- the one for created_at; these are the other sorts. They carry no site_id because the site
-- filter arrives through a join and a join does not keep an inner index's order; on a
-- single-site install every row matches anyway, and the site indexes of 0001 still serve
-- site-selective plans.
-- -----------------------------------------------------------------------------

-- sort=lead_score and min/max_lead_score ranges: 864 ms -> 0.2 ms.
CREATE INDEX visitor_profiles_lead_score_live_idx ON visitor_profiles (lead_score, id) WHERE merged_into IS NULL;
CREATE INDEX visitor_profiles_engagement_live_idx ON visitor_profiles (engagement_score, id) WHERE merged_into IS NULL;
-- sort=last_seen_at sorts by coalesce(last_seen_at, 'epoch') (never-seen profiles last), which
-- the plain last_seen_at index of 0001 cannot serve: 414 ms -> 2 ms for stage=mql.
CREATE INDEX visitor_profiles_last_seen_live_idx ON visitor_profiles ((coalesce(last_seen_at, 'epoch'::timestamptz)), id)
    WHERE merged_into IS NULL;

-- interest= / category= filters: the EXISTS probe reads only this index (no heap visit per
-- interest row): 186 ms -> 60 ms with a cold cache; what remains is reading the matching profiles.
CREATE INDEX interests_item_profiles_idx ON interests (catalog_item_id, confidence DESC) INCLUDE (profile_id)
    WHERE catalog_item_id IS NOT NULL AND NOT negated;
CREATE INDEX interests_category_profiles_idx ON interests (category_id, confidence DESC) INCLUDE (profile_id)
    WHERE category_id IS NOT NULL AND NOT negated;
