-- =============================================================================
-- Profile Builder — webhook outbox trigger, delivery ordering, export runs
--
-- Webhook deliveries are enqueued by a statement-level trigger on profile_changes, so a profile
-- change and its delivery rows commit (or roll back) together: there is no dispatcher position
-- to track, hence no "id > last_seen" gap on late-committing sequence values. The trigger runs
-- once per INSERT statement (the engine inserts a whole batch of changes in one statement), joins
-- the new rows with the active subscriptions, and sends one coalesced wake-up NOTIFY only when it
-- enqueued something.
-- =============================================================================

-- A subscription filter is evaluated by the trigger inside the writer's transaction, so a
-- malformed filter must never reach the table (it would fail the engine's batch).
CREATE FUNCTION webhook_filter_is_valid(filter jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_typeof(filter) = 'object'
       AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(filter) k
                       WHERE k NOT IN ('stage', 'fields', 'min_lead_score', 'changed_fields'))
       AND (NOT filter ? 'stage' OR (jsonb_typeof(filter->'stage') = 'array'
            AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(filter->'stage') e WHERE jsonb_typeof(e) <> 'string')))
       AND (NOT filter ? 'changed_fields' OR (jsonb_typeof(filter->'changed_fields') = 'array'
            AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(filter->'changed_fields') e WHERE jsonb_typeof(e) <> 'string')))
       AND (NOT filter ? 'fields' OR jsonb_typeof(filter->'fields') = 'object')
       AND (NOT filter ? 'min_lead_score' OR jsonb_typeof(filter->'min_lead_score') = 'number')
$$;
COMMENT ON FUNCTION webhook_filter_is_valid(jsonb) IS 'True if a webhook_subscriptions.filter only uses the documented keys with the right JSON types.';

ALTER TABLE webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_filter_valid CHECK (webhook_filter_is_valid(filter));

-- The head of each (subscription, profile) queue is the only claimable delivery: this index
-- answers "is there an earlier undelivered change for this profile?".
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (subscription_id, profile_id, profile_change_id)
    WHERE status IN ('pending', 'failed');

CREATE FUNCTION webhook_enqueue_changes() RETURNS trigger
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
      ON ws.active
     AND (ws.site_id IS NULL OR ws.site_id = c.site_id)
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
    IF enqueued > 0 THEN
        PERFORM pg_notify('webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION webhook_enqueue_changes() IS 'Outbox trigger: turns new profile_changes rows into webhook_deliveries rows for matching active subscriptions, in the same transaction.';

CREATE TRIGGER profile_changes_enqueue_webhooks
    AFTER INSERT ON profile_changes
    REFERENCING NEW TABLE AS new_changes
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_enqueue_changes();

-- -----------------------------------------------------------------------------
-- Export jobs: a lease so a crashed runner's job is picked up again, and one row per run.
-- -----------------------------------------------------------------------------
ALTER TABLE export_jobs ADD COLUMN locked_until timestamptz;
ALTER TABLE export_jobs ADD COLUMN name text;
COMMENT ON COLUMN export_jobs.locked_until IS 'Lease of the runner executing the job (extended as it makes progress); a running job whose lease expired is claimed again.';
COMMENT ON COLUMN export_jobs.name IS 'Optional label given by the caller.';

CREATE INDEX export_jobs_due_idx ON export_jobs (coalesce(next_run_at, created_at)) WHERE status IN ('queued', 'running');

CREATE TABLE export_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id          bigint NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    rows_done       bigint NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    result_location text,
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX export_runs_job_idx ON export_runs (job_id, id);

COMMENT ON TABLE export_runs IS 'History of export job runs: one row per run of an export_jobs row (scheduled jobs run many times).';
COMMENT ON COLUMN export_runs.job_id IS 'export_jobs.id this run belongs to.';
COMMENT ON COLUMN export_runs.status IS 'running, done or failed.';
COMMENT ON COLUMN export_runs.rows_done IS 'Rows written by this run.';
COMMENT ON COLUMN export_runs.result_location IS 'File path or URL the run wrote to.';
COMMENT ON COLUMN export_runs.error IS 'Why the run failed.';
COMMENT ON COLUMN export_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN export_runs.finished_at IS 'When the run ended.';

-- Keyset pagination in the default order (created_at, id) — what exports and the default profile
-- search page through. Without it every page sorts the whole table (O(n²) for a full export).
CREATE INDEX visitor_profiles_created_idx ON visitor_profiles (created_at, id) WHERE merged_into IS NULL;
