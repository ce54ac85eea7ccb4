import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The GDPR operations: access (one JSON archive of everything about a person), and requests
/// for erasure (everything removed, in every table and every events partition, with a tombstone
/// so late events do not rebuild the person) and anonymisation (aggregates kept, identifiers
/// removed), which the engine carries out (`carry_out_erasure_request`, sql/0014).
struct PrivacyService: Sendable {
    enum Mode: String, Sendable {
        case erase, anonymize

        var auditAction: String { self == .erase ? "gdpr.erase" : "gdpr.anonymize" }
    }

    let client: PostgresClient
    let completion: CommandCompletion
    let logger: Logger

    /// How a request ended, or that it has not yet.
    enum Outcome: Sendable {
        case done(JSONValue)
        case profileNotFound
        case failed(String)
        case pending(Int64)
    }

    /// Named command `request_erasure`: asks the engine to erase or anonymise the person of
    /// `profile` (the engine owns the tables that hold them) and records the request in the
    /// audit log in the same transaction. Returns the request's id.
    func request(_ mode: Mode, profile id: UUID, subjectKind: String, subjectValue: String, key: APIKey, requestID: String) async throws -> Int64? {
        try await client.transaction(logger: logger) { tx -> Int64? in
            let rows = try await tx.query(
                """
                INSERT INTO erasure_requests (site_id, mode, subject_kind, subject_hash, profile_id, requested_by, request_id)
                SELECT site_id, \(mode.rawValue), \(subjectKind), erasure_tombstone_hash(\(subjectKind), \(subjectValue)), id, \(key.id), \(requestID)
                FROM visitor_profiles WHERE id = \(id)
                RETURNING id
                """, logger: logger)
            var requested: Int64?
            for try await request in rows.decode(Int64.self) { requested = request }
            guard let requested else { return nil }
            try await AuditLog.record(mode.auditAction, target: id.uuidString.lowercased(), key: key, requestID: requestID,
                                      details: ["erasure_request": .number(Double(requested))], on: tx, logger: logger)
            try await tx.query("SELECT pg_notify(\(NotificationChannel.erasureRequested.rawValue), '')", logger: logger)
            return requested
        }
    }

    /// The request's outcome once the engine has carried it out, waiting at most `seconds`.
    func outcome(of request: Int64, waiting seconds: Double) async throws -> Outcome {
        try await completion.wait(upTo: seconds) { try await read(request) } ?? .pending(request)
    }

    /// The outcome, or nil while the request is pending.
    private func read(_ request: Int64) async throws -> Outcome? {
        let rows = try await client.query(
            "SELECT status, receipt::text, error FROM erasure_requests WHERE id = \(request)", logger: logger)
        for try await (status, receipt, error) in rows.decode((String, String?, String?).self) {
            switch status {
            case "done": return .done(JSONValue(databaseText: receipt))
            case "failed": return error == "profile_not_found" ? .profileNotFound : .failed(error ?? "")
            default: return nil
            }
        }
        return .failed("the request is gone")
    }

    /// Named query `erasure_request`: a request's state, for `GET /v1/gdpr/requests/{id}`.
    func describe(request: Int64) async throws -> String? {
        let rows = try await client.query(
            """
            SELECT jsonb_build_object('id', id, 'mode', mode, 'status', status, 'profile_id', profile_id, 'requested_at', requested_at,
                                      'completed_at', completed_at, 'receipt', receipt, 'error', error)::text
            FROM erasure_requests WHERE id = \(request)
            """, logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return nil
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
