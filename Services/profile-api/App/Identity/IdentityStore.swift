import Crypto
import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The API's reads and writes of identity settings: a site's guardrail overrides and its
/// verification secrets (`sites`, which the API owns), and the engine's recorded conflicts.
struct IdentityStore: Sendable {
    let client: PostgresClient

    /// Named query `identity_conflicts`: newest first, one site or all.
    func conflicts(site: String?, rule: String?, limit: Int, logger: Logger) async throws -> JSONValue {
        let rows = try await client.query(
            """
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', c.id, 'site', s.slug, 'rule', c.rule, 'kind', c.kind, 'value', c.value,
                       'profile_id', c.profile_id, 'other_profile_id', c.other_profile_id,
                       'first_event_id', c.first_event_id, 'last_event_id', c.last_event_id, 'occurrences', c.occurrences,
                       'first_seen_at', c.first_seen_at, 'last_seen_at', c.last_seen_at) ORDER BY c.last_seen_at DESC, c.id DESC), '[]')::text
            FROM (SELECT * FROM identity_conflicts c
                  WHERE (\(site)::text IS NULL OR c.site_id = (SELECT id FROM sites WHERE slug = \(site)))
                    AND (\(rule)::text IS NULL OR c.rule = \(rule))
                  ORDER BY c.last_seen_at DESC, c.id DESC LIMIT \(limit)) c
            JOIN sites s ON s.id = c.site_id
            """, logger: logger)
        for try await text in rows.decode(String.self) { return try JSONValue.parse(text) }
        return .array([])
    }

    func siteExists(_ slug: String, logger: Logger) async throws -> Bool {
        for try await _ in try await client.query("SELECT 1 FROM sites WHERE slug = \(slug)", logger: logger).decode(Int.self) { return true }
        return false
    }

    /// The site's overrides as stored, and whether it can verify identities.
    func rules(site: String, logger: Logger) async throws -> (rules: String, verifiesBrowsers: Bool, hasServerKey: Bool)? {
        let rows = try await client.query(
            "SELECT identity_rules::text, identity_secret IS NOT NULL, server_key_hash IS NOT NULL FROM sites WHERE slug = \(site)", logger: logger)
        for try await row in rows.decode((String, Bool, Bool).self) { return row }
        return nil
    }

    func setRules(site: String, _ rules: IdentityRules.Override, on tx: PostgresConnection, logger: Logger) async throws -> Bool {
        let text = String(decoding: try JSONEncoder().encode(rules), as: UTF8.self)
        let rows = try await tx.query(
            "UPDATE sites SET identity_rules = \(text)::jsonb WHERE slug = \(site) RETURNING id", logger: logger)
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// New verification secrets for a site, replacing the old ones at once: the server key (kept
    /// only as its SHA-256) and the identity secret the site's server makes user hashes with.
    func rotateKeys(site: String, on tx: PostgresConnection, logger: Logger) async throws -> (serverKey: String, identitySecret: String)? {
        let serverKey = "sk_" + Self.randomToken()
        let identitySecret = Self.randomToken()
        let hash = Array(SHA256.hash(data: Data(serverKey.utf8))).hexString
        let rows = try await tx.query(
            "UPDATE sites SET server_key_hash = \(hash), identity_secret = \(identitySecret) WHERE slug = \(site) RETURNING id", logger: logger)
        for try await _ in rows.decode(Int64.self) { return (serverKey, identitySecret) }
        return nil
    }

    private static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }
}
