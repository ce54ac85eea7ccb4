-- =============================================================================
-- Profile Builder — storage settings of the tables the engine rewrites in every batch
--
-- fillfactor: the engine updates rows it has just inserted (a page view gets its dwell time and
-- scroll depth, a session its page count and exit page, session_analytics and engagement_metrics
-- are upserted again with every batch that touches them). None of those updates changes an
-- indexed column, so with free room on the page PostgreSQL keeps them HOT (no new entry in any
-- index; page_views has seven). With the default fillfactor of 100 a freshly filled page has no
-- room, and every such update wrote a new entry in every index.
--
-- autovacuum_analyze_*: these tables grow by millions of rows a day. With the default 10 % the
-- statistics lag far behind a young installation's growth, and plans made from them (e.g. a join
-- over all of `page_views` chosen as if it were small) cost more with every batch. 2 % (plus a
-- floor) keeps them current; ANALYZE reads a fixed-size sample, so it stays cheap on big tables.
-- Only new pages honour a fillfactor; existing data is left as it is (no rewrite, no lock beyond
-- the brief one of ALTER TABLE ... SET).
-- =============================================================================

ALTER TABLE page_views SET (fillfactor = 85, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 5000);
ALTER TABLE sessions SET (fillfactor = 80, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 5000);
ALTER TABLE session_analytics SET (fillfactor = 70, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 5000);
ALTER TABLE engagement_metrics SET (fillfactor = 70, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 5000);
ALTER TABLE visitor_profiles SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 5000);
ALTER TABLE profile_identities SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 5000);
