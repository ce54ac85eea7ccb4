-- =============================================================================
-- Profile Builder — profile writes from the API as commands the engine carries out
--
-- `POST /v1/profiles` and `PATCH /v1/profiles/{id}` used to write visitor_profiles,
-- profile_identities and profile_changes from the profile API, beside the engine that owns those
-- tables. Now the API validates the request, records one `profile_commands` row (and its audit
-- entry) and NOTIFYs `profile_commands`; the engine claims the row, applies it and finishes it in
-- one transaction, then NOTIFYs `commands_finished`, which the waiting API request hears.
--
-- erasure_requests gets the same failure bookkeeping as catalog_remaps: a request that keeps
-- failing is finished after the engine's limit instead of blocking the ones behind it.
-- =============================================================================

CREATE TABLE profile_commands (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id          bigint      NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind             text        NOT NULL CHECK (kind IN ('create', 'update')),
    -- create: the id the new profile gets (chosen by the API, so it can answer Location);
    -- update: the profile the request addressed (a merged profile's id is followed to its survivor).
    profile_id       uuid        NOT NULL,
    -- Validated, normalised field values; a JSON null removes the field (update only).
    fields           jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(fields) = 'object'),
    -- create only: [{"kind": ..., "value": ...}], each to be linked to the new profile.
    identities       jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(identities) = 'array'),
    -- update only: the If-Match version; the command fails with 'version_mismatch' if it moved on.
    expected_version bigint,
    requested_by     bigint      REFERENCES api_keys (id) ON DELETE SET NULL,
    request_id       text,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    -- Why a failed command failed: profile_not_found, version_mismatch, identity_taken, or
    -- internal (the engine gave up after its attempts; last_error says why).
    error            text        CHECK (error IN ('profile_not_found', 'version_mismatch', 'identity_taken', 'internal')),
    -- Failed tries so far (errors the command itself did not cause, such as a lost connection).
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error       text,
    -- done: {"profile_id": ..., "version": ...}; version_mismatch: {"version": <current>}.
    result           jsonb,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    CHECK ((status = 'failed') = (error IS NOT NULL))
);

-- The engine's claim: the oldest pending command first.
CREATE INDEX profile_commands_pending ON profile_commands (id) WHERE status = 'pending';

COMMENT ON TABLE profile_commands IS 'Profile creations and field updates requested through the profile API: inserted by the API, carried out (and finished) by the engine, which owns the profile tables.';
COMMENT ON COLUMN profile_commands.kind IS 'create (a new profile with fields and identities) or update (replace or remove fields of an existing profile).';
COMMENT ON COLUMN profile_commands.profile_id IS 'create: the new profile''s id; update: the profile addressed (followed to the profile it was merged into).';
COMMENT ON COLUMN profile_commands.fields IS 'Field values, already validated and normalised by the API; a null value removes the field.';
COMMENT ON COLUMN profile_commands.identities IS 'create only: identities ([{kind, value}]) to link to the new profile.';
COMMENT ON COLUMN profile_commands.expected_version IS 'update only: the If-Match version; NULL applies whatever the version.';
COMMENT ON COLUMN profile_commands.status IS 'pending, done, failed.';
COMMENT ON COLUMN profile_commands.error IS 'Set when failed: profile_not_found, version_mismatch, identity_taken, internal.';
COMMENT ON COLUMN profile_commands.result IS 'done: {"profile_id", "version"}; version_mismatch: {"version"} (the current one).';

ALTER TABLE erasure_requests
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN last_error text;

COMMENT ON COLUMN erasure_requests.attempts IS 'Failed tries so far; after the engine''s limit the request is finished as failed with error ''internal''.';
COMMENT ON COLUMN erasure_requests.last_error IS 'The last failed try''s database error, for the operator.';
