import Foundation
import Logging
import PostgresNIO
import ProfileModel
import Synchronization

/// Reads, creates and revokes API keys. Verified keys are cached briefly so the hot path does not
/// read `api_keys` per request; revocation therefore takes effect within `cacheSeconds`.
final class APIKeyStore: Sendable {
    private struct Cached {
        let key: APIKey?
        let expires: ContinuousClock.Instant
    }

    private let client: PostgresClient
    private let ttl: Duration
    private let cache = Mutex<[String: Cached]>([:])

    init(client: PostgresClient, cacheSeconds: Double) {
        self.client = client
        self.ttl = .milliseconds(Int(cacheSeconds * 1000))
    }

    /// The key whose hash matches `token`, or nil.
    func verify(_ token: String, logger: Logger) async throws -> APIKey? {
        guard let prefix = APIKey.prefix(of: token) else { return nil }
        let hash = APIKey.hash(token)
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[hash] }), cached.expires > now { return cached.key }
        let rows = try await client.query(
            """
            SELECT id, name, prefix, scopes, rate_limit_per_minute, revoked_at IS NOT NULL
            FROM api_keys WHERE prefix = \(prefix) AND secret_hash = \(hash)
            """, logger: logger)
        var key: APIKey?
        for try await (id, name, prefix, scopes, limit, revoked) in rows.decode((Int64, String, String, [String], Int, Bool).self) {
            key = APIKey(id: id, name: name, prefix: prefix, scopes: Set(scopes.compactMap(APIScope.init(rawValue:))),
                         rateLimitPerMinute: limit, revoked: revoked)
        }
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[hash] = Cached(key: key, expires: now + ttl)
        }
        return key
    }

    /// Creates a key and returns its token, which is shown once and never stored.
    /// Run it inside a transaction (with its audit row): see `PostgresClient.transaction`.
    static func create(name: String, scopes: [APIScope], rateLimitPerMinute: Int, on connection: PostgresConnection, logger: Logger) async throws -> (APIKey, String) {
        let (token, prefix, hash) = APIKey.generate()
        let rows = try await connection.query(
            """
            INSERT INTO api_keys (name, prefix, secret_hash, scopes, rate_limit_per_minute)
            VALUES (\(name), \(prefix), \(hash), \(scopes.map(\.rawValue)), \(rateLimitPerMinute)) RETURNING id
            """, logger: logger)
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        return (APIKey(id: id, name: name, prefix: prefix, scopes: Set(scopes), rateLimitPerMinute: rateLimitPerMinute, revoked: false), token)
    }

    /// Run it inside a transaction (with its audit row): see `PostgresClient.transaction`.
    static func revoke(prefix: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            "UPDATE api_keys SET revoked_at = now() WHERE prefix = \(prefix) AND revoked_at IS NULL RETURNING id", logger: logger)
        var revoked = false
        for try await _ in rows { revoked = true }
        return revoked
    }

    static func list(client: PostgresClient, logger: Logger) async throws -> [JSONValue] {
        let rows = try await client.query(
            """
            SELECT id, name, prefix, scopes, rate_limit_per_minute, created_at, revoked_at, last_used_at
            FROM api_keys ORDER BY id
            """, logger: logger)
        var keys: [JSONValue] = []
        for try await (id, name, prefix, scopes, limit, created, revoked, used) in rows.decode(
            (Int64, String, String, [String], Int, Date, Date?, Date?).self
        ) {
            keys.append([
                "id": .number(Double(id)), "name": .string(name), "prefix": .string(prefix),
                "scopes": .array(scopes.map(JSONValue.string)), "rate_limit_per_minute": .number(Double(limit)),
                "created_at": .string(created.formatted(.iso8601)), "revoked_at": revoked.map { .string($0.formatted(.iso8601)) } ?? .null,
                "last_used_at": used.map { .string($0.formatted(.iso8601)) } ?? .null,
            ])
        }
        return keys
    }
}
