import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// A merge or link the identity rules refused (`identity_conflicts`): which rule, which
/// identifier, the profile the event was applied to and the profile that holds the identifier.
enum IdentityConflict {
    typealias Rule = IdentityConflictRule

    /// Collects a batch's refusals and writes them once, one row per rule, identifier and
    /// profile pair, counting repeats.
    struct Recorder {
        private struct Entry {
            let rule: Rule
            let key: IdentityKey
            let eventID: Int64
            let other: UUID?
        }

        private var entries: [Entry] = []

        mutating func add(_ rule: Rule, _ key: IdentityKey, event: StoredEvent, other: UUID? = nil) {
            entries.append(Entry(rule: rule, key: key, eventID: event.id, other: other))
        }

        /// Named query `record_identity_conflicts`. Profiles merged away in this batch are named by
        /// their survivor (a profile created and merged away in it was never written).
        func write(profileOfEvent: [Int64: UUID], survivor: [UUID: UUID], on tx: PostgresConnection, logger: Logger) async throws -> [Rule: Int] {
            guard !entries.isEmpty else { return [:] }
            func final(_ id: UUID?) -> UUID? {
                var id = id
                var steps = 0
                while let current = id, let next = survivor[current], steps < 1000 { id = next; steps += 1 }
                return id
            }
            struct Row: Hashable {
                let site: Int64, rule: String, kind: String, value: String, profile: UUID?, other: UUID?
            }
            var rows: [Row: (count: Int, first: Int64, last: Int64)] = [:]
            var counts: [Rule: Int] = [:]
            for entry in entries {
                let profile = final(profileOfEvent[entry.eventID])
                var other = final(entry.other)
                if other == profile { other = nil }
                let row = Row(site: entry.key.siteID, rule: entry.rule.rawValue, kind: entry.key.kind.rawValue, value: entry.key.value,
                              profile: profile, other: other)
                let seen = rows[row]
                rows[row] = ((seen?.count ?? 0) + 1, min(seen?.first ?? entry.eventID, entry.eventID), max(seen?.last ?? entry.eventID, entry.eventID))
                counts[entry.rule, default: 0] += 1
            }
            let list = Array(rows)
            try await tx.query(
                """
                INSERT INTO identity_conflicts AS c (site_id, rule, kind, value, profile_id, other_profile_id, first_event_id, last_event_id, occurrences)
                SELECT k.site, k.rule, k.kind, k.value, nullif(k.profile, '')::uuid, nullif(k.other, '')::uuid, k.first, k.last, k.n
                FROM unnest(\(list.map(\.key.site))::bigint[], \(list.map(\.key.rule))::text[], \(list.map(\.key.kind))::text[],
                            \(list.map(\.key.value))::text[], \(list.map { $0.key.profile?.uuidString ?? "" })::text[],
                            \(list.map { $0.key.other?.uuidString ?? "" })::text[], \(list.map(\.value.first))::bigint[],
                            \(list.map(\.value.last))::bigint[], \(list.map(\.value.count))::int[])
                     AS k(site, rule, kind, value, profile, other, first, last, n)
                ON CONFLICT (site_id, rule, kind, value, coalesce(profile_id, '00000000-0000-0000-0000-000000000000'),
                             coalesce(other_profile_id, '00000000-0000-0000-0000-000000000000'))
                DO UPDATE SET occurrences = c.occurrences + EXCLUDED.occurrences, last_event_id = greatest(c.last_event_id, EXCLUDED.last_event_id),
                              last_seen_at = now()
                """, logger: logger)
            return counts
        }
    }
}
