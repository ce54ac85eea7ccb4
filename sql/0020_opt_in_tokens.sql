-- =============================================================================
-- Profile Builder — only the one who opted out may opt back in
--
-- /api/track/opt-in took a bare anonymous id: anyone who learned a visitor's id could undo their
-- opt-out. Opting out now returns a random token, kept here only as its SHA-256; opting in needs
-- that token (the caller that opted the visitor out keeps it with the visitor's own state) or the
-- site's server key. An opt-out recorded before this migration has no token: only the server key
-- can lift it.
-- =============================================================================

ALTER TABLE opt_outs ADD COLUMN opt_in_token_hash text CHECK (opt_in_token_hash IS NULL OR opt_in_token_hash ~ '^[0-9a-f]{64}$');

COMMENT ON COLUMN opt_outs.opt_in_token_hash IS 'Hex SHA-256 of the token the opt-out answered with; /api/track/opt-in needs the token (or the site''s server key). NULL: only the server key.';
