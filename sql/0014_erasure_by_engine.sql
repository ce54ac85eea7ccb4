-- =============================================================================
-- Profile Builder — GDPR erasure and anonymisation carried out by the engine
--
-- The profile API used to erase a person itself, writing fourteen tables of the engine and the
-- collector from its own transaction, and it read the person's profiles and identities before
-- it locked them: a merge or a new identity committed in between left data behind. Now the API
-- only inserts an `erasure_requests` row (status 'pending'); the engine claims it and calls
-- `carry_out_erasure_request`, which locks the person's profiles first, then reads everything
-- that belongs to them, sweeps it and finishes the request with its receipt, in one
-- transaction.
--
-- `erasure_tombstone_hash` is the one definition of a tombstone: the collector's ingest screen,
-- the engine's check and the sweep all call it.
-- =============================================================================

CREATE FUNCTION erasure_tombstone_hash(p_kind text, p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT encode(sha256(convert_to(p_kind || ':' || p_value, 'UTF8')), 'hex') $$;

COMMENT ON FUNCTION erasure_tombstone_hash(text, text) IS 'The erasure tombstone of one identity: hex SHA-256 of ''kind:value''. The only definition; erasure_tombstones.identity_hash holds its results.';

-- Carries out one pending request and returns its receipt. Raises when the request is not
-- pending. A profile that no longer exists finishes the request as 'failed' with the error
-- 'profile_not_found' (the API answers 404 for it).
CREATE FUNCTION carry_out_erasure_request(p_request bigint)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    request    erasure_requests%ROWTYPE;
    target     uuid;
    site       bigint;
    tree       uuid[];
    anonymous  text[];
    users      text[];
    emails     text[];
    ids        text[];
    hashes     text[];
    event_ids  bigint[];
    counts     jsonb := '{}'::jsonb;
    n          bigint;
    v_receipt  jsonb;
BEGIN
    SELECT * INTO request FROM erasure_requests WHERE id = p_request AND status IN ('pending', 'running') FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'carry_out_erasure_request: request % is not pending', p_request;
    END IF;

    -- Lock first: the surviving profile of the requested one, re-read after the lock in case a
    -- merge moved it meanwhile (FOR UPDATE re-checks merged_into on the newest row version).
    LOOP
        SELECT coalesce(p.merged_into, p.id), p.site_id INTO target, site FROM visitor_profiles p WHERE p.id = request.profile_id;
        EXIT WHEN target IS NULL;
        PERFORM 1 FROM visitor_profiles WHERE id = target AND merged_into IS NULL FOR UPDATE;
        EXIT WHEN FOUND;
    END LOOP;
    IF target IS NULL THEN
        UPDATE erasure_requests SET status = 'failed', completed_at = now(), error = 'profile_not_found' WHERE id = p_request;
        RETURN NULL;
    END IF;
    -- Merges into the target update its row, so with it locked the tree is complete; lock the
    -- merged profiles too, and only then read the identities (their inserts need a key-share
    -- lock on the profile, which waits for ours).
    SELECT array_agg(id ORDER BY id) INTO tree
    FROM (SELECT id FROM visitor_profiles WHERE id = target OR merged_into = target ORDER BY id FOR UPDATE) locked;
    SELECT coalesce(array_agg(value) FILTER (WHERE kind = 'anonymous_id'), '{}'),
           coalesce(array_agg(value) FILTER (WHERE kind = 'user_id'), '{}'),
           coalesce(array_agg(value) FILTER (WHERE kind = 'email'), '{}')
      INTO anonymous, users, emails
    FROM profile_identities WHERE profile_id = ANY(tree);
    ids := anonymous || users;
    hashes := ARRAY(SELECT erasure_tombstone_hash('anonymous_id', v) FROM unnest(anonymous) v
                    UNION ALL SELECT erasure_tombstone_hash('user_id', v) FROM unnest(users) v
                    UNION ALL SELECT erasure_tombstone_hash('email', v) FROM unnest(emails) v);

    -- Tombstones first: hashes only, so nothing identifying survives, and late events are dropped.
    INSERT INTO erasure_tombstones (site_id, identity_hash) SELECT site, h FROM unnest(hashes) h ON CONFLICT DO NOTHING;

    -- Raw events in every partition (the parent table reaches them all).
    WITH deleted AS (
        DELETE FROM events
        WHERE site_id = site
          AND (anonymous_id = ANY(anonymous) OR user_id = ANY(users) OR previous_id = ANY(ids) OR lower(traits->>'email') = ANY(emails))
        RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO event_ids FROM deleted;

    IF request.mode = 'anonymize' THEN
        -- Behaviour and aggregates stay for analytics; fields, identities, chat text and raw
        -- events that identify the person go.
        DELETE FROM event_dedupe WHERE site_id = site AND event_id = ANY(event_ids);
        DELETE FROM event_queue WHERE event_id = ANY(event_ids);
        DELETE FROM dead_letters WHERE event_id = ANY(event_ids);
        DELETE FROM profile_identities WHERE profile_id = ANY(tree);
        DELETE FROM chat_messages WHERE profile_id = ANY(tree);
        DELETE FROM field_rejections WHERE profile_id = ANY(tree);
        UPDATE sessions SET anonymous_id = NULL, referrer = NULL WHERE profile_id = ANY(tree);
        UPDATE page_views SET url = path, referrer = NULL, title = NULL WHERE profile_id = ANY(tree);
        DELETE FROM webhook_deliveries WHERE profile_id = ANY(tree);
        UPDATE visitor_profiles SET fields = '{}', field_meta = '{}', anonymized_at = now(), version = version + 1, updated_at = now()
        WHERE id = ANY(tree);
        INSERT INTO profile_changes (site_id, profile_id, kind) VALUES (site, target, 'anonymized');
        v_receipt := jsonb_build_object('profile_id', target, 'anonymized_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    ELSE
        counts := counts || jsonb_build_object('events', cardinality(event_ids));
        DELETE FROM event_dedupe WHERE site_id = site AND event_id = ANY(event_ids);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('event_dedupe', n);
        DELETE FROM event_queue WHERE event_id = ANY(event_ids);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('event_queue', n);
        DELETE FROM dead_letters WHERE event_id = ANY(event_ids);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('dead_letters', n);
        DELETE FROM profile_changes WHERE profile_id = ANY(tree);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('profile_changes', n);
        DELETE FROM webhook_deliveries WHERE profile_id = ANY(tree);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('webhook_deliveries', n);
        DELETE FROM consents WHERE site_id = site AND (profile_id = ANY(tree) OR anonymous_id = ANY(anonymous));
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('consents', n);
        DELETE FROM opt_outs WHERE site_id = site AND anonymous_id = ANY(anonymous);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('opt_outs', n);
        -- Profiles go last; identities, sessions, page views, chat, interests and metrics cascade.
        DELETE FROM visitor_profiles WHERE id = ANY(tree);
        GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('visitor_profiles', n);
        -- Pending segment entries and exits (0012) name the profile; with its data gone they would add nothing.
        DELETE FROM analytics_segment_changes WHERE profile_id = ANY(tree);
        -- The change log keeps that an erasure happened (for webhooks), with no personal data.
        INSERT INTO profile_changes (site_id, profile_id, kind) VALUES (site, target, 'erased');
        v_receipt := jsonb_build_object('profile_id', target, 'identities_tombstoned', cardinality(hashes), 'deleted', counts,
                                      'erased_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    END IF;

    UPDATE erasure_requests SET status = 'done', completed_at = now(), receipt = v_receipt, profile_id = target
    WHERE id = p_request;
    RETURN v_receipt;
END;
$$;

COMMENT ON FUNCTION carry_out_erasure_request(bigint) IS 'Carries out one pending erasure_requests row (erase or anonymize) in the caller''s transaction: locks the person''s profiles, then sweeps every table that holds their data, and finishes the row with its receipt. Called by the engine.';

-- The engine's claim: pending requests, oldest first.
CREATE INDEX erasure_requests_claim_idx ON erasure_requests (id) WHERE status = 'pending';

COMMENT ON COLUMN erasure_requests.status IS 'pending: inserted by the profile API, waiting for the engine; done: carried out (receipt set); failed: could not be (error says why, e.g. profile_not_found).';
