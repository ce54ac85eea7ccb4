-- =============================================================================
-- Profile Builder — foreign keys the engine checked on every row without protecting anything
--
-- PostgreSQL checks a foreign key with a trigger that runs a `SELECT ... FOR KEY SHARE` on the
-- parent for every inserted row. Measured on a batch of 400 page views (release build, 2 cores):
-- 35 µs per row with page_views' three foreign keys, 17 µs without them; the engine writes
-- ~2 foreign-keyed rows per event, and these checks were the largest single cost of a drain.
--
-- Dropped here, each a copy of what the row's owner already guarantees:
-- * `site_id → sites` on the rows the engine writes per event or per profile. Every such row
--   belongs to a profile (or a session, or a conversation) of the same site, and that owner's
--   own foreign key checked the site when it was created; sites are never deleted.
-- * `page_views.profile_id` and `session_analytics.profile_id`: the profile of a page view (and
--   of a session's analytics) is the profile of its session. The session's foreign key
--   (`ON DELETE CASCADE`) still removes both when a profile is erased or deleted, because
--   deleting the profile deletes its sessions.
--
-- Kept: every `profile_id → visitor_profiles ON DELETE CASCADE` of a row a profile owns directly
-- (identities, sessions, metrics, interests, chat, stages, segments), `session_id → sessions`,
-- `visitor_profiles.site_id`, the collector's `events.site_id`, and all configuration tables.
-- =============================================================================

ALTER TABLE page_views DROP CONSTRAINT IF EXISTS page_views_site_id_fkey,
                       DROP CONSTRAINT IF EXISTS page_views_profile_id_fkey;
ALTER TABLE session_analytics DROP CONSTRAINT IF EXISTS session_analytics_site_id_fkey,
                              DROP CONSTRAINT IF EXISTS session_analytics_profile_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_site_id_fkey;
ALTER TABLE profile_identities DROP CONSTRAINT IF EXISTS profile_identities_site_id_fkey;
ALTER TABLE engagement_metrics DROP CONSTRAINT IF EXISTS engagement_metrics_site_id_fkey;
ALTER TABLE interests DROP CONSTRAINT IF EXISTS interests_site_id_fkey;
ALTER TABLE page_interests DROP CONSTRAINT IF EXISTS page_interests_site_id_fkey;
ALTER TABLE chat_intents DROP CONSTRAINT IF EXISTS chat_intents_site_id_fkey;
ALTER TABLE conversations DROP CONSTRAINT IF EXISTS conversations_site_id_fkey;
ALTER TABLE stage_transitions DROP CONSTRAINT IF EXISTS stage_transitions_site_id_fkey;
ALTER TABLE segment_memberships DROP CONSTRAINT IF EXISTS segment_memberships_site_id_fkey;

COMMENT ON COLUMN page_views.profile_id IS 'visitor_profiles.id of the page view''s session (sessions.profile_id); no foreign key of its own: the session''s cascades remove the page view with the profile.';
COMMENT ON COLUMN session_analytics.profile_id IS 'sessions.profile_id of the session (copied for per-profile reads); removed with the session.';
