import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// Profile creations and field updates, which the API asks the engine for: the engine owns the
/// profile tables. Each request is one `profile_commands` row (sql/0015) written with its audit
/// entry; the engine carries it out, and the request waits for that (see `CommandCompletion`).
struct ProfileCommands: Sendable {
    let client: PostgresClient
    let completion: CommandCompletion
    let logger: Logger

    /// How a command ended, or that it has not yet.
    enum Outcome: Sendable {
        case done(profile: UUID)
        case profileNotFound
        case versionMismatch(current: Int64)
        case identityTaken(kind: String)
        case failed(String)
        case pending(command: Int64, profile: UUID)
    }

    /// Named command `request_profile_create`. `site` is the site's id; the new profile gets `profile`.
    func create(site: Int64, profile: UUID, fields: [String: JSONValue?], identities: [(kind: IdentityKind, value: String)],
                key: APIKey, requestID: String) async throws -> Int64 {
        let identityList = JSONValue.array(identities.map { ["kind": .string($0.kind.rawValue), "value": .string($0.value)] })
        return try await insert(kind: "create", site: site, profile: profile, fields: fields, identities: identityList, expectedVersion: nil,
                                audit: "profile.create", details: nil, key: key, requestID: requestID)
    }

    /// Named command `request_profile_update`; `expectedVersion` is the If-Match version, if any.
    func update(site: Int64, profile: UUID, fields: [String: JSONValue?], expectedVersion: Int64?, key: APIKey, requestID: String) async throws -> Int64 {
        try await insert(kind: "update", site: site, profile: profile, fields: fields, identities: [], expectedVersion: expectedVersion,
                         audit: "profile.update", details: ["fields": .array(fields.keys.sorted().map(JSONValue.string))], key: key, requestID: requestID)
    }

    private func insert(kind: String, site: Int64, profile: UUID, fields: [String: JSONValue?], identities: JSONValue, expectedVersion: Int64?,
                        audit action: String, details: JSONValue?, key: APIKey, requestID: String) async throws -> Int64 {
        let values = JSONValue.object(fields.mapValues { $0 ?? .null })
        return try await client.transaction(logger: logger) { tx -> Int64 in
            let rows = try await tx.query(
                """
                INSERT INTO profile_commands (site_id, kind, profile_id, fields, identities, expected_version, requested_by, request_id)
                VALUES (\(site), \(kind), \(profile), \(values.jsonText)::jsonb, \(identities.jsonText)::jsonb, \(expectedVersion), \(key.id), \(requestID))
                RETURNING id
                """, logger: logger)
            var command: Int64 = 0
            for try await id in rows.decode(Int64.self) { command = id }
            var audited = details?.objectValue ?? [:]
            audited["profile_command"] = .number(Double(command))
            try await AuditLog.record(action, target: profile.uuidString.lowercased(), key: key, requestID: requestID,
                                      details: .object(audited), on: tx, logger: logger)
            try await tx.query("SELECT pg_notify(\(NotificationChannel.profileCommanded.rawValue), '')", logger: logger)
            return command
        }
    }

    /// The command's outcome once the engine has carried it out, waiting at most `seconds`;
    /// `profile` is the profile it addressed (or creates), for the pending answer.
    func outcome(of command: Int64, profile: UUID, waiting seconds: Double) async throws -> Outcome {
        try await completion.wait(upTo: seconds) { try await read(command) } ?? .pending(command: command, profile: profile)
    }

    /// The outcome, or nil while the command is pending.
    private func read(_ command: Int64) async throws -> Outcome? {
        let rows = try await client.query(
            "SELECT status, error, profile_id, result::text FROM profile_commands WHERE id = \(command)", logger: logger)
        for try await (status, error, profile, result) in rows.decode((String, String?, UUID, String?).self) {
            let answer = JSONValue(databaseText: result)
            switch (status, error) {
            case ("done", _):
                return .done(profile: answer["profile_id"]?.stringValue.flatMap(UUID.init(uuidString:)) ?? profile)
            case ("failed", "profile_not_found"?): return .profileNotFound
            case ("failed", "version_mismatch"?): return .versionMismatch(current: Int64(answer["version"]?.doubleValue ?? 0))
            case ("failed", "identity_taken"?): return .identityTaken(kind: answer["kind"]?.stringValue ?? "identity")
            case ("failed", let error): return .failed(error ?? "unknown")
            default: return nil
            }
        }
        return .failed("the command is gone")
    }

    /// Named query `profile_command`: a command's state, for `GET /v1/profile-commands/{id}`.
    func describe(_ command: Int64) async throws -> String? {
        let rows = try await client.query(
            """
            SELECT jsonb_build_object('id', id, 'kind', kind, 'status', status, 'profile_id', profile_id, 'error', error,
                                      'result', result, 'requested_at', requested_at, 'completed_at', completed_at)::text
            FROM profile_commands WHERE id = \(command)
            """, logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return nil
    }
}
