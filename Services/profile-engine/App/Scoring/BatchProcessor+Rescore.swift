import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Scores and interests decay with time (intent and engagement points and interest evidence have
/// half-lives), so a visitor who does nothing still cools down: the engine recomputes every
/// profile's scores, interest confidences and interest_tags periodically, not only when an event
/// arrives.
extension BatchProcessor {
    /// Recomputes the scores (and stage) and the interests of `ids` from their stored state, writes
    /// the profiles whose lead score, engagement score, stage or interest tags changed, with their
    /// change-log rows. Returns how many changed.
    func rescore(_ ids: [UUID], now: Date = Date(), on tx: PostgresConnection) async throws -> Int {
        var profiles = try await loadProfiles(Set(ids), created: [], on: tx)
        let before = profiles.mapValues { [$0.stage, "\($0.leadScore)", "\($0.engagementScore)"] }
        // Interests fade too: confidences and interest_tags as of now, not as of the last evidence.
        let fadedTags = try await interests.store.recompute(Set(ids).filter { profiles[$0] != nil }, now: now, on: tx)
        for id in fadedTags { profiles[id]?.changedFields.insert("interest_tags") }
        try await applyScores(&profiles, on: tx)
        let changed = profiles.values.filter { before[$0.id] != [$0.stage, "\($0.leadScore)", "\($0.engagementScore)"] || fadedTags.contains($0.id) }
        guard !changed.isEmpty else { return 0 }
        try await writeProfiles(changed, on: tx)
        _ = try await recordChanges(changed, merges: [], alsoChanged: [], on: tx)
        return changed.count
    }

    /// Rescores every unmerged profile, a page at a time, each page in its own transaction (named
    /// query `profiles_page`). Returns (profiles seen, profiles whose scores changed).
    func rescoreAll(_ client: PostgresClient, pageSize: Int = 1000) async throws -> (seen: Int, changed: Int) {
        var after = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        var seen = 0
        var changed = 0
        while true {
            let page: (ids: [UUID], changed: Int) = try await client.transaction(logger: logger) { tx in
                let rows = try await tx.query(
                    "SELECT id FROM visitor_profiles WHERE merged_into IS NULL AND id > \(after) ORDER BY id LIMIT \(pageSize)", logger: logger)
                var ids: [UUID] = []
                for try await id in rows.decode(UUID.self) { ids.append(id) }
                let changed = ids.isEmpty ? 0 : try await rescore(ids, on: tx)
                return (ids, changed)
            }
            guard let last = page.ids.last else { return (seen, changed) }
            seen += page.ids.count
            changed += page.changed
            after = last
        }
    }
}
