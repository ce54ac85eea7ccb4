-- =============================================================================
-- Profile Builder — one PostgreSQL role per service, with the privileges of what it owns
--
-- Every table has one owning service (docs/TABLE_OWNERS.md). Until now that was a rule the code
-- kept; here PostgreSQL enforces it. Each service connects as its own role: pb_collector,
-- pb_engine, pb_api. A role may read what its service reads, change only the tables its
-- service owns, and only INSERT into the command and inbox tables of another owner. pb_analyst
-- is read-only, for DBAs and analysts: the documented views and the profile tables, not key
-- hashes, webhook secrets, export destinations or the audit log. The migration owner (the role
-- that runs `migrate`) keeps owning every table and function.
--
-- `table_owners` is the one definition of who owns, inserts into and reads which table;
-- `apply_service_grants()` turns it into GRANTs, and a later migration that adds a table adds its
-- row and calls it again. The few cross-owner effects that must happen inside another owner's
-- transaction run as SECURITY DEFINER functions the engine alone may call.
--
-- Roles belong to the cluster, not the database: they are created if missing (the migration owner
-- needs CREATEROLE, or a DBA creates them first), with LOGIN and no password; `migrate` sets
-- passwords from PB_<ROLE>_PASSWORD when given (docker-compose does), and the embedded local
-- Postgres trusts loopback connections.
-- =============================================================================

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['pb_collector', 'pb_engine', 'pb_api', 'pb_analyst'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database of this cluster migrated at the same moment
            END;
        END IF;
    END LOOP;
END $$;

CREATE TABLE table_owners (
    table_name      text   PRIMARY KEY,
    -- collector, engine, api, or migrations (written only by migrations).
    owner           text   NOT NULL CHECK (owner IN ('collector', 'engine', 'api', 'migrations')),
    -- Services that may only INSERT rows (commands and inbox rows the owner consumes).
    inserted_by     text[] NOT NULL DEFAULT '{}' CHECK (inserted_by <@ ARRAY['collector', 'engine', 'api']),
    -- Roles besides the owner that may read it: services, and analyst.
    read_by         text[] NOT NULL DEFAULT '{}' CHECK (read_by <@ ARRAY['collector', 'engine', 'api', 'analyst']),
    -- Columns the analyst may not read even where the table is readable (keys, secrets).
    analyst_hidden  text[] NOT NULL DEFAULT '{}'
);

COMMENT ON TABLE table_owners IS 'Who owns (may update and delete), may insert into, and may read each table; apply_service_grants() makes the GRANTs from it. docs/TABLE_OWNERS.md shows the same.';
COMMENT ON COLUMN table_owners.owner IS 'The one service that updates and deletes its rows: collector, engine, api, or migrations.';
COMMENT ON COLUMN table_owners.inserted_by IS 'Services that may only insert rows (commands the owner carries out, inbox rows it consumes).';
COMMENT ON COLUMN table_owners.read_by IS 'Roles besides the owner that may SELECT: collector, engine, api, analyst.';
COMMENT ON COLUMN table_owners.analyst_hidden IS 'Columns pb_analyst may not read (write keys, secrets).';

-- Every reader list below is what the service's code reads (the API serves everything it holds).
INSERT INTO table_owners (table_name, owner, inserted_by, read_by, analyst_hidden) VALUES
    ('schema_migrations',       'migrations', '{}',            '{collector,engine,api,analyst}', '{}'),
    ('table_owners',            'migrations', '{}',            '{collector,engine,api,analyst}', '{}'),
    ('sites',                   'api',        '{}',            '{collector,engine,analyst}',     '{write_key}'),
    ('events',                  'engine',     '{collector}',   '{api,analyst}',                  '{}'),
    ('event_queue',             'engine',     '{collector}',   '{api,analyst}',                  '{}'),
    ('event_dedupe',            'engine',     '{collector}',   '{collector,api,analyst}',        '{}'),
    ('dead_letters',            'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('opt_outs',                'collector',  '{}',            '{engine,api,analyst}',           '{}'),
    ('consents',                'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('visitor_profiles',        'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('profile_identities',      'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('profile_changes',         'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('sessions',                'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('page_views',              'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('session_analytics',       'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('engagement_metrics',      'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('conversations',           'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('chat_messages',           'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('chat_intents',            'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('interests',               'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('product_interests',       'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('page_interests',          'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('field_rejections',        'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('stage_transitions',       'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('segment_memberships',     'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('catalog_remaps',          'engine',     '{api}',         '{api,analyst}',                  '{}'),
    ('erasure_requests',        'engine',     '{api}',         '{api,analyst}',                  '{}'),
    ('profile_commands',        'engine',     '{api}',         '{api,analyst}',                  '{}'),
    ('erasure_tombstones',      'engine',     '{}',            '{collector,api}',                '{}'),
    ('analytics_time_zones',    'engine',     '{}',            '{api,analyst}',                  '{}'),
    ('analytics_traffic_rollup',                'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_page_rollup',                   'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_interest_rollup',               'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_journey_rollup',                'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_session_path_rollup',           'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_visitor_sketch_rollup',         'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_segment_changes',               'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_segment_traffic_rollup',        'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_segment_page_rollup',           'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_segment_interest_rollup',       'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_segment_journey_rollup',        'engine', '{}', '{api,analyst}', '{}'),
    ('analytics_segment_session_path_rollup',   'engine', '{}', '{api,analyst}', '{}'),
    ('segments',                'api',        '{}',            '{engine,analyst}',               '{}'),
    ('catalog_categories',      'api',        '{}',            '{engine,analyst}',               '{}'),
    ('catalog_items',           'api',        '{}',            '{engine,analyst}',               '{}'),
    ('api_keys',                'api',        '{}',            '{}',                             '{}'),
    ('audit_log',               'api',        '{}',            '{}',                             '{}'),
    ('email_templates',         'api',        '{}',            '{analyst}',                      '{}'),
    ('export_jobs',             'api',        '{}',            '{}',                             '{}'),
    ('export_runs',             'api',        '{}',            '{}',                             '{}'),
    ('personalization_exposures', 'api',      '{}',            '{analyst}',                      '{}'),
    ('webhook_subscriptions',   'api',        '{}',            '{}',                             '{}'),
    ('webhook_deliveries',      'api',        '{}',            '{}',                             '{}');

-- Makes every role's table privileges what table_owners says, from scratch (idempotent): the
-- owner may read and write its tables, inserters may insert (and read back the key columns an
-- INSERT … RETURNING names), readers may select; sequences go with the right to insert; the
-- API (for the dashboard) and the analyst also read the documented views.
CREATE FUNCTION apply_service_grants()
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t         table_owners%ROWTYPE;
    v_role    text;
    v_service text;
    v_seq     text;
    v_columns text;
    v_keys    text;
    v_view    text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()
               AND tablename NOT IN (SELECT table_name FROM table_owners)
               AND tablename NOT LIKE 'events\_%') THEN
        RAISE EXCEPTION 'tables without a row in table_owners: %',
            (SELECT string_agg(tablename, ', ') FROM pg_tables WHERE schemaname = current_schema()
             AND tablename NOT IN (SELECT table_name FROM table_owners) AND tablename NOT LIKE 'events\_%');
    END IF;
    FOR t IN SELECT * FROM table_owners LOOP
        EXECUTE format('REVOKE ALL ON %I FROM pb_collector, pb_engine, pb_api, pb_analyst', t.table_name);
        IF t.owner <> 'migrations' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', t.table_name, 'pb_' || t.owner);
        END IF;
        SELECT string_agg(quote_ident(a.attname), ', ') INTO v_keys
        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = t.table_name::regclass AND i.indisprimary;
        FOREACH v_service IN ARRAY t.inserted_by LOOP
            EXECUTE format('GRANT INSERT ON %I TO %I', t.table_name, 'pb_' || v_service);
            IF v_keys IS NOT NULL THEN
                EXECUTE format('GRANT SELECT (%s) ON %I TO %I', v_keys, t.table_name, 'pb_' || v_service);
            END IF;
        END LOOP;
        FOREACH v_role IN ARRAY t.read_by LOOP
            IF v_role = 'analyst' AND cardinality(t.analyst_hidden) > 0 THEN
                SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO v_columns
                FROM pg_attribute WHERE attrelid = t.table_name::regclass AND attnum > 0 AND NOT attisdropped
                  AND attname <> ALL(t.analyst_hidden);
                EXECUTE format('GRANT SELECT (%s) ON %I TO pb_analyst', v_columns, t.table_name);
            ELSE
                EXECUTE format('GRANT SELECT ON %I TO %I', t.table_name, 'pb_' || v_role);
            END IF;
        END LOOP;
        FOR v_seq IN
            SELECT pg_get_serial_sequence(quote_ident(t.table_name), attname) FROM pg_attribute
            WHERE attrelid = t.table_name::regclass AND attnum > 0 AND NOT attisdropped
              AND pg_get_serial_sequence(quote_ident(t.table_name), attname) IS NOT NULL
        LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM pb_collector, pb_engine, pb_api, pb_analyst', v_seq);
            IF t.owner <> 'migrations' THEN
                EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', v_seq, 'pb_' || t.owner);
            END IF;
            FOREACH v_service IN ARRAY t.inserted_by LOOP
                EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', v_seq, 'pb_' || v_service);
            END LOOP;
        END LOOP;
    END LOOP;
    FOR v_view IN SELECT viewname FROM pg_views WHERE schemaname = current_schema() AND viewname LIKE 'v\_%' LOOP
        EXECUTE format('GRANT SELECT ON %I TO pb_api, pb_analyst', v_view);
    END LOOP;
END $$;

COMMENT ON FUNCTION apply_service_grants() IS 'Sets the table, sequence and view privileges of pb_collector, pb_engine, pb_api and pb_analyst from table_owners; refuses while a table has no row there.';

-- Cross-owner effects, carried out with the migration owner's rights where they must happen:
-- creating and dropping event partitions (DDL on the engine's `events`), the erasure sweep (every
-- owner's rows of one person, in one transaction), the webhook outbox trigger (the API's
-- deliveries, in the engine's transaction), the log of segment membership changes (written too
-- when the API deletes a segment and its memberships cascade), and ANALYZE, which only a table's
-- owner may run.
DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['ensure_event_partitions(date, integer)', 'drop_expired_event_partitions(timestamptz)',
                              'carry_out_erasure_request(bigint)', 'webhook_enqueue_changes()',
                              'analytics_log_segment_changes()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', fn, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pb_engine', fn);
    END LOOP;
END $$;

-- ANALYZE of a table the calling role may change (its service owns it); the engine analyses the
-- tables that outgrow their statistics (GrowingTableStatistics).
CREATE FUNCTION analyze_owned_table(p_table text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    IF to_regclass(p_table) IS NULL OR NOT has_table_privilege(session_user, to_regclass(p_table), 'UPDATE') THEN
        RAISE EXCEPTION 'analyze_owned_table: % is not a table the role % may change', p_table, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ANALYZE %s', to_regclass(p_table));
END $$;
DO $$ BEGIN EXECUTE format('ALTER FUNCTION analyze_owned_table(text) SET search_path = %I, pg_temp', current_schema()); END $$;
REVOKE EXECUTE ON FUNCTION analyze_owned_table(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_owned_table(text) TO pb_engine;

COMMENT ON FUNCTION analyze_owned_table(text) IS 'ANALYZE of a table the calling role may update (ANALYZE needs the table owner, which is the migration owner).';

-- Sets a service role's password (`migrate` calls it with PB_<ROLE>_PASSWORD); only for the four roles.
CREATE FUNCTION set_service_role_password(p_role text, p_password text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_role NOT IN ('pb_collector', 'pb_engine', 'pb_api', 'pb_analyst') THEN
        RAISE EXCEPTION 'set_service_role_password: % is not a service role', p_role;
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', p_role, p_password);
END $$;
REVOKE EXECUTE ON FUNCTION set_service_role_password(text, text) FROM PUBLIC;

COMMENT ON FUNCTION set_service_role_password(text, text) IS 'ALTER ROLE … PASSWORD for pb_collector, pb_engine, pb_api or pb_analyst; run by the migration owner.';

SELECT apply_service_grants();
