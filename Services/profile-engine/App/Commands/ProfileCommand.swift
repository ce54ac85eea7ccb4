import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// One `profile_commands` row (sql/0015): a profile creation or field update the profile API
/// validated and left for the engine, which owns the profile tables.
struct ProfileCommand: Sendable {
    enum Kind: String, Sendable {
        case create, update
    }

    /// Why a command finished as failed (`profile_commands.error`); the API maps each to a status.
    enum Refusal: String, Sendable {
        case profileNotFound = "profile_not_found"
        case versionMismatch = "version_mismatch"
        case identityTaken = "identity_taken"
    }

    enum Outcome: Sendable {
        case done(profile: UUID, version: Int64)
        case refused(Refusal, result: JSONValue?)
    }

    let id: Int64
    let siteID: Int64
    let kind: Kind
    let profileID: UUID
    /// A `.null` value removes the field.
    let fields: [String: JSONValue]
    let identities: [(kind: IdentityKind, value: String)]
    let expectedVersion: Int64?
    let apiKeyID: Int64?

    static let columns = "id, site_id, kind, profile_id, fields::text, identities::text, expected_version, requested_by"

    init(row: (Int64, Int64, String, UUID, String, String, Int64?, Int64?)) throws {
        guard let kind = Kind(rawValue: row.2) else { throw ProfileCommandError("unknown kind '\(row.2)'") }
        let fields = JSONValue(databaseText: row.4).objectValue
        let identities = JSONValue(databaseText: row.5).arrayValue
        guard let fields, let identities else { throw ProfileCommandError("fields or identities are not JSON of the right shape") }
        self.identities = try identities.map { item in
            let named = item["kind"]?.stringValue ?? ""
            guard let kind = IdentityKind(rawValue: named), let value = item["value"]?.stringValue else {
                throw ProfileCommandError("an identity needs a known kind and a value, not kind '\(named.prefix(40))'")
            }
            return (kind, value)
        }
        (id, siteID, self.kind, profileID, self.fields, expectedVersion, apiKeyID) = (row.0, row.1, kind, row.3, fields, row.6, row.7)
    }

    /// Applies the command inside `tx`. A refusal writes nothing; the caller records it.
    func apply(on tx: PostgresConnection, logger: Logger) async throws -> Outcome {
        switch kind {
        case .create: return try await create(on: tx, logger: logger)
        case .update: return try await update(on: tx, logger: logger)
        }
    }

    /// An explicit API write replaces the value whatever its earlier source (the operator said so)
    /// and records `api` provenance with the key that made it.
    private var provenance: JSONValue {
        var meta = FieldProvenance(source: .api, at: Date(), eventID: 0).json.objectValue ?? [:]
        if let apiKeyID { meta["api_key_id"] = .number(Double(apiKeyID)) }
        return .object(meta)
    }

    private func update(on tx: PostgresConnection, logger: Logger) async throws -> Outcome {
        let rows = try await tx.query(
            """
            SELECT id, version, fields::text, field_meta::text FROM visitor_profiles
            WHERE id = (SELECT coalesce(merged_into, id) FROM visitor_profiles WHERE id = \(profileID)) AND site_id = \(siteID)
            FOR UPDATE
            """, logger: logger)
        var current: (UUID, Int64, String, String)?
        for try await row in rows.decode((UUID, Int64, String, String).self) { current = row }
        guard let (target, version, fieldsText, metaText) = current else { return .refused(.profileNotFound, result: nil) }
        if let expectedVersion, expectedVersion != version {
            return .refused(.versionMismatch, result: ["version": .number(Double(version))])
        }
        var stored = Self.object(fieldsText)
        var meta = Self.object(metaText)
        for (name, value) in fields {
            stored[name] = value.isNull ? nil : value
            meta[name] = value.isNull ? nil : provenance
        }
        try await tx.query(
            """
            UPDATE visitor_profiles SET fields = \(JSONValue.object(stored).jsonText)::jsonb, field_meta = \(JSONValue.object(meta).jsonText)::jsonb,
                   version = version + 1, updated_at = now()
            WHERE id = \(target)
            """, logger: logger)
        let changed = JSONValue.object(["fields": .array(fields.keys.sorted().map(JSONValue.string)), "source": "api"])
        try await recordChange(.updated, changed, profile: target, on: tx, logger: logger)
        return .done(profile: target, version: version + 1)
    }

    private func create(on tx: PostgresConnection, logger: Logger) async throws -> Outcome {
        // Lock the identities' keys first, with the advisory locks the resolver try-locks before it
        // creates an identity: an event cannot take one between this check and the insert, and a
        // taken one refuses the command before anything is written.
        let keys = identities.map { IdentityKey(siteID: siteID, kind: $0.kind, value: $0.value) }
        for key in keys.sorted(by: { $0.lockText < $1.lockText }) {  // one order: two commands never deadlock
            try await tx.query("SELECT pg_advisory_xact_lock(\(IdentityResolver.lockSpace), hashtext(\(key.lockText)))", logger: logger)
            let taken = try await tx.query(
                "SELECT profile_id FROM profile_identities WHERE site_id = \(siteID) AND kind = \(key.kind.rawValue) AND value = \(key.value)",
                logger: logger)
            for try await _ in taken.decode(UUID.self) { return .refused(.identityTaken, result: ["kind": .string(key.kind.rawValue)]) }
        }
        let clean = fields.filter { !$0.value.isNull }
        let meta = clean.mapValues { _ in provenance }
        let known = clean["email"] != nil || identities.contains { $0.kind == .userID || $0.kind == .email }
        try await tx.query(
            """
            INSERT INTO visitor_profiles (id, site_id, fields, field_meta, stage)
            VALUES (\(profileID), \(siteID), \(JSONValue.object(clean).jsonText)::jsonb, \(JSONValue.object(meta).jsonText)::jsonb,
                    \((known ? LeadStage.known : LeadStage.anonymous).rawValue))
            """, logger: logger)
        for identity in identities {
            try await tx.query(
                // Given by a server-side caller with an API key: the site vouches for it.
                "INSERT INTO profile_identities (site_id, kind, value, profile_id, verified) VALUES (\(siteID), \(identity.kind.rawValue), \(identity.value), \(profileID), true)",
                logger: logger)
        }
        try await recordChange(.created, ["source": "api"], profile: profileID, on: tx, logger: logger)
        return .done(profile: profileID, version: 1)
    }

    private func recordChange(_ kind: ChangeKind, _ changes: JSONValue, profile: UUID, on tx: PostgresConnection, logger: Logger) async throws {
        try await tx.query(
            "INSERT INTO profile_changes (site_id, profile_id, kind, changes) VALUES (\(siteID), \(profile), \(kind.rawValue), \(changes.jsonText)::jsonb)",
            logger: logger)
        try await tx.query("SELECT pg_notify(\(NotificationChannel.profileUpdated.rawValue), \(profile.uuidString.lowercased()))", logger: logger)
    }

    private static func object(_ text: String) -> [String: JSONValue] {
        JSONValue(databaseText: text).objectValue ?? [:]
    }
}

/// A `profile_commands` row the engine cannot read (it never writes one itself).
struct ProfileCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
