-- =============================================================================
-- Profile Builder — search plans at 1,000,000 profiles (issue 8; docs/BENCHMARKS.md)
--
-- Full text: a stored search vector. GET /v1/profiles?q=<common word> walks the created_at index
-- and tests each profile (PostgreSQL rightly expects many matches), and testing meant computing
-- profile_search_vector(fields) again for every profile walked: 5,461 to_tsvector calls for a
-- page of "weber", 87 ms. Stored, the test reads the vector: 28 ms, same rows and buffers.
--
-- Adding a stored generated column rewrites the table under an ACCESS EXCLUSIVE lock: about a
-- minute per million profiles on a busy 2-core machine (measured: 67 s, then 15 s for the index).
-- Plan it as downtime for the API and the engine on large installations.
-- =============================================================================

ALTER TABLE visitor_profiles
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (profile_search_vector(fields)) STORED;
COMMENT ON COLUMN visitor_profiles.search_vector IS 'profile_search_vector(fields), kept by PostgreSQL (generated, stored): the full-text document of the profile (name, first/last name, email, company name, job title). GIN index visitor_profiles_search_vector_idx; query with search_vector @@ websearch_to_tsquery(''simple'', ...).';

CREATE INDEX visitor_profiles_search_vector_idx ON visitor_profiles USING gin (search_vector);
-- The expression index of 0001 indexed the same vector; keeping both would compute it twice
-- more on every profile write. Queries on profile_search_vector(fields) still work, unindexed.
DROP INDEX visitor_profiles_search_idx;

-- JSONB containment (fields @> '{"industry": "media", "country": "DK"}') is estimated from the
-- column's histogram of whole documents: with the default 100 entries a filter matching 0.3 % of
-- profiles is estimated as 0 or 1 % of them (60 or 12,165 rows for ~3,200), which decides the
-- plan. With 1,000 entries the estimates of the benchmark's filters fall within 1,800-6,000.
-- Costs: ANALYZE of visitor_profiles reads 300,000 rows instead of 30,000 (21 s instead of 2 s at
-- 1M profiles on the loaded benchmark machine), planning a containment search +0.5 ms.
ALTER TABLE visitor_profiles ALTER COLUMN fields SET STATISTICS 1000;
ANALYZE visitor_profiles (fields, search_vector);
