import Crypto
import Foundation
import Logging
import ProfileModel
import PostgresNIO
import ServiceKit
import Synchronization

/// Looks sites up by write key or server key, caching answers (including "unknown key") for a
/// few seconds so that the hot path does not query Postgres per request.
final class SiteDirectory: Sendable {
    /// The site a key belongs to, and whether the key was its secret server key.
    struct Authenticated: Sendable, Equatable {
        let site: Site
        let serverKey: Bool
    }

    private struct Entry {
        let site: Authenticated?
        let expires: ContinuousClock.Instant
    }

    private let client: PostgresClient
    private let ttl: Duration
    private let cache = Mutex<[String: Entry]>([:])

    init(client: PostgresClient, cacheSeconds: Double) {
        self.client = client
        self.ttl = .milliseconds(Int(cacheSeconds * 1000))
    }

    func site(writeKey: String, logger: Logger) async throws -> Authenticated? {
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[writeKey] }), entry.expires > now {
            return entry.site
        }
        let site = try await withDeadline(seconds: 3) { [client] in
            try await Self.load(writeKey: writeKey, client: client, logger: logger)
        }
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }  // bounded: unknown keys must not grow it forever
            cache[writeKey] = Entry(site: site, expires: now + ttl)
        }
        return site
    }

    /// Server keys are kept as SHA-256 hashes (a leaked table does not leak them); write keys are
    /// public and kept as they are.
    private static func load(writeKey: String, client: PostgresClient, logger: Logger) async throws -> Authenticated? {
        let keyHash = Array(SHA256.hash(data: Data(writeKey.utf8))).hexString
        let rows = try await client.query(
            """
            SELECT id, slug, allowed_origins, consent_mode, honor_dnt, honor_gpc, bot_policy, ip_storage, identity_secret,
                   server_key_hash IS NOT DISTINCT FROM \(keyHash)
            FROM sites WHERE write_key = \(writeKey) OR server_key_hash = \(keyHash)
            """, logger: logger)
        for try await (id, slug, origins, consent, dnt, gpc, bots, ip, secret, serverKey) in rows.decode(
            (Int64, String, [String], String, Bool, Bool, String, String, String?, Bool).self
        ) {
            let site = Site(
                id: id, slug: slug, allowedOrigins: origins,
                consentMode: Site.ConsentMode(rawValue: consent) ?? .require,
                honorDNT: dnt, honorGPC: gpc,
                botPolicy: Site.BotPolicy(rawValue: bots) ?? .flag,
                ipStorage: Site.IPStorage(rawValue: ip) ?? .truncate,
                identitySecret: secret)
            return Authenticated(site: site, serverKey: serverKey)
        }
        return nil
    }
}
