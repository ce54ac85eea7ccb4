-- =============================================================================
-- Profile Builder — catalog re-maps as commands the engine carries out
--
-- A catalog import changes the catalog tables, which the profile API owns. The interest tables
-- that rest on the old catalog (product_interests, page_interests, interests) belong to the
-- engine. So the import no longer rewrites them itself: in the transaction that changes the
-- catalog it inserts one `catalog_remaps` row naming the targets whose matching changed, and the
-- engine claims the row, re-maps that evidence and marks the row done in one transaction (an
-- exactly-once effect, as for events). An engine that dies mid-remap leaves the row pending.
-- =============================================================================

CREATE TABLE catalog_remaps (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      bigint      NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    -- The changed targets, each 'item:<slug>' or 'category:<slug>'.
    targets      text[]      NOT NULL CHECK (cardinality(targets) > 0),
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    -- Failed tries so far; after the engine's limit the row is finished with its last error.
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text,
    -- What the re-map did: page views and messages scanned, evidence rows written, profiles recomputed.
    outcome      jsonb
);

-- The engine's claim: the oldest pending command first.
CREATE INDEX catalog_remaps_pending ON catalog_remaps (id) WHERE finished_at IS NULL;

COMMENT ON TABLE catalog_remaps IS 'Commands to re-map interest evidence after a catalog import: inserted by the profile API with the catalog change, carried out (and finished) by the engine.';
COMMENT ON COLUMN catalog_remaps.targets IS 'Targets whose matching changed: ''item:<slug>'' or ''category:<slug>''.';
COMMENT ON COLUMN catalog_remaps.finished_at IS 'When the engine finished the re-map (or gave up after its attempts); NULL while pending.';
COMMENT ON COLUMN catalog_remaps.outcome IS 'JSON object: page_views_scanned, messages_scanned, evidence_written, profiles_recomputed.';
