import Foundation
import Logging
import PostgresNIO

/// Named query `scoring_signals`: behaviour, intents and interests of a batch's profiles, read
/// after the batch's own metrics were refreshed, so scores reflect the events being applied.
enum ScoringSignalsQuery {
    static func load(_ ids: [UUID], pricingPath: String, on tx: PostgresConnection, logger: Logger) async throws -> [UUID: ScoringSignals] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            SELECT p.id, coalesce(m.sessions_count, 0), coalesce(m.page_views_count, 0), coalesce(m.total_time_seconds, 0)::int,
                   coalesce(m.return_visits, 0), coalesce(m.chat_messages_count, 0), m.last_visit_at,
                   (SELECT count(*) FROM page_views v WHERE v.profile_id = p.id AND v.path ~ \(pricingPath))::int,
                   coalesce((SELECT jsonb_object_agg(x.intent, x.at) FROM (SELECT intent, max(detected_at) AS at FROM chat_intents
                             WHERE profile_id = p.id GROUP BY intent) x), '{}')::text,
                   (SELECT max(confidence)::float8 FROM interests WHERE profile_id = p.id AND NOT negated),
                   (SELECT max(last_evidence_at) FROM interests WHERE profile_id = p.id AND NOT negated)
            FROM unnest(\(ids)::uuid[]) AS p(id) LEFT JOIN engagement_metrics m ON m.profile_id = p.id
            """, logger: logger)
        var signals: [UUID: ScoringSignals] = [:]
        for try await row in rows {
            let c = row.makeRandomAccess()
            var s = ScoringSignals()
            let id = try c[0].decode(UUID.self)
            s.metrics[.sessionsCount] = Double(try c[1].decode(Int.self))
            s.metrics[.pageViewsCount] = Double(try c[2].decode(Int.self))
            s.metrics[.totalTimeSeconds] = Double(try c[3].decode(Int.self))
            s.metrics[.returnVisits] = Double(try c[4].decode(Int.self))
            s.metrics[.chatMessages] = Double(try c[5].decode(Int.self))
            s.lastActivity = try c[6].decode(Date?.self)
            s.metrics[.pricingPageViews] = Double(try c[7].decode(Int.self))
            for (intent, at) in StoredEvent.decodeObject(try c[8].decode(String.self)) {
                if let text = at.stringValue, let date = parseTimestamp(text) { s.intents[intent] = date }
            }
            s.topInterestConfidence = try c[9].decode(Double?.self) ?? 0
            s.topInterestAt = try c[10].decode(Date?.self)
            signals[id] = s
        }
        return signals
    }

    /// jsonb renders timestamptz as `2026-01-05T09:00:00.123+00:00`.
    private static func parseTimestamp(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }
}
