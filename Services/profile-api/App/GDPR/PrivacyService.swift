import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The GDPR operations: access (one JSON archive of everything about a person), erasure
/// (everything removed, in every table and every events partition, with a tombstone so late
/// events do not rebuild the person) and anonymisation (aggregates kept, identifiers removed).
struct PrivacyService: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Named query group `erase_person`. Returns the receipt, or nil when the profile is unknown.
    func erase(profile id: UUID, subjectKind: String, subjectValue: String, key: APIKey, requestID: String) async throws -> JSONValue? {
        try await client.transaction(logger: logger) { tx -> JSONValue? in
            guard let person = try await PersonData.load(profile: id, on: tx, logger: logger) else { return nil }
            try await tx.query("SELECT id FROM visitor_profiles WHERE id = ANY(\(person.profileTree)) ORDER BY id FOR UPDATE", logger: logger)
            var counts: [String: JSONValue] = [:]
            func count(_ name: String, _ rows: PostgresRowSequence) async throws {
                var n = 0
                for try await _ in rows { n += 1 }
                counts[name] = .number(Double(n))
            }
            // Tombstones first: hashes only, so nothing identifying survives the erasure.
            let hashes = person.allIdentities.map { PersonData.hash(kind: $0.0, value: $0.1) }
            try await tx.query(
                """
                INSERT INTO erasure_tombstones (site_id, identity_hash)
                SELECT \(person.siteID), h FROM unnest(\(hashes)::text[]) AS h ON CONFLICT DO NOTHING
                """, logger: logger)
            let ids = person.anonymousIDs + person.userIDs
            // Raw events in every partition (the parent table reaches them all).
            let deleted = try await tx.query(
                """
                DELETE FROM events
                WHERE site_id = \(person.siteID)
                  AND (anonymous_id = ANY(\(person.anonymousIDs)) OR user_id = ANY(\(person.userIDs))
                       OR previous_id = ANY(\(ids)) OR lower(traits->>'email') = ANY(\(person.emails)))
                RETURNING id
                """, logger: logger)
            var eventIDs: [Int64] = []
            for try await eventID in deleted.decode(Int64.self) { eventIDs.append(eventID) }
            counts["events"] = .number(Double(eventIDs.count))
            try await count("event_dedupe", try await tx.query(
                "DELETE FROM event_dedupe WHERE site_id = \(person.siteID) AND event_id = ANY(\(eventIDs)) RETURNING 1", logger: logger))
            try await count("event_queue", try await tx.query("DELETE FROM event_queue WHERE event_id = ANY(\(eventIDs)) RETURNING 1", logger: logger))
            try await count("dead_letters", try await tx.query("DELETE FROM dead_letters WHERE event_id = ANY(\(eventIDs)) RETURNING 1", logger: logger))
            try await count("profile_changes", try await tx.query(
                "DELETE FROM profile_changes WHERE profile_id = ANY(\(person.profileTree)) RETURNING 1", logger: logger))
            try await count("webhook_deliveries", try await tx.query(
                "DELETE FROM webhook_deliveries WHERE profile_id = ANY(\(person.profileTree)) RETURNING 1", logger: logger))
            try await count("consents", try await tx.query(
                "DELETE FROM consents WHERE site_id = \(person.siteID) AND (profile_id = ANY(\(person.profileTree)) OR anonymous_id = ANY(\(person.anonymousIDs))) RETURNING 1",
                logger: logger))
            try await count("opt_outs", try await tx.query(
                "DELETE FROM opt_outs WHERE site_id = \(person.siteID) AND anonymous_id = ANY(\(person.anonymousIDs)) RETURNING 1", logger: logger))
            // Profiles go last; identities, sessions, page views, chat, interests and metrics cascade.
            try await count("visitor_profiles", try await tx.query(
                "DELETE FROM visitor_profiles WHERE id = ANY(\(person.profileTree)) RETURNING 1", logger: logger))
            // Pending entries and exits of segments (sql/0012) name the profile; with its data gone
            // they would add or take away nothing.
            try await tx.query("DELETE FROM analytics_segment_changes WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            let receipt = JSONValue.object([
                "profile_id": .string(person.profileID.uuidString.lowercased()),
                "identities_tombstoned": .number(Double(hashes.count)),
                "deleted": .object(counts),
                "erased_at": .string(Date().formatted(.iso8601)),
            ])
            let subjectHash = PersonData.hash(kind: subjectKind, value: subjectValue)
            try await tx.query(
                """
                INSERT INTO erasure_requests (site_id, mode, subject_kind, subject_hash, profile_id, status, completed_at, receipt, requested_by, request_id)
                VALUES (\(person.siteID), 'erase', \(subjectKind), \(subjectHash), \(person.profileID), 'done', now(), \(receipt.jsonText)::jsonb, \(key.id), \(requestID))
                """, logger: logger)
            // The change log keeps that an erasure happened (for webhooks), with no personal data.
            try await tx.query(
                "INSERT INTO profile_changes (site_id, profile_id, kind) VALUES (\(person.siteID), \(person.profileID), \(ChangeKind.erased.rawValue))", logger: logger)
            try await AuditLog.record("gdpr.erase", target: person.profileID.uuidString.lowercased(), key: key, requestID: requestID,
                                      details: ["deleted": .object(counts)], on: tx, logger: logger)
            return receipt
        }
    }

    /// Named query group `anonymize_person`: behaviour and aggregates stay for analytics; the
    /// fields, identities, chat text and raw events that identify the person go.
    func anonymize(profile id: UUID, key: APIKey, requestID: String) async throws -> JSONValue? {
        try await client.transaction(logger: logger) { tx -> JSONValue? in
            guard let person = try await PersonData.load(profile: id, on: tx, logger: logger) else { return nil }
            let hashes = person.allIdentities.map { PersonData.hash(kind: $0.0, value: $0.1) }
            try await tx.query(
                "INSERT INTO erasure_tombstones (site_id, identity_hash) SELECT \(person.siteID), h FROM unnest(\(hashes)::text[]) AS h ON CONFLICT DO NOTHING",
                logger: logger)
            let ids = person.anonymousIDs + person.userIDs
            try await tx.query(
                """
                DELETE FROM events WHERE site_id = \(person.siteID)
                  AND (anonymous_id = ANY(\(person.anonymousIDs)) OR user_id = ANY(\(person.userIDs)) OR previous_id = ANY(\(ids))
                       OR lower(traits->>'email') = ANY(\(person.emails)))
                """, logger: logger)
            try await tx.query("DELETE FROM profile_identities WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            try await tx.query("DELETE FROM chat_messages WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            try await tx.query("DELETE FROM field_rejections WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            try await tx.query("UPDATE sessions SET anonymous_id = NULL, referrer = NULL WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            try await tx.query("UPDATE page_views SET url = path, referrer = NULL, title = NULL WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            try await tx.query("DELETE FROM webhook_deliveries WHERE profile_id = ANY(\(person.profileTree))", logger: logger)
            try await tx.query(
                """
                UPDATE visitor_profiles SET fields = '{}', field_meta = '{}', anonymized_at = now(), version = version + 1, updated_at = now()
                WHERE id = ANY(\(person.profileTree))
                """, logger: logger)
            try await tx.query("INSERT INTO profile_changes (site_id, profile_id, kind) VALUES (\(person.siteID), \(person.profileID), \(ChangeKind.anonymized.rawValue))", logger: logger)
            try await AuditLog.record("gdpr.anonymize", target: person.profileID.uuidString.lowercased(), key: key, requestID: requestID, on: tx, logger: logger)
            return ["profile_id": .string(person.profileID.uuidString.lowercased()), "anonymized_at": .string(Date().formatted(.iso8601))]
        }
    }

    /// Named query `person_archive`: right of access, one JSON document.
    func archive(profile id: UUID, key: APIKey, requestID: String) async throws -> String? {
        try await client.transaction(logger: logger) { tx -> String? in
            guard let person = try await PersonData.load(profile: id, on: tx, logger: logger) else { return nil }
            let ids = person.anonymousIDs + person.userIDs
            // search_vector is only an index copy of the fields, which the archive holds already.
            let rows = try await tx.query(
                """
                SELECT jsonb_build_object(
                    'generated_at', now(),
                    'profiles', (SELECT jsonb_agg(to_jsonb(p) - 'search_vector') FROM visitor_profiles p WHERE p.id = ANY(\(person.profileTree))),
                    'identities', (SELECT jsonb_agg(to_jsonb(i)) FROM profile_identities i WHERE i.profile_id = ANY(\(person.profileTree))),
                    'events', coalesce((SELECT jsonb_agg(to_jsonb(e) - 'client_ip' ORDER BY e.occurred_at) FROM events e
                                        WHERE e.site_id = \(person.siteID) AND (e.anonymous_id = ANY(\(person.anonymousIDs))
                                              OR e.user_id = ANY(\(person.userIDs)) OR e.previous_id = ANY(\(ids)))), '[]'::jsonb),
                    'sessions', coalesce((SELECT jsonb_agg(to_jsonb(s)) FROM sessions s WHERE s.profile_id = ANY(\(person.profileTree))), '[]'::jsonb),
                    'page_views', coalesce((SELECT jsonb_agg(to_jsonb(v)) FROM page_views v WHERE v.profile_id = ANY(\(person.profileTree))), '[]'::jsonb),
                    'engagement', (SELECT jsonb_agg(to_jsonb(m)) FROM engagement_metrics m WHERE m.profile_id = ANY(\(person.profileTree))),
                    'interests', coalesce((SELECT jsonb_agg(to_jsonb(i)) FROM interests i WHERE i.profile_id = ANY(\(person.profileTree))), '[]'::jsonb),
                    'conversations', coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM conversations c WHERE c.profile_id = ANY(\(person.profileTree))), '[]'::jsonb),
                    'chat_messages', coalesce((SELECT jsonb_agg(to_jsonb(m)) FROM chat_messages m WHERE m.profile_id = ANY(\(person.profileTree))), '[]'::jsonb),
                    'consents', coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM consents c WHERE c.profile_id = ANY(\(person.profileTree))
                                          OR (c.site_id = \(person.siteID) AND c.anonymous_id = ANY(\(person.anonymousIDs)))), '[]'::jsonb),
                    'webhook_deliveries', coalesce((SELECT jsonb_agg(to_jsonb(d)) FROM webhook_deliveries d WHERE d.profile_id = ANY(\(person.profileTree))), '[]'::jsonb),
                    'profile_changes', coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM profile_changes c WHERE c.profile_id = ANY(\(person.profileTree))), '[]'::jsonb)
                )::text
                """, logger: logger)
            var archive: String?
            for try await document in rows.decode(String.self) { archive = document }
            try await AuditLog.record("gdpr.access", target: person.profileID.uuidString.lowercased(), key: key, requestID: requestID, on: tx, logger: logger)
            return archive
        }
    }
}
