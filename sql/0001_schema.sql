-- =============================================================================
-- Profile Builder — schema v1 (the whole data model)
--
-- Applied by the migration runner inside ONE transaction and recorded in
-- schema_migrations (created by the runner, not here). No BEGIN/COMMIT, no
-- CREATE INDEX CONCURRENTLY, no extensions (gen_random_uuid() is core in PG13+).
--
-- Conventions
--   * All timestamps are timestamptz and are written/read in UTC.
--   * site_id is present on every per-site table so that any table can be
--     filtered (and, if ever needed, distributed) by the same column.
--   * Tables holding data derived from a visitor profile reference
--     visitor_profiles(id) ON DELETE CASCADE, so deleting a profile erases
--     everything derived from it. Tables that must outlive a profile
--     (profile_changes, erasure_tombstones, erasure_requests, webhook_deliveries)
--     hold no FK to it and must not hold PII after an erasure.
--   * events is partitioned by received_at; nothing can hold an FK to it.
--   * No triggers issue NOTIFY per row (see QUEUE.md: the services send at most
--     one coalesced wake-up NOTIFY per queue per short window).
--   * Documented in docs/SQL.md.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Sites
-- -----------------------------------------------------------------------------
CREATE TABLE sites (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                    text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                    text NOT NULL,
    write_key               text NOT NULL UNIQUE,
    allowed_origins         text[] NOT NULL DEFAULT '{}',
    consent_mode            text NOT NULL DEFAULT 'none' CHECK (consent_mode IN ('none', 'require', 'strip')),
    honor_dnt               boolean NOT NULL DEFAULT true,
    honor_gpc               boolean NOT NULL DEFAULT true,
    bot_policy              text NOT NULL DEFAULT 'flag' CHECK (bot_policy IN ('flag', 'drop')),
    ip_storage              text NOT NULL DEFAULT 'truncate' CHECK (ip_storage IN ('truncate', 'none')),
    event_retention_days    int NOT NULL DEFAULT 395 CHECK (event_retention_days > 0),
    profile_retention_days  int NOT NULL DEFAULT 730 CHECK (profile_retention_days > 0),
    settings                jsonb NOT NULL DEFAULT '{}',
    created_at              timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE sites IS 'A tracked website (tenant). Every event, profile and catalog row belongs to one site. The write key authenticates the tracker/SDKs for this site only.';
COMMENT ON COLUMN sites.slug IS 'Short URL-safe identifier: lowercase letters, digits and hyphens, 1-63 chars.';
COMMENT ON COLUMN sites.write_key IS 'Public key sent by the tracker/SDKs as HTTP Basic user; only writes events for this site.';
COMMENT ON COLUMN sites.allowed_origins IS 'Browser Origins accepted by the collector for this site (CORS). Empty = no browser origin allowed.';
COMMENT ON COLUMN sites.consent_mode IS 'none: no consent check; require: drop events without analytics consent; strip: keep such events but remove identifiers.';
COMMENT ON COLUMN sites.honor_dnt IS 'If true, events from browsers sending DNT: 1 are not stored.';
COMMENT ON COLUMN sites.honor_gpc IS 'If true, events from browsers sending Sec-GPC: 1 are not stored.';
COMMENT ON COLUMN sites.bot_policy IS 'flag: store bot traffic with events.is_bot = true; drop: do not store it.';
COMMENT ON COLUMN sites.ip_storage IS 'truncate: store client IP truncated to /24 (IPv4) or /48 (IPv6); none: store no IP. A raw IP is never stored.';
COMMENT ON COLUMN sites.event_retention_days IS 'Raw events older than this are removed (partition drop / delete).';
COMMENT ON COLUMN sites.profile_retention_days IS 'Profiles not seen for this many days are removed or anonymised.';
COMMENT ON COLUMN sites.settings IS 'Free-form per-site settings (JSON object) not covered by a dedicated column.';

-- -----------------------------------------------------------------------------
-- Raw events (partitioned by received_at, weekly)
-- -----------------------------------------------------------------------------
CREATE SEQUENCE events_id_seq AS bigint;
COMMENT ON SEQUENCE events_id_seq IS 'Ids for events.id (shared by all partitions).';

CREATE TABLE events (
    id              bigint NOT NULL DEFAULT nextval('events_id_seq'),
    site_id         bigint NOT NULL REFERENCES sites (id),
    message_id      text NOT NULL,
    type            text NOT NULL CHECK (type IN ('track', 'page', 'screen', 'identify', 'alias', 'group', 'chat', 'interaction')),
    anonymous_id    text,
    user_id         text,
    event           text,
    name            text,
    previous_id     text,
    group_id        text,
    properties      jsonb NOT NULL DEFAULT '{}',
    traits          jsonb NOT NULL DEFAULT '{}',
    context         jsonb NOT NULL DEFAULT '{}',
    integrations    jsonb NOT NULL DEFAULT '{}',
    occurred_at     timestamptz NOT NULL,
    sent_at         timestamptz,
    received_at     timestamptz NOT NULL,
    client_ip       inet,
    is_bot          boolean NOT NULL DEFAULT false,
    consent         jsonb,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);

ALTER SEQUENCE events_id_seq OWNED BY events.id;

CREATE INDEX events_site_anon_occurred_idx ON events (site_id, anonymous_id, occurred_at);
CREATE INDEX events_site_user_idx ON events (site_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_site_message_idx ON events (site_id, message_id);

COMMENT ON TABLE events IS 'Raw event log as accepted by the collector (Segment-compatible). Partitioned by received_at into weekly partitions events_pYYYYMMDD (Monday, UTC) plus events_default; retention drops whole partitions. Immutable after insert except for privacy operations.';
COMMENT ON COLUMN events.id IS 'Event id from events_id_seq. Unique in practice; the primary key is (id, received_at) because a partitioned table''s keys must include the partition key.';
COMMENT ON COLUMN events.message_id IS 'Client-supplied messageId (Segment). Deduplicated per site through event_dedupe.';
COMMENT ON COLUMN events.type IS 'Segment call type (track, page, screen, identify, alias, group) or our own chat / interaction.';
COMMENT ON COLUMN events.anonymous_id IS 'Tracker/SDK anonymous visitor id (removed when the site''s consent_mode is strip and consent is missing).';
COMMENT ON COLUMN events.user_id IS 'Known user id sent by the site (identify, or any call after identify).';
COMMENT ON COLUMN events.event IS 'track: event name; interaction: interaction kind (click, scroll, dwell, ...).';
COMMENT ON COLUMN events.name IS 'page/screen: page or screen name.';
COMMENT ON COLUMN events.previous_id IS 'alias: the previous id being aliased to user_id.';
COMMENT ON COLUMN events.group_id IS 'group: account/company id.';
COMMENT ON COLUMN events.properties IS 'Segment properties (JSON object).';
COMMENT ON COLUMN events.traits IS 'Segment traits (identify/group), JSON object.';
COMMENT ON COLUMN events.context IS 'Segment context (page, userAgent, locale, campaign, ...). Never contains the raw IP.';
COMMENT ON COLUMN events.integrations IS 'Segment integrations object, stored as sent.';
COMMENT ON COLUMN events.occurred_at IS 'When the event happened: client timestamp corrected for clock skew (received_at - (sent_at - timestamp)).';
COMMENT ON COLUMN events.sent_at IS 'Client clock when the batch was sent (Segment sentAt), if given.';
COMMENT ON COLUMN events.received_at IS 'Server time the collector accepted the event. Partition key.';
COMMENT ON COLUMN events.client_ip IS 'Client IP truncated to /24 (IPv4) or /48 (IPv6), or NULL when the site stores no IP.';
COMMENT ON COLUMN events.is_bot IS 'True when the collector classified the request as a bot (site bot_policy = flag).';
COMMENT ON COLUMN events.consent IS 'Consent categories seen on the event, e.g. {"analytics": true, "marketing": false}; NULL if none sent.';

CREATE TABLE events_default PARTITION OF events DEFAULT;
COMMENT ON TABLE events_default IS 'Catch-all partition of events for rows outside every weekly partition. Should stay (nearly) empty: ensure_event_partitions() creates weekly partitions ahead of time and moves any rows found here into the new partition.';

-- Creates weekly partitions events_pYYYYMMDD covering [Monday 00:00 UTC, next Monday 00:00 UTC)
-- for the week containing from_date and the following weeks-1 weeks. Idempotent; returns the
-- names of the partitions it created. Rows already sitting in events_default for a new week are
-- moved into the new partition (otherwise PostgreSQL refuses to create it).
CREATE FUNCTION ensure_event_partitions(from_date date, weeks int)
RETURNS SETOF text
LANGUAGE plpgsql
SET datestyle = 'ISO, YMD'
AS $$
DECLARE
    sch     text;
    monday  date;
    lo      timestamptz;
    hi      timestamptz;
    pname   text;
    has_default_rows boolean;
BEGIN
    IF from_date IS NULL OR weeks IS NULL OR weeks < 0 THEN
        RAISE EXCEPTION 'ensure_event_partitions: from_date must not be null and weeks must be >= 0 (got %, %)', from_date, weeks;
    END IF;

    -- Serialize concurrent callers (several engine instances may run this at start-up).
    PERFORM pg_advisory_xact_lock(hashtext('profile_builder.ensure_event_partitions'));

    SELECT n.nspname INTO sch
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = 'events'::regclass;

    monday := from_date - (extract(isodow FROM from_date)::int - 1);

    FOR i IN 0 .. weeks - 1 LOOP
        lo    := ((monday + 7 * i)::timestamp AT TIME ZONE 'UTC');
        hi    := ((monday + 7 * (i + 1))::timestamp AT TIME ZONE 'UTC');
        pname := 'events_p' || to_char(monday + 7 * i, 'YYYYMMDD');

        CONTINUE WHEN to_regclass(format('%I.%I', sch, pname)) IS NOT NULL;

        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.events_default WHERE received_at >= $1 AND received_at < $2)', sch)
           INTO has_default_rows USING lo, hi;

        IF has_default_rows THEN
            -- Build the partition standalone, move the rows out of the default partition, attach.
            EXECUTE format('CREATE TABLE %I.%I (LIKE %I.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', sch, pname, sch);
            EXECUTE format('WITH moved AS (DELETE FROM %I.events_default WHERE received_at >= $1 AND received_at < $2 RETURNING *)
                            INSERT INTO %I.%I SELECT * FROM moved', sch, sch, pname) USING lo, hi;
            EXECUTE format('ALTER TABLE %I.events ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', sch, sch, pname, lo, hi);
        ELSE
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.events FOR VALUES FROM (%L) TO (%L)', sch, pname, sch, lo, hi);
        END IF;

        EXECUTE format('COMMENT ON TABLE %I.%I IS %L', sch, pname,
                       format('Weekly partition of events: received_at in [%s, %s) UTC. Created by ensure_event_partitions(); dropped by drop_expired_event_partitions().',
                              to_char(lo AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), to_char(hi AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')));
        RETURN NEXT pname;
    END LOOP;
    RETURN;
END;
$$;

COMMENT ON FUNCTION ensure_event_partitions(date, int) IS 'Creates missing weekly partitions events_pYYYYMMDD (Monday-aligned, UTC) for the week containing from_date and the next weeks-1 weeks; returns the names created. Idempotent and safe to call concurrently (advisory lock). Run it regularly (e.g. daily) a few weeks ahead.';

-- Drops every weekly partition of events whose upper bound is <= older_than (i.e. all of its
-- rows were received before older_than) and deletes rows older than older_than from
-- events_default. Returns the names of the dropped partitions.
CREATE FUNCTION drop_expired_event_partitions(older_than timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql
SET datestyle = 'ISO, YMD'
AS $$
DECLARE
    r       record;
    upper_b timestamptz;
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'drop_expired_event_partitions: older_than must not be null';
    END IF;

    PERFORM pg_advisory_xact_lock(hashtext('profile_builder.ensure_event_partitions'));

    FOR r IN
        SELECT c.oid::regclass AS rel, c.relname::text AS relname,
               pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'events'::regclass
         ORDER BY c.relname
    LOOP
        CONTINUE WHEN r.bound = 'DEFAULT';
        upper_b := (regexp_match(r.bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz;
        CONTINUE WHEN upper_b IS NULL OR upper_b > older_than;
        EXECUTE format('DROP TABLE %s', r.rel);
        RETURN NEXT r.relname;
    END LOOP;

    DELETE FROM events_default WHERE received_at < older_than;
    RETURN;
END;
$$;

COMMENT ON FUNCTION drop_expired_event_partitions(timestamptz) IS 'Retention: drops weekly events partitions whose whole range is before older_than, deletes older rows from events_default, returns the dropped partition names. Does not touch event_dedupe / event_queue (prune those separately).';

-- Current week and the next 4 weeks.
DO $$ BEGIN PERFORM ensure_event_partitions((now() AT TIME ZONE 'UTC')::date, 5); END $$;

-- -----------------------------------------------------------------------------
-- Dedupe, queue, dead letters
-- -----------------------------------------------------------------------------
CREATE TABLE event_dedupe (
    site_id     bigint NOT NULL REFERENCES sites (id),
    message_id  text NOT NULL,
    event_id    bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, message_id)
);
CREATE INDEX event_dedupe_received_at_idx ON event_dedupe (received_at);

COMMENT ON TABLE event_dedupe IS 'messageId dedupe across all events partitions (a unique index on the partitioned events table would have to include received_at). The collector inserts here with ON CONFLICT DO NOTHING in the same transaction as the event; a conflict means a duplicate. Rows older than the dedupe window are pruned by received_at.';
COMMENT ON COLUMN event_dedupe.message_id IS 'Client messageId, unique per site within the retained window.';
COMMENT ON COLUMN event_dedupe.event_id IS 'events.id of the first accepted copy.';
COMMENT ON COLUMN event_dedupe.received_at IS 'When the first copy was received; used for pruning.';

CREATE TABLE event_queue (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id            bigint NOT NULL,
    event_received_at   timestamptz NOT NULL,
    site_id             bigint NOT NULL,
    shard               smallint NOT NULL CHECK (shard BETWEEN 0 AND 255),
    attempts            int NOT NULL DEFAULT 0,
    available_at        timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    enqueued_at         timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, fillfactor = 90);
CREATE INDEX event_queue_shard_id_idx ON event_queue (shard, id);
CREATE INDEX event_queue_available_at_idx ON event_queue (available_at);

COMMENT ON TABLE event_queue IS 'Work queue: one row per accepted event still to be applied to profiles by the engine. Claimed with FOR UPDATE SKIP LOCKED per shard, deleted in the same transaction that applies the event. No FK to events: a foreign key to a partitioned table would need (id, received_at) and would block dropping partitions; the collector inserts both rows in one transaction instead. High churn, hence aggressive autovacuum settings.';
COMMENT ON COLUMN event_queue.event_id IS 'events.id of the event to apply.';
COMMENT ON COLUMN event_queue.event_received_at IS 'events.received_at of that event (lets the engine hit one partition).';
COMMENT ON COLUMN event_queue.shard IS 'Hash of the visitor (0..255): all events of one visitor go to the same shard so a worker applies them in order.';
COMMENT ON COLUMN event_queue.attempts IS 'Failed processing attempts so far.';
COMMENT ON COLUMN event_queue.available_at IS 'Not to be claimed before this time (retry backoff).';
COMMENT ON COLUMN event_queue.last_error IS 'Error of the last failed attempt.';

CREATE TABLE dead_letters (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id            bigint NOT NULL,
    event_received_at   timestamptz NOT NULL,
    site_id             bigint NOT NULL,
    shard               smallint NOT NULL,
    attempts            int NOT NULL,
    last_error          text NOT NULL,
    failed_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_failed_at_idx ON dead_letters (failed_at);
CREATE INDEX dead_letters_event_idx ON dead_letters (event_id);

COMMENT ON TABLE dead_letters IS 'Queue items that failed too many times. Operators inspect them and replay (re-insert into event_queue) or delete them. No FK to events (partitioned).';
COMMENT ON COLUMN dead_letters.attempts IS 'Number of attempts made before giving up.';
COMMENT ON COLUMN dead_letters.last_error IS 'Error of the final attempt.';

-- -----------------------------------------------------------------------------
-- Profiles and identities
-- -----------------------------------------------------------------------------
CREATE TABLE visitor_profiles (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id             bigint NOT NULL REFERENCES sites (id),
    fields              jsonb NOT NULL DEFAULT '{}',
    field_meta          jsonb NOT NULL DEFAULT '{}',
    lead_score          int NOT NULL DEFAULT 0,
    engagement_score    int NOT NULL DEFAULT 0,
    score_breakdown     jsonb NOT NULL DEFAULT '[]',
    stage               text NOT NULL DEFAULT 'anonymous' CHECK (stage IN ('anonymous', 'known', 'engaged', 'mql', 'sql', 'customer')),
    interest_tags       text[] NOT NULL DEFAULT '{}',
    merged_into         uuid REFERENCES visitor_profiles (id),
    first_seen_at       timestamptz,
    last_seen_at        timestamptz,
    anonymized_at       timestamptz,
    version             bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT visitor_profiles_not_merged_into_self CHECK (merged_into IS NULL OR merged_into <> id)
);

-- Text searched by the profile full-text index. IMMUTABLE (only immutable operators); it is
-- inlined by the planner, so both "profile_search_vector(fields) @@ q" and the same expression
-- written out match the index. Never change this function without REINDEXing
-- visitor_profiles_search_idx.
CREATE FUNCTION profile_search_vector(fields jsonb)
RETURNS tsvector
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT to_tsvector('simple'::regconfig,
              coalesce(fields->>'name', '') || ' ' ||
              coalesce(fields->>'first_name', '') || ' ' ||
              coalesce(fields->>'last_name', '') || ' ' ||
              coalesce(fields->>'email', '') || ' ' ||
              coalesce(CASE WHEN jsonb_typeof(fields->'company') = 'object'
                            THEN fields->'company'->>'name'
                            ELSE fields->>'company' END, '') || ' ' ||
              coalesce(fields->>'job_title', ''))
$$;
COMMENT ON FUNCTION profile_search_vector(jsonb) IS 'Full-text document of a profile (name, first/last name, email, company name, job title) with the simple configuration. Backs visitor_profiles_search_idx; query with profile_search_vector(fields) @@ websearch_to_tsquery(''simple'', ...).';

CREATE INDEX visitor_profiles_fields_idx ON visitor_profiles USING gin (fields jsonb_path_ops);
CREATE INDEX visitor_profiles_site_last_seen_idx ON visitor_profiles (site_id, last_seen_at DESC);
CREATE INDEX visitor_profiles_site_lead_score_idx ON visitor_profiles (site_id, lead_score DESC);
CREATE INDEX visitor_profiles_merged_into_idx ON visitor_profiles (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX visitor_profiles_search_idx ON visitor_profiles USING gin (profile_search_vector(fields));

COMMENT ON TABLE visitor_profiles IS 'One row per visitor profile (anonymous or known). Typed fields live in fields (JSONB, configured by profile_fields.yaml); interests, sessions and metrics are relational tables referencing this one. A profile merged into another keeps its row with merged_into set and is excluded from reads.';
COMMENT ON COLUMN visitor_profiles.fields IS 'Typed field values keyed by field name from profile_fields.yaml, e.g. {"email": "a@b.c", "name": "Ann", "company": {"name": "Acme"}}. GIN (jsonb_path_ops) index: use fields @> ''{"country":"DE"}''.';
COMMENT ON COLUMN visitor_profiles.field_meta IS 'Provenance per field: {"email": {"source": "identify", "at": "2025-01-01T00:00:00Z", "event_id": 123}}.';
COMMENT ON COLUMN visitor_profiles.lead_score IS 'Qualification score (profile completeness + behaviour + intent). See score_breakdown.';
COMMENT ON COLUMN visitor_profiles.engagement_score IS 'Engagement score from sessions, page views, dwell time and chat.';
COMMENT ON COLUMN visitor_profiles.score_breakdown IS 'JSON array explaining the scores, e.g. [{"rule": "pricing_page", "points": 10}].';
COMMENT ON COLUMN visitor_profiles.stage IS 'Lifecycle stage: anonymous, known, engaged, mql, sql, customer. Changes are logged in stage_transitions.';
COMMENT ON COLUMN visitor_profiles.interest_tags IS 'Denormalised tags of the strongest current interests (see interests for details).';
COMMENT ON COLUMN visitor_profiles.merged_into IS 'When set, this profile was merged into that profile (the survivor); all derived rows were moved there. Readers follow it and exclude merged profiles.';
COMMENT ON COLUMN visitor_profiles.first_seen_at IS 'occurred_at of the earliest event applied to the profile.';
COMMENT ON COLUMN visitor_profiles.last_seen_at IS 'occurred_at of the latest event applied to the profile.';
COMMENT ON COLUMN visitor_profiles.anonymized_at IS 'When PII was removed from the profile (GDPR anonymisation); NULL if never.';
COMMENT ON COLUMN visitor_profiles.version IS 'Incremented on every change; served as the ETag for optimistic concurrency.';

CREATE TABLE profile_identities (
    site_id     bigint NOT NULL REFERENCES sites (id),
    kind        text NOT NULL CHECK (kind IN ('anonymous_id', 'user_id', 'email')),
    value       text NOT NULL,
    profile_id  uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, kind, value)
);
CREATE INDEX profile_identities_profile_idx ON profile_identities (profile_id);

COMMENT ON TABLE profile_identities IS 'Identity graph: maps each known identifier of a site (anonymous id, user id, email) to exactly one profile. Used to find the profile for an event and to merge profiles.';
COMMENT ON COLUMN profile_identities.kind IS 'anonymous_id, user_id or email.';
COMMENT ON COLUMN profile_identities.value IS 'The identifier (emails stored lower-cased).';
COMMENT ON COLUMN profile_identities.profile_id IS 'The (surviving) profile this identifier belongs to.';

CREATE TABLE erasure_tombstones (
    site_id         bigint NOT NULL REFERENCES sites (id),
    identity_hash   text NOT NULL,
    erased_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, identity_hash)
);

COMMENT ON TABLE erasure_tombstones IS 'Identities of erased visitors, hashed, so an erased visitor is not rebuilt from old or late events without keeping any PII.';
COMMENT ON COLUMN erasure_tombstones.identity_hash IS 'Lower-case hex SHA-256 of kind || '':'' || value (e.g. sha256(''email:ann@example.com'')).';

CREATE TABLE opt_outs (
    site_id         bigint REFERENCES sites (id),
    anonymous_id    text,
    created_at      timestamptz DEFAULT now(),
    PRIMARY KEY (site_id, anonymous_id)
);

COMMENT ON TABLE opt_outs IS 'Visitors (by anonymous id) who opted out of tracking on a site; the collector drops their events.';
COMMENT ON COLUMN opt_outs.anonymous_id IS 'Anonymous id of the visitor who opted out.';

CREATE TABLE profile_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     bigint NOT NULL,
    profile_id  uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('created', 'updated', 'merged', 'stage_changed', 'segment_entered', 'segment_left', 'erased', 'anonymized')),
    changes     jsonb NOT NULL DEFAULT '{}',
    event_id    bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_changes_profile_idx ON profile_changes (profile_id, id);
CREATE INDEX profile_changes_site_id_idx ON profile_changes (site_id, id);
CREATE INDEX profile_changes_created_at_idx ON profile_changes (created_at);

COMMENT ON TABLE profile_changes IS 'Append-only change log of profiles, followed by the webhook dispatcher and live readers. Deliberately no FK to visitor_profiles: ''erased'' records must outlive the profile. Must never contain PII beyond what the profile itself holds, and rows of an erased profile are scrubbed (changes = {}) by the erasure.';
COMMENT ON COLUMN profile_changes.kind IS 'created, updated, merged, stage_changed, segment_entered, segment_left, erased, anonymized.';
COMMENT ON COLUMN profile_changes.changes IS 'What changed, e.g. {"fields": {"company": "Acme"}, "lead_score": [10, 25]} or {"into": "<uuid>"} for merged.';
COMMENT ON COLUMN profile_changes.event_id IS 'events.id that caused the change, if any.';

CREATE TABLE field_rejections (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     bigint NOT NULL,
    profile_id  uuid REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    field       text NOT NULL,
    reason      text NOT NULL,
    source      text NOT NULL,
    event_id    bigint,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX field_rejections_profile_idx ON field_rejections (profile_id) WHERE profile_id IS NOT NULL;
CREATE INDEX field_rejections_site_rejected_idx ON field_rejections (site_id, rejected_at);

COMMENT ON TABLE field_rejections IS 'Field values refused by profile_fields.yaml validation (wrong type, format, range), for data-quality review. Holds no rejected value, only the reason.';
COMMENT ON COLUMN field_rejections.field IS 'Field name as sent.';
COMMENT ON COLUMN field_rejections.reason IS 'Why it was refused (e.g. "invalid email format", "unknown field").';
COMMENT ON COLUMN field_rejections.source IS 'Where the value came from: identify, chat, api, import, ...';

-- -----------------------------------------------------------------------------
-- API keys and audit
-- -----------------------------------------------------------------------------
CREATE TABLE api_keys (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                    text NOT NULL,
    prefix                  text NOT NULL UNIQUE,
    secret_hash             text NOT NULL,
    scopes                  text[] NOT NULL DEFAULT '{}'
                            CHECK (scopes <@ ARRAY['profiles:read', 'profiles:write', 'profiles:export', 'gdpr', 'admin', 'webhooks', 'catalog', 'reports']::text[]),
    rate_limit_per_minute   int NOT NULL DEFAULT 600 CHECK (rate_limit_per_minute > 0),
    created_at              timestamptz DEFAULT now(),
    revoked_at              timestamptz,
    last_used_at            timestamptz
);

COMMENT ON TABLE api_keys IS 'Keys for the profile API. Only a hash of the secret is stored; the key is looked up by its public prefix.';
COMMENT ON COLUMN api_keys.prefix IS 'Public, unique first part of the key, used to find the row.';
COMMENT ON COLUMN api_keys.secret_hash IS 'Hash of the secret part (never the secret itself).';
COMMENT ON COLUMN api_keys.scopes IS 'Granted scopes, a subset of profiles:read, profiles:write, profiles:export, gdpr, admin, webhooks, catalog, reports.';
COMMENT ON COLUMN api_keys.rate_limit_per_minute IS 'Requests per minute allowed for this key.';
COMMENT ON COLUMN api_keys.revoked_at IS 'When set, the key is refused.';

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    api_key_id  bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    site_id     bigint REFERENCES sites (id),
    action      text NOT NULL,
    target      text,
    details     jsonb NOT NULL DEFAULT '{}',
    request_id  text
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_api_key_at_idx ON audit_log (api_key_id, at) WHERE api_key_id IS NOT NULL;
CREATE INDEX audit_log_target_idx ON audit_log (target) WHERE target IS NOT NULL;

COMMENT ON TABLE audit_log IS 'Who did what through the API or admin commands (reads of personal data, writes, exports, erasures, key and webhook changes). Must not contain PII: reference profiles by id.';
COMMENT ON COLUMN audit_log.at IS 'When the action happened.';
COMMENT ON COLUMN audit_log.api_key_id IS 'Key that performed the action (NULL for operator CLI actions).';
COMMENT ON COLUMN audit_log.action IS 'Dotted action name, e.g. profile.read, profile.update, export.create, gdpr.erase, api_key.revoke.';
COMMENT ON COLUMN audit_log.target IS 'What was acted on, e.g. profile:<uuid>, export:<id>, webhook:<id>.';
COMMENT ON COLUMN audit_log.details IS 'Extra structured context (no PII).';
COMMENT ON COLUMN audit_log.request_id IS 'X-Request-ID of the HTTP request, to correlate with logs.';

-- -----------------------------------------------------------------------------
-- Sessions and page views
-- -----------------------------------------------------------------------------
CREATE TABLE sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    anonymous_id        text,
    client_session_id   text,
    started_at          timestamptz NOT NULL,
    last_activity_at    timestamptz NOT NULL,
    ended_at            timestamptz,
    entry_url           text,
    exit_url            text,
    referrer            text,
    referrer_host       text,
    utm_source          text,
    utm_medium          text,
    utm_campaign        text,
    utm_term            text,
    utm_content         text,
    device_type         text,
    browser             text,
    os                  text,
    country             text,
    is_bot              boolean NOT NULL DEFAULT false,
    page_count          int NOT NULL DEFAULT 0 CHECK (page_count >= 0),
    event_count         int NOT NULL DEFAULT 0 CHECK (event_count >= 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_activity_after_start CHECK (last_activity_at >= started_at),
    CONSTRAINT sessions_end_after_start CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX sessions_profile_started_idx ON sessions (profile_id, started_at DESC);
CREATE INDEX sessions_site_started_idx ON sessions (site_id, started_at);
CREATE INDEX sessions_site_anon_activity_idx ON sessions (site_id, anonymous_id, last_activity_at DESC);
CREATE UNIQUE INDEX sessions_client_session_uidx ON sessions (site_id, anonymous_id, client_session_id) WHERE client_session_id IS NOT NULL;

COMMENT ON TABLE sessions IS 'One row per visit (session) of a visitor: a run of events without a gap longer than the session timeout (30 min by default). Built by the engine from events.';
COMMENT ON COLUMN sessions.anonymous_id IS 'Tracker anonymous id the session was recorded under.';
COMMENT ON COLUMN sessions.client_session_id IS 'Session id generated by the tracker, if it sent one (unique per site and anonymous id).';
COMMENT ON COLUMN sessions.started_at IS 'occurred_at of the first event of the session.';
COMMENT ON COLUMN sessions.last_activity_at IS 'occurred_at of the latest event of the session.';
COMMENT ON COLUMN sessions.ended_at IS 'Set when the session is closed (timeout or page unload); NULL while it may still continue.';
COMMENT ON COLUMN sessions.entry_url IS 'URL of the first page of the session (landing page).';
COMMENT ON COLUMN sessions.exit_url IS 'URL of the last page of the session so far.';
COMMENT ON COLUMN sessions.referrer IS 'Referrer of the first page view (external referrer of the visit).';
COMMENT ON COLUMN sessions.referrer_host IS 'Host part of referrer, for grouping.';
COMMENT ON COLUMN sessions.utm_source IS 'utm_source of the landing URL / context.campaign.source.';
COMMENT ON COLUMN sessions.utm_medium IS 'utm_medium (campaign medium).';
COMMENT ON COLUMN sessions.utm_campaign IS 'utm_campaign (campaign name).';
COMMENT ON COLUMN sessions.utm_term IS 'utm_term (paid keyword).';
COMMENT ON COLUMN sessions.utm_content IS 'utm_content (ad/content variant).';
COMMENT ON COLUMN sessions.device_type IS 'desktop, mobile, tablet or other, derived from the user agent (the user agent itself is not kept here).';
COMMENT ON COLUMN sessions.country IS 'ISO 3166-1 alpha-2 country, if known (e.g. from a trusted geo header).';
COMMENT ON COLUMN sessions.is_bot IS 'True if the session''s events were flagged as bot traffic; reporting views exclude these.';
COMMENT ON COLUMN sessions.page_count IS 'Number of page views in the session.';
COMMENT ON COLUMN sessions.event_count IS 'Number of events of any type in the session.';

CREATE TABLE page_views (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    session_id          uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    event_id            bigint,
    client_page_view_id text,
    url                 text NOT NULL,
    path                text NOT NULL,
    title               text,
    referrer            text,
    viewed_at           timestamptz NOT NULL,
    dwell_ms            bigint NOT NULL DEFAULT 0 CHECK (dwell_ms >= 0),
    max_scroll_pct      smallint NOT NULL DEFAULT 0 CHECK (max_scroll_pct BETWEEN 0 AND 100),
    sequence_no         int NOT NULL DEFAULT 1 CHECK (sequence_no >= 1),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX page_views_session_viewed_idx ON page_views (session_id, viewed_at);
CREATE INDEX page_views_profile_viewed_idx ON page_views (profile_id, viewed_at DESC);
CREATE INDEX page_views_site_viewed_idx ON page_views (site_id, viewed_at);
CREATE INDEX page_views_site_path_idx ON page_views (site_id, path);
CREATE UNIQUE INDEX page_views_event_uidx ON page_views (site_id, event_id) WHERE event_id IS NOT NULL;
CREATE UNIQUE INDEX page_views_client_id_uidx ON page_views (session_id, client_page_view_id) WHERE client_page_view_id IS NOT NULL;

COMMENT ON TABLE page_views IS 'One row per page (or screen) view, built from page events; dwell time and scroll depth are updated from later interaction events for the same page view.';
COMMENT ON COLUMN page_views.event_id IS 'events.id of the page event (unique per site: an event creates at most one page view).';
COMMENT ON COLUMN page_views.client_page_view_id IS 'Page view id generated by the tracker; later dwell/scroll interactions refer to it.';
COMMENT ON COLUMN page_views.url IS 'Full URL (query string kept as sent, minus identifiers the collector strips).';
COMMENT ON COLUMN page_views.path IS 'URL path, used for grouping and catalog URL-pattern matching.';
COMMENT ON COLUMN page_views.referrer IS 'document.referrer of the page view.';
COMMENT ON COLUMN page_views.viewed_at IS 'occurred_at of the page event.';
COMMENT ON COLUMN page_views.dwell_ms IS 'Visible (foreground) time on the page in milliseconds.';
COMMENT ON COLUMN page_views.max_scroll_pct IS 'Deepest scroll position reached, percent of page height (0..100).';
COMMENT ON COLUMN page_views.sequence_no IS 'Position of the page view within its session (1 = entry page); for navigation-flow analysis.';

CREATE TABLE session_analytics (
    session_id          uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    pages               int NOT NULL DEFAULT 0 CHECK (pages >= 0),
    unique_pages        int NOT NULL DEFAULT 0 CHECK (unique_pages >= 0),
    interactions        int NOT NULL DEFAULT 0 CHECK (interactions >= 0),
    duration_seconds    int NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
    entry_page          text,
    exit_page           text,
    bounced             boolean NOT NULL DEFAULT false,
    max_scroll_pct      smallint NOT NULL DEFAULT 0 CHECK (max_scroll_pct BETWEEN 0 AND 100),
    total_dwell_ms      bigint NOT NULL DEFAULT 0 CHECK (total_dwell_ms >= 0),
    dwell_per_page      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(dwell_per_page) = 'object'),
    chat_messages       int NOT NULL DEFAULT 0 CHECK (chat_messages >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_analytics_profile_idx ON session_analytics (profile_id);
CREATE INDEX session_analytics_site_idx ON session_analytics (site_id);

COMMENT ON TABLE session_analytics IS 'Computed metrics of one session (one row per session), refreshed by the engine as the session grows.';
COMMENT ON COLUMN session_analytics.pages IS 'Page views in the session.';
COMMENT ON COLUMN session_analytics.unique_pages IS 'Distinct paths viewed in the session.';
COMMENT ON COLUMN session_analytics.interactions IS 'Interaction events (clicks, scrolls, ...) in the session.';
COMMENT ON COLUMN session_analytics.duration_seconds IS 'last_activity_at - started_at of the session, in seconds.';
COMMENT ON COLUMN session_analytics.entry_page IS 'Path of the first page view.';
COMMENT ON COLUMN session_analytics.exit_page IS 'Path of the last page view.';
COMMENT ON COLUMN session_analytics.bounced IS 'True when the session had a single page view and no interaction or chat.';
COMMENT ON COLUMN session_analytics.max_scroll_pct IS 'Deepest scroll reached on any page of the session (0..100).';
COMMENT ON COLUMN session_analytics.total_dwell_ms IS 'Sum of page_views.dwell_ms of the session.';
COMMENT ON COLUMN session_analytics.dwell_per_page IS 'Dwell time per path in ms, e.g. {"/pricing": 42000, "/": 3000}.';
COMMENT ON COLUMN session_analytics.chat_messages IS 'Chat messages sent by the visitor during the session.';

CREATE TABLE engagement_metrics (
    profile_id              uuid PRIMARY KEY REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    site_id                 bigint NOT NULL REFERENCES sites (id),
    sessions_count          int NOT NULL DEFAULT 0 CHECK (sessions_count >= 0),
    page_views_count        int NOT NULL DEFAULT 0 CHECK (page_views_count >= 0),
    pages_per_session       real NOT NULL DEFAULT 0 CHECK (pages_per_session >= 0),
    total_time_seconds      bigint NOT NULL DEFAULT 0 CHECK (total_time_seconds >= 0),
    avg_session_seconds     int NOT NULL DEFAULT 0 CHECK (avg_session_seconds >= 0),
    bounce_count            int NOT NULL DEFAULT 0 CHECK (bounce_count >= 0),
    return_visits           int NOT NULL DEFAULT 0 CHECK (return_visits >= 0),
    interactions_count      int NOT NULL DEFAULT 0 CHECK (interactions_count >= 0),
    conversations_count     int NOT NULL DEFAULT 0 CHECK (conversations_count >= 0),
    chat_messages_count     int NOT NULL DEFAULT 0 CHECK (chat_messages_count >= 0),
    avg_scroll_pct          real NOT NULL DEFAULT 0 CHECK (avg_scroll_pct BETWEEN 0 AND 100),
    first_visit_at          timestamptz,
    last_visit_at           timestamptz,
    visits_last_7d          int NOT NULL DEFAULT 0 CHECK (visits_last_7d >= 0),
    visits_last_30d         int NOT NULL DEFAULT 0 CHECK (visits_last_30d >= 0),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX engagement_metrics_site_idx ON engagement_metrics (site_id, last_visit_at DESC);

COMMENT ON TABLE engagement_metrics IS 'Behavioural aggregates of one profile (one row per profile), maintained by the engine; input to engagement_score and lead_score.';
COMMENT ON COLUMN engagement_metrics.sessions_count IS 'Number of (non-bot) sessions.';
COMMENT ON COLUMN engagement_metrics.page_views_count IS 'Number of page views.';
COMMENT ON COLUMN engagement_metrics.pages_per_session IS 'page_views_count / sessions_count.';
COMMENT ON COLUMN engagement_metrics.total_time_seconds IS 'Sum of session durations in seconds (time on site).';
COMMENT ON COLUMN engagement_metrics.avg_session_seconds IS 'total_time_seconds / sessions_count.';
COMMENT ON COLUMN engagement_metrics.bounce_count IS 'Sessions that bounced.';
COMMENT ON COLUMN engagement_metrics.return_visits IS 'Sessions after the first one (sessions_count - 1 once there is a session).';
COMMENT ON COLUMN engagement_metrics.interactions_count IS 'Interaction events (clicks, scroll milestones, form starts, ...).';
COMMENT ON COLUMN engagement_metrics.conversations_count IS 'Chat conversations.';
COMMENT ON COLUMN engagement_metrics.chat_messages_count IS 'Chat messages written by the visitor.';
COMMENT ON COLUMN engagement_metrics.avg_scroll_pct IS 'Average max_scroll_pct over page views.';
COMMENT ON COLUMN engagement_metrics.first_visit_at IS 'Start of the first session.';
COMMENT ON COLUMN engagement_metrics.last_visit_at IS 'Start of the latest session.';
COMMENT ON COLUMN engagement_metrics.visits_last_7d IS 'Sessions started in the 7 days before updated_at.';
COMMENT ON COLUMN engagement_metrics.visits_last_30d IS 'Sessions started in the 30 days before updated_at.';
COMMENT ON COLUMN engagement_metrics.updated_at IS 'When the metrics were last recomputed (the rolling windows are relative to this).';

-- -----------------------------------------------------------------------------
-- Chat
-- -----------------------------------------------------------------------------
CREATE TABLE conversations (
    site_id             bigint NOT NULL REFERENCES sites (id),
    id                  text NOT NULL CHECK (length(id) BETWEEN 1 AND 200),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    anonymous_id        text,
    session_id          uuid REFERENCES sessions (id) ON DELETE SET NULL,
    started_at          timestamptz NOT NULL,
    last_message_at     timestamptz NOT NULL,
    message_count       int NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    summary             text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id),
    CONSTRAINT conversations_last_after_start CHECK (last_message_at >= started_at)
);
CREATE INDEX conversations_profile_idx ON conversations (profile_id, last_message_at DESC);
CREATE INDEX conversations_site_last_message_idx ON conversations (site_id, last_message_at);

COMMENT ON TABLE conversations IS 'A chat conversation between a visitor and the chat agent, identified by the agent''s own conversation id within the site.';
COMMENT ON COLUMN conversations.id IS 'Conversation id assigned by the chat agent (unique per site).';
COMMENT ON COLUMN conversations.profile_id IS 'Visitor profile the conversation belongs to.';
COMMENT ON COLUMN conversations.session_id IS 'Web session during which the conversation started, if known.';
COMMENT ON COLUMN conversations.started_at IS 'sent_at of the first message.';
COMMENT ON COLUMN conversations.last_message_at IS 'sent_at of the latest message.';
COMMENT ON COLUMN conversations.summary IS 'Optional summary (e.g. for follow-up emails); personal data, erased with the profile.';

CREATE TABLE chat_messages (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL,
    conversation_id     text NOT NULL,
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    external_id         text,
    role                text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    text                text NOT NULL,
    sent_at             timestamptz NOT NULL,
    event_id            bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (site_id, conversation_id) REFERENCES conversations (site_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_messages_conversation_idx ON chat_messages (site_id, conversation_id, sent_at);
CREATE INDEX chat_messages_profile_idx ON chat_messages (profile_id, sent_at);
CREATE UNIQUE INDEX chat_messages_external_uidx ON chat_messages (site_id, conversation_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX chat_messages_event_uidx ON chat_messages (site_id, event_id) WHERE event_id IS NOT NULL;

COMMENT ON TABLE chat_messages IS 'Messages of chat conversations, as posted by the chat agent to the collector. Personal data: deleted with the profile.';
COMMENT ON COLUMN chat_messages.external_id IS 'Message id from the chat agent, if given (unique within the conversation).';
COMMENT ON COLUMN chat_messages.role IS 'user (the visitor), assistant (the agent) or system.';
COMMENT ON COLUMN chat_messages.text IS 'Message text.';
COMMENT ON COLUMN chat_messages.sent_at IS 'When the message was sent (event occurred_at).';
COMMENT ON COLUMN chat_messages.event_id IS 'events.id of the chat event that carried the message.';

-- -----------------------------------------------------------------------------
-- Product / service catalog
-- -----------------------------------------------------------------------------
CREATE TABLE catalog_categories (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         bigint NOT NULL REFERENCES sites (id),
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,127}$'),
    name            text NOT NULL,
    description     text,
    parent_id       bigint,
    keywords        text[] NOT NULL DEFAULT '{}',
    url_patterns    text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, slug),
    UNIQUE (site_id, id),
    CONSTRAINT catalog_categories_not_own_parent CHECK (parent_id IS NULL OR parent_id <> id),
    FOREIGN KEY (site_id, parent_id) REFERENCES catalog_categories (site_id, id) ON DELETE SET NULL (parent_id)
);
CREATE INDEX catalog_categories_parent_idx ON catalog_categories (parent_id) WHERE parent_id IS NOT NULL;

COMMENT ON TABLE catalog_categories IS 'Product/service categories of a site''s catalog, as a tree (parent_id). Interests can point to a category when no single item matches.';
COMMENT ON COLUMN catalog_categories.slug IS 'Stable identifier within the site (lowercase, digits, - and _).';
COMMENT ON COLUMN catalog_categories.parent_id IS 'Parent category in the same site; NULL for a top-level category (set to NULL if the parent is deleted).';
COMMENT ON COLUMN catalog_categories.keywords IS 'Words that indicate interest in the category in chat.';
COMMENT ON COLUMN catalog_categories.url_patterns IS 'URL path patterns (glob, * = any characters) of pages about the category.';

CREATE TABLE catalog_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         bigint NOT NULL REFERENCES sites (id),
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,127}$'),
    sku             text,
    kind            text NOT NULL DEFAULT 'product' CHECK (kind IN ('product', 'service')),
    name            text NOT NULL,
    category_id     bigint,
    description     text,
    keywords        text[] NOT NULL DEFAULT '{}',
    synonyms        text[] NOT NULL DEFAULT '{}',
    url_patterns    text[] NOT NULL DEFAULT '{}',
    price           numeric(14, 2) CHECK (price IS NULL OR price >= 0),
    currency        text CHECK (currency IS NULL OR currency ~ '^[A-Z]{3}$'),
    attributes      jsonb NOT NULL DEFAULT '{}',
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, slug),
    UNIQUE (site_id, id),
    FOREIGN KEY (site_id, category_id) REFERENCES catalog_categories (site_id, id) ON DELETE SET NULL (category_id)
);
CREATE UNIQUE INDEX catalog_items_sku_uidx ON catalog_items (site_id, sku) WHERE sku IS NOT NULL;
CREATE INDEX catalog_items_category_idx ON catalog_items (category_id) WHERE category_id IS NOT NULL;
CREATE INDEX catalog_items_site_active_idx ON catalog_items (site_id) WHERE active;

COMMENT ON TABLE catalog_items IS 'Products and services a site offers. The engine matches chat messages (keywords, synonyms, name) and page paths (url_patterns) against active items to detect interests.';
COMMENT ON COLUMN catalog_items.slug IS 'Stable identifier within the site.';
COMMENT ON COLUMN catalog_items.sku IS 'Optional external SKU / product code (unique per site when set).';
COMMENT ON COLUMN catalog_items.kind IS 'product or service.';
COMMENT ON COLUMN catalog_items.category_id IS 'Category in the same site (NULL if uncategorised or the category was deleted).';
COMMENT ON COLUMN catalog_items.keywords IS 'Words/phrases that indicate interest in this item.';
COMMENT ON COLUMN catalog_items.synonyms IS 'Other names of the item (abbreviations, old names, misspellings).';
COMMENT ON COLUMN catalog_items.url_patterns IS 'URL path patterns (glob, * = any characters) of pages about the item, e.g. /products/widget*.';
COMMENT ON COLUMN catalog_items.price IS 'Optional list price (for value-based scoring), in currency.';
COMMENT ON COLUMN catalog_items.attributes IS 'Free-form item attributes (JSON object).';
COMMENT ON COLUMN catalog_items.active IS 'Inactive items are kept for history but no longer matched.';

-- -----------------------------------------------------------------------------
-- Interests
-- -----------------------------------------------------------------------------
CREATE TABLE interests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    catalog_item_id     bigint,
    category_id         bigint,
    confidence          real NOT NULL DEFAULT 0 CHECK (confidence BETWEEN 0 AND 1),
    chat_score          real NOT NULL DEFAULT 0 CHECK (chat_score >= 0),
    page_score          real NOT NULL DEFAULT 0 CHECK (page_score >= 0),
    evidence_count      int NOT NULL DEFAULT 0 CHECK (evidence_count >= 0),
    first_evidence_at   timestamptz,
    last_evidence_at    timestamptz,
    negated             boolean NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT interests_one_target CHECK (num_nonnulls(catalog_item_id, category_id) = 1),
    CONSTRAINT interests_evidence_order CHECK (last_evidence_at IS NULL OR first_evidence_at IS NULL OR last_evidence_at >= first_evidence_at),
    UNIQUE NULLS NOT DISTINCT (profile_id, catalog_item_id, category_id),
    FOREIGN KEY (site_id, catalog_item_id) REFERENCES catalog_items (site_id, id) ON DELETE CASCADE,
    FOREIGN KEY (site_id, category_id) REFERENCES catalog_categories (site_id, id) ON DELETE CASCADE
);
CREATE INDEX interests_item_idx ON interests (catalog_item_id, confidence DESC) WHERE catalog_item_id IS NOT NULL;
CREATE INDEX interests_category_idx ON interests (category_id, confidence DESC) WHERE category_id IS NOT NULL;
CREATE INDEX interests_site_idx ON interests (site_id);

COMMENT ON TABLE interests IS 'Combined interest of a profile in one catalog item or one category (exactly one of the two is set), from chat evidence (product_interests) and page evidence (page_interests). Upsert with ON CONFLICT (profile_id, catalog_item_id, category_id).';
COMMENT ON COLUMN interests.catalog_item_id IS 'The item the visitor is interested in (NULL when the interest is in a category).';
COMMENT ON COLUMN interests.category_id IS 'The category the visitor is interested in (NULL when the interest is in an item).';
COMMENT ON COLUMN interests.confidence IS 'Combined confidence 0..1 that the visitor is interested (chat evidence weighs more than page evidence).';
COMMENT ON COLUMN interests.chat_score IS 'Accumulated (decayed) score from chat evidence.';
COMMENT ON COLUMN interests.page_score IS 'Accumulated (decayed) score from page evidence, weighted by dwell and scroll.';
COMMENT ON COLUMN interests.evidence_count IS 'Number of evidence rows (chat + page) behind this interest.';
COMMENT ON COLUMN interests.first_evidence_at IS 'Time of the earliest evidence.';
COMMENT ON COLUMN interests.last_evidence_at IS 'Time of the latest evidence.';
COMMENT ON COLUMN interests.negated IS 'True when the visitor explicitly rejected the item ("not interested in X"); such rows are kept so it is not re-suggested, and are excluded from recommendations and reports.';

CREATE TABLE product_interests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    catalog_item_id     bigint,
    category_id         bigint,
    conversation_id     text,
    chat_message_id     bigint REFERENCES chat_messages (id) ON DELETE CASCADE,
    intent              text,
    negated             boolean NOT NULL DEFAULT false,
    score               real NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 1),
    snippet             text CHECK (snippet IS NULL OR length(snippet) <= 500),
    detector            text,
    event_id            bigint,
    detected_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT product_interests_one_target CHECK (num_nonnulls(catalog_item_id, category_id) = 1),
    UNIQUE NULLS NOT DISTINCT (chat_message_id, catalog_item_id, category_id),
    FOREIGN KEY (site_id, catalog_item_id) REFERENCES catalog_items (site_id, id) ON DELETE CASCADE,
    FOREIGN KEY (site_id, category_id) REFERENCES catalog_categories (site_id, id) ON DELETE CASCADE,
    FOREIGN KEY (site_id, conversation_id) REFERENCES conversations (site_id, id) ON DELETE CASCADE
);
CREATE INDEX product_interests_profile_idx ON product_interests (profile_id, detected_at DESC);
CREATE INDEX product_interests_item_idx ON product_interests (catalog_item_id) WHERE catalog_item_id IS NOT NULL;
CREATE INDEX product_interests_category_idx ON product_interests (category_id) WHERE category_id IS NOT NULL;
CREATE INDEX product_interests_conversation_idx ON product_interests (site_id, conversation_id) WHERE conversation_id IS NOT NULL;

COMMENT ON TABLE product_interests IS 'Chat evidence: a mention of / question about a catalog item or category detected in a chat message. One row per (message, item/category); re-analysis of a message upserts.';
COMMENT ON COLUMN product_interests.catalog_item_id IS 'Item mentioned (exactly one of catalog_item_id, category_id is set).';
COMMENT ON COLUMN product_interests.category_id IS 'Category mentioned.';
COMMENT ON COLUMN product_interests.conversation_id IS 'Conversation of the message (conversations.id within the site).';
COMMENT ON COLUMN product_interests.chat_message_id IS 'The chat message the evidence was found in.';
COMMENT ON COLUMN product_interests.intent IS 'Intent of the mention (e.g. purchase, pricing, comparison, support, information); see chat_intents.';
COMMENT ON COLUMN product_interests.negated IS 'True when the mention is negative ("we don''t need X").';
COMMENT ON COLUMN product_interests.score IS 'Strength of this single piece of evidence, 0..1.';
COMMENT ON COLUMN product_interests.snippet IS 'Short excerpt (<= 500 chars) of the message around the mention; personal data, erased with the profile.';
COMMENT ON COLUMN product_interests.detector IS 'What detected it: keyword, llm:<model>, api, ...';
COMMENT ON COLUMN product_interests.detected_at IS 'When the message was sent (evidence time).';

CREATE TABLE page_interests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    page_view_id        bigint NOT NULL REFERENCES page_views (id) ON DELETE CASCADE,
    catalog_item_id     bigint,
    category_id         bigint,
    matched_pattern     text,
    weight              real NOT NULL DEFAULT 0 CHECK (weight >= 0),
    dwell_ms            bigint NOT NULL DEFAULT 0 CHECK (dwell_ms >= 0),
    max_scroll_pct      smallint NOT NULL DEFAULT 0 CHECK (max_scroll_pct BETWEEN 0 AND 100),
    viewed_at           timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT page_interests_one_target CHECK (num_nonnulls(catalog_item_id, category_id) = 1),
    UNIQUE NULLS NOT DISTINCT (page_view_id, catalog_item_id, category_id),
    FOREIGN KEY (site_id, catalog_item_id) REFERENCES catalog_items (site_id, id) ON DELETE CASCADE,
    FOREIGN KEY (site_id, category_id) REFERENCES catalog_categories (site_id, id) ON DELETE CASCADE
);
CREATE INDEX page_interests_profile_idx ON page_interests (profile_id, viewed_at DESC);
CREATE INDEX page_interests_item_idx ON page_interests (catalog_item_id) WHERE catalog_item_id IS NOT NULL;
CREATE INDEX page_interests_category_idx ON page_interests (category_id) WHERE category_id IS NOT NULL;

COMMENT ON TABLE page_interests IS 'Page evidence: a page view whose path matched a catalog item''s or category''s url_patterns, weighted by engagement depth (dwell, scroll).';
COMMENT ON COLUMN page_interests.page_view_id IS 'The page view that is the evidence.';
COMMENT ON COLUMN page_interests.catalog_item_id IS 'Item the page is about (exactly one of catalog_item_id, category_id is set).';
COMMENT ON COLUMN page_interests.category_id IS 'Category the page is about.';
COMMENT ON COLUMN page_interests.matched_pattern IS 'The url_pattern that matched.';
COMMENT ON COLUMN page_interests.weight IS 'Evidence weight from engagement depth (grows with dwell time and scroll).';
COMMENT ON COLUMN page_interests.dwell_ms IS 'Dwell time of the page view when the weight was computed.';
COMMENT ON COLUMN page_interests.max_scroll_pct IS 'Scroll depth of the page view when the weight was computed (0..100).';
COMMENT ON COLUMN page_interests.viewed_at IS 'When the page was viewed (evidence time).';

CREATE TABLE chat_intents (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    conversation_id     text NOT NULL,
    chat_message_id     bigint REFERENCES chat_messages (id) ON DELETE CASCADE,
    intent              text NOT NULL CHECK (intent ~ '^[a-z][a-z0-9_]{0,63}$'),
    confidence          real NOT NULL DEFAULT 0 CHECK (confidence BETWEEN 0 AND 1),
    catalog_item_id     bigint,
    details             jsonb NOT NULL DEFAULT '{}',
    detector            text,
    event_id            bigint,
    detected_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (chat_message_id, intent),
    FOREIGN KEY (site_id, conversation_id) REFERENCES conversations (site_id, id) ON DELETE CASCADE,
    FOREIGN KEY (site_id, catalog_item_id) REFERENCES catalog_items (site_id, id) ON DELETE SET NULL (catalog_item_id)
);
CREATE INDEX chat_intents_profile_idx ON chat_intents (profile_id, detected_at DESC);
CREATE INDEX chat_intents_site_intent_idx ON chat_intents (site_id, intent, detected_at);
CREATE INDEX chat_intents_conversation_idx ON chat_intents (site_id, conversation_id);

COMMENT ON TABLE chat_intents IS 'Intents detected in chat messages (purchase_intent, pricing_question, demo_request, support_request, pain_point, complaint, ...), with or without a specific catalog item. Input to lead scoring and high-intent segments.';
COMMENT ON COLUMN chat_intents.intent IS 'Intent label, lower_snake_case.';
COMMENT ON COLUMN chat_intents.confidence IS 'Classifier confidence 0..1.';
COMMENT ON COLUMN chat_intents.catalog_item_id IS 'Item the intent is about, if any.';
COMMENT ON COLUMN chat_intents.details IS 'Extra structured output of the detector, e.g. {"pain_point": "slow reports", "budget": "10k"}; may contain personal data, erased with the profile.';
COMMENT ON COLUMN chat_intents.detector IS 'What detected it: keyword, llm:<model>, ...';
COMMENT ON COLUMN chat_intents.detected_at IS 'When the message was sent.';

-- -----------------------------------------------------------------------------
-- Scoring, stages, segments
-- -----------------------------------------------------------------------------
CREATE TABLE stage_transitions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    profile_id          uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    from_stage          text CHECK (from_stage IN ('anonymous', 'known', 'engaged', 'mql', 'sql', 'customer')),
    to_stage            text NOT NULL CHECK (to_stage IN ('anonymous', 'known', 'engaged', 'mql', 'sql', 'customer')),
    reason              text NOT NULL,
    lead_score          int,
    event_id            bigint,
    transitioned_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stage_transitions_changes_stage CHECK (from_stage IS DISTINCT FROM to_stage)
);
CREATE INDEX stage_transitions_profile_idx ON stage_transitions (profile_id, transitioned_at);
CREATE INDEX stage_transitions_site_idx ON stage_transitions (site_id, to_stage, transitioned_at);

COMMENT ON TABLE stage_transitions IS 'History of lifecycle stage changes of a profile (lead qualification pipeline).';
COMMENT ON COLUMN stage_transitions.from_stage IS 'Previous stage (NULL for the initial stage).';
COMMENT ON COLUMN stage_transitions.to_stage IS 'New stage.';
COMMENT ON COLUMN stage_transitions.reason IS 'Why: rule name or manual, e.g. "lead_score >= 50", "api: marked customer".';
COMMENT ON COLUMN stage_transitions.lead_score IS 'lead_score at the time of the transition.';
COMMENT ON COLUMN stage_transitions.transitioned_at IS 'When the stage changed.';

CREATE TABLE segments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         bigint REFERENCES sites (id),
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name            text NOT NULL,
    description     text,
    definition      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(definition) = 'object'),
    builtin         boolean NOT NULL DEFAULT false,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (site_id, slug)
);

COMMENT ON TABLE segments IS 'Visitor segments: named rules evaluated by the engine on each profile change (e.g. high-intent visitors, returning visitors, pricing-page viewers).';
COMMENT ON COLUMN segments.site_id IS 'Site the segment belongs to; NULL = evaluated for every site.';
COMMENT ON COLUMN segments.slug IS 'Stable identifier (unique per site; site-less segments are unique among themselves).';
COMMENT ON COLUMN segments.definition IS 'Rule as a JSON object interpreted by the engine (conditions on fields, scores, stage, interests, metrics).';
COMMENT ON COLUMN segments.builtin IS 'True for segments shipped with the product (not editable through the API).';
COMMENT ON COLUMN segments.active IS 'Inactive segments are not evaluated.';

CREATE TABLE segment_memberships (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    segment_id      bigint NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    site_id         bigint NOT NULL REFERENCES sites (id),
    profile_id      uuid NOT NULL REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    entered_at      timestamptz NOT NULL DEFAULT now(),
    left_at         timestamptz,
    CONSTRAINT segment_memberships_left_after_entered CHECK (left_at IS NULL OR left_at >= entered_at)
);
CREATE UNIQUE INDEX segment_memberships_open_uidx ON segment_memberships (segment_id, profile_id) WHERE left_at IS NULL;
CREATE INDEX segment_memberships_profile_idx ON segment_memberships (profile_id);
CREATE INDEX segment_memberships_segment_entered_idx ON segment_memberships (segment_id, entered_at);

COMMENT ON TABLE segment_memberships IS 'Membership history of profiles in segments. An open membership has left_at NULL; at most one open membership per (segment, profile).';
COMMENT ON COLUMN segment_memberships.entered_at IS 'When the profile entered the segment.';
COMMENT ON COLUMN segment_memberships.left_at IS 'When it left; NULL while it is a member.';

-- -----------------------------------------------------------------------------
-- Consent
-- -----------------------------------------------------------------------------
CREATE TABLE consents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         bigint NOT NULL REFERENCES sites (id),
    profile_id      uuid REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    anonymous_id    text,
    categories      jsonb NOT NULL CHECK (jsonb_typeof(categories) = 'object'),
    source          text NOT NULL CHECK (source <> ''),
    event_id        bigint,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT consents_has_subject CHECK (profile_id IS NOT NULL OR anonymous_id IS NOT NULL)
);
CREATE INDEX consents_site_anon_idx ON consents (site_id, anonymous_id, recorded_at DESC) WHERE anonymous_id IS NOT NULL;
CREATE INDEX consents_profile_idx ON consents (profile_id, recorded_at DESC) WHERE profile_id IS NOT NULL;

COMMENT ON TABLE consents IS 'History of consent states of a visitor (append-only); the latest row per visitor is the current state.';
COMMENT ON COLUMN consents.profile_id IS 'Profile, once known (NULL if the consent was recorded before a profile existed).';
COMMENT ON COLUMN consents.anonymous_id IS 'Tracker anonymous id the consent was given under.';
COMMENT ON COLUMN consents.categories IS 'Consent per category, e.g. {"analytics": true, "marketing": false, "personalization": true}.';
COMMENT ON COLUMN consents.source IS 'Where it came from: event (context.consent), banner, api, dnt, gpc, opt_out, import.';
COMMENT ON COLUMN consents.recorded_at IS 'When the consent state was recorded.';

-- -----------------------------------------------------------------------------
-- Webhooks
-- -----------------------------------------------------------------------------
CREATE TABLE webhook_subscriptions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint REFERENCES sites (id),
    name                text,
    url                 text NOT NULL CHECK (url ~* '^https?://'),
    secret              text NOT NULL,
    event_kinds         text[] NOT NULL DEFAULT '{}',
    filter              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filter) = 'object'),
    active              boolean NOT NULL DEFAULT true,
    consecutive_failures int NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    created_by          bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_active_idx ON webhook_subscriptions (site_id) WHERE active;

COMMENT ON TABLE webhook_subscriptions IS 'Receivers of profile change notifications. Each delivery is signed with HMAC-SHA256 using secret.';
COMMENT ON COLUMN webhook_subscriptions.site_id IS 'Only changes of this site; NULL = all sites.';
COMMENT ON COLUMN webhook_subscriptions.url IS 'http(s) URL the payload is POSTed to.';
COMMENT ON COLUMN webhook_subscriptions.secret IS 'HMAC signing secret. Stored in clear because it is needed to sign; never returned by the API after creation.';
COMMENT ON COLUMN webhook_subscriptions.event_kinds IS 'profile_changes.kind values to deliver (created, updated, merged, stage_changed, segment_entered, segment_left, erased, anonymized); empty = all.';
COMMENT ON COLUMN webhook_subscriptions.filter IS 'Extra filter on the change, as a JSON object interpreted by the dispatcher (e.g. {"stage": ["mql","sql"]}); {} = no filter.';
COMMENT ON COLUMN webhook_subscriptions.active IS 'Inactive subscriptions receive nothing.';
COMMENT ON COLUMN webhook_subscriptions.consecutive_failures IS 'Deliveries that failed in a row; the dispatcher may deactivate the subscription past a limit.';

CREATE TABLE webhook_deliveries (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id     bigint NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    site_id             bigint NOT NULL,
    profile_change_id   bigint NOT NULL,
    profile_id          uuid NOT NULL,
    event_kind          text NOT NULL,
    payload             jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts            int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_status_code    int CHECK (last_status_code IS NULL OR last_status_code BETWEEN 100 AND 599),
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    delivered_at        timestamptz,
    UNIQUE (subscription_id, profile_change_id)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, fillfactor = 90);
CREATE INDEX webhook_deliveries_claim_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_profile_idx ON webhook_deliveries (profile_id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);

COMMENT ON TABLE webhook_deliveries IS 'Outbox of webhook deliveries: one row per (subscription, profile change). Claimed by next_attempt_at with FOR UPDATE SKIP LOCKED among pending/failed rows. No FK to profile_changes or visitor_profiles so that ''erased'' notifications outlive the profile; an erasure deletes this profile''s other deliveries (their payload holds PII).';
COMMENT ON COLUMN webhook_deliveries.profile_change_id IS 'profile_changes.id being delivered (unique per subscription: enqueueing is idempotent).';
COMMENT ON COLUMN webhook_deliveries.profile_id IS 'Profile the change is about.';
COMMENT ON COLUMN webhook_deliveries.event_kind IS 'profile_changes.kind of the change.';
COMMENT ON COLUMN webhook_deliveries.payload IS 'JSON body to POST (built when enqueued).';
COMMENT ON COLUMN webhook_deliveries.status IS 'pending: not tried yet; failed: last try failed, will retry at next_attempt_at; delivered: 2xx received; dead: gave up.';
COMMENT ON COLUMN webhook_deliveries.attempts IS 'Attempts made so far.';
COMMENT ON COLUMN webhook_deliveries.next_attempt_at IS 'Earliest time of the next attempt (exponential backoff with jitter).';
COMMENT ON COLUMN webhook_deliveries.last_status_code IS 'HTTP status of the last attempt (NULL if no response).';
COMMENT ON COLUMN webhook_deliveries.last_error IS 'Error of the last failed attempt.';
COMMENT ON COLUMN webhook_deliveries.delivered_at IS 'When a 2xx response was received.';

-- -----------------------------------------------------------------------------
-- Exports, erasure, templates
-- -----------------------------------------------------------------------------
CREATE TABLE export_jobs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint REFERENCES sites (id),
    format              text NOT NULL CHECK (format IN ('csv', 'json', 'ndjson')),
    mapping_preset      text NOT NULL DEFAULT 'default',
    field_mapping       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(field_mapping) = 'object'),
    filter              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filter) = 'object'),
    schedule_cron       text CHECK (schedule_cron IS NULL OR schedule_cron ~ '^\S+(\s+\S+){4}$'),
    next_run_at         timestamptz,
    destination         text,
    status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    rows_total          bigint CHECK (rows_total IS NULL OR rows_total >= 0),
    rows_done           bigint NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    result_location     text,
    started_at          timestamptz,
    finished_at         timestamptz,
    error               text,
    created_by          bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_jobs_queued_idx ON export_jobs (created_at) WHERE status = 'queued';
CREATE INDEX export_jobs_scheduled_idx ON export_jobs (next_run_at) WHERE schedule_cron IS NOT NULL;

COMMENT ON TABLE export_jobs IS 'Profile exports for CRM/marketing tools, requested through the API and run by the engine, with progress. A job with schedule_cron is re-queued at next_run_at after each run.';
COMMENT ON COLUMN export_jobs.site_id IS 'Site to export; NULL = all sites the key may read.';
COMMENT ON COLUMN export_jobs.format IS 'csv, json (one array) or ndjson (one profile per line).';
COMMENT ON COLUMN export_jobs.mapping_preset IS 'Column/field mapping preset, e.g. default, hubspot, salesforce.';
COMMENT ON COLUMN export_jobs.field_mapping IS 'Custom mapping overriding the preset: {"<output column>": "<profile field or path>"}.';
COMMENT ON COLUMN export_jobs.filter IS 'Which profiles (same filter language as profile search), {} = all.';
COMMENT ON COLUMN export_jobs.schedule_cron IS '5-field cron expression (UTC) for recurring exports; NULL = one-off.';
COMMENT ON COLUMN export_jobs.next_run_at IS 'Next scheduled run (recurring jobs only).';
COMMENT ON COLUMN export_jobs.destination IS 'Where to write: NULL = download through the API, or a target such as a file path or https:// URL.';
COMMENT ON COLUMN export_jobs.status IS 'queued, running, done, failed.';
COMMENT ON COLUMN export_jobs.rows_total IS 'Rows to export (known once the run has counted them).';
COMMENT ON COLUMN export_jobs.rows_done IS 'Rows exported so far (progress).';
COMMENT ON COLUMN export_jobs.result_location IS 'Where the finished file is (for download or audit).';
COMMENT ON COLUMN export_jobs.error IS 'Error message when status = failed.';
COMMENT ON COLUMN export_jobs.created_by IS 'API key that requested the export.';

CREATE TABLE erasure_requests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id             bigint NOT NULL REFERENCES sites (id),
    mode                text NOT NULL DEFAULT 'erase' CHECK (mode IN ('erase', 'anonymize')),
    subject_kind        text NOT NULL CHECK (subject_kind IN ('anonymous_id', 'user_id', 'email', 'profile_id')),
    subject_hash        text NOT NULL CHECK (subject_hash ~ '^[0-9a-f]{64}$'),
    profile_id          uuid,
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
    requested_at        timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    receipt             jsonb,
    error               text,
    requested_by        bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    request_id          text
);
CREATE INDEX erasure_requests_pending_idx ON erasure_requests (requested_at) WHERE status IN ('pending', 'running');
CREATE INDEX erasure_requests_subject_idx ON erasure_requests (site_id, subject_hash);

COMMENT ON TABLE erasure_requests IS 'GDPR erasure/anonymisation requests and their receipts. Kept after completion as proof, so it holds no PII: the subject is stored hashed.';
COMMENT ON COLUMN erasure_requests.mode IS 'erase: delete the profile and everything derived from it, tombstone its identities; anonymize: remove PII but keep aggregates.';
COMMENT ON COLUMN erasure_requests.subject_kind IS 'Kind of identifier the request named: anonymous_id, user_id, email or profile_id.';
COMMENT ON COLUMN erasure_requests.subject_hash IS 'Lower-case hex SHA-256 of subject_kind || '':'' || value (same scheme as erasure_tombstones).';
COMMENT ON COLUMN erasure_requests.profile_id IS 'Profile resolved from the subject when the request was accepted (a random uuid, not PII; no FK since the profile is deleted).';
COMMENT ON COLUMN erasure_requests.status IS 'pending, running, done, failed.';
COMMENT ON COLUMN erasure_requests.receipt IS 'What was done, e.g. {"profiles": 2, "events": 140, "page_views": 33, "tombstones": 3}.';
COMMENT ON COLUMN erasure_requests.requested_by IS 'API key that made the request.';
COMMENT ON COLUMN erasure_requests.request_id IS 'X-Request-ID of the API request.';

CREATE TABLE email_templates (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    subject     text NOT NULL DEFAULT '',
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE email_templates IS 'Templates for personalised emails (e.g. conversation summaries, follow-ups), rendered with profile fields and interests.';
COMMENT ON COLUMN email_templates.name IS 'Unique template name used by callers.';
COMMENT ON COLUMN email_templates.subject IS 'Subject line template.';
COMMENT ON COLUMN email_templates.body IS 'Body template; placeholders (e.g. profile fields, top interests, conversation summary) use the renderer''s syntax.';
