-- =============================================================================
-- Profile Builder — catalog item vectors of the hybrid chat analyser
--
-- The engine embeds each catalog item's texts (name, "name: description", keywords, synonyms)
-- with its sentence-embedding model and keeps the vectors here, so an engine that starts, or
-- another engine, loads them instead of embedding the whole catalog again. A row holds the
-- texts it was made from: when an item's texts change, or the model does, the engine embeds it
-- again. pgvector is not among Debian's PostgreSQL 15 packages, so vectors are a real[].
-- =============================================================================

CREATE TABLE catalog_item_embeddings (
    site_id          bigint      NOT NULL REFERENCES sites (id),
    catalog_item_id  bigint      NOT NULL,
    model            text        NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    texts            text[]      NOT NULL CHECK (cardinality(texts) BETWEEN 1 AND 1000),
    dimensions       integer     NOT NULL CHECK (dimensions BETWEEN 1 AND 8192),
    -- One vector per text, concatenated in the order of texts.
    vectors          real[]      NOT NULL CHECK (cardinality(vectors) = cardinality(texts) * dimensions),
    embedded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (catalog_item_id, model),
    FOREIGN KEY (site_id, catalog_item_id) REFERENCES catalog_items (site_id, id) ON DELETE CASCADE
);

CREATE INDEX catalog_item_embeddings_site ON catalog_item_embeddings (site_id, model);

COMMENT ON TABLE catalog_item_embeddings IS 'Sentence vectors of each catalog item''s texts, per embedding model: written by the engine when it first needs an item it has no current vectors for, read back when its catalog cache loads.';
COMMENT ON COLUMN catalog_item_embeddings.model IS 'The embedding model (the folder name of the embedded model, or EMBEDDINGS_MODEL); vectors of two models never compare.';
COMMENT ON COLUMN catalog_item_embeddings.texts IS 'The texts that were embedded; a row whose texts differ from the item''s current ones is stale and replaced.';
COMMENT ON COLUMN catalog_item_embeddings.vectors IS 'cardinality(texts) unit-length vectors of length dimensions, concatenated.';

INSERT INTO table_owners (table_name, owner, inserted_by, read_by, analyst_hidden) VALUES
    ('catalog_item_embeddings', 'engine', '{}', '{analyst}', '{}');

SELECT apply_service_grants();
