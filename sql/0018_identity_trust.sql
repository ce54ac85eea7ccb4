-- =============================================================================
-- Profile Builder — identities the site trusts, and the merges the rules refused
--
-- An identifier is *verified* when the site vouched for it: sent with the site's server key (a
-- secret, distinct from the public write key), or from a browser together with an HMAC-SHA256 of
-- it made with the site's identity secret (the user hash). Anything else a browser sends is
-- *claimed*. The collector checks the proof and writes which identifier kinds of an event it
-- proved (events.verified_identifiers); the engine applies the merge rules (docs/IDENTITY.md):
-- a claimed identifier never joins, or reads, the profile of a person known by a verified one.
-- A merge or a link the rules refuse never loses the event: it is applied to the profile it
-- resolved to, and the refusal is kept in identity_conflicts.
-- =============================================================================

ALTER TABLE sites
    ADD COLUMN identity_secret text CHECK (identity_secret IS NULL OR length(identity_secret) >= 32),
    ADD COLUMN server_key_hash text UNIQUE CHECK (server_key_hash IS NULL OR server_key_hash ~ '^[0-9a-f]{64}$'),
    ADD COLUMN identity_rules  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(identity_rules) = 'object');

COMMENT ON COLUMN sites.identity_secret IS 'Secret of the site''s identity verification: the site''s server sends the browser HMAC-SHA256(identity_secret, user id or email) as the user hash. NULL: browsers cannot verify identities.';
COMMENT ON COLUMN sites.server_key_hash IS 'Lower-case hex SHA-256 of the site''s server key: events sent with it (never from a browser) carry verified identifiers. NULL: no server key.';
COMMENT ON COLUMN sites.identity_rules IS 'This site''s overrides of the identity guardrails of config/identity.yaml (blocked values, limits per kind, priority, merge cap, link_claimed_emails); {} keeps the defaults.';

ALTER TABLE events
    ADD COLUMN verified_identifiers text[] NOT NULL DEFAULT '{}'
        CHECK (verified_identifiers <@ ARRAY['anonymous_id', 'user_id', 'email']);

COMMENT ON COLUMN events.verified_identifiers IS 'Identifier kinds of this event the site vouched for (server key: all of them; a valid user hash: the user id, or the email when there is no user id). Empty: every identifier is claimed.';

ALTER TABLE profile_identities
    ADD COLUMN verified boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN profile_identities.verified IS 'True once the site vouched for this identifier (server key, profile API, valid user hash); false: a browser claimed it.';

ALTER TABLE visitor_profiles
    ADD COLUMN merged_profiles integer NOT NULL DEFAULT 0 CHECK (merged_profiles >= 0);

COMMENT ON COLUMN visitor_profiles.merged_profiles IS 'How many profiles were merged into this one, directly or through profiles merged into those (bounded by the merge cap of the identity rules).';

CREATE TABLE identity_conflicts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id           bigint      NOT NULL REFERENCES sites (id),
    -- The rule that refused: blocked_value, claimed_identifier_of_verified_person,
    -- claimed_email_of_known_user, claimed_email_links_disabled, claimed_profile_not_merged,
    -- identifier_limit, merge_cap, conflicting_user_ids.
    rule              text        NOT NULL CHECK (rule ~ '^[a-z_]{1,60}$'),
    kind              text        NOT NULL CHECK (kind IN ('anonymous_id', 'user_id', 'email')),
    value             text        NOT NULL,
    -- The profile the event was applied to (NULL: it had no usable identifier left).
    profile_id        uuid        REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    -- The profile the refused identifier belongs to, when another one holds it.
    other_profile_id  uuid        REFERENCES visitor_profiles (id) ON DELETE CASCADE,
    first_event_id    bigint      NOT NULL,
    last_event_id     bigint      NOT NULL,
    occurrences       integer     NOT NULL DEFAULT 1 CHECK (occurrences > 0),
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per refusal kind and identifier and profile pair: a kiosk or a hard-coded id repeating
-- the same refusal a million times counts occurrences instead of growing the table.
CREATE UNIQUE INDEX identity_conflicts_one_row
    ON identity_conflicts (site_id, rule, kind, value, coalesce(profile_id, '00000000-0000-0000-0000-000000000000'),
                           coalesce(other_profile_id, '00000000-0000-0000-0000-000000000000'));
CREATE INDEX identity_conflicts_recent ON identity_conflicts (site_id, last_seen_at DESC);

COMMENT ON TABLE identity_conflicts IS 'Merges and links the identity rules refused, counted per rule, identifier and profiles: served by GET /v1/identity-conflicts, for an operator to split, block or verify.';
COMMENT ON COLUMN identity_conflicts.value IS 'The refused identifier (emails lower-cased). Removed with the profile on erasure and anonymisation.';

-- Anonymising a profile keeps the row but removes identifiers: its refused identifiers go too.
CREATE FUNCTION identity_conflicts_forget_anonymized() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM identity_conflicts WHERE profile_id = NEW.id OR other_profile_id = NEW.id;
    RETURN NEW;
END $$;

CREATE TRIGGER identity_conflicts_forget_anonymized
    AFTER UPDATE OF anonymized_at ON visitor_profiles
    FOR EACH ROW WHEN (NEW.anonymized_at IS NOT NULL AND OLD.anonymized_at IS DISTINCT FROM NEW.anonymized_at)
    EXECUTE FUNCTION identity_conflicts_forget_anonymized();

INSERT INTO table_owners (table_name, owner, inserted_by, read_by, analyst_hidden) VALUES
    ('identity_conflicts', 'engine', '{}', '{api,analyst}', '{}');

UPDATE table_owners SET analyst_hidden = analyst_hidden || '{identity_secret,server_key_hash}' WHERE table_name = 'sites';

SELECT apply_service_grants();
