-- =============================================================================
-- Profile Builder — a segment that fails is set aside, not the batch
--
-- A segment's rule runs inside every engine batch. One that PostgreSQL cannot run (a pattern
-- written to the table directly, past the API's check) used to fail every batch, and events
-- ended in dead letters. The engine now evaluates each batch's segments under a savepoint; when
-- that fails it evaluates them one by one, records the segment that fails here, and leaves it out
-- from then on. `segments` belongs to the API, so the engine cannot switch a segment off itself:
-- this table is the engine's record, which the API shows (GET /v1/segments: `failure`). A segment
-- whose definition changes after its failure (updated_at) is tried again.
-- =============================================================================

CREATE TABLE segment_failures (
    segment_id  bigint      PRIMARY KEY REFERENCES segments (id) ON DELETE CASCADE,
    error       text        NOT NULL,
    -- segments.updated_at of the definition that failed.
    definition_updated_at timestamptz NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE segment_failures IS 'Segments whose rule PostgreSQL could not run, set aside by the engine (its batches go on without them) until the definition changes.';
COMMENT ON COLUMN segment_failures.error IS 'SQLSTATE and message of the failure (no row values).';

INSERT INTO table_owners (table_name, owner, inserted_by, read_by, analyst_hidden) VALUES
    ('segment_failures', 'engine', '{}', '{api,analyst}', '{}');

SELECT apply_service_grants();
