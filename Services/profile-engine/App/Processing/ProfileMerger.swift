import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// Moves everything of one profile onto another and leaves the loser as a pointer.
/// Runs inside the batch transaction, with both profiles locked.
struct ProfileMerger: Sendable {
    let registry: FieldRegistry
    let logger: Logger

    /// Named query group `merge_profiles`.
    func merge(loser: UUID, into winner: UUID, on tx: PostgresConnection) async throws {
        // Fields: each field resolves by its own conflict rule, as if the loser's values had come as events.
        let rows = try await tx.query(
            "SELECT id, fields::text, field_meta::text, first_seen_at, last_seen_at FROM visitor_profiles WHERE id = ANY(\([winner, loser])) FOR UPDATE",
            logger: logger)
        var state: [UUID: (fields: [String: JSONValue], meta: [String: JSONValue], first: Date?, last: Date?)] = [:]
        for try await (id, fields, meta, first, last) in rows.decode((UUID, String, String, Date?, Date?).self) {
            state[id] = (StoredEvent.decodeObject(fields), StoredEvent.decodeObject(meta), first, last)
        }
        guard var kept = state[winner], let gone = state[loser] else { return }
        for (name, value) in gone.fields {
            let rule = registry[name]?.conflict ?? .lastWriteWins
            let candidate = FieldProvenance(gone.meta[name]) ?? FieldProvenance(source: .inferred, at: .distantPast, eventID: 0)
            if kept.fields[name] == nil || FieldProvenance.wins(candidate, over: FieldProvenance(kept.meta[name]), rule: rule) {
                kept.fields[name] = value
                kept.meta[name] = gone.meta[name]
            }
        }
        let first = [kept.first, gone.first].compactMap { $0 }.min()
        let last = [kept.last, gone.last].compactMap { $0 }.max()
        try await tx.query(
            """
            UPDATE visitor_profiles SET fields = \(JSONValue.object(kept.fields).jsonText)::jsonb,
                   field_meta = \(JSONValue.object(kept.meta).jsonText)::jsonb,
                   first_seen_at = \(first), last_seen_at = \(last),
                   stage = CASE WHEN stage = 'anonymous' THEN (SELECT stage FROM visitor_profiles WHERE id = \(loser)) ELSE stage END,
                   merged_profiles = merged_profiles + 1 + (SELECT merged_profiles FROM visitor_profiles WHERE id = \(loser)),
                   version = version + 1, updated_at = now()
            WHERE id = \(winner)
            """, logger: logger)
        for table in ["profile_identities", "sessions", "page_views", "session_analytics", "conversations", "chat_messages",
                      "consents", "field_rejections", "chat_intents", "product_interests", "page_interests", "stage_transitions"] {
            try await tx.query(PostgresQuery(unsafeSQL: "UPDATE \(table) SET profile_id = $1 WHERE profile_id = $2", binds: try binds(winner, loser)), logger: logger)
        }
        // Combined interests: keep one row per catalog target with the stronger evidence.
        try await tx.query(
            """
            INSERT INTO interests (profile_id, site_id, catalog_item_id, category_id, confidence, chat_score, page_score,
                                   evidence_count, first_evidence_at, last_evidence_at)
            SELECT \(winner), site_id, catalog_item_id, category_id, confidence, chat_score, page_score,
                   evidence_count, first_evidence_at, last_evidence_at
            FROM interests WHERE profile_id = \(loser)
            ON CONFLICT (profile_id, catalog_item_id, category_id) DO UPDATE SET
                confidence = greatest(interests.confidence, EXCLUDED.confidence),
                chat_score = greatest(interests.chat_score, EXCLUDED.chat_score),
                page_score = greatest(interests.page_score, EXCLUDED.page_score),
                evidence_count = interests.evidence_count + EXCLUDED.evidence_count,
                first_evidence_at = least(interests.first_evidence_at, EXCLUDED.first_evidence_at),
                last_evidence_at = greatest(interests.last_evidence_at, EXCLUDED.last_evidence_at)
            """, logger: logger)
        try await tx.query("DELETE FROM interests WHERE profile_id = \(loser)", logger: logger)
        try await tx.query("DELETE FROM engagement_metrics WHERE profile_id = \(loser)", logger: logger)
        try await tx.query("DELETE FROM segment_memberships WHERE profile_id = \(loser)", logger: logger)
        try await tx.query("UPDATE visitor_profiles SET merged_into = \(winner) WHERE merged_into = \(loser)", logger: logger)
        try await tx.query(
            """
            UPDATE visitor_profiles SET merged_into = \(winner), fields = '{}', field_meta = '{}', interest_tags = '{}',
                   version = version + 1, updated_at = now()
            WHERE id = \(loser)
            """, logger: logger)
        try await tx.query(
            """
            INSERT INTO profile_changes (site_id, profile_id, kind, changes)
            SELECT site_id, \(winner), \(ChangeKind.merged.rawValue), jsonb_build_object('merged_profile_id', \(loser.uuidString)::text)
            FROM visitor_profiles WHERE id = \(winner)
            """, logger: logger)
    }

    private func binds(_ winner: UUID, _ loser: UUID) throws -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(winner)
        binds.append(loser)
        return binds
    }
}
